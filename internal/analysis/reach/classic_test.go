package reach_test

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// classicCloud has classic-network groups, whose intranet and internet
// rule sets differ, next to a VPC.
func classicCloud() (*policy.Cloud, []netip.Addr) {
	rl := modeltest.Rule
	web := modeltest.Group("sg-cweb", "", "isolated",
		rl("r-http-inet", "in accept 1 TCP 80/80 0.0.0.0/0 nic=internet"),
		rl("r-ssh-lan", "in accept 1 TCP 22/22 10.0.0.0/8 nic=intranet"),
		rl("r-all-lan", "in accept 5 ALL -1/-1 sg-capp nic=intranet"),
		rl("r-no-smtp", "out drop 1 TCP 25/25 0.0.0.0/0 nic=internet"))
	app := modeltest.Group("sg-capp", "", "basic",
		rl("r-app-inet", "in accept 1 UDP 53/53 0.0.0.0/0 nic=internet"),
		rl("r-app-lan", "in accept 1 TCP 1/65535 sg-cweb nic=intranet"))
	vpc := modeltest.Group("sg-vpc", "vpc-a", "basic", rl("r-vpc-any", "in accept 1 ALL -1/-1 0.0.0.0/0"))
	inst := func(id, vpc, private, public string, groups ...string) *model.Instance {
		in := modeltest.Instance(id, vpc, private, groups...)
		if public != "" {
			modeltest.Public(in, public)
		}
		return in
	}
	c := policy.NewCloud([]*model.SecurityGroup{web, app, vpc}, []*model.Instance{
		inst("i-web", "", "10.1.0.1", "47.0.0.1", "sg-cweb"),
		inst("i-web2", "", "10.1.0.2", "", "sg-cweb"),
		inst("i-app", "", "10.2.0.1", "47.0.0.2", "sg-capp"),
		inst("i-app2", "", "10.2.0.2", "", "sg-capp", "sg-cweb"),
		inst("i-vpc", "vpc-a", "10.1.0.1", "47.0.0.3", "sg-vpc"),
	}, nil)
	return c, []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("10.9.9.9")}
}

func TestClassicNetwork(t *testing.T) {
	c, outside := classicCloud()
	r := reach.Compute(c, reach.Options{})
	want := reachtest.Links(c, outside, 0)
	links, err := r.Matrix(reach.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[reachtest.Key][2]reach.Ports{}
	for _, l := range links {
		if l.From != reach.Internet && l.To != reach.Internet {
			got[reachtest.Key{From: l.From, To: l.To}] = [2]reach.Ports{l.IPv4, l.IPv6}
		}
	}
	for _, o := range outside {
		for id := range c.Instances {
			for _, k := range []reachtest.Key{{From: o.String(), To: id}, {From: id, To: o.String()}} {
				if p := outsidePorts(t, r, k, false); !p.Empty() {
					got[k] = [2]reach.Ports{p}
				}
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d links, naive %d", len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; !g[0].Equal(w[0]) {
			t.Errorf("%s -> %s: reach %v, naive %v", k.From, k.To, g[0], w[0])
		}
	}
	// The walk behind Graph uses the same paths.
	g, err := r.Graph(reach.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	wantEdges := graphFromLinks(t, r, links)
	for _, e := range g.Edges {
		if w := wantEdges[[2]string{e.From, e.To}]; !e.IPv4.Equal(w.IPv4) || e.Pairs4 != w.Pairs4 {
			t.Errorf("edge %s -> %s: graph %v (%d), links %v (%d)", e.From, e.To, e.IPv4, e.Pairs4, w.IPv4, w.Pairs4)
		}
	}
	if len(g.Edges) != len(wantEdges) {
		t.Errorf("%d edges, want %d", len(g.Edges), len(wantEdges))
	}
	// A few verdicts spelled out, so the test says what classic means.
	for _, x := range []struct {
		from, to string
		proto    model.Protocol
		port     uint16
		want     bool
	}{
		{"198.51.100.7", "i-web", model.TCP, 80, true},    // internet rule set
		{"198.51.100.7", "i-web", model.TCP, 22, false},   // SSH only on the intranet set
		{"i-web2", "i-web", model.TCP, 22, true},          // intranet: 10.0.0.0/8
		{"i-web2", "i-web", model.TCP, 80, false},         // the HTTP rule is internet-only
		{"i-app", "i-app2", model.TCP, 9999, true},        // intra-group access in sg-capp
		{"i-web", "i-vpc", model.TCP, 443, true},          // classic to VPC through public addresses
		{"i-web", "198.51.100.7", model.TCP, 25, false},   // the internet egress drop
		{"i-web2", "198.51.100.7", model.TCP, 443, false}, // no public address
	} {
		ok, err := r.Allows(policy.Flow{From: x.from, To: x.to, Protocol: x.proto, Port: x.port})
		if err != nil || ok != x.want {
			t.Errorf("%s -> %s %s %d: %v %v, want %v", x.from, x.to, x.proto, x.port, ok, err, x.want)
		}
	}
}
