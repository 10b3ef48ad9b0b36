package api

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func (e *env) allocEIP() *allocateEipAddressResponse {
	e.t.Helper()
	return e.vpcAPI("AllocateEipAddress", nil).(*allocateEipAddressResponse)
}

func (e *env) eips(params map[string]string) []eipAddressItem {
	e.t.Helper()
	return e.vpcAPI("DescribeEipAddresses", params).(*describeEipAddressesResponse).EipAddresses.EipAddress
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
	if len(list) != 1 || list[0].InstanceId != ids[0] || list[0].InstanceType != "EcsInstance" || list[0].PrivateIpAddress != "" {
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
		{map[string]string{"Bandwidth": "+5"}, "InvalidParameter"}, // one canonical form: stored and shown as written
		{map[string]string{"Bandwidth": "05"}, "InvalidParameter"},
		{map[string]string{"Description": "front\x1bdoor"}, "InvalidDescription.Malformed"},
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
	// A released address may come back (service's TestPublicAddressReused),
	// but never while it is allocated.
	first := e.eips(nil)[0]
	e.vpcAPI("ReleaseEipAddress", map[string]string{"AllocationId": first.AllocationId})
	delete(seen, first.IpAddress)
	if again := e.allocEIP().EipAddress; seen[again] {
		t.Fatalf("after a release got %s, which is still allocated", again)
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
