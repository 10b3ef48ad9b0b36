package policy_test

import (
	"fmt"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// rule builds a rule with modeltest (validated by model.ParseRule); peer is
// a CIDR block or a group ID.
func rule(id string, dir model.Direction, pol model.Policy, prio int, proto model.Protocol, ports string, peer string) model.Rule {
	d := "in"
	if dir == model.Egress {
		d = "out"
	}
	return modeltest.Rule(id, fmt.Sprintf("%s %s %d %s %s %s", d, pol, prio, proto, ports, peer))
}

func inst(id, vpc, ip, public string, groups ...string) *model.Instance {
	in := modeltest.Instance(id, vpc, ip, groups...)
	if public != "" {
		modeltest.Public(in, public)
	}
	return in
}

func TestEvaluate(t *testing.T) {
	web := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept, Rules: []model.Rule{
		rule("sgr-http", model.Ingress, model.Accept, 1, model.TCP, "80/80", "0.0.0.0/0"),
		rule("sgr-deny-tie", model.Ingress, model.Drop, 10, model.TCP, "6380/6380", "192.168.7.0/24"),
		rule("sgr-allow-tie", model.Ingress, model.Accept, 10, model.TCP, "6380/6380", "0.0.0.0/0"),
		rule("sgr-hide", model.Ingress, model.Drop, 100, model.TCP, "1/65535", "0.0.0.0/0"),
		rule("sgr-from-app", model.Ingress, model.Accept, 1, model.TCP, "5432/5432", "sg-app"),
	}}
	app := &model.SecurityGroup{ID: "sg-app", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop}
	ent := &model.SecurityGroup{ID: "sg-ent", VpcID: "vpc-a", Type: model.Enterprise, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-ent-out", model.Egress, model.Accept, 1, model.TCP, "443/443", "203.0.113.0/24"),
	}}
	other := &model.SecurityGroup{ID: "sg-other", VpcID: "vpc-b", Type: model.Normal, InnerAccessPolicy: model.InnerAccept, Rules: []model.Rule{
		rule("sgr-any", model.Ingress, model.Accept, 1, model.ALL, "-1/-1", "0.0.0.0/0"),
	}}
	cloud := policy.NewCloud([]*model.SecurityGroup{web, app, ent, other}, []*model.Instance{
		inst("i-web1", "vpc-a", "192.168.1.10", "192.0.2.10", "sg-web"),
		inst("i-web2", "vpc-a", "192.168.7.10", "", "sg-web"),
		inst("i-app", "vpc-a", "192.168.7.20", "", "sg-app"),
		inst("i-app2", "vpc-a", "192.168.7.21", "", "sg-app"),
		inst("i-ent", "vpc-a", "192.168.3.1", "192.0.2.30", "sg-ent"),
		inst("i-b", "vpc-b", "192.168.1.10", "192.0.2.40", "sg-other"),
		inst("i-b-private", "vpc-b", "192.168.1.11", "", "sg-other"),
	}, nil)
	tests := []struct {
		name     string
		flow     policy.Flow
		want     policy.Verdict
		deciding string // rule ID or reason of the deciding side
	}{
		{"public web port", policy.Flow{From: "198.51.100.7", To: "i-web1", Protocol: model.TCP, Port: 80}, policy.Accept, "sgr-http"},
		{"low-priority deny hides the rest", policy.Flow{From: "198.51.100.7", To: "i-web1", Protocol: model.TCP, Port: 22}, policy.Drop, "sgr-hide"},
		{"drop wins a priority tie", policy.Flow{From: "i-app", To: "i-web1", Protocol: model.TCP, Port: 6380}, policy.Drop, "sgr-deny-tie"},
		{"accept at the tie when the drop does not match", policy.Flow{From: "198.51.100.7", To: "i-web1", Protocol: model.TCP, Port: 6380}, policy.Accept, "sgr-allow-tie"},
		{"group peer", policy.Flow{From: "i-app", To: "i-web1", Protocol: model.TCP, Port: 5432}, policy.Accept, "sgr-from-app"},
		{"intra-group access beats a drop", policy.Flow{From: "i-web2", To: "i-web1", Protocol: model.TCP, Port: 22}, policy.Accept, string(policy.IntraGroup)},
		{"inner policy drop isolates", policy.Flow{From: "i-app", To: "i-app2", Protocol: model.TCP, Port: 22}, policy.Drop, string(policy.DefaultIngressDrop)},
		{"no public address", policy.Flow{From: "198.51.100.7", To: "i-web2", Protocol: model.TCP, Port: 80}, policy.Drop, string(policy.NoPublicAddress)},
		{"no public address outbound", policy.Flow{From: "i-web2", To: "198.51.100.7", Protocol: model.TCP, Port: 80}, policy.Drop, string(policy.NoPublicAddress)},
		{"basic egress default accept", policy.Flow{From: "i-web1", To: "198.51.100.7", Protocol: model.UDP, Port: 53}, policy.Accept, string(policy.DefaultEgressAccept)},
		{"enterprise egress default drop", policy.Flow{From: "i-ent", To: "198.51.100.7", Protocol: model.TCP, Port: 443}, policy.Drop, string(policy.EnterpriseEgressDrop)},
		{"enterprise egress rule", policy.Flow{From: "i-ent", To: "203.0.113.9", Protocol: model.TCP, Port: 443}, policy.Accept, "sgr-ent-out"},
		{"across VPCs through public addresses", policy.Flow{From: "i-web1", To: "i-b", Protocol: model.TCP, Port: 9}, policy.Accept, "sgr-any"},
		{"across VPCs without a public address", policy.Flow{From: "i-web1", To: "i-b-private", Protocol: model.TCP, Port: 9}, policy.Drop, string(policy.DifferentVPC)},
		{"ICMP is not TCP", policy.Flow{From: "198.51.100.7", To: "i-web1", Protocol: model.ICMP}, policy.Drop, string(policy.DefaultIngressDrop)},
		{"GRE hits the all-protocol default", policy.Flow{From: "198.51.100.7", To: "i-b", Protocol: model.GRE}, policy.Accept, "sgr-any"},
		{"IPv6 needs IPv6 addresses", policy.Flow{From: "2001:db8::1", To: "i-web1", Protocol: model.TCP, Port: 80}, policy.Drop, string(policy.NoIPv6Address)},
	}
	for _, ev := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%T/%s", ev, tt.name), func(t *testing.T) {
				res, err := policy.Evaluate(ev, tt.flow)
				if err != nil {
					t.Fatal(err)
				}
				got := string(res.Path)
				if d := res.Deciding(); got == "" && d != nil {
					got = string(d.Reason)
					if d.Rule != nil {
						got = d.Rule.RuleID
					}
				}
				if res.Verdict != tt.want || got != tt.deciding {
					t.Errorf("got %s by %s, want %s by %s", res.Verdict, got, tt.want, tt.deciding)
				}
			})
		}
	}
}

