package audit

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// tagged sets tags ("key=value", …) on an instance or group's tag list.
func tagged(tags *[]model.Tag, kv ...string) {
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		*tags = append(*tags, model.Tag{Key: k, Value: v})
	}
}

// envVM is an instance of vpcA tagged env=env ("" for no tag).
func envVM(id, addr, env string, groups ...string) *model.Instance {
	in := vm(id, vpcA, addr, groups...)
	if env != "" {
		tagged(&in.Tags, "env="+env)
	}
	return in
}

func TestProdSeparation(t *testing.T) {
	shared := func(a, b string) world {
		return world{groups: []*model.SecurityGroup{grp("sg-app", vpcA, model.Normal)},
			insts: []*model.Instance{envVM("i-1", "10.0.1.5", a, "sg-app"), envVM("i-2", "10.0.1.6", b, "sg-app")}}
	}
	// apart puts i-prod and i-test in their own groups; the prod group
	// accepts rules (its ingress) as given.
	apart := func(rules ...model.Rule) world {
		return world{groups: []*model.SecurityGroup{grp("sg-prod", vpcA, model.Normal, rules...), grp("sg-test", vpcA, model.Normal)},
			insts: []*model.Instance{envVM("i-prod", "10.0.1.5", "prod", "sg-prod"), envVM("i-test", "10.0.2.5", "test", "sg-test")}}
	}
	testEgressOnly := apart()
	testEgressOnly.groups[1].Rules = []model.Rule{rl("sgr-out", "out drop 1 ALL -1/-1 0.0.0.0/0")}
	testEgressOnly.groups[0].Rules = []model.Rule{rl("sgr-in", "in accept 1 TCP 5432/5432 10.0.0.0/8")}
	runCases(t, []checkCase{
		{name: "prod and test share a group", check: "SGA-014", w: shared("prod", "test"), want: []string{"sg-app - medium"}, contains: "i-2 (env=test)"},
		{name: "production in any case and staging", check: "SGA-014", w: shared("Production", "staging"), want: []string{"sg-app - medium"}},
		{name: "test reaches prod through a CIDR rule", check: "SGA-014", w: apart(rl("sgr-db", "in accept 1 TCP 5432/5432 10.0.0.0/8")), want: []string{"i-prod - medium"}, contains: "TCP 5432"},
		{name: "test reaches prod through a group rule", check: "SGA-014", w: apart(rl("sgr-db", "in accept 1 TCP 22/22 sg-test")), want: []string{"i-prod - medium"}, contains: "i-test (env=test) reaches it"},
		{name: "a configured production value", check: "SGA-014", w: shared("live", "prod"), opts: Options{ProdValues: []string{"live"}}, want: []string{"sg-app - medium"}},

		{name: "two production values", check: "SGA-014", w: shared("prod", "prd")},
		{name: "an untagged instance with prod", check: "SGA-014", w: shared("prod", "")},
		{name: "two test environments", check: "SGA-014", w: shared("test", "dev")},
		{name: "apart, nothing open between them", check: "SGA-014", w: apart()},
		{name: "apart, the rule admits another block", check: "SGA-014", w: apart(rl("sgr-db", "in accept 1 TCP 5432/5432 10.0.9.0/24"))},
		{name: "apart, the test side's egress drops it", check: "SGA-014", w: testEgressOnly},
		{name: "prod value not configured", check: "SGA-014", w: shared("prod", "test"), opts: Options{ProdValues: []string{"live"}}},
	})
}

