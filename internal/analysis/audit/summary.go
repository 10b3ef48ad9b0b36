package audit

import (
	"slices"
	"sync"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// A summary is what the checks read of one built space, taken while the
// space lives, so that the space (its tables, most of a big audit's
// memory) can be dropped: the standings pass builds, summarises and drops
// each pooled policy's space on a worker's scratch memory instead of
// holding some ten thousand of them.
type summary struct {
	prog *policy.Program
	pos  int     // in the standings pass's order
	ids  []int32 // the program's rules, as indexes of the cloud's rules (the standings pass's)

	// The rules' standings (spaces of every source port only).
	status   []standing
	takeover lists // for a redundant rule, who would decide without it
	blockers lists // for a shadowed rule, who hides it, largest share first
	corr     []space.Correlation

	// views[f] is what an address of the internet at large meets in
	// family f from any source port (ingress spaces only).
	views [2]*view
	// packets decides IPv4 TCP packets on the default source port, to the
	// data-tier ports (intranet spaces only).
	packets *packets
}

// view is what one family of a space lets in from the internet (see
// viewOf).
type view struct {
	anon  iprange.Key // an address no rule names but through the whole family, if ok
	ok    bool        // false: rules name every address
	open  []opening   // what the internet may open, from any source port
	drops []int       // the drop rules whose peer stands for anon, in order
}

// tierPorts are the indexes in riskyPorts of the data-tier ports SGA-013
// asks about.
var tierPorts = func() (out []int) {
	for i, rp := range riskyPorts {
		if rp.check == "SGA-004" {
			out = append(out, i)
		}
	}
	return out
}()

// packets is a space cut down to the IPv4 TCP packets on the default
// source port to the data-tier ports: tables[t] is the address table of
// port riskyPorts[tierPorts[t]] (copied: a table shares its space's
// memory; ports that share a table share its copy).
type packets struct {
	prog   *policy.Program
	tables []*addrTable
}

// addrTable is an IPv4 address table: piece k starts at starts[k] (an
// IPv4 key's low 32 bits, a quarter of a key's memory).
type addrTable struct {
	starts []uint32
	by     []space.Decider
}

// packetsOf cuts a space down to its packets (its IPv4 TCP tables must
// be built). The copies share two arrays, gathered on a pooled buffer
// and copied out at their size: a big audit copies some fifty thousand
// tables, and reading a lazy table's pieces is most of a copy.
func packetsOf(s *space.Space) *packets {
	pk := &packets{prog: s.Program, tables: make([]*addrTable, len(tierPorts))}
	pt := s.Parts[s.PartOf(policy.DefaultSourcePort)].Tables[0][space.TCP]
	buf := runBufs.Get().(*runBuf)
	defer runBufs.Put(buf)
	starts, by := buf.starts[:0], buf.by[:0]
	var fromBuf [32]*space.AddrTable
	from := append(fromBuf[:0], make([]*space.AddrTable, len(tierPorts))...) // the table each copy is made from
	var atBuf [33]int32
	at := append(atBuf[:0], make([]int32, len(tierPorts)+1)...) // table t's runs, if it is the first made from from[t]: at[t]:at[t+1]
	for t, ri := range tierPorts {
		port := riskyPorts[ri].port
		k, _ := slices.BinarySearch(pt.Starts, port)
		if k == len(pt.Starts) || pt.Starts[k] != port {
			k--
		}
		from[t] = pt.Addrs[k]
		if slices.Index(from[:t], from[t]) < 0 {
			from[t].EachRun(func(k iprange.Key, d space.Decider) {
				starts, by = append(starts, uint32(k.Lo)), append(by, d)
			})
		}
		at[t+1] = int32(len(starts))
	}
	buf.starts, buf.by = starts, by
	starts, by = slices.Clone(starts), slices.Clone(by)
	for t := range tierPorts {
		if u := slices.Index(from[:t], from[t]); u >= 0 {
			pk.tables[t] = pk.tables[u]
			continue
		}
		lo, hi := at[t], at[t+1]
		pk.tables[t] = &addrTable{starts: starts[lo:hi:hi], by: by[lo:hi:hi]}
	}
	return pk
}

// runBuf is packetsOf's buffer.
type runBuf struct {
	starts []uint32
	by     []space.Decider
}

var runBufs = sync.Pool{New: func() any { return new(runBuf) }}

// decide returns the decider of a packet to data-tier port
// riskyPorts[tierPorts[t]] from an IPv4 address.
func (p *packets) decide(t int, remote iprange.Key) space.Decider {
	c := p.tables[t]
	// The last piece starting at or before the address (the first starts
	// at 0.0.0.0).
	k, found := slices.BinarySearch(c.starts, uint32(remote.Lo))
	if !found {
		k--
	}
	return c.by[k]
}

// decideMemo is packets.decide for one packets and one address,
// remembered by table: the data-tier ports share a few tables.
type decideMemo struct {
	tables [8]*addrTable
	by     [8]space.Decider
	n      int
}

func (m *decideMemo) decide(p *packets, t int, remote iprange.Key) space.Decider {
	tb := p.tables[t]
	for i := range m.n {
		if m.tables[i] == tb {
			return m.by[i]
		}
	}
	d := p.decide(t, remote)
	if m.n < len(m.tables) {
		m.tables[m.n], m.by[m.n] = tb, d
		m.n++
	}
	return d
}

// family indexes a family: 0 IPv4, 1 IPv6.
func family(six bool) int {
	if six {
		return 1
	}
	return 0
}

// accepts reports whether a decider of a program accepts.
func accepts(p *policy.Program, d space.Decider) bool {
	switch {
	case d >= 0:
		return p.Rules[d].Policy != model.Drop
	case d.Intra() >= 0:
		return true
	}
	return p.Default.Verdict == policy.Accept
}

// standing is a space.Status in a byte: summaries keep one per rule of
// every program, and a byte holds no pointer for the collector to follow.
type standing uint8

const (
	isLive standing = iota
	isShadowed
	isRedundant
	isUnknown // it depends on members the reader may not see
)

func standingOf(st space.Status) standing {
	switch st {
	case space.Shadowed:
		return isShadowed
	case space.Redundant:
		return isRedundant
	case space.Unknown:
		return isUnknown
	}
	return isLive
}

// lists holds a list of deciders for some rules of a program in one
// array, rule i's at by[at[i]:at[i+1]] (no rule has one when at is nil):
// a slice per rule cost a big audit some 30 MB of pointers for the
// collector, most of them nil.
type lists struct {
	at []int32
	by []space.Decider
}

// of returns rule i's list.
func (l *lists) of(i int) []space.Decider {
	if l.at == nil {
		return nil
	}
	return l.by[l.at[i]:l.at[i+1]]
}

// open makes room for the lists of a program of n rules.
func (l *lists) open(n int) {
	if l.at == nil {
		l.at = make([]int32, n+1)
	}
}

// end ends rule i's list: the deciders added since the end of rule i-1's.
func (l *lists) end(i int) {
	if l.at != nil {
		l.at[i+1] = int32(len(l.by))
	}
}

// standingsOf adds a space's standings to its summary. blockersOf says
// for which rules the blockers are worth finding (nil: all).
func (sm *summary) standingsOf(s *space.Space, blockersOf func(i int) bool) {
	n := len(s.Program.Rules)
	sm.status = make([]standing, n)
	for i := range n {
		st := s.Status(i)
		sm.status[i] = standingOf(st)
		switch {
		case st == space.Redundant:
			sm.takeover.open(n)
			sm.takeover.by = append(sm.takeover.by, s.Rules[i].Takeover...)
		case st == space.Shadowed && (blockersOf == nil || blockersOf(i)):
			sm.blockers.open(n)
			for _, b := range s.Blockers(i) {
				sm.blockers.by = append(sm.blockers.by, b.By)
			}
		}
		sm.takeover.end(i)
		sm.blockers.end(i)
	}
	// Every overlapping pair: testing one costs less than remembering
	// which were tested in other programs.
	sm.corr = s.Correlations()
}

// summarise takes what the checks read of a space built for the
// standings (every source port, both families); the packets only if
// asked (see packetsFor).
func summarise(s *space.Space, dir model.Direction, nic model.NicType, packets bool, blockersOf func(int) bool) *summary {
	sm := &summary{prog: s.Program}
	sm.standingsOf(s, blockersOf)
	if dir == model.Ingress {
		for f := range 2 {
			sm.views[f] = viewOf(s, f == 1)
		}
	}
	if nic == model.Intranet && packets {
		sm.packets = packetsOf(s)
	}
	return sm
}
