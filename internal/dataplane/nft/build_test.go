package nft

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

func chainOf(t *testing.T, rs *Ruleset, m, iface string) *Chain {
	t.Helper()
	for _, mp := range rs.Maps {
		if mp.Name != m {
			continue
		}
		for _, e := range mp.Elems {
			if e.Interface == iface {
				if ch := rs.chain(e.Chain); ch != nil {
					return ch
				}
				t.Fatalf("map %s sends %s to chain %s, which does not exist", m, iface, e.Chain)
			}
		}
	}
	t.Fatalf("map %s has no element for %s", m, iface)
	return nil
}

func TestBuildBaseChain(t *testing.T) {
	c, _, _ := webCloud()
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{
			"ct state established,related accept",
			"ct state invalid drop",
			"ct state new tcp flags != syn / fin,syn,rst,ack drop",
			"iifname vmap @egress",
			"oifname vmap @ingress",
		}},
		{"pi-", []string{
			"ct state established,related accept",
			"ct state invalid drop",
			"ct state new tcp flags != syn / fin,syn,rst,ack drop",
			`iifname "pi-*" iifname != @ifaces drop`,
			`oifname "pi-*" oifname != @ifaces drop`,
			"iifname vmap @egress",
			"oifname vmap @ingress",
		}},
	} {
		rs := Build(c, "h1", Options{InterfacePrefix: tc.prefix})
		var got []string
		for _, r := range rs.Chains[0].Rules {
			got = append(got, r.String())
		}
		if rs.Chains[0].Name != BaseChain || !rs.Chains[0].Base || !slices.Equal(got, tc.want) {
			t.Errorf("prefix %q: base chain %s (base=%v):\n%s\nwant:\n%s", tc.prefix, rs.Chains[0].Name, rs.Chains[0].Base,
				strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		hasIfaces := slices.ContainsFunc(rs.Sets, func(s Set) bool { return s.Name == IfaceSet })
		if hasIfaces != (tc.prefix != "") {
			t.Errorf("prefix %q: set %s present=%v", tc.prefix, IfaceSet, hasIfaces)
		}
	}
}

func TestBuildPlacesOnlyTheHostsInstances(t *testing.T) {
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{})
	for _, m := range rs.Maps {
		var ifaces []string
		for _, e := range m.Elems {
			ifaces = append(ifaces, e.Interface)
		}
		if want := []string{"pi-app", "pi-ent", "pi-web1", "pi-web2"}; !slices.Equal(ifaces, want) {
			t.Errorf("map %s: %v, want %v (i-far is on h2)", m.Name, ifaces, want)
		}
	}
	if rs := Build(c, "h9", Options{}); len(rs.Chains) != 1 || len(rs.Maps[0].Elems) != 0 {
		t.Errorf("a host without instances: %d chains, %d elements", len(rs.Chains), len(rs.Maps[0].Elems))
	}
}

// TestBuildFollowsProgram checks each instance chain against its Program:
// intra-group grants first (both families), then one or more rules per
// program rule in the program's order, then the default.
func TestBuildFollowsProgram(t *testing.T) {
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{})
	for _, id := range []string{"i-web1", "i-app", "i-ent"} {
		in := c.Instances[id]
		for _, dir := range []model.Direction{model.Ingress, model.Egress} {
			p := c.Program(in, dir, model.Intranet)
			m := map[model.Direction]string{model.Ingress: IngressMap, model.Egress: EgressMap}[dir]
			ch := chainOf(t, rs, m, in.Interface)
			rules := ch.Rules
			for _, g := range p.Intra {
				for _, fam := range []Family{IPv4, IPv6} {
					want := Rule{Family: fam, Addrs: []AddrMatch{{Dst: dir == model.Egress, Set: setName("g", g, fam)}}, Verdict: Verdict{Kind: Return}}
					if len(rules) == 0 || rules[0].String() != want.String() {
						t.Fatalf("%s %s: rule %q, want intra-group %q", id, dir, rules[0], want)
					}
					rules = rules[1:]
				}
			}
			var keys, wantKeys []RuleKey
			for _, r := range rules[:len(rules)-1] {
				if len(keys) == 0 || keys[len(keys)-1] != r.Key {
					keys = append(keys, r.Key)
				}
			}
			for _, pr := range p.Rules {
				wantKeys = append(wantKeys, RuleKey{pr.Group.ID, pr.Rule.ID})
			}
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("%s %s: rules %v, want the program's %v", id, dir, keys, wantKeys)
			}
			last := rules[len(rules)-1]
			if last.String() != verdictOf(p.Default.Verdict).String() {
				t.Errorf("%s %s: last rule %q, want the default %s", id, dir, last, p.Default.Verdict)
			}
		}
	}
}

