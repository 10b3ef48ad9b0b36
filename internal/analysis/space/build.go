package space

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Options say which packets a Space covers.
type Options struct {
	// SourcePort is the source port of TCP and UDP flows; 0 means
	// policy.DefaultSourcePort. Ignored with AllSourcePorts.
	SourcePort uint16 `json:"sourcePort,omitempty"`
	// AllSourcePorts covers every source port: the Space gets one Part per
	// interval of source ports that the rules tell apart, so that shadowing
	// and redundancy hold for any flow rather than for one source port.
	AllSourcePorts bool `json:"allSourcePorts,omitempty"`
	// Local4 and Local6 are the instance's own addresses (private IPv4,
	// IPv6), which rules with a local CIDR test. With none, such rules match
	// nothing in that family.
	Local4 netip.Addr `json:"local4,omitzero"`
	Local6 netip.Addr `json:"local6,omitzero"`
	// IPVersion limits the space to one family (4 or 6); the other family's
	// tables stay nil. 0 covers both.
	IPVersion int `json:"ipVersion,omitempty"`
	// PartitionOnly skips the rules' standings (Rules, IntraHit and
	// DefaultHit stay zero; Blockers and Correlations still work): about
	// half the work, for callers that only need the decisions.
	PartitionOnly bool `json:"partitionOnly,omitempty"`
	// Slots, if not zero, limits the tables built to some protocol slots
	// per family (bit 1<<slot of Slots[f]); the other tables stay nil. For
	// callers that read only a few, as painting tables is most of a build.
	Slots [2]uint16 `json:"-"`
	// Scratch, if set, lends the build its memory: the space is then valid
	// only until the next Build with the same Scratch. For callers that
	// derive what they need from a space and drop it, in a loop.
	Scratch *Scratch `json:"-"`
	// Lazy, with a Scratch, writes a table out only when it is first read
	// (a table is decided once per class of pieces; writing it out, piece
	// by piece, is most of its cost): for callers that read few of the
	// tables. The space is then one goroutine's, as its Scratch is.
	Lazy bool `json:"-"`
	// Index, if set, numbers the bounds of the snapshot's ranges (see
	// NewIndex): builds by the thousand over one snapshot cut their pieces
	// from it.
	Index *Index `json:"-"`
}

// Scratch is memory reused across builds (see Options.Scratch). One
// goroutine at a time.
type Scratch struct {
	keys  []iprange.Key
	by    []Decider
	spans []span
	u64s  []uint64
	lo    []uint32
	tmp   []uint32
	i32s  []int32
	stats []RuleStat
	rules []prep
	nums  []int32
	// The tables' own memory: port starts, table pointers, the tables.
	u16s     []uint16
	addrs    []*AddrTable
	ports    []PortTable
	tables   []AddrTable
	lists    [][]iprange.Range // pieces' peer lists
	distinct [][]iprange.Range // and the distinct ones
	// Cutting pieces from an Index: the arrays' numbers, the bit set of
	// the numbers met, and where each number's piece is.
	rankLists [][]int32
	bits      []uint64
	pos       []int32
	// Maps of one build, cleared before use.
	seen  map[*iprange.Range]int32
	cache map[string]*AddrTable
	small map[[3]uint64]*AddrTable
}

// reuse returns *m cleared, making it first if need be.
func reuse[K comparable, V any](m *map[K]V) map[K]V {
	if *m == nil {
		*m = map[K]V{}
	}
	clear(*m)
	return *m
}

// take returns n elements of a buffer, growing it (into a new array, so
// that earlier slices stay intact) when it is full.
func take[T any](buf *[]T, used *int, n int) []T {
	if *used+n > cap(*buf) {
		*buf = make([]T, max(2*cap(*buf), n, 1024))
		*used = 0
	}
	s := (*buf)[*used : *used+n : *used+n]
	*used += n
	return s
}

// arena hands out the memory of one build: from a Scratch, or fresh.
type arena struct {
	sc                               *Scratch
	keys, by, spans, uint64s, int32s int
	u16s, addrs, ports, tables       int
}

// portTable returns an empty port table with room for n intervals.
func (a *arena) portTable(n int) *PortTable {
	if a.sc == nil {
		return &PortTable{Starts: make([]uint16, 0, n), Addrs: make([]*AddrTable, 0, n)}
	}
	pt := &take(&a.sc.ports, &a.ports, 1)[0]
	*pt = PortTable{Starts: take(&a.sc.u16s, &a.u16s, n)[:0], Addrs: take(&a.sc.addrs, &a.addrs, n)[:0]}
	return pt
}

// addrTable returns a zero table.
func (a *arena) addrTable() *AddrTable {
	if a.sc == nil {
		return new(AddrTable)
	}
	at := &take(&a.sc.tables, &a.tables, 1)[0]
	*at = AddrTable{}
	return at
}

func (a *arena) keyN(n int) []iprange.Key {
	if a.sc == nil {
		return make([]iprange.Key, n)
	}
	return take(&a.sc.keys, &a.keys, n)
}

func (a *arena) deciderN(n int) []Decider {
	if a.sc == nil {
		return make([]Decider, n)
	}
	return take(&a.sc.by, &a.by, n)
}

func (a *arena) spanN(n int) []span {
	if a.sc == nil {
		return make([]span, n)
	}
	return take(&a.sc.spans, &a.spans, n)
}

// The maps of a build, empty: from the Scratch, or fresh.
func (a *arena) cacheMap() map[string]*AddrTable {
	if a.sc == nil {
		return map[string]*AddrTable{}
	}
	return reuse(&a.sc.cache)
}

func (a *arena) smallCacheMap() map[[3]uint64]*AddrTable {
	if a.sc == nil {
		return map[[3]uint64]*AddrTable{}
	}
	return reuse(&a.sc.small)
}

func (a *arena) seenMap() map[*iprange.Range]int32 {
	if a.sc == nil {
		return map[*iprange.Range]int32{}
	}
	return reuse(&a.sc.seen)
}

func (a *arena) int32N(n int) []int32 {
	if a.sc == nil {
		return make([]int32, n)
	}
	return take(&a.sc.i32s, &a.int32s, n)
}

