package view

import "github.com/palisade-sg/palisade/internal/controlplane/store"

// Ref names a record.
type Ref struct {
	Kind store.Kind
	ID   string
}

// trailLen is how many published snapshots the view remembers the changes
// of: a follower of the view (the live reachability) that falls further
// behind rebuilds from a snapshot instead.
const trailLen = 1024

// step is what one published snapshot changed after the one before it.
type step struct {
	base, rev int64
	refs      []Ref
}

// remember adds a published snapshot's changes to the trail (v.mu held).
func (v *View) remember(s *Snapshot) {
	if s.base == 0 && s.changed == nil {
		v.trail = v.trail[:0] // a load: no changes to tell since before it
		return
	}
	if len(v.trail) == trailLen {
		v.trail = append(v.trail[:0], v.trail[1:]...)
	}
	v.trail = append(v.trail, step{base: s.base, rev: s.rev, refs: s.changed})
}

// Changed returns the records of the kept kinds written after revision
// from up to revision to (each once), and false when the view no longer
// remembers that far back (or never saw from): then compare whole
// snapshots instead.
func (v *View) Changed(from, to int64) ([]Ref, bool) {
	if from == to {
		return nil, true
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	i := len(v.trail) - 1
	for i >= 0 && v.trail[i].base >= from {
		if v.trail[i].base == from {
			break
		}
		i--
	}
	if i < 0 || v.trail[i].base != from {
		return nil, false
	}
	seen := map[Ref]bool{}
	var out []Ref
	last := from
	for ; i < len(v.trail) && v.trail[i].rev <= to; i++ {
		last = v.trail[i].rev
		for _, r := range v.trail[i].refs {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	if last != to {
		return nil, false // to is not a published revision
	}
	return out, true
}
