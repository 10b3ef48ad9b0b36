package flowlog

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Resolver gives the collector what it needs to fill records in.
type Resolver struct {
	// Entries names the entry IDs the kernel reports.
	Entries *Entries
	// Interface returns the instance interface that owns an address, on
	// the side that entry decided (which tells apart NICs that share it).
	Interface func(a netip.Addr, entry nft.Entry) (Interface, bool)
}

// tuple is a connection's original direction.
type tuple struct {
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
}

// conn is a labelled connection the window follows.
type conn struct {
	t               tuple
	egress, ingress nft.EntryID
	start           time.Time // of its traffic not yet reported: its own, or the window's
	packets, bytes  uint64    // counted so far (reported in earlier windows)
	seenP, seenB    uint64    // counted by the kernel at the last look
	gone            bool
	reported        bool
	missed          bool // not in the kernel's table at the last window's end
}

// aggregator holds one window's records and the connections it follows. It
// is safe for concurrent use.
type aggregator struct {
	mu      sync.Mutex
	res     Resolver
	max     int
	recs    map[key]*Record
	conns   map[uint32]*conn
	skipped bool // this window lost something
	stats   Stats
}

func newAggregator(res Resolver, max int) *aggregator {
	return &aggregator{res: res, max: max, recs: map[key]*Record{}, conns: map[uint32]*conn{}}
}

// event takes one conntrack event: a new connection is followed, the
// counters of a followed one recorded.
func (a *aggregator) event(ev *ctEvent, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.Events++
	if !ev.destroy {
		a.connNewLocked(ev.id, ev.t, ev.label, now)
	}
	a.connCountLocked(ev.id, ev.packets, ev.bytes, ev.destroy)
}

// connNew follows a new connection whose label names its deciding entries.
func (a *aggregator) connNew(id uint32, t tuple, label []byte, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.connNewLocked(id, t, label, now)
}

func (a *aggregator) connNewLocked(id uint32, t tuple, label []byte, now time.Time) {
	eg, in := nft.LabelIDs(label)
	if eg == 0 && in == 0 {
		return // not decided by an instance chain (or flow logging off)
	}
	a.stats.Connections++
	if len(a.conns) >= a.max {
		a.stats.Skipped++
		a.skipped = true
		return
	}
	a.conns[id] = &conn{t: t, egress: eg, ingress: in, start: now}
}

// connCount records the kernel's counters of a followed connection (orig
// plus reply); gone marks it destroyed.
func (a *aggregator) connCount(id uint32, packets, bytes uint64, gone bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.connCountLocked(id, packets, bytes, gone)
}

func (a *aggregator) connCountLocked(id uint32, packets, bytes uint64, gone bool) {
	c, ok := a.conns[id]
	if !ok {
		return
	}
	c.seenP, c.seenB = max(c.seenP, packets), max(c.seenB, bytes)
	c.gone = c.gone || gone
}

// sweep takes, at a window's end, the IDs of the connections the kernel's
// table holds: a followed connection missing at two ends in a row is gone
// (its destroy event was lost), and flush forgets it after reporting what
// was counted. One miss is not enough: the destroy event, with the last
// counts, may still wait in the socket.
func (a *aggregator) sweep(live map[uint32]bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, c := range a.conns {
		switch {
		case live[id]:
			c.missed = false
		case c.missed:
			c.gone = true
		default:
			c.missed = true
		}
	}
}

// drop records one logged packet that entry dropped; egress32 is the first
// 32 bits of the egress side's entry when an ingress entry dropped a packet
// the egress side of the same host had accepted (0: none).
func (a *aggregator) drop(entry nft.EntryID, t tuple, size int, flags uint8, egress32 uint32, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.Drops++
	e, ok := a.res.Entries.Lookup(entry)
	if !ok {
		a.stats.Unknown++
		return
	}
	a.add(e.Side, t, Reject, entry, e, 1, uint64(size), flags, now, now)
	if e.Side == model.Ingress {
		// The egress side of the same host passed it on before.
		if egress32 != 0 {
			eg, ok := a.res.Entries.lookup32(egress32)
			ee, found := a.res.Entries.Lookup(eg)
			if !ok || !found {
				a.stats.Unknown++
				return
			}
			a.add(model.Egress, t, Accept, eg, ee, 1, uint64(size), flags, now, now)
		}
	}
}

