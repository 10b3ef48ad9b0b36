package nft

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestBuildMapsEachENIToItsOwnChain checks that an instance's secondary
// ENI, bound to its own host interface, gets the chain of its own groups,
// not its instance's.
func TestBuildMapsEachENIToItsOwnChain(t *testing.T) {
	web := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept}
	mgmt := &model.SecurityGroup{ID: "sg-mgmt", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept,
		Rules: []model.Rule{modeltest.Rule("sgr-ssh", "in Accept 1 TCP 22/22 10.0.9.0/24")}}
	in := &model.Instance{ID: "i-web", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.1.10"), SecurityGroups: []string{"sg-web"},
		Host: "h1", Interface: "pi-web", Status: model.StatusRunning}
	eni := &model.NetworkInterface{ID: "eni-mgmt", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-web", DeviceIndex: 1,
		VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.2.10"), SecurityGroups: []string{"sg-mgmt"}, Host: "h1", Interface: "pi-eni-mgmt"}
	c := policy.NewCloud([]*model.SecurityGroup{web, mgmt}, model.NICs([]*model.Instance{in}, []*model.NetworkInterface{eni}), nil)
	rs := Build(c, "h1", Options{})
	for _, m := range rs.Maps {
		if len(m.Elems) != 2 {
			t.Fatalf("map %s: %v, want the instance's and the ENI's interfaces", m.Name, m.Elems)
		}
		if m.Elems[0].Chain == m.Elems[1].Chain {
			t.Errorf("map %s: the ENI and its instance share chain %s; their groups differ", m.Name, m.Elems[0].Chain)
		}
	}
	if len(rs.Problems) > 0 {
		t.Errorf("problems: %v", rs.Problems)
	}
}
