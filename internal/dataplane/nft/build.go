package nft

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Names of the fixed objects of the table.
const (
	BaseChain  = "forward"
	EgressMap  = "egress"  // input interface → the instance's egress chain
	IngressMap = "ingress" // output interface → the instance's ingress chain
	IfaceSet   = "ifaces"  // every programmed instance interface
)

// midstream drops a TCP segment that would start tracking a connection
// but does not open one (not a SYN). Conntrack takes up a connection in
// midstream (its entry cut because a change denies it, or expired), in
// the direction of whichever segment comes first: a cut connection whose
// server sent next came back as one from the server, which the client's
// ingress may accept, and then flowed both ways, the client's segments
// replies no rule judged. A connection is judged at its first packet,
// from the side that opened it; no other packet opens one.
var midstream = Rule{CtState: CtNew, NotSyn: true, Verdict: Verdict{Kind: Drop}}

// Build returns the desired ruleset for the instances with in.Host == host
// and an interface. It is pure: the kernel is not consulted.
//
// Each instance gets one chain per direction, reached from the base chain
// through the egress map (by input interface) and the ingress map (by output
// interface). Chains are named by a hash of their content, so instances with
// the same policy share one, a changed policy is a new chain, and a change of
// group membership only changes set elements.
func Build(c *policy.Cloud, host string, o Options) *Ruleset {
	b := newBuilder(c, false)
	b.merge = o.MergeRuns
	b.flow = flowLog{on: o.FlowLog, group: o.logGroup(), rate: o.LogRate, entries: map[EntryID]Entry{}}
	var eg, ing []MapElem
	var ifaces []string
	for _, in := range b.placed(host) {
		eg = append(eg, MapElem{in.Interface, b.direction(in, model.Egress)})
		ing = append(ing, MapElem{in.Interface, b.direction(in, model.Ingress)})
		ifaces = append(ifaces, in.Interface)
	}
	byIface := func(a, b MapElem) int { return cmp.Compare(a.Interface, b.Interface) }
	slices.SortFunc(eg, byIface)
	slices.SortFunc(ing, byIface)
	slices.Sort(ifaces)
	base := []Rule{
		{CtState: CtEstablishedRelated, Verdict: Verdict{Kind: Accept}},
		{CtState: CtInvalid, Verdict: Verdict{Kind: Drop}},
		midstream,
	}
	if o.InterfacePrefix != "" {
		// Fail closed before any instance chain, so that traffic dropped
		// here does not count as matching an instance's rule.
		b.sets[IfaceSet] = &Set{Name: IfaceSet, Type: IfName, Names: ifaces}
		unknown := Iface{Name: o.InterfacePrefix, Wildcard: true, Set: IfaceSet, Not: true}
		base = append(base, Rule{IIF: unknown, Verdict: Verdict{Kind: Drop}},
			Rule{OIF: unknown, Verdict: Verdict{Kind: Drop}})
	}
	base = append(base,
		Rule{Verdict: Verdict{Kind: VMap, Map: EgressMap}},
		Rule{Verdict: Verdict{Kind: VMap, Map: IngressMap, OIF: true}})
	rs := b.ruleset(o, base)
	rs.Maps = []Map{{Name: EgressMap, Elems: eg}, {Name: IngressMap, Elems: ing}}
	if o.FlowLog {
		rs.Entries = b.flow.entries
	}
	return rs
}

// chainKey names the chain of one direction of a policy in one network.
type chainKey struct {
	policy.Key
	vpc string
}

// builder accumulates the chains and sets of a ruleset.
type builder struct {
	c      *policy.Cloud
	linear bool // BuildLinear: no named sets, members inline
	merge  bool // Options.MergeRuns
	flow   flowLog
	sets   map[string]*Set
	chains map[string]*Chain
	addrs  map[string][]netip.Addr // see memo
	// policies maps an instance's policy (and network) to its chain: the
	// policy depends on the groups, not on the instance, so instances with
	// the same groups are compiled once.
	policies map[chainKey]string
	// Problems lists instances left out, with why.
	problems []string
}

func newBuilder(c *policy.Cloud, linear bool) *builder {
	return &builder{c: c, linear: linear, sets: map[string]*Set{}, chains: map[string]*Chain{}, addrs: map[string][]netip.Addr{}, policies: map[chainKey]string{}}
}

