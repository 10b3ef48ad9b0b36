package audit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Rule checks read what one rule says (with, where it matters, the other
// rules of its group). Whether the rule decides anything once all of an
// instance's groups are pooled is the exposure checks' business; here an
// accept is skipped only when a drop of its own group, evaluated first,
// covers it entirely, so that "deny first" groups are not flagged.

func init() {
	register(
		Check{ID: "SGA-007", Title: "Ingress accepted from a public range other than 0.0.0.0/0", Severity: Medium, Run: publicSources},
		Check{ID: "SGA-008", Title: "ICMP open to all", Severity: Low, Run: icmpOpen},
		Check{ID: "SGA-009", Title: "Unrestricted egress", Severity: Medium, Run: openEgress},
		Check{ID: "SGA-010", Title: "Over-broad internal rule", Severity: Medium, Run: broadInternal},
		Check{ID: "SGA-011", Title: "Internal access granted by CIDR where a group reference would do", Severity: Info, Run: cidrForGroup},
		Check{ID: "SGA-012", Title: "Intra-group communication open", Severity: Low, Run: intraOpen},
		Check{ID: "SGA-026", Title: "Dangling reference to a group or prefix list", Severity: Medium, Run: dangling},
	)
}

// nonPublic are the blocks that are not internet addresses. RFC 6598 shared
// space is among them because Alibaba Cloud's own services use it (SLB health
// checks from 100.64.0.0/10, metadata at 100.100.100.200). In IPv6 the
// internet is global unicast, 2000::/3 (every block IANA allocates for it
// lies there), so the rest of the family is not: loopback, IPv4-mapped and
// NAT64 in ::/3, unique local fc00::/7 and link-local fe80::/10 in
// 8000::/1 with multicast, and reserved space. The documentation blocks
// (IPv4's TEST-NETs, 2001:db8::/32) stay public: examples use them for
// public addresses, and no network uses them for its own private ones.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), // the three RFC 1918 blocks come first: see rfc1918
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::/3"), // IPv6 outside 2000::/3
	netip.MustParsePrefix("4000::/2"),
	netip.MustParsePrefix("8000::/1"),
}

var rfc1918 = nonPublic[:3]

// covers reports whether block a contains all of block b.
func covers(a, b netip.Prefix) bool {
	return a.Bits() <= b.Bits() && a.Masked().Contains(b.Addr())
}

func isPrivate(p netip.Prefix) bool {
	return slices.ContainsFunc(nonPublic, func(b netip.Prefix) bool { return covers(b, p) })
}

func isAnywhere(p netip.Prefix) bool { return p.IsValid() && p.Bits() == 0 }

// peerBlocks returns the blocks a CIDR or prefix-list peer stands for (nil
// for a group peer or a list the snapshot lacks).
func peerBlocks(c *policy.Cloud, r *model.Rule) []netip.Prefix { return c.PeerPrefixes(&r.Peer) }

// allPorts reports whether a rule admits every port of what it matches: any
// protocol, or TCP/UDP on 1-65535 from any source port.
func allPorts(r *model.Rule) bool {
	return r.Protocol == model.ALL ||
		r.Protocol.HasPorts() && r.PortRange.Start <= 1 && r.PortRange.End >= 65535 && r.SourcePortRange.IsAny()
}

// allPortsOf is allPorts with a port range list read from the cloud: a
// list whose ranges together hold every port admits all of them.
func allPortsOf(c *policy.Cloud, r *model.Rule) bool {
	if r.PortRangeListID == "" || !r.Protocol.HasPorts() || !r.SourcePortRange.IsAny() {
		return allPorts(r)
	}
	ranges := slices.Clone(c.DestPorts(r))
	slices.SortFunc(ranges, func(a, b model.PortRange) int { return cmp.Compare(a.Start, b.Start) })
	next := 1 // the first port no range seen holds
	for _, p := range ranges {
		if p.IsAny() {
			return true
		}
		if int(p.Start) > next {
			return false
		}
		next = max(next, int(p.End)+1)
	}
	return next > 65535
}

// admitsTCP reports whether a rule matches TCP traffic to port (from some
// source port: the remote end picks it).
func admitsTCP(c *policy.Cloud, r *model.Rule, port uint16) bool {
	return r.Protocol == model.ALL || r.Protocol == model.TCP &&
		slices.ContainsFunc(c.DestPorts(r), func(p model.PortRange) bool { return p.Contains(port) })
}

