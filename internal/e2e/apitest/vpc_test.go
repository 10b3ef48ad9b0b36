package apitest

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

var (
	vpcID = regexp.MustCompile(`^vpc-[a-z0-9]{20}$`)
	vswID = regexp.MustCompile(`^vsw-[a-z0-9]{20}$`)
	eipID = regexp.MustCompile(`^eip-[a-z0-9]{20}$`)
)

const zone = "cn-hangzhou-h"

// createVPC creates a VPC with the given IPv4 block.
func createVPC(t testing.TB, c *vpc.Client, cidr string) string {
	t.Helper()
	r := vpc.CreateCreateVpcRequest()
	r.CidrBlock = cidr
	return must(c.CreateVpc(r))(t).VpcId
}

// createVSwitch creates a vSwitch of a VPC in the test zone.
func createVSwitch(t testing.TB, c *vpc.Client, vpcID, cidr string) string {
	t.Helper()
	r := vpc.CreateCreateVSwitchRequest()
	r.VpcId, r.CidrBlock, r.ZoneId = vpcID, cidr, zone
	return must(c.CreateVSwitch(r))(t).VSwitchId
}

func TestVPCLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.vpc

	cr := vpc.CreateCreateVpcRequest()
	cr.CidrBlock, cr.VpcName, cr.Description = "192.168.0.0/16", "prod", "production network"
	created := must(c.CreateVpc(cr))(t)
	if !vpcID.MatchString(created.VpcId) || created.VRouterId == "" || created.RouteTableId == "" || !guid.MatchString(created.RequestId) {
		t.Fatalf("CreateVpc decoded %+v", created)
	}
	other := createVPC(t, c, "10.0.0.0/8")

	dr := vpc.CreateDescribeVpcsRequest()
	dr.VpcId = created.VpcId
	resp := must(c.DescribeVpcs(dr))(t)
	if resp.TotalCount != 1 || len(resp.Vpcs.Vpc) != 1 {
		t.Fatalf("DescribeVpcs VpcId=%s: %+v", created.VpcId, resp)
	}
	v := resp.Vpcs.Vpc[0]
	if v.VpcId != created.VpcId || v.VpcName != "prod" || v.Description != "production network" || v.CidrBlock != "192.168.0.0/16" ||
		v.RegionId != region || v.Status != "Available" || v.VRouterId != created.VRouterId || strconv.FormatInt(v.OwnerId, 10) != e.srv.UID || v.IsDefault {
		t.Errorf("VPC decoded as %+v", v)
	}
	recent(t, "CreationTime", v.CreationTime)

	dr = vpc.CreateDescribeVpcsRequest()
	dr.VpcName = "prod"
	if got := must(c.DescribeVpcs(dr))(t); got.TotalCount != 1 || got.Vpcs.Vpc[0].VpcId != created.VpcId {
		t.Errorf("DescribeVpcs VpcName=prod: %+v", got.Vpcs)
	}
	dr = vpc.CreateDescribeVpcsRequest()
	dr.PageSize, dr.PageNumber = "1", "2"
	if got := must(c.DescribeVpcs(dr))(t); got.TotalCount != 2 || got.PageNumber != 2 || got.PageSize != 1 || len(got.Vpcs.Vpc) != 1 {
		t.Errorf("DescribeVpcs page 2 of size 1: %+v", got)
	}

	wr := vpc.CreateCreateVSwitchRequest()
	wr.VpcId, wr.CidrBlock, wr.ZoneId, wr.VSwitchName = created.VpcId, "192.168.1.0/24", zone, "web"
	vsw := must(c.CreateVSwitch(wr))(t).VSwitchId
	if !vswID.MatchString(vsw) {
		t.Fatalf("VSwitchId %q", vsw)
	}
	vsw2 := createVSwitch(t, c, created.VpcId, "192.168.2.0/24")
	createVSwitch(t, c, other, "10.9.0.0/16")

	sr := vpc.CreateDescribeVSwitchesRequest()
	sr.VpcId = created.VpcId
	sws := must(c.DescribeVSwitches(sr))(t)
	var ids []string
	for _, w := range sws.VSwitches.VSwitch {
		ids = append(ids, w.VSwitchId)
		if w.VSwitchId == vsw && (w.CidrBlock != "192.168.1.0/24" || w.ZoneId != zone || w.VpcId != created.VpcId ||
			w.VSwitchName != "web" || w.Status != "Available" || w.AvailableIpAddressCount != 252) {
			t.Errorf("vSwitch decoded as %+v", w)
		}
	}
	slices.Sort(ids)
	want := []string{vsw, vsw2}
	slices.Sort(want)
	if sws.TotalCount != 2 || !slices.Equal(ids, want) {
		t.Errorf("DescribeVSwitches VpcId: %d %v, want %v", sws.TotalCount, ids, want)
	}
	if got := must(c.DescribeVpcs(vpc.CreateDescribeVpcsRequest()))(t); got.TotalCount != 2 {
		t.Errorf("DescribeVpcs: %d VPCs, want 2", got.TotalCount)
	} else {
		for _, v := range got.Vpcs.Vpc {
			if v.VpcId == created.VpcId && len(v.VSwitchIds.VSwitchId) != 2 {
				t.Errorf("VSwitchIds of %s = %v", v.VpcId, v.VSwitchIds.VSwitchId)
			}
		}
	}

	// A VPC with vSwitches or security groups cannot go.
	sg := createGroup(t, e.ecs, "in-vpc", created.VpcId, "")
	del := vpc.CreateDeleteVpcRequest()
	del.VpcId = created.VpcId
	_, err := c.DeleteVpc(del)
	wantErr(t, err, 400, "DependencyViolation.VSwitch")
	for _, id := range []string{vsw, vsw2} {
		d := vpc.CreateDeleteVSwitchRequest()
		d.VSwitchId = id
		must(c.DeleteVSwitch(d))(t)
	}
	_, err = c.DeleteVpc(del)
	wantErr(t, err, 400, "DependencyViolation.SecurityGroup")
	ds := ecs.CreateDeleteSecurityGroupRequest()
	ds.SecurityGroupId = sg
	must(e.ecs.DeleteSecurityGroup(ds))(t)
	must(c.DeleteVpc(del))(t)

	dr = vpc.CreateDescribeVpcsRequest()
	dr.VpcId = created.VpcId
	if got := must(c.DescribeVpcs(dr))(t); got.TotalCount != 0 {
		t.Errorf("deleted VPC still listed: %+v", got.Vpcs)
	}
	_, err = c.DeleteVpc(del)
	wantErr(t, err, 404, "InvalidVpcId.NotFound")
}

