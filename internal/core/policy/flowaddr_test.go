package policy_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestFlowNamesIPv6Address: an IPv6 flow sent from or to one of a NIC's
// further IPv6 addresses carries that address on both sides, so a rule
// whose peer holds only the first address tells them apart; an address
// that is not the end's own IPv6 is refused.
func TestFlowNamesIPv6Address(t *testing.T) {
	a := modeltest.Addr
	web := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-first", model.Ingress, model.Accept, 1, model.TCP, "80/80", "2001:db8:a::12/128"),
		rule("sgr-out", model.Egress, model.Drop, 1, model.TCP, "443/443", "2001:db8:a::12/128"),
	}}
	other := &model.SecurityGroup{ID: "sg-other", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop, Rules: []model.Rule{
		rule("sgr-tls", model.Ingress, model.Accept, 1, model.TCP, "443/443", "::/0"),
	}}
	wi := modeltest.Instance("i-web", "vpc-a", "192.168.1.10", "sg-web")
	wi.IPv6, wi.MoreIPv6 = a("2001:db8:a::11"), []netip.Addr{a("2001:db8:a::21")}
	ci := modeltest.Instance("i-cli", "vpc-a", "192.168.1.12", "sg-other")
	ci.IPv6, ci.MoreIPv6 = a("2001:db8:a::12"), []netip.Addr{a("2001:db8:a::22")}
	cloud := policy.NewCloud([]*model.SecurityGroup{web, other}, []*model.Instance{wi, ci}, nil)
	http := policy.Flow{From: "i-cli", To: "i-web", Protocol: model.TCP, Port: 80, IPVersion: 6}
	at := func(f policy.Flow, from, to string) policy.Flow {
		if from != "" {
			f.FromAddr = a(from)
		}
		if to != "" {
			f.ToAddr = a(to)
		}
		return f
	}
	tls := policy.Flow{From: "i-web", To: "i-cli", Protocol: model.TCP, Port: 443, IPVersion: 6}
	tests := []struct {
		name     string
		flow     policy.Flow
		want     policy.Verdict
		deciding string
		err      string
	}{
		{"from the first address", http, policy.Accept, "sgr-first", ""},
		{"the first address named", at(http, "2001:db8:a::12", "2001:db8:a::11"), policy.Accept, "sgr-first", ""},
		{"from a further address", at(http, "2001:db8:a::22", ""), policy.Drop, string(policy.DefaultIngressDrop), ""},
		{"to a further address", at(http, "", "2001:db8:a::21"), policy.Accept, "sgr-first", ""},
		{"egress to the first address", tls, policy.Drop, "sgr-out", ""},
		{"egress to a further address", at(tls, "", "2001:db8:a::22"), policy.Accept, "sgr-tls", ""},
		{"another NIC's address", at(http, "2001:db8:a::21", ""), "", "", "is not an IPv6 address of i-cli"},
		{"an IPv4 flow", at(policy.Flow{From: "i-cli", To: "i-web", Protocol: model.TCP, Port: 80}, "2001:db8:a::22", ""), "", "", "only an IPv6 flow"},
		{"an outside end", at(policy.Flow{From: "2001:db8:ffff::1", To: "i-web", Protocol: model.TCP, Port: 80}, "2001:db8:ffff::1", ""), "", "", "outside address"},
	}
	for _, ev := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
		for _, tt := range tests {
			res, err := policy.Evaluate(ev, tt.flow)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("%T %s: error %v, want one saying %q", ev, tt.name, err, tt.err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%T %s: %v", ev, tt.name, err)
			}
			d := res.Deciding()
			got := string(d.Reason)
			if d.Rule != nil {
				got = d.Rule.RuleID
			}
			if res.Verdict != tt.want || got != tt.deciding {
				t.Errorf("%T %s: %s by %s, want %s by %s", ev, tt.name, res.Verdict, got, tt.want, tt.deciding)
			}
		}
	}
}
