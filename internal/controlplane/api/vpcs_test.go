package api

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// vpcAPI calls a VPC (2016-04-28) action and fails the test on error.
func (e *env) vpcAPI(action string, params map[string]string) any {
	e.t.Helper()
	out, err := e.call(VPCVersion, action, params)
	if err != nil {
		e.t.Fatalf("%s %v: %v", action, params, err)
	}
	return out
}

// vpcAPIErr calls a VPC action that must fail with the given code and status.
func (e *env) vpcAPIErr(code string, status int, action string, params map[string]string) {
	e.t.Helper()
	_, err := e.call(VPCVersion, action, params)
	checkErr(e.t, err, code, status, action, params)
}

// mkVPC creates a VPC through the API.
func (e *env) mkVPC(params map[string]string) string {
	e.t.Helper()
	return e.vpcAPI("CreateVpc", params).(*createVpcResponse).VpcId
}

func TestCreateVpc(t *testing.T) {
	e := newEnv(t)
	out := e.vpcAPI("CreateVpc", map[string]string{"VpcName": "prod", "Description": "prod network"}).(*createVpcResponse)
	if !model.HasPrefix(out.VpcId, "vpc") || out.VRouterId != "vrt-"+idSuffix(out.VpcId) || out.RouteTableId != "vtb-"+idSuffix(out.VpcId) || out.ResourceGroupId == "" {
		t.Fatalf("CreateVpc = %+v", out)
	}
	vpcs := e.vpcAPI("DescribeVpcs", nil).(*describeVpcsResponse).Vpcs.Vpc
	if len(vpcs) != 1 || vpcs[0].CidrBlock != "172.16.0.0/12" || vpcs[0].VpcName != "prod" || vpcs[0].Description != "prod network" ||
		vpcs[0].EnabledIpv6 || vpcs[0].Status != "Available" || vpcs[0].OwnerId != e.ownerID() {
		t.Fatalf("DescribeVpcs = %+v", vpcs)
	}

	tests := []struct {
		name   string
		params map[string]string
		code   string
		status int
	}{
		{"not a CIDR", map[string]string{"CidrBlock": "10.0.0.0"}, "InvalidCidrBlock.Malformed", 400},
		{"IPv6 CIDR", map[string]string{"CidrBlock": "fd00::/8"}, "InvalidCidrBlock.Malformed", 400},
		{"host bits", map[string]string{"CidrBlock": "10.1.2.3/16"}, "InvalidCidrBlock.Malformed", 400},
		{"spaces", map[string]string{"CidrBlock": " 10.0.0.0/16 "}, "InvalidCidrBlock.Malformed", 400},
		{"description with a bidi override", map[string]string{"CidrBlock": "10.0.0.0/16", "Description": "vpc \u202etxt.exe"}, "InvalidVpcDiscription.Malformed", 400},
		{"public range", map[string]string{"CidrBlock": "8.8.0.0/16"}, "InvalidCidrBlock.Malformed", 400},
		{"wider than private", map[string]string{"CidrBlock": "172.0.0.0/8"}, "InvalidCidrBlock.Malformed", 400},
		{"mask too long", map[string]string{"CidrBlock": "10.0.0.0/29"}, "InvalidCidrBlock.Malformed", 400},
		{"bad name", map[string]string{"VpcName": "1vpc"}, "InvalidVpcName.Malformed", 400},
		{"bad description", map[string]string{"Description": "http://x"}, "InvalidVpcDiscription.Malformed", 400},
		{"bad EnableIpv6", map[string]string{"EnableIpv6": "yes"}, "InvalidParameter", 400},
		{"bad IPv6 block", map[string]string{"Ipv6CidrBlock": "2408:4000::/48"}, "InvalidIpv6CidrBlock.Malformed", 400},
		// Blocks whose addresses no NIC may hold: accepted, they gave
		// instances ::1, fe80::4 or ff02::4.
		{"IPv6 block of ::1", map[string]string{"Ipv6CidrBlock": "::/56"}, "InvalidIpv6CidrBlock.Malformed", 400},
		{"link-local IPv6 block", map[string]string{"Ipv6CidrBlock": "fe80::/56"}, "InvalidIpv6CidrBlock.Malformed", 400},
		{"multicast IPv6 block", map[string]string{"Ipv6CidrBlock": "ff02::/56"}, "InvalidIpv6CidrBlock.Malformed", 400},
		{"bad tag", map[string]string{"Tag.1.Key": "acs:x"}, "InvalidTagKey.Malformed", 400},
		{"no region", map[string]string{"RegionId": ""}, "MissingParameter", 400},
		{"unknown region", map[string]string{"RegionId": "mars-1"}, "InvalidRegionId.NotFound", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { e.vpcAPIErr(tt.code, tt.status, "CreateVpc", tt.params) })
	}
	if n := len(e.vpcAPI("DescribeVpcs", nil).(*describeVpcsResponse).Vpcs.Vpc); n != 1 {
		t.Fatalf("failed creates left %d VPCs, want 1", n)
	}
}

