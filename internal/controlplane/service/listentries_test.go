package service

import (
	"fmt"
	"testing"
)

// TestModifyPortRangeListEntries holds ModifyPortRangeList's entry edits
// (editEntries, shared with prefix lists) to their errors and results:
// each refused call changes nothing.
func TestModifyPortRangeListEntries(t *testing.T) {
	e := newEnv(t)
	three := 3
	res, err := e.s.CreatePortRangeList(e.ctx, CreatePortRangeListInput{Caller: e.c, Name: "web", MaxEntries: &three,
		Entries: []PortEntryInput{{PortRange: "80/80"}, {PortRange: "443/443", Description: "https"}}})
	wantCode(t, err, "")
	id := res.PortRangeListId
	entries := func() string {
		l, err := e.s.DescribePortRangeList(e.ctx, e.c, id)
		wantCode(t, err, "")
		return fmt.Sprint(l.Entries)
	}
	add := func(rs ...string) []PortEntryInput {
		var out []PortEntryInput
		for _, r := range rs {
			out = append(out, PortEntryInput{PortRange: r, Description: "d" + r})
		}
		return out
	}
	before := entries()
	for _, tc := range []struct {
		name        string
		add, remove []string
		code        string
	}{
		{"remove twice", nil, []string{"80/80", "80/80"}, "InvalidParam.DuplicatePortRange"},
		{"add twice", []string{"22/22", "22/22"}, nil, "InvalidParam.DuplicatePortRange"},
		{"add and remove", []string{"80/80"}, []string{"80/80"}, "InvalidParam.PortRangeConflict"},
		{"remove one not listed", nil, []string{"8080/8080"}, "InvalidParam.EntryNotFound"},
		{"malformed", []string{"90/80"}, nil, "InvalidPortRange.Malformed"},
		{"over MaxEntries", []string{"22/22", "23/23"}, nil, "InvalidParam.MaxEntries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.s.ModifyPortRangeList(e.ctx, ModifyPortRangeListInput{Caller: e.c, PortRangeListID: id, AddEntries: add(tc.add...), RemoveEntries: tc.remove})
			wantCode(t, err, tc.code)
			if got := entries(); got != before {
				t.Errorf("entries %s after a refused call, were %s", got, before)
			}
		})
	}
	// Removals go first, so a full list takes a new range in the place of
	// one removed; a listed range added again takes the new description.
	wantCode(t, e.s.ModifyPortRangeList(e.ctx, ModifyPortRangeListInput{Caller: e.c, PortRangeListID: id,
		AddEntries: add("22/22", "23/23", "443/443"), RemoveEntries: []string{"80/80"}}), "")
	if got, want := entries(), "[{443/443 d443/443} {22/22 d22/22} {23/23 d23/23}]"; got != want {
		t.Errorf("entries %s, want %s", got, want)
	}
}