// clipPorts narrows lo..hi to the destination ports a rule with ports
// admits (the hull of its port range list's ranges within lo..hi); false
// when it admits none of them.
func clipPorts(c *policy.Cloud, r *model.Rule, lo, hi uint16) (uint16, uint16, bool) {
	nlo, nhi, hit := uint16(65535), uint16(0), false
	for _, p := range c.DestPorts(r) {
		plo, phi := lo, hi
		if !p.IsAny() {
			plo, phi = max(lo, uint16(p.Start)), min(hi, uint16(p.End))
		}
		if plo <= phi {
			nlo, nhi, hit = min(nlo, plo), max(nhi, phi), true
		}
	}
	return nlo, nhi, hit
}

// hiddenByDrop reports whether accept rule r can never decide because a drop
// of the same group that the group's Program runs first matches everything
// r matches (policy.Covers).
func hiddenByDrop(g *model.SecurityGroup, r *model.Rule) bool {
	if r.Policy != model.Accept {
		return false
	}
	order := policy.Order([]*model.SecurityGroup{g}, r.Direction, r.NicType)
	k := slices.IndexFunc(order, func(d policy.ProgramRule) bool { return d.Rule == r })
	if k < 0 {
		k = len(order) // not in its own order: every drop of it counts
	}
	return hiddenAt(order, k, r)
}

// hiddenAt reports whether a drop among the first k rules of an
// evaluation order covers r. (hiddenByDrop and its memoised form,
// Input.hiddenByDrop, share it.)
func hiddenAt(order []policy.ProgramRule, k int, r *model.Rule) bool {
	return slices.ContainsFunc(order[:k], func(d policy.ProgramRule) bool {
		return d.Policy == model.Drop && policy.Covers(d.Rule, r)
	})
}

// live reports whether r is an accept of direction dir that is not hidden.
func live(g *model.SecurityGroup, r *model.Rule, dir model.Direction) bool {
	return r.Direction == dir && r.Policy == model.Accept && !hiddenByDrop(g, r)
}

// groupsByID returns the cloud's groups in ID order, so findings come out
// in a stable order.
func groupsByID(c *policy.Cloud) []*model.SecurityGroup {
	out := make([]*model.SecurityGroup, 0, len(c.Groups))
	for _, g := range c.Groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *model.SecurityGroup) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func instancesByID(c *policy.Cloud) []*model.Instance {
	out := make([]*model.Instance, 0, len(c.Instances))
	for _, in := range c.Instances {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *model.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// eachRule calls fn for every rule, groups in ID order, rules in group order.
func eachRule(c *policy.Cloud, fn func(g *model.SecurityGroup, r *model.Rule)) {
	for _, g := range groupsByID(c) {
		for i := range g.Rules {
			fn(g, &g.Rules[i])
		}
	}
}

func ruleFinding(check string, sev Severity, g *model.SecurityGroup, r *model.Rule, msg, fix string) Finding {
	return Finding{Check: check, Severity: sev, Resource: g.ID, RuleID: r.ID, Message: msg, Fix: fix}
}

// ruleName names a rule in a message: its ID, or its content when it has none.
func ruleName(g *model.SecurityGroup, r *model.Rule) string {
	// Without fmt: a big audit names some hundred thousand rules.
	if r.ID != "" {
		return "rule " + r.ID + " of " + g.ID
	}
	return "the " + string(r.Direction) + " " + string(r.Policy) + " rule of " + g.ID + " (priority " + strconv.Itoa(r.Priority) + ")"
}

// ruleTitle is ruleName capitalized, as a sentence starts.
func ruleTitle(g *model.SecurityGroup, r *model.Rule) string {
	if r.ID != "" {
		return "Rule " + r.ID + " of " + g.ID
	}
	return capitalize(ruleName(g, r))
}

// what says what traffic a rule matches, e.g. "TCP port 22" or "all traffic".
func what(r *model.Rule) string {
	switch {
	case r.Protocol == model.ALL:
		return "all traffic"
	case !r.Protocol.HasPorts():
		return string(r.Protocol)
	case r.PortRangeListID != "":
		return string(r.Protocol) + " on the ports of list " + r.PortRangeListID
	case allPorts(r):
		return string(r.Protocol) + " on all ports"
	case r.PortRange.Start == r.PortRange.End:
		return string(r.Protocol) + " port " + strconv.Itoa(int(r.PortRange.Start))
	}
	return string(r.Protocol) + " ports " + strconv.Itoa(int(r.PortRange.Start)) + "-" + strconv.Itoa(int(r.PortRange.End))
}

// peerName names a rule's peer, and the block of a prefix list at issue.
func peerName(r *model.Rule, block netip.Prefix) string {
	switch {
	case r.Peer.CIDR.IsValid():
		return r.Peer.CIDR.String()
	case r.Peer.GroupID != "":
		return "group " + r.Peer.GroupID
	case block.IsValid():
		return fmt.Sprintf("prefix list %s (entry %s)", r.Peer.PrefixListID, block)
	}
	return "prefix list " + r.Peer.PrefixListID
}

// SGA-007: a public source other than anywhere (a block that alone is
// the internet, as 2000::/3 is: see internet.go). Wide blocks (IPv4 /1-/23,
// IPv6 /4-/47: more than a site) are medium; a narrower public block is
// usually an office or partner address, so it is only low: confirm it.
func publicSources(in *Input) []Finding {
	var out []Finding
	eachRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		if !in.live(g, r, model.Ingress) {
			return
		}
		var widest netip.Prefix
		for _, b := range peerBlocks(in.Cloud, r) {
			if Internet(b) || isPrivate(b) { // the internet is the exposure checks'
				continue
			}
			if !widest.IsValid() || b.Bits() < widest.Bits() {
				widest = b
			}
		}
		if !widest.IsValid() {
			return
		}
		wideBits := 24
		if widest.Addr().Is6() {
			wideBits = 48
		}
		if widest.Bits() < wideBits {
			out = append(out, ruleFinding("SGA-007", Medium, g, r,
				fmt.Sprintf("%s accepts %s from %s, a wide public range (/%d).", ruleTitle(g, r), what(r), peerName(r, widest), widest.Bits()),
				"Narrow the source to the addresses that need access (for example the office's egress addresses as /32 blocks), kept in a prefix list if there are several."))
			return
		}
		out = append(out, ruleFinding("SGA-007", Low, g, r,
			fmt.Sprintf("%s accepts %s from the public block %s.", ruleTitle(g, r), what(r), peerName(r, widest)),
			"Confirm the block belongs to you or a trusted partner and say so in the rule's description; revoke the rule otherwise."))
	})
	return out
}

