package service

import (
	"slices"
	"testing"
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
		below := uint64(0)
		for page := 0; ; page++ {
			part, err := e.s.DescribeFlowRecordsPart(e.ctx, FlowRecordFilter{Caller: e.c}, below, size)
			wantCode(t, err, "")
			if len(part.Items) > size || len(part.Pos) != len(part.Items) {
				t.Fatalf("size %d page %d: %d items, %d positions", size, page, len(part.Items), len(part.Pos))
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
			below = part.Pos[len(part.Pos)-1]
		}
		want := []int{5, 4, 3, 2, 1}
		if !slices.Equal(got, want) {
			t.Errorf("size %d: pages list ports %v, want %v", size, got, want)
		}
		// The port filter, from the newest.
		part, err := e.s.DescribeFlowRecordsPart(e.ctx, FlowRecordFilter{Caller: e.c, Port: 6}, 0, size)
		wantCode(t, err, "")
		if len(part.Items) != 1 || part.Items[0].SrcPort != 6 || part.Total != 1 || part.More {
			t.Errorf("size %d, port 6: %+v", size, part)
		}
	}
}