func TestVPCErrors(t *testing.T) {
	e := newEnv(t)
	c := e.vpc
	v := createVPC(t, c, "172.16.0.0/16")
	createVSwitch(t, c, v, "172.16.1.0/24")
	before := must(c.DescribeVSwitches(func() *vpc.DescribeVSwitchesRequest {
		r := vpc.CreateDescribeVSwitchesRequest()
		r.VpcId = v
		return r
	}()))(t).TotalCount

	for _, tc := range []struct {
		name, vpcID, cidr, zone string
		status                  int
		code                    string
	}{
		{"overlapping block", v, "172.16.1.128/25", zone, 400, "InvalidCidrBlock.Overlapped"},
		{"block outside the VPC", v, "10.0.0.0/24", zone, 400, "InvalidCidrBlock.Malformed"},
		{"host bits set", v, "172.16.2.1/24", zone, 400, "InvalidCidrBlock.Malformed"},
		{"unknown zone", v, "172.16.3.0/24", "cn-beijing-g", 404, "InvalidZoneId.NotFound"},
		{"unknown VPC", "vpc-doesnotexist000000", "172.16.3.0/24", zone, 404, "InvalidVpcId.NotFound"},
	} {
		t.Run("CreateVSwitch "+tc.name, func(t *testing.T) {
			r := vpc.CreateCreateVSwitchRequest()
			r.VpcId, r.CidrBlock, r.ZoneId = tc.vpcID, tc.cidr, tc.zone
			_, err := c.CreateVSwitch(r)
			wantErr(t, err, tc.status, tc.code)
		})
	}
	r := vpc.CreateDescribeVSwitchesRequest()
	r.VpcId = v
	if after := must(c.DescribeVSwitches(r))(t).TotalCount; after != before {
		t.Errorf("refused CreateVSwitch calls changed the vSwitch count from %d to %d", before, after)
	}

	t.Run("CreateVpc public block", func(t *testing.T) {
		r := vpc.CreateCreateVpcRequest()
		r.CidrBlock = "8.8.0.0/16"
		_, err := c.CreateVpc(r)
		wantErr(t, err, 400, "InvalidCidrBlock.Malformed")
	})
	t.Run("ReleaseEipAddress unknown", func(t *testing.T) {
		r := vpc.CreateReleaseEipAddressRequest()
		r.AllocationId = "eip-doesnotexist000000"
		_, err := c.ReleaseEipAddress(r)
		wantErr(t, err, 404, "InvalidAllocationId.NotFound")
	})
}

// eipAddress parses an EIP as the SDK returned it.
func eipAddress(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || a.IsPrivate() {
		t.Fatalf("EipAddress %q is not a public IPv4 address", s)
	}
	return a
}