func TestTagsAndNames(t *testing.T) {
	complete := func() world {
		w := one()
		tagged(&w.groups[0].Tags, "owner=web-team", "app=shop", "env=prod")
		tagged(&w.insts[0].Tags, "owner=web-team", "app=shop", "env=prod")
		w.insts[0].Name = "a-instance"
		return w
	}
	partial := complete()
	partial.groups[0].Tags = partial.groups[0].Tags[:1]
	partial.insts[0].Tags[1].Value = " "
	badName := complete()
	badName.insts[0].Name = "Web_Server"
	runCases(t, []checkCase{
		{name: "untagged group and instance", check: "SGA-019", w: one(), want: []string{"i-a - low", "sg-a - low"}},
		{name: "some tags missing or empty", check: "SGA-019", w: partial, want: []string{"i-a - low", "sg-a - low"}, contains: "app"},
		{name: "a configured tag missing", check: "SGA-019", w: complete(), opts: Options{RequiredTags: []string{"cost-center"}}, want: []string{"i-a - low", "sg-a - low"}, contains: "cost-center"},
		{name: "a name against the convention", check: "SGA-019", w: badName, opts: Options{NamePattern: "[a-z]+(-[a-z0-9]+)+"}, want: []string{"i-a - low"}, contains: "Web_Server"},

		{name: "every tag there", check: "SGA-019", w: complete()},
		{name: "no tags required", check: "SGA-019", w: one(), opts: Options{RequiredTags: []string{}}},
		{name: "names follow the convention", check: "SGA-019", w: complete(), opts: Options{NamePattern: "[a-z]+(-[a-z0-9]+)+"}},
	})
}

func TestWideRanges(t *testing.T) {
	runCases(t, []checkCase{
		{name: "all TCP ports internally", check: "SGA-021", w: one(rl("sgr-1", "in accept 1 TCP 1/65535 10.0.0.0/8")), want: []string{"sg-a sgr-1 low"}, contains: "65535 ports"},
		{name: "101 UDP ports", check: "SGA-021", w: one(rl("sgr-1", "in accept 1 UDP 8000/8100 10.0.0.0/8")), want: []string{"sg-a sgr-1 low"}},
		{name: "11 ports over a limit of 10", check: "SGA-021", w: one(rl("sgr-1", "in accept 1 TCP 80/90 sg-a")), opts: Options{MaxPortRange: 10}, want: []string{"sg-a sgr-1 low"}},

		{name: "100 ports", check: "SGA-021", w: one(rl("sgr-1", "in accept 1 TCP 8000/8099 10.0.0.0/8"))},
		{name: "a single port", check: "SGA-021", w: one(rl("sgr-1", "in accept 1 TCP 443/443 0.0.0.0/0"))},
		{name: "egress range", check: "SGA-021", w: one(rl("sgr-1", "out accept 1 TCP 1/65535 0.0.0.0/0"))},
		{name: "a drop", check: "SGA-021", w: one(rl("sgr-1", "in drop 1 TCP 1/65535 0.0.0.0/0"))},
		{name: "ALL is SGA-001/010's", check: "SGA-021", w: one(rl("sgr-1", "in accept 1 ALL -1/-1 10.0.0.0/8"))},
		{name: "hidden by a drop", check: "SGA-021", w: one(rl("sgr-1", "in accept 2 TCP 1/1024 10.0.0.0/8"), rl("sgr-2", "in drop 1 TCP 1/1024 10.0.0.0/8"))},
		{name: "no limit", check: "SGA-021", w: one(rl("sgr-1", "in accept 1 TCP 1/65535 10.0.0.0/8")), opts: Options{MaxPortRange: -1}},
	})
}

func TestWithoutGroup(t *testing.T) {
	bare := one()
	bare.insts = append(bare.insts, vm("i-none", vpcA, "10.0.1.6"), vm("i-gone", vpcA, "10.0.1.7", "sg-deleted"))
	runCases(t, []checkCase{
		{name: "no group, or only missing ones", check: "SGA-029", w: bare, want: []string{"i-gone - high", "i-none - high"}},
		{name: "every instance in a group", check: "SGA-029", w: one()},
	})
}

