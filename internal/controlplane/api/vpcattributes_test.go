package api

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestDescribeVpcAttribute(t *testing.T) {
	e := newEnv(t)
	created := e.vpcAPI("CreateVpc", map[string]string{"CidrBlock": "10.0.0.0/16", "VpcName": "prod", "Description": "prod network",
		"EnableIpv6": "true", "Tag.1.Key": "env", "Tag.1.Value": "prod"}).(*createVpcResponse)
	v := created.VpcId
	a, b := e.mkVSwitch(v, "10.0.1.0/24"), e.mkVSwitch(v, "10.0.2.0/24")
	got := e.vpcAPI("DescribeVpcAttribute", map[string]string{"VpcId": v}).(*describeVpcAttributeResponse)
	if got.VpcId != v || got.VpcName != "prod" || got.Description != "prod network" || got.CidrBlock != "10.0.0.0/16" ||
		got.RegionId != "cn-hangzhou" || got.Status != "Available" || got.IsDefault || got.ClassicLinkEnabled ||
		got.VRouterId != created.VRouterId || got.ResourceGroupId != created.ResourceGroupId || got.OwnerId != e.ownerID() ||
		got.DnsHostnameStatus != "DISABLED" || got.CreationTime == "" || !got.EnabledIpv6 || got.Ipv6CidrBlock == "" {
		t.Fatalf("DescribeVpcAttribute = %+v", got)
	}
	if w := got.VSwitchIds.VSwitchId; len(w) != 2 || !slices.Contains(w, a) || !slices.Contains(w, b) {
		t.Errorf("VSwitchIds %v, want %s and %s", w, a, b)
	}
	if tags := got.Tags.Tag; len(tags) != 1 || tags[0] != (vpcTag{Key: "env", Value: "prod"}) {
		t.Errorf("Tags %+v", tags)
	}
	if r := got.CloudResources.CloudResourceSetType; len(r) != 3 || r[0] != (cloudResource{"VSwitch", 2}) {
		t.Errorf("CloudResources %+v", r)
	}
	// DescribeVpcs carries the same fields.
	list := e.vpcAPI("DescribeVpcs", map[string]string{"VpcId": v}).(*describeVpcsResponse).Vpcs.Vpc[0]
	if list.VRouterId != got.VRouterId || list.CreationTime != got.CreationTime || len(list.Tags.Tag) != 1 ||
		list.RouterTableIds.RouterTableIds[0] != created.RouteTableId {
		t.Errorf("DescribeVpcs item %+v differs from DescribeVpcAttribute %+v", list, got)
	}

	for _, tt := range []struct {
		params map[string]string
		code   string
		status int
	}{
		{map[string]string{}, "MissingParameter", 400},
		{map[string]string{"VpcId": "vpc-doesnotexist0000000"}, "InvalidVpcId.NotFound", 404},
		{map[string]string{"VpcId": v, "IsDefault": "true"}, "InvalidVpcId.NotFound", 404},
		{map[string]string{"VpcId": v, "IsDefault": "maybe"}, "InvalidParameter", 400},
		{map[string]string{"VpcId": v, "DryRun": "true"}, "DryRunOperation", 400},
		{map[string]string{"VpcId": v, "RegionId": ""}, "MissingParameter", 400},
	} {
		e.vpcAPIErr(tt.code, tt.status, "DescribeVpcAttribute", tt.params)
	}
	other := e.otherAccount()
	other.vpcAPIErr("InvalidVpcId.NotFound", 404, "DescribeVpcAttribute", map[string]string{"VpcId": v})
}

func TestDescribeVSwitchAttributes(t *testing.T) {
	e := newEnv(t)
	v := e.mkVPC(map[string]string{"CidrBlock": "10.0.0.0/16"})
	w := e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": v, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.1.0/24",
		"VSwitchName": "web", "Description": "web tier", "Tag.1.Key": "tier", "Tag.1.Value": "web"}).(*createVSwitchResponse).VSwitchId
	runIDs(e, map[string]string{"VSwitchId": w, "SecurityGroupId": putTestGroup(e, v, model.Normal)})
	for _, region := range []string{"cn-hangzhou", ""} { // RegionId is optional
		got := e.vpcAPI("DescribeVSwitchAttributes", map[string]string{"VSwitchId": w, "RegionId": region}).(*describeVSwitchAttributesResponse)
		if got.VSwitchId != w || got.VpcId != v || got.ZoneId != "cn-hangzhou-h" || got.CidrBlock != "10.0.1.0/24" || got.VSwitchName != "web" ||
			got.Description != "web tier" || got.Status != "Available" || got.IsDefault || got.CreationTime == "" ||
			got.AvailableIpAddressCount != 256-4-1 || got.RouteTable != (routeTableItem{RouteTableId: routeTableID(v), RouteTableType: "System"}) {
			t.Fatalf("DescribeVSwitchAttributes = %+v", got)
		}
		if tags := got.Tags.Tag; len(tags) != 1 || tags[0] != (vpcTag{Key: "tier", Value: "web"}) {
			t.Errorf("Tags %+v", tags)
		}
	}
	e.vpcAPIErr("MissingParameter", 400, "DescribeVSwitchAttributes", nil)
	e.vpcAPIErr("InvalidVSwitchId.NotFound", 404, "DescribeVSwitchAttributes", map[string]string{"VSwitchId": "vsw-doesnotexist000000"})
	e.vpcAPIErr("InvalidVSwitchId.NotFound", 404, "DescribeVSwitchAttributes", map[string]string{"VSwitchId": w, "RegionId": "cn-beijing"})
	e.vpcAPIErr("DryRunOperation", 400, "DescribeVSwitchAttributes", map[string]string{"VSwitchId": w, "DryRun": "true"})
}

