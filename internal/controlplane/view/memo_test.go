package view

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// TestRecordMemo: a value memoised on a record of the view is computed once
// per revision of the record: an unchanged record keeps it across
// snapshots, a changed one (even written from a copy of the view's record,
// which carries its Memo) computes it anew, and an old snapshot keeps
// serving the old value.
func TestRecordMemo(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	if _, err := st.Update(ctx, func(tx store.Tx) error { // loaded by New
		return put(tx, "a", "1", "acct", "r1", doc{N: 1})
	}); err != nil {
		t.Fatal(err)
	}
	v := New(st, kinds)
	defer v.Close()
	calls := 0
	derived := func(s *Snapshot, id string) int {
		r := s.Record("a", id)
		return r.Memo.Get("n", func() any { calls++; return r.Object.(*doc).N * 10 }).(int)
	}
	snaps := map[string]*Snapshot{}
	for _, step := range []struct {
		name  string
		write func(s *Snapshot) func(store.Tx) error // nil: read only
		snap  string                                 // the snapshot to read ("": the current one)
		id    string
		want  int
		calls int // in all, after the step
	}{
		{name: "loaded", id: "1", want: 10, calls: 1},
		{name: "again", id: "1", want: 10, calls: 1},
		{name: "other record written", write: func(*Snapshot) func(store.Tx) error {
			return func(tx store.Tx) error { return put(tx, "a", "2", "acct", "r1", doc{N: 2}) }
		}, id: "1", want: 10, calls: 1},
		{name: "its own", id: "2", want: 20, calls: 2},
		{name: "changed from the view's copy", write: func(s *Snapshot) func(store.Tx) error {
			snaps["before"] = s
			r, _, _ := s.Get("a", "1")
			if r.Memo == nil {
				t.Fatal("a record of the view has no Memo")
			}
			return func(tx store.Tx) error {
				r.Object = &doc{N: 3}
				r.Data, _ = json.Marshal(r.Object)
				return tx.Put(r)
			}
		}, id: "1", want: 30, calls: 3},
		{name: "old snapshot", snap: "before", id: "1", want: 10, calls: 3},
		{name: "unchanged since", id: "2", want: 20, calls: 3},
	} {
		s, err := v.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if step.write != nil {
			if _, err := st.Update(ctx, step.write(s)); err != nil {
				t.Fatal(err)
			}
			if s, err = v.Snapshot(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if step.snap != "" {
			s = snaps[step.snap]
		}
		if got := derived(s, step.id); got != step.want || calls != step.calls {
			t.Errorf("%s: a/%s derived %d after %d computations, want %d after %d", step.name, step.id, got, calls, step.want, step.calls)
		}
	}
}