// SGA-008: ICMP from anywhere. An ALL rule from anywhere opens ICMP too but
// is SGA-001's (critical) finding, so only ICMP rules are judged here.
func icmpOpen(in *Input) []Finding {
	var out []Finding
	eachRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		if r.Protocol != model.ICMP && r.Protocol != model.ICMPv6 || !in.live(g, r, model.Ingress) {
			return
		}
		if b := internetBlock(in.Cloud, r); b.IsValid() {
			out = append(out, ruleFinding("SGA-008", Low, g, r,
				fmt.Sprintf("%s accepts %s from %s: anyone on the internet can ping the group's members and map them.", ruleTitle(g, r), r.Protocol, peerName(r, b)),
				"Restrict the source to the networks that need to ping (monitoring, office), or revoke the rule."))
		}
	})
	return out
}

// internetBlock returns a block of a rule's peer that alone is the
// internet (0.0.0.0/0, ::/0, 2000::/3 …: see Internet), if any.
func internetBlock(c *policy.Cloud, r *model.Rule) netip.Prefix {
	for _, b := range peerBlocks(c, r) {
		if Internet(b) {
			return b
		}
	}
	return netip.Prefix{}
}

// anywhereBlock returns the 0.0.0.0/0 or ::/0 block a rule's peer holds,
// if any.
func anywhereBlock(c *policy.Cloud, r *model.Rule) netip.Prefix {
	for _, b := range peerBlocks(c, r) {
		if isAnywhere(b) {
			return b
		}
	}
	return netip.Prefix{}
}

