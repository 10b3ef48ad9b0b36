package main

import "testing"

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{1.5}, 1.5},
		{[]float64{0.9, 1.1}, 1.0}, // two rounds: their mean, not the better one
		{[]float64{0.8, 1.0, 1.3}, 1.0},
		{[]float64{0.8, 0.9, 1.1, 1.3}, 1.0},
	} {
		if got := median(tc.xs); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}
