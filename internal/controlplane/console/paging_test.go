package console

import "testing"

func TestPageOf(t *testing.T) {
	tests := []struct {
		page         string
		n, per       int
		pg, from, to int
	}{
		{"", 250, 100, 1, 0, 100},
		{"2", 250, 100, 2, 100, 200},
		{"3", 250, 100, 3, 200, 250},
		{"4", 250, 100, 3, 200, 250}, // past the end: the last page
		{"92233720368547760", 250, 100, 3, 200, 250},
		{"9223372036854775807", 250, 100, 3, 200, 250},
		{"-5", 250, 100, 1, 0, 100},
		{"x", 250, 100, 1, 0, 100},
		{"7", 0, 100, 1, 0, 0},
	}
	for _, tt := range tests {
		pg, from, to := pageOf(tt.page, tt.n, tt.per)
		if pg != tt.pg || from != tt.from || to != tt.to {
			t.Errorf("pageOf(%q, %d, %d) = %d, %d, %d; want %d, %d, %d", tt.page, tt.n, tt.per, pg, from, to, tt.pg, tt.from, tt.to)
		}
	}
}