// SGA-009: all traffic to anywhere. An explicit rule is medium in either
// group type; in a basic group it also overrides the egress drops evaluated
// after it, and revoking it restricts nothing, since basic groups accept all
// outbound traffic by default. That default is reported (low) for basic
// groups whose members have no catch-all egress drop in any of their groups.
func openEgress(in *Input) []Finding {
	var out []Finding
	explicit := map[string]bool{}
	eachRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		if r.Protocol != model.ALL || r.Local.IsValid() || !in.live(g, r, model.Egress) {
			return
		}
		b := internetBlock(in.Cloud, r)
		if !b.IsValid() {
			return
		}
		explicit[g.ID] = true
		if g.Type == model.Enterprise {
			out = append(out, ruleFinding("SGA-009", Medium, g, r,
				fmt.Sprintf("%s accepts all outbound traffic to %s, undoing the enterprise group's default of dropping outbound traffic.", ruleTitle(g, r), peerName(r, b)),
				"Revoke it and accept only the destinations and ports the members need (for example TCP 443 to the update mirrors)."))
			return
		}
		out = append(out, ruleFinding("SGA-009", Medium, g, r,
			fmt.Sprintf("%s accepts all outbound traffic to %s, and at priority %d it overrides every egress drop evaluated after it; a basic group accepts all outbound traffic by default anyway.", ruleTitle(g, r), peerName(r, b), r.Priority),
			"Revoking the rule is not enough in a basic group: also add an egress drop of ALL to 0.0.0.0/0 (and ::/0) at priority 100 and accept the needed destinations at a higher priority, or move the members to an enterprise group."))
	})
	for _, g := range groupsByID(in.Cloud) {
		if g.Type != model.Normal || explicit[g.ID] {
			continue
		}
		open := 0
		for _, m := range in.Cloud.Members(g.ID) {
			if !egressClosed(in.Cloud, m) {
				open++
			}
		}
		if open > 0 {
			out = append(out, Finding{Check: "SGA-009", Severity: Low, Resource: g.ID,
				Message: fmt.Sprintf("Basic group %s has %d member(s) whose groups hold no egress drop of all traffic to 0.0.0.0/0 (and to ::/0 for a member with IPv6), so every outbound flow no rule drops is accepted, as basic groups do by default.", g.ID, open),
				Fix:     "Add an egress drop of ALL to 0.0.0.0/0 (and ::/0 for IPv6 members) at priority 100, and accept only the destinations the members need at a higher priority."})
		}
	}
	return out
}

// egressClosed reports whether an instance's groups hold an egress drop of
// all traffic to the internet (a block that alone is), for each address
// family it has.
func egressClosed(c *policy.Cloud, in *model.Instance) bool {
	var v4, v6 bool
	for _, g := range c.GroupsOf(in) {
		for i := range g.Rules {
			r := &g.Rules[i]
			if r.Direction != model.Egress || r.Policy != model.Drop || r.Protocol != model.ALL || r.Local.IsValid() {
				continue
			}
			for _, b := range peerBlocks(c, r) {
				if Internet(b) {
					v4, v6 = v4 || b.Addr().Is4(), v6 || b.Addr().Is6()
				}
			}
		}
	}
	return v4 && (v6 || !in.IPv6.IsValid())
}

// SGA-010: an internal rule (its peer a group, private blocks only, or the
// classic intranet) that accepts all ports or a whole RFC 1918 block. On the
// classic network an intranet rule from 0.0.0.0/0 admits every classic
// instance of every account in the region: high.
func broadInternal(in *Input) []Finding {
	var out []Finding
	eachRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		if r.Peer.GroupID == g.ID || !in.live(g, r, model.Ingress) { // self is SGA-012's
			return
		}
		blocks := peerBlocks(in.Cloud, r)
		classicIntranet := g.Classic() && r.NicType == model.Intranet
		internal := r.Peer.GroupID != "" || len(blocks) > 0 && !slices.ContainsFunc(blocks, func(b netip.Prefix) bool { return !isPrivate(b) })
		if !internal && !classicIntranet {
			return
		}
		// Here every address matters, not the internet: the classic
		// intranet's addresses are private.
		if b := anywhereBlock(in.Cloud, r); classicIntranet && b.IsValid() {
			out = append(out, ruleFinding("SGA-010", High, g, r,
				fmt.Sprintf("%s accepts %s on the classic intranet from %s, which admits every classic instance in the region, other accounts' included.", ruleTitle(g, r), what(r), peerName(r, b)),
				"Name the peer security groups (SourceGroupId) instead of a CIDR block on classic intranet rules, and plan the move to a VPC (see SGA-030)."))
			return
		}
		var why []string
		if allPortsOf(in.Cloud, r) {
			why = append(why, "on all ports")
		}
		for _, b := range blocks {
			if i := slices.IndexFunc(rfc1918, func(p netip.Prefix) bool { return covers(b, p) }); i >= 0 {
				why = append(why, "from the whole of "+rfc1918[i].String())
				break
			}
		}
		if len(why) == 0 {
			return
		}
		out = append(out, ruleFinding("SGA-010", Medium, g, r,
			fmt.Sprintf("%s accepts internal traffic %s (%s from %s).", ruleTitle(g, r), strings.Join(why, " and "), what(r), peerName(r, netip.Prefix{})),
			"Accept only the ports the service uses, from the security group of the instances that call it (SourceGroupId) or from the vSwitch blocks they live in."))
	})
	return out
}

