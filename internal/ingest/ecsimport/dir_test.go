package ecsimport

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// IDs of testdata/account.
const (
	owner      = "1234567890123456"
	partner    = "1888888888888888"
	vpcID      = "vpc-bp1opxu1zkhn00gzv26cm"
	sgWeb      = "sg-bp1web4z6p8k3zq1v1ke"
	sgDefault  = "sg-bp1fg655nh68xyz9i5j1"
	sgBatch    = "sg-bp1ent9x8w7v6u5t4s3r2"
	sgDB       = "sg-bp1db7h3k5m9n2q4r6t8"
	sgLegacy   = "sg-bp0legacy2c4e6g8i0k1m"
	sgPartner  = "sg-bp0partner9z8y7x6w5v4"
	plOffice   = "pl-bp1office7y3k2m5n8q1r"
	iWeb1      = "i-bp1web01e8k2vxzqj7hb"
	iWeb2      = "i-bp1web02f9l3wyarkq8c"
	iDB        = "i-bp1db01g0m4xzbslr9d"
	iBatch     = "i-bp1batch1h1n5yacmt0e"
	iLegacy    = "i-bp0legacy1j2o6zbdnu1f"
	testRegion = "cn-hangzhou"
)

func loadAccount(t *testing.T) *Account {
	t.Helper()
	a, err := FromDir(filepath.Join("testdata", "account"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func groupByID(a *Account, id string) *model.SecurityGroup {
	i := slices.IndexFunc(a.Groups, func(g *model.SecurityGroup) bool { return g.ID == id })
	if i < 0 {
		return nil
	}
	return a.Groups[i]
}

func ruleIDs(g *model.SecurityGroup) []string {
	var ids []string
	for _, r := range g.Rules {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestFromDirGroups(t *testing.T) {
	a := loadAccount(t)
	if a.Owner != owner {
		t.Errorf("Owner = %q, want %s (from the owner a rule gives for the account's own group)", a.Owner, owner)
	}
	tests := []struct {
		id      string
		typ     model.GroupType
		vpc     string
		inner   string
		name    string
		ruleIDs []string // in creation order
	}{
		{sgWeb, model.Normal, vpcID, model.InnerAccept, "web",
			[]string{"sgr-bp1webhttps0000001", "sgr-bp1webhttp00000002", "sgr-bp1webssh000000004", "sgr-bp1webhttps6000003", "sgr-bp1webapps00000005"}},
		{sgDefault, model.Normal, vpcID, model.InnerAccept, sgDefault, []string{"", "", ""}},
		{sgBatch, model.Enterprise, vpcID, model.InnerDrop, "batch", []string{"sgr-bp1batchout0000001"}},
		{sgDB, model.Normal, vpcID, model.InnerDrop, "db",
			[]string{"sgr-bp1dbmysql00000001", "sgr-bp1dbdropall000002", "sgr-bp1dbmirror0000003", "sgr-bp1dbdropout000004"}},
		{sgLegacy, model.Normal, "", model.InnerAccept, "legacy-classic", []string{"sgr-bp0legacyhttp00001", "sgr-bp0legacypartner02"}},
	}
	if len(a.Groups) != len(tests) {
		t.Errorf("%d groups imported, want %d", len(a.Groups), len(tests))
	}
	for _, tc := range tests {
		g := groupByID(a, tc.id)
		if g == nil {
			t.Errorf("group %s not imported", tc.id)
			continue
		}
		if g.Type != tc.typ || g.VpcID != tc.vpc || g.InnerAccessPolicy != tc.inner || g.Name != tc.name || g.Owner != owner || g.Region != testRegion {
			t.Errorf("%s: type %s, vpc %q, inner %s, name %q, owner %q, region %q", tc.id, g.Type, g.VpcID, g.InnerAccessPolicy, g.Name, g.Owner, g.Region)
		}
		if got := ruleIDs(g); !slices.Equal(got, tc.ruleIDs) {
			t.Errorf("%s: rules %q, want %q", tc.id, got, tc.ruleIDs)
		}
	}
	if g := groupByID(a, sgWeb); g != nil && (len(g.Tags) != 1 || g.Tags[0] != (model.Tag{Key: "env", Value: "prod"}) || g.ResourceGroupID != "rg-acfmxazb4ph6aiy") {
		t.Errorf("web group's tags %v, resource group %q", g.Tags, g.ResourceGroupID)
	}
}

// TestFromDirRules looks at single rules: each field as ParseRule reads it.
func TestFromDirRules(t *testing.T) {
	a := loadAccount(t)
	find := func(gid, rid string, n int) *model.Rule {
		g := groupByID(a, gid)
		if g == nil {
			t.Fatalf("group %s not imported", gid)
		}
		for i := range g.Rules {
			if rid != "" && g.Rules[i].ID == rid || rid == "" && i == n {
				return &g.Rules[i]
			}
		}
		t.Fatalf("rule %s (#%d) of %s not imported", rid, n, gid)
		return nil
	}
	pfx := netip.MustParsePrefix
	tests := []struct {
		name string
		r    *model.Rule
		want model.Rule // compared on the fields set here
	}{
		{"group peer keeps its owner", find(sgDB, "sgr-bp1dbmysql00000001", 0), model.Rule{Direction: model.Ingress, Policy: model.Accept, Priority: 1,
			Protocol: model.TCP, PortRange: model.PortRange{Start: 3306, End: 3306}, Peer: model.Peer{GroupID: sgWeb, GroupOwner: owner},
			NicType: model.Intranet, Description: "MySQL from the web tier"}},
		{"egress drop", find(sgDB, "sgr-bp1dbdropout000004", 0), model.Rule{Direction: model.Egress, Policy: model.Drop, Priority: 100,
			Protocol: model.ALL, PortRange: model.AnyPort, Peer: model.Peer{CIDR: pfx("0.0.0.0/0"), CIDRText: "0.0.0.0/0"},
			NicType: model.Intranet, Description: "Everything else out is dropped"}},
		{"IPv6 peer", find(sgWeb, "sgr-bp1webhttps6000003", 0), model.Rule{Direction: model.Ingress, Policy: model.Accept, Priority: 1,
			Protocol: model.TCP, PortRange: model.PortRange{Start: 443, End: 443}, Peer: model.Peer{CIDR: pfx("::/0"), CIDRText: "::/0"},
			NicType: model.Intranet, Description: "HTTPS over IPv6"}},
		{"prefix-list peer", find(sgWeb, "sgr-bp1webssh000000004", 0), model.Rule{Direction: model.Ingress, Policy: model.Accept, Priority: 1,
			Protocol: model.TCP, PortRange: model.PortRange{Start: 22, End: 22}, Peer: model.Peer{PrefixListID: plOffice},
			NicType: model.Intranet, Description: "SSH from the office"}},
		{"numeric priority", find(sgDefault, "", 0), model.Rule{Direction: model.Ingress, Policy: model.Accept, Priority: 100,
			Protocol: model.TCP, PortRange: model.PortRange{Start: 22, End: 22}, Peer: model.Peer{CIDR: pfx("0.0.0.0/0"), CIDRText: "0.0.0.0/0"},
			NicType: model.Intranet, Description: "System created rule."}},
		{"legacy priority 110 clamped", find(sgDefault, "", 2), model.Rule{Direction: model.Ingress, Policy: model.Accept, Priority: 100,
			Protocol: model.ICMP, PortRange: model.AnyPort, Peer: model.Peer{CIDR: pfx("0.0.0.0/0"), CIDRText: "0.0.0.0/0"},
			NicType: model.Intranet, Description: "System created rule."}},
		{"classic internet rule", find(sgLegacy, "sgr-bp0legacyhttp00001", 0), model.Rule{Direction: model.Ingress, Policy: model.Accept, Priority: 1,
			Protocol: model.TCP, PortRange: model.PortRange{Start: 80, End: 80}, Peer: model.Peer{CIDR: pfx("0.0.0.0/0"), CIDRText: "0.0.0.0/0"},
			NicType: model.Internet, Description: "HTTP"}},
		{"cross-account group peer", find(sgLegacy, "sgr-bp0legacypartner02", 0), model.Rule{Direction: model.Ingress, Policy: model.Accept, Priority: 1,
			Protocol: model.TCP, PortRange: model.PortRange{Start: 8080, End: 8080}, Peer: model.Peer{GroupID: sgPartner, GroupOwner: partner},
			NicType: model.Intranet, Description: "Partner's classic servers call the API"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := *tc.r
			got.ID, got.Created = "", got.Created.UTC() // compared separately
			if got.Key() != tc.want.Key() || got.Description != tc.want.Description || got.Peer != tc.want.Peer {
				t.Errorf("rule\n got %+v\nwant %+v", got, tc.want)
			}
			if tc.r.Created.IsZero() {
				t.Errorf("CreateTime not read")
			}
		})
	}
}

func TestFromDirInstances(t *testing.T) {
	a := loadAccount(t)
	addr := netip.MustParseAddr
	want := map[string]model.Instance{
		iWeb1:   {VpcID: vpcID, VSwitchID: "vsw-bp1ddbrxdlrcbim46vvdh", PrivateIP: addr("192.168.1.10"), PublicIP: addr("47.96.33.10"), SecurityGroups: []string{sgWeb}, Status: "Running"},
		iWeb2:   {VpcID: vpcID, VSwitchID: "vsw-bp1ddbrxdlrcbim46vvdh", PrivateIP: addr("192.168.1.11"), PublicIP: addr("47.96.33.20"), EipID: "eip-bp1q8v2n6m4k0j9h7g5f", SecurityGroups: []string{sgWeb, sgDefault}, Status: "Running"},
		iDB:     {VpcID: vpcID, VSwitchID: "vsw-bp1ddbrxdlrcbim46vvdh", PrivateIP: addr("192.168.1.20"), IPv6: addr("2408:4005:3a0:1c00:e1b2:7c3d:9f10:20"), SecurityGroups: []string{sgDB}, Status: "Running"},
		iBatch:  {VpcID: vpcID, VSwitchID: "vsw-bp1ddbrxdlrcbim46vvdh", PrivateIP: addr("192.168.1.30"), SecurityGroups: []string{sgBatch}, Status: "Stopped"},
		iLegacy: {PrivateIP: addr("10.116.4.7"), PublicIP: addr("120.27.1.5"), SecurityGroups: []string{sgLegacy}, Status: "Running"},
	}
	if len(a.Instances) != len(want) {
		t.Errorf("%d instances imported, want %d", len(a.Instances), len(want))
	}
	for _, in := range a.Instances {
		w, ok := want[in.ID]
		if !ok {
			t.Errorf("unexpected instance %s", in.ID)
			continue
		}
		if in.VpcID != w.VpcID || in.VSwitchID != w.VSwitchID || in.PrivateIP != w.PrivateIP || in.IPv6 != w.IPv6 || in.PublicIP != w.PublicIP ||
			in.EipID != w.EipID || !slices.Equal(in.SecurityGroups, w.SecurityGroups) || in.Status != w.Status || in.Owner != owner || in.Region != testRegion {
			t.Errorf("%s imported as %+v", in.ID, *in)
		}
		if in.Created.IsZero() {
			t.Errorf("%s: CreationTime (minutes only) not read", in.ID)
		}
	}
	if i := slices.IndexFunc(a.Instances, func(in *model.Instance) bool { return in.ID == iWeb1 }); i < 0 ||
		!slices.Equal(a.Instances[i].Tags, []model.Tag{{Key: "env", Value: "prod"}, {Key: "app", Value: "shop"}}) {
		t.Errorf("tags of %s not imported", iWeb1)
	}
	if len(a.PrefixLists) != 1 {
		t.Fatalf("prefix lists %v", a.PrefixLists)
	}
	pl := a.PrefixLists[0]
	if pl.ID != plOffice || pl.MaxEntries != 10 || pl.AddressFamily != "IPv4" || len(pl.Entries) != 2 ||
		pl.Entries[0] != (model.PrefixEntry{CIDR: netip.MustParsePrefix("203.0.113.0/24"), Description: "HQ"}) {
		t.Errorf("prefix list imported as %+v", *pl)
	}
}

// TestFromDirWarnings: each thing that could not be taken over is said
// once, and nothing else is.
func TestFromDirWarnings(t *testing.T) {
	a := loadAccount(t)
	want := []struct{ source, resource, rule, says string }{
		{"README.txt", "", "", "not JSON"},
		{"attr-default.json", sgDefault, "", "priority 110"},
		{"attr-default.json", sgDefault, "", "no SecurityGroupRuleId"},
		{"attr-legacy.json[2]", sgLegacy, "sgr-bp0legacypartner02", "group " + sgPartner + " of account " + partner},
	}
	got := slices.Clone(a.Warnings)
	for _, w := range want {
		i := slices.IndexFunc(got, func(g Warning) bool {
			return g.Source == w.source && g.Resource == w.resource && g.RuleID == w.rule && strings.Contains(g.Message, w.says)
		})
		if i < 0 {
			t.Errorf("no warning from %s about %s %s saying %q", w.source, w.resource, w.rule, w.says)
			continue
		}
		got = slices.Delete(got, i, i+1)
	}
	for _, w := range got {
		t.Errorf("unexpected warning: %s", w)
	}
}

// TestFromDirFlows evaluates flows on the imported account: the rules
// decide as they would in ECS.
func TestFromDirFlows(t *testing.T) {
	ev := policy.NewLinear(loadAccount(t).Cloud())
	tests := []struct {
		name     string
		flow     policy.Flow
		want     policy.Verdict
		deciding string // rule ID, or the reason when no rule decided
	}{
		{"HTTPS to the web tier", policy.Flow{From: "198.51.100.7", To: iWeb1, Protocol: model.TCP, Port: 443}, policy.Accept, "sgr-bp1webhttps0000001"},
		{"SSH from the internet", policy.Flow{From: "198.51.100.7", To: iWeb1, Protocol: model.TCP, Port: 22}, policy.Drop, string(policy.DefaultIngressDrop)},
		{"SSH from the office, by prefix list", policy.Flow{From: "203.0.113.9", To: iWeb1, Protocol: model.TCP, Port: 22}, policy.Accept, "sgr-bp1webssh000000004"},
		{"SSH to the web instance also in the default group", policy.Flow{From: "198.51.100.7", To: iWeb2, Protocol: model.TCP, Port: 22}, policy.Accept, ""},
		{"MySQL from the web tier, by group", policy.Flow{From: iWeb1, To: iDB, Protocol: model.TCP, Port: 3306}, policy.Accept, "sgr-bp1dbmysql00000001"},
		{"Redis from the web tier", policy.Flow{From: iWeb1, To: iDB, Protocol: model.TCP, Port: 6379}, policy.Drop, "sgr-bp1dbdropall000002"},
		{"the database calls out", policy.Flow{From: iDB, To: iWeb1, Protocol: model.TCP, Port: 80}, policy.Drop, "sgr-bp1dbdropout000004"},
		{"enterprise egress default", policy.Flow{From: iBatch, To: iDB, Protocol: model.TCP, Port: 3306}, policy.Drop, string(policy.EnterpriseEgressDrop)},
		{"an app port, by port range list", policy.Flow{From: "192.168.200.5", To: iWeb1, Protocol: model.TCP, Port: 9050}, policy.Accept, "sgr-bp1webapps00000005"},
		{"a port in the list's gap", policy.Flow{From: "192.168.200.5", To: iWeb1, Protocol: model.TCP, Port: 8081}, policy.Drop, string(policy.DefaultIngressDrop)},
		{"classic internet rule", policy.Flow{From: "198.51.100.7", To: iLegacy, Protocol: model.TCP, Port: 80}, policy.Accept, "sgr-bp0legacyhttp00001"},
		{"web members reach each other", policy.Flow{From: iWeb1, To: iWeb2, Protocol: model.TCP, Port: 9000}, policy.Accept, string(policy.IntraGroup)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := policy.Evaluate(ev, tc.flow)
			if err != nil {
				t.Fatal(err)
			}
			d := res.Deciding()
			got := string(d.Reason)
			if d.Rule != nil {
				got = d.Rule.RuleID
			}
			if res.Verdict != tc.want || got != tc.deciding {
				t.Errorf("%s by %q, want %s by %q (%s)", res.Verdict, got, tc.want, tc.deciding, d)
			}
		})
	}
}

func TestFromDirErrors(t *testing.T) {
	write := func(files map[string]string) string {
		dir := t.TempDir()
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name  string
		files map[string]string
		says  string // in the error
	}{
		{"no such folder", nil, "read the folder"},
		{"nothing ECS in it", map[string]string{"notes.txt": "hello", "other.json": `{"Vpcs": {"Vpc": []}}`}, "holds no DescribeSecurityGroups"},
		{"a truncated JSON file", map[string]string{"groups.json": `{"SecurityGroups": {"SecurityGroup": [`}, "not valid JSON"},
		{"a response of the wrong shape", map[string]string{"groups.json": `{"SecurityGroups": {"SecurityGroup": "none"}}`}, "cannot be read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "missing")
			if tc.files != nil {
				dir = write(tc.files)
			}
			_, err := FromDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v, want one saying %q", err, tc.says)
			}
		})
	}
}

// TestFromDirPortRangeLists: a rule with PortRangeListId is imported with
// its list (DescribePortRangeLists, and the entries saved in a file named
// after the list); without the lists' answers it is still imported, with a
// warning that it matches no port.
func TestFromDirPortRangeLists(t *testing.T) {
	a := loadAccount(t)
	if len(a.PortRangeLists) != 1 {
		t.Fatalf("port range lists %v", a.PortRangeLists)
	}
	l := a.PortRangeLists[0]
	if l.ID != "prl-bp1appports8d2k4m6" || l.Name != "app-ports" || l.MaxEntries != 10 || l.Owner != owner || len(l.Entries) != 2 ||
		l.Entries[1] != (model.PortEntry{Range: model.PortRange{Start: 9000, End: 9100}, Description: "workers"}) {
		t.Errorf("port range list imported as %+v", *l)
	}
	if g := groupByID(a, sgWeb); g != nil {
		if r := g.Rules[len(g.Rules)-1]; r.PortRangeListID != l.ID || r.PortRange.IsSet() {
			t.Errorf("the port-list rule imported as %+v", r)
		}
	}

	dir := t.TempDir()
	for _, f := range []string{"groups-page1.json", "groups-page2.json", "attr-web.json", "port-range-lists.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "account", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(b.Warnings, func(w Warning) bool {
		return w.Resource == l.ID && strings.Contains(w.Message, "no DescribePortRangeListEntries answer")
	}) {
		t.Errorf("no warning about the missing entries: %v", b.Warnings)
	}
	os.Remove(filepath.Join(dir, "port-range-lists.json"))
	if b, err = FromDir(dir); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(b.Warnings, func(w Warning) bool {
		return w.Source == "attr-web.json" && w.Resource == sgWeb && w.RuleID == "sgr-bp1webapps00000005" && strings.Contains(w.Message, "port list prl-bp1appports8d2k4m6")
	}) {
		t.Errorf("no warning about the list the import does not hold: %v", b.Warnings)
	}
}

// TestFromDirVPCs: a saved DescribeVpcs gives the VPCs' blocks, the
// secondary ones too; a VPC that resources are in but no saved response
// holds is warned about, once, naming it.
func TestFromDirVPCs(t *testing.T) {
	a := loadAccount(t)
	var blocks []string
	for _, v := range a.VPCs {
		if v.ID != vpcID || v.Region != testRegion {
			t.Errorf("VPC imported as %+v", *v)
		}
		for _, p := range []netip.Prefix{v.CIDR, v.IPv6CIDR} {
			if p.IsValid() {
				blocks = append(blocks, p.String())
			}
		}
	}
	if want := []string{"192.168.0.0/16", "2408:4005:3a0::/56", "100.64.0.0/16"}; !slices.Equal(blocks, want) {
		t.Errorf("VPC blocks %v, want %v", blocks, want)
	}

	for _, c := range []struct {
		name, vpcs string // vpcs.json's content ("": no such file)
		warn       string // the DescribeVpcs warning ("": none)
	}{
		{"not saved", "", "VPC " + vpcID + " not read"},
		{"another VPC saved", `{"TotalCount": 1, "Vpcs": {"Vpc": [{"VpcId": "vpc-other", "CidrBlock": "10.0.0.0/8"}]}}`, "VPC " + vpcID + " not read"},
		{"an unreadable block", `{"TotalCount": 1, "Vpcs": {"Vpc": [{"VpcId": "` + vpcID + `", "CidrBlock": "192.168.0.1/16"}]}}`, `CIDR block "192.168.0.1/16" cannot be read`},
		{"a page missing", `{"TotalCount": 2, "Vpcs": {"Vpc": [{"VpcId": "` + vpcID + `", "CidrBlock": "192.168.0.0/16"}]}}`, "DescribeVpcs reports 2 resources in all but the saved pages hold 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join("testdata", "account")
			entries, err := os.ReadDir(src)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				data, err := os.ReadFile(filepath.Join(src, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if e.Name() == "vpcs.json" {
					if c.vpcs == "" {
						continue
					}
					data = []byte(c.vpcs)
				}
				if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			a, err := FromDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var said []string
			for _, w := range a.Warnings {
				if strings.Contains(w.Source, "DescribeVpcs") || strings.Contains(w.Source, "vpcs.json") || strings.Contains(w.Message, "DescribeVpcs") {
					said = append(said, w.String())
				}
			}
			if len(said) != 1 || !strings.Contains(said[0], c.warn) {
				t.Errorf("VPC warnings %q, want one saying %q", said, c.warn)
			}
		})
	}
}
