package view

import (
	"context"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// TestChanged: the view tells which records changed between two revisions
// it published, each once, and says so when it cannot.
func TestChanged(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	v := New(st, kinds)
	t.Cleanup(v.Close)
	s0, err := v.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	write := func(fn func(tx store.Tx) error) int64 {
		rev, err := st.Update(ctx, fn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Wait(ctx, rev); err != nil {
			t.Fatal(err)
		}
		return rev
	}
	r1 := write(func(tx store.Tx) error { return put(tx, "a", "x", "acct", "r", doc{N: 1}) })
	r2 := write(func(tx store.Tx) error {
		if err := put(tx, "a", "y", "acct", "r", doc{N: 2}); err != nil {
			return err
		}
		return put(tx, "b", "z", "acct", "r", doc{N: 3})
	})
	r3 := write(func(tx store.Tx) error {
		if err := tx.Delete("a", "x"); err != nil {
			return err
		}
		return put(tx, "a", "y", "acct", "r", doc{N: 4})
	})
	for _, tc := range []struct {
		name     string
		from, to int64
		want     []string // kind/id, sorted; nil: not known
	}{
		{"one revision", r1, r2, []string{"a/y", "b/z"}},
		{"across revisions, each once", s0.Revision(), r3, []string{"a/x", "a/y", "b/z"}},
		{"nothing", r3, r3, []string{}},
		{"from a revision never published", r3 + 5, r3 + 6, nil},
		{"to a revision not published yet", r1, r3 + 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs, ok := v.Changed(tc.from, tc.to)
			if tc.want == nil {
				if ok {
					t.Fatalf("Changed(%d, %d) = %v, true; want not known", tc.from, tc.to, refs)
				}
				return
			}
			if !ok {
				t.Fatalf("Changed(%d, %d): not known", tc.from, tc.to)
			}
			got := []string{}
			for _, r := range refs {
				got = append(got, string(r.Kind)+"/"+r.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Changed(%d, %d) = %v, want %v", tc.from, tc.to, got, tc.want)
			}
		})
	}
}
