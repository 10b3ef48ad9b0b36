package apitest

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

func assignIPs(c *ecs.Client, eni string, count int, addrs ...string) (*ecs.AssignPrivateIpAddressesResponse, error) {
	r := ecs.CreateAssignPrivateIpAddressesRequest()
	r.NetworkInterfaceId = eni
	if len(addrs) > 0 {
		r.PrivateIpAddress = &addrs
	}
	if count != 0 {
		r.SecondaryPrivateIpAddressCount = requests.NewInteger(count)
	}
	return c.AssignPrivateIpAddresses(r)
}

func unassignIPs(c *ecs.Client, eni string, addrs ...string) error {
	r := ecs.CreateUnassignPrivateIpAddressesRequest()
	r.NetworkInterfaceId = eni
	if len(addrs) > 0 {
		r.PrivateIpAddress = &addrs
	}
	_, err := c.UnassignPrivateIpAddresses(r)
	return err
}

// privateIPs returns an ENI's private IPv4 addresses as
// DescribeNetworkInterfaces lists them, the primary (marked "*") first.
func privateIPs(t testing.TB, c *ecs.Client, eni string) []string {
	t.Helper()
	r := ecs.CreateDescribeNetworkInterfacesRequest()
	r.NetworkInterfaceId = &[]string{eni}
	set := must(c.DescribeNetworkInterfaces(r))(t).NetworkInterfaceSets.NetworkInterfaceSet
	if len(set) != 1 {
		t.Fatalf("DescribeNetworkInterfaces %s: %+v", eni, set)
	}
	var out []string
	for _, p := range set[0].PrivateIpSets.PrivateIpSet {
		if p.Primary {
			out = append(out, "*"+p.PrivateIpAddress)
		} else {
			out = append(out, p.PrivateIpAddress)
		}
	}
	return out
}

