package audit

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// fleet is n instances of vpcA, instance k in the groups groupsOf(k).
func fleet(n int, groupsOf func(k int) []string) world {
	var w world
	seen := map[string]bool{}
	for k := range n {
		gs := groupsOf(k)
		w.insts = append(w.insts, vm(fmt.Sprintf("i-%d", k), vpcA, fmt.Sprintf("10.0.1.%d", 10+k), gs...))
		for _, g := range gs {
			if !seen[g] {
				seen[g] = true
				w.groups = append(w.groups, grp(g, vpcA, model.Normal))
			}
		}
	}
	return w
}

func TestGroupSpread(t *testing.T) {
	crowd := func(n, inAll int) world {
		return fleet(n, func(k int) []string {
			if k < inAll {
				return []string{"sg-all"}
			}
			return []string{"sg-rest"}
		})
	}
	own := func(k int) []string { return []string{fmt.Sprintf("sg-%d", k)} }
	runCases(t, []checkCase{
		{name: "4 of 5 in one group", check: "SGA-015", w: crowd(5, 4), want: []string{"sg-all - low"}},
		{name: "all 6 in one group", check: "SGA-015", w: crowd(6, 6), want: []string{"sg-all - low"}},
		{name: "one group each", check: "SGA-015", w: fleet(4, own), want: []string{"sg-0 - low", "sg-1 - low", "sg-2 - low", "sg-3 - low"}},

		{name: "3 of 5 in one group", check: "SGA-015", w: crowd(5, 3)},
		{name: "a small deployment in one group", check: "SGA-015", w: crowd(4, 4)},
		{name: "one group each, but only three", check: "SGA-015", w: fleet(3, own)},
		{name: "own groups plus a shared one", check: "SGA-015", w: fleet(4, func(k int) []string {
			return append(own(k), fmt.Sprintf("sg-pair%d", k/2))
		})},
	})

	// The classic network holds every account's classic instances, of
	// every region (VpcID ""): each account's part of a region's is
	// judged apart, and a finding counts only that account's instances
	// (another's number and grouping are not the caller's to learn).
	classic := func(w *world, prefix, owner, region string, n int, shared bool) {
		for k := range n {
			g := fmt.Sprintf("sg-%s%d", prefix, k)
			if shared {
				g = "sg-" + prefix
			}
			in := vm(fmt.Sprintf("i-%s%d", prefix, k), "", fmt.Sprintf("10.%d.0.%d", len(w.insts), 10+k), g)
			in.Owner, in.Region = owner, region
			w.insts = append(w.insts, in)
			if k == 0 || !shared {
				gr := grp(g, "", model.Normal)
				gr.Owner, gr.Region = owner, region
				w.groups = append(w.groups, gr)
			}
		}
	}
	mixed := func(theirOwner, theirRegion string, theirs int, shared bool) world {
		var w world
		classic(&w, "m", testOwner, "cn-hangzhou", 1, false)
		classic(&w, "t", theirOwner, theirRegion, theirs, shared)
		return w
	}
	runCases(t, []checkCase{
		{name: "another account's classic instances, one group each", check: "SGA-015", w: mixed("1000000000000002", "cn-hangzhou", 4, false),
			want: []string{"sg-t0 - low", "sg-t1 - low", "sg-t2 - low", "sg-t3 - low"}, contains: "of the 4 instances in the account's part of the classic network"},
		{name: "another account's classic instances in one group", check: "SGA-015", w: mixed("1000000000000002", "cn-hangzhou", 5, true),
			want: []string{"sg-t - low"}, contains: "holds 5 of the 5 instances"},
		{name: "another region's classic instances", check: "SGA-015", w: mixed(testOwner, "cn-beijing", 4, false),
			want: []string{"sg-t0 - low", "sg-t1 - low", "sg-t2 - low", "sg-t3 - low"}, contains: "of the 4 instances"},
	})
}

func TestUnusedGroups(t *testing.T) {
	w := world{groups: []*model.SecurityGroup{
		grp("sg-used", vpcA, model.Normal, rl("sgr-1", "in accept 1 TCP 22/22 sg-named")),
		grp("sg-named", vpcA, model.Normal),
		grp("sg-self", vpcA, model.Normal, rl("sgr-2", "in accept 1 TCP 22/22 sg-self")),
		grp("sg-idle", vpcA, model.Normal)},
		insts: []*model.Instance{vm("i-1", vpcA, "10.0.1.5", "sg-used")}}
	runCases(t, []checkCase{
		{name: "idle and self-named groups", check: "SGA-016", w: w, want: []string{"sg-idle - low", "sg-self - low"}},
		{name: "every group has members", check: "SGA-016", w: one()},
	})
}

