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

	bytes int64 // the memory its changes keep (changeBytes)

	memo store.Memo // see Memo
}

// Memo returns the value memoised under key for this batch, computing it
// with f the first time: consumers share work per revision with it (an
// answer encoded once for every watcher that needs it).
func (b *Batch) Memo(key any, f func() any) any { return b.memo.Get(key, f) }

// DefaultHistory is how many changed records the view keeps in its history
// by default (the oldest batches are dropped beyond it).
const DefaultHistory = 4096

// DefaultHistoryBytes is the estimated memory (see changeBytes) the history
// keeps by default, beside DefaultHistory: a count alone does not bound it,
// as a group of 200 rules weighs ten of 20 (4,096 of those: ~450 MB).
// 16 MiB holds some 1,300 changes of groups of 20 rules (135 of 200 rules),
// under a second of the API benchmark's writes. The watches are woken per
// batch, so only a stalled watcher falls behind it, and it is not lost but
// costs more: a host's agent is told to resync from a snapshot, the
// operator's watch reads the store's change log (Service.nextChanges), the
// live analysis compares snapshots (View.Changed).
const DefaultHistoryBytes = 16 << 20

// SetHistoryLimit sets how many changed records the history keeps (from
// the next batch on).
func (v *View) SetHistoryLimit(n int) { v.historyLimit.Store(int64(max(n, 1))) }

// SetHistoryBytes sets the estimated memory the history keeps (from the
// next batch on). The newest batch stays however big it is.
func (v *View) SetHistoryBytes(n int64) { v.historyBytes.Store(max(n, 0)) }

// changeBytes estimates the memory a change keeps alive that the snapshot
// does not, given the length of its new record's JSON (0: deleted). Each
// record is charged once, as it enters the history as New: New of one batch
// is Old of the next change to it. A record changed k times in the window
// so charges its k new values for the k that only the history holds: the
// first Old (charged before the window) in place of the last New (which
// the snapshot holds anyway). A record's Object, decoded, takes 2.3-2.5 times
// its JSON for groups (1.7 for instances), measured on the API benchmark's
// and reachtest.Big's records; the fixed part is the Record and the Change
// themselves. The batches' memos (Batch.Memo) are not counted.
func changeBytes(dataLen int) int64 { return int64(dataLen)*5/2 + 256 }

// history is the batches a snapshot knows, oldest first; base is the
// oldest revision a watcher may resume from.
type history struct {
	base    int64
	batches []*Batch
	changes int   // total Changes in batches
	bytes   int64 // total bytes of batches
	// The batches dropped from the head of batches' array, which it keeps
	// alive until the array is copied: snapshots that share the array may
	// still read them, so they are not cleared.
	dead      int
	deadBytes int64
}

// appended returns h with b added, dropping the oldest batches beyond
// limit changes or budget bytes (the newest batch is always kept). The
// snapshots that share h see what they saw: only one follower appends,
// past their length.
func (h history) appended(b *Batch, limit int, budget int64) history {
	n := history{base: h.base, batches: append(h.batches, b), changes: h.changes + len(b.Changes), bytes: h.bytes + b.bytes,
		dead: h.dead, deadBytes: h.deadBytes}
	if len(h.batches) == 0 {
		n.base = b.From
	}
	if len(h.batches) > 0 && &n.batches[0] != &h.batches[0] {
		n.dead, n.deadBytes = 0, 0 // append grew a new array: the head stayed behind
	}
	drop := 0
	for (n.changes > limit || n.bytes > budget) && drop < len(n.batches)-1 {
		n.changes -= len(n.batches[drop].Changes)
		n.bytes -= n.batches[drop].bytes
		n.dead, n.deadBytes = n.dead+1, n.deadBytes+n.batches[drop].bytes
		drop++
	}
	if drop > 0 {
		n.batches = n.batches[drop:]
		n.base = n.batches[0].From
	}
	// A window that slides one batch at a time would otherwise keep up to
	// its length again of dropped batches (the array grows only when full),
	// twice the bounds: past a quarter, copy what is kept, with room to
	// slide into (some four pointers copied per batch appended).
	if n.dead*4 > len(n.batches) || n.deadBytes*4 > n.bytes {
		kept := make([]*Batch, len(n.batches), len(n.batches)+len(n.batches)/4+1)
		copy(kept, n.batches)
		n.batches, n.dead, n.deadBytes = kept, 0, 0
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

// HistorySize is what the snapshot's history holds: changed records and
// their estimated bytes (see changeBytes), as bounded by SetHistoryLimit
// and SetHistoryBytes.
func (s *Snapshot) HistorySize() (changes int, bytes int64) {
	return s.hist.changes, s.hist.bytes
}

// HistoryBase is the oldest revision Since can serve.
func (s *Snapshot) HistoryBase() int64 {
	if len(s.hist.batches) == 0 {
		return s.rev
	}
	return s.hist.base
}