// add adds traffic to the record of one side; a.mu is held.
func (a *aggregator) add(side model.Direction, t tuple, action string, id nft.EntryID, e nft.Entry, packets, bytes uint64, flags uint8, start, end time.Time) {
	k := key{side: side, src: t.src, dst: t.dst, sport: t.sport, dport: t.dport, proto: t.proto, action: action, entry: id}
	r, ok := a.recs[k]
	if !ok {
		owner, dir := t.src, "out"
		if side == model.Ingress {
			owner, dir = t.dst, "in"
		}
		ifc, found := a.res.Interface(owner, e)
		if !found {
			a.stats.Unknown++
			return
		}
		if len(a.recs) >= a.max {
			a.stats.Skipped++
			a.skipped = true
			return
		}
		r = &Record{Version: 1, Interface: ifc, Src: t.src, Dst: t.dst, SrcPort: t.sport, DstPort: t.dport,
			Protocol: t.proto, Direction: dir, Action: action, EntryID: id, Entry: e, Start: start}
		a.recs[k] = r
	}
	r.Packets += packets
	r.Bytes += bytes
	r.TCPFlags |= flags
	if start.Before(r.Start) {
		r.Start = start
	}
	if end.After(r.End) {
		r.End = end
	}
}

// flush ends the window at now: the followed connections' traffic since the
// last window becomes records, and the window's records are returned
// (sorted) and forgotten. last says no window follows (the collector
// stops).
//
// A connection the kernel's table no longer held at this window's end
// (sweep) but whose destroy event has not come yet waits for the next
// window, from its start in this one: the kernel reaps an expired
// connection lazily, and the dump at the window's end evicts it, sending
// its destroy event (with its counts) while the window ends. Reported now,
// it would give a record of 0 packets and the next window one with all of
// them; the last window reports it with what it has.
func (a *aggregator) flush(now time.Time, last bool) []Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, c := range a.conns {
		if c.missed && !c.gone && !last {
			continue
		}
		dp, db := c.seenP-min(c.seenP, c.packets), c.seenB-min(c.seenB, c.bytes)
		if dp > 0 || !c.reported {
			for _, side := range []struct {
				dir model.Direction
				id  nft.EntryID
			}{{model.Egress, c.egress}, {model.Ingress, c.ingress}} {
				if side.id == 0 {
					continue
				}
				e, ok := a.res.Entries.Lookup(side.id)
				if !ok {
					a.stats.Unknown++
					continue
				}
				a.add(side.dir, c.t, Accept, side.id, e, dp, db, 0, c.start, now)
			}
			c.packets, c.bytes, c.reported = c.seenP, c.seenB, true
		}
		// What it counts from now on is the next window's, which starts here.
		c.start = now
		if c.gone {
			delete(a.conns, id)
		}
	}
	out := make([]Record, 0, len(a.recs))
	for _, r := range a.recs {
		r.LogStatus = StatusOK
		if a.skipped {
			r.LogStatus = StatusSkip
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y Record) int {
		if c := x.Start.Compare(y.Start); c != 0 {
			return c
		}
		if c := x.Src.Compare(y.Src); c != 0 {
			return c
		}
		if c := x.Dst.Compare(y.Dst); c != 0 {
			return c
		}
		return int(x.DstPort) - int(y.DstPort)
	})
	clear(a.recs)
	a.skipped = false
	return out
}

func (a *aggregator) statsNow() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}
