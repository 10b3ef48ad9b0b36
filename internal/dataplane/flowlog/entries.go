package flowlog

import (
	"sync"

	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Entries is the table of deciding entries of the ruleset in force on a
// host (nft.Ruleset.Entries), kept by the agent: Set it after each apply.
// Entry IDs are hashes, so the table of an older ruleset still names the
// connections it labelled; Set keeps every entry ever set (they are few and
// small) so that a connection outliving its rule is still named.
type Entries struct {
	mu    sync.RWMutex
	byID  map[nft.EntryID]nft.Entry
	by32  map[uint32]nft.EntryID // egress entries by their first 32 bits
	clash map[uint32]bool        // first 32 bits shared by two egress entries
}

// Set adds the entries of a ruleset.
func (t *Entries) Set(m map[nft.EntryID]nft.Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID == nil {
		t.byID, t.by32, t.clash = map[nft.EntryID]nft.Entry{}, map[uint32]nft.EntryID{}, map[uint32]bool{}
	}
	for id, e := range m {
		t.byID[id] = e
		p := uint32(id >> 32)
		if old, ok := t.by32[p]; ok && old != id {
			t.clash[p] = true
		}
		t.by32[p] = id
	}
}

// Lookup returns what an entry ID stands for.
func (t *Entries) Lookup(id nft.EntryID) (nft.Entry, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.byID[id]
	return e, ok
}

// lookup32 finds an entry by the first 32 bits of its ID (what a log rule
// copies into the packet mark); an ambiguous prefix finds none.
func (t *Entries) lookup32(p uint32) (nft.EntryID, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	id, ok := t.by32[p]
	return id, ok && !t.clash[p]
}