// TestBuildDefaults checks the verdict that ends each chain, by group type.
func TestBuildDefaults(t *testing.T) {
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{})
	for _, tc := range []struct {
		iface, m string
		want     string
	}{
		{"pi-web1", EgressMap, "return"}, // basic group: egress accepts
		{"pi-ent", EgressMap, "drop"},    // enterprise group: egress drops
		{"pi-web1", IngressMap, "drop"},
		{"pi-ent", IngressMap, "drop"},
	} {
		ch := chainOf(t, rs, tc.m, tc.iface)
		if got := ch.Rules[len(ch.Rules)-1].String(); got != tc.want {
			t.Errorf("%s %s ends with %q, want %q", tc.iface, tc.m, got, tc.want)
		}
	}
}

func TestBuildSharesEqualChains(t *testing.T) {
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{})
	if a, b := chainOf(t, rs, IngressMap, "pi-web1"), chainOf(t, rs, IngressMap, "pi-web2"); a.Name != b.Name {
		t.Errorf("web1 and web2 have the same policy but chains %s and %s", a.Name, b.Name)
	}
	if a, b := chainOf(t, rs, IngressMap, "pi-web1"), chainOf(t, rs, IngressMap, "pi-app"); a.Name == b.Name {
		t.Errorf("web1 and app have different policies but share chain %s", a.Name)
	}
}

