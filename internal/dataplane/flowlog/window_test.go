package flowlog

import (
	"net/netip"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

var (
	eAccept = nft.Entry{Side: model.Egress, Reason: policy.DefaultEgressAccept, Verdict: policy.Accept}
	iRule   = nft.Entry{Side: model.Ingress, Reason: policy.ByRule, GroupID: "sg-1", RuleID: "sgr-1", Priority: 1, Policy: model.Accept, Verdict: policy.Accept}
	iDrop   = nft.Entry{Side: model.Ingress, Reason: policy.DefaultIngressDrop, Verdict: policy.Drop}
	addrA   = netip.MustParseAddr("10.0.0.1")
	addrB   = netip.MustParseAddr("10.0.0.2")
)

func testResolver() Resolver {
	t := &Entries{}
	t.Set(map[nft.EntryID]nft.Entry{eAccept.ID(): eAccept, iRule.ID(): iRule, iDrop.ID(): iDrop})
	return Resolver{Entries: t, Interface: func(a netip.Addr, _ nft.Entry) (Interface, bool) {
		switch a {
		case addrA:
			return Interface{VMID: "i-a"}, true
		case addrB:
			return Interface{VMID: "i-b"}, true
		}
		return Interface{}, false
	}}
}

func label(eg, in nft.EntryID) []byte {
	b := nft.Label{ID: eg}.Bytes()
	for i, x := range (nft.Label{ID: in, Ingress: true}).Bytes() {
		b[i] |= x
	}
	return b
}

// A connection of two instances of one host gives one record per side, each
// naming its side's entry, with the counter deltas of each window.
func TestConnectionRecordsPerSide(t *testing.T) {
	a := newAggregator(testResolver(), 10)
	now := time.Unix(1000, 0)
	tu := tuple{src: addrA, dst: addrB, sport: 40000, dport: 80, proto: 6}
	a.connNew(7, tu, label(eAccept.ID(), iRule.ID()), now)
	a.connCount(7, 3, 180, false)
	recs := a.flush(now.Add(time.Second), false)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want one per side: %+v", len(recs), recs)
	}
	got := map[string]Record{}
	for _, r := range recs {
		got[r.VMID+" "+r.Direction] = r
	}
	for k, want := range map[string]nft.Entry{"i-a out": eAccept, "i-b in": iRule} {
		r, ok := got[k]
		if !ok || r.Entry != want || r.Action != Accept || r.Packets != 3 || r.Bytes != 180 || r.LogStatus != StatusOK {
			t.Errorf("%s: got %+v, want entry %+v, 3 packets, 180 bytes", k, r, want)
		}
	}
	// The next window reports only what was counted since; then it is gone.
	a.connCount(7, 5, 300, true)
	recs = a.flush(now.Add(2*time.Second), false)
	if len(recs) != 2 || recs[0].Packets != 2 || recs[0].Bytes != 120 {
		t.Fatalf("second window: %+v, want 2 records of 2 packets, 120 bytes", recs)
	}
	if recs = a.flush(now.Add(3*time.Second), false); len(recs) != 0 {
		t.Fatalf("a destroyed connection reported again: %+v", recs)
	}
}

// A drop at the ingress side of a packet the egress side of the same host
// accepted gives a REJECT record in and an ACCEPT record out.
func TestDropRecords(t *testing.T) {
	a := newAggregator(testResolver(), 10)
	now := time.Unix(1000, 0)
	tu := tuple{src: addrA, dst: addrB, sport: 40000, dport: 23, proto: 6}
	a.drop(iDrop.ID(), tu, 60, 0x02, uint32(eAccept.ID()>>32), now)
	a.drop(iDrop.ID(), tu, 60, 0x02, uint32(eAccept.ID()>>32), now.Add(time.Millisecond))
	recs := a.flush(now.Add(time.Second), false)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2: %+v", len(recs), recs)
	}
	for _, r := range recs {
		want, action := iDrop, Reject
		if r.Direction == "out" {
			want, action = eAccept, Accept
		}
		if r.Entry != want || r.Action != action || r.Packets != 2 || r.Bytes != 120 || r.TCPFlags != 0x02 {
			t.Errorf("%s: got %+v, want %s by %+v, 2 packets, SYN", r.Direction, r, action, want)
		}
	}
}

