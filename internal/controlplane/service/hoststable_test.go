package service

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestHostProgressConcurrent: reports and streams noting progress at once,
// in any order, leave each host at the highest revision reported, never a
// lower one that arrived last, and readers see every host meanwhile.
func TestHostProgressConcurrent(t *testing.T) {
	for _, tc := range []struct {
		name         string
		hosts, notes int
	}{
		{"one host, many notes", 1, 400},
		{"many hosts", 40, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var wg sync.WaitGroup
			for h := range tc.hosts {
				for i := range tc.notes {
					wg.Go(func() {
						// Revisions arrive out of order: the odd i note notes-i.
						rev := int64(i)
						if i%2 == 1 {
							rev = int64(tc.notes - i)
						}
						if err := e.s.noteHost(HostProgress{HostName: fmt.Sprintf("h%d", h), AppliedRevision: rev}); err != nil {
							t.Error(err)
						}
					})
				}
			}
			stop := make(chan struct{})
			var readers sync.WaitGroup
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					for _, st := range e.s.HostStates() {
						if st.Seen.IsZero() || time.Since(st.Seen) > time.Minute {
							t.Errorf("host %s seen at %v", st.Name, st.Seen)
							return
						}
					}
				}
			})
			wg.Wait()
			close(stop)
			readers.Wait()
			want := int64(tc.notes - 1) // noted by i = 1; every other note is lower
			states := e.s.HostStates()
			if len(states) != tc.hosts {
				t.Fatalf("%d hosts, want %d", len(states), tc.hosts)
			}
			for _, st := range states {
				if st.Applied != want || e.s.AppliedRevision(st.Name) != want {
					t.Errorf("host %s applied %d (AppliedRevision %d), want the highest noted, %d", st.Name, st.Applied, e.s.AppliedRevision(st.Name), want)
				}
			}
		})
	}
}

// TestNewHostFilledBeforeSeen: a host's first report is not visible to
// readers until its revision and time are filled in. The clock reads the
// hosts as the report is noted: the new host is either not there yet or
// there complete, never at revision 0, seen in 1970.
func TestNewHostFilledBeforeSeen(t *testing.T) {
	for _, tc := range []struct {
		name string
		rev  int64
	}{
		{"first report at revision 7", 7},
		{"first report at revision 1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			now := time.Now()
			e.s.Now = func() time.Time {
				for _, st := range e.s.HostStates() {
					if st.Applied != tc.rev || !st.Seen.Equal(now.UTC()) {
						t.Errorf("while noting: host %s at revision %d seen at %v, want revision %d seen at %v (or not yet listed)", st.Name, st.Applied, st.Seen, tc.rev, now.UTC())
					}
				}
				return now
			}
			if err := e.s.noteHost(HostProgress{HostName: "h1", AppliedRevision: tc.rev}); err != nil {
				t.Fatal(err)
			}
			if st := e.s.HostStates(); len(st) != 1 || st[0].Applied != tc.rev {
				t.Fatalf("after noting: %+v", st)
			}
		})
	}
}
