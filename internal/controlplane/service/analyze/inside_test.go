package analyze

import (
	"maps"
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestVPCBlocksAreNotTheInternet: the live reachability leaves every VPC's
// blocks out of the internet, its IPv6 block too, and the classic
// instances' private addresses (it left those in, where the scenario
// loader reads them as the instance and apply's plan left them out).
func TestVPCBlocksAreNotTheInternet(t *testing.T) {
	vpc := &model.VPC{ID: "vpc-a", Owner: "1", CIDR: netip.MustParsePrefix("192.168.0.0/16"),
		IPv6CIDR: netip.MustParsePrefix("2408:4000:0:100::/56")}
	g := modeltest.Group("sg-a", "vpc-a", "basic", modeltest.Rule("r-all", "in accept 1 ALL -1/-1 ::/0"),
		modeltest.Rule("r-all4", "in accept 1 ALL -1/-1 0.0.0.0/0"))
	in := modeltest.Instance("i-a", "vpc-a", "192.168.1.10", "sg-a")
	in.IPv6 = netip.MustParseAddr("2408:4000:0:100::10")
	modeltest.Public(in, "47.0.0.1")
	classic := modeltest.Instance("i-c", "", "10.1.2.3", "sg-c")
	c := policy.NewCloud([]*model.SecurityGroup{g, modeltest.Group("sg-c", "", "basic")}, []*model.Instance{in, classic}, nil)
	r := reach.Compute(c, reach.Options{Inside: reach.InsideBlocks("", []*model.VPC{vpc}, maps.Values(c.Instances))})
	l, err := r.Between(reach.Internet, "i-a")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr   string
		inside bool
	}{{"192.168.7.7", true}, {"2408:4000:0:1ff::7", true}, {"198.51.100.7", false}, {"2001:db8::7", false},
		{"10.1.2.3", true}, {"10.1.2.4", false}} {
		a := netip.MustParseAddr(tt.addr)
		covered := false
		for _, o := range l.Outside {
			if o.First.Is6() == a.Is6() && o.First.Compare(a) <= 0 && a.Compare(o.Last) <= 0 && !o.Ports.Empty() {
				covered = true
			}
		}
		if covered == tt.inside {
			t.Errorf("%s: the internet link covers it: %v, want %v", tt.addr, covered, !tt.inside)
		}
	}
}
