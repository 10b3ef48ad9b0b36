package member

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd"
	"github.com/palisade-sg/palisade/internal/controlplane/store/storetest"
)

// TestConformanceOnCluster runs the store conformance suite on a cluster
// of three embedded members (one started it, two joined), each store
// talking to all three.
func TestConformanceOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("short: starts three etcd members")
	}
	dir := t.TempDir()
	a, _, err := start(t, filepath.Join(dir, "a"), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := start(t, filepath.Join(dir, "b"), "b", a.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := start(t, filepath.Join(dir, "c"), "c", b.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	if v, l := members(t, a.ClientURL); len(v) != 3 || len(l) != 0 {
		t.Fatalf("voters %v, learners %v; want three voters", v, l)
	}
	urls := []string{a.ClientURL, b.ClientURL, c.ClientURL}
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := etcd.Dial(ctx, urls, fmt.Sprintf("/conformance/%d/", n.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
