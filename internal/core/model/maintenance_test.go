package model

import "testing"

// TestParseMaintenanceWindow holds maintenance windows to ECS's form: both
// ends on the hour, 1 to 23 hours apart, past midnight allowed.
func TestParseMaintenanceWindow(t *testing.T) {
	for _, tt := range []struct {
		start, end string
		code       string // "" accepted
	}{
		{"02:00:00", "05:00:00", ""},
		{"22:00:00", "02:00:00", ""}, // past midnight: 4 hours
		{"00:00:00", "23:00:00", ""},
		{"23:00:00", "22:00:00", ""}, // 23 hours
		{"02:00:00", "02:00:00", "InvalidParameter"},
		{"02:30:00", "05:00:00", "InvalidParameter"},
		{"24:00:00", "05:00:00", "InvalidParameter"},
		{"2:00:00", "05:00:00", "InvalidParameter"},
		{"02:00", "05:00", "InvalidParameter"},
		{"02:00:00", "", "InvalidParameter"},
		{"", "", "MissingParameter"},
	} {
		w, err := ParseMaintenanceWindow(tt.start, tt.end)
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("%s–%s: %v, want it accepted", tt.start, tt.end, err)
		case tt.code == "" && (w.Start != tt.start || w.End != tt.end):
			t.Errorf("%s–%s: parsed as %+v", tt.start, tt.end, w)
		case tt.code != "" && (err == nil || err.Code != tt.code):
			t.Errorf("%s–%s: %v, want %s", tt.start, tt.end, err, tt.code)
		}
	}
}
