package view

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

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