func TestVpcIPv6(t *testing.T) {
	e := newEnv(t)
	a := e.mkVPC(map[string]string{"EnableIpv6": "true", "CidrBlock": "192.168.0.0/16"})
	b := e.mkVPC(map[string]string{"EnableIpv6": "true"})
	o := e.otherAccount()
	o.mkVPC(map[string]string{"EnableIpv6": "true"}) // the pool is shared by all accounts
	got := map[string]string{}
	for _, env := range []*env{e, o} {
		for _, v := range env.vpcAPI("DescribeVpcs", nil).(*describeVpcsResponse).Vpcs.Vpc {
			got[v.VpcId] = v.Ipv6CidrBlock
			if !v.EnabledIpv6 || len(v.Ipv6CidrBlocks.Ipv6CidrBlock) != 1 || v.Ipv6CidrBlocks.Ipv6CidrBlock[0].Ipv6CidrBlock != v.Ipv6CidrBlock {
				t.Errorf("VPC %+v", v)
			}
		}
	}
	// Each a /56 of the pool, none another's; taken from a random place
	// (the lowest free one told how many the other accounts had made).
	pool := netip.MustParsePrefix("2408:4000::/20")
	seen := map[string]bool{}
	for id, six := range got {
		p, err := netip.ParsePrefix(six)
		if err != nil || p.Bits() != 56 || !pool.Contains(p.Addr()) || seen[six] {
			t.Errorf("VPC %s: IPv6 block %q, want a /56 of %s no other VPC has", id, six, pool)
		}
		seen[six] = true
	}
	if seen["2408:4000::/56"] && seen["2408:4000:0:100::/56"] && seen["2408:4000:0:200::/56"] {
		t.Errorf("IPv6 blocks %v: the pool's first three, handed out lowest first", got)
	}
	e.vpcAPIErr("InvalidCidrBlock.Overlapped", 400, "CreateVpc", map[string]string{"Ipv6CidrBlock": got[b]})
	d := e.mkVPC(map[string]string{"Ipv6CidrBlock": "2408:4000:0:f00::/56"})
	if _, err := e.call(VPCVersion, "DeleteVpc", map[string]string{"VpcId": d}); err != nil {
		t.Fatal(err)
	}

	w := e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": a, "ZoneId": "cn-hangzhou-i", "CidrBlock": "192.168.1.0/24", "Ipv6CidrBlock": "5"}).(*createVSwitchResponse).VSwitchId
	sw := e.vpcAPI("DescribeVSwitches", map[string]string{"VSwitchId": w}).(*describeVSwitchesResponse).VSwitches.VSwitch
	aBlock := netip.MustParsePrefix(got[a]).Addr().As16()
	aBlock[7] = 5
	if len(sw) != 1 || sw[0].Ipv6CidrBlock != netip.PrefixFrom(netip.AddrFrom16(aBlock), 64).String() || !sw[0].EnabledIpv6 {
		t.Fatalf("vSwitch %+v", sw)
	}
	for _, tt := range []struct {
		vpc, cidr, six, code string
	}{
		{a, "192.168.2.0/24", "5", "InvalidCidrBlock.Overlapped"},
		{a, "192.168.2.0/24", "256", "InvalidParameter"},
		{a, "192.168.2.0/24", "x", "InvalidParameter"},
	} {
		e.vpcAPIErr(tt.code, 400, "CreateVSwitch", map[string]string{"VpcId": tt.vpc, "ZoneId": "cn-hangzhou-i", "CidrBlock": tt.cidr, "Ipv6CidrBlock": tt.six})
	}
	plain := e.mkVPC(map[string]string{"CidrBlock": "10.0.0.0/16"})
	e.vpcAPIErr("OperationFailed.VpcNotEnableIpv6", 400, "CreateVSwitch", map[string]string{"VpcId": plain, "ZoneId": "cn-hangzhou-i", "CidrBlock": "10.0.1.0/24", "Ipv6CidrBlock": "1"})
}

