package apitest

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// eniIPv6s reads an ENI's IPv6 addresses, in order, from
// DescribeNetworkInterfaces.
func eniIPv6s(t *testing.T, c *ecs.Client, id string) []string {
	t.Helper()
	r := ecs.CreateDescribeNetworkInterfacesRequest()
	r.NetworkInterfaceId = &[]string{id}
	sets := must(c.DescribeNetworkInterfaces(r))(t).NetworkInterfaceSets.NetworkInterfaceSet
	if len(sets) != 1 {
		t.Fatalf("DescribeNetworkInterfaces %s: %d items", id, len(sets))
	}
	var out []string
	for _, s := range sets[0].Ipv6Sets.Ipv6Set {
		out = append(out, s.Ipv6Address)
	}
	return out
}

// instanceIPv6s reads an instance's primary NIC's IPv6 addresses, in
// order, from DescribeInstances.
func instanceIPv6s(t *testing.T, c *ecs.Client, id string) []string {
	t.Helper()
	r := ecs.CreateDescribeInstancesRequest()
	r.InstanceIds = `["` + id + `"]`
	items := must(c.DescribeInstances(r))(t).Instances.Instance
	if len(items) != 1 || len(items[0].NetworkInterfaces.NetworkInterface) == 0 {
		t.Fatalf("DescribeInstances %s: %+v", id, items)
	}
	var out []string
	for _, s := range items[0].NetworkInterfaces.NetworkInterface[0].Ipv6Sets.Ipv6Set {
		out = append(out, s.Ipv6Address)
	}
	return out
}

