package policy

import (
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Program is one direction of one instance's policy on one path in the form
// an enforcer runs it: intra-group grants first, then the pooled rules in
// evaluation order (the first match decides), then the default. Running a
// packet through a Program (see Run) decides exactly as the evaluators do;
// the agent compiles Programs to nftables and the analyzers read them, so
// neither restates the ordering or the defaults.
type Program struct {
	Direction model.Direction
	NIC       model.NicType
	// Intra lists the basic groups with InnerAccessPolicy Accept, in the
	// instance's order: a remote address of one of their members is
	// accepted before any rule is consulted.
	Intra []string
	Rules []ProgramRule
	// Default decides when no rule matches.
	Default Decision
}

// ProgramRule is one rule of a Program with the group it came from.
type ProgramRule struct {
	*model.Rule
	Group *model.SecurityGroup
}

// Ref names the rule the way decisions do.
func (r ProgramRule) Ref() *RuleRef {
	return &RuleRef{GroupID: r.Group.ID, RuleID: r.Rule.ID, Priority: r.Rule.Priority,
		Policy: r.Rule.Policy, Description: r.Rule.Description}
}

// Decision is what the rule decides when it matches.
func (r ProgramRule) Decision() Decision {
	return Decision{Verdict: verdictOf(r.Rule.Policy), Reason: ByRule, Rule: r.Ref()}
}

// Program returns one direction of an instance's policy on one path. For an
// instance in a VPC the path does not matter (VPC rules apply on every path);
// classic-network groups keep separate intranet and internet rule sets.
func (c *Cloud) Program(in *model.Instance, dir model.Direction, nic model.NicType) Program {
	groups := c.groupsOf(in)
	nic = RuleSet(groups, nic)
	p := Program{Direction: dir, NIC: nic, Default: c.fallback(in, dir)}
	for _, g := range groups {
		if g.InnerAccept() {
			p.Intra = append(p.Intra, g.ID)
		}
	}
	if rules := Order(groups, dir, nic); len(rules) > 0 {
		p.Rules = rules
	}
	return p
}

// Run decides a packet by walking the program. It is the plain reference
// walk; Linear decides with it.
func (c *Cloud) Run(p *Program, pkt Packet) Decision {
	_, remote := sides(p.Direction, pkt)
	for _, g := range p.Intra {
		if c.memberAddrs[g][remote] {
			return Decision{Verdict: Accept, Reason: IntraGroup, Group: g}
		}
	}
	for _, r := range p.Rules {
		if c.RuleMatches(r.Rule, pkt, p.Direction) {
			return r.Decision()
		}
	}
	return p.Default
}

// RuleMatches reports whether a rule's conditions hold for a packet seen in
// the given direction (the remote side is the source of ingress packets and
// the destination of egress packets).
func (c *Cloud) RuleMatches(r *model.Rule, pkt Packet, dir model.Direction) bool {
	local, remote := sides(dir, pkt)
	return protoMatches(r.Protocol, pkt.Proto, remote.Is6()) && c.portsMatch(r, pkt) && localMatches(r, local) && c.peerContains(&r.Peer, remote)
}

// Covers reports whether rule d matches every packet rule r matches, by
// their conditions alone: d's protocol, ports and local CIDR contain r's,
// and its peer is a CIDR block containing r's, or the same group or prefix
// list. (A group or list peer stands for addresses that change with the
// snapshot, so only the same one counts.)
func Covers(d, r *model.Rule) bool {
	if d.Protocol != model.ALL && d.Protocol != r.Protocol {
		return false
	}
	if d.Protocol.HasPorts() && !(destPortsCover(d, r) && portsCover(d.SourcePortRange, r.SourcePortRange)) {
		return false
	}
	if d.Local.IsValid() && !(r.Local.IsValid() && prefixCovers(d.Local, r.Local)) {
		return false
	}
	switch {
	case d.Peer.CIDR.IsValid():
		return r.Peer.CIDR.IsValid() && prefixCovers(d.Peer.CIDR, r.Peer.CIDR)
	case d.Peer.GroupID != "":
		return d.Peer.GroupID == r.Peer.GroupID
	}
	return d.Peer.PrefixListID != "" && d.Peer.PrefixListID == r.Peer.PrefixListID
}

// destPortsCover compares destination ports by the rules alone: a list's
// entries change with the snapshot, so a list covers only the same list,
// and only an every-port range covers a list.
func destPortsCover(d, r *model.Rule) bool {
	switch {
	case d.PortRangeListID != "":
		return d.PortRangeListID == r.PortRangeListID
	case r.PortRangeListID != "":
		return d.PortRange.IsAny() || d.PortRange.Start <= 1 && d.PortRange.End >= 65535
	}
	return portsCover(d.PortRange, r.PortRange)
}

func portsCover(a, b model.PortRange) bool {
	return a.IsAny() || !b.IsAny() && a.Start <= b.Start && b.End <= a.End
}

func prefixCovers(a, b netip.Prefix) bool {
	return a.Bits() <= b.Bits() && a.Masked().Contains(b.Addr())
}

// Classic reports whether an instance's groups are classic-network groups,
// whose rule sets differ per path.
func (c *Cloud) Classic(in *model.Instance) bool {
	return slices.ContainsFunc(c.groupsOf(in), (*model.SecurityGroup).Classic)
}

// Enterprise reports whether an instance's groups are enterprise groups.
func (c *Cloud) Enterprise(in *model.Instance) bool { return c.enterprise(in) }

// GroupsOf returns the existing groups of an instance, in its order.
func (c *Cloud) GroupsOf(in *model.Instance) []*model.SecurityGroup { return c.groupsOf(in) }

// GroupAddrs returns, sorted, the addresses a group stands for as a rule peer
// or an intra-group grant: its members' private IPv4 and IPv6 addresses.
func (c *Cloud) GroupAddrs(groupID string) []netip.Addr {
	out := make([]netip.Addr, 0, len(c.memberAddrs[groupID]))
	for a := range c.memberAddrs[groupID] {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// PeerPrefixes returns the prefixes a CIDR or prefix-list peer stands for
// (masked, in entry order). A group peer stands for GroupAddrs instead.
func (c *Cloud) PeerPrefixes(p *model.Peer) []netip.Prefix {
	switch {
	case p.CIDR.IsValid():
		return []netip.Prefix{p.CIDR.Masked()}
	case p.PrefixListID != "":
		pl, ok := c.PrefixLists[p.PrefixListID]
		if !ok {
			return nil
		}
		out := make([]netip.Prefix, 0, len(pl.Entries))
		for _, e := range pl.Entries {
			out = append(out, e.CIDR.Masked())
		}
		return out
	}
	return nil
}

// NetworkAddrs returns, sorted, the addresses of every instance in a network
// (a VPC ID, or "" for the classic network). A packet whose remote address is
// among them travels the intranet path; any other travels the internet path.
func (c *Cloud) NetworkAddrs(vpcID string) []netip.Addr {
	var out []netip.Addr
	for k := range c.byPrivate {
		if k.net == vpcID {
			out = append(out, k.addr)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// PathOf returns the path a packet takes for an instance: intranet when the
// remote address belongs to an instance of the same network.
func (c *Cloud) PathOf(in *model.Instance, dir model.Direction, pkt Packet) model.NicType {
	_, remote := sides(dir, pkt)
	if peer, ok := c.byPrivate[netKey{in.VpcID, remote}]; ok && peer != in {
		return model.Intranet
	}
	return model.Internet
}