// TestBuildRuleForms checks how each kind of rule is written, one nft rule
// per address family the rule can match.
func TestBuildRuleForms(t *testing.T) {
	quint := rule("r-local", model.Ingress, model.Accept, 1, model.TCP, "22/22", "192.0.2.0/24")
	quint.Local = netip.MustParsePrefix("10.0.1.0/24")
	mixed := rule("r-mixed", model.Ingress, model.Accept, 1, model.TCP, "22/22", "192.0.2.0/24")
	mixed.Local = netip.MustParsePrefix("2001:db8::/32")
	sport := rule("r-sport", model.Egress, model.Drop, 1, model.UDP, "53/53", "0.0.0.0/0")
	sport.SourcePortRange = model.PortRange{Start: 1024, End: 65535}
	pls := []*model.PrefixList{
		{ID: "pl-4", AddressFamily: "IPv4", Entries: []model.PrefixEntry{{CIDR: netip.MustParsePrefix("10.0.0.0/9")}, {CIDR: netip.MustParsePrefix("10.128.0.0/9")}, {CIDR: netip.MustParsePrefix("10.1.0.0/16")}}},
		{ID: "pl-6", AddressFamily: "IPv6", Entries: []model.PrefixEntry{{CIDR: netip.MustParsePrefix("2001:db8::/32")}}},
	}
	tests := []struct {
		name string
		r    model.Rule
		want []string
	}{
		{"ICMP is IPv4 only, even from a group", rule("r", model.Ingress, model.Accept, 1, model.ICMP, "-1/-1", "sg-peer"),
			[]string{`meta l4proto icmp ip saddr @g_sg-peer_4 counter return comment "sg-x/r"`}},
		{"ICMPv6 is IPv6 only", rule("r", model.Ingress, model.Accept, 1, model.ICMPv6, "-1/-1", "sg-peer"),
			[]string{`meta l4proto ipv6-icmp ip6 saddr @g_sg-peer_6 counter return comment "sg-x/r"`}},
		{"a group stands for both families", rule("r", model.Egress, model.Drop, 1, model.GRE, "-1/-1", "sg-peer"),
			[]string{`meta l4proto gre ip daddr @g_sg-peer_4 counter drop comment "sg-x/r"`, `meta l4proto gre ip6 daddr @g_sg-peer_6 counter drop comment "sg-x/r"`}},
		{"::/0 is the IPv6 family", rule("r", model.Ingress, model.Accept, 1, model.ALL, "-1/-1", "::/0"),
			[]string{`meta nfproto ipv6 counter return comment "sg-x/r"`}},
		{"a host address", rule("r", model.Ingress, model.Accept, 1, model.TCP, "1/65535", "198.51.100.7/32"),
			[]string{`tcp dport 1-65535 ip saddr 198.51.100.7 counter return comment "sg-x/r"`}},
		{"source ports", sport,
			[]string{`udp dport 53 udp sport 1024-65535 meta nfproto ipv4 counter drop comment "sg-x/r-sport"`}},
		{"quintuple: the local side is the destination of ingress", quint,
			[]string{`tcp dport 22 ip saddr 192.0.2.0/24 ip daddr 10.0.1.0/24 counter return comment "sg-x/r-local"`}},
		{"peer and local of different families match nothing", mixed, nil},
		{"a prefix list is an interval set of its family", rule("r", model.Ingress, model.Accept, 1, model.UDP, "500/4500", "pl-4"),
			[]string{`udp dport 500-4500 ip saddr @p_pl-4_4 counter return comment "sg-x/r"`}},
		{"an IPv6 prefix list", rule("r", model.Egress, model.Accept, 1, model.ALL, "-1/-1", "pl-6"),
			[]string{`ip6 daddr @p_pl-6_6 counter return comment "sg-x/r"`}},
		{"a missing prefix list matches nothing", rule("r", model.Egress, model.Accept, 1, model.ALL, "-1/-1", "pl-gone"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sg := group("sg-x", "vpc-a", model.Normal, model.InnerDrop, tc.r)
			peer := group("sg-peer", "vpc-a", model.Normal, model.InnerDrop)
			c := policy.NewCloud([]*model.SecurityGroup{sg, peer}, []*model.Instance{inst("i-1", "vpc-a", "10.0.1.10", "pi-1", "sg-x")}, pls)
			rs := Build(c, "h1", Options{})
			ch := chainOf(t, rs, map[model.Direction]string{model.Ingress: IngressMap, model.Egress: EgressMap}[tc.r.Direction], "pi-1")
			var got []string
			for _, r := range ch.Rules[:len(ch.Rules)-1] {
				got = append(got, r.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.r.Peer.PrefixListID == "pl-4" {
				s := rs.Sets[slices.IndexFunc(rs.Sets, func(s Set) bool { return s.Name == "p_pl-4_4" })]
				// The /16 is inside the first /9; the two /9s are one range.
				if got := elemKeys(&s); !slices.Equal(got, []string{"10.0.0.0/8"}) {
					t.Errorf("prefix-list set holds %v, want [10.0.0.0/8]", got)
				}
			}
		})
	}
}

func classicCloud() ([]*model.SecurityGroup, []*model.Instance) {
	lan := rule("sgr-lan", model.Ingress, model.Accept, 1, model.TCP, "22/22", "0.0.0.0/0")
	wan := rule("sgr-wan", model.Ingress, model.Accept, 1, model.TCP, "80/80", "0.0.0.0/0")
	wan.NicType = model.Internet
	groups := []*model.SecurityGroup{group("sg-c", "", model.Normal, model.InnerDrop, lan, wan)}
	ins := []*model.Instance{inst("i-c1", "", "10.1.0.1", "pi-c1", "sg-c"), inst("i-c2", "", "10.1.0.2", "pi-c2", "sg-c")}
	return groups, ins
}

// TestBuildClassicSplit checks that a classic instance's ingress dispatches
// on the remote address: in its network, the intranet rules; else the
// internet rules.
func TestBuildClassicSplit(t *testing.T) {
	groups, ins := classicCloud()
	rs := Build(policy.NewCloud(groups, ins, nil), "h1", Options{})
	disp := chainOf(t, rs, IngressMap, "pi-c1")
	if len(disp.Rules) != 3 {
		t.Fatalf("dispatch chain:\n%s", renderChain(disp))
	}
	for i, fam := range []Family{IPv4, IPv6} {
		r := disp.Rules[i]
		if r.Family != fam || len(r.Addrs) != 1 || r.Addrs[0].Set != setName("n", "classic", fam) || r.Addrs[0].Dst || r.Verdict.Kind != Goto {
			t.Errorf("dispatch rule %d: %q, want a goto when the source is in n_classic_%d", i, r, fam)
		}
	}
	if r := disp.Rules[2]; r.Verdict.Kind != Goto || len(r.Addrs) != 0 {
		t.Errorf("dispatch default: %q, want a goto", r)
	}
	lan, wan := rs.chain(disp.Rules[0].Verdict.Chain), rs.chain(disp.Rules[2].Verdict.Chain)
	if lan == nil || wan == nil || disp.Rules[1].Verdict.Chain != lan.Name {
		t.Fatalf("dispatch targets missing or inconsistent:\n%s", renderChain(disp))
	}
	if !strings.Contains(renderChain(lan), "sgr-lan") || strings.Contains(renderChain(lan), "sgr-wan") {
		t.Errorf("intranet chain:\n%s", renderChain(lan))
	}
	if !strings.Contains(renderChain(wan), "sgr-wan") || strings.Contains(renderChain(wan), "sgr-lan") {
		t.Errorf("internet chain:\n%s", renderChain(wan))
	}
	i := slices.IndexFunc(rs.Sets, func(s Set) bool { return s.Name == "n_classic_4" })
	if i < 0 || len(rs.Sets[i].Addrs) != 2 {
		t.Errorf("network set: %+v", rs.Sets)
	}
	// Egress has no rules on either path: no dispatch.
	if eg := chainOf(t, rs, EgressMap, "pi-c1"); len(eg.Rules) != 1 {
		t.Errorf("egress without rules:\n%s", renderChain(eg))
	}
}

// TestMembershipChangesOnlySets: group membership and network membership
// change set elements, never a chain or a map element.
func TestMembershipChangesOnlySets(t *testing.T) {
	_, groups, ins := webCloud()
	cgroups, cins := classicCloud()
	groups = append(groups, cgroups...)
	ins = append(ins, cins...)
	o := Options{InterfacePrefix: "pi-"}
	before := Build(policy.NewCloud(groups, ins, nil), "h1", o)
	changes := map[string]func([]*model.Instance) []*model.Instance{
		"an instance elsewhere joins sg-app": func(ins []*model.Instance) []*model.Instance {
			in := inst("i-x", "vpc-a", "10.0.9.9", "pi-x", "sg-app")
			in.Host = "h2"
			return append(ins, in)
		},
		"i-far leaves sg-app": func(ins []*model.Instance) []*model.Instance {
			return slices.DeleteFunc(ins, func(in *model.Instance) bool { return in.ID == "i-far" })
		},
		"web2 gets an IPv6 address": func(ins []*model.Instance) []*model.Instance {
			cp := *ins[1]
			cp.IPv6 = netip.MustParseAddr("2001:db8::11")
			return slices.Concat(ins[:1], []*model.Instance{&cp}, ins[2:])
		},
		"a classic instance elsewhere": func(ins []*model.Instance) []*model.Instance {
			in := inst("i-c9", "", "10.1.0.9", "pi-c9", "sg-c")
			in.Host = "h2"
			return append(ins, in)
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			after := Build(policy.NewCloud(groups, change(slices.Clone(ins)), nil), "h1", o)
			if a, b := renderAll(before.Chains, renderChain), renderAll(after.Chains, renderChain); a != b {
				t.Errorf("chains changed:\n%s\n---\n%s", a, b)
			}
			if a, b := renderAll(before.Maps, renderMap), renderAll(after.Maps, renderMap); a != b {
				t.Errorf("maps changed:\n%s\n---\n%s", a, b)
			}
			if a, b := renderAll(before.Sets, renderSet), renderAll(after.Sets, renderSet); a == b {
				t.Errorf("no set changed")
			}
		})
	}
}

func renderAll[T any](xs []T, f func(*T) string) string {
	var b strings.Builder
	for i := range xs {
		b.WriteString(f(&xs[i]))
	}
	return b.String()
}

func TestBuildProblems(t *testing.T) {
	_, groups, ins := webCloud()
	dup := inst("i-dup", "vpc-a", "10.0.1.99", "pi-web1", "sg-web")
	long := inst("i-long", "vpc-a", "10.0.1.98", "pi-a-very-long-name", "sg-web")
	rs := Build(policy.NewCloud(groups, append(ins, dup, long), nil), "h1", Options{})
	want := []string{"i-dup", "i-long", "i-web1"}
	if len(rs.Problems) != len(want) {
		t.Fatalf("problems: %q, want one for each of %v", rs.Problems, want)
	}
	for i, id := range want {
		if !strings.HasPrefix(rs.Problems[i], "instance "+id+":") {
			t.Errorf("problem %d: %q, want one about %s", i, rs.Problems[i], id)
		}
	}
	var ifaces []string
	for _, e := range rs.Maps[0].Elems {
		ifaces = append(ifaces, e.Interface)
	}
	// pi-web1 is claimed twice: left to the fail-closed rules.
	if want := []string{"pi-app", "pi-ent", "pi-web2"}; !slices.Equal(ifaces, want) {
		t.Errorf("egress map: %v, want %v", ifaces, want)
	}
}

func TestLinearHasNoNamedSets(t *testing.T) {
	c := genCloud(5, cloudgen.Small, true)
	rs := BuildLinear(c, "h1", Options{InterfacePrefix: "pi-"})
	if len(rs.Sets) != 0 || len(rs.Maps) != 0 || len(rs.Chains) != 3 {
		t.Errorf("linear layout: %d sets, %d maps, %d chains; want 0, 0 and 3", len(rs.Sets), len(rs.Maps), len(rs.Chains))
	}
	if s := rs.String(); strings.Contains(s, "@") {
		t.Errorf("linear layout refers to a named set:\n%s", s)
	}
}

// TestStringGolden renders a whole small ruleset. Chain names are hashes of
// their content; they are taken from the ruleset and checked for form.
func TestStringGolden(t *testing.T) {
	sg := group("sg-a", "vpc-a", model.Normal, model.InnerAccept,
		rule("sgr-1", model.Ingress, model.Accept, 1, model.TCP, "22/22", "198.51.100.0/24"))
	c := policy.NewCloud([]*model.SecurityGroup{sg}, []*model.Instance{inst("i-1", "vpc-a", "10.0.0.1", "pi-1", "sg-a")}, nil)
	rs := Build(c, "h1", Options{InterfacePrefix: "pi-"})
	in, eg := rs.Maps[1].Elems[0].Chain, rs.Maps[0].Elems[0].Chain
	for _, name := range []string{in, eg} {
		if !regexp.MustCompile(`^(in|eg)-[0-9a-f]{16}$`).MatchString(name) {
			t.Errorf("chain name %q is not <in|eg>-<16 hex digits>", name)
		}
	}
	want := strings.NewReplacer("IN", in, "EG", eg).Replace(`table inet palisade {
	set g_sg-a_4 {
		type ipv4_addr
		elements = { 10.0.0.1 }
	}

	set g_sg-a_6 {
		type ipv6_addr
	}

	set ifaces {
		type ifname
		elements = { "pi-1" }
	}

	map egress {
		type ifname : verdict
		elements = { "pi-1" : jump EG }
	}

	map ingress {
		type ifname : verdict
		elements = { "pi-1" : jump IN }
	}

	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		ct state invalid drop
		ct state new tcp flags != syn / fin,syn,rst,ack drop
		iifname "pi-*" iifname != @ifaces drop
		oifname "pi-*" oifname != @ifaces drop
		iifname vmap @egress
		oifname vmap @ingress
	}

	chain EG {
		ip daddr @g_sg-a_4 return
		ip6 daddr @g_sg-a_6 return
		return
	}

	chain IN {
		ip saddr @g_sg-a_4 return
		ip6 saddr @g_sg-a_6 return
		tcp dport 22 ip saddr 198.51.100.0/24 counter return comment "sg-a/sgr-1"
		drop
	}
}
`)
	if got := rs.String(); got != want {
		t.Errorf("String():\n%s\nwant:\n%s", got, want)
	}
}

// TestBuildRefusesImpossibleInterfaceNames: an interface name no interface
// can have (the server refuses it; a faulty or hostile one may send it) is
// left out. The kernel compares names padded with NUL bytes: "pi-1\x00"
// was "pi-1", another instance's element in the maps, and the kernel
// refused the batch (file exists): no policy change applied on the host
// any more.
func TestBuildRefusesImpossibleInterfaceNames(t *testing.T) {
	open := group("sg-open", "vpc-a", model.Normal, model.InnerDrop,
		rule("sgr-all", model.Ingress, model.Accept, 1, model.ALL, "-1/-1", "0.0.0.0/0"))
	closed := group("sg-closed", "vpc-a", model.Normal, model.InnerDrop)
	for _, bad := range []string{"pi-1\x00", "pi-1\x00x", "pi 1", "pi/1", "-pi1", "pi-ü"} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) {
			ins := []*model.Instance{inst("i-1", "vpc-a", "10.0.0.1", "pi-1", "sg-closed"), inst("i-2", "vpc-a", "10.0.0.2", bad, "sg-open")}
			c := policy.NewCloud([]*model.SecurityGroup{open, closed}, ins, nil)
			rs := Build(c, "h1", Options{InterfacePrefix: "pi-"})
			if len(rs.Problems) != 1 || !strings.HasPrefix(rs.Problems[0], "instance i-2:") {
				t.Errorf("problems: %q, want one about i-2", rs.Problems)
			}
			in1 := chainOf(t, rs, IngressMap, "pi-1")
			for _, m := range rs.Maps {
				if len(m.Elems) != 1 {
					t.Errorf("map %s: %v, want pi-1 alone", m.Name, m.Elems)
				}
			}
			if !kernelOK() {
				return
			}
			ns := newNetns(t, "ifn")
			apply(t, openKernel(t, ns), rs)
			if got := nftIn(t, ns, "list", "map", "inet", DefaultTable, IngressMap); !strings.Contains(got, `"pi-1" : jump `+in1.Name) {
				t.Errorf("the kernel's ingress map sends pi-1 elsewhere than i-1's chain %s:\n%s", in1.Name, got)
			}
		})
	}
}
