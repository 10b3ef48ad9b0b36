package audit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// facing returns the instance with a public IPv4 address.
var facing = modeltest.Public

// web is a cloud of one basic group sg-web with one member i-web; public
// gives i-web a public address.
func web(public bool, rules ...model.Rule) world {
	in := vm("i-web", vpcA, "10.0.1.5", "sg-web")
	if public {
		facing(in, "47.96.0.10")
	}
	return world{groups: []*model.SecurityGroup{grp("sg-web", vpcA, model.Normal, rules...)}, insts: []*model.Instance{in}}
}

func TestAllOpen(t *testing.T) {
	six := web(false, rl("sgr-all6", "in accept 1 TCP 1/65535 ::/0"))
	six.insts[0].IPv6 = netip.MustParseAddr("2001:db8::5")
	runCases(t, []checkCase{
		{name: "all protocols from anywhere", check: "SGA-001", w: web(true, rl("sgr-all", "in accept 1 ALL -1/-1 0.0.0.0/0")), want: []string{"sg-web sgr-all critical"}, contains: "0.0.0.0/0"},
		{name: "all TCP ports over IPv6", check: "SGA-001", w: six, want: []string{"sg-web sgr-all6 critical"}, contains: "::/0"},
		{name: "all but SSH is still all", check: "SGA-001", w: web(true, rl("sgr-all", "in accept 5 TCP 1/65535 0.0.0.0/0"), rl("sgr-no-ssh", "in drop 1 TCP 22/22 0.0.0.0/0")),
			want: []string{"sg-web sgr-all critical"}},

		{name: "hidden by a higher-priority drop", check: "SGA-001", w: web(true, rl("sgr-all", "in accept 10 ALL -1/-1 0.0.0.0/0"), rl("sgr-deny", "in drop 1 ALL -1/-1 0.0.0.0/0"))},
		{name: "no public address", check: "SGA-001", w: web(false, rl("sgr-all", "in accept 1 ALL -1/-1 0.0.0.0/0"))},
		{name: "all ports from the office only", check: "SGA-001", w: web(true, rl("sgr-all", "in accept 1 ALL -1/-1 203.0.113.0/24"))},
		{name: "a wide range that is not all", check: "SGA-001", w: web(true, rl("sgr-high", "in accept 1 TCP 1024/65535 0.0.0.0/0"))},
	})
}

