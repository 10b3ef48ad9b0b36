package service

import (
	"slices"
	"strconv"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
)

// TestDescribeFlowRecordsPart: a server's part of a merged listing pages
// by position, newest first, so records appended between pages neither
// repeat a record nor skip one (an offset would repeat); another account
// and the port filter are applied at every position; a position is
// past the last record of the page before.
func TestDescribeFlowRecordsPart(t *testing.T) {
	for _, size := range []int{1, 2, 3, 10} {
		e := newEnv(t)
		now := e.s.Now().Unix()
		rec := func(port int, account string) FlowRecord {
			return FlowRecord{AccountId: account, RegionId: e.c.Region, EniId: "eni-x", SrcAddr: "10.0.0.1", SrcPort: port, DstAddr: "10.0.0.2",
				DstPort: 22, Protocol: 6, Direction: "in", Start: now, End: now, Action: "ACCEPT", LogStatus: "OK", Reason: "rule"}
		}
		add := func(ports ...int) {
			var recs []FlowRecord
			for _, p := range ports {
				recs = append(recs, rec(p, e.c.Account), rec(p, "1000000000000009")) // a stranger's beside each
			}
			if err := e.s.FlowRecords().Append(recs, e.s.Now()); err != nil {
				t.Fatal(err)
			}
		}
		add(1, 2, 3, 4, 5)
		var got []int
		after := ""
		for page := 0; ; page++ {
			part, err := e.s.DescribeFlowRecordsPart(e.ctx, FlowRecordFilter{Caller: e.c}, after, size)
			wantCode(t, err, "")
			if len(part.Items) > size || len(part.Cursors) != len(part.Items) {
				t.Fatalf("size %d page %d: %d items, %d positions", size, page, len(part.Items), len(part.Cursors))
			}
			for _, r := range part.Items {
				got = append(got, r.SrcPort)
			}
			if page == 0 {
				add(6, 7) // newer than every page still to come
			}
			if !part.More {
				break
			}
			after = part.Cursors[len(part.Cursors)-1]
		}
		want := []int{5, 4, 3, 2, 1}
		if !slices.Equal(got, want) {
			t.Errorf("size %d: pages list ports %v, want %v", size, got, want)
		}
		// The port filter, from the newest.
		part, err := e.s.DescribeFlowRecordsPart(e.ctx, FlowRecordFilter{Caller: e.c, Port: 6}, "", size)
		wantCode(t, err, "")
		if len(part.Items) != 1 || part.Items[0].SrcPort != 6 || part.Total != 1 || part.More {
			t.Errorf("size %d, port 6: %+v", size, part)
		}
	}
}

// TestFlowRecordPositionsSealed: a position handed to a tenant tells it
// nothing of other tenants' records (the store numbers every account's
// records in one sequence) and is refused when made up, changed, or
// handed to another account.
func TestFlowRecordPositionsSealed(t *testing.T) {
	e := newEnv(t)
	now := e.s.Now().Unix()
	const stranger = "1000000000000009"
	var recs []FlowRecord
	for i, account := range []string{e.c.Account, stranger, stranger, stranger, e.c.Account} {
		recs = append(recs, FlowRecord{AccountId: account, RegionId: e.c.Region, EniId: "eni-x", SrcAddr: "10.0.0.1", SrcPort: 1000 + i,
			DstAddr: "10.0.0.2", DstPort: 22, Protocol: 6, Direction: "in", Start: now, End: now, Action: "ACCEPT", LogStatus: "OK", Reason: "rule"})
	}
	if err := e.s.FlowRecords().Append(recs, e.s.Now()); err != nil {
		t.Fatal(err)
	}
	part, err := e.s.DescribeFlowRecordsPart(e.ctx, FlowRecordFilter{Caller: e.c}, "", 1)
	wantCode(t, err, "")
	if len(part.Cursors) != 1 || !part.More {
		t.Fatalf("first page: %+v", part)
	}
	c := part.Cursors[0]
	if _, err := strconv.ParseUint(c, 10, 64); err == nil || !flowstore.CursorText(c) {
		t.Errorf("position %q: want sealed text", c)
	}
	next, err := e.s.DescribeFlowRecordsPart(e.ctx, FlowRecordFilter{Caller: e.c}, c, 1)
	wantCode(t, err, "")
	if len(next.Items) != 1 || next.Items[0].SrcPort != 1000 {
		t.Errorf("after the first page: %+v", next.Items)
	}
	other := e.c
	other.Account = stranger
	flipped := []byte(c)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct {
		name   string
		caller Caller
		after  string
	}{
		{"a number", e.c, "5"},
		{"another account's", other, c},
		{"changed", e.c, string(flipped)},
		{"too long", e.c, c + "AAAAAAAAAAAAAAAA"}, // valid base64 past the bound
	} {
		_, err := e.s.DescribeFlowRecordsPart(e.ctx, FlowRecordFilter{Caller: tc.caller}, tc.after, 1)
		wantCode(t, err, "InvalidNextToken.Malformed")
	}
}