// SGA-011: a CIDR peer whose addresses, among the instances of the group's
// network, are exactly the members of one basic group: naming that group
// follows the instances as they come and go. Enterprise groups cannot name
// group peers, and a group at its group-peer quota cannot take another.
func cidrForGroup(in *Input) []Finding {
	c := in.Cloud
	bySet := map[string][]string{} // sorted member IDs → basic groups with exactly those members
	sizes := map[int]bool{}        // the sizes of those member sets
	for _, g := range groupsByID(c) {
		if ms := c.Members(g.ID); g.Type == model.Normal && len(ms) > 0 {
			k := memberKey(ms)
			bySet[k] = append(bySet[k], g.ID)
			sizes[len(ms)] = true
		}
	}
	if len(bySet) == 0 {
		return nil // no basic group with members: no rule to replace
	}
	// Each network's instance addresses, sorted, so that a CIDR finds the
	// instances it holds by a search rather than a scan of the network.
	type addrOf struct {
		addr netip.Addr
		inst *model.Instance
	}
	// For a tenant (PerAccount), the instances of its network are its own:
	// the classic network's others are outside to it, as in the
	// reachability, and counting them told it which addresses their groups
	// hold (the finding named another account's group).
	type netKey struct{ owner, vpc string }
	keyOf := func(owner, vpc string) netKey {
		if !in.Options.PerAccount {
			owner = ""
		}
		return netKey{owner, vpc}
	}
	nets := map[netKey][]addrOf{}
	for _, inst := range in.instancesByID() {
		k := keyOf(inst.Owner, inst.VpcID)
		for _, a := range inst.Addresses() {
			nets[k] = append(nets[k], addrOf{a, inst})
		}
	}
	for _, as := range nets {
		slices.SortFunc(as, func(a, b addrOf) int { return a.addr.Compare(b.addr) })
	}
	var out []Finding
	var hit []*model.Instance
	eachRule(c, func(g *model.SecurityGroup, r *model.Rule) {
		// A classic internet rule sees public addresses, never the members'
		// private ones, and cannot name a group (the API refuses it).
		if g.Type != model.Normal || r.Policy != model.Accept || !r.Peer.CIDR.IsValid() || Internet(r.Peer.CIDR) ||
			r.NicType == model.Internet || g.GroupPeerRules() >= model.MaxGroupPeerRules {
			return
		}
		block := r.Peer.CIDR.Masked()
		as := nets[keyOf(g.Owner, g.VpcID)]
		k, _ := slices.BinarySearchFunc(as, block.Addr(), func(a addrOf, t netip.Addr) int { return a.addr.Compare(t) })
		hit = hit[:0]
		for ; k < len(as) && block.Contains(as[k].addr); k++ {
			hit = append(hit, as[k].inst)
		}
		// A NIC may have several addresses of a family (secondary ones):
		// each instance counts once.
		slices.SortFunc(hit, func(a, b *model.Instance) int { return strings.Compare(a.ID, b.ID) })
		hit = slices.Compact(hit)
		if len(hit) == 0 || !sizes[len(hit)] {
			return
		}
		// Members of the rule's own group, which its InnerAccessPolicy
		// Accept already lets reach each other: the rule admits none of
		// them, and a rule naming any group of theirs would be shadowed.
		if g.InnerAccept() && !slices.ContainsFunc(hit, func(in *model.Instance) bool { return !slices.Contains(in.SecurityGroups, g.ID) }) {
			return
		}
		for _, id := range bySet[memberKey(hit)] {
			if c.Groups[id].VpcID != g.VpcID {
				continue
			}
			field := "SourceGroupId"
			if r.Direction == model.Egress {
				field = "DestGroupId"
			}
			out = append(out, ruleFinding("SGA-011", Info, g, r,
				fmt.Sprintf("%s names %s, which among the instances of its network covers exactly the %d member(s) of %s.", ruleTitle(g, r), r.Peer.CIDR, len(hit), id),
				fmt.Sprintf("If the rule is meant for those instances, replace it with the same rule naming %s=%s, which keeps following the members as they change; keep the CIDR if it is also meant for addresses outside the instances (a VPN range, for example).", field, id)))
			return
		}
	})
	return out
}

