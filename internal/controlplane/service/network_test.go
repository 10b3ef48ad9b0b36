package service

import (
	"testing"
)

func TestVpcsAndVSwitches(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name string
		in   CreateVpcInput
		code string
	}{
		{"public block", CreateVpcInput{CidrBlock: "8.8.0.0/16"}, "InvalidCidrBlock.Malformed"},
		{"host bits", CreateVpcInput{CidrBlock: "10.0.0.1/16"}, "InvalidCidrBlock.Malformed"},
		{"bad IPv6 block", CreateVpcInput{IPv6CidrBlock: "2408::/48"}, "InvalidIpv6CidrBlock.Malformed"},
		{"bad name", CreateVpcInput{Name: "1vpc"}, "InvalidVpcName.Malformed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Caller = e.c
			_, err := e.s.CreateVpc(e.ctx, tt.in)
			wantCode(t, err, tt.code)
		})
	}
	res, err := e.s.CreateVpc(e.ctx, CreateVpcInput{Caller: e.c, CidrBlock: "192.168.0.0/16", Name: "prod", EnableIPv6: true})
	wantCode(t, err, "")
	vpc := res.VpcId
	dflt, err := e.s.CreateVpc(e.ctx, CreateVpcInput{Caller: e.c})
	wantCode(t, err, "")

	zone := "cn-hangzhou-h"
	block := 3
	sw := func(cidr string, six *int) (string, error) {
		r, err := e.s.CreateVSwitch(e.ctx, CreateVSwitchInput{Caller: e.c, VpcID: vpc, ZoneID: zone, CidrBlock: cidr, IPv6Block: six})
		return r.VSwitchId, err
	}
	vsw, err := sw("192.168.1.0/24", &block)
	wantCode(t, err, "")
	_, err = sw("192.168.1.128/25", nil)
	wantCode(t, err, "InvalidCidrBlock.Overlapped")
	_, err = sw("10.0.0.0/24", nil)
	wantCode(t, err, "InvalidCidrBlock.Malformed")
	_, err = sw("192.168.2.0/24", &block)
	wantCode(t, err, "InvalidCidrBlock.Overlapped")
	_, err = e.s.CreateVSwitch(e.ctx, CreateVSwitchInput{Caller: e.c, VpcID: vpc, ZoneID: "mars-1a", CidrBlock: "192.168.3.0/24"})
	wantCode(t, err, "InvalidZoneId.NotFound")

	vpcs, err := e.s.DescribeVpcs(e.ctx, DescribeVpcsInput{Caller: e.c, Page: Page{Number: 1, Size: 10}})
	wantCode(t, err, "")
	if vpcs.Total != 2 || len(vpcs.Items) != 2 {
		t.Fatalf("%d VPCs (total %d), want 2", len(vpcs.Items), vpcs.Total)
	}
	for _, v := range vpcs.Items {
		if v.VPC.ID == vpc && (len(v.VSwitchIDs) != 1 || !v.VPC.IPv6CIDR.IsValid()) {
			t.Fatalf("VPC %s: vSwitches %v, IPv6 %s", vpc, v.VSwitchIDs, v.VPC.IPv6CIDR)
		}
	}
	_, err = e.s.DescribeVpcs(e.ctx, DescribeVpcsInput{Caller: e.c, IDs: make([]string, MaxDescribeVpcIDs+1)})
	wantCode(t, err, "InvalidParameter")
	vsws, err := e.s.DescribeVSwitches(e.ctx, DescribeVSwitchesInput{Caller: Caller{Account: e.c.Account}, VpcID: vpc, Page: Page{Number: 1, Size: 10}})
	wantCode(t, err, "")
	if len(vsws.Items) != 1 || vsws.Items[0].AvailableIPs != 252 {
		t.Fatalf("vSwitches %+v, want one with 252 free addresses", vsws.Items)
	}

	wantCode(t, e.s.DeleteVpc(e.ctx, VpcRef{Caller: e.c, VpcID: vpc}), "DependencyViolation.VSwitch")
	wantCode(t, e.s.DeleteVSwitch(e.ctx, VSwitchRef{Caller: e.c, VSwitchID: vsw}), "")
	wantCode(t, e.s.DeleteVpc(e.ctx, VpcRef{Caller: e.c, VpcID: vpc}), "")
	wantCode(t, e.s.DeleteVpc(e.ctx, VpcRef{Caller: e.c, VpcID: dflt.VpcId}), "")
}