// TestSecondaryPrivateIPs drives AssignPrivateIpAddresses and
// UnassignPrivateIpAddresses with the official SDK on an instance's
// primary ENI (as alicloud_instance's secondary_private_ips does) and on a
// secondary ENI: named and counted addresses from the vSwitch, read back
// by DescribeNetworkInterfaces and DescribeInstances, never an address
// another NIC of the vSwitch holds, bounded by the instance type's quota;
// every refusal is ECS's error and changes nothing; another account
// touches none of it.
func TestSecondaryPrivateIPs(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	vsw := createVSwitch(t, e.vpc, v, "10.0.1.0/24")
	sg := createGroup(t, c, "ga", v, "")
	inst := runInstance(t, c, vsw, sg) // ecs.g7.large: 6 private IPv4 addresses per ENI
	primary := "eni-" + inst[len("i-"):]
	instIP := instance(t, c, inst).VpcAttributes.PrivateIpAddress.IpAddress[0]
	eni := createENI(t, c, vsw, "10.0.1.50", sg).NetworkInterfaceId
	other := e.newAccount(t, "other")

	// Named addresses on the primary ENI, answered in the SDK's shape.
	res := must(assignIPs(c, primary, 0, "10.0.1.60", "10.0.1.61"))(t)
	if res.AssignedPrivateIpAddressesSet.NetworkInterfaceId != primary ||
		!slices.Equal(res.AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress, []string{"10.0.1.60", "10.0.1.61"}) {
		t.Fatalf("AssignPrivateIpAddresses decoded %+v", res.AssignedPrivateIpAddressesSet)
	}
	// Counted ones: free addresses of the vSwitch, none any NIC holds.
	res = must(assignIPs(c, primary, 2))(t)
	picked := res.AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress
	if len(picked) != 2 || picked[0] == picked[1] {
		t.Fatalf("two counted addresses: %v", picked)
	}
	vswPrefix := netip.MustParsePrefix("10.0.1.0/24")
	for _, a := range picked {
		if slices.Contains([]string{instIP, "10.0.1.50", "10.0.1.60", "10.0.1.61"}, a) || !vswPrefix.Contains(netip.MustParseAddr(a)) {
			t.Errorf("counted address %s: taken, or outside the vSwitch", a)
		}
	}
	want := append([]string{"*" + instIP, "10.0.1.60", "10.0.1.61"}, picked...)
	if got := privateIPs(t, c, primary); !slices.Equal(got, want) {
		t.Fatalf("primary ENI's addresses %v, want %v", got, want)
	}
	// DescribeInstances lists them on its primary NIC (the provider reads
	// secondary_private_ips there).
	di := ecs.CreateDescribeInstancesRequest()
	di.InstanceIds = `["` + inst + `"]`
	nic := must(c.DescribeInstances(di))(t).Instances.Instance[0].NetworkInterfaces.NetworkInterface[0]
	if len(nic.PrivateIpSets.PrivateIpSet) != 5 || !nic.PrivateIpSets.PrivateIpSet[0].Primary || nic.PrivateIpSets.PrivateIpSet[1].Primary ||
		nic.PrivateIpSets.PrivateIpSet[1].PrivateIpAddress != "10.0.1.60" {
		t.Fatalf("DescribeInstances primary NIC %+v", nic.PrivateIpSets)
	}
	// DescribeNetworkInterfaces' PrivateIpAddress.N finds an ENI by a
	// secondary address; another account's filter finds nothing.
	byIP := ecs.CreateDescribeNetworkInterfacesRequest()
	byIP.PrivateIpAddress = &[]string{"10.0.1.61"}
	if got := must(c.DescribeNetworkInterfaces(byIP))(t).NetworkInterfaceSets.NetworkInterfaceSet; len(got) != 1 || got[0].NetworkInterfaceId != primary {
		t.Fatalf("by a secondary address: %+v", got)
	}
	if got := must(other.ecs.DescribeNetworkInterfaces(byIP))(t).NetworkInterfaceSets.NetworkInterfaceSet; len(got) != 0 {
		t.Fatalf("another account, by my secondary address: %+v", got)
	}

	// Refusals, each leaving both ENIs as they were.
	before, beforeENI := privateIPs(t, c, primary), privateIPs(t, c, eni)
	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"over the type's quota (5 held, 6 at most)", func() error { _, err := assignIPs(c, primary, 2); return err }, 403, "InvalidOperation.Ipv4CountExceeded"},
		{"another ENI's primary address", func() error { _, err := assignIPs(c, primary, 0, "10.0.1.50"); return err }, 400, "InvalidPrivateIpAddress.Duplicated"},
		{"another ENI's secondary address", func() error { _, err := assignIPs(c, eni, 0, "10.0.1.60"); return err }, 400, "InvalidPrivateIpAddress.Duplicated"},
		{"the instance's own address", func() error { _, err := assignIPs(c, eni, 0, instIP); return err }, 400, "InvalidPrivateIpAddress.Duplicated"},
		{"an address named twice", func() error { _, err := assignIPs(c, eni, 0, "10.0.1.70", "10.0.1.70"); return err }, 400, "InvalidPrivateIpAddress.Duplicated"},
		{"outside the vSwitch", func() error { _, err := assignIPs(c, eni, 0, "10.0.2.5"); return err }, 403, "InvalidVSwitchId.IpInvalid"},
		{"the vSwitch's reserved address", func() error { _, err := assignIPs(c, eni, 0, "10.0.1.255"); return err }, 403, "InvalidVSwitchId.IpInvalid"},
		{"not IPv4", func() error { _, err := assignIPs(c, eni, 0, "fd00::1"); return err }, 400, "InvalidParameter"},
		{"both forms", func() error { _, err := assignIPs(c, eni, 1, "10.0.1.70"); return err }, 400, "InvalidParameter.Conflict"},
		{"neither form", func() error { _, err := assignIPs(c, eni, 0); return err }, 400, "MissingParameter"},
		{"a count over 49", func() error { _, err := assignIPs(c, eni, 50); return err }, 400, "InvalidParameter"},
		{"an unknown ENI", func() error { _, err := assignIPs(c, "eni-doesnotexist000000", 1); return err }, 404, "InvalidEniId.NotFound"},
		{"unassign the primary address", func() error { return unassignIPs(c, primary, instIP) }, 403, "InvalidIp.IpUnassigned"},
		{"unassign an ENI's primary address", func() error { return unassignIPs(c, eni, "10.0.1.50") }, 403, "InvalidIp.IpUnassigned"},
		{"unassign another ENI's address", func() error { return unassignIPs(c, eni, "10.0.1.60") }, 403, "InvalidIp.IpUnassigned"},
		{"unassign one held and one not", func() error { return unassignIPs(c, primary, "10.0.1.60", "10.0.1.99") }, 403, "InvalidIp.IpUnassigned"},
		{"unassign nothing", func() error { return unassignIPs(c, primary) }, 400, "MissingParameter"},
		{"another account assigns to my ENI", func() error { _, err := assignIPs(other.ecs, primary, 1); return err }, 404, "InvalidEniId.NotFound"},
		{"another account assigns to my secondary ENI", func() error { _, err := assignIPs(other.ecs, eni, 0, "10.0.1.80"); return err }, 404, "InvalidEniId.NotFound"},
		{"another account unassigns mine", func() error { return unassignIPs(other.ecs, primary, "10.0.1.60") }, 404, "InvalidEniId.NotFound"},
		{"a new ENI on a secondary address", func() error {
			r := ecs.CreateCreateNetworkInterfaceRequest()
			r.VSwitchId, r.SecurityGroupId, r.PrimaryIpAddress = vsw, sg, "10.0.1.61"
			_, err := c.CreateNetworkInterface(r)
			return err
		}, 400, "InvalidPrivateIpAddress.Duplicated"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.call(), tt.status, tt.code) })
	}
	if got := privateIPs(t, c, primary); !slices.Equal(got, before) {
		t.Fatalf("refusals changed the primary ENI: %v, was %v", got, before)
	}
	if got := privateIPs(t, c, eni); !slices.Equal(got, beforeENI) {
		t.Fatalf("refusals changed the ENI: %v, was %v", got, beforeENI)
	}

	// A retry with the same ClientToken answers the first call's addresses
	// and assigns none more.
	tok := ecs.CreateAssignPrivateIpAddressesRequest()
	tok.NetworkInterfaceId, tok.SecondaryPrivateIpAddressCount, tok.ClientToken = eni, requests.NewInteger(1), "assign-once"
	first := must(c.AssignPrivateIpAddresses(tok))(t).AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress
	again := must(c.AssignPrivateIpAddresses(tok))(t).AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress
	if len(first) != 1 || !slices.Equal(first, again) {
		t.Fatalf("ClientToken retry answered %v, then %v", first, again)
	}
	if got := privateIPs(t, c, eni); len(got) != 2 || got[1] != first[0] {
		t.Fatalf("after a retried assignment the ENI holds %v; want its primary and %s", got, first[0])
	}
	noErr(t, unassignIPs(c, eni, first[0]))

	// Unassigned, an address is free again: the other ENI takes it.
	noErr(t, unassignIPs(c, primary, "10.0.1.60"))
	if got := privateIPs(t, c, primary); slices.Contains(got, "10.0.1.60") || len(got) != 4 {
		t.Fatalf("after unassigning 10.0.1.60: %v", got)
	}
	must(assignIPs(c, eni, 0, "10.0.1.60"))(t)
	// An ENI not attached takes up to 49; attached to a type that holds 6
	// per ENI, the attach is refused while it has more, and changes nothing.
	must(assignIPs(c, eni, 5))(t)
	wantErr(t, attachENI(c, eni, inst), 403, "InvalidOperation.Ipv4CountExceeded")
	if a := eniAttr(t, c, eni); a.Status != "Available" || len(a.PrivateIpSets.PrivateIpSet) != 7 {
		t.Fatalf("after a refused attach: %s with %d addresses", a.Status, len(a.PrivateIpSets.PrivateIpSet))
	}
	noErr(t, unassignIPs(c, eni, "10.0.1.60"))
	noErr(t, attachENI(c, eni, inst))
	if a := eniAttr(t, c, eni); a.Status != "InUse" || len(a.PrivateIpSets.PrivateIpSet) != 6 {
		t.Fatalf("after the attach: %s with %d addresses", a.Status, len(a.PrivateIpSets.PrivateIpSet))
	}
	_, err := assignIPs(c, eni, 1)
	wantErr(t, err, 403, "InvalidOperation.Ipv4CountExceeded")
	// DescribeInstances lists the attached ENI with its addresses too.
	nics := must(c.DescribeInstances(di))(t).Instances.Instance[0].NetworkInterfaces.NetworkInterface
	if len(nics) != 2 || nics[1].NetworkInterfaceId != eni || len(nics[1].PrivateIpSets.PrivateIpSet) != 6 {
		t.Fatalf("DescribeInstances NICs after the attach: %+v", nics)
	}
}
