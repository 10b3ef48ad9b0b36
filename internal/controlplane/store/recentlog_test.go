package store

import (
	"fmt"
	"testing"
)

func batch(revs ...int64) []Written {
	var out []Written
	for _, r := range revs {
		out = append(out, Written{Change: Change{Revision: r, Kind: "k", ID: fmt.Sprint(r)}})
	}
	return out
}

func TestRecentLog(t *testing.T) {
	var l RecentLog
	if _, ok := l.Since(0); ok {
		t.Fatal("an empty log claims to know revision 0")
	}
	l.Reset(10)
	if ws, ok := l.Since(10); !ok || len(ws) != 0 {
		t.Fatalf("Since(10) after Reset(10) = %v, %v", ws, ok)
	}
	if l.Append(10, 12, batch(11, 12, 12)) {
		t.Fatal("a batch that follows restarted the log")
	}
	for _, tc := range []struct {
		after int64
		n     int
		ok    bool
	}{{9, 0, false}, {10, 3, true}, {11, 2, true}, {12, 0, true}, {13, 0, false}} {
		if ws, ok := l.Since(tc.after); ok != tc.ok || len(ws) != tc.n {
			t.Errorf("Since(%d) = %d changes, %v; want %d, %v", tc.after, len(ws), ok, tc.n, tc.ok)
		}
	}
	// Another process committed 13: the log restarts at 13.
	if !l.Append(13, 14, batch(14)) {
		t.Fatal("a batch after a gap did not restart the log")
	}
	if _, ok := l.Since(12); ok {
		t.Error("the restarted log still answers for revision 12")
	}
	// Beyond the limit the oldest whole revisions go.
	var big []Written
	for r := int64(15); r < 15+RecentLimit; r++ {
		big = append(big, batch(r, r)...)
	}
	l.Append(14, 14+RecentLimit, big)
	ws, ok := l.Since(l.From)
	if !ok || len(ws) > RecentLimit || ws[0].Revision != l.From+1 {
		t.Fatalf("after trimming: From %d, %d changes from revision %d", l.From, len(ws), ws[0].Revision)
	}
	if _, ok := l.Since(l.From - 1); ok {
		t.Error("the trimmed log answers for a revision it dropped")
	}
}
