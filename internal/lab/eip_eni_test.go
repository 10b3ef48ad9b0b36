package lab

import (
	"context"
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestENIEIPDelivered sends real packets to and from an EIP bound to a
// secondary ENI: the lab made from the model's NICs (model.NICs, as the
// control plane and `palisade lab play` make it) NATs the EIP to the ENI's
// private address, in its instance's namespace, while the instance has no
// public address. Every flow between the NICs and the outside is compared
// with the model; without the EIP on the ENI's NIC nothing reaches the ENI
// from outside, nor another VPC, and the first checks fail.
func TestENIEIPDelivered(t *testing.T) {
	needRoot(t)
	a := netip.MustParseAddr
	eni := &model.NetworkInterface{ID: "eni-a1", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-a1", DeviceIndex: 1,
		VpcID: "vpc-a", PrivateIP: a("10.1.0.31"), SecurityGroups: []string{"sg-vpc-a"}, PublicIP: a("192.0.2.31"), EipID: "eip-a1"}
	instances := []*model.Instance{
		{ID: "i-a1", VpcID: "vpc-a", PrivateIP: a("10.1.0.11"), SecurityGroups: []string{"sg-vpc-a"}},
		{ID: "i-a2", VpcID: "vpc-a", PrivateIP: a("10.1.0.12"), SecurityGroups: []string{"sg-vpc-a"}},
		{ID: "i-b1", VpcID: "vpc-b", PrivateIP: a("10.2.0.21"), PublicIP: a("192.0.2.21"), SecurityGroups: []string{"sg-vpc-b"}},
	}
	cloud := policy.NewCloud([]*model.SecurityGroup{openGroup("sg-vpc-a", "vpc-a"), openGroup("sg-vpc-b", "vpc-b")},
		model.NICs(instances, []*model.NetworkInterface{eni}), nil)
	spec := SpecFromCloud(cloud, testLabName(t, "ee"), 2, []netip.Addr{outside4})
	spec.AttachENIs([]*model.NetworkInterface{eni})
	l := upLab(t, spec)
	if in := l.byID["eni-a1"]; in.PublicIP != eni.PublicIP || in.NICOf != "i-a1" {
		t.Fatalf("the ENI in the lab: %+v; want its EIP %s, as eth1 of i-a1", in, eni.PublicIP)
	}
	must := []policy.Flow{
		{From: outside4.String(), To: "eni-a1", Protocol: model.TCP, Port: 22, IPVersion: 4},
		{From: "eni-a1", To: outside4.String(), Protocol: model.UDP, Port: 53, IPVersion: 4},
		{From: "i-b1", To: "eni-a1", Protocol: model.TCP, Port: 443, IPVersion: 4},
		{From: "eni-a1", To: "i-b1", Protocol: model.GRE, IPVersion: 4},
	}
	results, err := ProbeFlows(context.Background(), l, must, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Err != nil || !r.Delivered {
			t.Errorf("%+v: delivered %v (%s, %s -> %s), err %v; want delivered through the ENI's EIP", must[i], r.Delivered, r.Detail, r.Src, r.Dst, r.Err)
		}
	}
	// The GRE probe from the ENI arrives from its EIP.
	if r := results[3]; r.SeenSrc != eni.PublicIP {
		t.Errorf("i-b1 saw the ENI's packet from %s, want its EIP %s", r.SeenSrc, eni.PublicIP)
	}
	checkAgainstModel(t, l, cloud, everyFlow(cloud, l.Spec.Outside))
}
