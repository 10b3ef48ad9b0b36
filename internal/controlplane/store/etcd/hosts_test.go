package etcd

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
)

// PutHostApplied records one host's applied revision, unguarded.
func (s *Store) PutHostApplied(ctx context.Context, host string, rev int64) error {
	_, err := s.PutHostsApplied(ctx, map[string]store.HostApplied{host: {Rev: rev}})
	return err
}

// TestHostApplied: a host's applied revision only rises (a server that
// heard the host before a failover may record an older one last); a
// watcher gets those recorded before it started, then each change, and
// -1 for a host forgotten.
func TestHostApplied(t *testing.T) {
	s := opener(etcdtest.Embedded(t))(t)
	ctx := context.Background()
	if err := s.PutHostApplied(ctx, "h1", 5); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	s.WatchHostApplied(func(host string, rev int64) { got <- fmt.Sprintf("%s %d", host, rev) })
	select { // the watcher has read what was there: the changes below come after
	case g := <-got:
		if g != "h1 5" {
			t.Fatalf("first watched %q, want h1 5", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not get h1's revision recorded before it started")
	}
	for _, step := range []struct {
		host string
		rev  int64 // -1: delete
	}{
		{"h1", 3}, // lower: kept at 5
		{"h1", 12},
		{"h:2", 1}, // a name with the separator in it
		{"h1", -1},
	} {
		var err error
		if step.rev < 0 {
			err = s.DeleteHostApplied(ctx, step.host)
		} else {
			err = s.PutHostApplied(ctx, step.host, step.rev)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"h1 12", "h:2 1", "h1 -1"}
	var seen []string
	for len(seen) < len(want) {
		select {
		case g := <-got:
			seen = append(seen, g)
		case <-time.After(10 * time.Second):
			t.Fatalf("watched %v, want %v", seen, want)
		}
	}
	if !slices.Equal(seen, want) {
		t.Errorf("watched %v, want %v", seen, want)
	}
}

// TestPutHostsApplied: the revisions of many hosts are recorded in one
// etcd transaction per hostsPerTxn hosts (one per host was a thousand
// transactions a second at a thousand hosts), each raised only: a host
// recorded higher keeps its revision, one recorded lower or not at all
// gets the new one; a host whose guard record (its key) is gone is not
// recorded.
func TestPutHostsApplied(t *testing.T) {
	s := opener(etcdtest.Embedded(t))(t)
	ctx := context.Background()
	if _, err := s.cli.Put(ctx, s.recKey("guard", "here"), "{}"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		hosts int
		txns  int64
	}{
		{"one host", 1, 1},
		{"a batch", 60, 1},
		{"more than one transaction holds", 2*hostsPerTxn + 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := func(i int) string { return fmt.Sprintf("%s-h%03d", tc.name, i) }
			// Before: host 0 recorded at 9 (higher), host 1 at 2 (lower).
			if err := s.PutHostApplied(ctx, name(0), 9); err != nil {
				t.Fatal(err)
			}
			if tc.hosts > 1 {
				if err := s.PutHostApplied(ctx, name(1), 2); err != nil {
					t.Fatal(err)
				}
			}
			revs := map[string]store.HostApplied{name(-1): {Rev: 5, Kind: "guard", ID: "gone"}}
			for i := range tc.hosts {
				revs[name(i)] = store.HostApplied{Rev: 5, Kind: "guard", ID: "here"}
			}
			before := s.hostTxns.Load()
			unguarded, err := s.PutHostsApplied(ctx, revs)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(unguarded, []string{name(-1)}) {
				t.Errorf("PutHostsApplied says %v were not recorded for their guard, want [%s]", unguarded, name(-1))
			}
			if got := s.hostTxns.Load() - before; got != tc.txns {
				t.Errorf("%d hosts recorded in %d etcd transactions, want %d", tc.hosts, got, tc.txns)
			}
			for i := range tc.hosts {
				want := int64(5)
				if i == 0 {
					want = 9
				}
				resp, err := s.cli.Get(ctx, s.hostKey(name(i)))
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != fmt.Sprintf("%020d", want) {
					t.Errorf("host %s: recorded %v, want %d", name(i), resp.Kvs, want)
				}
			}
			if resp, err := s.cli.Get(ctx, s.hostKey(name(-1))); err != nil || len(resp.Kvs) != 0 {
				t.Errorf("a host whose key is gone: recorded %v (%v), want nothing", resp.Kvs, err)
			}
		})
	}
}

// TestHostAppliedRereadForgets: the read that follows a broken watch
// reports -1 for a host forgotten while no watch ran (its delete event
// was never delivered), and the hosts still recorded again.
func TestHostAppliedRereadForgets(t *testing.T) {
	s := opener(etcdtest.Embedded(t))(t)
	ctx := context.Background()
	var got []string
	f := appliedFeed{s: s, fn: func(host string, rev int64) { got = append(got, fmt.Sprintf("%s %d", host, rev)) }, known: map[string]int64{}}
	read := func() {
		t.Helper()
		resp, err := s.cli.Get(ctx, s.hostsPrefix(), clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		f.reload(resp.Kvs)
	}
	for host, rev := range map[string]int64{"h1": 5, "h2": 7, "h3": 9} {
		if err := s.PutHostApplied(ctx, host, rev); err != nil {
			t.Fatal(err)
		}
	}
	read()
	if want := []string{"h1 5", "h2 7", "h3 9"}; !slices.Equal(got, want) {
		t.Fatalf("first read: %v, want %v", got, want)
	}
	// The watch broke; meanwhile h1 and h3 were deregistered.
	for _, host := range []string{"h1", "h3"} {
		if err := s.DeleteHostApplied(ctx, host); err != nil {
			t.Fatal(err)
		}
	}
	read()
	if want := []string{"h2 7", "h1 -1", "h3 -1"}; !slices.Equal(got, want) {
		t.Errorf("read after the gap: %v, want %v", got, want)
	}
	read() // forgotten once: not again
	if want := []string{"h2 7"}; !slices.Equal(got, want) {
		t.Errorf("next read: %v, want %v", got, want)
	}
	// Another gap: h2 deregistered and registered again, its new agent at
	// a lower revision than its old one's (a rise-only reader kept 7).
	if err := s.DeleteHostApplied(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHostApplied(ctx, "h2", 3); err != nil {
		t.Fatal(err)
	}
	read()
	if want := []string{"h2 -1", "h2 3"}; !slices.Equal(got, want) {
		t.Errorf("read after h2 was made again: %v, want %v", got, want)
	}
	// A value that does not parse is no revision: the host is forgotten.
	if _, err := s.cli.Put(ctx, s.hostKey("h2"), "garbage"); err != nil {
		t.Fatal(err)
	}
	read()
	if want := []string{"h2 -1"}; !slices.Equal(got, want) {
		t.Errorf("read after h2's value went bad: %v, want %v", got, want)
	}
}
