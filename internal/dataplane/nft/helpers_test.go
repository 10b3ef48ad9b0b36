package nft

import (
	"fmt"
	"net/netip"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// rule builds a rule through model.ParseRule, as the API does. peer is a
// CIDR, a group ID (sg-…) or a prefix-list ID (pl-…).
func rule(id string, dir model.Direction, pol model.Policy, prio int, proto model.Protocol, ports, peer string) model.Rule {
	in := model.RuleInput{Policy: string(pol), Priority: fmt.Sprint(prio), IpProtocol: string(proto), PortRange: ports}
	ingress := dir == model.Ingress
	switch {
	case len(peer) > 3 && peer[:3] == "sg-":
		if ingress {
			in.SourceGroupId = peer
		} else {
			in.DestGroupId = peer
		}
	case len(peer) > 3 && peer[:3] == "pl-":
		if ingress {
			in.SourcePrefixListId = peer
		} else {
			in.DestPrefixListId = peer
		}
	default:
		six := netip.MustParsePrefix(peer).Addr().Is6()
		switch {
		case ingress && six:
			in.Ipv6SourceCidrIp = peer
		case ingress:
			in.SourceCidrIp = peer
		case six:
			in.Ipv6DestCidrIp = peer
		default:
			in.DestCidrIp = peer
		}
	}
	r, _, err := model.ParseRule(dir, in, false)
	if err != nil {
		panic(fmt.Sprintf("rule %s: %v", id, err))
	}
	r.ID = id
	return r
}

// inst places an instance on host "h1" behind the given interface.
func inst(id, vpc, ip, iface string, groups ...string) *model.Instance {
	in := &model.Instance{ID: id, VpcID: vpc, PrivateIP: netip.MustParseAddr(ip), SecurityGroups: groups,
		Host: "h1", Interface: iface}
	return in
}

func group(id, vpc string, typ model.GroupType, inner string, rules ...model.Rule) *model.SecurityGroup {
	return &model.SecurityGroup{ID: id, VpcID: vpc, Type: typ, InnerAccessPolicy: inner, Rules: rules}
}

// webCloud is a small VPC cloud: web servers open on 80 and to the app tier
// on 5432, an app tier, an enterprise instance; i-far is on another host.
func webCloud() (*policy.Cloud, []*model.SecurityGroup, []*model.Instance) {
	groups := []*model.SecurityGroup{
		group("sg-web", "vpc-a", model.Normal, model.InnerAccept,
			rule("sgr-http", model.Ingress, model.Accept, 1, model.TCP, "80/80", "0.0.0.0/0"),
			rule("sgr-pg", model.Ingress, model.Accept, 1, model.TCP, "5432/5432", "sg-app"),
			rule("sgr-deny-ssh", model.Ingress, model.Drop, 1, model.TCP, "22/22", "10.9.0.0/16"),
			rule("sgr-ssh", model.Ingress, model.Accept, 2, model.TCP, "22/22", "10.0.0.0/8")),
		group("sg-app", "vpc-a", model.Normal, model.InnerDrop),
		group("sg-ent", "vpc-a", model.Enterprise, model.InnerDrop,
			rule("sgr-out", model.Egress, model.Accept, 1, model.TCP, "443/443", "203.0.113.0/24")),
	}
	ins := []*model.Instance{
		inst("i-web1", "vpc-a", "10.0.1.10", "pi-web1", "sg-web"),
		inst("i-web2", "vpc-a", "10.0.1.11", "pi-web2", "sg-web"),
		inst("i-app", "vpc-a", "10.0.2.10", "pi-app", "sg-app"),
		inst("i-ent", "vpc-a", "10.0.3.10", "pi-ent", "sg-ent"),
		inst("i-far", "vpc-a", "10.0.4.10", "pi-far", "sg-app"),
	}
	ins[4].Host = "h2"
	return policy.NewCloud(groups, ins, nil), groups, ins
}

// set returns the set with the given name, nil if none.
func (rs *Ruleset) set(name string) *Set {
	for i := range rs.Sets {
		if rs.Sets[i].Name == name {
			return &rs.Sets[i]
		}
	}
	return nil
}