func (a *arena) uint64N(n int) []uint64 {
	if a.sc == nil {
		return make([]uint64, n)
	}
	return take(&a.sc.u64s, &a.uint64s, n)
}

// Has reports whether the space covers a family.
func (s *Space) Has(six bool) bool {
	v := s.Options.IPVersion
	return v == 0 || v == 6 && six || v == 4 && !six
}

// Decider names what decides a cell: a rule (its index in Program.Rules),
// an intra-group grant (see IntraDecider) or the default.
type Decider int32

// Default is the program's default decision.
const Default Decider = -1

// none marks a piece nothing has painted yet.
const none Decider = math.MinInt32

// IntraDecider is the grant of the k-th group of Program.Intra.
func IntraDecider(k int) Decider { return Decider(-2 - k) }

// Rule returns the rule index of a rule decider, or -1.
func (d Decider) Rule() int {
	if d >= 0 {
		return int(d)
	}
	return -1
}

// Intra returns the index in Program.Intra of an intra-group decider, or -1.
func (d Decider) Intra() int {
	if d <= -2 {
		return int(-2 - d)
	}
	return -1
}

// PortRange is an inclusive interval of ports.
type PortRange struct {
	Lo uint16 `json:"from"`
	Hi uint16 `json:"to"`
}

// Contains reports whether p lies in the range.
func (r PortRange) Contains(p uint16) bool { return r.Lo <= p && p <= r.Hi }

// AddrTable partitions one family's address space: piece k runs from
// Start(k) to the next start (or the family's last address) and is decided
// by By[k]. Neighbouring pieces have different deciders.
//
// A table keeps its starts as indexes among the space's pieces (see
// Space.Pieces), 4 bytes each rather than a 16-byte key: a big audit keeps
// tens of millions of them.
//
// A table of a space built with Options.Lazy is written out when first
// read (through its methods); By is valid once one of them has been
// called (Deciders returns it).
type AddrTable struct {
	By     []Decider
	piece  []int32 // piece[k] is the index of Start(k) among pieces
	pieces []iprange.Key
	// Until written out: the space's pieces' classes, each class's
	// decider, and the memory to write into.
	class   []int32
	classBy []Decider
	mem     *arena
}

// ready writes a lazy table out.
func (t *AddrTable) ready() {
	if t.classBy != nil {
		t.write()
	}
}

func (t *AddrTable) write() {
	n := len(t.class)
	by, piece := t.mem.deciderN(n)[:0], t.mem.int32N(n)[:0]
	prev := none
	for j, c := range t.class {
		if d := t.classBy[c]; d != prev {
			by = append(by, d)
			piece = append(piece, int32(j))
			prev = d
		}
	}
	t.By, t.piece, t.class, t.classBy, t.mem = by, piece, nil, nil, nil
}

// EachRun calls fn for each run of the table's pieces decided alike, in
// address order, with where it starts and its decider (the pieces Start
// and Deciders give), without writing a lazy table out: for callers that
// copy a table of a space they drop.
func (t *AddrTable) EachRun(fn func(start iprange.Key, by Decider)) {
	if t.classBy != nil {
		prev := none
		for j, c := range t.class {
			if d := t.classBy[c]; d != prev {
				fn(t.pieces[j], d)
				prev = d
			}
		}
		return
	}
	for k, d := range t.By {
		fn(t.pieces[t.piece[k]], d)
	}
}

// Deciders returns By, written out.
func (t *AddrTable) Deciders() []Decider {
	t.ready()
	return t.By
}

// decide returns the decider of an address.
func (t *AddrTable) decide(k iprange.Key) Decider {
	if t.classBy != nil {
		return t.classBy[t.class[iprange.Search(t.pieces, k)]]
	}
	return t.By[t.Find(k)]
}

// Decide returns the decider of an address (without writing a lazy table
// out).
func (t *AddrTable) Decide(k iprange.Key) Decider { return t.decide(k) }

// Len is the number of the table's pieces.
func (t *AddrTable) Len() int {
	t.ready()
	return len(t.piece)
}

// Start returns where piece k starts.
func (t *AddrTable) Start(k int) iprange.Key {
	t.ready()
	return t.pieces[t.piece[k]]
}

// Piece returns the index of Start(k) among the pieces of the space that
// built the table.
func (t *AddrTable) Piece(k int) int {
	t.ready()
	return int(t.piece[k])
}