func TestDescribeVpcs(t *testing.T) {
	e := newEnv(t)
	e.s.Quotas.VPCs = 12 // two pages of 10, past VPC's default quota
	var ids []string
	for i := range 12 {
		ids = append(ids, e.mkVPC(map[string]string{"VpcName": fmt.Sprintf("net%02d", i), "CidrBlock": fmt.Sprintf("10.%d.0.0/16", i)}))
	}
	w := e.mkVSwitch(ids[3], "10.3.1.0/24")
	var seen []string
	for page := 1; page <= 3; page++ {
		out := e.vpcAPI("DescribeVpcs", map[string]string{"PageSize": "5", "PageNumber": fmt.Sprint(page)}).(*describeVpcsResponse)
		if out.TotalCount != 12 || out.PageNumber != page || out.PageSize != 5 {
			t.Fatalf("page %d: %+v", page, out)
		}
		for _, v := range out.Vpcs.Vpc {
			seen = append(seen, v.VpcId)
		}
	}
	slices.Sort(seen)
	sorted := slices.Sorted(slices.Values(ids))
	if !slices.Equal(seen, sorted) {
		t.Fatalf("pages gave %v, want %v", seen, sorted)
	}
	filters := []struct {
		params map[string]string
		want   []string
	}{
		{map[string]string{"VpcId": ids[0] + "," + ids[5]}, []string{ids[0], ids[5]}},
		{map[string]string{"VpcName": "net07"}, []string{ids[7]}},
		{map[string]string{"IsDefault": "true"}, nil},
		{map[string]string{"VpcId": "vpc-none"}, nil},
	}
	for _, f := range filters {
		var got []string
		for _, v := range e.vpcAPI("DescribeVpcs", f.params).(*describeVpcsResponse).Vpcs.Vpc {
			got = append(got, v.VpcId)
		}
		slices.Sort(got)
		if !slices.Equal(got, slices.Sorted(slices.Values(f.want))) {
			t.Errorf("%v: got %v, want %v", f.params, got, f.want)
		}
	}
	v := e.vpcAPI("DescribeVpcs", map[string]string{"VpcId": ids[3]}).(*describeVpcsResponse).Vpcs.Vpc[0]
	if !slices.Equal(v.VSwitchIds.VSwitchId, []string{w}) || v.VRouterId != vRouterID(ids[3]) {
		t.Fatalf("VPC %+v", v)
	}
	e.vpcAPIErr("InvalidPageSize.Malformed", 400, "DescribeVpcs", map[string]string{"PageSize": "51"})
	e.vpcAPIErr("InvalidPageNumber.Malformed", 400, "DescribeVpcs", map[string]string{"PageNumber": "0"})
	e.vpcAPIErr("MissingParameter", 400, "DescribeVpcs", map[string]string{"RegionId": ""})
	if n := len(e.vpcAPI("DescribeVpcs", map[string]string{"RegionId": "cn-beijing"}).(*describeVpcsResponse).Vpcs.Vpc); n != 0 {
		t.Fatalf("cn-beijing lists %d VPCs", n)
	}
}

func TestDeleteVpcAndVSwitchDependencies(t *testing.T) {
	e := newEnv(t)
	v := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	w := e.mkVSwitch(v, "192.168.1.0/24")
	sg := putTestGroup(e, v, model.Normal)
	inst := runIDs(e, map[string]string{"VSwitchId": w, "SecurityGroupId": sg})[0]

	e.vpcAPIErr("DependencyViolation.VSwitch", 400, "DeleteVpc", map[string]string{"VpcId": v})
	e.vpcAPIErr("DependencyViolation", 400, "DeleteVSwitch", map[string]string{"VSwitchId": w})
	e.ecs("DeleteInstance", map[string]string{"InstanceId": inst, "Force": "true"})
	e.vpcAPI("DeleteVSwitch", map[string]string{"VSwitchId": w, "RegionId": ""})
	e.vpcAPIErr("InvalidVSwitchId.NotFound", 404, "DeleteVSwitch", map[string]string{"VSwitchId": w})

	e.vpcAPIErr("DependencyViolation.SecurityGroup", 400, "DeleteVpc", map[string]string{"VpcId": v})
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error { return tx.Delete(KindGroup, sg) }); err != nil {
		t.Fatal(err)
	}
	e.vpcAPI("DeleteVpc", map[string]string{"VpcId": v})
	e.vpcAPIErr("InvalidVpcId.NotFound", 404, "DeleteVpc", map[string]string{"VpcId": v})
	e.vpcAPIErr("MissingParameter", 400, "DeleteVpc", nil)
}

