package view

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"weak"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// records is a snapshot's records by "kind/id", for comparing states.
func records(s *Snapshot) map[string]*store.Record {
	out := map[string]*store.Record{}
	for kind, t := range s.tables {
		for id, r := range t.byID {
			out[string(kind)+"/"+id] = r
		}
	}
	return out
}

// TestHistoryReplays checks the history against the snapshots it joins:
// from every snapshot the view published, the batches Since gives hold each
// record that differs at the end, with its value at that snapshot as Old
// and its final value as New, and nothing that did not change; a revision
// older than the bounded history is refused.
func TestHistoryReplays(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			st := open(t)
			v := New(st, kinds, byTag)
			defer v.Close()
			v.SetHistoryLimit(120)
			first, err := v.Wait(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			seen := []*Snapshot{first}
			var rev int64
			for range 150 {
				rev, err = st.Update(ctx, func(tx store.Tx) error {
					for range 1 + rng.IntN(3) {
						kind := store.Kind([]string{"a", "b", "other"}[rng.IntN(3)])
						id := fmt.Sprint("r", rng.IntN(20))
						if rng.IntN(4) == 0 {
							if err := tx.Delete(kind, id); err != nil {
								return err
							}
							continue
						}
						if err := put(tx, kind, id, "acct", "reg", doc{N: rng.IntN(1000)}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				s, err := v.Wait(ctx, rev) // one batch per update
				if err != nil {
					t.Fatal(err)
				}
				if s != seen[len(seen)-1] {
					seen = append(seen, s)
				}
			}
			end, err := v.Wait(ctx, rev)
			if err != nil {
				t.Fatal(err)
			}
			final := records(end)
			served := 0
			for _, s := range seen {
				batches, exact, ok := end.Since(s.rev)
				if !ok {
					if s.rev >= end.HistoryBase() {
						t.Errorf("revision %d (history from %d) refused", s.rev, end.HistoryBase())
					}
					continue
				}
				served++
				if !exact {
					t.Errorf("revision %d is a snapshot's, yet not exact", s.rev)
				}
				then := records(s)
				old, cur := map[string]*store.Record{}, map[string]*store.Record{}
				for _, b := range batches {
					for _, c := range b.Changes {
						k := string(c.Kind) + "/" + c.ID
						if _, ok := old[k]; !ok {
							old[k] = c.Old
						}
						cur[k] = c.New
					}
				}
				for k, o := range old {
					if o != then[k] {
						t.Errorf("from %d: %s's old value is not the one at that revision", s.rev, k)
					}
					if cur[k] != final[k] {
						t.Errorf("from %d: %s's new value is not the final one", s.rev, k)
					}
				}
				for k, r := range final {
					if _, changed := old[k]; !changed && then[k] != r {
						t.Errorf("from %d: %s changed but is not in the history", s.rev, k)
					}
				}
				for k := range then {
					if _, changed := old[k]; !changed && final[k] == nil {
						t.Errorf("from %d: %s was deleted but is not in the history", s.rev, k)
					}
				}
			}
			if served == 0 || served == len(seen) {
				t.Errorf("%d of %d revisions served: the bound should keep some and drop others", served, len(seen))
			}
		})
	}
}

// TestHistoryBounds writes random batches of records of random sizes and
// checks, after each, the history against what was written: each batch
// is charged changeBytes for each record it writes (once) and deletes;
// the window holds at most limit changes and budget bytes unless it is the
// newest batch alone, and reaches back as far as the bounds allow; the
// batches it dropped are let go (up to a quarter of it at a time); a
// watcher inside it gets exactly the records the store's change log lists
// after its revision, batch by batch, and one behind it is refused.
func TestHistoryBounds(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		limit     int
		budget    int64
		maxTags   int    // a record's size: up to so many tags of 16 bytes
		cuts      string // the bounds that drop batches: count, bytes or both
		overAlone bool   // the newest batch alone is over the budget at times
	}{
		{name: "count", limit: 12, budget: DefaultHistoryBytes, maxTags: 200, cuts: "count"},
		{name: "bytes", limit: DefaultHistory, budget: 40 << 10, maxTags: 200, cuts: "bytes"},
		{name: "small records", limit: DefaultHistory, budget: 4 << 10, maxTags: 2, cuts: "bytes"},
		{name: "both", limit: 10, budget: 16 << 10, maxTags: 100, cuts: "both"},
		{name: "newest alone", limit: DefaultHistory, budget: 1, maxTags: 200, cuts: "bytes", overAlone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(len(tc.name)), 3))
			st := open(t)
			v := New(st, kinds, byTag)
			defer v.Close()
			v.SetHistoryLimit(tc.limit)
			v.SetHistoryBytes(tc.budget)
			first, err := v.Wait(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			type written struct {
				from, to int64
				changes  int
				bytes    int64
			}
			var log []written // every batch the view should have applied
			live := map[string]bool{}
			prev := first.Revision()
			cut := map[string]bool{}
			var made []weak.Pointer[Batch] // every batch, by step
			for step := range 120 {
				w := written{from: prev}
				rev, err := st.Update(ctx, func(tx store.Tx) error {
					w.changes, w.bytes = 0, 0
					for _, i := range rng.Perm(30)[:1+rng.IntN(4)] {
						kind := store.Kind([]string{"a", "b", "other"}[i%3])
						id := fmt.Sprint("r", i)
						if live[id] && rng.IntN(4) == 0 {
							if err := tx.Delete(kind, id); err != nil {
								return err
							}
							if kind != "other" {
								w.changes, w.bytes = w.changes+1, w.bytes+changeBytes(0)
							}
							continue
						}
						var charge int64
						for range 1 + rng.IntN(2) { // written twice, it is charged once, as last written
							d := doc{N: rng.IntN(1000)}
							for k := range rng.IntN(tc.maxTags + 1) {
								d.Tags = append(d.Tags, fmt.Sprintf("tag-%011d", k))
							}
							acct := []string{"acct", "moved"}[rng.IntN(2)] // a move is one change
							if err := put(tx, kind, id, acct, "reg", d); err != nil {
								return err
							}
							b, _ := json.Marshal(d)
							charge = changeBytes(len(b))
						}
						if kind != "other" {
							w.changes, w.bytes = w.changes+1, w.bytes+charge
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				// Mark live only once committed (Update may run its function again).
				for _, c := range mustChanges(t, st, prev) {
					live[c.ID] = c.Op == store.OpPut
				}
				w.to, prev = rev, rev
				log = append(log, w)       // a batch of none when only "other" changed
				s, err := v.Wait(ctx, rev) // one batch per update
				if err != nil {
					t.Fatal(err)
				}
				h := s.hist
				n, b := 0, int64(0)
				for _, bt := range h.batches {
					n, b = n+len(bt.Changes), b+bt.bytes
				}
				if c, by := s.HistorySize(); c != n || by != b {
					t.Fatalf("step %d: HistorySize %d changes %d bytes, batches hold %d and %d", step, c, by, n, b)
				}
				// The window is the log's last batches, charged as written.
				if len(h.batches) == 0 || len(h.batches) > len(log) {
					t.Fatalf("step %d: %d batches in the history, %d written", step, len(h.batches), len(log))
				}
				tail := log[len(log)-len(h.batches):]
				for i, bt := range h.batches {
					if w := tail[i]; bt.From != w.from || bt.To != w.to || len(bt.Changes) != w.changes || bt.bytes != w.bytes {
						t.Fatalf("step %d: batch (%d, %d] of %d changes, %d bytes; written (%d, %d] of %d, %d bytes",
							step, bt.From, bt.To, len(bt.Changes), bt.bytes, w.from, w.to, w.changes, w.bytes)
					}
				}
				if h.base != h.batches[0].From {
					t.Fatalf("step %d: base %d, oldest batch from %d", step, h.base, h.batches[0].From)
				}
				if last := h.batches[len(h.batches)-1]; last.To != rev {
					t.Fatalf("step %d: the newest batch ends at %d, not %d", step, last.To, rev)
				}
				if len(h.batches) > 1 && (n > tc.limit || b > tc.budget) {
					t.Fatalf("step %d: %d batches hold %d changes, %d bytes: over %d, %d", step, len(h.batches), n, b, tc.limit, tc.budget)
				}
				if older := len(log) - len(h.batches) - 1; older >= 0 {
					// The batch dropped last would not have fitted.
					o := log[older]
					byCount, byBytes := n+o.changes > tc.limit, b+o.bytes > tc.budget
					if !byCount && !byBytes {
						t.Fatalf("step %d: batch (%d, %d] was dropped, yet fits (%d+%d changes, %d+%d bytes)", step, o.from, o.to, n, o.changes, b, o.bytes)
					}
					cut["count"] = cut["count"] || byCount
					cut["bytes"] = cut["bytes"] || byBytes
				}
				if len(h.batches) == 1 && b > tc.budget {
					cut["over alone"] = true
				}
				made = append(made, weak.Make(h.batches[len(h.batches)-1]))
				if step%10 == 9 {
					// The dropped batches still reachable (from the head of
					// the window's array) are at most a quarter of the window.
					h, s = history{}, nil
					runtime.GC()
					end := v.Current().hist
					deadN, deadB := 0, int64(0)
					for _, p := range made[:len(made)-len(end.batches)] {
						if d := p.Value(); d != nil {
							deadN, deadB = deadN+1, deadB+d.bytes
						}
					}
					if deadN*4 > len(end.batches) || deadB*4 > end.bytes {
						t.Fatalf("step %d: %d dropped batches of %d bytes still held beside %d of %d bytes", step, deadN, deadB, len(end.batches), end.bytes)
					}
				}
			}
			if cut["count"] != (tc.cuts != "bytes") || cut["bytes"] != (tc.cuts != "count") || tc.overAlone && !cut["over alone"] {
				t.Fatalf("the bounds that cut: %v, want %s (over alone: %v)", cut, tc.cuts, tc.overAlone)
			}
			// Every revision, against the store's change log.
			end := v.Current()
			for from := first.Revision(); from <= end.Revision(); from++ {
				batches, exact, ok := end.Since(from)
				if inside := from >= end.HistoryBase(); ok != inside || ok && !exact {
					t.Fatalf("from %d (history from %d): ok %v exact %v", from, end.HistoryBase(), ok, exact)
				}
				if !ok {
					continue
				}
				want := map[int64][]string{}
				for _, c := range mustChanges(t, st, from) {
					k := string(c.Kind) + "/" + c.ID
					if c.Kind != "other" && !slices.Contains(want[c.Revision], k) {
						want[c.Revision] = append(want[c.Revision], k)
					}
				}
				got := map[int64][]string{}
				for _, b := range batches {
					for _, c := range b.Changes {
						got[b.To] = append(got[b.To], string(c.Kind)+"/"+c.ID)
					}
				}
				for _, m := range []map[int64][]string{want, got} {
					for _, ids := range m {
						slices.Sort(ids)
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("from %d: the history gives\n%v\nthe change log\n%v", from, got, want)
				}
			}
		})
	}
}

func mustChanges(t *testing.T, st store.Store, after int64) []store.Change {
	t.Helper()
	cs, err := st.Changes(context.Background(), after, 0)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
