package flowstore

import (
	"testing"
	"time"
)

// TestCompleteSinceCountDropThenSize: records an account's count cap
// dropped from the index, whose file the size cap deletes afterwards, are
// gone from the disk too: a restart (which recomputes the count's drops
// from what the files hold) must still not claim them complete.
func TestCompleteSinceCountDropThenSize(t *testing.T) {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	for _, tc := range []struct {
		name  string
		hostB string // the host of the records that push the size cap
	}{
		{"the host's own later records push it", "h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(-time.Hour)
			o := Options{Dir: t.TempDir(), MaxBytes: 6000, SegmentBytes: 100, MaxPerAccount: 2, MaxAge: 30 * 24 * time.Hour,
				Now: func() time.Time { return now }, Log: quiet}
			s := open(t, o)
			now = t0.Add(time.Hour)
			one := func(acct, host string, i int) {
				t.Helper()
				r := rec(acct, i, at(i))
				r.HostName = host
				if err := s.Append([]Record{r}, now); err != nil {
					t.Fatal(err)
				}
			}
			for i := 1; i <= 3; i++ { // a file each; the count cap drops the first
				one("a", "h", i)
			}
			if got := s.CompleteSince("a", now); !got.Equal(at(1)) {
				t.Fatalf("CompleteSince(a) after the count cap = %v, want %v", got.UTC(), at(1).UTC())
			}
			for i := 10; s.Stats().DroppedForSize == 0; i++ {
				if i > 1000 {
					t.Fatal("the size cap deleted nothing")
				}
				one("b", tc.hostB, i)
			}
			if n := len(s.Of("a", now)); n != 2 || s.Stats().DroppedForSize != 1 {
				t.Fatalf("a holds %d records, %d dropped for size: the case does not hold", n, s.Stats().DroppedForSize)
			}
			s.Close()
			r := open(t, o)
			if got := r.CompleteSince("a", now); got.Before(at(1)) {
				t.Errorf("after a restart CompleteSince(a) = %v: it claims the record ending %v, deleted, complete", got.UTC(), at(1).UTC())
			}
		})
	}
}
