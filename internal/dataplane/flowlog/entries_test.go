package flowlog

import (
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// TestEntriesRetention: an entry the ruleset in force stops setting still
// names its connections for EntryRetention from then (however long it was
// in force before), then is forgotten, and so is the ambiguity its 32-bit
// prefix made with a newer entry.
func TestEntriesRetention(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	tbl := &Entries{now: func() time.Time { return now }}
	entry := func(rule string) nft.Entry { return nft.Entry{GroupID: "sg-1", RuleID: rule} }
	const old, clashing, kept = nft.EntryID(0xAAAA0000_00000001), nft.EntryID(0xAAAA0000_00000002), nft.EntryID(0xBBBB0000_00000001)
	both := map[nft.EntryID]nft.Entry{old: entry("sgr-old"), kept: entry("sgr-kept")}
	newer := map[nft.EntryID]nft.Entry{clashing: entry("sgr-new"), kept: entry("sgr-kept")}
	tbl.Set(both)
	for _, step := range []struct {
		after    time.Duration
		set      map[nft.EntryID]nft.Entry
		old      bool // old is still named
		prefixOK bool // clashing's 32-bit prefix names it
	}{
		{2 * EntryRetention, newer, true, false},         // in force two days with no change, out of force from now
		{EntryRetention - time.Hour, newer, true, false}, // not yet a day out
		{2 * time.Hour, newer, false, true},              // a day out: forgotten
		{time.Hour, both, true, false},                   // in force again
	} {
		now = now.Add(step.after)
		tbl.Set(step.set)
		if _, ok := tbl.Lookup(old); ok != step.old {
			t.Errorf("at %v: the old entry is named: %v, want %v", now, ok, step.old)
		}
		if e, ok := tbl.Lookup(kept); !ok || e.RuleID != "sgr-kept" {
			t.Errorf("at %v: the entry every ruleset sets is not named", now)
		}
		if id, ok := tbl.lookup32(uint32(clashing >> 32)); (ok && id == clashing) != step.prefixOK {
			t.Errorf("at %v: the new entry's prefix names %x, %v; want it named: %v", now, uint64(id), ok, step.prefixOK)
		}
	}
}