// Find returns the piece that holds an address.
func (t *AddrTable) Find(k iprange.Key) int {
	t.ready()
	j := int32(iprange.Search(t.pieces, k))
	lo, hi := 0, len(t.piece)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if t.piece[m] <= j {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// PortTable partitions destination ports: interval i runs from Starts[i] to
// the next start (or 65535); Addrs[i] partitions the addresses there.
// Intervals with the same covering rules share one AddrTable.
type PortTable struct {
	Starts []uint16
	Addrs  []*AddrTable
}

// Part is the partition for one interval of source ports.
type Part struct {
	SourcePorts PortRange
	// Tables[f][p]: family f (0 IPv4, 1 IPv6), protocol slot p.
	Tables [2][NProto]*PortTable
}

// Space is a program's decision over the packet space, with what each rule
// contributes.
type Space struct {
	Program *policy.Program
	Options Options
	Parts   []Part
	// Rules[i] describes Program.Rules[i].
	Rules []RuleStat
	// IntraHit[k] reports whether the grant of Program.Intra[k] decides
	// anywhere; DefaultHit whether the default does.
	IntraHit   []bool
	DefaultHit bool
	// DefaultUnknown: whether the default decides anywhere depends on
	// the members of hidden groups (see BuildHiding).
	DefaultUnknown bool

	rules  []prep
	nums   []int32 // see RuleNumbers
	intra  [][2][]iprange.Range
	pieces [2][]iprange.Key
	// The pieces each rule's ranges span, per family, kept by builds with
	// a Scratch (their memory lives as long as the space): rule i's are
	// spans[f][spanOff[f][d]:spanOff[f][d+1]], d = spanOf[f][len(intra)+i]
	// (-1: none).
	spans   [2][]span
	spanOff [2][]int32
	spanOf  [2][]int32
	// via[i], if set, is the space whose tables rule i's standing was
	// read from (see BuildHiding); Blockers reads it there.
	via []*Space
}

// RuleStat is what one rule contributes.
type RuleStat struct {
	// Hit: the rule decides somewhere. A rule that does not is shadowed.
	Hit bool
	// Redundant: the rule decides somewhere, but wherever it does, the entry
	// that would decide without it gives the same verdict. Each rule is
	// judged alone: two rules redundant with each other are not both
	// removable.
	Redundant bool
	// Takeover lists (up to 8) entries that would decide where the rule does
	// if it were removed.
	Takeover []Decider
	// Unknown: the standing depends on the members of hidden groups,
	// which the reader may not know (see BuildHiding); Hit and Redundant
	// say nothing then.
	Unknown bool
}

// Status is a rule's standing in its program.
type Status string

const (
	Live      Status = "live"
	Shadowed  Status = "shadowed"
	Redundant Status = "redundant"
	// Unknown is the standing of a rule that depends on the members of
	// another account's group, which the reader may not know.
	Unknown Status = "unknown"
)

// RuleNumbers returns the numbers the Index the space was cut from gives
// the program's rules (see Index.Rules), in program order; nil if it was
// not cut from one, or the Index lacks a rule. With a Scratch the next
// build on that Scratch overwrites it: copy what must outlive that.
func (s *Space) RuleNumbers() []int32 { return s.nums }

// Status returns the standing of rule i.
func (s *Space) Status(i int) Status {
	switch st := s.Rules[i]; {
	case st.Unknown:
		return Unknown
	case !st.Hit:
		return Shadowed
	case st.Redundant:
		return Redundant
	}
	return Live
}

// prep is a rule reduced to what painting needs.
type prep struct {
	proto    model.Protocol
	plo, phi uint16      // destination ports covered: the hull of dports
	dports   []PortRange // the intervals, several for a port range list
	sport    model.PortRange
	hasSport bool
	local    netip.Prefix
	ranges   [2][]iprange.Range
	accept   bool
	slots    uint8 // bit 1<<p: the rule matches packets of slot p
}

// ruleSpans is the destination ports a rule covers in its slots: one
// interval, or a port range list's entries (none for an unknown list).
func ruleSpans(c *policy.Cloud, r *model.Rule) []PortRange {
	if !r.Protocol.HasPorts() {
		return []PortRange{{0, 65535}}
	}
	var out []PortRange
	for _, p := range c.DestPorts(r) {
		if p.IsAny() {
			out = append(out, PortRange{0, 65535})
		} else {
			out = append(out, PortRange{uint16(max(p.Start, 0)), uint16(min(p.End, 65535))})
		}
	}
	// A list's entries may overlap; merged, each port counts once.
	slices.SortFunc(out, func(a, b PortRange) int { return int(a.Lo) - int(b.Lo) })
	merged := out[:0]
	for _, d := range out {
		if n := len(merged); n > 0 && int(d.Lo) <= int(merged[n-1].Hi)+1 {
			merged[n-1].Hi = max(merged[n-1].Hi, d.Hi)
			continue
		}
		merged = append(merged, d)
	}
	return merged
}

// hasPort reports whether the rule covers a destination port.
func (r *prep) hasPort(p int) bool {
	if int(r.plo) > p || p > int(r.phi) {
		return false
	}
	if len(r.dports) == 1 {
		return true
	}
	for _, d := range r.dports {
		if int(d.Lo) <= p && p <= int(d.Hi) {
			return true
		}
	}
	return false
}

// portWidth is how many of the ports lo..hi the rule covers.
func (r *prep) portWidth(lo, hi uint16) float64 {
	n := 0.0
	for _, d := range r.dports {
		if l, h := max(lo, d.Lo), min(hi, d.Hi); l <= h {
			n += float64(h) - float64(l) + 1
		}
	}
	return n
}

// portsMeet reports whether two rules' port intervals share a port.
func portsMeet(a, b []PortRange) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Lo <= y.Hi && y.Lo <= x.Hi {
				return true
			}
		}
	}
	return false
}

// portBounds appends the starts of the rule's port intervals and of the
// gaps after them.
func (r *prep) portBounds(bounds []int) []int {
	for _, d := range r.dports {
		bounds = append(bounds, int(d.Lo))
		if d.Hi < 65535 {
			bounds = append(bounds, int(d.Hi)+1)
		}
	}
	return bounds
}

// ForInstance builds the space of an instance's policy on one direction and
// path, with the instance's own addresses as the local side.
func ForInstance(res *Resolver, in *model.Instance, dir model.Direction, nic model.NicType, o Options) *Space {
	p := res.Cloud.Program(in, dir, nic)
	o.Local4, o.Local6 = in.PrivateIP, in.IPv6
	return Build(res, &p, o)
}

// Build analyses a program.
func Build(res *Resolver, p *policy.Program, o Options) *Space {
	s := newSpace(res, p, o)
	b := &builder{s: s, needed: make([]bool, len(p.Rules)), mem: arena{sc: o.Scratch}, lazy: o.Lazy && o.Scratch != nil}
	// What only the build reads (pieces' bit sets, maps, sort buffers)
	// comes from the Scratch too, or else from a pooled one.
	b.tmp = &b.mem // one arena, so that the two never hand out the same memory
	if o.Scratch == nil {
		sc := scratchPool.Get().(*Scratch)
		b.tmp = &arena{sc: sc}
		defer func() {
			clear(sc.cache) // no table outlives its space through the pool
			clear(sc.seen)
			clear(sc.small)
			scratchPool.Put(sc)
		}()
	}
	for f := range 2 {
		if s.Has(f == 1) {
			b.fams[f] = b.pieces(f)
			s.pieces[f] = b.fams[f].starts
		}
	}
	// Tables are cached by family and covering rules, across source-port
	// parts too: most cover sets recur in every part (only rules with a
	// source-port range tell parts apart), and painting a cover again would
	// add nothing to the standings.
	b.cache, b.small = b.tmp.cacheMap(), b.tmp.smallCacheMap()
	for _, sp := range s.sourceParts() {
		part := Part{SourcePorts: sp}
		for f := range 2 {
			if !s.Has(f == 1) {
				continue
			}
			// The rules that can match in this part and family, once
			// for every slot.
			b.act = b.act[:0]
			for i := range s.rules {
				if s.active(i, sp, f) {
					b.act = append(b.act, int32(i))
				}
			}
			// Where the same rules can match as in the part before
			// (parts are cut for every rule with source ports, of either
			// family), the tables are the same: shared, not swept again.
			if n := len(s.Parts); n > 0 && slices.Equal(b.act, b.lastAct[f]) {
				part.Tables[f] = s.Parts[n-1].Tables[f]
				continue
			}
			b.lastAct[f] = append(b.lastAct[f][:0], b.act...)
			for slot := range NProto {
				if o.Slots[f] != 0 && o.Slots[f]&(1<<slot) == 0 {
					continue
				}
				part.Tables[f][slot] = b.portTable(f, slot)
			}
		}
		s.Parts = append(s.Parts, part)
	}
	b.finish()
	for i := range s.Rules {
		s.Rules[i].Redundant = s.Rules[i].Hit && !b.needed[i]
	}
	return s
}

