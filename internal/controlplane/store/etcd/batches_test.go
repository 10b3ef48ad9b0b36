package etcd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
)

// TestUpdateFlowBatches: two servers changing one host's document at once
// lose no change (each runs again on the other's); hosts are apart; fn's
// error, or nil, writes nothing.
func TestUpdateFlowBatches(t *testing.T) {
	open := opener(etcdtest.Embedded(t))
	a := open(t)
	b, err := Dial(context.Background(), []string{a.cli.Endpoints()[0]}, a.p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	appendItem := func(item string) func([]byte) ([]byte, error) {
		return func(old []byte) ([]byte, error) {
			if len(old) == 0 {
				return []byte(item), nil
			}
			return []byte(string(old) + "," + item), nil
		}
	}
	var wg sync.WaitGroup
	for i := range 16 {
		s := []*Store{a, b}[i%2]
		wg.Go(func() {
			if err := s.UpdateFlowBatches(ctx, "h1", appendItem(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	read := func(s *Store, host string) string {
		var got string
		if err := s.UpdateFlowBatches(ctx, host, func(old []byte) ([]byte, error) { got = string(old); return nil, nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	items := strings.Split(read(a, "h1"), ",")
	slices.Sort(items)
	if len(items) != 16 || len(slices.Compact(items)) != 16 {
		t.Errorf("after 16 changes at once over two servers the document holds %v", items)
	}
	boom := errors.New("boom")
	for _, c := range []struct {
		name string
		fn   func([]byte) ([]byte, error)
		err  error
	}{{"fn fails", func([]byte) ([]byte, error) { return []byte("x"), boom }, boom}, {"fn writes nothing", func([]byte) ([]byte, error) { return nil, nil }, nil}} {
		if err := b.UpdateFlowBatches(ctx, "h1", c.fn); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	if got := read(b, "h1"); len(strings.Split(got, ",")) != 16 {
		t.Errorf("a failed or empty change changed the document: %q", got)
	}
	if got := read(a, "h10"); got != "" {
		t.Errorf("host h10 shares host h1's document: %q", got)
	}
}
