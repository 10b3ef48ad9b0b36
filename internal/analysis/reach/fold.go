package reach

import (
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// A change of rules alone (no group created, deleted or retyped, no local
// CIDR moved) can change a program's verdicts only for the flows the
// changed rules match, before or after: a verdict is the first matching
// rule's, so a flow no changed rule matches meets the same rules in the
// same order. An Update therefore folds such a change into a class
// (foldClass) instead of rebuilding it: it analyses only the rules that
// can match within a region holding those flows, and splices the verdicts
// found there into the class's old sides.

// region is a box of one direction's packet space holding every flow that
// some changed rules match: the protocol slots they match, the hull of
// their destination ports (TCP and UDP) and the addresses of their peers.
type region struct {
	slots  uint16             // bit 1<<p for each space.Proto p
	lo, hi uint16             // TCP and UDP destination ports lo..hi, lo >= 1 (lo > hi: none)
	addrs  [2][]iprange.Range // per family, normalised
}

// allSlots are the slots a side reads, in either family.
const allSlots = 1<<space.TCP | 1<<space.UDP | 1<<space.ICMP | 1<<space.ICMPv6 | 1<<space.GRE

// everywhere is the region of every flow a side holds: a whole build.
var everywhere = region{slots: allSlots, lo: 1, hi: 65535}

// newRegion returns an empty region.
func newRegion() *region { return &region{lo: 65535, hi: 0} }

// add widens the region to a rule's match space; c is the snapshot the
// rule belongs to (its port range list) and res resolves its peer there.
func (g *region) add(c *policy.Cloud, res *space.Resolver, r *model.Rule) {
	if r.Protocol == model.ALL {
		g.slots |= allSlots
		g.lo, g.hi = 1, 65535
	} else {
		slot := space.SlotOf(r.Protocol)
		g.slots |= 1 << slot
		if slot.Ports() {
			for _, p := range c.DestPorts(r) {
				lo, hi := int32(1), int32(65535)
				if !p.IsAny() {
					lo, hi = max(p.Start, 1), min(p.End, 65535)
				}
				if lo <= hi {
					g.lo, g.hi = min(g.lo, uint16(lo)), max(g.hi, uint16(hi))
				}
			}
		}
	}
	peer := res.Peer(&r.Peer)
	for f := range 2 {
		g.addrs[f] = append(g.addrs[f], peer[f]...)
	}
}

// normalize sorts and merges the region's addresses.
func (g *region) normalize() {
	for f := range 2 {
		g.addrs[f] = iprange.Normalize(g.addrs[f])
	}
}

// in reports whether the region holds flows of family f (0 IPv4, 1 IPv6)
// that a side reads.
func (g *region) in(f int) bool {
	if len(g.addrs[f]) == 0 {
		return false
	}
	icmp := space.ICMP
	if f == 1 {
		icmp = space.ICMPv6
	}
	return g.slots&(1<<space.GRE|1<<icmp) != 0 || g.slots&(1<<space.TCP|1<<space.UDP) != 0 && g.lo <= g.hi
}

// whole reports whether the region holds every flow of family f: folding
// would analyse the whole program, and splice everything.
func (g *region) whole(f int) bool {
	return g.slots&sideSlots[f] == sideSlots[f] && g.lo <= 1 && g.hi == 65535 &&
		len(g.addrs[f]) == 1 && g.addrs[f][0].IsAll()
}

// reaches reports whether a peer stands for an address of the region in
// a family of act.
func (g *region) reaches(res *space.Resolver, p *model.Peer, act [2]bool) bool {
	if p.GroupID == "" && p.CIDR.IsValid() { // as res.Peer, without its slices
		f := b2i(p.CIDR.Addr().Is6())
		x := iprange.FromPrefix(p.CIDR)
		return act[f] && slices.ContainsFunc(g.addrs[f], x.Overlaps)
	}
	ranges := res.Peer(p)
	for f := range 2 {
		if act[f] && iprange.Overlapping(ranges[f], g.addrs[f]) {
			return true
		}
	}
	return false
}

// meets reports whether a rule's protocol and destination ports reach into
// the region (its peer is not looked at).
func (g *region) meets(c *policy.Cloud, r *model.Rule) bool {
	if r.Protocol == model.ALL {
		return g.slots != 0
	}
	slot := space.SlotOf(r.Protocol)
	if g.slots&(1<<slot) == 0 {
		return false
	}
	if !slot.Ports() {
		return true
	}
	within := func(p model.PortRange) bool {
		return p.IsAny() || p.Start <= int32(g.hi) && int32(g.lo) <= p.End
	}
	if r.PortRangeListID == "" { // as c.DestPorts, without its slice
		return within(r.PortRange)
	}
	return slices.ContainsFunc(c.DestPorts(r), within)
}

// ruleRegions returns, per direction, the region holding the flows the
// rules of the given groups changed in (nil: none changed). Each group
// must exist in both snapshots (see pureChange); the old rules resolve in
// prev with oldRes, the new ones in c with res.
func ruleRegions(prev, c *policy.Cloud, oldRes, res *space.Resolver, groups []string) [2]*region {
	var out [2]*region
	for _, id := range groups {
		a, b := prev.Groups[id], c.Groups[id]
		for d, dir := range dirs {
			ra, rb := changedRules(a, b, dir)
			if len(ra) == 0 && len(rb) == 0 {
				continue
			}
			if out[d] == nil {
				out[d] = newRegion()
			}
			for _, r := range ra {
				out[d].add(prev, oldRes, r)
			}
			for _, r := range rb {
				out[d].add(c, res, r)
			}
		}
	}
	for _, g := range out {
		if g != nil {
			g.normalize()
		}
	}
	return out
}

// changedRules returns the rules of one direction that differ between two
// versions of a group: those left when the longest common head and tail
// (rules alike, as sameRule tells) are cut off both lists.
func changedRules(a, b *model.SecurityGroup, dir model.Direction) (ra, rb []*model.Rule) {
	for i := range a.Rules {
		if a.Rules[i].Direction == dir {
			ra = append(ra, &a.Rules[i])
		}
	}
	for i := range b.Rules {
		if b.Rules[i].Direction == dir {
			rb = append(rb, &b.Rules[i])
		}
	}
	for len(ra) > 0 && len(rb) > 0 && sameRule(ra[0], rb[0]) {
		ra, rb = ra[1:], rb[1:]
	}
	for len(ra) > 0 && len(rb) > 0 && sameRule(ra[len(ra)-1], rb[len(rb)-1]) {
		ra, rb = ra[:len(ra)-1], rb[:len(rb)-1]
	}
	return ra, rb
}

// pureChange reports whether two versions of a group differ in their rules
// alone, and not in those that class keys read (local CIDRs): then the
// classes holding its rules keep their keys, members and defaults, and a
// change can be folded into them.
func pureChange(a, b *model.SecurityGroup) bool {
	return a != nil && b != nil && a.Type == b.Type && a.InnerAccessPolicy == b.InnerAccessPolicy &&
		a.VpcID == b.VpcID && slices.Equal(localRules(a), localRules(b))
}

// foldClass returns the new version of a class after a change of rules
// that lies within reg, in is one of its instances: its old sides outside
// the region and, inside, the verdicts of the program's rules that reach
// into it, analysed alone. A family the region misses keeps its side; one
// it covers whole is rebuilt.
func foldClass(res *space.Resolver, tab *table, sc *scratch, old *class, in *model.Instance, sport uint16, reg *region) *class {
	var act [2]bool
	for f := range 2 {
		act[f] = reg.in(f) && (f == 0 || in.IPv6.IsValid())
	}
	if act[0] && reg.whole(0) || act[1] && reg.whole(1) {
		var keep keptSide
		if act[0] != act[1] {
			keep = keptSide{old: old, fam: b2i(act[0])}
		}
		return buildClass(res, tab, sc, old.key, in, sport, keep)
	}
	refs, lists := sc.refs[:0], sc.lists[:0]
	p := program(res.Cloud, in, old.key, old.def, sc.rules, func(r *model.Rule) bool {
		// What the class names, as buildClass finds it.
		switch {
		case r.Peer.GroupID != "":
			refs = append(refs, r.Peer.GroupID)
		case r.Peer.PrefixListID != "":
			lists = append(lists, r.Peer.PrefixListID)
		}
		if r.PortRangeListID != "" {
			lists = append(lists, r.PortRangeListID)
		}
		return reg.meets(res.Cloud, r) && reg.reaches(res, &r.Peer, act)
	})
	refs = append(refs, p.Intra...)
	cl := &class{key: old.key, sides: old.sides, groups: old.groups, def: old.def}
	changed := false
	if act[0] || act[1] {
		o := space.Options{SourcePort: sport, PartitionOnly: true, Scratch: &sc.space, Local4: in.PrivateIP, Local6: in.IPv6}
		switch {
		case act[0] && act[1]:
		case act[0]:
			o.IPVersion = 4
		default:
			o.IPVersion = 6
		}
		for f := range 2 {
			o.Slots[f] = sideSlots[f] & reg.slots
		}
		sp := space.Build(res, &p, o)
		for f, six := range []bool{false, true} {
			if act[f] {
				// Outside the region's addresses, rules left out could
				// decide: what the program says there is not to be taken.
				part := clip(sc, sideOf(sp, six, tab, sc, reg), reg.addrs[f], six)
				var moved bool
				cl.sides[f], moved = splice(tab, sc, &old.sides[f], &part, six, reg)
				changed = changed || moved
			}
		}
	}
	cl.refs, cl.lists = sortedLike(refs, old.refs), sortedLike(lists, old.lists)
	clear(p.Rules) // the pool keeps no snapshot's rules alive
	sc.refs, sc.lists, sc.rules = refs[:0], lists[:0], p.Rules[:0]
	if !changed && slices.Equal(cl.refs, old.refs) && slices.Equal(cl.lists, old.lists) {
		return old // the change decides nothing otherwise here
	}
	return cl
}

// sortedLike sorts and dedupes a scratch list of IDs, returning the old
// list if they are equal (no allocation) or a copy.
func sortedLike(ids, old []string) []string {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if slices.Equal(ids, old) {
		return old
	}
	return slices.Clone(ids)
}

// splice returns old with the flows of reg replaced by those of in, a side
// of the region's flows alone (outside where the region holds no address):
// old itself if nothing changes (changed false).
func splice(tab *table, sc *scratch, old, in *side, six bool, reg *region) (_ side, changed bool) {
	// The splices made, in a direct-mapped cache: a side has a few
	// distinct pairs, and a lost one is only made again.
	sc.gen++
	if sc.gen == 0 { // wrapped: no stamp may look current
		clear(sc.splices[:])
		sc.gen = 1
	}
	starts, ids := sc.starts2[:0], sc.ids2[:0]
	lastA, lastB, lastID := uint32(0), ^uint32(0), uint32(0)
	pieces(old, in, six, func(lo, _ iprange.Key, a, b uint32) {
		id := lastID
		if b == outside {
			id = a
		} else if a != lastA || b != lastB {
			key := uint64(a)<<32 | uint64(b)
			e := &sc.splices[(key*0x9e3779b97f4a7c15)>>56]
			if e.gen == sc.gen && e.key == key {
				id = e.id
			} else {
				id = tab.splice(a, b, reg, six)
				*e = spliceSlot{key, id, sc.gen}
			}
			lastA, lastB, lastID = a, b, id
		}
		changed = changed || id != a
		if n := len(ids); n > 0 && ids[n-1] == id {
			return
		}
		starts, ids = append(starts, lo), append(ids, id)
	})
	sc.starts2, sc.ids2 = starts, ids
	if !changed {
		return *old, false
	}
	return side{starts: slices.Clone(starts), ids: slices.Clone(ids)}, true
}

// splice interns set a with the flows of reg replaced by those of set b
// (which holds flows of reg alone).
func (t *table) splice(a, b uint32, reg *region, six bool) uint32 {
	p, q := t.get(a), t.get(b)
	has := func(s space.Proto) bool { return reg.slots&(1<<s) != 0 }
	if reg.lo <= reg.hi {
		cut := []PortRange{{reg.lo, reg.hi}}
		if has(space.TCP) {
			p.TCP = union(minus(p.TCP, cut), q.TCP)
		}
		if has(space.UDP) {
			p.UDP = union(minus(p.UDP, cut), q.UDP)
		}
	}
	switch {
	case six && has(space.ICMPv6):
		p.ICMPv6 = q.ICMPv6
	case !six && has(space.ICMP):
		p.ICMP = q.ICMP
	}
	if has(space.GRE) {
		p.GRE = q.GRE
	}
	return t.intern(p)
}

// spliceSlot is an entry of a scratch's splice cache: valid while gen is
// the scratch's.
type spliceSlot struct {
	key     uint64
	id, gen uint32
}

// program returns one direction of an instance's policy on the path of a
// class (key), as policy.Program does, but with only the rules keep
// accepts, in the same order: wherever the others cannot match, it decides
// as the whole program. def is the class's default; rules lends memory.
func program(c *policy.Cloud, in *model.Instance, key policy.Key, def policy.Decision, rules []policy.ProgramRule, keep func(*model.Rule) bool) policy.Program {
	groups := c.GroupsOf(in)
	p := policy.Program{Direction: key.Direction(), NIC: policy.RuleSet(groups, key.NIC()), Default: def}
	rules = rules[:0]
	for _, g := range groups {
		if g.InnerAccept() {
			p.Intra = append(p.Intra, g.ID)
		}
		for i := range g.Rules {
			if r := &g.Rules[i]; policy.Applies(g, r, p.Direction, p.NIC) && keep(r) {
				rules = append(rules, policy.ProgramRule{Rule: r, Group: g})
			}
		}
	}
	// Gathered in group and rule order, which a stable sort keeps among
	// rules of equal rank, as policy.Order does.
	slices.SortStableFunc(rules, func(a, b policy.ProgramRule) int { return policy.CompareRules(a.Rule, b.Rule) })
	p.Rules = rules
	return p
}

// outside marks, in a clipped side, the addresses outside a region.
const outside = ^uint32(0)

// clip returns a side (in sc's memory; in may be too) whose pieces outside
// the ranges are marked outside.
func clip(sc *scratch, in side, within []iprange.Range, six bool) side {
	if len(within) == 1 && within[0].IsAll() {
		return in
	}
	// The ranges as a side: 1 within, outside elsewhere.
	mask := side{starts: sc.maskStarts[:0], ids: sc.maskIDs[:0]}
	add := func(s *side, k iprange.Key, id uint32) {
		if n := len(s.ids); n > 0 && s.ids[n-1] == id {
			return
		}
		s.starts, s.ids = append(s.starts, k), append(s.ids, id)
	}
	if len(within) == 0 || within[0].Lo() != (iprange.Key{}) {
		add(&mask, iprange.Key{}, outside)
	}
	last := iprange.Last(six)
	for _, x := range within { // sorted, apart: see region.normalize
		add(&mask, x.Lo(), 1)
		if x.Hi() != last {
			add(&mask, x.Hi().Next(), outside)
		}
	}
	out := side{starts: sc.clipStarts[:0], ids: sc.clipIDs[:0]}
	pieces(&in, &mask, six, func(lo, _ iprange.Key, a, m uint32) {
		if m == outside {
			a = outside
		}
		add(&out, lo, a)
	})
	sc.maskStarts, sc.maskIDs, sc.clipStarts, sc.clipIDs = mask.starts, mask.ids, out.starts, out.ids
	return out
}