// prepOf reduces a rule to what painting needs.
func prepOf(res *Resolver, r *model.Rule) prep {
	dports := ruleSpans(res.Cloud, r)
	lo, hi := uint16(65535), uint16(0)
	for _, d := range dports {
		lo, hi = min(lo, d.Lo), max(hi, d.Hi)
	}
	if len(dports) == 0 { // no port at all: an empty hull
		lo, hi = 1, 0
	}
	rp := prep{proto: r.Protocol, plo: lo, phi: hi, dports: dports, ranges: res.Peer(&r.Peer), accept: r.Policy != model.Drop}
	for f, six := range []bool{false, true} {
		if !r.Protocol.InFamily(six) {
			rp.ranges[f] = nil // ICMP's peers are IPv4, ICMPv6's IPv6
		}
	}
	if r.Protocol.HasPorts() && r.SourcePortRange.IsSet() && !r.SourcePortRange.IsAny() {
		rp.sport, rp.hasSport = r.SourcePortRange, true
	}
	if r.Local.IsValid() {
		rp.local = r.Local.Masked()
	}
	for p := range NProto {
		if matchesSlot(r.Protocol, p) {
			rp.slots |= 1 << p
		}
	}
	return rp
}

// newSpace reduces a program's rules to what analysis needs.
func newSpace(res *Resolver, p *policy.Program, o Options) *Space {
	if o.SourcePort == 0 {
		o.SourcePort = policy.DefaultSourcePort
	}
	s := &Space{Program: p, Options: o, IntraHit: make([]bool, len(p.Intra))}
	if sc := o.Scratch; sc != nil {
		// The space lives until the next build with sc: its per-rule
		// arrays may too (every element is set or cleared below).
		sc.stats = slices.Grow(sc.stats[:0], len(p.Rules))[:len(p.Rules)]
		sc.rules = slices.Grow(sc.rules[:0], len(p.Rules))[:len(p.Rules)]
		clear(sc.stats)
		s.Rules, s.rules = sc.stats, sc.rules
	} else {
		s.Rules, s.rules = make([]RuleStat, len(p.Rules)), make([]prep, len(p.Rules))
	}
	ix := o.Index
	if ix != nil && ix.res != res {
		ix = nil // made for another snapshot
		s.Options.Index = nil
	}
	var nums []int32
	if ix != nil {
		if sc := o.Scratch; sc != nil {
			sc.nums = slices.Grow(sc.nums[:0], len(p.Rules))[:len(p.Rules)]
			nums = sc.nums
		} else {
			nums = make([]int32, len(p.Rules))
		}
	}
	numbered := ix != nil
	for i, pr := range p.Rules {
		if ix != nil {
			if n, ok := ix.num[pr.Rule]; ok {
				s.rules[i], nums[i] = ix.preps[n], n
				continue
			}
			numbered = false // a rule the index lacks
		}
		s.rules[i] = prepOf(res, pr.Rule)
	}
	if numbered {
		s.nums = nums
	}
	for _, g := range p.Intra {
		s.intra = append(s.intra, res.Group(g))
	}
	return s
}

