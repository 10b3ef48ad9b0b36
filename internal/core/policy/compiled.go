package policy

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Compiled decides with per-policy lookup tables. A policy (one direction of
// one set of groups on one path) is compiled once into, for each address
// family and protocol, a table of destination-port intervals; each port
// interval points to a table of remote-address intervals; each address
// interval holds the rules that can decide there, in evaluation order, up to
// and including the first one without further conditions. A lookup is two
// binary searches and, nearly always, one candidate.
//
// Instances with the same groups share compiled policies: the policy depends
// on the groups, not on the instance.
type Compiled struct {
	c       *Cloud
	nics    sync.Map // *model.Instance → *nicPolicy
	mu      sync.Mutex
	classes map[Key]*class
}

// nicPolicy is everything an instance's decisions need, found without
// touching the cloud's maps.
type nicPolicy struct {
	intra intraSet
	cls   [2][2]*class // [ingress, egress][intranet, internet]
}

// Compile returns a compiled evaluator over a snapshot. Policies are compiled
// on first use; Warm compiles them all up front.
func Compile(c *Cloud) *Compiled { return &Compiled{c: c, classes: map[Key]*class{}} }

func (e *Compiled) Cloud() *Cloud { return e.c }

// Warm compiles the policies of every instance.
func (e *Compiled) Warm() {
	for _, in := range e.c.Instances {
		e.nic(in)
	}
}

// Decide implements Decider.
func (e *Compiled) Decide(in *model.Instance, dir model.Direction, nic model.NicType, p Packet) Decision {
	local, remote := sides(dir, p)
	np := e.nic(in)
	if g, ok := np.intra.lookup(remote); ok {
		return Decision{Verdict: Accept, Reason: IntraGroup, Group: g}
	}
	d, n := 0, 0
	if dir == model.Egress {
		d = 1
	}
	if nic == model.Internet {
		n = 1
	}
	return np.cls[d][n].decide(p, local, remote)
}

func (e *Compiled) nic(in *model.Instance) *nicPolicy {
	if np, ok := e.nics.Load(in); ok {
		return np.(*nicPolicy)
	}
	groups := e.c.groupsOf(in)
	np := &nicPolicy{intra: e.c.intraSet(in)}
	e.mu.Lock()
	for d, dir := range []model.Direction{model.Ingress, model.Egress} {
		for n, nic := range []model.NicType{model.Intranet, model.Internet} {
			key := groupsKey(groups, dir, nic)
			nic = key.NIC()
			cl, ok := e.classes[key]
			if !ok {
				cl = compileClass(e.c, groups, dir, nic, e.c.fallback(in, dir))
				e.classes[key] = cl
			}
			np.cls[d][n] = cl
		}
	}
	e.mu.Unlock()
	actual, _ := e.nics.LoadOrStore(in, np)
	return actual.(*nicPolicy)
}

// Protocol slots of a compiled policy. "other" holds rules of protocol ALL
// for packets of any protocol without a slot of its own.
const (
	slotTCP = iota
	slotUDP
	slotICMP
	slotICMPv6
	slotGRE
	slotOther
	nSlots
)

var slotProto = [nSlots]uint8{6, 17, 1, 58, 47, 0}

func slotOf(proto uint8) int {
	switch proto {
	case 6:
		return slotTCP
	case 17:
		return slotUDP
	case 1:
		return slotICMP
	case 58:
		return slotICMPv6
	case 47:
		return slotGRE
	}
	return slotOther
}

type class struct {
	rules    []crule
	tabs     [2][nSlots]*portTable // [IPv4, IPv6][slot]
	fallback Decision
}

// crule is a rule reduced to what a lookup still has to check.
type crule struct {
	decision Decision
	sport    model.PortRange // source ports; only for TCP and UDP rules
	local    netip.Prefix    // masked instance-side CIDR, if any
	cond     bool            // sport or local must be checked
}

type portTable struct {
	starts []uint16 // start of each port interval; starts[0] == 0
	addrs  []*addrTable
}

type addrTable struct {
	starts []iprange.Key // start of each address interval; starts[0] == 0
	cands  [][]int32     // candidates of each interval, in evaluation order
}

func (cl *class) decide(p Packet, local, remote netip.Addr) Decision {
	fam := 0
	if remote.Is6() {
		fam = 1
	}
	pt := cl.tabs[fam][slotOf(p.Proto)]
	if pt == nil {
		return cl.fallback
	}
	at := pt.addrs[searchPort(pt.starts, p.DstPort)]
	if at == nil {
		return cl.fallback
	}
	for _, i := range at.cands[iprange.Search(at.starts, iprange.KeyOf(remote))] {
		r := &cl.rules[i]
		if !r.cond || r.sport.Contains(p.SrcPort) && (!r.local.IsValid() || r.local.Contains(local)) {
			return r.decision
		}
	}
	return cl.fallback
}

func searchPort(starts []uint16, port uint16) int {
	lo, hi := 0, len(starts) // invariant: starts[lo] <= port < starts[hi]
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if starts[m] <= port {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// peerRanges is the set of remote addresses of one family a rule's peer stands for.
func (c *Cloud) peerRanges(p *model.Peer, six bool) []iprange.Range {
	var out []iprange.Range
	add := func(pfx netip.Prefix) {
		if pfx.Addr().Is6() == six {
			out = append(out, iprange.FromPrefix(pfx))
		}
	}
	switch {
	case p.CIDR.IsValid():
		add(p.CIDR)
	case p.GroupID != "":
		for a := range c.memberAddrs[p.GroupID] {
			add(netip.PrefixFrom(a, a.BitLen()))
		}
	case p.PrefixListID != "":
		if pl, ok := c.PrefixLists[p.PrefixListID]; ok {
			for _, e := range pl.Entries {
				add(e.CIDR)
			}
		}
	}
	return out
}

func compileClass(c *Cloud, groups []*model.SecurityGroup, dir model.Direction, nic model.NicType, fallback Decision) *class {
	pooled := pool(groups, dir, nic)
	cl := &class{rules: make([]crule, len(pooled)), fallback: fallback}
	for i, pr := range pooled {
		r := pr.rule
		cr := crule{decision: Decision{Verdict: verdictOf(r.Policy), Reason: ByRule, Rule: ref(pr)}}
		if r.Protocol.HasPorts() && r.SourcePortRange.IsSet() {
			cr.sport, cr.cond = r.SourcePortRange, true
		}
		if r.Local.IsValid() {
			cr.local, cr.cond = r.Local.Masked(), true
		}
		cl.rules[i] = cr
	}
	spans := make([][]model.PortRange, len(pooled))
	for i, pr := range pooled {
		spans[i] = portSpans(c, pr.rule)
	}
	for fam, six := range []bool{false, true} {
		ranges := make([][]iprange.Range, len(pooled))
		for i, pr := range pooled {
			if pr.rule.Protocol.InFamily(six) {
				ranges[i] = c.peerRanges(&pr.rule.Peer, six)
			}
		}
		for slot := range nSlots {
			var idx []int32
			for i, pr := range pooled {
				if len(ranges[i]) > 0 && (pr.rule.Protocol == model.ALL || slot != slotOther && pr.rule.Protocol.Number() == slotProto[slot]) {
					idx = append(idx, int32(i))
				}
			}
			if len(idx) > 0 {
				cl.tabs[fam][slot] = buildPortTable(spans, cl.rules, idx, ranges)
			}
		}
	}
	return cl
}

// portSpans is the destination ports a rule covers in a table, as
// intervals: one, or a port range list's entries.
func portSpans(c *Cloud, r *model.Rule) []model.PortRange {
	if !r.Protocol.HasPorts() {
		return []model.PortRange{{Start: 0, End: 65535}}
	}
	out := c.DestPorts(r)
	for i, p := range out {
		if p.IsAny() {
			out[i] = model.PortRange{Start: 0, End: 65535}
		}
	}
	return out
}

func spansContain(spans []model.PortRange, port int) bool {
	for _, s := range spans {
		if int(s.Start) <= port && port <= int(s.End) {
			return true
		}
	}
	return false
}

func buildPortTable(spans [][]model.PortRange, rules []crule, idx []int32, ranges [][]iprange.Range) *portTable {
	bounds := []int{0}
	for _, i := range idx {
		for _, sp := range spans[i] {
			bounds = append(bounds, int(sp.Start))
			if sp.End < 65535 {
				bounds = append(bounds, int(sp.End)+1)
			}
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	pt := &portTable{starts: make([]uint16, len(bounds)), addrs: make([]*addrTable, len(bounds))}
	shared := map[string]*addrTable{} // port intervals with the same covering rules share one table
	var key []byte
	for b, start := range bounds {
		pt.starts[b] = uint16(start)
		var cover []int32
		key = key[:0]
		for _, i := range idx {
			if spansContain(spans[i], start) {
				cover = append(cover, i)
				key = binary.LittleEndian.AppendUint32(key, uint32(i))
			}
		}
		if len(cover) == 0 {
			continue
		}
		at, ok := shared[string(key)]
		if !ok {
			at = buildAddrTable(rules, cover, ranges)
			shared[string(key)] = at
		}
		pt.addrs[b] = at
	}
	return pt
}

// buildAddrTable splits the address space at every boundary of the covering
// rules' ranges and gives each piece its candidates: the rules covering it in
// order, stopping after the first unconditional one (nothing after it can
// decide). A skip list over closed pieces keeps this near-linear.
func buildAddrTable(rules []crule, cover []int32, ranges [][]iprange.Range) *addrTable {
	starts := []iprange.Key{{}}
	for _, i := range cover {
		for _, r := range ranges[i] {
			starts = append(starts, r.Lo())
			if r.Hi() != iprange.Last(true) {
				starts = append(starts, r.Hi().Next())
			}
		}
	}
	slices.SortFunc(starts, func(a, b iprange.Key) int {
		if a == b {
			return 0
		}
		if a.Less(b) {
			return -1
		}
		return 1
	})
	starts = slices.Compact(starts)
	n := len(starts)
	cands := make([][]int32, n)
	next := make([]int32, n+1) // next[i]: first piece >= i that is still open
	for i := range next {
		next[i] = int32(i)
	}
	find := func(i int32) int32 {
		for next[i] != i {
			next[i] = next[next[i]]
			i = next[i]
		}
		return i
	}
	for _, ri := range cover {
		for _, r := range ranges[ri] {
			first := int32(iprange.Search(starts, r.Lo()))
			last := int32(iprange.Search(starts, r.Hi()))
			for p := find(first); p <= last; p = find(p + 1) {
				cands[p] = append(cands[p], ri)
				if !rules[ri].cond {
					next[p] = p + 1
				}
			}
		}
	}
	// Merge neighbouring pieces with the same candidates.
	at := &addrTable{}
	for i := range n {
		if i > 0 && slices.Equal(cands[i], at.cands[len(at.cands)-1]) {
			continue
		}
		at.starts = append(at.starts, starts[i])
		at.cands = append(at.cands, cands[i])
	}
	return at
}