// Past MaxFlows, records are not kept but counted, and the window's records
// say SKIPDATA; memory stays bounded.
func TestBoundedWindow(t *testing.T) {
	a := newAggregator(testResolver(), 3)
	now := time.Unix(1000, 0)
	for port := range uint16(10) {
		a.drop(iDrop.ID(), tuple{src: addrA, dst: addrB, sport: 40000, dport: port, proto: 6}, 60, 0, 0, now)
	}
	recs := a.flush(now.Add(time.Second), false)
	if len(recs) != 3 {
		t.Fatalf("kept %d records, want the bound of 3", len(recs))
	}
	for _, r := range recs {
		if r.LogStatus != StatusSkip {
			t.Errorf("record %+v: log-status %s, want %s", r, r.LogStatus, StatusSkip)
		}
	}
	if s := a.statsNow(); s.Skipped != 7 {
		t.Errorf("skipped %d, want 7", s.Skipped)
	}
	a.drop(iDrop.ID(), tuple{src: addrA, dst: addrB, proto: 6}, 60, 0, 0, now)
	if recs := a.flush(now.Add(2*time.Second), false); len(recs) != 1 || recs[0].LogStatus != StatusOK {
		t.Errorf("the next window: %+v, want one OK record", recs)
	}
}

func TestParsePacket(t *testing.T) {
	v4 := []byte{0x45, 0, 0, 60, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x9c, 0x40, 0, 23, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02}
	v6 := make([]byte, 40+20)
	v6[0], v6[5], v6[6] = 0x60, 20, 17
	v6[8], v6[24] = 0xfd, 0xfd
	v6[23], v6[39] = 1, 2
	v6[42], v6[43] = 0x14, 0xe9 // port 5353
	for _, tc := range []struct {
		name  string
		p     []byte
		want  tuple
		flags uint8
		size  int
		ok    bool
	}{
		{"tcp4 syn", v4, tuple{src: addrA, dst: addrB, sport: 40000, dport: 23, proto: 6}, 0x02, 60, true},
		{"udp6", v6, tuple{src: netip.MustParseAddr("fd00::1"), dst: netip.MustParseAddr("fd00::2"), dport: 5353, proto: 17}, 0, 60, true},
		{"short", v4[:10], tuple{}, 0, 0, false},
		{"bad ihl", append([]byte{0x41}, v4[1:]...), tuple{}, 0, 0, false},
	} {
		got, flags, ok := parsePacket(tc.p)
		if ok != tc.ok || (ok && (got != tc.want || flags != tc.flags || packetLen(tc.p) != tc.size)) {
			t.Errorf("%s: got %+v flags %#x len %d ok %v, want %+v %#x %d %v", tc.name, got, flags, packetLen(tc.p), ok, tc.want, tc.flags, tc.size, tc.ok)
		}
	}
}

// A connection whose destroy event was lost (the event socket overflowed)
// is forgotten once the kernel's table has not held it at two window ends
// in a row: followed forever, such connections would fill MaxFlows and no
// new connection would be recorded again. One miss is not enough: the
// destroy event, with the last counts, may still be in the socket.
func TestLostDestroyEvent(t *testing.T) {
	tu := tuple{src: addrA, dst: addrB, sport: 40000, dport: 80, proto: 6}
	for _, tc := range []struct {
		name string
		ends [][]uint32 // the connections the kernel holds at each window's end
		next bool       // a new connection is recorded after them
	}{
		{"still in the kernel's table", [][]uint32{{6, 7}, {6, 7}, {6, 7}}, false},
		{"missing at one end", [][]uint32{{6, 7}, {}, {6, 7}}, false},
		{"missing at two ends in a row", [][]uint32{{6, 7}, {}, {}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAggregator(testResolver(), 2) // room for two connections, or one's two records
			now := time.Unix(1000, 0)
			for _, id := range []uint32{6, 7} {
				c := tu
				c.sport += uint16(id)
				a.connNew(id, c, label(eAccept.ID(), iRule.ID()), now)
			}
			for i, live := range tc.ends {
				m := map[uint32]bool{}
				for _, id := range live {
					m[id] = true
					a.connCount(id, 1, 60, false)
				}
				a.sweep(m)
				a.flush(now.Add(time.Duration(i+1)*time.Second), false)
			}
			next := tu
			next.sport += 8
			a.connNew(8, next, label(eAccept.ID(), iRule.ID()), now.Add(time.Minute))
			recs := a.flush(now.Add(2*time.Minute), false)
			recorded := len(recs) == 2 && recs[0].SrcPort == next.sport && recs[0].LogStatus == StatusOK
			if recorded != tc.next {
				t.Errorf("a new connection recorded: %v, want %v (records %+v, stats %+v)", recorded, tc.next, recs, a.statsNow())
			}
		})
	}
}