func TestDefaultPermissive(t *testing.T) {
	auto := func(name, desc string, rules ...model.Rule) world {
		w := one(rules...)
		w.groups[0].Name, w.groups[0].Description = name, desc
		return w
	}
	const sys = "System created security group."
	runCases(t, []checkCase{
		{name: "quick-launch group with SSH open", check: "SGA-017", w: auto("sg-bp1fg655nh68xyz9i5j1", sys, rl("sgr-1", "in accept 100 TCP 22/22 0.0.0.0/0")), want: []string{"sg-a sgr-1 high"}},
		{name: "default group with RDP open", check: "SGA-017", w: auto("default", "", rl("sgr-1", "in accept 1 TCP 3389/3389 0.0.0.0/0")), want: []string{"sg-a sgr-1 high"}},
		{name: "ALL from IPv6 anywhere", check: "SGA-017", w: auto("web", sys, rl("sgr-1", "in accept 1 ALL -1/-1 ::/0")), want: []string{"sg-a sgr-1 high"}},
		{name: "a port range holding 22", check: "SGA-017", w: auto("default-sg", "", rl("sgr-1", "in accept 1 TCP 1/1024 0.0.0.0/0")), want: []string{"sg-a sgr-1 high"}},
		// The remote end picks its source port: a range of them still opens 22.
		{name: "SSH from the unprivileged source ports", check: "SGA-017", w: auto("default", "", rl("sgr-1", "in accept 1 TCP 22/22 0.0.0.0/0 sport=1024/65535")), want: []string{"sg-a sgr-1 high"}},

		{name: "quick-launch group with SSH from the office", check: "SGA-017", w: auto("sg-bp1fg655nh68xyz9i5j1", sys, rl("sgr-1", "in accept 100 TCP 22/22 203.0.113.0/24"))},
		{name: "own group with SSH open is SGA-002's", check: "SGA-017", w: auto("web", "web servers", rl("sgr-1", "in accept 1 TCP 22/22 0.0.0.0/0"))},
		{name: "a name that only starts with default", check: "SGA-017", w: auto("defaultweb", "", rl("sgr-1", "in accept 1 TCP 22/22 0.0.0.0/0"))},
		{name: "quick-launch group with only HTTP open", check: "SGA-017", w: auto("sg-bp1fg655nh68xyz9i5j1", sys, rl("sgr-1", "in accept 1 TCP 80/80 0.0.0.0/0"))},
		{name: "SSH hidden by a drop", check: "SGA-017", w: auto("default", sys,
			rl("sgr-1", "in accept 100 TCP 22/22 0.0.0.0/0"), rl("sgr-2", "in drop 1 TCP 22/22 0.0.0.0/0"))},
	})
}

func TestDescriptions(t *testing.T) {
	bare := one(rl("sgr-1", "in accept 1 TCP 22/22 10.0.0.0/8"), rl("sgr-2", "in accept 1 TCP 80/80 10.0.0.0/8 desc=web"))
	bare.groups[0].Description = "  "
	runCases(t, []checkCase{
		{name: "group and one rule undescribed", check: "SGA-018", w: bare, want: []string{"sg-a - low", "sg-a sgr-1 low"}},
		{name: "all described", check: "SGA-018", w: one(described(rl("sgr-1", "in accept 1 TCP 22/22 10.0.0.0/8"))...)},
	})
}

func TestRuleCounts(t *testing.T) {
	many := func(n int) []model.Rule {
		var rs []model.Rule
		for k := range n {
			rs = append(rs, rl(fmt.Sprintf("sgr-%d", k), fmt.Sprintf("in accept 1 TCP %d/%d 10.0.0.0/8", k+1, k+1)))
		}
		return rs
	}
	peers := func(n int) []model.Rule {
		var rs []model.Rule
		for k := range n {
			rs = append(rs, rl(fmt.Sprintf("sgr-%d", k), fmt.Sprintf("in accept 1 TCP 22/22 sg-p%d", k)))
		}
		return rs
	}
	big := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, rl("sgr-1", "in accept 1 TCP 22/22 pl-big"))},
		pls: []*model.PrefixList{plist("pl-big", 160, "10.0.0.0/8")}}
	// Five groups of one 180-entry list rule each: 900 of the 1,000 per NIC,
	// each group at 180 of 200.
	var nic world
	for k := range 5 {
		nic.groups = append(nic.groups, grp(fmt.Sprintf("sg-%d", k), vpcA, model.Normal, rl("sgr-1", "in accept 1 TCP 22/22 pl-big")))
	}
	nic.insts = []*model.Instance{vm("i-a", vpcA, "10.0.1.5", "sg-0", "sg-1", "sg-2", "sg-3", "sg-4")}
	nic.pls = []*model.PrefixList{plist("pl-big", 180, "10.0.0.0/8")}
	runCases(t, []checkCase{
		{name: "51 rules", check: "SGA-020", w: one(many(51)...), want: []string{"sg-a - medium"}},
		{name: "11 rules over a limit of 10", check: "SGA-020", w: one(many(11)...), opts: Options{MaxRules: 10}, want: []string{"sg-a - medium"}},
		{name: "one prefix-list rule weighing 160", check: "SGA-020", w: big, want: []string{"sg-a - medium"}, contains: "160 of the 200"},
		{name: "16 group-peer rules", check: "SGA-020", w: one(peers(16)...), want: []string{"sg-a - medium"}, contains: "peer"},
		{name: "a NIC near 1,000 rules", check: "SGA-020", w: nic,
			want: []string{"i-a - medium", "sg-0 - medium", "sg-1 - medium", "sg-2 - medium", "sg-3 - medium", "sg-4 - medium"}},

		{name: "50 rules", check: "SGA-020", w: one(many(50)...)},
		{name: "15 group-peer rules", check: "SGA-020", w: one(peers(15)...)},
		{name: "a small prefix list", check: "SGA-020", w: func() world { w := big; w.pls = []*model.PrefixList{plist("pl-big", 150, "10.0.0.0/8")}; return w }()},
	})
}

