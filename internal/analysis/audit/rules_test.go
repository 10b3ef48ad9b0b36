package audit

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

const (
	vpcA = "vpc-a"
	vpcB = "vpc-b"
)

// one is a cloud of a single basic VPC group with one member.
func one(rules ...model.Rule) world {
	return world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, rules...)},
		insts: []*model.Instance{vm("i-a", vpcA, "10.0.1.5", "sg-a")}}
}

func TestPublicSources(t *testing.T) {
	withList := one(rl("sgr-pl", "in accept 1 TCP 443/443 pl-office"))
	withList.pls = []*model.PrefixList{plist("pl-office", 10, "10.1.0.0/16", "8.8.0.0/16")}
	runCases(t, []checkCase{
		{name: "wide public block", check: "SGA-007", w: one(rl("sgr-1", "in accept 1 TCP 22/22 203.0.0.0/16")), want: []string{"sg-a sgr-1 medium"}},
		{name: "one public address", check: "SGA-007", w: one(rl("sgr-1", "in accept 1 TCP 22/22 198.51.100.7")), want: []string{"sg-a sgr-1 low"}},
		{name: "a /24 is not wide", check: "SGA-007", w: one(rl("sgr-1", "in accept 1 TCP 22/22 198.51.100.0/24")), want: []string{"sg-a sgr-1 low"}},
		{name: "wide IPv6 block", check: "SGA-007", w: one(rl("sgr-1", "in accept 1 TCP 22/22 2001:db8::/32")), want: []string{"sg-a sgr-1 medium"}},
		{name: "public entry of a prefix list", check: "SGA-007", w: withList, want: []string{"sg-a sgr-pl medium"}, contains: "8.8.0.0/16"},
		{name: "accept evaluated before a covering drop", check: "SGA-007", w: one(
			rl("sgr-1", "in accept 1 TCP 22/22 203.0.0.0/16"), rl("sgr-2", "in drop 5 TCP 1/65535 203.0.0.0/8")), want: []string{"sg-a sgr-1 medium"}},

		{name: "anywhere is SGA-001's", check: "SGA-007", w: one(rl("sgr-1", "in accept 1 TCP 22/22 0.0.0.0/0"))},
		{name: "private source", check: "SGA-007", w: one(rl("sgr-1", "in accept 1 TCP 22/22 10.0.0.0/8"))},
		{name: "SLB health checks", check: "SGA-007", w: one(rl("sgr-1", "in accept 1 TCP 80/80 100.64.0.0/10"))},
		{name: "group peer", check: "SGA-007", w: one(rl("sgr-1", "in accept 1 TCP 22/22 sg-a"))},
		{name: "drop from a public block", check: "SGA-007", w: one(rl("sgr-1", "in drop 1 TCP 22/22 203.0.0.0/16"))},
		{name: "egress to a public block", check: "SGA-007", w: one(rl("sgr-1", "out accept 1 TCP 443/443 203.0.0.0/16"))},
		{name: "hidden by an earlier drop", check: "SGA-007", w: one(
			rl("sgr-1", "in accept 5 TCP 22/22 203.0.0.0/16"), rl("sgr-2", "in drop 1 ALL -1/-1 203.0.0.0/8"))},
		{name: "hidden by a drop at the same priority", check: "SGA-007", w: one(
			rl("sgr-1", "in accept 5 TCP 22/22 203.0.0.0/16"), rl("sgr-2", "in drop 5 TCP 1/1024 203.0.0.0/16"))},
	})
}

func TestICMPOpen(t *testing.T) {
	runCases(t, []checkCase{
		{name: "ICMP from anywhere", check: "SGA-008", w: one(rl("sgr-1", "in accept 1 ICMP -1/-1 0.0.0.0/0")), want: []string{"sg-a sgr-1 low"}},
		{name: "ICMPv6 from anywhere", check: "SGA-008", w: one(rl("sgr-1", "in accept 1 ICMPv6 -1/-1 ::/0")), want: []string{"sg-a sgr-1 low"}},

		{name: "ICMP from the office", check: "SGA-008", w: one(rl("sgr-1", "in accept 1 ICMP -1/-1 10.0.0.0/8"))},
		{name: "ALL from anywhere is SGA-001's", check: "SGA-008", w: one(rl("sgr-1", "in accept 1 ALL -1/-1 0.0.0.0/0"))},
		{name: "hidden by a drop of everything", check: "SGA-008", w: one(
			rl("sgr-1", "in accept 2 ICMP -1/-1 0.0.0.0/0"), rl("sgr-2", "in drop 1 ALL -1/-1 0.0.0.0/0"))},
		{name: "a drop of ICMP", check: "SGA-008", w: one(rl("sgr-1", "in drop 1 ICMP -1/-1 0.0.0.0/0"))},
	})
}

