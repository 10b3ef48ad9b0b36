package nft

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// This file compiles one security-group rule into nft rules.

// sgRules compiles one security-group rule: one nft rule per address family
// (and per alternative address condition) it can match. extra, if set, adds
// conditions on the remote address for a family (BuildLinear's path split);
// it returns false when the family cannot match.
func (b *builder) sgRules(pr policy.ProgramRule, dir model.Direction, extra func(Family) ([]AddrMatch, bool)) []Rule {
	r := pr.Rule
	dst := dir == model.Egress
	tmpl := Rule{Proto: r.Protocol.Number(), Counter: true, Key: RuleKey{pr.Group.ID, r.ID},
		Verdict: Verdict{Kind: Return}}
	if r.Policy == model.Drop {
		tmpl.Verdict = Verdict{Kind: Drop}
	}
	// Ports only constrain protocols that carry them (policy's portsMatch).
	// A port range list's rule is one nft rule per entry, in entry order:
	// same verdict and key, so the first that matches is the rule's
	// verdict, and a list without entries matches nothing.
	tmpls := []Rule{tmpl}
	switch {
	case r.Protocol.HasPorts() && r.PortRangeListID != "" && !b.linear:
		// One rule testing the list's named set, whose elements change in
		// place when the list does.
		set, ok := b.portSet(r.PortRangeListID)
		if !ok {
			return nil // a list the snapshot lacks: no port matches
		}
		tmpls[0].DPortSet, tmpls[0].SPort = set, ports(r.SourcePortRange)
	case r.Protocol.HasPorts():
		tmpls = tmpls[:0]
		for _, pr := range b.c.DestPorts(r) {
			t := tmpl
			t.DPort, t.SPort = ports(pr), ports(r.SourcePortRange)
			tmpls = append(tmpls, t)
		}
	}
	var out []Rule
	for _, tmpl := range tmpls {
		out = append(out, b.familyRules(tmpl, r, dst, extra)...)
	}
	return out
}

// portSet registers the named port set of a port range list: its ranges,
// sorted and merged.
func (b *builder) portSet(listID string) (string, bool) {
	l, ok := b.c.PortRangeLists[listID]
	if !ok {
		return "", false
	}
	name := "r_" + listID
	if _, ok := b.sets[name]; !ok {
		b.sets[name] = &Set{Name: name, Type: PortSet, Interval: true, Ports: mergePorts(l.Ranges())}
	}
	return name, true
}

// mergePorts sorts ranges and merges those that overlap or touch.
func mergePorts(rs []model.PortRange) []Ports {
	out := []Ports{}
	for _, r := range rs {
		out = append(out, Ports{uint16(min(max(r.Start, 0), 65535)), uint16(min(max(r.End, 0), 65535))})
	}
	slices.SortFunc(out, func(a, b Ports) int { return int(a.From) - int(b.From) })
	merged := out[:0]
	for _, p := range out {
		if n := len(merged); n > 0 && int(p.From) <= int(merged[n-1].To)+1 {
			merged[n-1].To = max(merged[n-1].To, p.To)
			continue
		}
		merged = append(merged, p)
	}
	return merged
}

// familyRules is sgRules for one port condition.
func (b *builder) familyRules(tmpl Rule, r *model.Rule, dst bool, extra func(Family) ([]AddrMatch, bool)) []Rule {
	var out []Rule
	for _, fam := range ruleFamilies(r, b.c) {
		var local []AddrMatch
		if r.Local.IsValid() && r.Local.Bits() > 0 {
			local = []AddrMatch{{Dst: !dst, Prefix: r.Local.Masked()}}
		}
		var more []AddrMatch
		if extra != nil {
			m, ok := extra(fam)
			if !ok {
				continue
			}
			more = m
		}
		for _, alt := range b.remote(&r.Peer, fam, dst) {
			nr := tmpl
			nr.Family = fam
			nr.Addrs = sortAddrs(slices.Concat(alt, more, local))
			out = append(out, nr)
		}
	}
	return out
}

// ports converts a rule's range; a range that admits every port is no
// condition at all.
func ports(r model.PortRange) Ports {
	if r.IsAny() {
		return Ports{}
	}
	clamp := func(v int32) uint16 { return uint16(min(max(v, 0), 65535)) }
	return Ports{clamp(r.Start), clamp(r.End)}
}

// ruleFamilies returns the address families a rule can match: its
// protocol's (model.Protocol.InFamily: ICMP is IPv4, ICMPv6 IPv6), and a
// CIDR (peer or local) or a prefix list has one family, a group peer
// stands for both.
func ruleFamilies(r *model.Rule, c *policy.Cloud) []Family {
	ok4, ok6 := r.Protocol.InFamily(false), r.Protocol.InFamily(true)
	only := func(p netip.Prefix) {
		if p.Addr().Is4() {
			ok6 = false
		} else {
			ok4 = false
		}
	}
	if r.Peer.CIDR.IsValid() {
		only(r.Peer.CIDR)
	}
	if r.Local.IsValid() {
		only(r.Local)
	}
	if id := r.Peer.PrefixListID; id != "" {
		has4, has6 := false, false
		if pl, ok := c.PrefixLists[id]; ok {
			has4, has6 = pl.AddressFamily != "IPv6", pl.AddressFamily == "IPv6"
			for _, p := range c.PeerPrefixes(&r.Peer) {
				has4, has6 = has4 || p.Addr().Is4(), has6 || p.Addr().Is6()
			}
		}
		ok4, ok6 = ok4 && has4, ok6 && has6
	}
	var out []Family
	if ok4 {
		out = append(out, IPv4)
	}
	if ok6 {
		out = append(out, IPv6)
	}
	return out
}

