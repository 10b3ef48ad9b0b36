package space

import (
	"cmp"
	"slices"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// PartOf returns the index of the part holding a source port, or -1 when the
// space was built for another source port.
func (s *Space) PartOf(sport uint16) int {
	for i, p := range s.Parts {
		if p.SourcePorts.Contains(sport) {
			return i
		}
	}
	return -1
}

// Decide returns the decider of one packet: family (IPv6 or not), protocol
// slot, source and destination port (ignored for protocols without ports)
// and remote address. ok is false when the space does not cover the source
// port or the family.
func (s *Space) Decide(six bool, p Proto, sport, dport uint16, remote iprange.Key) (d Decider, ok bool) {
	if !p.Ports() {
		sport, dport = s.Parts[0].SourcePorts.Lo, 0
	}
	pi := s.PartOf(sport)
	if pi < 0 {
		return Default, false
	}
	pt := s.Parts[pi].Tables[family(six)][p]
	if pt == nil {
		return Default, false
	}
	return pt.Addrs[searchPort(pt.Starts, dport)].decide(remote), true
}

// Decision returns a decider as the evaluators report it.
func (s *Space) Decision(d Decider) policy.Decision {
	switch {
	case d >= 0:
		return s.Program.Rules[d].Decision()
	case d.Intra() >= 0:
		return policy.Decision{Verdict: policy.Accept, Reason: policy.IntraGroup, Group: s.Program.Intra[d.Intra()]}
	}
	return s.Program.Default
}

// Accepts reports whether a decider accepts.
func (s *Space) Accepts(d Decider) bool {
	switch {
	case d >= 0:
		return s.rules[d].accept
	case d.Intra() >= 0:
		return true
	}
	return s.Program.Default.Verdict == policy.Accept
}

// Segment is a run of destination ports of one protocol decided alike.
type Segment struct {
	Proto  Proto
	Ports  PortRange
	By     Decider
	Accept bool // the decider's verdict
}

// Column returns, for one remote address, the decider along every protocol
// and destination-port interval of a part: what that address meets.
func (s *Space) Column(part int, six bool, remote iprange.Key) []Segment {
	var out []Segment
	for p := range NProto {
		pt := s.Parts[part].Tables[family(six)][p]
		if pt == nil {
			continue
		}
		for k, at := range pt.Addrs {
			d := at.decide(remote)
			lo, hi := portBounds(pt, k)
			if n := len(out); n > 0 && out[n-1].Proto == p && out[n-1].By == d {
				out[n-1].Ports.Hi = hi
				continue
			}
			out = append(out, Segment{p, PortRange{lo, hi}, d, s.Accepts(d)})
		}
	}
	return out
}

func portBounds(pt *PortTable, k int) (lo, hi uint16) {
	lo, hi = pt.Starts[k], 65535
	if k+1 < len(pt.Starts) {
		hi = pt.Starts[k+1] - 1
	}
	return lo, hi
}

// Cell is a box of the packet space decided by one entry.
type Cell struct {
	SourcePorts PortRange
	IPv6        bool
	Proto       Proto
	Ports       PortRange     // destination ports; 0-65535 for protocols without ports
	Addrs       iprange.Range // remote addresses
	By          Decider
}

// Walk calls fn for every cell of the partition.
func (s *Space) Walk(fn func(Cell)) {
	for _, part := range s.Parts {
		for f := range 2 {
			last := iprange.Last(f == 1)
			for p := range NProto {
				pt := part.Tables[f][p]
				if pt == nil {
					continue
				}
				for k, at := range pt.Addrs {
					lo, hi := portBounds(pt, k)
					at.ready()
					for j := range at.Len() {
						start, end := at.Start(j), last
						if j+1 < at.Len() {
							end = at.Start(j + 1).Prev()
						}
						fn(Cell{part.SourcePorts, f == 1, p, PortRange{lo, hi}, iprange.New(start, end, f == 1), at.By[j]})
					}
				}
			}
		}
	}
}

// Blocker is an entry that decides part of a rule's match space, with the
// size of that part (source ports × destination ports × addresses).
type Blocker struct {
	By     Decider
	Volume float64
}

// Blockers returns the entries that decide within rule i's match space,
// largest share first. For a shadowed rule they are the entries that hide
// it (none if the rule can match nothing at all).
func (s *Space) Blockers(i int) []Blocker {
	if s.via != nil && s.via[i] != nil {
		return s.via[i].Blockers(i)
	}
	r := &s.rules[i]
	// vol[len(Intra)+1+d] is decider d's volume (a slice, not a map: a
	// big audit asks for thousands of rules' blockers).
	base := len(s.Program.Intra) + 1
	m := blockerMemos.Get().(*blockerMemo)
	defer func() {
		clear(m.memo) // no table outlives its space through the pool
		blockerMemos.Put(m)
	}()
	vol := slices.Grow(m.vol[:0], base+len(s.rules))[:base+len(s.rules)]
	clear(vol)
	m.vol = vol
	// A table recurs across port intervals and parts (tables are shared
	// by cover): its overlaps with the rule's ranges are walked once, and
	// kept as (decider, address count) in the walk's order, so that the
	// volumes add up in the same order, to the same sums.
	memo := m.memo
	if memo == nil {
		memo = map[*AddrTable][2]int32{}
		m.memo = memo
	}
	clear(memo)
	runs := m.runs[:0]
	// The piece where each of the rule's ranges starts, per family, found
	// once: every table's starts are among the pieces, so a table finds
	// a range by a piece index rather than an address.
	var from [2][]int32
	for _, part := range s.Parts {
		sw := float64(part.SourcePorts.Hi) - float64(part.SourcePorts.Lo) + 1
		for f := range 2 {
			if !s.Has(f == 1) || !s.active(i, part.SourcePorts, f) {
				continue
			}
			rs := r.ranges[f]
			last := iprange.Last(f == 1)
			if from[f] == nil {
				from[f] = slices.Grow(m.from[f][:0], len(rs))[:len(rs)]
				m.from[f] = from[f]
				if sps, ok := s.ruleSpans(i, f); ok {
					for x, sp := range sps {
						from[f][x] = sp.lo
					}
				} else {
					for x, rg := range rs {
						from[f][x] = int32(iprange.Search(s.pieces[f], rg.Lo()))
					}
				}
			}
			for p := range NProto {
				if !matchesSlot(r.proto, p) {
					continue
				}
				pt := part.Tables[f][p]
				for k, at := range pt.Addrs {
					lo, hi := portBounds(pt, k)
					pw := r.portWidth(lo, hi)
					if pw == 0 {
						continue
					}
					if !p.Ports() {
						pw = 1
					}
					span, ok := memo[at]
					if !ok {
						span[0] = int32(len(runs))
						runs = walkRanges(runs, at, rs, from[f], last, Decider(i), s, i, f)
						span[1] = int32(len(runs))
						memo[at] = span
					}
					for _, x := range runs[span[0]:span[1]] {
						vol[base+int(x.by)] += sw * pw * x.n
					}
				}
			}
		}
	}
	m.runs = runs
	var out []Blocker
	for k, v := range vol {
		if v != 0 {
			out = append(out, Blocker{Decider(k - base), v})
		}
	}
	slices.SortFunc(out, func(a, b Blocker) int {
		if c := cmp.Compare(b.Volume, a.Volume); c != 0 {
			return c
		}
		return cmp.Compare(s.order(a.By), s.order(b.By))
	})
	return out
}

// blockerMemo is the memory of one Blockers call, pooled.
type blockerMemo struct {
	from [2][]int32
	vol  []float64
	memo map[*AddrTable][2]int32 // a table's runs: runs[lo:hi]
	runs []blockerRun
}

// blockerRun is a run of a table's pieces within a rule's ranges: its
// decider and how many addresses it holds there.
type blockerRun struct {
	by Decider
	n  float64
}

var blockerMemos = sync.Pool{New: func() any { return new(blockerMemo) }}

// walkRanges appends every overlap of a table's pieces with a rule's
// ranges that another entry decides (each range's first piece found from
// where the previous one ended: they are sorted).
func walkRanges(out []blockerRun, at *AddrTable, rs []iprange.Range, from []int32, last iprange.Key, self Decider, s *Space, i, f int) []blockerRun {
	if at.classBy != nil {
		if sps, ok := s.ruleSpans(i, f); ok {
			return walkSpans(out, at, rs, sps, last, self)
		}
		at.ready()
	}
	k := 0
	for x, rg := range rs {
		if k > 0 && at.piece[k] > from[x] {
			k = 0 // not sorted after all
		}
		for k+1 < len(at.piece) && at.piece[k+1] <= from[x] {
			k++
		}
		for j := k; j < at.Len() && !rg.Hi().Less(at.Start(j)); j++ {
			a, b := at.Start(j), last
			if j+1 < at.Len() {
				b = at.Start(j + 1).Prev()
			}
			if a.Less(rg.Lo()) {
				a = rg.Lo()
			}
			if rg.Hi().Less(b) {
				b = rg.Hi()
			}
			if d := at.By[j]; d != self {
				out = append(out, blockerRun{d, iprange.Count(a, b)})
			}
			k = j
		}
	}
	return out
}

// walkSpans is walkRanges on a table not written out, from the pieces
// each range spans (sps[x] are rs[x]'s): piece by piece, neighbours
// decided alike joined, as the table would have them (so that the volumes
// add up to the same sums).
func walkSpans(out []blockerRun, at *AddrTable, rs []iprange.Range, sps []span, last iprange.Key, self Decider) []blockerRun {
	ps := at.pieces
	class, by := at.class, at.classBy
	for x, sp := range sps {
		rg := rs[x]
		for j, hi := int(sp.lo), int(sp.hi); j <= hi; {
			d := by[class[j]]
			a := ps[j]
			if a.Less(rg.Lo()) {
				a = rg.Lo()
			}
			j++
			for j <= hi && by[class[j]] == d {
				j++
			}
			b := last
			if j < len(ps) {
				b = ps[j].Prev()
			}
			if rg.Hi().Less(b) {
				b = rg.Hi()
			}
			if d != self {
				out = append(out, blockerRun{d, iprange.Count(a, b)})
			}
		}
	}
	return out
}

// order ranks deciders as evaluation meets them.
func (s *Space) order(d Decider) int {
	switch {
	case d.Intra() >= 0:
		return d.Intra()
	case d >= 0:
		return len(s.Program.Intra) + int(d)
	}
	return len(s.Program.Intra) + len(s.Program.Rules)
}

// Correlation is a drop and an accept of the same priority whose match
// spaces overlap: where they do, the drop wins silently.
type Correlation struct {
	Drop, Accept int // indexes into Program.Rules
}

// Correlations returns the overlapping drop/accept pairs of equal priority.
// Local CIDRs count as the instance's addresses, as in the partition;
// source ports count in full, whatever the space's source port.
func (s *Space) Correlations() []Correlation {
	return s.CorrelationsExcept(nil)
}

// CorrelationsExcept is Correlations without the pairs skip (if not nil)
// reports: for callers that already know a pair's answer from another
// space of the same rules.
func (s *Space) CorrelationsExcept(skip func(drop, accept int) bool) []Correlation {
	var out []Correlation
	rules := s.Program.Rules
	for i := 0; i < len(rules); {
		j := i
		for j < len(rules) && rules[j].Priority == rules[i].Priority {
			j++
		}
		// Within a priority the drops come first.
		for a := i; a < j; a++ {
			if rules[a].Policy != model.Drop {
				continue
			}
			for b := i; b < j; b++ {
				if rules[b].Policy != model.Drop && (skip == nil || !skip(a, b)) && s.overlap(a, b) {
					out = append(out, Correlation{a, b})
				}
			}
		}
		i = j
	}
	return out
}

// overlap reports whether two rules' match spaces meet.
func (s *Space) overlap(a, b int) bool {
	return s.meet(&s.rules[a], &s.rules[b])
}

// meet reports whether two reduced rules' match spaces meet.
func (s *Space) meet(ra, rb *prep) bool {
	if ra.proto != rb.proto && ra.proto != model.ALL && rb.proto != model.ALL {
		return false
	}
	if ra.phi < rb.plo || rb.phi < ra.plo || !portsMeet(ra.dports, rb.dports) {
		return false
	}
	if ra.hasSport && rb.hasSport && (ra.sport.End < rb.sport.Start || rb.sport.End < ra.sport.Start) {
		return false
	}
	for f := range 2 {
		loc := s.local(f)
		if ra.local.IsValid() && !ra.local.Contains(loc) || rb.local.IsValid() && !rb.local.Contains(loc) {
			continue
		}
		if iprange.Overlapping(ra.ranges[f], rb.ranges[f]) {
			return true
		}
	}
	return false
}

// Covers reports whether rule i's peer stands for a remote address.
func (s *Space) Covers(i int, six bool, k iprange.Key) bool {
	return iprange.Holds(s.rules[i].ranges[family(six)], k)
}

// Anonymous returns a remote address of the family that no rule's peer
// names except through a whole-family block (0.0.0.0/0, ::/0) and that no
// intra-group grant holds: any address of the internet at large meets the
// same decisions as this one. ok is false when rules name every address.
func (s *Space) Anonymous(six bool) (k iprange.Key, ok bool) {
	if k, ok, done := s.anonymousRun(six); done {
		return k, ok
	}
	return s.anonymousSorted(six)
}

// Named returns, sorted and merged, the remote addresses of a family that
// some rule's peer names other than through a whole-family block, or that
// an intra-group grant holds: every address outside them meets the
// decisions Anonymous's does.
func (s *Space) Named(six bool) []iprange.Range {
	f := family(six)
	var named []iprange.Range
	for i := range s.rules {
		for _, r := range s.rules[i].ranges[f] {
			if !r.IsAll() {
				named = append(named, r)
			}
		}
	}
	for _, g := range s.intra {
		named = append(named, g[f]...)
	}
	return iprange.Normalize(named)
}

// anonymousSorted is Anonymous by sorting and merging every named range.
func (s *Space) anonymousSorted(six bool) (k iprange.Key, ok bool) {
	last := iprange.Last(six)
	named := s.Named(six)
	switch {
	case len(named) == 0 || (iprange.Key{}).Less(named[0].Lo()):
		return iprange.Key{}, true
	case named[0].Hi() != last:
		return named[0].Hi().Next(), true
	}
	return iprange.Key{}, false
}

// anonymousRun is Anonymous without sorting every named range: it walks
// the run of named addresses from the family's first address onwards, one
// pass over the ranges per step. Runs are short (most clouds name nothing
// at the very bottom): after a few passes it gives up (done false).
func (s *Space) anonymousRun(six bool) (k iprange.Key, ok, done bool) {
	f := family(six)
	last := iprange.Last(six)
	cur := iprange.Key{} // the first address not known to be named
	// extend moves cur past a named range holding it; false when the range
	// runs to the family's end.
	extend := func(rs []iprange.Range, skipAll bool) (grew, end bool) {
		for _, r := range rs {
			if skipAll && r.IsAll() || cur.Less(r.Lo()) || r.Hi().Less(cur) {
				continue
			}
			if r.Hi() == last {
				return true, true
			}
			cur, grew = r.Hi().Next(), true
		}
		return grew, false
	}
	for range 4 {
		grew := false
		for i := range s.rules {
			g, end := extend(s.rules[i].ranges[f], true)
			if end {
				return iprange.Key{}, false, true
			}
			grew = grew || g
		}
		for _, g := range s.intra {
			gr, end := extend(g[f], false)
			if end {
				return iprange.Key{}, false, true
			}
			grew = grew || gr
		}
		if !grew {
			return cur, true, true
		}
	}
	return iprange.Key{}, false, false
}

// Point returns the decisions a program makes for one remote address, as
// Column does on a built space, without building the tables: the cheap way
// to learn what changed at a few addresses (those of an instance joining or
// leaving a group). Only the source-port interval of o.SourcePort counts.
func Point(res *Resolver, p *policy.Program, o Options, six bool, remote iprange.Key) []Segment {
	s := newSpace(res, p, o)
	f := family(six)
	var sp PortRange
	for _, x := range s.sourceParts() {
		if x.Contains(s.Options.SourcePort) {
			sp = x
		}
	}
	// A grant decides every protocol and port alike.
	grant := none
	for k := range s.intra {
		if iprange.Holds(s.intra[k][f], remote) {
			grant = IntraDecider(k)
			break
		}
	}
	var out []Segment
	for slot := range NProto {
		// The rules that can decide here, in order.
		var idx []int
		bounds := []int{0}
		if grant == none {
			for i := range s.rules {
				r := &s.rules[i]
				if matchesSlot(r.proto, slot) && s.active(i, sp, f) && iprange.Holds(r.ranges[f], remote) {
					idx = append(idx, i)
					if slot.Ports() {
						bounds = r.portBounds(bounds)
					}
				}
			}
			slices.Sort(bounds)
			bounds = slices.Compact(bounds)
		}
		for b, start := range bounds {
			hi := 65535
			if b+1 < len(bounds) {
				hi = bounds[b+1] - 1
			}
			d := grant
			if d == none {
				d = Default
				for _, i := range idx {
					if r := &s.rules[i]; !slot.Ports() || r.hasPort(start) {
						d = Decider(i)
						break
					}
				}
			}
			if n := len(out); n > 0 && out[n-1].Proto == slot && out[n-1].By == d {
				out[n-1].Ports.Hi = uint16(hi)
				continue
			}
			out = append(out, Segment{slot, PortRange{uint16(start), uint16(hi)}, d, s.Accepts(d)})
		}
	}
	return out
}

// Hits returns rule i's hit space: the cells where it decides (empty for a
// shadowed rule).
func (s *Space) Hits(i int) []Cell {
	var out []Cell
	s.Walk(func(c Cell) {
		if c.By == Decider(i) {
			out = append(out, c)
		}
	})
	return out
}