func TestOpenEgress(t *testing.T) {
	ent := func(rules ...model.Rule) world {
		return world{groups: []*model.SecurityGroup{grp("sg-e", vpcA, model.Enterprise, rules...)},
			insts: []*model.Instance{vm("i-e", vpcA, "10.0.1.5", "sg-e")}}
	}
	closed := one(rl("sgr-drop", "out drop 100 ALL -1/-1 0.0.0.0/0"))
	v6Member := one(rl("sgr-drop", "out drop 100 ALL -1/-1 0.0.0.0/0"))
	v6Member.insts[0] = vm("i-a", vpcA, "10.0.1.5,2001:db8::5", "sg-a")
	closedElsewhere := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal),
		grp("sg-base", vpcA, model.Normal, rl("sgr-drop", "out drop 100 ALL -1/-1 0.0.0.0/0"))},
		insts: []*model.Instance{vm("i-a", vpcA, "10.0.1.5", "sg-a", "sg-base")}}
	runCases(t, []checkCase{
		{name: "enterprise accepts all outbound", check: "SGA-009", w: ent(rl("sgr-1", "out accept 1 ALL -1/-1 0.0.0.0/0")), want: []string{"sg-e sgr-1 medium"}},
		{name: "basic group rule, and its default", check: "SGA-009", w: one(rl("sgr-1", "out accept 1 ALL -1/-1 ::/0")),
			want: []string{"sg-a sgr-1 medium"}, contains: "by default"},
		{name: "basic default with no egress drop", check: "SGA-009", w: one(), want: []string{"sg-a - low"}},
		{name: "IPv6 member without an IPv6 drop", check: "SGA-009", w: v6Member, want: []string{"sg-a - low"}},

		{name: "enterprise group without rules", check: "SGA-009", w: ent()},
		{name: "enterprise accepts all to a private block", check: "SGA-009", w: ent(rl("sgr-1", "out accept 1 ALL -1/-1 10.0.0.0/8"))},
		{name: "enterprise accepts TCP to anywhere", check: "SGA-009", w: ent(rl("sgr-1", "out accept 1 TCP 1/65535 0.0.0.0/0"))},
		{name: "basic group closed by a catch-all drop", check: "SGA-009", w: closed},
		{name: "closed by a drop in another group of the member", check: "SGA-009", w: closedElsewhere},
		{name: "basic group without members", check: "SGA-009", w: world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal)}}},
		{name: "accept hidden by a drop", check: "SGA-009", w: one(
			rl("sgr-1", "out accept 50 ALL -1/-1 0.0.0.0/0"), rl("sgr-drop", "out drop 1 ALL -1/-1 0.0.0.0/0"))},
	})
}

func TestBroadInternal(t *testing.T) {
	classic := world{groups: []*model.SecurityGroup{grp("sg-c", "", model.Normal,
		rl("sgr-1", "in accept 1 TCP 22/22 0.0.0.0/0 nic=intranet"),
		rl("sgr-2", "in accept 1 TCP 22/22 0.0.0.0/0 nic=internet"))}}
	runCases(t, []checkCase{
		{name: "whole of 10/8", check: "SGA-010", w: one(rl("sgr-1", "in accept 1 TCP 3306/3306 10.0.0.0/8")), want: []string{"sg-a sgr-1 medium"}, contains: "10.0.0.0/8"},
		{name: "whole of 172.16/12", check: "SGA-010", w: one(rl("sgr-1", "in accept 1 TCP 3306/3306 172.16.0.0/12")), want: []string{"sg-a sgr-1 medium"}},
		{name: "all ports from a group", check: "SGA-010", w: one(rl("sgr-1", "in accept 1 ALL -1/-1 sg-b")), want: []string{"sg-a sgr-1 medium"}, contains: "all ports"},
		{name: "TCP 1-65535 from a subnet", check: "SGA-010", w: one(rl("sgr-1", "in accept 1 TCP 1/65535 192.168.1.0/24")), want: []string{"sg-a sgr-1 medium"}},
		{name: "classic intranet from anywhere", check: "SGA-010", w: classic, want: []string{"sg-c sgr-1 high"}},

		{name: "one port from a group", check: "SGA-010", w: one(rl("sgr-1", "in accept 1 TCP 3306/3306 sg-b"))},
		{name: "one port from a subnet", check: "SGA-010", w: one(rl("sgr-1", "in accept 1 TCP 3306/3306 10.1.2.0/24"))},
		{name: "all from anywhere is SGA-001's", check: "SGA-010", w: one(rl("sgr-1", "in accept 1 ALL -1/-1 0.0.0.0/0"))},
		{name: "all from itself is SGA-012's", check: "SGA-010", w: one(rl("sgr-1", "in accept 1 ALL -1/-1 sg-a"))},
		{name: "a drop", check: "SGA-010", w: one(rl("sgr-1", "in drop 1 ALL -1/-1 10.0.0.0/8"))},
		{name: "a prefix list with a public entry is not internal", check: "SGA-010", w: world{
			groups: one(rl("sgr-1", "in accept 1 ALL -1/-1 pl-mixed")).groups,
			pls:    []*model.PrefixList{plist("pl-mixed", 5, "10.0.0.0/8", "203.0.113.0/24")}}},
	})
}

