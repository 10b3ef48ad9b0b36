package etcd

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
)

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
