package api

import (
	"fmt"
	"slices"
	"testing"
)

// mkVSwitch creates a vSwitch in zone cn-hangzhou-h through the API.
func (e *env) mkVSwitch(vpcID, cidr string) string {
	e.t.Helper()
	return e.vpcAPI("CreateVSwitch", map[string]string{"VpcId": vpcID, "ZoneId": "cn-hangzhou-h", "CidrBlock": cidr}).(*createVSwitchResponse).VSwitchId
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
