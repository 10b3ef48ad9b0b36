package reach

import (
	"encoding/binary"
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// side is one family of one policy class reduced to what reachability needs:
// the remote-address pieces and, for each, the interned set of flows the
// policy accepts from (or to) there.
type side struct {
	starts []iprange.Key
	ids    []uint32
}

func (s *side) at(k iprange.Key) uint32 { return s.ids[iprange.Search(s.starts, k)] }

// class is the policy of every instance with one policy.InstanceKey (one
// direction and path). Classes never change once built; Update replaces them.
type class struct {
	key   policy.Key
	sides [2]side // IPv4, IPv6
	// What the class depends on besides its own groups' rules: the groups
	// whose members it names (peers, intra-group grants) and prefix lists.
	groups, refs, lists []string
	// def is the program's default decision, which a fold (see foldClass)
	// needs and which only the groups' types decide.
	def policy.Decision
}

// keptSide is the side of one family (fam: 0 IPv4, 1 IPv6) of a class's
// old version that a change leaves as it was (it changed only rules of
// the other family): a rebuild takes it over instead of analysing it.
type keptSide struct {
	old *class
	fam int
}

// buildClass analyses the program of a representative instance, but for
// the side it keeps (keep.old nil: none).
func buildClass(res *space.Resolver, tab *table, sc *scratch, key policy.Key, in *model.Instance, sport uint16, keep keptSide) *class {
	dir, nic := key.Direction(), key.NIC()
	o := space.Options{SourcePort: sport, IPVersion: 4, PartitionOnly: true, Scratch: &sc.space, Slots: sideSlots}
	if in.IPv6.IsValid() {
		o.IPVersion = 0
	}
	kept := [2]bool{keep.old != nil && keep.fam == 0, keep.old != nil && keep.fam == 1}
	build := true
	switch {
	case kept[0] && o.IPVersion == 0:
		o.IPVersion = 6
	case kept[0]:
		build = false // the IPv4 side is all it has
	case kept[1]:
		o.IPVersion = 4
	}
	p := res.Cloud.Program(in, dir, nic)
	var sp *space.Space
	if build {
		o.Local4, o.Local6 = in.PrivateIP, in.IPv6 // as space.ForInstance does
		sp = space.Build(res, &p, o)
	}
	cl := &class{key: key, def: p.Default}
	for _, g := range res.Cloud.GroupsOf(in) {
		cl.groups = append(cl.groups, g.ID)
	}
	cl.refs = append(cl.refs, p.Intra...)
	for _, r := range p.Rules {
		switch {
		case r.Peer.GroupID != "":
			cl.refs = append(cl.refs, r.Peer.GroupID)
		case r.Peer.PrefixListID != "":
			cl.lists = append(cl.lists, r.Peer.PrefixListID)
		}
		// Port range lists (prl-…) share the index: IDs cannot collide.
		if r.PortRangeListID != "" {
			cl.lists = append(cl.lists, r.PortRangeListID)
		}
	}
	for _, s := range []*[]string{&cl.refs, &cl.lists} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	for f, six := range []bool{false, true} {
		switch {
		case kept[f]:
			cl.sides[f] = keep.old.sides[f]
		case sp != nil && sp.Has(six):
			s := sideOf(sp, six, tab, sc, &everywhere)
			cl.sides[f] = side{starts: slices.Clone(s.starts), ids: slices.Clone(s.ids)}
		default:
			// Never read: pairs and internet links need an IPv6 address.
			cl.sides[f] = side{starts: []iprange.Key{{}}, ids: []uint32{0}}
		}
	}
	return cl
}

// sideSlots are the protocol slots sideOf reads, by family.
var sideSlots = [2]uint16{
	1<<space.TCP | 1<<space.UDP | 1<<space.ICMP | 1<<space.GRE,
	1<<space.TCP | 1<<space.UDP | 1<<space.ICMPv6 | 1<<space.GRE,
}

// column is one protocol and destination-port interval of a space.
type column struct {
	proto  space.Proto
	lo, hi uint16
	at     *space.AddrTable
}

// change is where a table's verdict changes: from piece j on, table t
// accepts (or not).
type change struct {
	j, t int32
	a    bool
}

// scratch holds a class build's working memory, reused by one goroutine.
type scratch struct {
	space   space.Scratch
	cols    []column
	tables  []*space.AddrTable
	colTab  []int32 // table of each column
	tcols   []int32 // columns by table: tcols[toff[t]:toff[t+1]]
	toff    []int32
	changes []change
	sorted  []change
	at      []int32 // changes by piece: sorted[at[j]:at[j+1]]
	bits    []uint64
	key     []byte
	local   map[string]uint32 // bit set over columns → interned ID
	small   map[[2]uint64]uint32
	out     []iprange.Key
	ids     []uint32
	// A fold's (see foldClass): what the class names, the rules that
	// reach into the region, the spliced side and the splices made.
	refs, lists []string
	rules       []policy.ProgramRule
	starts2     []iprange.Key
	ids2        []uint32
	splices     [256]spliceSlot
	gen         uint32
	// clip's: the region's addresses as a side, and the clipped side.
	maskStarts, clipStarts []iprange.Key
	maskIDs, clipIDs       []uint32
}

// sideOf merges the address tables of every protocol and port interval of
// one family within a region (the slots and ports of reg; its addresses
// are not read) into one list of address pieces, each with the flows
// accepted there. A piece's flows are kept as a bit set over the columns,
// updated only at the pieces where some table's verdict changes (rather
// than filled in piece by piece for every column), and pieces alike are
// converted and interned once. The side it returns is in sc's memory,
// valid until sc is used again.
func sideOf(sp *space.Space, six bool, tab *table, sc *scratch, reg *region) side {
	part := sp.Parts[0]
	f, icmp := 0, space.ICMP
	if six {
		f, icmp = 1, space.ICMPv6
	}
	cols, tables := sc.cols[:0], sc.tables[:0]
	colTable := sc.colTab[:0]
	for _, p := range []space.Proto{space.TCP, space.UDP, icmp, space.GRE} {
		if reg.slots&(1<<p) == 0 {
			continue
		}
		pt := part.Tables[f][p]
		for k, at := range pt.Addrs {
			lo, hi := pt.Starts[k], uint16(65535)
			if k+1 < len(pt.Starts) {
				hi = pt.Starts[k+1] - 1
			}
			if p.Ports() {
				// reg.lo is 1 at least: port 0 is not a destination
				// flows use.
				lo, hi = max(lo, reg.lo), min(hi, reg.hi)
				if lo > hi {
					continue
				}
			}
			cols = append(cols, column{p, lo, hi, at})
			t := slices.Index(tables, at)
			if t < 0 {
				t = len(tables)
				tables = append(tables, at)
			}
			colTable = append(colTable, int32(t))
		}
	}
	// Group the columns by table (counting sort).
	toff := slices.Grow(sc.toff[:0], len(tables)+1)[:len(tables)+1]
	clear(toff)
	for _, t := range colTable {
		toff[t+1]++
	}
	for t := range tables {
		toff[t+1] += toff[t]
	}
	tcols := slices.Grow(sc.tcols[:0], len(cols))[:len(cols)]
	fill := slices.Clone(toff[:len(tables)]) // small: one per table
	for c, t := range colTable {
		tcols[fill[t]] = int32(c)
		fill[t]++
	}

	// Every table's starts are among the space's pieces, already sorted.
	starts := sp.Pieces(six)
	n := len(starts)

	// The verdict changes of every table, then by piece (counting sort).
	changes := sc.changes[:0]
	for t, at := range tables {
		prev := false
		for k := range at.Len() {
			a := sp.Accepts(at.By[k])
			if k > 0 && a == prev {
				continue
			}
			changes = append(changes, change{int32(at.Piece(k)), int32(t), a})
			prev = a
		}
	}
	byPiece := slices.Grow(sc.at[:0], n+1)[:n+1]
	clear(byPiece)
	for _, c := range changes {
		byPiece[c.j+1]++
	}
	for j := range n {
		byPiece[j+1] += byPiece[j]
	}
	sorted := slices.Grow(sc.sorted[:0], len(changes))[:len(changes)]
	for _, c := range changes {
		// byPiece[j] moves up to byPiece[j+1] as piece j's changes land.
		sorted[byPiece[c.j]] = c
		byPiece[c.j]++
	}
	// byPiece[j] is now the end of piece j's changes, the start of j+1's.

	words := (len(cols) + 63) / 64
	cur := slices.Grow(sc.bits[:0], words)[:words]
	clear(cur)
	if sc.local == nil {
		sc.local, sc.small = map[string]uint32{}, map[[2]uint64]uint32{}
	}
	clear(sc.local)
	clear(sc.small)
	// Built in scratch, then copied once at their final length.
	ids, out := sc.ids[:0], sc.out[:0]
	key := sc.key[:0]
	lo := int32(0)
	for j := range n {
		hi := byPiece[j]
		if lo == hi {
			continue // no table changes here: the same flows as piece j-1
		}
		for _, c := range sorted[lo:hi] {
			for _, col := range tcols[toff[c.t]:toff[c.t+1]] {
				w, bit := col/64, uint64(1)<<(col%64)
				if c.a {
					cur[w] |= bit
				} else {
					cur[w] &^= bit
				}
			}
		}
		lo = hi
		var id uint32
		if words <= 2 {
			// Up to 128 columns (nearly always): a fixed-size key hashes
			// faster than a string.
			var k [2]uint64
			copy(k[:], cur)
			var ok bool
			if id, ok = sc.small[k]; !ok {
				id = tab.intern(portsOf(cols, cur))
				sc.small[k] = id
			}
		} else {
			key = key[:0]
			for _, x := range cur {
				key = binary.LittleEndian.AppendUint64(key, x)
			}
			var ok bool
			if id, ok = sc.local[string(key)]; !ok {
				id = tab.intern(portsOf(cols, cur))
				sc.local[string(key)] = id
			}
		}
		if m := len(ids); m > 0 && ids[m-1] == id {
			continue
		}
		out = append(out, starts[j])
		ids = append(ids, id)
	}
	if len(out) == 0 { // no column in the region: nothing passes
		out, ids = append(out, iprange.Key{}), append(ids, 0)
	}
	sc.cols, sc.tables, sc.colTab, sc.tcols, sc.toff = cols, tables, colTable, tcols, toff
	sc.changes, sc.sorted, sc.at, sc.bits, sc.key = changes, sorted, byPiece, cur, key
	sc.out, sc.ids = out, ids
	return side{starts: out, ids: ids}
}

// portsOf converts a bit set over columns to a port set.
func portsOf(cols []column, w []uint64) Ports {
	var p Ports
	for c, col := range cols {
		if w[c/64]&(1<<(c%64)) == 0 {
			continue
		}
		r := PortRange{col.lo, col.hi}
		switch col.proto {
		case space.TCP:
			p.TCP = appendMerged(p.TCP, []PortRange{r})
		case space.UDP:
			p.UDP = appendMerged(p.UDP, []PortRange{r})
		case space.ICMP:
			p.ICMP = true
		case space.ICMPv6:
			p.ICMPv6 = true
		case space.GRE:
			p.GRE = true
		}
	}
	return p
}

// set returns a copy of the side where one address gets another set.
func (s side) set(k iprange.Key, id uint32, six bool) side {
	p := iprange.Search(s.starts, k)
	if s.ids[p] == id {
		return s
	}
	starts := make([]iprange.Key, 0, len(s.starts)+2)
	ids := make([]uint32, 0, len(s.ids)+2)
	add := func(start iprange.Key, id uint32) {
		if n := len(ids); n > 0 && ids[n-1] == id {
			return
		}
		starts, ids = append(starts, start), append(ids, id)
	}
	for q := range s.starts {
		if q != p {
			add(s.starts[q], s.ids[q])
			continue
		}
		// Split piece p around k.
		if s.starts[q].Less(k) {
			add(s.starts[q], s.ids[q])
		}
		add(k, id)
		end := iprange.Last(six)
		if q+1 < len(s.starts) {
			end = s.starts[q+1].Prev()
		}
		if k.Less(end) {
			add(k.Next(), s.ids[q])
		}
	}
	return side{starts: starts, ids: ids}
}

// patchClass returns a copy of a class whose sides are recomputed at a few
// addresses (those whose group memberships changed), the rest being
// unchanged. Only the rules whose peers hold one of the addresses can
// decide there: the others are left out of the program before it is asked.
func (r *Result) patchClass(sc *scratch, cl *class, rep *model.Instance, points [2][]iprange.Key) *class {
	n := *cl
	prog := program(r.cloud, rep, cl.key, cl.def, sc.rules, func(x *model.Rule) bool { return holdsAny(r.res, &x.Peer, points) })
	o := space.Options{SourcePort: r.opts.SourcePort, Local4: rep.PrivateIP, Local6: rep.IPv6}
	for f, six := range []bool{false, true} {
		if six && !rep.IPv6.IsValid() {
			continue // this class keeps no IPv6 side
		}
		s := cl.sides[f]
		for _, k := range points[f] {
			s = s.set(k, r.tab.intern(portsOfSegments(space.Point(r.res, &prog, o, six, k), six)), six)
		}
		n.sides[f] = s
	}
	clear(prog.Rules) // the pool keeps no snapshot's rules alive
	sc.rules = prog.Rules[:0]
	return &n
}

// holdsAny reports whether a peer stands for one of the addresses.
func holdsAny(res *space.Resolver, p *model.Peer, points [2][]iprange.Key) bool {
	if p.GroupID == "" && p.CIDR.IsValid() { // as res.Peer, without its slices
		x := iprange.FromPrefix(p.CIDR)
		return slices.ContainsFunc(points[b2i(p.CIDR.Addr().Is6())], x.Contains)
	}
	ranges := res.Peer(p)
	for f := range 2 {
		for _, k := range points[f] {
			if iprange.Holds(ranges[f], k) {
				return true
			}
		}
	}
	return false
}

// portsOfSegments gathers the accepted flows of one family from a column.
func portsOfSegments(segs []space.Segment, six bool) Ports {
	var p Ports
	icmp := space.ICMP
	if six {
		icmp = space.ICMPv6
	}
	for _, s := range segs {
		if !s.Accept {
			continue
		}
		switch s.Proto {
		case space.TCP, space.UDP:
			if s.Ports.Hi == 0 {
				continue
			}
			r := PortRange{max(s.Ports.Lo, 1), s.Ports.Hi}
			if s.Proto == space.TCP {
				p.TCP = appendMerged(p.TCP, []PortRange{r})
			} else {
				p.UDP = appendMerged(p.UDP, []PortRange{r})
			}
		case icmp:
			if six {
				p.ICMPv6 = true
			} else {
				p.ICMP = true
			}
		case space.GRE:
			p.GRE = true
		}
	}
	return p
}
