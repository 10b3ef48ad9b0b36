package flowlog

import (
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Entries is the table of deciding entries of the ruleset in force on a
// host (nft.Ruleset.Entries), kept by the agent: Set it after each apply.
// Entry IDs are hashes, so the table of an older ruleset still names the
// connections it labelled: an entry no ruleset sets any more is kept for
// EntryRetention, so that a connection outliving its rule is still named,
// and then forgotten, so that rule churn neither grows the table without
// end nor makes ever more 32-bit prefixes ambiguous.
type Entries struct {
	mu    sync.RWMutex
	byID  map[nft.EntryID]keptEntry
	by32  map[uint32]nft.EntryID // egress entries by their first 32 bits
	clash map[uint32]bool        // first 32 bits shared by two egress entries
	now   func() time.Time       // nil: time.Now (tests set it)
}

// EntryRetention is how long an entry that the ruleset in force no longer
// sets still names the connections it labelled.
const EntryRetention = 24 * time.Hour

type keptEntry struct {
	e       nft.Entry
	inForce bool      // the last ruleset set it
	left    time.Time // when it left the ruleset in force
}

// Set takes the entries of the ruleset now in force, and forgets those out
// of force for EntryRetention.
func (t *Entries) Set(m map[nft.EntryID]nft.Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.now != nil {
		now = t.now()
	}
	if t.byID == nil {
		t.byID, t.by32, t.clash = map[nft.EntryID]keptEntry{}, map[uint32]nft.EntryID{}, map[uint32]bool{}
	}
	pruned := false
	for id, k := range t.byID {
		_, still := m[id]
		switch {
		case still:
		case k.inForce:
			t.byID[id] = keptEntry{e: k.e, left: now}
		case now.Sub(k.left) > EntryRetention:
			delete(t.byID, id)
			pruned = true
		}
	}
	for id, e := range m {
		t.byID[id] = keptEntry{e: e, inForce: true}
		t.index(id)
	}
	if pruned {
		clear(t.by32)
		clear(t.clash)
		for id := range t.byID {
			t.index(id)
		}
	}
}

// index files id under its first 32 bits.
func (t *Entries) index(id nft.EntryID) {
	p := uint32(id >> 32)
	if old, ok := t.by32[p]; ok && old != id {
		t.clash[p] = true
	}
	t.by32[p] = id
}

// Lookup returns what an entry ID stands for.
func (t *Entries) Lookup(id nft.EntryID) (nft.Entry, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	k, ok := t.byID[id]
	return k.e, ok
}

// lookup32 finds an entry by the first 32 bits of its ID (what a log rule
// copies into the packet mark); an ambiguous prefix finds none.
func (t *Entries) lookup32(p uint32) (nft.EntryID, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	id, ok := t.by32[p]
	return id, ok && !t.clash[p]
}