func TestCIDRForGroup(t *testing.T) {
	// sg-db admits 3306 from 10.0.2.0/24, where exactly the members of sg-app live.
	base := func(extra ...*model.Instance) world {
		w := world{groups: []*model.SecurityGroup{
			grp("sg-db", vpcA, model.Normal, rl("sgr-1", "in accept 1 TCP 3306/3306 10.0.2.0/24"), rl("sgr-vpn", "in accept 1 TCP 3306/3306 10.9.0.0/16")),
			grp("sg-app", vpcA, model.Normal), grp("sg-other", vpcA, model.Normal)},
			insts: []*model.Instance{vm("i-db", vpcA, "10.0.1.10", "sg-db"), vm("i-app1", vpcA, "10.0.2.5", "sg-app"), vm("i-app2", vpcA, "10.0.2.6", "sg-app")}}
		w.insts = append(w.insts, extra...)
		return w
	}
	otherVPC := base(vm("i-b", vpcB, "10.0.2.7", "sg-b"))
	otherVPC.groups = append(otherVPC.groups, grp("sg-b", vpcB, model.Normal))
	ent := base()
	ent.groups[0].Type = model.Enterprise
	// A classic internet rule never sees the members' private addresses, and
	// a group peer cannot be an internet rule (the API refuses it).
	classic := world{groups: []*model.SecurityGroup{
		grp("sg-c", "", model.Normal, rl("sgr-1", "in accept 1 TCP 6379/6379 10.100.0.0/16 nic=internet")),
		grp("sg-app", "", model.Normal)},
		insts: []*model.Instance{vm("i-c", "", "10.200.0.9", "sg-c"), vm("i-app", "", "10.100.0.5", "sg-app")}}
	classicIntranet := world{groups: []*model.SecurityGroup{
		grp("sg-c", "", model.Normal, rl("sgr-1", "in accept 1 TCP 6379/6379 10.100.0.0/16 nic=intranet")),
		grp("sg-app", "", model.Normal)},
		insts: []*model.Instance{vm("i-c", "", "10.200.0.9", "sg-c"), vm("i-app", "", "10.100.0.5", "sg-app")}}
	// The block holds only the rule's own group's members, which its
	// InnerAccessPolicy Accept already lets in: the rule it would suggest
	// (the group naming itself) is shadowed by intra-group access (SGA-022).
	self := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, rl("sgr-1", "in accept 1 TCP 5432/5432 10.0.2.0/24"))},
		insts: []*model.Instance{vm("i-a", vpcA, "10.0.2.10", "sg-a")}}
	selfTwo := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, rl("sgr-1", "in accept 1 TCP 5432/5432 10.0.2.0/24")), grp("sg-b", vpcA, model.Normal)},
		insts: []*model.Instance{vm("i-a", vpcA, "10.0.2.10", "sg-a", "sg-b")}}
	selfDrop := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, rl("sgr-1", "in accept 1 TCP 5432/5432 10.0.2.0/24"))},
		insts: []*model.Instance{vm("i-a", vpcA, "10.0.2.10", "sg-a"), vm("i-b", vpcA, "10.0.2.11", "sg-a")}}
	selfDrop.groups[0].InnerAccessPolicy = model.InnerDrop
	// A member with a secondary address in the block too is still one of
	// the members it holds (it was counted once per address: 3 instances,
	// and no group of 3, so no advice).
	secondary := base()
	secondary.insts[1].SecondaryIPs = []netip.Addr{netip.MustParseAddr("10.0.2.9")}
	runCases(t, []checkCase{
		{name: "a member with two addresses in the block", check: "SGA-011", w: secondary, want: []string{"sg-db sgr-1 info"}, contains: "2 member(s) of sg-app"},
		{name: "classic intranet rule", check: "SGA-011", w: classicIntranet, want: []string{"sg-c sgr-1 info"}, contains: "sg-app"},
		{name: "own members with inner drop", check: "SGA-011", w: selfDrop, want: []string{"sg-a sgr-1 info"}, contains: "2 member(s) of sg-a"},
		{name: "classic internet rule", check: "SGA-011", w: classic},
		{name: "own members with inner accept", check: "SGA-011", w: self},
		{name: "own members, also alone in another group", check: "SGA-011", w: selfTwo},
		{name: "the block holds exactly sg-app", check: "SGA-011", w: base(), want: []string{"sg-db sgr-1 info"}, contains: "sg-app"},
		{name: "instances of another VPC do not count", check: "SGA-011", w: otherVPC, want: []string{"sg-db sgr-1 info"}},

		{name: "the block also holds an instance of another group", check: "SGA-011", w: base(vm("i-x", vpcA, "10.0.2.7", "sg-other"))},
		{name: "enterprise groups cannot name groups", check: "SGA-011", w: ent},
	})
}