// sourceParts cuts source ports where a rule's source-port range starts or
// ends; with one source port, only its interval is kept.
func (s *Space) sourceParts() []PortRange {
	bounds := []int{0}
	for _, r := range s.rules {
		if r.hasSport {
			bounds = append(bounds, int(max(r.sport.Start, 0)))
			if r.sport.End < 65535 {
				bounds = append(bounds, int(r.sport.End)+1)
			}
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	var out []PortRange
	for i, lo := range bounds {
		hi := 65535
		if i+1 < len(bounds) {
			hi = bounds[i+1] - 1
		}
		r := PortRange{uint16(lo), uint16(hi)}
		if s.Options.AllSourcePorts || r.Contains(s.Options.SourcePort) {
			out = append(out, r)
		}
	}
	return out
}

func (s *Space) local(f int) netip.Addr {
	if f == 1 {
		return s.Options.Local6
	}
	return s.Options.Local4
}

// active reports whether rule i can match in a part and family at all: its
// peer has addresses there, its source ports hold the part's, and its local
// CIDR holds the instance's address.
func (s *Space) active(i int, sp PortRange, f int) bool {
	r := &s.rules[i]
	if len(r.ranges[f]) == 0 {
		return false
	}
	if r.hasSport && !(int32(sp.Lo) >= r.sport.Start && int32(sp.Hi) <= r.sport.End) {
		return false
	}
	return !r.local.IsValid() || r.local.Contains(s.local(f))
}

type builder struct {
	s      *Space
	needed []bool // removing the rule changes a verdict somewhere
	cache  map[string]*AddrTable
	small  map[[3]uint64]*AddrTable // cache, for covers of one or two words (nearly all)
	key    []byte
	fams   [2]*pieces
	mem    arena
	buf    *tableBuf // the tables made so far, without a Scratch
	tmp    *arena    // memory of the build alone
	// Scratch arrays of paint and portTable, reused across tables.
	mask    []uint64
	act     []int32    // the rules active in the part and family at hand
	lastAct [2][]int32 // and in the part before, per family
	events  []uint64   // portTable's sweep
	lazy    bool       // Options.Lazy, with a Scratch
	// classBy is the deciders of the pieces' classes, in the table at hand.
	classBy []Decider
}

// pieces cuts one family's addresses at every boundary of every rule and
// grant, once per space; each table is decided on these pieces. For each
// piece it keeps the set of rules covering it as a bit set indexed by the
// rule's position (so the first covering rule of any subset is the lowest
// set bit), and the grant settling it, if any.
type pieces struct {
	starts []iprange.Key
	words  int      // bit-set words per piece
	cand   []uint64 // piece j's covering rules: cand[j*words : (j+1)*words]
	intra  []Decider
	// Pieces with the same covering rules and grant are decided alike in
	// every table: class[j] is piece j's class, numbered in the order
	// the pieces first meet them; classCand and classIntra are a class's
	// covering rules and grant, as cand and intra have them. A table is
	// decided once per class (most spaces have several times fewer
	// classes than pieces), then written out piece by piece.
	class      []int32
	classCand  []uint64
	classIntra []Decider
}

// classify finds the pieces' classes, with an open-addressing hash table
// of the classes met so far.
func (b *builder) classify(ps *pieces) {
	np, words := len(ps.starts), ps.words
	size := 16
	for size < 2*np {
		size <<= 1
	}
	table := b.tmp.int32N(size)
	for i := range table {
		table[i] = -1
	}
	ps.class = b.tmp.int32N(np)
	ps.classCand = b.tmp.uint64N(np * words)[:0]
	ps.classIntra = b.tmp.deciderN(np)[:0]
	for j := range np {
		cw := ps.cand[j*words : (j+1)*words]
		h := uint64(uint32(ps.intra[j])) * 0x9e3779b97f4a7c15
		for _, w := range cw {
			h = (h ^ w) * 0xff51afd7ed558ccd
			h ^= h >> 29
		}
		i := int(h>>7) & (size - 1)
		for {
			c := table[i]
			if c < 0 {
				c = int32(len(ps.classIntra))
				table[i] = c
				ps.classCand = append(ps.classCand, cw...)
				ps.classIntra = append(ps.classIntra, ps.intra[j])
				ps.class[j] = c
				break
			}
			if ps.classIntra[c] == ps.intra[j] && slices.Equal(ps.classCand[int(c)*words:(int(c)+1)*words], cw) {
				ps.class[j] = c
				break
			}
			i = (i + 1) & (size - 1)
		}
	}
}

// span is an interval of piece indexes.
type span struct{ lo, hi int32 }

// ruleSpans returns the pieces rule i's ranges span in family f, one span
// per range, if the build kept them.
func (s *Space) ruleSpans(i, f int) ([]span, bool) {
	if s.spanOf[f] == nil {
		return nil, false
	}
	d := s.spanOf[f][len(s.intra)+i]
	if d < 0 {
		return nil, true
	}
	return s.spans[f][s.spanOff[f][d]:s.spanOff[f][d+1]], true
}

// sortKeys sorts and dedupes keys; IPv4 keys (32-bit) are radix sorted as
// plain integers, several times faster than comparing 128-bit keys.
func (b *builder) sortKeys(ks []iprange.Key, six bool) []iprange.Key {
	if six {
		slices.SortFunc(ks, iprange.Key.Compare)
		return slices.Compact(ks)
	}
	var lo, tmp []uint32
	if sc := b.tmp.sc; sc != nil {
		lo = slices.Grow(sc.lo[:0], len(ks))[:len(ks)]
		tmp = slices.Grow(sc.tmp[:0], len(ks))[:len(ks)]
		sc.lo, sc.tmp = lo, tmp
	} else {
		lo, tmp = make([]uint32, len(ks)), make([]uint32, len(ks))
	}
	for i, k := range ks {
		lo[i] = uint32(k.Lo) // IPv4 keys and their successors fit 32 bits
	}
	lo = slices.Compact(radixSort(lo, tmp))
	ks = ks[:len(lo)]
	for i, x := range lo {
		ks[i] = iprange.Key{Lo: uint64(x)}
	}
	return ks
}

// radixSort sorts a (using tmp, as long) and returns the sorted slice,
// which is a or tmp.
func radixSort(a, tmp []uint32) []uint32 {
	if len(a) < 64 {
		slices.Sort(a)
		return a
	}
	for shift := 0; shift < 32; shift += 8 {
		var count [257]int
		for _, x := range a {
			count[(x>>shift)&0xff+1]++
		}
		if slices.Contains(count[1:], len(a)) {
			continue // one byte value throughout: the order stands
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, x := range a {
			d := (x >> shift) & 0xff
			tmp[count[d]] = x
			count[d]++
		}
		a, tmp = tmp, a
	}
	return a
}

// Pieces returns the finest address partition of a family the space uses:
// every table's starts are among these. Do not modify it.
func (s *Space) Pieces(six bool) []iprange.Key {
	if !s.Has(six) {
		return nil
	}
	return s.pieces[family(six)]
}

func (b *builder) pieces(f int) *pieces {
	s := b.s
	// Rules naming one group, prefix list or block share the resolver's
	// array: each distinct array is counted, added and spanned once.
	// lists holds the grants' arrays, then the rules'; canon[i] is the
	// index of lists[i] among the distinct arrays (-1: empty).
	seen := b.tmp.seenMap()
	lists := b.tmp.sc.lists[:0] // b.tmp always has a Scratch
	for k := range s.intra {
		lists = append(lists, s.intra[k][f])
	}
	for i := range s.rules {
		lists = append(lists, s.rules[i].ranges[f])
	}
	canon := b.tmp.int32N(len(lists))
	distinct := b.tmp.sc.distinct[:0]
	nr := 0 // ranges of the distinct arrays
	for i, rs := range lists {
		if len(rs) == 0 {
			canon[i] = -1
			continue
		}
		d, ok := seen[&rs[0]]
		if !ok {
			d = int32(len(distinct))
			seen[&rs[0]] = d
			distinct = append(distinct, rs)
			nr += len(rs)
		}
		canon[i] = d
	}
	clear(lists) // the resolver's arrays: not kept alive by a pooled Scratch
	b.tmp.sc.lists = lists[:0]
	var starts []iprange.Key
	var spans []span
	var off []int32
	ok := false
	if s.Options.Index != nil {
		starts, spans, off, ok = b.indexed(f, distinct, nr)
	}
	if !ok {
		starts, spans, off = b.sorted(f, distinct, nr)
	}
	if b.tmp != &b.mem {
		// The space keeps its pieces: without the duplicates' room.
		starts = slices.Clone(starts)
	}
	np := len(starts)
	ps := &pieces{starts: starts, words: (len(s.rules) + 63) / 64}
	ps.cand = b.tmp.uint64N(np * ps.words)
	clear(ps.cand)
	ps.intra = b.tmp.deciderN(np)
	for j := range ps.intra {
		ps.intra[j] = none
	}
	if b.tmp == &b.mem {
		s.spans[f], s.spanOff[f], s.spanOf[f] = spans, off, canon
	}
	clear(distinct)
	b.tmp.sc.distinct = distinct[:0]
	spansOf := func(list int) []span {
		if d := canon[list]; d >= 0 {
			return spans[off[d]:off[d+1]]
		}
		return nil
	}
	for i := range s.rules {
		w, bit := i/64, uint64(1)<<(i%64)
		for _, sp := range spansOf(len(s.intra) + i) {
			for j := int(sp.lo); j <= int(sp.hi); j++ {
				ps.cand[j*ps.words+w] |= bit
			}
		}
	}
	// Nothing after a grant can change its pieces, so grants settle them
	// (the first group in the instance's order wins).
	for k := range s.intra {
		for _, sp := range spansOf(k) {
			for j := sp.lo; j <= sp.hi; j++ {
				if ps.intra[j] == none {
					ps.intra[j] = IntraDecider(k)
				}
			}
		}
	}
	b.classify(ps)
	return ps
}

// sorted cuts a family's pieces by sorting the bounds of the distinct
// arrays' ranges (nr in all) and searching for each range's pieces: the
// pieces' starts, and the arrays' spans (spans[off[d]:off[d+1]] are
// distinct[d]'s).
func (b *builder) sorted(f int, distinct [][]iprange.Range, nr int) ([]iprange.Key, []span, []int32) {
	last := iprange.Last(f == 1)
	starts := b.tmp.keyN(1 + 2*nr)[:1]
	starts[0] = iprange.Key{}
	for _, rs := range distinct {
		for _, r := range rs {
			starts = append(starts, r.Lo())
			if r.Hi() != last {
				starts = append(starts, r.Hi().Next())
			}
		}
	}
	starts = b.sortKeys(starts, f == 1)
	// The spans (piece-index intervals) of distinct array d are
	// spans[off[d]:off[d+1]].
	spans, off := b.tmp.spanN(nr), b.tmp.int32N(len(distinct)+1)
	off[0] = 0
	for d, rs := range distinct {
		out := spans[off[d] : int(off[d])+len(rs)]
		from := 0 // ranges come sorted: search onwards from the last one
		for i, r := range rs {
			if r.Lo().Less(starts[from]) {
				from = 0 // not sorted after all
			}
			lo := gallop(starts, from, r.Lo())
			hi := lo
			if r.Hi() != r.Lo() { // most group members are single addresses
				hi = gallop(starts, lo, r.Hi())
			}
			out[i] = span{int32(lo), int32(hi)}
			from = hi
		}
		off[d+1] = off[d] + int32(len(rs))
	}
	return starts, spans, off
}

// portTable partitions one slot's destination ports in a part and family
// (b.act holds the rules active there).
func (b *builder) portTable(f int, slot Proto) *PortTable {
	s := b.s
	words := b.fams[f].words
	mask := slices.Grow(b.mask[:0], words)[:words]
	clear(mask)
	b.mask = mask
	if !slot.Ports() {
		for _, i := range b.act {
			if s.rules[i].slots&(1<<slot) != 0 {
				mask[i/64] |= 1 << (i % 64)
			}
		}
		pt := b.mem.portTable(1)
		pt.Starts = append(pt.Starts, 0)
		pt.Addrs = append(pt.Addrs, b.table(mask, f))
		return pt
	}
	// Sweep the ports: each of a rule's intervals adds it to the cover
	// where it starts and takes it out after it ends. An event is
	// port<<32 | rule<<1 | out, so that a plain sort orders them by port.
	ev := b.events[:0]
	for _, i := range b.act {
		r := &s.rules[i]
		if r.slots&(1<<slot) == 0 {
			continue
		}
		for _, d := range r.dports {
			ev = append(ev, uint64(d.Lo)<<32|uint64(i)<<1)
			if d.Hi < 65535 {
				ev = append(ev, (uint64(d.Hi)+1)<<32|uint64(i)<<1|1)
			}
		}
	}
	slices.Sort(ev)
	b.events = ev
	n := 1 // intervals: 0, and every other port where an event is
	for k, e := range ev {
		if e>>32 != 0 && (k == 0 || e>>32 != ev[k-1]>>32) {
			n++
		}
	}
	pt := b.mem.portTable(n)
	for k, start := 0, uint64(0); ; {
		for ; k < len(ev) && ev[k]>>32 == start; k++ {
			i := uint32(ev[k]) >> 1
			if ev[k]&1 == 0 {
				mask[i/64] |= 1 << (i % 64)
			} else {
				mask[i/64] &^= 1 << (i % 64)
			}
		}
		at := b.table(mask, f)
		// Neighbouring intervals with the same table are one interval.
		if n := len(pt.Addrs); n == 0 || pt.Addrs[n-1] != at {
			pt.Starts = append(pt.Starts, uint16(start))
			pt.Addrs = append(pt.Addrs, at)
		}
		if k == len(ev) {
			return pt
		}
		start = ev[k] >> 32
	}
}

// table returns the table of a family for the rules of a cover (a bit
// set), painted once per build.
func (b *builder) table(mask []uint64, f int) *AddrTable {
	if len(mask) <= 2 {
		// Keyed without a string: a big audit makes some half a million
		// tables.
		k := [3]uint64{uint64(f)}
		copy(k[1:], mask)
		at, ok := b.small[k]
		if !ok {
			at = b.paint(mask, f)
			b.small[k] = at
		}
		return at
	}
	b.key = append(b.key[:0], byte(f))
	for _, w := range mask {
		b.key = binary.LittleEndian.AppendUint64(b.key, w)
	}
	at, ok := b.cache[string(b.key)]
	if !ok {
		at = b.paint(mask, f)
		b.cache[string(b.key)] = at
	}
	return at
}

// paint partitions a family's addresses among the intra-group grants and the
// covering rules: each piece is decided by the first entry that covers it,
// the lowest rule of the piece's covering set that is in the cover. The
// second such rule is what would decide if the first were removed.
func (b *builder) paint(mask []uint64, f int) *AddrTable {
	s := b.s
	ps := b.fams[f]
	n, words := len(ps.starts), ps.words
	if s.Options.PartitionOnly {
		return b.paintFast(mask, f)
	}
	// One pass finds each piece's first and second covering entries, adds
	// to the standings and writes the table, joining neighbours with the
	// same first entry.
	switch {
	case genericPaint:
	case words == 1:
		return b.paintWord(mask[0], f)
	case words == 2:
		return b.paintWords2(mask[0], mask[1], f)
	}
	at := b.newTable(n, f)
	defAccept := s.Program.Default.Verdict == policy.Accept
	prev := none
	// A run of pieces with the same first and second entries adds to the
	// standings once (standing is idempotent).
	last1, last2 := none, none
	for j := range n {
		d1 := ps.intra[j]
		if d1 != none {
			s.IntraHit[d1.Intra()] = true
		} else {
			d2 := none
			cand := ps.cand[j*words : (j+1)*words]
			for w, c := range cand {
				x := c & mask[w]
				for x != 0 {
					d := Decider(w*64 + bits.TrailingZeros64(x))
					x &= x - 1
					if d1 == none {
						d1 = d
						continue
					}
					d2 = d
					break
				}
				if d2 != none {
					break
				}
			}
			if d1 == none {
				s.DefaultHit = true
				d1 = Default
			} else if d1 != last1 || d2 != last2 {
				b.standing(d1, d2, defAccept)
				last1, last2 = d1, d2
			}
		}
		if d1 != prev {
			at.By = append(at.By, d1)
			at.piece = append(at.piece, int32(j))
			prev = d1
		}
	}
	b.done(at)
	return at
}

// genericPaint makes paint take its general path, piece by piece, whatever
// the program's size (a test holds the paths by classes, and the one- and
// two-word ones, to it).
var genericPaint = false

// paintWord is paint for programs of at most 64 rules (nearly all): each
// class's covering set is one word.
func (b *builder) paintWord(mask uint64, f int) *AddrTable {
	s := b.s
	ps := b.fams[f]
	defAccept := s.Program.Default.Verdict == policy.Accept
	cand, intra := ps.classCand[:len(ps.classIntra)], ps.classIntra
	by := slices.Grow(b.classBy[:0], len(intra))
	last1, last2 := none, none
	defaultHit := false
	for c, d := range intra {
		if d != none {
			s.IntraHit[d.Intra()] = true
		} else if x := cand[c] & mask; x == 0 {
			defaultHit = true
			d = Default
		} else {
			d = Decider(bits.TrailingZeros64(x))
			x &= x - 1
			d2 := none
			if x != 0 {
				d2 = Decider(bits.TrailingZeros64(x))
			}
			if d != last1 || d2 != last2 {
				b.standing(d, d2, defAccept)
				last1, last2 = d, d2
			}
		}
		by = append(by, d)
	}
	if defaultHit {
		s.DefaultHit = true
	}
	b.classBy = by
	return b.writeTable(by, f)
}

// paintWords2 is paint for programs of 65 to 128 rules.
func (b *builder) paintWords2(m0, m1 uint64, f int) *AddrTable {
	s := b.s
	ps := b.fams[f]
	defAccept := s.Program.Default.Verdict == policy.Accept
	cand, intra := ps.classCand[:2*len(ps.classIntra)], ps.classIntra
	by := slices.Grow(b.classBy[:0], len(intra))
	last1, last2 := none, none
	defaultHit := false
	for c, d := range intra {
		if d != none {
			s.IntraHit[d.Intra()] = true
		} else if x0, x1 := cand[2*c]&m0, cand[2*c+1]&m1; x0|x1 == 0 {
			defaultHit = true
			d = Default
		} else {
			d2 := none
			if x0 != 0 {
				d = Decider(bits.TrailingZeros64(x0))
				x0 &= x0 - 1
				if x0 != 0 {
					d2 = Decider(bits.TrailingZeros64(x0))
				} else if x1 != 0 {
					d2 = Decider(64 + bits.TrailingZeros64(x1))
				}
			} else {
				d = Decider(64 + bits.TrailingZeros64(x1))
				x1 &= x1 - 1
				if x1 != 0 {
					d2 = Decider(64 + bits.TrailingZeros64(x1))
				}
			}
			if d != last1 || d2 != last2 {
				b.standing(d, d2, defAccept)
				last1, last2 = d, d2
			}
		}
		by = append(by, d)
	}
	if defaultHit {
		s.DefaultHit = true
	}
	b.classBy = by
	return b.writeTable(by, f)
}

// writeTable writes out a table from its classes' deciders: piece j is
// decided by by[class[j]], and neighbours decided alike are joined.
func (b *builder) writeTable(by []Decider, f int) *AddrTable {
	ps := b.fams[f]
	if b.lazy {
		at := b.mem.addrTable()
		at.pieces, at.class, at.mem = ps.starts, ps.class, &b.mem
		at.classBy = b.mem.deciderN(len(by))
		copy(at.classBy, by)
		return at
	}
	at := b.newTable(len(ps.starts), f)
	out, piece := at.By, at.piece
	prev := none
	for j, c := range ps.class {
		if d := by[c]; d != prev {
			out = append(out, d)
			piece = append(piece, int32(j))
			prev = d
		}
	}
	at.By, at.piece = out, piece
	b.done(at)
	return at
}

// standing adds to rule d's standing a piece it decides, where sec (none:
// the default) would decide without it.
func (b *builder) standing(d, sec Decider, defAccept bool) {
	s := b.s
	st := &s.Rules[d]
	st.Hit = true
	if sec == none {
		sec = Default
	}
	secAccept := defAccept
	if sec >= 0 {
		secAccept = s.rules[sec].accept
	}
	if secAccept != s.rules[d].accept {
		b.needed[d] = true
	}
	if len(st.Takeover) < 8 && !slices.Contains(st.Takeover, sec) {
		st.Takeover = append(st.Takeover, sec)
	}
}

// paintFast is paint without standings: each class's first covering
// entry, then the table written out.
func (b *builder) paintFast(mask []uint64, f int) *AddrTable {
	if genericPaint {
		return b.paintFastPieces(mask, f)
	}
	ps := b.fams[f]
	words := ps.words
	intra := ps.classIntra
	by := slices.Grow(b.classBy[:0], len(intra))
	for c, d := range intra {
		if d == none && words == 1 {
			// Most programs have at most 64 rules: one word, no loop.
			d = Default
			if x := ps.classCand[c] & mask[0]; x != 0 {
				d = Decider(bits.TrailingZeros64(x))
			}
		} else if d == none {
			d = Default
			for w, x := range ps.classCand[c*words : (c+1)*words] {
				if x &= mask[w]; x != 0 {
					d = Decider(w*64 + bits.TrailingZeros64(x))
					break
				}
			}
		}
		by = append(by, d)
	}
	b.classBy = by
	return b.writeTable(by, f)
}

// paintFastPieces is paintFast piece by piece, without the classes: the
// general path the test holds paintFast to.
func (b *builder) paintFastPieces(mask []uint64, f int) *AddrTable {
	ps := b.fams[f]
	n, words := len(ps.starts), ps.words
	at := b.newTable(n, f)
	prev := none
	for j := range n {
		d := ps.intra[j]
		if d == none {
			d = Default
			for w, c := range ps.cand[j*words : (j+1)*words] {
				if x := c & mask[w]; x != 0 {
					d = Decider(w*64 + bits.TrailingZeros64(x))
					break
				}
			}
		}
		if d != prev {
			at.By = append(at.By, d)
			at.piece = append(at.piece, int32(j))
			prev = d
		}
	}
	b.done(at)
	return at
}

// tableBuf holds the tables of one build until Build gives them their
// memory in one piece (see finish): two allocations per space instead of
// three per table, and paintFast's tables cut to size. Pooled, so that its
// arrays are reused, warm, from build to build.
type tableBuf struct {
	by     []Decider
	piece  []int32
	used   int
	tables []*AddrTable
}

// scratchPool lends builds without a Scratch the memory only they read.
var scratchPool = sync.Pool{New: func() any { return new(Scratch) }}

var tableBufs = sync.Pool{New: func() any { return new(tableBuf) }}

// newTable returns an empty table with room for n pieces: from the
// Scratch, or from the build's tableBuf.
func (b *builder) newTable(n, f int) *AddrTable {
	if b.mem.sc != nil {
		at := b.mem.addrTable()
		at.By, at.piece, at.pieces = b.mem.deciderN(n)[:0], b.mem.int32N(n)[:0], b.fams[f].starts
		return at
	}
	if b.buf == nil {
		b.buf = tableBufs.Get().(*tableBuf)
	}
	t := b.buf
	if t.used+n > len(t.by) {
		// Tables already made keep the old arrays until finish.
		c := max(2*len(t.by), n, 4096)
		t.by, t.piece, t.used = make([]Decider, c), make([]int32, c), 0
	}
	u := t.used
	return &AddrTable{By: t.by[u : u : u+n], piece: t.piece[u : u : u+n], pieces: b.fams[f].starts}
}

// done records a table newTable made, now filled.
func (b *builder) done(at *AddrTable) {
	if b.mem.sc != nil {
		return
	}
	b.buf.used += len(at.piece)
	b.buf.tables = append(b.buf.tables, at)
}

// finish moves the build's tables into memory of their own, exactly sized,
// and returns the tableBuf to the pool.
func (b *builder) finish() {
	t := b.buf
	if t == nil {
		return
	}
	total := 0
	for _, at := range t.tables {
		total += len(at.piece)
	}
	piece, by := make([]int32, total), make([]Decider, total)
	o := 0
	for _, at := range t.tables {
		m := len(at.piece)
		copy(piece[o:], at.piece)
		copy(by[o:], at.By)
		at.piece, at.By = piece[o:o+m:o+m], by[o:o+m:o+m]
		o += m
	}
	clear(t.tables)
	t.tables, t.used = t.tables[:0], 0
	b.buf = nil
	tableBufs.Put(t)
}

// AddressViews returns a NIC as each of its private addresses that the
// rules' local CIDRs tell apart sees its policy: the NIC itself (its
// primary address, and its first IPv6 one), then a copy of it at each
// secondary IPv4 address, and at each further IPv6 address, whose answers
// differ from those before. A space takes a NIC at its primary address; a
// rule whose local CIDR holds only a secondary address decides packets to
// that one, so what claims a rule never decides (or is not needed) for a
// NIC reads the spaces of every view.
func AddressViews(c *policy.Cloud, in *model.Instance) []*model.Instance {
	if len(in.SecondaryIPs) == 0 && len(in.MoreIPv6) == 0 {
		return []*model.Instance{in}
	}
	var locals []netip.Prefix
	for _, g := range c.GroupsOf(in) {
		for i := range g.Rules {
			if l := g.Rules[i].Local; l.IsValid() {
				locals = append(locals, l.Masked())
			}
		}
	}
	answers := func(a netip.Addr) string {
		b := make([]byte, len(locals))
		for i, l := range locals {
			b[i] = '0'
			if l.Contains(a) {
				b[i] = '1'
			}
		}
		return string(b)
	}
	out := []*model.Instance{in}
	seen := map[string]bool{answers(in.PrivateIP): true}
	for _, a := range in.SecondaryIPs {
		if k := answers(a); !seen[k] {
			seen[k] = true
			cp := *in
			cp.PrivateIP, cp.SecondaryIPs = a, nil
			out = append(out, &cp)
		}
	}
	seen6 := map[string]bool{answers(in.IPv6): true}
	for _, a := range in.MoreIPv6 {
		if k := answers(a); !seen6[k] {
			seen6[k] = true
			cp := *in
			cp.IPv6, cp.MoreIPv6 = a, nil
			out = append(out, &cp)
		}
	}
	return out
}