// remote returns the alternative conditions on the remote address for one
// family; each alternative becomes its own rule. An empty alternative is no
// condition (a /0 block); no alternative means the peer stands for no
// address of the family.
func (b *builder) remote(p *model.Peer, fam Family, dst bool) [][]AddrMatch {
	switch {
	case p.CIDR.IsValid():
		if p.CIDR.Bits() == 0 {
			return [][]AddrMatch{nil}
		}
		return [][]AddrMatch{{{Dst: dst, Prefix: p.CIDR.Masked()}}}
	case p.GroupID != "":
		if b.linear {
			addrs := b.groupAddrs(p.GroupID, fam)
			if len(addrs) == 0 {
				return nil
			}
			return [][]AddrMatch{{anon(dst, addrs, false)}}
		}
		return [][]AddrMatch{{{Dst: dst, Set: b.groupSet(p.GroupID, fam)}}}
	case p.PrefixListID != "":
		if _, ok := b.c.PrefixLists[p.PrefixListID]; !ok {
			return nil
		}
		prefixes := normalizePrefixes(b.c.PeerPrefixes(p), fam)
		if b.linear {
			var alts [][]AddrMatch
			for _, pf := range prefixes {
				if pf.Bits() == 0 {
					alts = append(alts, nil)
				} else {
					alts = append(alts, []AddrMatch{{Dst: dst, Prefix: pf}})
				}
			}
			return alts
		}
		name := setName("p", p.PrefixListID, fam)
		if _, ok := b.sets[name]; !ok {
			b.sets[name] = &Set{Name: name, Type: addrType(fam), Interval: true, Prefixes: prefixes}
		}
		return [][]AddrMatch{{{Dst: dst, Set: name}}}
	}
	return nil
}

// anon matches an address in a list (not in it, with not) inline: one
// address is compared, more are looked up in an anonymous set (as nft
// itself writes them).
func anon(dst bool, addrs []netip.Addr, not bool) AddrMatch {
	if len(addrs) == 1 {
		return AddrMatch{Dst: dst, Prefix: netip.PrefixFrom(addrs[0], addrs[0].BitLen()), Not: not}
	}
	return AddrMatch{Dst: dst, Anon: addrs, Not: not}
}

// groupSet registers the set of a group's member addresses of one family.
// Both families' sets exist for every referenced group, so a member gaining
// or losing an address only changes elements.
func (b *builder) groupSet(groupID string, fam Family) string {
	name := setName("g", groupID, fam)
	if _, ok := b.sets[name]; !ok {
		b.sets[name] = &Set{Name: name, Type: addrType(fam), Addrs: b.groupAddrs(groupID, fam)}
	}
	return name
}

// networkSet registers the set of addresses of a network's instances (a
// VPC, or "" for the classic network): the remote addresses of the
// intranet path.
func (b *builder) networkSet(vpcID string, fam Family) string {
	id := vpcID
	if id == "" {
		id = "classic"
	}
	name := setName("n", id, fam)
	if _, ok := b.sets[name]; !ok {
		b.sets[name] = &Set{Name: name, Type: addrType(fam), Addrs: b.networkAddrs(vpcID, fam)}
	}
	return name
}

func setName(kind, id string, fam Family) string {
	return fmt.Sprintf("%s_%s_%d", kind, id, fam)
}

func addrType(fam Family) SetType {
	if fam == IPv6 {
		return IPv6Addr
	}
	return IPv4Addr
}

// familyOf is the family of an address as the policy sees it: an
// IPv4-mapped IPv6 address is IPv6, as netip compares it.
func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// ofFamily keeps the addresses of one family, sorted and unique.
func ofFamily(addrs []netip.Addr, fam Family) []netip.Addr {
	out := []netip.Addr{} // never nil: an empty set is still a set
	for _, a := range addrs {
		if a.IsValid() && familyOf(a) == fam {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// sortAddrs puts source conditions before destination ones, the order nft
// lists them in.
func sortAddrs(m []AddrMatch) []AddrMatch {
	slices.SortStableFunc(m, func(a, b AddrMatch) int {
		switch {
		case a.Dst == b.Dst:
			return 0
		case b.Dst:
			return -1
		}
		return 1
	})
	return m
}

// groupAddrs returns a group's member addresses of one family, computed once
// per build (the linear layout asks for them once per rule).
func (b *builder) groupAddrs(groupID string, fam Family) []netip.Addr {
	return b.memo(fmt.Sprintf("g %s %d", groupID, fam), func() []netip.Addr { return ofFamily(b.c.GroupAddrs(groupID), fam) })
}

// networkAddrs returns the addresses of a network's instances of one family.
func (b *builder) networkAddrs(vpcID string, fam Family) []netip.Addr {
	return b.memo(fmt.Sprintf("n %s %d", vpcID, fam), func() []netip.Addr { return ofFamily(b.c.NetworkAddrs(vpcID), fam) })
}

func (b *builder) memo(key string, f func() []netip.Addr) []netip.Addr {
	if a, ok := b.addrs[key]; ok {
		return a
	}
	a := f()
	b.addrs[key] = a
	return a
}