func TestIntraOpen(t *testing.T) {
	pair := func(g *model.SecurityGroup) world {
		return world{groups: []*model.SecurityGroup{g},
			insts: []*model.Instance{vm("i-1", vpcA, "10.0.1.5", g.ID), vm("i-2", vpcA, "10.0.1.6", g.ID)}}
	}
	drop := grp("sg-a", vpcA, model.Normal, rl("sgr-pg", "in accept 1 TCP 5432/5432 sg-a"))
	drop.InnerAccessPolicy = model.InnerDrop
	selfAll := grp("sg-a", vpcA, model.Normal, rl("sgr-self", "in accept 1 ALL -1/-1 sg-a"))
	selfAll.InnerAccessPolicy = model.InnerDrop
	runCases(t, []checkCase{
		{name: "inner accept with two members", check: "SGA-012", w: pair(grp("sg-a", vpcA, model.Normal)), want: []string{"sg-a - low"}},
		{name: "all ports to itself", check: "SGA-012", w: pair(selfAll), want: []string{"sg-a sgr-self low"}},

		{name: "inner accept with one member", check: "SGA-012", w: one()},
		{name: "inner drop and one port to itself", check: "SGA-012", w: pair(drop)},
		{name: "enterprise group", check: "SGA-012", w: pair(grp("sg-a", vpcA, model.Enterprise))},
	})
}

func TestDangling(t *testing.T) {
	peers := func(rules ...model.Rule) world {
		return world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, rules...),
			grp("sg-b", vpcA, model.Normal), grp("sg-far", vpcB, model.Normal)},
			pls: []*model.PrefixList{plist("pl-ok", 5, "10.0.0.0/8")}}
	}
	strayMember := peers()
	strayMember.insts = []*model.Instance{vm("i-a", vpcA, "10.0.1.5", "sg-a", "sg-gone")}
	runCases(t, []checkCase{
		{name: "deleted group", check: "SGA-026", w: peers(rl("sgr-1", "in accept 1 TCP 22/22 sg-gone")), want: []string{"sg-a sgr-1 medium"}},
		{name: "another account's group", check: "SGA-026", w: peers(rl("sgr-1", "in accept 1 TCP 22/22 sg-theirs owner=2000000000000002")),
			want: []string{"sg-a sgr-1 medium"}, contains: "2000000000000002"},
		{name: "group of another VPC", check: "SGA-026", w: peers(rl("sgr-1", "out accept 1 TCP 22/22 sg-far")), want: []string{"sg-a sgr-1 medium"}},
		{name: "missing prefix list", check: "SGA-026", w: peers(rl("sgr-1", "in accept 1 TCP 22/22 pl-gone")), want: []string{"sg-a sgr-1 medium"}},
		{name: "instance in a missing group", check: "SGA-026", w: strayMember, want: []string{"i-a - medium"}},

		{name: "existing group and prefix list", check: "SGA-026", w: peers(rl("sgr-1", "in accept 1 TCP 22/22 sg-b"),
			rl("sgr-2", "in accept 1 TCP 22/22 sg-a"), rl("sgr-3", "in accept 1 TCP 22/22 pl-ok"))},
		{name: "visible group of another account", check: "SGA-026", w: func() world {
			w := peers(rl("sgr-1", "in accept 1 TCP 22/22 sg-b owner=2000000000000002"))
			w.groups[1].Owner = "2000000000000002"
			return w
		}()},
	})
}