// placed returns the host's instances that can be programmed, by ID. An
// interface claimed by several instances is programmed for none: which
// instance its traffic belongs to is unknown, so it is left to the
// fail-closed rules.
func (b *builder) placed(host string) []*model.Instance {
	var ins []*model.Instance
	claims := map[string][]string{}
	for _, in := range b.c.Instances {
		if in.Host == host && in.Interface != "" {
			ins = append(ins, in)
			claims[in.Interface] = append(claims[in.Interface], in.ID)
		}
	}
	slices.SortFunc(ins, func(a, b *model.Instance) int { return cmp.Compare(a.ID, b.ID) })
	out := ins[:0]
	for _, in := range ins {
		switch {
		case len(in.Interface) > 15: // IFNAMSIZ-1
			b.problems = append(b.problems, fmt.Sprintf("instance %s: interface name %q is longer than 15 characters; rename it", in.ID, in.Interface))
		case !model.ValidInterfaceName(in.Interface):
			// The server binds no such name. The kernel compares names
			// NUL-padded to 16 bytes, so "pi-1\x00" would be "pi-1":
			// another instance's element in the maps, a batch refused.
			b.problems = append(b.problems, fmt.Sprintf("instance %s: interface name %q is not one an interface can have (1 to 15 letters, digits, '.', '_', '@' or '-'); rename it", in.ID, in.Interface))
		case len(claims[in.Interface]) > 1:
			others := slices.DeleteFunc(slices.Sorted(slices.Values(claims[in.Interface])), func(id string) bool { return id == in.ID })
			b.problems = append(b.problems, fmt.Sprintf("instance %s: interface %q is also claimed by %s; give each instance its own interface", in.ID, in.Interface, strings.Join(others, ", ")))
		default:
			out = append(out, in)
		}
	}
	return out
}

// ruleset assembles the result: the base chain first, the rest by name.
func (b *builder) ruleset(o Options, base []Rule) *Ruleset {
	rs := &Ruleset{Table: o.table(), Problems: b.problems}
	rs.Chains = append(rs.Chains, Chain{Name: BaseChain, Base: true, Rules: base})
	for _, ch := range sortedValues(b.chains) {
		rs.Chains = append(rs.Chains, *ch)
	}
	for _, s := range sortedValues(b.sets) {
		rs.Sets = append(rs.Sets, *s)
	}
	return rs
}

func sortedValues[T any](m map[string]*T) []*T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*T, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// direction compiles one direction of an instance's policy and returns the
// chain its map element jumps to.
func (b *builder) direction(in *model.Instance, dir model.Direction) string {
	// The internet key stands for both rule sets of classic groups (the
	// same groups and direction); the network picks the dispatch set.
	key := chainKey{policy.KeyOf(b.c, in, dir, model.Internet), in.VpcID}
	if name, ok := b.policies[key]; ok {
		return name
	}
	name := b.compileDirection(in, dir)
	b.policies[key] = name
	return name
}

func (b *builder) compileDirection(in *model.Instance, dir model.Direction) string {
	if !b.c.Classic(in) {
		return b.chain(dir, b.programRules(b.c.Program(in, dir, model.Intranet)))
	}
	// Classic groups keep a rule set per path: dispatch on whether the remote
	// address belongs to the instance's network.
	lan := b.chain(dir, b.programRules(b.c.Program(in, dir, model.Intranet)))
	wan := b.chain(dir, b.programRules(b.c.Program(in, dir, model.Internet)))
	if lan == wan {
		return lan
	}
	var rules []Rule
	for _, fam := range []Family{IPv4, IPv6} {
		set := b.networkSet(in.VpcID, fam)
		rules = append(rules, Rule{Family: fam, Addrs: []AddrMatch{{Dst: dir == model.Egress, Set: set}},
			Verdict: Verdict{Kind: Goto, Chain: lan}})
	}
	rules = append(rules, Rule{Verdict: Verdict{Kind: Goto, Chain: wan}})
	return b.chain(dir, rules)
}

// chain registers a chain with the given rules and returns its name, a hash
// of its content: equal chains are one chain.
func (b *builder) chain(dir model.Direction, rules []Rule) string {
	name := chainName(dirPrefix(dir), rules)
	if _, ok := b.chains[name]; !ok {
		b.chains[name] = &Chain{Name: name, Rules: rules}
	}
	return name
}

func dirPrefix(dir model.Direction) string {
	if dir == model.Ingress {
		return "in"
	}
	return "eg"
}

// programRules compiles a Program into the rules of one chain: intra-group
// grants, the rules in order, the default. An accept is a return, so that a
// packet accepted by its source's egress chain goes on to its destination's
// ingress chain.
func (b *builder) programRules(p policy.Program) []Rule {
	dst := p.Direction == model.Egress // the remote address is the destination
	var rules []Rule
	for _, g := range p.Intra {
		intra := Entry{Side: p.Direction, Reason: policy.IntraGroup, GroupID: g, Verdict: policy.Accept}
		for _, fam := range []Family{IPv4, IPv6} {
			rules = append(rules, b.decide(Rule{Family: fam, Addrs: []AddrMatch{{Dst: dst, Set: b.groupSet(g, fam)}},
				Verdict: Verdict{Kind: Return}}, intra)...)
		}
	}
	var sg []Rule
	var ents []Entry // sg's entries
	for _, pr := range p.Rules {
		for _, r := range b.sgRules(pr, p.Direction, nil) {
			sg, ents = append(sg, r), append(ents, ruleEntry(pr, p.Direction))
		}
	}
	if b.merge && len(sg) <= maxMergeRules {
		rules = append(rules, b.mergeRuns(sg, ents, dst)...)
	} else {
		for i, r := range sg {
			rules = append(rules, b.decide(r, ents[i])...)
		}
	}
	return append(rules, b.decide(Rule{Verdict: verdictOf(p.Default.Verdict)}, defaultEntry(p))...)
}

func verdictOf(v policy.Verdict) Verdict {
	if v == policy.Drop {
		return Verdict{Kind: Drop}
	}
	return Verdict{Kind: Return}
}