// TestSeveralIPv6Addresses gives NICs several IPv6 addresses, as ECS does,
// with the official SDK: RunInstances with Ipv6AddressCount 3,
// CreateNetworkInterface and AssignIpv6Addresses adding more, each read
// back in order from DescribeInstances and DescribeNetworkInterfaces; the
// instance type's EniIpv6AddressQuantity (and 10 for an ENI not attached)
// refused past, at launch, assignment and attachment, changing nothing;
// the Ipv6Address filters matching a NIC by any of its addresses;
// unassigning the first promotes the next; and a second address of a NIC
// reaching what the agents enforce (its host's NIC, another host's member
// set of a rule naming its group).
func TestSeveralIPv6Addresses(t *testing.T) {
	e := clients(t, testenv.Start(t, testenv.Config{Adjust: unlimitedHosts}))
	c := e.ecs
	p := newPeerSetup(t, e)
	inBlock := func(t *testing.T, addrs []string, n int) {
		t.Helper()
		seen := map[string]bool{}
		for _, s := range addrs {
			a, err := netip.ParseAddr(s)
			if err != nil || !p.v6.Contains(a) || seen[s] {
				t.Fatalf("IPv6 addresses %v: %q is not a new address of %s", addrs, s, p.v6)
			}
			seen[s] = true
		}
		if len(addrs) != n {
			t.Fatalf("IPv6 addresses %v, want %d", addrs, n)
		}
	}

	// DescribeInstanceTypes answers the quotas enforced below.
	tr := ecs.CreateDescribeInstanceTypesRequest()
	tr.InstanceTypes = &[]string{instanceType, "ecs.g6.large"}
	for _, it := range must(c.DescribeInstanceTypes(tr))(t).InstanceTypes.InstanceType {
		if want := model.ENIIPv6Quota(it.InstanceTypeId); it.EniIpv6AddressQuantity != want || want < 1 {
			t.Errorf("%s: EniIpv6AddressQuantity %d, want %d", it.InstanceTypeId, it.EniIpv6AddressQuantity, want)
		}
	}
	if model.ENIIPv6Quota(instanceType) < 4 || model.ENIIPv6Quota("ecs.g6.large") != 1 {
		t.Fatalf("the cases below take %s to hold 4 or more IPv6 addresses and ecs.g6.large 1", instanceType)
	}

	// A launch with three.
	run := func(typ string, count int) (*ecs.RunInstancesResponse, error) {
		r := ecs.CreateRunInstancesRequest()
		r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupIds = imageID, typ, p.vsw, &[]string{p.sgWeb}
		r.Ipv6AddressCount = requests.NewInteger(count)
		return c.RunInstances(r)
	}
	three := must(run(instanceType, 3))(t).InstanceIdSets.InstanceIdSet[0]
	threeNIC := "eni-" + three[len("i-"):]
	got3 := instanceIPv6s(t, c, three)
	inBlock(t, got3, 3)
	if got := eniIPv6s(t, c, threeNIC); !slices.Equal(got, got3) {
		t.Fatalf("DescribeNetworkInterfaces %v, DescribeInstances %v", got, got3)
	}

	// An ENI made with one, given two more.
	cr := ecs.CreateCreateNetworkInterfaceRequest()
	cr.VSwitchId, cr.SecurityGroupIds, cr.Ipv6AddressCount = p.vsw, &[]string{p.sgWeb}, requests.NewInteger(1)
	eni := must(c.CreateNetworkInterface(cr))(t).NetworkInterfaceId
	first := eniIPv6s(t, c, eni)
	inBlock(t, first, 1)
	added := must(assignIPv6(c, eni, 2))(t).Ipv6Sets.Ipv6Address
	gotENI := eniIPv6s(t, c, eni)
	inBlock(t, gotENI, 3)
	if want := append(slices.Clone(first), added...); !slices.Equal(gotENI, want) {
		t.Fatalf("ENI's IPv6 addresses %v, want %v (the first, then the two assigned)", gotENI, want)
	}
	for _, a := range gotENI {
		if slices.Contains(got3, a) {
			t.Fatalf("ENI's %s is also the instance's", a)
		}
	}
	g6 := must(run("ecs.g6.large", 1))(t).InstanceIdSets.InstanceIdSet[0]

	// The Ipv6Address filters match any of a NIC's addresses.
	fi := ecs.CreateDescribeInstancesRequest()
	fi.Ipv6Address = &[]string{got3[2]}
	if got := must(c.DescribeInstances(fi))(t).Instances.Instance; len(got) != 1 || got[0].InstanceId != three {
		t.Errorf("DescribeInstances Ipv6Address=%s: %d instances, want %s", got3[2], len(got), three)
	}
	fn := ecs.CreateDescribeNetworkInterfacesRequest()
	fn.Ipv6Address = &[]string{gotENI[2]}
	if got := must(c.DescribeNetworkInterfaces(fn))(t).NetworkInterfaceSets.NetworkInterfaceSet; len(got) != 1 || got[0].NetworkInterfaceId != eni {
		t.Errorf("DescribeNetworkInterfaces Ipv6Address=%s: %d interfaces, want %s", gotENI[2], len(got), eni)
	}

	count := func() int {
		r := ecs.CreateDescribeInstancesRequest()
		r.VSwitchId = p.vsw
		return must(c.DescribeInstances(r))(t).TotalCount
	}
	before := count()
	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"a launch past the type's", func() error { _, err := run("ecs.g6.large", 2); return err }, 403, "InvalidOperation.Ipv6CountExceeded"},
		{"an instance's NIC past its type's", func() error {
			_, err := assignIPv6(c, threeNIC, model.ENIIPv6Quota(instanceType)-2)
			return err
		}, 403, "InvalidOperation.Ipv6CountExceeded"},
		{"an ENI not attached past 10", func() error { _, err := assignIPv6(c, eni, 8); return err }, 403, "InvalidOperation.Ipv6CountExceeded"},
		{"an ENI made with 11", func() error {
			r := ecs.CreateCreateNetworkInterfaceRequest()
			r.VSwitchId, r.SecurityGroupIds, r.Ipv6AddressCount = p.vsw, &[]string{p.sgWeb}, requests.NewInteger(11)
			_, err := c.CreateNetworkInterface(r)
			return err
		}, 400, "InvalidParameter"},
		{"an ENI made with 11 named", func() error {
			r := ecs.CreateCreateNetworkInterfaceRequest()
			var named []string
			for a, i := p.v6.Addr(), 0; i < 11; i++ {
				a = a.Next()
				named = append(named, a.String())
			}
			r.VSwitchId, r.SecurityGroupIds, r.Ipv6Address = p.vsw, &[]string{p.sgWeb}, &named
			_, err := c.CreateNetworkInterface(r)
			return err
		}, 400, "InvalidParameter"},
		{"an ENI of three attached to a type of one", func() error { return attachENI(c, eni, g6) }, 403, "InvalidOperation.Ipv6CountExceeded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.call(), tt.status, tt.code)
			if got := instanceIPv6s(t, c, three); !slices.Equal(got, got3) {
				t.Errorf("a refused call changed %s's IPv6 addresses: %v, want %v", three, got, got3)
			}
			if got := eniIPv6s(t, c, eni); !slices.Equal(got, gotENI) {
				t.Errorf("a refused call changed %s's IPv6 addresses: %v, want %v", eni, got, gotENI)
			}
			if got := eniAttr(t, c, eni).Status; got != model.ENIAvailable {
				t.Errorf("a refused call left %s %s", eni, got)
			}
			if got := count(); got != before {
				t.Errorf("%d instances after a refused call, want %d", got, before)
			}
		})
	}

	// Unassigning the first promotes the next; the others keep their order.
	noErr(t, unassignIPv6(c, eni, gotENI[0]))
	if got := eniIPv6s(t, c, eni); !slices.Equal(got, gotENI[1:]) {
		t.Fatalf("after unassigning the first: %v, want %v", got, gotENI[1:])
	}
	if got := eniAttr(t, c, eni).Ipv6Sets.Ipv6Set; len(got) != 2 || got[0].Ipv6Address != gotENI[1] {
		t.Fatalf("DescribeNetworkInterfaceAttribute after unassigning the first: %+v", got)
	}

	// The web instance's second address reaches what the agents enforce,
	// and stays there when the first goes.
	webNIC := "eni-" + p.web[len("i-"):]
	web := must(assignIPv6(c, webNIC, 2))(t).Ipv6Sets.Ipv6Address
	inBlock(t, web, 2)
	a1, a2 := netip.MustParseAddr(web[0]), netip.MustParseAddr(web[1])
	p.check(t, e, a2, true)
	noErr(t, unassignIPv6(c, webNIC, web[0]))
	if got := instanceIPv6s(t, c, p.web); !slices.Equal(got, web[1:]) {
		t.Fatalf("web's IPv6 addresses after unassigning the first: %v, want %v", got, web[1:])
	}
	p.check(t, e, a1, false)
	p.check(t, e, a2, true)
}