func TestDescribeRouteTableList(t *testing.T) {
	e := newEnv(t)
	e.s.Quotas.VPCs = 12 // two pages of 10, past VPC's default quota
	var vpcs []*createVpcResponse
	for i := range 12 {
		vpcs = append(vpcs, e.vpcAPI("CreateVpc", map[string]string{"CidrBlock": fmt.Sprintf("10.%d.0.0/16", i)}).(*createVpcResponse))
	}
	first := vpcs[0]
	w := e.mkVSwitch(first.VpcId, "10.0.1.0/24")
	tables := func(params map[string]string) *describeRouteTableListResponse {
		t.Helper()
		return e.vpcAPI("DescribeRouteTableList", params).(*describeRouteTableListResponse)
	}
	out := tables(map[string]string{"VpcId": first.VpcId})
	if len(out.RouterTableList.RouterTableListType) != 1 || out.TotalCount != 1 || !out.Success {
		t.Fatalf("by VpcId: %+v", out)
	}
	rt := out.RouterTableList.RouterTableListType[0]
	if rt.RouteTableId != first.RouteTableId || rt.RouterId != first.VRouterId || rt.VpcId != first.VpcId || rt.RouteTableType != "System" ||
		rt.RouterType != "VRouter" || rt.Status != "Available" || rt.ResourceGroupId != first.ResourceGroupId || rt.OwnerId != e.ownerID() ||
		!slices.Equal(rt.VSwitchIds.VSwitchId, []string{w}) || rt.CreationTime == "" {
		t.Errorf("system route table %+v of %+v", rt, first)
	}
	for _, tt := range []struct {
		params map[string]string
		want   int
	}{
		{map[string]string{"RouteTableId": first.RouteTableId}, 1},
		{map[string]string{"RouterId": first.VRouterId}, 1},
		{map[string]string{"RouteTableType": "System", "ResourceGroupId": first.ResourceGroupId}, 12},
		{map[string]string{"RouteTableType": "Custom"}, 0},
		{map[string]string{"RouterType": "VBR"}, 0},
		{map[string]string{"RouterType": "VBR", "VpcId": first.VpcId}, 1}, // VpcId means VRouter
		{map[string]string{"RouteTableId": "vtb-doesnotexist000000"}, 0},
		{map[string]string{"VpcId": "vpc-doesnotexist0000000"}, 0},
		{map[string]string{"RouteTableName": "main"}, 0},
		{map[string]string{"Tag.1.Key": "env", "Tag.1.Value": "prod"}, 0},
	} {
		if out := tables(tt.params); out.TotalCount != tt.want || len(out.RouterTableList.RouterTableListType) != min(tt.want, 10) {
			t.Errorf("%v: %d of %d tables, want %d", tt.params, len(out.RouterTableList.RouterTableListType), out.TotalCount, tt.want)
		}
	}
	if out := tables(map[string]string{"PageNumber": "2", "PageSize": "5"}); out.PageNumber != 2 || out.PageSize != 5 || len(out.RouterTableList.RouterTableListType) != 5 {
		t.Errorf("page 2: %+v", out)
	}
	e.vpcAPIErr("InvalidPageSize.Malformed", 400, "DescribeRouteTableList", map[string]string{"PageSize": "51"})
	if out := e.otherAccount().vpcAPI("DescribeRouteTableList", nil).(*describeRouteTableListResponse); out.TotalCount != 0 {
		t.Errorf("another account sees %d tables", out.TotalCount)
	}
}

// A VPC stored before the router and route table IDs were kept reads with
// the IDs derived from its own, as Palisade always reported them.
func TestVpcWithoutStoredRouter(t *testing.T) {
	e := newEnv(t)
	v := &model.VPC{ID: model.NewID("vpc"), Region: "cn-hangzhou", Owner: accountOf(e), CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	if _, err := e.s.Store.Update(context.Background(), func(tx store.Tx) error {
		return store.PutAs(tx, KindVPC, v.ID, v.Owner, v.Region, v)
	}); err != nil {
		t.Fatal(err)
	}
	got := e.vpcAPI("DescribeVpcAttribute", map[string]string{"VpcId": v.ID}).(*describeVpcAttributeResponse)
	rt := e.vpcAPI("DescribeRouteTableList", map[string]string{"VpcId": v.ID}).(*describeRouteTableListResponse).RouterTableList.RouterTableListType
	if got.VRouterId != "vrt-"+idSuffix(v.ID) || len(rt) != 1 || rt[0].RouteTableId != "vtb-"+idSuffix(v.ID) || rt[0].RouterId != got.VRouterId {
		t.Fatalf("derived IDs: attribute %+v, tables %+v", got, rt)
	}
}
