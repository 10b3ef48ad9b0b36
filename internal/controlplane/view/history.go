package view

import (
	"sort"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// The view keeps a bounded history of what it applied, so that watchers
// (the agents' streams) are served from memory: which records changed after
// a revision, and what each was before, without reading the store's change
// log per poll. It is the watch cache's event window.

// Change is one record changed by a Batch: its value before the batch (nil:
// absent) and after it (nil: deleted). Both are the view's shared records.
type Change struct {
	Kind     store.Kind
	ID       string
	Old, New *store.Record
}

// Batch is what the view applied at once to go from revision From to To:
// each record changed in (From, To], once. A watcher at a revision strictly
// between From and To cannot be told apart from one at From.
type Batch struct {
	From, To int64
	Changes  []Change

	memo store.Memo // see Memo
}

// Memo returns the value memoised under key for this batch, computing it
// with f the first time: consumers share work per revision with it (an
// answer encoded once for every watcher that needs it).
func (b *Batch) Memo(key any, f func() any) any { return b.memo.Get(key, f) }

// DefaultHistory is how many changed records the view keeps in its history
// by default (the oldest batches are dropped beyond it).
const DefaultHistory = 4096

// SetHistoryLimit sets how many changed records the history keeps (from
// the next batch on).
func (v *View) SetHistoryLimit(n int) { v.historyLimit.Store(int64(max(n, 1))) }

// history is the batches a snapshot knows, oldest first; base is the
// oldest revision a watcher may resume from.
type history struct {
	base    int64
	batches []*Batch
	changes int // total Changes in batches
}

// appended returns h with b added, dropping the oldest batches beyond
// limit changes (the newest batch is always kept). The snapshots that
// share h see what they saw: only one follower appends, past their length.
func (h history) appended(b *Batch, limit int) history {
	n := history{base: h.base, batches: append(h.batches, b), changes: h.changes + len(b.Changes)}
	if len(h.batches) == 0 {
		n.base = b.From
	}
	drop := 0
	for n.changes > limit && drop < len(n.batches)-1 {
		n.changes -= len(n.batches[drop].Changes)
		drop++
	}
	if drop > 0 {
		n.batches = n.batches[drop:] // the next growth copies only the rest
		n.base = n.batches[0].From
	}
	return n
}

// Since returns the batches that bring a watcher at revision after to the
// snapshot's revision, oldest first. ok is false when the history does not
// reach back to after (the watcher must read the store or resync); exact
// is false when after falls inside a batch (its first batch then holds
// changes the watcher may already have: a superset, and the records' old
// values are those at the batch's From, not at after).
func (s *Snapshot) Since(after int64) (batches []*Batch, exact, ok bool) {
	h := s.hist
	if after >= s.rev {
		return nil, true, true
	}
	if after < h.base || len(h.batches) == 0 {
		return nil, false, false
	}
	i := sort.Search(len(h.batches), func(i int) bool { return h.batches[i].To > after })
	if i == len(h.batches) {
		return nil, true, true
	}
	return h.batches[i:], h.batches[i].From == after, true
}

// HistoryBase is the oldest revision Since can serve.
func (s *Snapshot) HistoryBase() int64 {
	if len(s.hist.batches) == 0 {
		return s.rev
	}
	return s.hist.base
}