func TestEnterpriseRequired(t *testing.T) {
	prodGroup := func(typ model.GroupType) world {
		w := world{groups: []*model.SecurityGroup{grp("sg-p", vpcA, typ), grp("sg-q", vpcB, model.Normal)},
			insts: []*model.Instance{vm("i-p", vpcA, "10.0.1.5", "sg-p"), vm("i-q", vpcB, "10.0.1.5", "sg-q")}}
		tagged(&w.groups[0].Tags, "env=prod")
		return w
	}
	memberProd := prodGroup(model.Normal)
	memberProd.groups[0].Tags = nil
	tagged(&memberProd.insts[0].Tags, "env=PROD")
	prodTags := []model.Tag{{Key: "env", Value: "prod"}}
	runCases(t, []checkCase{
		{name: "basic group tagged env=prod", check: "SGA-031", w: prodGroup(model.Normal), opts: Options{EnterpriseTags: prodTags}, want: []string{"sg-p - low"}, contains: "tagged env=prod"},
		{name: "basic group of a prod member", check: "SGA-031", w: memberProd, opts: Options{EnterpriseTags: prodTags}, want: []string{"sg-p - low"}, contains: "member i-p"},
		{name: "any value of a key", check: "SGA-031", w: prodGroup(model.Normal), opts: Options{EnterpriseTags: []model.Tag{{Key: "env"}}}, want: []string{"sg-p - low"}},
		{name: "basic group in a listed VPC", check: "SGA-031", w: prodGroup(model.Normal), opts: Options{EnterpriseVPCs: []string{vpcB}}, want: []string{"sg-q - low"}, contains: vpcB},

		{name: "no policy configured", check: "SGA-031", w: prodGroup(model.Normal)},
		{name: "already enterprise", check: "SGA-031", w: prodGroup(model.Enterprise), opts: Options{EnterpriseTags: prodTags}},
		{name: "another tag value", check: "SGA-031", w: prodGroup(model.Normal), opts: Options{EnterpriseTags: []model.Tag{{Key: "env", Value: "pci"}}}},
	})
}

