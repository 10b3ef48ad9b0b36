package service

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func manyIDs(distinct, repeats int) []string {
	var ids []string
	for i := range distinct {
		ids = append(ids, fmt.Sprintf("sg-%020d", i))
	}
	for i := range repeats {
		ids = append(ids, ids[i%distinct])
	}
	return ids
}

// TestResourceIDsRepeatsAndBound: ResourceId.N counts each ID once, keeps
// the first order, and names how many distinct IDs came when there are too
// many, however many the request holds (a form holds up to 10,000).
func TestResourceIDsRepeatsAndBound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		given   []string
		want    int    // IDs kept
		wantErr string // in the message
	}{
		{"limit with repeats", manyIDs(MaxTagResourceIDs, 5000), MaxTagResourceIDs, ""},
		{"one over", manyIDs(MaxTagResourceIDs+1, 0), 0, fmt.Sprintf("; %d were given", MaxTagResourceIDs+1)},
		{"a full form", manyIDs(10000, 0), 0, "; 10000 were given"},
		{"a full form of repeats", manyIDs(3, 9997), 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, err := resourceIDs(tc.given, true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(ecserr.As(err).Message, tc.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tc.want || !slices.Equal(ids, tc.given[:tc.want]) {
				t.Errorf("kept %d IDs, want the first %d in order", len(ids), tc.want)
			}
		})
	}
}

// BenchmarkResourceIDs: a form of 10,000 ResourceId.N costs about 100
// times one of 100 (their ratio), not 10,000 times: the repeats are found
// in a set, not by a scan of those kept for each.
func BenchmarkResourceIDs(b *testing.B) {
	for _, n := range []int{100, 10000} {
		ids := manyIDs(n, 0)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				resourceIDs(ids, true)
			}
		})
	}
}

func prefixEntries(n, dupAt int) []PrefixEntryInput {
	out := make([]PrefixEntryInput, n)
	for i := range out {
		out[i] = PrefixEntryInput{Cidr: fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}
	}
	if dupAt > 0 {
		out[dupAt] = out[0]
	}
	return out
}

// TestPrefixListEntriesPerCall: Entry.N, AddEntry.N and RemoveEntry.N take
// at most MaxPrefixListEntries entries a call, as ECS documents, refused
// before any is parsed or compared with the others (each is compared with
// those before it: a form of 9,000 cost a ModifyPrefixList 0.4 s of CPU
// in its write transaction). Up to the bound they are taken as before.
func TestPrefixListEntriesPerCall(t *testing.T) {
	e := newEnv(t)
	most := model.MaxPrefixListEntries
	pl, err := e.s.CreatePrefixList(e.ctx, CreatePrefixListInput{Caller: e.c, Name: "office", AddressFamily: "IPv4", MaxEntries: &most})
	wantCode(t, err, "")
	removes := func(n int) []string {
		var out []string
		for _, en := range prefixEntries(n, 0) {
			out = append(out, en.Cidr)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		do   func() error
		code string
	}{
		{"create, too many", func() error {
			_, err := e.s.CreatePrefixList(e.ctx, CreatePrefixListInput{Caller: e.c, Name: "big", AddressFamily: "IPv4", MaxEntries: &most, Entries: prefixEntries(most+1, 0)})
			return err
		}, "InvalidParameter.Entry"},
		{"create, a full form", func() error {
			_, err := e.s.CreatePrefixList(e.ctx, CreatePrefixListInput{Caller: e.c, Name: "big", AddressFamily: "IPv4", MaxEntries: &most, Entries: prefixEntries(9000, 8999)})
			return err
		}, "InvalidParameter.Entry"},
		{"create, a repeat within the bound", func() error {
			_, err := e.s.CreatePrefixList(e.ctx, CreatePrefixListInput{Caller: e.c, Name: "rep", AddressFamily: "IPv4", MaxEntries: &most, Entries: prefixEntries(most, most-1)})
			return err
		}, model.CodePrefixListDuplicate},
		{"modify, too many added", func() error {
			return e.s.ModifyPrefixList(e.ctx, ModifyPrefixListInput{Caller: e.c, PrefixListID: pl.PrefixListId, AddEntries: prefixEntries(9000, 0)})
		}, "InvalidParameter.AddEntry"},
		{"modify, too many removed", func() error {
			return e.s.ModifyPrefixList(e.ctx, ModifyPrefixListInput{Caller: e.c, PrefixListID: pl.PrefixListId, RemoveEntries: removes(most + 1)})
		}, "InvalidParameter.RemoveEntry"},
		{"modify, as many as fit", func() error {
			return e.s.ModifyPrefixList(e.ctx, ModifyPrefixListInput{Caller: e.c, PrefixListID: pl.PrefixListId, AddEntries: prefixEntries(most, 0)})
		}, ""},
		{"modify, all removed", func() error {
			return e.s.ModifyPrefixList(e.ctx, ModifyPrefixListInput{Caller: e.c, PrefixListID: pl.PrefixListId, RemoveEntries: removes(most)})
		}, ""},
		{"create, as many as fit", func() error {
			_, err := e.s.CreatePrefixList(e.ctx, CreatePrefixListInput{Caller: e.c, Name: "full", AddressFamily: "IPv4", MaxEntries: &most, Entries: prefixEntries(most, 0)})
			return err
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.do(), tc.code) })
	}
}