func TestPublicAddresses(t *testing.T) {
	w := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal)}, insts: []*model.Instance{
		vm("i-nat", vpcA, "10.0.1.5", "sg-a"), vm("i-eip", vpcA, "10.0.1.6", "sg-a"), vm("i-private", vpcA, "10.0.1.7", "sg-a")}}
	w.insts[0].PublicIP = netip.MustParseAddr("47.96.1.1")
	w.insts[1].PublicIP, w.insts[1].EipID = netip.MustParseAddr("47.96.1.2"), "eip-bp1abc"
	fs := runCheck(t, "SGA-027", w.cloud(), Options{})
	var got []string
	for _, f := range fs {
		checkWording(t, f)
		got = append(got, f.Resource+" "+f.Severity.String())
	}
	if want := []string{"i-eip medium", "i-nat medium"}; !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	if !strings.Contains(fs[0].Message, "eip-bp1abc") || !strings.Contains(fs[1].Message, "47.96.1.1") {
		t.Errorf("messages do not name the addresses: %q, %q", fs[0].Message, fs[1].Message)
	}
}

// TestPublicAddressExposed: the catalogue raises SGA-027 to high when the
// instance with a public address is also exposed as SGA-001 to -006 say
// (all ports, a risky port, a port off the allow-list), whichever family
// the internet comes in by; an address behind closed or allowed ports
// stays medium.
func TestPublicAddressExposed(t *testing.T) {
	v6 := func(w world) world { w.insts[0].IPv6 = netip.MustParseAddr("2001:db8::5"); return w }
	runCases(t, []checkCase{
		{name: "SSH open", check: "SGA-027", w: web(true, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0")), want: []string{"i-web - high"}},
		{name: "all ports over IPv6", check: "SGA-027", w: v6(web(true, rl("sgr-all6", "in accept 1 ALL -1/-1 ::/0"))), want: []string{"i-web - high"}},
		{name: "a port off the allow-list", check: "SGA-027", w: web(true, rl("sgr-x", "in accept 1 TCP 8443/8443 0.0.0.0/0")), want: []string{"i-web - high"}},
		{name: "HTTPS only", check: "SGA-027", w: web(true, rl("sgr-https", "in accept 1 TCP 443/443 0.0.0.0/0")), want: []string{"i-web - medium"}},
		{name: "SSH hidden by a drop", check: "SGA-027", w: web(true, rl("sgr-ssh", "in accept 5 TCP 22/22 0.0.0.0/0"), rl("sgr-d", "in drop 1 TCP 22/22 0.0.0.0/0")), want: []string{"i-web - medium"}},
		{name: "SSH from the office", check: "SGA-027", w: web(true, rl("sgr-ssh", "in accept 1 TCP 22/22 203.0.113.0/24")), want: []string{"i-web - medium"}},
		{name: "no public address", check: "SGA-027", w: web(false, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0"))},
	})
}

func TestClassicNetwork(t *testing.T) {
	classic := world{groups: []*model.SecurityGroup{grp("sg-c", "", model.Normal)}, insts: []*model.Instance{vm("i-c", "", "10.116.0.5", "sg-c")}}
	runCases(t, []checkCase{
		{name: "classic group and instance", check: "SGA-030", w: classic, want: []string{"i-c - medium", "sg-c - medium"}},
		{name: "VPC group and instance", check: "SGA-030", w: one()},
	})
}

// TestRegistered checks that each check of this half of the catalogue is
// registered once, with the catalogue's severity.
func TestRegistered(t *testing.T) {
	want := map[string]Severity{"SGA-007": Medium, "SGA-008": Low, "SGA-009": Medium, "SGA-010": Medium, "SGA-011": Info,
		"SGA-012": Low, "SGA-015": Low, "SGA-016": Low, "SGA-017": High, "SGA-018": Low, "SGA-020": Medium,
		"SGA-026": Medium, "SGA-027": Medium, "SGA-030": Medium,
		"SGA-014": Medium, "SGA-019": Low, "SGA-021": Low, "SGA-029": High, "SGA-031": Low}
	seen := map[string]int{}
	for _, c := range Checks() {
		seen[c.ID]++
		if s, ok := want[c.ID]; ok && (c.Severity != s || c.Title == "" || c.Run == nil) {
			t.Errorf("%s: severity %s, title %q; want severity %s and a title", c.ID, c.Severity, c.Title, s)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s registered %d times", id, seen[id])
		}
	}
}