func TestConfig(t *testing.T) {
	o, err := ParseConfig([]byte("skip: [SGA-018]\nprodValues: [live]\nrequiredTags: []\nnamePattern: '[a-z-]+'\nmaxPortRange: 10\nenterpriseTags: {env: prod}\nenterpriseVpcs: [vpc-a]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Skip[0] != "SGA-018" || o.ProdValues[0] != "live" || o.RequiredTags == nil || len(o.RequiredTags) != 0 || o.NamePattern != "[a-z-]+" ||
		o.MaxPortRange != 10 || o.EnterpriseTags[0] != (model.Tag{Key: "env", Value: "prod"}) || o.EnterpriseVPCs[0] != "vpc-a" {
		t.Errorf("parsed %+v", o)
	}
	// JSON, and the form the API receives, read back the same.
	back, err := ParseConfig([]byte(ConfigJSON(o)))
	if err != nil || ConfigJSON(back) != ConfigJSON(o) {
		t.Errorf("round trip: %v\n%s\n%s", err, ConfigJSON(o), ConfigJSON(back))
	}
	// Bounded in characters, not bytes; ordinary conventions pass.
	for _, good := range []string{strings.Repeat("名", MaxNamePattern), "[a-z]+(-[a-z0-9]+){1,5}", `(prod|dev)-\pL{2,32}-\d{1,3}`} {
		if _, err := ParseConfig([]byte("namePattern: '" + good + "'")); err != nil {
			t.Errorf("namePattern %.40q: %v", good, err)
		}
	}
	if o, err := ParseConfig(nil); err != nil || o.RequiredTags != nil {
		t.Errorf("empty configuration: %+v, %v", o, err)
	}
	for _, bad := range []string{"maxRule: 3", "skip: [SGA-999]", "namePattern: '('", "enterpriseTags: {'': x}", "maxPortRange: many",
		"namePattern: '" + strings.Repeat("a", MaxNamePattern+1) + "'",
		"namePattern: '" + strings.Repeat(`\pL{1000}`, 111) + "'", // 999 characters, a program of 111,000 states
		"namePattern: '((a{100}){100}){100}'"} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// Skip leaves a check out of Run.
	w := one()
	if fs := Run(w.cloud(), Options{}); !hasCheck(fs, "SGA-019") {
		t.Fatalf("SGA-019 does not fire on an untagged cloud")
	}
	if fs := Run(w.cloud(), Options{Skip: []string{"SGA-019"}}); hasCheck(fs, "SGA-019") {
		t.Errorf("SGA-019 runs though skipped")
	}
}

func hasCheck(fs []Finding, id string) bool {
	for _, f := range fs {
		if f.Check == id {
			return true
		}
	}
	return false
}

// TestConfigEmptyLists: an empty list in the configuration ("no port may be
// open to the internet", "no env value is production") is not the default,
// and keeps its meaning in the form palisade audit sends to a server
// (ConfigJSON, read back by ParseConfig), so that an audit through the API
// judges as the offline one does.
func TestConfigEmptyLists(t *testing.T) {
	for _, config := range []string{"allowedPorts: []", "prodValues: []", "allowedPorts: [22]\nprodValues: [live]", ""} {
		o, err := ParseConfig([]byte(config))
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig([]byte(ConfigJSON(o)))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := back.withDefaults(), o.withDefaults(); fmt.Sprint(got.AllowedPorts, got.ProdValues) != fmt.Sprint(want.AllowedPorts, want.ProdValues) {
			t.Errorf("%q: sent as %s, read back as allowedPorts %v prodValues %v, want %v %v", config, ConfigJSON(o), got.AllowedPorts, got.ProdValues, want.AllowedPorts, want.ProdValues)
		}
	}
}

// TestENIFindings: a secondary ENI is a NIC of its own (policy.Cloud
// holds it in the shape of an instance), and a finding on it says so and
// gives the ENI's API calls, not the instance's ones, which refuse an eni-
// ID.
func TestENIFindings(t *testing.T) {
	in := vm("i-a", vpcA, "10.0.1.5", "sg-a")
	eni := &model.NetworkInterface{ID: "eni-mgmt", Owner: testOwner, Name: "Mgmt_NIC", Type: model.ENISecondary, Status: model.ENIInUse,
		InstanceID: "i-a", VpcID: vpcA, PrivateIP: netip.MustParseAddr("10.0.2.5"), SecurityGroups: []string{"sg-gone"}}
	c := policy.NewCloud([]*model.SecurityGroup{grp("sg-a", vpcA, model.Normal)}, model.NICs([]*model.Instance{in}, []*model.NetworkInterface{eni}), nil)
	for _, tc := range []struct {
		check string
		opts  Options
		want  []string // in the finding on the ENI
		not   string
	}{
		{"SGA-019", Options{}, []string{"Network interface eni-mgmt", "ResourceType eni"}, "Instance eni-mgmt"},
		{"SGA-019", Options{RequiredTags: []string{}, NamePattern: "[a-z-]+"}, []string{"Network interface eni-mgmt", "ModifyNetworkInterfaceAttribute NetworkInterfaceName"}, "ModifyInstanceAttribute"},
		{"SGA-029", Options{}, []string{"Network interface eni-mgmt", "ModifyNetworkInterfaceAttribute"}, "ModifyInstanceAttribute"},
	} {
		found := false
		for _, f := range runCheck(t, tc.check, c, tc.opts) {
			if f.Resource != "eni-mgmt" {
				continue
			}
			found = true
			checkWording(t, f)
			text := f.Message + " " + f.Fix
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("%s on the ENI: %q does not say %q", tc.check, text, w)
				}
			}
			if strings.Contains(text, tc.not) {
				t.Errorf("%s on the ENI: %q says %q", tc.check, text, tc.not)
			}
		}
		if !found {
			t.Errorf("%s: no finding on the ENI", tc.check)
		}
	}
}