// A connection lasting several windows gives each window a record that
// starts inside it: at the connection's start in its first window, at the
// window's start (the last window's end) after.
func TestLongConnectionRecordsStartInTheirWindow(t *testing.T) {
	a := newAggregator(testResolver(), 10)
	start := time.Unix(1000, 0)
	end := func(n int) time.Time { return start.Add(time.Duration(n) * time.Minute) }
	a.connNew(7, tuple{src: addrA, dst: addrB, sport: 40000, dport: 80, proto: 6}, label(eAccept.ID(), iRule.ID()), start.Add(time.Second))
	for _, tc := range []struct {
		window    int    // ends at end(window)
		packets   uint64 // counted by the kernel so far
		wantStart time.Time
		records   int
	}{
		{1, 3, start.Add(time.Second), 2},
		{2, 3, time.Time{}, 0}, // no traffic: no record
		{3, 5, end(2), 2},
	} {
		a.connCount(7, tc.packets, 60*tc.packets, false)
		recs := a.flush(end(tc.window), false)
		if len(recs) != tc.records {
			t.Fatalf("window %d: %d records, want %d: %+v", tc.window, len(recs), tc.records, recs)
		}
		for _, r := range recs {
			if !r.Start.Equal(tc.wantStart) || !r.End.Equal(end(tc.window)) {
				t.Errorf("window %d: record %s from %v to %v, want from %v to %v", tc.window, r.Direction, r.Start, r.End, tc.wantStart, end(tc.window))
			}
		}
	}
}

// A connection that ended shortly before a window's end is gone from the
// kernel's table at that end (the dump evicts what expired), while its
// destroy event, with its counts, comes just after: the window leaves it
// to the next, which reports all its traffic from its start, rather than a
// record of 0 packets now and the traffic in the next. The collector's
// last window reports it with what it has.
func TestConnectionEndedAtWindowEnd(t *testing.T) {
	tu := tuple{src: addrA, dst: addrB, sport: 40000, dport: 80, proto: 6}
	start := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		last bool // the first window is the collector's last
	}{
		{"destroy event after the window's end", false},
		{"the collector's last window", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAggregator(testResolver(), 10)
			a.connNew(7, tu, label(eAccept.ID(), iRule.ID()), start)
			a.sweep(map[uint32]bool{}) // the dump at the window's end
			recs := a.flush(start.Add(time.Minute), tc.last)
			if tc.last {
				if len(recs) != 2 {
					t.Fatalf("the last window: %d records, want one per side: %+v", len(recs), recs)
				}
				return
			}
			if len(recs) != 0 {
				t.Fatalf("first window: %+v, want no record before the connection's counts came", recs)
			}
			a.connCount(7, 4, 224, true) // the destroy event
			recs = a.flush(start.Add(2*time.Minute), false)
			if len(recs) != 2 {
				t.Fatalf("second window: %d records, want one per side: %+v", len(recs), recs)
			}
			for _, r := range recs {
				if r.Packets != 4 || r.Bytes != 224 || !r.Start.Equal(start) {
					t.Errorf("%s: %d packets, %d bytes from %v, want 4, 224 from the connection's start %v", r.Direction, r.Packets, r.Bytes, r.Start, start)
				}
			}
		})
	}
}