func memberKey(ms []*model.Instance) string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// SGA-012: members of a basic group reach each other on everything, by
// InnerAccessPolicy Accept (judged when there are two members or more) or
// by an all-ports rule whose peer is the group itself.
func intraOpen(in *Input) []Finding {
	var out []Finding
	for _, g := range groupsByID(in.Cloud) {
		if n := len(in.Cloud.Members(g.ID)); g.InnerAccept() && n >= 2 {
			out = append(out, Finding{Check: "SGA-012", Severity: Low, Resource: g.ID,
				Message: fmt.Sprintf("Basic group %s lets its %d members reach each other on every protocol and port (InnerAccessPolicy Accept).", g.ID, n),
				Fix:     "If the members need not talk to each other, set InnerAccessPolicy to Drop (ModifySecurityGroupPolicy) and accept only the ports they use with a rule whose peer is the group itself."})
		}
		for i := range g.Rules {
			r := &g.Rules[i]
			if r.Peer.GroupID == g.ID && allPortsOf(in.Cloud, r) && in.live(g, r, model.Ingress) {
				out = append(out, ruleFinding("SGA-012", Low, g, r,
					fmt.Sprintf("%s accepts %s from the group's own members.", ruleTitle(g, r), what(r)),
					"Accept only the protocols and ports the members use between themselves, or revoke the rule if they need not talk."))
			}
		}
	}
	return out
}

// SGA-026: a peer group or prefix list the snapshot does not hold (deleted,
// or another account's), or a peer group the rule may not name. Evaluation
// treats such a rule as matching nothing, so what it was meant to allow or
// deny is unknown. Instances naming a missing group are reported too.
func dangling(in *Input) []Finding {
	c := in.Cloud
	var out []Finding
	eachRule(c, func(g *model.SecurityGroup, r *model.Rule) {
		switch {
		case r.Peer.GroupID != "":
			peer, ok := c.Groups[r.Peer.GroupID]
			switch {
			case !ok && r.Peer.GroupOwner != "" && r.Peer.GroupOwner != g.Owner:
				out = append(out, ruleFinding("SGA-026", Medium, g, r,
					fmt.Sprintf("%s names group %s of account %s, which this audit cannot see, so the rule is judged as matching nothing.", ruleTitle(g, r), r.Peer.GroupID, r.Peer.GroupOwner),
					fmt.Sprintf("Confirm with account %s that %s still exists and should have this access, and include that account's groups in the audit; revoke the rule otherwise.", r.Peer.GroupOwner, r.Peer.GroupID)))
			case !ok:
				out = append(out, ruleFinding("SGA-026", Medium, g, r,
					fmt.Sprintf("%s names group %s, which does not exist, so the rule matches nothing.", ruleTitle(g, r), r.Peer.GroupID),
					"Revoke the rule (by its SecurityGroupRuleId), or point it at the group that should have this access."))
			default:
				if e := model.CheckGroupPeer(g, peer, r.Direction); e != nil {
					out = append(out, ruleFinding("SGA-026", Medium, g, r,
						fmt.Sprintf("%s names group %s, which it cannot reference: %s", ruleTitle(g, r), peer.ID, e.Message),
						"Revoke the rule and grant the access by a CIDR block or prefix list, or by a group of the same VPC and type."))
				}
			}
		case r.Peer.PrefixListID != "":
			if _, ok := c.PrefixLists[r.Peer.PrefixListID]; !ok {
				out = append(out, ruleFinding("SGA-026", Medium, g, r,
					fmt.Sprintf("%s names prefix list %s, which does not exist in this audit, so the rule matches nothing.", ruleTitle(g, r), r.Peer.PrefixListID),
					"Revoke the rule or point it at an existing prefix list; if the list exists, include prefix lists in the audit's input."))
			}
		}
	})
	for _, inst := range in.instancesByID() {
		for _, id := range inst.SecurityGroups {
			if _, ok := c.Groups[id]; !ok {
				out = append(out, Finding{Check: "SGA-026", Severity: Medium, Resource: inst.ID,
					Message: fmt.Sprintf("Instance %s is in group %s, which this audit does not hold, so that group's rules are not judged.", inst.ID, id),
					Fix:     "Include the group in the audit's input, or remove the instance from it if it no longer exists."})
			}
		}
	}
	return out
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	if c := s[0]; 'a' <= c && c <= 'z' {
		return string(rune(c-'a'+'A')) + s[1:]
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