func TestEvaluateRejectsBadFlows(t *testing.T) {
	cloud := policy.NewCloud(nil, []*model.Instance{inst("i-a", "vpc-a", "10.0.0.1", "")}, nil)
	for _, f := range []policy.Flow{
		{From: "198.51.100.1", To: "198.51.100.2", Protocol: model.TCP, Port: 1},
		{From: "i-a", To: "i-a", Protocol: model.TCP, Port: 1},
		{From: "i-nope", To: "i-a", Protocol: model.TCP, Port: 1},
		{From: "2001:db8::1", To: "i-a", Protocol: model.ICMP},
		{From: "198.51.100.1", To: "i-a", Protocol: model.ICMPv6},
		{From: "198.51.100.1", To: "i-a", Protocol: model.ALL},
		{From: "2001:db8::1", To: "i-a", Protocol: model.TCP, Port: 1, IPVersion: 4},
	} {
		if _, err := policy.Evaluate(policy.NewLinear(cloud), f); err == nil {
			t.Errorf("%+v: want an error", f)
		}
	}
}

func TestQuintupleRules(t *testing.T) {
	sg := &model.SecurityGroup{ID: "sg-q", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop}
	r, _, err := model.ParseRule(model.Ingress, model.RuleInput{IpProtocol: "tcp", PortRange: "22/22", SourcePortRange: "1/1023",
		SourceCidrIp: "0.0.0.0/0", DestCidrIp: "10.0.0.1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	r.ID = "sgr-q"
	sg.Rules = []model.Rule{r}
	cloud := policy.NewCloud([]*model.SecurityGroup{sg}, []*model.Instance{
		inst("i-1", "vpc-a", "10.0.0.1", "", "sg-q"), inst("i-2", "vpc-a", "10.0.0.2", "", "sg-q"), inst("i-3", "vpc-a", "10.0.0.3", "")}, nil)
	for _, ev := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
		for _, tt := range []struct {
			to    string
			sport uint16
			want  policy.Verdict
		}{{"i-1", 1000, policy.Accept}, {"i-1", 40000, policy.Drop}, {"i-2", 1000, policy.Drop}} {
			res, err := policy.Evaluate(ev, policy.Flow{From: "i-3", To: tt.to, Protocol: model.TCP, Port: 22, SourcePort: tt.sport})
			if err != nil || res.Verdict != tt.want {
				t.Errorf("%T to %s from port %d: %v %v, want %v", ev, tt.to, tt.sport, res.Verdict, err, tt.want)
			}
		}
	}
}

// TestCompiledAgreesWithLinear plays random clouds and flows through both
// evaluators: verdicts, path reasons and deciding rules must be identical.
func TestCompiledAgreesWithLinear(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	for seed := range uint64(seeds) {
		cfg := cloudgen.Small
		switch {
		case seed%6 == 5: // and rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		case seed%3 == 2: // the classic network, ENIs, secondary addresses too
			cfg = cloudgen.Full
		}
		gen := cloudgen.Generate(seed, cfg)
		cloud := gen.Snapshot()
		lin, comp := policy.NewLinear(cloud), policy.Compile(cloud)
		for _, f := range gen.AtMoreIPv6(gen.Flows(seed, 200), seed) {
			a, errA := policy.Evaluate(lin, f)
			b, errB := policy.Evaluate(comp, f)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("seed %d flow %+v: errors differ: %v vs %v", seed, f, errA, errB)
			}
			if errA != nil {
				continue
			}
			if describe(a) != describe(b) {
				t.Fatalf("seed %d flow %+v:\nlinear   %s\ncompiled %s", seed, f, describe(a), describe(b))
			}
		}
	}
}

func describe(r policy.Result) string {
	s := fmt.Sprintf("%s path=%q", r.Verdict, r.Path)
	for _, d := range []*policy.Decision{r.Egress, r.Ingress} {
		if d != nil {
			s += " | " + d.String()
		}
	}
	return s
}