func TestEips(t *testing.T) {
	e := newEnv(t)
	net := e.network()
	sg := e.group(CreateGroupInput{VpcID: net.vpc})
	ids, err := e.s.RunInstances(e.ctx, LaunchInput{Caller: e.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1", VSwitchID: net.vsw, SecurityGroupID: sg})
	wantCode(t, err, "")

	_, err = e.s.AllocateEipAddress(e.ctx, AllocateEipInput{Caller: e.c, Bandwidth: "501"})
	wantCode(t, err, "InvalidParameter")
	a, err := e.s.AllocateEipAddress(e.ctx, AllocateEipInput{Caller: e.c})
	wantCode(t, err, "")
	if !PublicPool.Contains(mustAddr(t, a.EipAddress)) {
		t.Fatalf("EIP %s is outside the public pool", a.EipAddress)
	}
	eip := EipInput{Caller: e.c, AllocationID: a.AllocationId, InstanceID: ids[0]}
	wantCode(t, e.s.AssociateEipAddress(e.ctx, eip), "")
	wantCode(t, e.s.AssociateEipAddress(e.ctx, eip), "IncorrectEipStatus")
	wantCode(t, e.s.ReleaseEipAddress(e.ctx, eip), "IncorrectEipStatus")
	v, err := e.s.DescribeInstanceAttribute(e.ctx, e.c, ids[0])
	wantCode(t, err, "")
	if v.EIP == nil || v.EIP.ID != a.AllocationId || v.Instance.PublicIP.String() != a.EipAddress {
		t.Fatalf("instance after associate: %+v", v)
	}
	list, err := e.s.DescribeEipAddresses(e.ctx, DescribeEipsInput{Caller: e.c, Status: EipInUse, Page: Page{Number: 1, Size: 10}})
	wantCode(t, err, "")
	if list.Total != 1 || list.Items[0].EIP.InstanceID != ids[0] {
		t.Fatalf("EIPs in use: %+v", list.Items)
	}
	wantCode(t, e.s.UnassociateEipAddress(e.ctx, EipInput{Caller: e.c, AllocationID: a.AllocationId, InstanceID: "i-other"}), "InvalidInstanceId.Mismatch")
	wantCode(t, e.s.UnassociateEipAddress(e.ctx, eip), "")
	wantCode(t, e.s.ReleaseEipAddress(e.ctx, eip), "")
	if v, _ := e.s.DescribeInstanceAttribute(e.ctx, e.c, ids[0]); v.EIP != nil || v.Instance.PublicIP.IsValid() {
		t.Fatalf("instance after unassociate: %+v", v.Instance)
	}
}

// testNet is a VPC with one vSwitch, made through the services.
type testNet struct{ vpc, vsw string }

func (e *env) network() testNet {
	e.t.Helper()
	v, err := e.s.CreateVpc(e.ctx, CreateVpcInput{Caller: e.c, CidrBlock: "192.168.0.0/16", EnableIPv6: true})
	if err != nil {
		e.t.Fatal(err)
	}
	six := 1
	w, err := e.s.CreateVSwitch(e.ctx, CreateVSwitchInput{Caller: e.c, VpcID: v.VpcId, ZoneID: "cn-hangzhou-h", CidrBlock: "192.168.1.0/24", IPv6Block: &six})
	if err != nil {
		e.t.Fatal(err)
	}
	return testNet{v.VpcId, w.VSwitchId}
}

// TestPublicAddressesPerAccount: an account holds at most
// Quotas.PublicIPs public addresses (EIPs and instances' public IPs,
// a bound EIP counted once); past it an allocation or a launch with a
// public IP is refused, and another account still gets addresses. One
// tenant could take the whole shared pool.
func TestPublicAddressesPerAccount(t *testing.T) {
	e := newEnv(t)
	e.s.Quotas.PublicIPs = 3
	net := e.network()
	sg := e.group(CreateGroupInput{VpcID: net.vpc})
	launch := func(bw int) ([]string, error) {
		return e.s.RunInstances(e.ctx, LaunchInput{Caller: e.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1", VSwitchID: net.vsw, SecurityGroupID: sg, BandwidthOut: bw})
	}
	ids, err := launch(0)
	wantCode(t, err, "")
	a, err := e.s.AllocateEipAddress(e.ctx, AllocateEipInput{Caller: e.c})
	wantCode(t, err, "")
	// The EIP bound to the instance is one address held, not two.
	wantCode(t, e.s.AssociateEipAddress(e.ctx, EipInput{Caller: e.c, AllocationID: a.AllocationId, InstanceID: ids[0]}), "")
	_, err = launch(5) // the second
	wantCode(t, err, "")
	_, err = e.s.AllocateEipAddress(e.ctx, AllocateEipInput{Caller: e.c}) // the third
	wantCode(t, err, "")
	_, err = e.s.AllocateEipAddress(e.ctx, AllocateEipInput{Caller: e.c})
	wantCode(t, err, "QuotaExceeded.Eip")
	_, err = launch(5)
	wantCode(t, err, "QuotaExceeded.Eip")
	if _, err := launch(0); err != nil {
		t.Errorf("a launch without a public IP past the quota: %v", err)
	}
	other, err := AccountCaller("1000000000000002", e.c.Region)
	wantCode(t, err, "")
	_, err = e.s.AllocateEipAddress(e.ctx, AllocateEipInput{Caller: other})
	wantCode(t, err, "")
}
