package api

import (
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// TestWatchParams: the seconds are checked as integers, so a value whose
// Duration would wrap into the range (18446744074 s is 0.29 s modulo 2^64
// ns) is refused rather than taken as a short wait.
func TestWatchParams(t *testing.T) {
	for _, tc := range []struct {
		secs string
		want time.Duration // negative: refused
	}{
		{"", 25 * time.Second},
		{"0", 0},
		{"60", 60 * time.Second},
		{"61", -1},
		{"-1", -1},
		{"18446744074", -1},
		{"9223372037", -1},
	} {
		p := rpc.Params{"AfterRevision": "7", "WaitSeconds": tc.secs}
		after, wait, _, err := watchParams(p, "WaitSeconds", 25, 0, time.Minute)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("WaitSeconds=%q: took %s, want refused", tc.secs, wait)
			}
			continue
		}
		if err != nil || wait != tc.want || after != 7 {
			t.Errorf("WaitSeconds=%q: %d, %s, %v; want 7, %s", tc.secs, after, wait, err, tc.want)
		}
	}
}
