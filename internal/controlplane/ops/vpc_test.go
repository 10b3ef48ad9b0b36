package ops

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

// mkVSwitch creates a vSwitch in zone cn-hangzhou-h through the API.
func (e *env) mkVSwitch(vpcID, cidr string) string {
	e.t.Helper()
	return e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": vpcID, "ZoneId": "cn-hangzhou-h", "CidrBlock": cidr}).(*createVSwitchResponse).VSwitchId
}

func (e *env) allocEIP() *allocateEipAddressResponse {
	e.t.Helper()
	return e.vpcAPI("AllocateEipAddress", nil).(*allocateEipAddressResponse)
}

func (e *env) eips(params map[string]string) []eipAddressItem {
	e.t.Helper()
	return e.vpcAPI("DescribeEipAddresses", params).(*describeEipAddressesResponse).EipAddresses.EipAddress
}

func TestCreateVpc(t *testing.T) {
	e := newEnv(t)
	out := e.vpcAPI("CreateVpc", map[string]string{"VpcName": "prod", "Description": "prod network"}).(*createVpcResponse)
	if !model.HasPrefix(out.VpcId, "vpc") || out.VRouterId != "vrt-"+idSuffix(out.VpcId) || out.RouteTableId != "vtb-"+idSuffix(out.VpcId) || out.ResourceGroupId == "" {
		t.Fatalf("CreateVpc = %+v", out)
	}
	vpcs := e.vpcAPI("DescribeVpcs", nil).(*describeVpcsResponse).Vpcs.Vpc
	if len(vpcs) != 1 || vpcs[0].CidrBlock != "172.16.0.0/12" || vpcs[0].VpcName != "prod" || vpcs[0].Description != "prod network" ||
		vpcs[0].EnabledIpv6 || vpcs[0].Status != "Available" || vpcs[0].OwnerId != 1000000000000001 {
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
		{"public range", map[string]string{"CidrBlock": "8.8.0.0/16"}, "InvalidCidrBlock.Malformed", 400},
		{"wider than private", map[string]string{"CidrBlock": "172.0.0.0/8"}, "InvalidCidrBlock.Malformed", 400},
		{"mask too long", map[string]string{"CidrBlock": "10.0.0.0/29"}, "InvalidCidrBlock.Malformed", 400},
		{"bad name", map[string]string{"VpcName": "1vpc"}, "InvalidVpcName.Malformed", 400},
		{"bad description", map[string]string{"Description": "http://x"}, "InvalidVpcDiscription.Malformed", 400},
		{"bad EnableIpv6", map[string]string{"EnableIpv6": "yes"}, "InvalidParameter", 400},
		{"bad IPv6 block", map[string]string{"Ipv6CidrBlock": "2408:4000::/48"}, "InvalidIpv6CidrBlock.Malformed", 400},
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
	c := o.mkVPC(map[string]string{"EnableIpv6": "true"}) // the pool is shared by all accounts
	got := map[string]string{}
	for _, env := range []*env{e, o} {
		for _, v := range env.vpcAPI("DescribeVpcs", nil).(*describeVpcsResponse).Vpcs.Vpc {
			got[v.VpcId] = v.Ipv6CidrBlock
			if !v.EnabledIpv6 || len(v.Ipv6CidrBlocks.Ipv6CidrBlock) != 1 || v.Ipv6CidrBlocks.Ipv6CidrBlock[0].Ipv6CidrBlock != v.Ipv6CidrBlock {
				t.Errorf("VPC %+v", v)
			}
		}
	}
	want := map[string]string{a: "2408:4000::/56", b: "2408:4000:0:100::/56", c: "2408:4000:0:200::/56"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("IPv6 blocks %v, want %v", got, want)
	}
	e.vpcAPIErr("InvalidCidrBlock.Overlapped", 400, "CreateVpc", map[string]string{"Ipv6CidrBlock": "2408:4000:0:100::/56"})
	d := e.mkVPC(map[string]string{"Ipv6CidrBlock": "2408:4000:0:f00::/56"})
	if _, err := e.call(VPCVersion, "DeleteVpc", map[string]string{"VpcId": d}); err != nil {
		t.Fatal(err)
	}

	w := e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": a, "ZoneId": "cn-hangzhou-i", "CidrBlock": "192.168.1.0/24", "Ipv6CidrBlock": "5"}).(*createVSwitchResponse).VSwitchId
	sw := e.vpcAPI("DescribeVSwitches", map[string]string{"VSwitchId": w}).(*describeVSwitchesResponse).VSwitches.VSwitch
	if len(sw) != 1 || sw[0].Ipv6CidrBlock != "2408:4000:0:5::/64" || !sw[0].EnabledIpv6 {
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

func TestCreateVSwitch(t *testing.T) {
	e := newEnv(t)
	v := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	w := e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": v, "ZoneId": "cn-hangzhou-j", "CidrBlock": "192.168.0.0/24", "VSwitchName": "web", "Description": "web tier"}).(*createVSwitchResponse).VSwitchId
	good := map[string]string{"VpcId": v, "ZoneId": "cn-hangzhou-h", "CidrBlock": "192.168.1.0/24"}
	with := func(k, val string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = val
		return m
	}
	tests := []struct {
		name   string
		params map[string]string
		code   string
		status int
	}{
		{"no VpcId", with("VpcId", ""), "MissingParameter", 400},
		{"no ZoneId", with("ZoneId", ""), "MissingParameter", 400},
		{"no CidrBlock", with("CidrBlock", ""), "MissingParameter", 400},
		{"unknown zone", with("ZoneId", "cn-hangzhou-z"), "InvalidZoneId.NotFound", 404},
		{"zone of another region", with("ZoneId", "cn-beijing-g"), "InvalidZoneId.NotFound", 404},
		{"unknown VPC", with("VpcId", "vpc-nothere"), "InvalidVpcId.NotFound", 404},
		{"malformed VPC ID", with("VpcId", "sg-123"), "InvalidVpcId.Malformed", 400},
		{"outside the VPC", with("CidrBlock", "10.0.0.0/24"), "InvalidCidrBlock.Malformed", 400},
		{"mask too short", with("CidrBlock", "192.168.0.0/15"), "InvalidCidrBlock.Malformed", 400},
		{"mask too long", with("CidrBlock", "192.168.1.0/30"), "InvalidCidrBlock.Malformed", 400},
		{"overlaps a vSwitch", with("CidrBlock", "192.168.0.128/25"), "InvalidCidrBlock.Overlapped", 400},
		{"contains a vSwitch", with("CidrBlock", "192.168.0.0/20"), "InvalidCidrBlock.Overlapped", 400},
		{"bad name", with("VSwitchName", "-x"), "InvalidVSwitchName.Malformed", 400},
		{"bad description", with("Description", "x"), "InvalidVSwitchDiscription.Malformed", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { e.vpcAPIErr(tt.code, tt.status, "CreateVSwitch", tt.params) })
	}
	// The same block in another VPC is fine.
	other := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	e.mkVSwitch(other, "192.168.0.0/24")
	sw := e.vpcAPI("DescribeVSwitches", map[string]string{"VpcId": v}).(*describeVSwitchesResponse).VSwitches.VSwitch
	if len(sw) != 1 || sw[0].VSwitchId != w || sw[0].ZoneId != "cn-hangzhou-j" || sw[0].VSwitchName != "web" || sw[0].Description != "web tier" ||
		sw[0].CidrBlock != "192.168.0.0/24" || sw[0].AvailableIpAddressCount != 252 || sw[0].Status != "Available" || sw[0].EnabledIpv6 {
		t.Fatalf("DescribeVSwitches = %+v", sw)
	}
}

func TestDescribeVSwitches(t *testing.T) {
	e := newEnv(t)
	a := e.mkVPC(map[string]string{"CidrBlock": "10.0.0.0/8"})
	b := e.mkVPC(map[string]string{"CidrBlock": "10.0.0.0/8"})
	var inA []string
	for i := range 7 {
		inA = append(inA, e.mkVSwitch(a, fmt.Sprintf("10.%d.0.0/16", i)))
	}
	inB := e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": b, "ZoneId": "cn-hangzhou-k", "CidrBlock": "10.0.0.0/24"}).(*createVSwitchResponse).VSwitchId
	ids := func(params map[string]string) []string {
		var out []string
		for _, w := range e.vpcAPI("DescribeVSwitches", params).(*describeVSwitchesResponse).VSwitches.VSwitch {
			out = append(out, w.VSwitchId)
		}
		slices.Sort(out)
		return out
	}
	sortedA := slices.Sorted(slices.Values(inA))
	if got := ids(map[string]string{"VpcId": a, "PageSize": "50"}); !slices.Equal(got, sortedA) {
		t.Fatalf("VpcId filter: %v, want %v", got, sortedA)
	}
	if got := ids(map[string]string{"VpcId": a, "RegionId": ""}); len(got) != 7 {
		t.Fatalf("without RegionId: %v", got)
	}
	if got := ids(map[string]string{"ZoneId": "cn-hangzhou-k"}); !slices.Equal(got, []string{inB}) {
		t.Fatalf("ZoneId filter: %v", got)
	}
	if got := ids(map[string]string{"VSwitchId": inA[2] + "," + inB}); !slices.Equal(got, slices.Sorted(slices.Values([]string{inA[2], inB}))) {
		t.Fatalf("VSwitchId filter: %v", got)
	}
	var paged []string
	for page := 1; page <= 2; page++ {
		out := e.vpcAPI("DescribeVSwitches", map[string]string{"PageSize": "4", "PageNumber": fmt.Sprint(page)}).(*describeVSwitchesResponse)
		if out.TotalCount != 8 {
			t.Fatalf("TotalCount %d", out.TotalCount)
		}
		for _, w := range out.VSwitches.VSwitch {
			paged = append(paged, w.VSwitchId)
		}
	}
	slices.Sort(paged)
	if !slices.Equal(paged, slices.Sorted(slices.Values(append(slices.Clone(inA), inB)))) {
		t.Fatalf("paging gave %v", paged)
	}
	e.vpcAPIErr("MissingParameter", 400, "DescribeVSwitches", map[string]string{"RegionId": ""})
	e.vpcAPIErr("InvalidPageSize.Malformed", 400, "DescribeVSwitches", map[string]string{"PageSize": "51"})
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

func TestEipLifecycle(t *testing.T) {
	e := newEnv(t)
	v := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	w := e.mkVSwitch(v, "192.168.1.0/24")
	sg := putTestGroup(e, v, model.Normal)
	ids := runIDs(e, map[string]string{"VSwitchId": w, "SecurityGroupId": sg, "Amount": "2"})
	// An instance with a plain public IP takes an address from the pool too.
	withPublic := runIDs(e, map[string]string{"VSwitchId": w, "SecurityGroupId": sg, "InternetMaxBandwidthOut": "10"})[0]

	a := e.vpcAPI("AllocateEipAddress", map[string]string{"Bandwidth": "20", "InternetChargeType": "PayByTraffic", "Name": "front", "Description": "front door"}).(*allocateEipAddressResponse)
	b := e.allocEIP()
	pub := readInstance(e, withPublic).PublicIP.String()
	if !model.HasPrefix(a.AllocationId, "eip") || a.EipAddress == b.EipAddress || a.EipAddress == pub || b.EipAddress == pub ||
		!publicPool.Contains(netip.MustParseAddr(a.EipAddress)) {
		t.Fatalf("allocated %s and %s with instance public IP %s", a.EipAddress, b.EipAddress, pub)
	}
	list := e.eips(map[string]string{"AllocationId": a.AllocationId})
	if len(list) != 1 || list[0].Status != "Available" || list[0].Bandwidth != "20" || list[0].InternetChargeType != "PayByTraffic" ||
		list[0].Name != "front" || list[0].IpAddress != a.EipAddress || list[0].InstanceId != "" {
		t.Fatalf("DescribeEipAddresses = %+v", list)
	}

	assoc := map[string]string{"AllocationId": a.AllocationId, "InstanceId": ids[0]}
	e.vpcAPI("AssociateEipAddress", assoc)
	in := readInstance(e, ids[0])
	if in.PublicIP.String() != a.EipAddress || in.EipID != a.AllocationId {
		t.Fatalf("instance after associate: %+v", in)
	}
	list = e.eips(map[string]string{"Status": "InUse"})
	if len(list) != 1 || list[0].InstanceId != ids[0] || list[0].InstanceType != "EcsInstance" || list[0].PrivateIpAddress != in.PrivateIP.String() {
		t.Fatalf("InUse EIPs = %+v", list)
	}
	item := e.ecs("DescribeInstances", map[string]string{"InstanceIds": `["` + ids[0] + `"]`}).(*describeInstancesResponse).Instances.Instance[0]
	if item.EipAddress.AllocationId != a.AllocationId || item.EipAddress.IpAddress != a.EipAddress || item.EipAddress.Bandwidth != 20 || len(item.PublicIpAddress.IpAddress) != 0 {
		t.Fatalf("instance EIP %+v, public %v", item.EipAddress, item.PublicIpAddress)
	}

	classic := runIDs(e, map[string]string{"SecurityGroupId": putTestGroup(e, "", model.Normal)})[0]
	for _, tt := range []struct {
		params map[string]string
		code   string
		status int
	}{
		{assoc, "IncorrectEipStatus", 400},
		{map[string]string{"AllocationId": b.AllocationId, "InstanceId": ids[0]}, "InvalidAssociation.Duplicated", 400},
		{map[string]string{"AllocationId": b.AllocationId, "InstanceId": withPublic}, "InvalidAssociation.Duplicated", 400},
		{map[string]string{"AllocationId": b.AllocationId, "InstanceId": classic}, "InvalidNetworkType.NotSupported", 400},
		{map[string]string{"AllocationId": b.AllocationId, "InstanceId": "i-nothere"}, "InvalidInstanceId.NotFound", 404},
		{map[string]string{"AllocationId": "eip-nothere", "InstanceId": ids[1]}, "InvalidAllocationId.NotFound", 404},
		{map[string]string{"AllocationId": "eipx", "InstanceId": ids[1]}, "InvalidAllocationId.Malformed", 400},
		{map[string]string{"AllocationId": b.AllocationId, "InstanceId": ids[1], "InstanceType": "Nat"}, "InvalidParameter", 400},
		{map[string]string{"InstanceId": ids[1]}, "MissingParameter", 400},
	} {
		e.vpcAPIErr(tt.code, tt.status, "AssociateEipAddress", tt.params)
	}
	e.vpcAPIErr("IncorrectEipStatus", 400, "ReleaseEipAddress", map[string]string{"AllocationId": a.AllocationId})
	e.vpcAPIErr("InvalidInstanceId.Mismatch", 400, "UnassociateEipAddress", map[string]string{"AllocationId": a.AllocationId, "InstanceId": ids[1]})
	e.vpcAPIErr("IncorrectEipStatus", 400, "UnassociateEipAddress", map[string]string{"AllocationId": b.AllocationId})

	e.vpcAPI("UnassociateEipAddress", assoc)
	if in := readInstance(e, ids[0]); in.PublicIP.IsValid() || in.EipID != "" {
		t.Fatalf("instance after unassociate: %+v", in)
	}
	if l := e.eips(map[string]string{"EipAddress": a.EipAddress}); len(l) != 1 || l[0].Status != "Available" || l[0].InstanceId != "" {
		t.Fatalf("EIP after unassociate: %+v", l)
	}
	// Bind to the other instance, then delete that instance: the EIP stays, unbound.
	e.vpcAPI("AssociateEipAddress", map[string]string{"AllocationId": a.AllocationId, "InstanceId": ids[1]})
	e.ecs("DeleteInstance", map[string]string{"InstanceId": ids[1], "Force": "true"})
	if l := e.eips(map[string]string{"AllocationId": a.AllocationId}); len(l) != 1 || l[0].Status != "Available" {
		t.Fatalf("EIP after its instance was deleted: %+v", l)
	}
	e.vpcAPI("ReleaseEipAddress", map[string]string{"AllocationId": a.AllocationId})
	e.vpcAPIErr("InvalidAllocationId.NotFound", 404, "ReleaseEipAddress", map[string]string{"AllocationId": a.AllocationId})
	if l := e.eips(nil); len(l) != 1 || l[0].AllocationId != b.AllocationId {
		t.Fatalf("EIPs after release: %+v", l)
	}

	for _, tt := range []struct {
		params map[string]string
		code   string
	}{
		{map[string]string{"Bandwidth": "0"}, "InvalidParameter"},
		{map[string]string{"Bandwidth": "fast"}, "InvalidParameter"},
		{map[string]string{"InternetChargeType": "Free"}, "InvalidInternetChargeType.ValueNotSupported"},
		{map[string]string{"Name": "9lives"}, "InvalidName.Malformed"},
		{map[string]string{"Description": "x"}, "InvalidDescription.Malformed"},
	} {
		e.vpcAPIErr(tt.code, 400, "AllocateEipAddress", tt.params)
	}
	if n := len(e.eips(nil)); n != 1 {
		t.Fatalf("failed allocations left %d EIPs", n)
	}
}

func TestEipAddressesNeverShared(t *testing.T) {
	e := newEnv(t)
	o := e.otherAccount()
	seen := map[string]bool{}
	for i := range 10 {
		env := e
		if i%2 == 1 {
			env = o
		}
		addr := env.allocEIP().EipAddress
		if seen[addr] {
			t.Fatalf("address %s handed out twice", addr)
		}
		seen[addr] = true
	}
	// A released address may come back, but never while it is allocated.
	first := e.eips(nil)[0]
	e.vpcAPI("ReleaseEipAddress", map[string]string{"AllocationId": first.AllocationId})
	if again := e.allocEIP().EipAddress; again != first.IpAddress {
		t.Fatalf("after release got %s, want the freed %s (lowest free address)", again, first.IpAddress)
	}
}

func TestDescribeEipAddressesPaging(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for range 5 {
		ids = append(ids, e.allocEIP().AllocationId)
	}
	var got []string
	for page := 1; page <= 3; page++ {
		out := e.vpcAPI("DescribeEipAddresses", map[string]string{"PageSize": "2", "PageNumber": fmt.Sprint(page)}).(*describeEipAddressesResponse)
		if out.TotalCount != 5 || out.PageSize != 2 || out.PageNumber != page {
			t.Fatalf("page %d: %+v", page, out)
		}
		for _, x := range out.EipAddresses.EipAddress {
			got = append(got, x.AllocationId)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
		t.Fatalf("paging gave %v, want %v", got, ids)
	}
	if l := e.eips(map[string]string{"AllocationId": ids[1] + "," + ids[3]}); len(l) != 2 {
		t.Fatalf("AllocationId list filter gave %d", len(l))
	}
	if l := e.eips(map[string]string{"Status": "InUse"}); len(l) != 0 {
		t.Fatalf("Status filter gave %d", len(l))
	}
	e.vpcAPIErr("InvalidPageSize.Malformed", 400, "DescribeEipAddresses", map[string]string{"PageSize": "101"})
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
	v := e.mkVPC(map[string]string{"EnableIpv6": "true", "CidrBlock": "192.168.0.0/16"})
	w := e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": v, "ZoneId": "cn-hangzhou-h", "CidrBlock": "192.168.1.0/24", "Ipv6CidrBlock": "1"}).(*createVSwitchResponse).VSwitchId
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
	}
	for _, c := range checks {
		checkSDKShape(t, c.action, reflect.TypeOf(c.sdk), e.vpcAPI(c.action, c.params))
	}
}
