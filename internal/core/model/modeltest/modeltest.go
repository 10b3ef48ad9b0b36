// Package modeltest builds model values from compact text for test tables:
// rules validated by model.ParseRule as the API validates them, groups and
// instances.
package modeltest

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Rule builds a rule from "dir policy priority protocol ports peer [key=value…]",
// validated by model.ParseRule as the API does: dir is in or out; peer a
// CIDR block, sg-… or pl-…; keys are sport (source ports), local (the
// instance-side CIDR), nic (a classic NicType), desc (the description, with
// _ for spaces) and owner (of a peer group). A bad spec panics: it is a bug
// in the test table.
//
//	Rule("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0 desc=ssh_from_anywhere")
func Rule(id, spec string) model.Rule {
	f := strings.Fields(spec)
	if len(f) < 6 {
		panic("rule spec needs 6 fields: " + spec)
	}
	dir := model.Ingress
	if f[0] == "out" {
		dir = model.Egress
	}
	in := model.RuleInput{Policy: f[1], Priority: f[2], IpProtocol: f[3], PortRange: f[4]}
	peer4, peer6, group, pl := &in.SourceCidrIp, &in.Ipv6SourceCidrIp, &in.SourceGroupId, &in.SourcePrefixListId
	local4, local6 := &in.DestCidrIp, &in.Ipv6DestCidrIp
	if dir == model.Egress {
		peer4, peer6, group, pl = &in.DestCidrIp, &in.Ipv6DestCidrIp, &in.DestGroupId, &in.DestPrefixListId
		local4, local6 = &in.SourceCidrIp, &in.Ipv6SourceCidrIp
	}
	switch peer := f[5]; {
	case strings.HasPrefix(peer, "sg-"):
		*group = peer
	case strings.HasPrefix(peer, "pl-"):
		*pl = peer
	case strings.Contains(peer, ":"):
		*peer6 = peer
	default:
		*peer4 = peer
	}
	classic, owner := false, ""
	for _, kv := range f[6:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "desc":
			in.Description = strings.ReplaceAll(v, "_", " ")
		case "owner":
			owner = v
		case "sport":
			in.SourcePortRange = v
		case "nic":
			in.NicType, classic = v, true
		case "local":
			if strings.Contains(v, ":") {
				*local6 = v
			} else {
				*local4 = v
			}
		default:
			panic("unknown key " + kv)
		}
	}
	r, _, err := model.ParseRule(dir, in, classic)
	if err != nil {
		panic(fmt.Sprintf("%s %q: %v", id, spec, err))
	}
	r.ID, r.Peer.GroupOwner = id, owner
	return r
}

// Group builds a group: typ "basic", "isolated" (basic, InnerAccessPolicy
// Drop) or "enterprise"; vpc "" is the classic network.
func Group(id, vpc, typ string, rules ...model.Rule) *model.SecurityGroup {
	g := &model.SecurityGroup{ID: id, VpcID: vpc, Type: model.Normal, InnerAccessPolicy: model.InnerAccept, Rules: rules}
	switch typ {
	case "isolated":
		g.InnerAccessPolicy = model.InnerDrop
	case "enterprise":
		g.Type, g.InnerAccessPolicy = model.Enterprise, model.InnerDrop
	}
	return g
}

// Instance builds an instance: addrs is "private[,ipv6]".
func Instance(id, vpc, addrs string, groups ...string) *model.Instance {
	v4, v6, _ := strings.Cut(addrs, ",")
	in := &model.Instance{ID: id, VpcID: vpc, PrivateIP: netip.MustParseAddr(v4), SecurityGroups: groups}
	if v6 != "" {
		in.IPv6 = netip.MustParseAddr(v6)
	}
	return in
}

// Public gives the instance a public IPv4 address and returns it.
func Public(in *model.Instance, addr string) *model.Instance {
	in.PublicIP = netip.MustParseAddr(addr)
	return in
}

// Addr parses an address a test table names.
func Addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// PrefixList builds a prefix list of the CIDR blocks (IPv6 if any is).
func PrefixList(id string, maxEntries int, cidrs ...string) *model.PrefixList {
	pl := &model.PrefixList{ID: id, MaxEntries: maxEntries, AddressFamily: "IPv4"}
	for _, c := range cidrs {
		p := netip.MustParsePrefix(c)
		if p.Addr().Is6() {
			pl.AddressFamily = "IPv6"
		}
		pl.Entries = append(pl.Entries, model.PrefixEntry{CIDR: p})
	}
	return pl
}
