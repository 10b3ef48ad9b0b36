package nft

import (
	"net/netip"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// BuildLinear returns the same policy laid out the way iptables-based
// firewalls do it, as a baseline for benchmarks: one flat chain per
// direction holding every instance's rules, each matching the interface
// inline, with group members and networks expanded into anonymous sets. No
// maps, no named sets: a packet walks the rules of every instance before
// its own. Verdicts are the same as Build's.
func BuildLinear(c *policy.Cloud, host string, o Options) *Ruleset {
	b := newBuilder(c, true)
	var egRules, inRules []Rule
	for _, in := range b.placed(host) {
		egRules = append(egRules, b.linearDirection(in, model.Egress)...)
		inRules = append(inRules, b.linearDirection(in, model.Ingress)...)
	}
	if o.InterfacePrefix != "" {
		// Every instance's rules end with its default verdict, so only the
		// interfaces no instance owns get this far.
		unknown := Iface{Name: o.InterfacePrefix, Wildcard: true}
		egRules = append(egRules, Rule{IIF: unknown, Verdict: Verdict{Kind: Drop}})
		inRules = append(inRules, Rule{OIF: unknown, Verdict: Verdict{Kind: Drop}})
	}
	egName, inName := chainName("linear-eg", egRules), chainName("linear-in", inRules)
	b.chains[egName] = &Chain{Name: egName, Rules: egRules}
	b.chains[inName] = &Chain{Name: inName, Rules: inRules}
	base := []Rule{
		{CtState: CtEstablishedRelated, Verdict: Verdict{Kind: Accept}},
		{CtState: CtInvalid, Verdict: Verdict{Kind: Drop}},
		midstream,
		{Verdict: Verdict{Kind: Jump, Chain: egName}},
		{Verdict: Verdict{Kind: Jump, Chain: inName}},
	}
	return b.ruleset(o, base)
}

// linearDirection returns one direction of an instance's policy as rules of
// the flat chain: each matches the instance's interface; classic instances'
// rules also match whether the remote address is in their network.
func (b *builder) linearDirection(in *model.Instance, dir model.Direction) []Rule {
	iface := func(r Rule) Rule {
		if dir == model.Egress {
			r.IIF = Iface{Name: in.Interface}
		} else {
			r.OIF = Iface{Name: in.Interface}
		}
		return r
	}
	dst := dir == model.Egress
	lan := b.c.Program(in, dir, model.Intranet)
	var rules []Rule
	for _, g := range lan.Intra {
		for _, fam := range []Family{IPv4, IPv6} {
			if addrs := b.groupAddrs(g, fam); len(addrs) > 0 {
				rules = append(rules, iface(Rule{Family: fam, Addrs: []AddrMatch{anon(dst, addrs, false)}, Verdict: Verdict{Kind: Return}}))
			}
		}
	}
	add := func(p policy.Program, extra func(Family) ([]AddrMatch, bool)) {
		for _, pr := range p.Rules {
			for _, r := range b.sgRules(pr, dir, extra) {
				rules = append(rules, iface(r))
			}
		}
	}
	if !b.c.Classic(in) {
		add(lan, nil)
	} else {
		// The two paths' rules exclude each other, so their relative order
		// does not matter.
		net := func(fam Family) []netip.Addr { return b.networkAddrs(in.VpcID, fam) }
		add(lan, func(fam Family) ([]AddrMatch, bool) {
			addrs := net(fam)
			if len(addrs) == 0 {
				return nil, false
			}
			return []AddrMatch{anon(dst, addrs, false)}, true
		})
		add(b.c.Program(in, dir, model.Internet), func(fam Family) ([]AddrMatch, bool) {
			if addrs := net(fam); len(addrs) > 0 {
				return []AddrMatch{anon(dst, addrs, true)}, true
			}
			return nil, true
		})
	}
	return append(rules, iface(Rule{Verdict: verdictOf(lan.Default.Verdict)}))
}