func TestRiskyPorts(t *testing.T) {
	runCases(t, []checkCase{
		{name: "SSH from anywhere", check: "SGA-002", w: web(true, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0")), want: []string{"sg-web sgr-ssh high"}},
		{name: "a range holding 22", check: "SGA-002", w: web(true, rl("sgr-low", "in accept 1 TCP 1/1024 0.0.0.0/0")), want: []string{"sg-web sgr-low high"}},
		{name: "an allow before the deny meant to hide it", check: "SGA-002", w: web(true, rl("sgr-ssh", "in accept 5 TCP 22/22 0.0.0.0/0"), rl("sgr-hide", "in drop 10 TCP 22/22 0.0.0.0/0")),
			want: []string{"sg-web sgr-ssh high"}},
		{name: "SSH hidden by a higher-priority drop", check: "SGA-002", w: web(true, rl("sgr-ssh", "in accept 10 TCP 22/22 0.0.0.0/0"), rl("sgr-hide", "in drop 1 TCP 1/1024 0.0.0.0/0"))},
		{name: "SSH hidden by a drop of equal priority", check: "SGA-002", w: web(true, rl("sgr-ssh", "in accept 5 TCP 22/22 0.0.0.0/0"), rl("sgr-hide", "in drop 5 TCP 22/22 0.0.0.0/0"))},
		{name: "SSH from the office", check: "SGA-002", w: web(true, rl("sgr-ssh", "in accept 1 TCP 22/22 203.0.113.0/24"))},
		// No member has a public address yet: the rule still opens SSH to
		// every private network that routes to them (latent, medium).
		{name: "SSH from anywhere, no public address", check: "SGA-002", w: web(false, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0")),
			want: []string{"sg-web sgr-ssh medium"}, contains: "no member it reaches has a public address yet"},

		{name: "RDP over UDP", check: "SGA-003", w: web(true, rl("sgr-rdp", "in accept 1 UDP 3389/3389 0.0.0.0/0")), want: []string{"sg-web sgr-rdp high"}},
		{name: "a port next to RDP", check: "SGA-003", w: web(true, rl("sgr-x", "in accept 1 TCP 3390/3390 0.0.0.0/0"))},

		{name: "MySQL from anywhere", check: "SGA-004", w: web(true, rl("sgr-db", "in accept 1 TCP 3306/3306 0.0.0.0/0")), want: []string{"sg-web sgr-db high"}, contains: "MySQL"},
		{name: "MySQL from the application group", check: "SGA-004", w: web(true, rl("sgr-db", "in accept 1 TCP 3306/3306 sg-web"))},

		{name: "Telnet from anywhere", check: "SGA-005", w: web(true, rl("sgr-telnet", "in accept 1 TCP 23/23 0.0.0.0/0")), want: []string{"sg-web sgr-telnet high"}},
		{name: "HTTPS is not plaintext", check: "SGA-005", w: web(true, rl("sgr-https", "in accept 1 TCP 443/443 0.0.0.0/0"))},
	})
}

// TestSourcePorts: the remote end picks its source port, so a port is
// exposed if the internet reaches it from any source port, not only from
// the ephemeral port single flows default to: an accept limited to source
// port 53 still opens the port, and a drop that covers some source ports
// does not hide it from the others.
func TestSourcePorts(t *testing.T) {
	runCases(t, []checkCase{
		{name: "all ports from source port 53", check: "SGA-001", w: web(true, rl("sgr-dns", "in accept 1 TCP 1/65535 0.0.0.0/0 sport=53/53")), want: []string{"sg-web sgr-dns critical"}},
		{name: "SSH from source port 53", check: "SGA-002", w: web(true, rl("sgr-dns", "in accept 1 TCP 22/22 0.0.0.0/0 sport=53/53")), want: []string{"sg-web sgr-dns high"}},
		{name: "a drop of the high source ports leaves the low ones", check: "SGA-002", w: web(true, rl("sgr-ssh", "in accept 5 TCP 22/22 0.0.0.0/0"), rl("sgr-d", "in drop 1 TCP 22/22 0.0.0.0/0 sport=1024/65535")),
			want: []string{"sg-web sgr-ssh high"}},
		{name: "latent, from source port 53", check: "SGA-002", w: web(false, rl("sgr-dns", "in accept 1 TCP 22/22 0.0.0.0/0 sport=53/53")), want: []string{"sg-web sgr-dns medium"}},
		{name: "an off-list port from source port 53", check: "SGA-006", w: web(true, rl("sgr-dns", "in accept 1 TCP 8443/8443 0.0.0.0/0 sport=53/53")), want: []string{"sg-web sgr-dns high"}},
		{name: "a deny defeated for source port 53", check: "SGA-025", w: web(true, rl("sgr-dns", "in accept 1 TCP 1/65535 0.0.0.0/0 sport=53/53"), rl("sgr-hide", "in drop 100 TCP 3306/3306 0.0.0.0/0")),
			want: []string{"sg-web sgr-hide high"}},

		{name: "a drop of every source port hides SSH", check: "SGA-002", w: web(true, rl("sgr-ssh", "in accept 5 TCP 22/22 0.0.0.0/0"), rl("sgr-d1", "in drop 1 TCP 22/22 0.0.0.0/0 sport=1/1023"), rl("sgr-d2", "in drop 1 TCP 22/22 0.0.0.0/0 sport=1024/65535"))},
		{name: "a drop of another source port is not defeated", check: "SGA-025", w: web(true, rl("sgr-dns", "in accept 1 TCP 3306/3306 0.0.0.0/0 sport=53/53"), rl("sgr-hide", "in drop 100 TCP 3306/3306 0.0.0.0/0 sport=1024/65535"))},
	})
}

// TestLatentAdminPorts: a rule that opens an admin port to the world is
// reported even before a member has a public address (it opens the port to
// every private network that routes to the members), once, naming them.
func TestLatentAdminPorts(t *testing.T) {
	mixed := web(true, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0"))
	mixed.insts = append(mixed.insts, vm("i-app", vpcA, "10.0.1.6", "sg-web"))
	hidden := world{
		groups: []*model.SecurityGroup{grp("sg-web", vpcA, model.Normal, rl("sgr-ssh", "in accept 50 TCP 22/22 0.0.0.0/0")),
			grp("sg-guard", vpcA, model.Normal, rl("sgr-hide", "in drop 1 TCP 22/22 0.0.0.0/0"))},
		insts: []*model.Instance{vm("i-web", vpcA, "10.0.1.5", "sg-web", "sg-guard")}}
	runCases(t, []checkCase{
		{name: "RDP, no public address", check: "SGA-003", w: web(false, rl("sgr-rdp", "in accept 1 TCP 3389/3389 0.0.0.0/0")),
			want: []string{"sg-web sgr-rdp medium"}, contains: "i-web"},
		{name: "Redis, no public address", check: "SGA-004", w: web(false, rl("sgr-redis", "in accept 1 TCP 6379/6379 0.0.0.0/0")),
			want: []string{"sg-web sgr-redis medium"}, contains: "Redis"},
		{name: "one member exposed, one not: said once, high", check: "SGA-002", w: mixed, want: []string{"sg-web sgr-ssh high"}, contains: "i-web"},
		{name: "hidden by a drop of another group", check: "SGA-002", w: hidden},
		{name: "from the office only", check: "SGA-002", w: web(false, rl("sgr-ssh", "in accept 1 TCP 22/22 203.0.113.0/24"))},
		{name: "IPv6 world, no IPv6 address", check: "SGA-002", w: web(false, rl("sgr-ssh", "in accept 1 TCP 22/22 ::/0"))},
		{name: "plaintext ports are not admin ports", check: "SGA-005", w: web(false, rl("sgr-telnet", "in accept 1 TCP 23/23 0.0.0.0/0"))},
	})
}

// TestGroupWithoutMembers: a group made before its instances (or kept as
// a template) that opens an admin port to the world is reported on its own
// rules (medium): every instance that joins it will be exposed.
func TestGroupWithoutMembers(t *testing.T) {
	empty := func(rules ...model.Rule) world {
		return world{groups: []*model.SecurityGroup{grp("sg-tpl", vpcA, model.Normal, rules...)}}
	}
	classic := empty(rl("sgr-rdp", "in accept 1 TCP 3389/3389 0.0.0.0/0 nic=internet"), rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0 nic=intranet"))
	classic.groups[0].VpcID = ""
	runCases(t, []checkCase{
		{name: "SSH from anywhere", check: "SGA-002", w: empty(rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0")),
			want: []string{"sg-tpl sgr-ssh medium"}, contains: "no members yet"},
		{name: "SSH from the IPv6 world", check: "SGA-002", w: empty(rl("sgr-ssh6", "in accept 1 TCP 22/22 ::/0")),
			want: []string{"sg-tpl sgr-ssh6 medium"}, contains: "every instance with an IPv6 address that joins it"},
		{name: "RDP in a classic group", check: "SGA-003", w: classic, want: []string{"sg-tpl sgr-rdp medium"}},
		// The classic intranet admits no internet address; SGA-010 reports
		// the rule as open to every classic instance.
		{name: "SSH on a classic group's intranet rules", check: "SGA-002", w: classic},
		{name: "SSH on a classic group's intranet rules, SGA-010", check: "SGA-010", w: classic, want: []string{"sg-tpl sgr-ssh high"}},
		{name: "MySQL behind the group's own drop", check: "SGA-004", w: empty(rl("sgr-db", "in accept 50 TCP 3306/3306 0.0.0.0/0"), rl("sgr-hide", "in drop 1 TCP 3306/3306 0.0.0.0/0"))},
		{name: "SSH from the office", check: "SGA-002", w: empty(rl("sgr-ssh", "in accept 1 TCP 22/22 203.0.113.0/24"))},
		{name: "plaintext ports are not admin ports", check: "SGA-005", w: empty(rl("sgr-telnet", "in accept 1 TCP 23/23 0.0.0.0/0"))},
	})
}

// TestAdminPortSaidOnce: the whole audit reports a world-open admin port
// once per rule (by SGA-002 to -005, naming the instances), not again as an
// off-list port (SGA-006) and an exposed instance (SGA-028); what only those
// checks see is still theirs.
func TestAdminPortSaidOnce(t *testing.T) {
	cases := []struct {
		name string
		w    world
		skip []string
		want []string // "check resource rule severity" of the exposure findings
	}{
		{name: "SSH from anywhere", w: web(true, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0")),
			want: []string{"SGA-002 sg-web sgr-ssh high"}},
		{name: "SSH and an off-list port in one range", w: web(true, rl("sgr-r", "in accept 1 TCP 22/23 0.0.0.0/0"), rl("sgr-x", "in accept 1 TCP 8443/8443 0.0.0.0/0")),
			want: []string{"SGA-002 sg-web sgr-r high", "SGA-005 sg-web sgr-r high", "SGA-006 sg-web sgr-x high"}},
		{name: "a range wider than the risky ports", w: web(true, rl("sgr-r", "in accept 1 TCP 21/24 0.0.0.0/0")),
			want: []string{"SGA-002 sg-web sgr-r high", "SGA-005 sg-web sgr-r high", "SGA-006 sg-web sgr-r high"}},
		{name: "no public address yet", w: web(false, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0")),
			want: []string{"SGA-002 sg-web sgr-ssh medium"}},
		{name: "SGA-002 skipped: the others say it", w: web(true, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0")), skip: []string{"SGA-002"},
			want: []string{"SGA-006 sg-web sgr-ssh high", "SGA-028 i-web - high"}},
	}
	exposure := []string{"SGA-001", "SGA-002", "SGA-003", "SGA-004", "SGA-005", "SGA-006", "SGA-028"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range Run(tc.w.cloud(), Options{Skip: tc.skip}) {
				if !slices.Contains(exposure, f.Check) {
					continue
				}
				rule := cmp.Or(f.RuleID, "-")
				got = append(got, fmt.Sprintf("%s %s %s %s", f.Check, f.Resource, rule, f.Severity))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAllowList(t *testing.T) {
	runCases(t, []checkCase{
		{name: "a port off the list", check: "SGA-006", w: web(true, rl("sgr-alt", "in accept 1 TCP 8443/8443 0.0.0.0/0")), want: []string{"sg-web sgr-alt high"}, contains: "8443"},
		{name: "a range around the allowed ports", check: "SGA-006", w: web(true, rl("sgr-r", "in accept 1 TCP 79/81 0.0.0.0/0")), want: []string{"sg-web sgr-r high"}, contains: "79 and TCP 81"},

		{name: "only the allowed ports", check: "SGA-006", w: web(true, rl("sgr-http", "in accept 1 TCP 80/80 0.0.0.0/0"), rl("sgr-https", "in accept 1 TCP 443/443 0.0.0.0/0"))},
		{name: "a port the options allow", check: "SGA-006", w: web(true, rl("sgr-alt", "in accept 1 TCP 8443/8443 0.0.0.0/0")), opts: Options{AllowedPorts: []uint16{8443}}},
		{name: "no public address", check: "SGA-006", w: web(false, rl("sgr-alt", "in accept 1 TCP 8443/8443 0.0.0.0/0"))},
	})
}

func TestRiskyInstance(t *testing.T) {
	runCases(t, []checkCase{
		{name: "public IP and SSH open", check: "SGA-028", w: web(true, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0")), want: []string{"i-web - high"}, contains: "47.96.0.10"},
		{name: "merged groups: one opens, the other does not hide", check: "SGA-028", w: world{
			groups: []*model.SecurityGroup{grp("sg-web", vpcA, model.Normal, rl("sgr-web", "in accept 1 TCP 443/443 0.0.0.0/0")),
				grp("sg-ops", vpcA, model.Normal, rl("sgr-redis", "in accept 2 TCP 6379/6379 0.0.0.0/0"))},
			insts: []*model.Instance{facing(vm("i-web", vpcA, "10.0.1.5", "sg-web", "sg-ops"), "47.96.0.10")}}, want: []string{"i-web - high"}, contains: "6379"},

		{name: "no public IP", check: "SGA-028", w: web(false, rl("sgr-ssh", "in accept 1 TCP 22/22 0.0.0.0/0"))},
		{name: "public IP, only HTTPS open", check: "SGA-028", w: web(true, rl("sgr-https", "in accept 1 TCP 443/443 0.0.0.0/0"))},
		{name: "public IP, the other group hides SSH", check: "SGA-028", w: world{
			groups: []*model.SecurityGroup{grp("sg-web", vpcA, model.Normal, rl("sgr-ssh", "in accept 50 TCP 22/22 0.0.0.0/0")),
				grp("sg-guard", vpcA, model.Normal, rl("sgr-hide", "in drop 1 TCP 22/22 0.0.0.0/0"))},
			insts: []*model.Instance{facing(vm("i-web", vpcA, "10.0.1.5", "sg-web", "sg-guard"), "47.96.0.10")}}},
	})
}

func TestSharedTier(t *testing.T) {
	shared := func(inner string, extra ...*model.SecurityGroup) world {
		g := grp("sg-shared", vpcA, model.Normal, rl("sgr-web", "in accept 1 TCP 443/443 0.0.0.0/0"))
		g.InnerAccessPolicy = inner
		return world{groups: append([]*model.SecurityGroup{g}, extra...), insts: []*model.Instance{
			facing(vm("i-web", vpcA, "10.0.1.5", "sg-shared"), "47.96.0.10"),
			vm("i-db", vpcA, "10.0.2.5", "sg-shared")}}
	}
	viaRule := shared(model.InnerDrop)
	viaRule.groups[0].Rules = append(viaRule.groups[0].Rules, rl("sgr-db", "in accept 2 TCP 3306/3306 sg-shared"))
	split := world{groups: []*model.SecurityGroup{
		grp("sg-web", vpcA, model.Normal, rl("sgr-web", "in accept 1 TCP 443/443 0.0.0.0/0")),
		grp("sg-db", vpcA, model.Normal, rl("sgr-db", "in accept 1 TCP 3306/3306 sg-web"))},
		insts: []*model.Instance{facing(vm("i-web", vpcA, "10.0.1.5", "sg-web"), "47.96.0.10"), vm("i-db", vpcA, "10.0.2.5", "sg-db")}}
	runCases(t, []checkCase{
		{name: "intra-group access in a mixed group", check: "SGA-013", w: shared(model.InnerAccept), want: []string{"sg-shared - high"}, contains: "i-db"},
		{name: "a rule naming the mixed group", check: "SGA-013", w: viaRule, want: []string{"sg-shared sgr-db high"}},

		{name: "tiers in separate groups", check: "SGA-013", w: split},
		{name: "mixed group without intra-group access", check: "SGA-013", w: shared(model.InnerDrop)},
	})
}

// TestFixNamesConfigKey: a fix that says to change an audit option names
// it as the configuration file spells it (SGA-006 named the Go field
// Options.AllowedPorts, which no user can set).
func TestFixNamesConfigKey(t *testing.T) {
	cases := []struct {
		name, check string
		w           world
		key, value  string // the key the fix must name, and a value ParseConfig takes for it
	}{
		{name: "a port off the allow-list", check: "SGA-006", w: web(true, rl("sgr-alt", "in accept 1 TCP 8443/8443 0.0.0.0/0")), key: "allowedPorts", value: "[8443]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseConfig([]byte(tc.key + ": " + tc.value)); err != nil {
				t.Fatalf("%s is not a configuration key: %v", tc.key, err)
			}
			var fixes []string
			for _, f := range Run(tc.w.cloud(), Options{}) {
				if f.Check == tc.check {
					fixes = append(fixes, f.Fix)
				}
			}
			if len(fixes) == 0 {
				t.Fatalf("no %s finding", tc.check)
			}
			for _, fix := range fixes {
				if !strings.Contains(fix, tc.key) || strings.Contains(fix, "Options.") {
					t.Errorf("%s fix %q: want the configuration key %s, not a Go field", tc.check, fix, tc.key)
				}
			}
		})
	}
}

// TestFurtherIPv6Exposed: every IPv6 address of a NIC is global, so a rule
// whose local CIDR holds only a further one opens that address to the
// internet: the exposure checks judge each address that sees the policy
// otherwise, not the first alone.
func TestFurtherIPv6Exposed(t *testing.T) {
	six := func(local string) world {
		w := web(false, rl("sgr-ssh6", "in accept 1 TCP 22/22 ::/0 local="+local))
		w.insts[0].IPv6 = netip.MustParseAddr("2001:db8::5")
		w.insts[0].MoreIPv6 = []netip.Addr{netip.MustParseAddr("2001:db8::6"), netip.MustParseAddr("2001:db8::7")}
		return w
	}
	runCases(t, []checkCase{
		{name: "SSH open at a further address", check: "SGA-002", w: six("2001:db8::6/128"), want: []string{"sg-web sgr-ssh6 high"}},
		{name: "the instance reachable at it", check: "SGA-028", w: six("2001:db8::6/128"), want: []string{"i-web - high"}, contains: "2001:db8::6 on"},
		{name: "SSH open at the first address", check: "SGA-028", w: six("2001:db8::5/128"), want: []string{"i-web - high"}, contains: "2001:db8::5 on"},
		{name: "at none of its addresses", check: "SGA-002", w: six("2001:db8::8/128")},
	})
}

// TestExposureGist: an exposure's gist is its words without the instances
// it reaches, so a member joining keeps it (a change's preview tells the
// same exposure by it), while another port changes it.
func TestExposureGist(t *testing.T) {
	db := rl("sgr-db", "in accept 1 TCP 3306/3306 0.0.0.0/0")
	one := web(true, db)
	two := web(true, db)
	two.insts = append(two.insts, facing(vm("i-api", vpcA, "10.0.1.6", "sg-web"), "47.96.0.11"))
	wider := web(true, rl("sgr-db", "in accept 1 TCP 3306/5432 0.0.0.0/0")) // PostgreSQL too
	gist := func(w world, check string) Finding {
		t.Helper()
		fs := runCheck(t, check, w.cloud(), Options{})
		if len(fs) == 0 || fs[0].Gist == "" || fs[0].Gist == fs[0].Message {
			t.Fatalf("%s: %+v, want a finding with a gist apart from its message", check, fs)
		}
		return fs[0]
	}
	a, b := gist(one, "SGA-004"), gist(two, "SGA-004")
	if a.Message == b.Message || a.Gist != b.Gist || strings.Contains(a.Gist, "i-web") {
		t.Errorf("one member and two: messages %q, %q; gists %q, %q (want the same gist, without the members)", a.Message, b.Message, a.Gist, b.Gist)
	}
	if c := gist(wider, "SGA-004"); c.Gist == a.Gist {
		t.Errorf("another port range keeps the gist %q", c.Gist)
	}
}