func TestVpcOtherAccount(t *testing.T) {
	e := newEnv(t)
	v := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	w := e.mkVSwitch(v, "192.168.1.0/24")
	eip := e.allocEIP().AllocationId
	o := e.otherAccount()
	o.vpcAPIErr("InvalidVpcId.NotFound", 404, "DeleteVpc", map[string]string{"VpcId": v})
	o.vpcAPIErr("InvalidVpcId.NotFound", 404, "CreateVSwitch", map[string]string{"VpcId": v, "ZoneId": "cn-hangzhou-h", "CidrBlock": "192.168.2.0/24"})
	o.vpcAPIErr("InvalidVSwitchId.NotFound", 404, "DeleteVSwitch", map[string]string{"VSwitchId": w})
	o.vpcAPIErr("InvalidAllocationId.NotFound", 404, "ReleaseEipAddress", map[string]string{"AllocationId": eip})
	o.vpcAPIErr("InvalidAllocationId.NotFound", 404, "UnassociateEipAddress", map[string]string{"AllocationId": eip})
	if n := len(o.vpcAPI("DescribeVpcs", nil).(*describeVpcsResponse).Vpcs.Vpc); n != 0 {
		t.Fatalf("other account sees %d VPCs", n)
	}
	if n := len(o.vpcAPI("DescribeVSwitches", map[string]string{"VpcId": v}).(*describeVSwitchesResponse).VSwitches.VSwitch); n != 0 {
		t.Fatalf("other account sees %d vSwitches", n)
	}
	if n := len(o.eips(nil)); n != 0 {
		t.Fatalf("other account sees %d EIPs", n)
	}
	// The other account's instance cannot take my EIP, nor mine its.
	ov := o.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	ow := o.mkVSwitch(ov, "192.168.1.0/24")
	oi := runIDs(o, map[string]string{"VSwitchId": ow, "SecurityGroupId": putTestGroup(o, ov, model.Normal)})[0]
	o.vpcAPIErr("InvalidAllocationId.NotFound", 404, "AssociateEipAddress", map[string]string{"AllocationId": eip, "InstanceId": oi})
	e.vpcAPIErr("InvalidInstanceId.NotFound", 404, "AssociateEipAddress", map[string]string{"AllocationId": eip, "InstanceId": oi})
}

func TestVpcClientToken(t *testing.T) {
	e := newEnv(t)
	p := map[string]string{"CidrBlock": "10.0.0.0/16", "ClientToken": "vpc-token-1"}
	a := e.mkVPC(p)
	if b := e.mkVPC(p); a != b {
		t.Fatalf("retry created %s, want %s", b, a)
	}
	e.vpcAPIErr("IdempotentParameterMismatch", 400, "CreateVpc", map[string]string{"CidrBlock": "10.1.0.0/16", "ClientToken": "vpc-token-1"})
	ap := map[string]string{"ClientToken": "eip-token-1"}
	x := e.vpcAPI("AllocateEipAddress", ap).(*allocateEipAddressResponse)
	if y := e.vpcAPI("AllocateEipAddress", ap).(*allocateEipAddressResponse); *x != *y {
		t.Fatalf("retry allocated %+v, want %+v", y, x)
	}
	if n := len(e.eips(nil)); n != 1 {
		t.Fatalf("%d EIPs after a retried allocation", n)
	}
}

// TestVpcResponseShapes checks every field name against the official SDK's
// response structs.
func TestVpcResponseShapes(t *testing.T) {
	e := newEnv(t)
	v := e.mkVPC(map[string]string{"EnableIpv6": "true", "CidrBlock": "192.168.0.0/16", "Tag.1.Key": "env", "Tag.1.Value": "prod"})
	w := e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": v, "ZoneId": "cn-hangzhou-h", "CidrBlock": "192.168.1.0/24", "Ipv6CidrBlock": "1",
		"Tag.1.Key": "env", "Tag.1.Value": "prod"}).(*createVSwitchResponse).VSwitchId
	inst := runIDs(e, map[string]string{"VSwitchId": w, "SecurityGroupId": putTestGroup(e, v, model.Normal)})[0]
	eip := e.allocEIP()
	e.vpcAPI("AssociateEipAddress", map[string]string{"AllocationId": eip.AllocationId, "InstanceId": inst})
	checks := []struct {
		sdk    any
		action string
		params map[string]string
	}{
		{vpc.CreateVpcResponse{}, "CreateVpc", nil},
		{vpc.DescribeVpcsResponse{}, "DescribeVpcs", nil},
		{vpc.CreateVSwitchResponse{}, "CreateVSwitch", map[string]string{"VpcId": v, "ZoneId": "cn-hangzhou-h", "CidrBlock": "192.168.2.0/24"}},
		{vpc.DescribeVSwitchesResponse{}, "DescribeVSwitches", nil},
		{vpc.AllocateEipAddressResponse{}, "AllocateEipAddress", nil},
		{vpc.DescribeEipAddressesResponse{}, "DescribeEipAddresses", nil},
		{vpc.DeleteVSwitchResponse{}, "UnassociateEipAddress", map[string]string{"AllocationId": eip.AllocationId}},
		{vpc.DescribeVpcAttributeResponse{}, "DescribeVpcAttribute", map[string]string{"VpcId": v}},
		{vpc.DescribeVSwitchAttributesResponse{}, "DescribeVSwitchAttributes", map[string]string{"VSwitchId": w}},
		{vpc.DescribeRouteTableListResponse{}, "DescribeRouteTableList", map[string]string{"VpcId": v}},
	}
	for _, c := range checks {
		checkSDKShape(t, c.action, reflect.TypeOf(c.sdk), e.vpcAPI(c.action, c.params))
	}
}
