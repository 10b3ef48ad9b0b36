package view

import "github.com/palisade-sg/palisade/internal/controlplane/store"

// Ref names a record.
type Ref struct {
	Kind store.Kind
	ID   string
}

// Changed returns the records of the kept kinds written after revision
// from up to revision to (each once), read from the current snapshot's
// history, and false when the history no longer reaches back to from, from
// falls inside a batch the view applied at once, or to is not a revision
// it published: then compare whole snapshots instead.
func (v *View) Changed(from, to int64) ([]Ref, bool) {
	if from == to {
		return nil, true
	}
	batches, exact, ok := v.Current().Since(from)
	if !ok || !exact {
		return nil, false
	}
	seen := map[Ref]bool{}
	var out []Ref
	last := from
	for _, b := range batches {
		if b.To > to {
			break
		}
		last = b.To
		for _, c := range b.Changes {
			if r := (Ref{c.Kind, c.ID}); !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	if last != to {
		return nil, false
	}
	return out, true
}
