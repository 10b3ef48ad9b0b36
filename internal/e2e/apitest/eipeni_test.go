package apitest

import (
	"fmt"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

// TestEIPOnENI binds an EIP to a secondary ENI (AssociateEipAddress
// InstanceType=NetworkInterface, NAT mode), as Terraform's
// alicloud_eip_association with instance_type = "NetworkInterface" does,
// with the official SDK: the refusals (a primary ENI, other modes, an
// address other than the ENI's primary, another account's ENI) change
// nothing; the binding shows in DescribeEipAddresses and on the ENI, not
// on its instance; it stays through a detach; an unbind, the ENI's
// deletion and its instance's (DeleteOnRelease) leave the EIP allocated
// and available.
func TestEIPOnENI(t *testing.T) {
	e := newEnv(t)
	n := newNetwork(t, e, "10.0.0.0/16")
	inst := runInstance(t, e.ecs, n.vsw, n.sgA)
	cr := ecs.CreateCreateNetworkInterfaceRequest()
	cr.VSwitchId, cr.PrimaryIpAddress, cr.SecurityGroupIds = n.vsw, "10.0.1.50", &[]string{n.sgB}
	cr.PrivateIpAddress = &[]string{"10.0.1.51"}
	eni := must(e.ecs.CreateNetworkInterface(cr))(t).NetworkInterfaceId
	must(struct{}{}, attachENI(e.ecs, eni, inst))(t)
	lr := ecs.CreateDescribeNetworkInterfacesRequest()
	lr.InstanceId, lr.Type = inst, "Primary"
	primary := must(e.ecs.DescribeNetworkInterfaces(lr))(t).NetworkInterfaceSets.NetworkInterfaceSet[0].NetworkInterfaceId

	allocate := func() (id, addr string) {
		r := must(e.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t)
		return r.AllocationId, r.EipAddress
	}
	eipA, addrA := allocate()
	eipB, _ := allocate()
	associate := func(as *vpc.Client, eip, id, typ, mode, private string) error {
		r := vpc.CreateAssociateEipAddressRequest()
		r.AllocationId, r.InstanceId, r.InstanceType, r.Mode, r.PrivateIpAddress = eip, id, typ, mode, private
		_, err := as.AssociateEipAddress(r)
		return err
	}
	unassociate := func(eip, id, typ string) error {
		r := vpc.CreateUnassociateEipAddressRequest()
		r.AllocationId, r.InstanceId, r.InstanceType = eip, id, typ
		_, err := e.vpc.UnassociateEipAddress(r)
		return err
	}
	eipOf := func(id string) vpc.EipAddress {
		r := vpc.CreateDescribeEipAddressesRequest()
		r.AllocationId = id
		return must(e.vpc.DescribeEipAddresses(r))(t).EipAddresses.EipAddress[0]
	}
	// state is what a refused call must leave as it was: every EIP's
	// binding, every ENI's and the instance's public address.
	state := func() string {
		eips := must(e.vpc.DescribeEipAddresses(vpc.CreateDescribeEipAddressesRequest()))(t).EipAddresses.EipAddress
		enis := must(e.ecs.DescribeNetworkInterfaces(ecs.CreateDescribeNetworkInterfacesRequest()))(t).NetworkInterfaceSets.NetworkInterfaceSet
		s := ""
		for _, x := range eips {
			s += fmt.Sprintf("%s %s %s %s %s|", x.AllocationId, x.Status, x.InstanceId, x.InstanceType, x.PrivateIpAddress)
		}
		for _, x := range enis {
			s += fmt.Sprintf("%s %s %+v|", x.NetworkInterfaceId, x.Status, x.AssociatedPublicIp)
		}
		return s + fmt.Sprintf("%+v", instance(t, e.ecs, inst).EipAddress)
	}
	const ni = "NetworkInterface"

	// Another account: its ENI is as unknown to us as a missing one, and
	// our EIP to it.
	o := e.newAccount(t, "other")
	ov := createVPC(t, o.vpc, "10.9.0.0/16")
	ovsw := createVSwitch(t, o.vpc, ov, "10.9.1.0/24")
	theirs := createENI(t, o.ecs, ovsw, "10.9.1.50", createGroup(t, o.ecs, "theirs", ov, "")).NetworkInterfaceId
	theirEIP := must(o.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t).AllocationId

	before := state()
	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"the primary ENI", func() error { return associate(e.vpc, eipA, primary, ni, "", "") }, 403, "InvalidOperation.InvalidEniType"},
		{"MULTI_BINDED", func() error { return associate(e.vpc, eipA, eni, ni, "MULTI_BINDED", "") }, 400, "InvalidParameter"},
		{"BINDED", func() error { return associate(e.vpc, eipA, eni, ni, "BINDED", "") }, 400, "InvalidParameter"},
		{"another type", func() error { return associate(e.vpc, eipA, eni, "HaVip", "", "") }, 400, "InvalidParameter"},
		{"a secondary address", func() error { return associate(e.vpc, eipA, eni, ni, "", "10.0.1.51") }, 400, "InvalidParameter"},
		{"not its address", func() error { return associate(e.vpc, eipA, eni, ni, "", "10.0.1.99") }, 400, "InvalidParameter"},
		{"not an address", func() error { return associate(e.vpc, eipA, eni, ni, "", "eni") }, 400, "InvalidParameter"},
		{"an instance as an ENI", func() error { return associate(e.vpc, eipA, inst, ni, "", "") }, 400, "InvalidInstanceId.Malformed"},
		{"a missing ENI", func() error { return associate(e.vpc, eipA, "eni-0000000000000000000a", ni, "", "") }, 404, "InvalidInstanceId.NotFound"},
		{"another account's ENI", func() error { return associate(e.vpc, eipA, theirs, ni, "", "") }, 404, "InvalidInstanceId.NotFound"},
		{"another account's EIP", func() error { return associate(e.vpc, theirEIP, eni, ni, "", "") }, 404, "InvalidAllocationId.NotFound"},
		{"by another account", func() error { return associate(o.vpc, eipA, theirs, ni, "", "") }, 404, "InvalidAllocationId.NotFound"},
	} {
		wantErr(t, tt.call(), tt.status, tt.code)
		if now := state(); now != before {
			t.Fatalf("%s: refused, yet changed\n%s\nto\n%s", tt.name, before, now)
		}
	}

	must(struct{}{}, associate(e.vpc, eipA, eni, ni, "NAT", "10.0.1.50"))(t)
	if got := eipOf(eipA); got.Status != "InUse" || got.InstanceId != eni || got.InstanceType != ni || got.Mode != "NAT" ||
		got.PrivateIpAddress != "10.0.1.50" || got.InstanceRegionId != region {
		t.Errorf("DescribeEipAddresses after the bind: %+v", got)
	}
	attr := eniAttr(t, e.ecs, eni)
	if attr.AssociatedPublicIp.PublicIpAddress != addrA || attr.AssociatedPublicIp.AllocationId != eipA {
		t.Errorf("DescribeNetworkInterfaceAttribute AssociatedPublicIp: %+v", attr.AssociatedPublicIp)
	}
	lr = ecs.CreateDescribeNetworkInterfacesRequest()
	lr.NetworkInterfaceId = &[]string{eni}
	set := must(e.ecs.DescribeNetworkInterfaces(lr))(t).NetworkInterfaceSets.NetworkInterfaceSet[0]
	if set.AssociatedPublicIp.PublicIpAddress != addrA || set.PrivateIpSets.PrivateIpSet[0].AssociatedPublicIp.AllocationId != eipA ||
		set.PrivateIpSets.PrivateIpSet[1].AssociatedPublicIp.AllocationId != "" {
		t.Errorf("DescribeNetworkInterfaces: %+v, %+v", set.AssociatedPublicIp, set.PrivateIpSets.PrivateIpSet)
	}
	// The instance's public address is its own: the ENI's EIP shows under
	// the ENI only.
	if got := instance(t, e.ecs, inst).EipAddress; got.AllocationId != "" || got.IpAddress != "" {
		t.Errorf("the instance shows the ENI's EIP: %+v", got)
	}
	for _, f := range []struct{ typ, id, want string }{{ni, "", eipA}, {"", eni, eipA}, {"EcsInstance", "", ""}, {ni, inst, ""}} {
		r := vpc.CreateDescribeEipAddressesRequest()
		r.AssociatedInstanceType, r.AssociatedInstanceId = f.typ, f.id
		got := ""
		for _, x := range must(e.vpc.DescribeEipAddresses(r))(t).EipAddresses.EipAddress {
			got += x.AllocationId
		}
		if got != f.want {
			t.Errorf("DescribeEipAddresses AssociatedInstanceType %q AssociatedInstanceId %q: %q, want %q", f.typ, f.id, got, f.want)
		}
	}

	before = state()
	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"a second EIP", func() error { return associate(e.vpc, eipB, eni, ni, "", "") }, 400, "InvalidAssociation.Duplicated"},
		{"the bound EIP elsewhere", func() error { return associate(e.vpc, eipA, inst, "", "", "") }, 400, "IncorrectEipStatus"},
		{"release", func() error {
			r := vpc.CreateReleaseEipAddressRequest()
			r.AllocationId = eipA
			_, err := e.vpc.ReleaseEipAddress(r)
			return err
		}, 400, "IncorrectEipStatus"},
		{"unbind from the instance", func() error { return unassociate(eipA, inst, "") }, 400, "InvalidInstanceId.Mismatch"},
		{"unbind as an instance's", func() error { return unassociate(eipA, eni, "EcsInstance") }, 400, "InvalidParameter"},
		{"unbind with another mode", func() error {
			r := vpc.CreateUnassociateEipAddressRequest()
			r.AllocationId, r.InstanceId, r.InstanceType = eipA, eni, ni
			r.QueryParams["Mode"] = "BINDED"
			_, err := e.vpc.UnassociateEipAddress(r)
			return err
		}, 400, "InvalidParameter"},
	} {
		wantErr(t, tt.call(), tt.status, tt.code)
		if now := state(); now != before {
			t.Fatalf("%s: refused, yet changed\n%s\nto\n%s", tt.name, before, now)
		}
	}
	// The instance takes an EIP of its own beside its ENI's.
	must(struct{}{}, associate(e.vpc, eipB, inst, "EcsInstance", "", ""))(t)
	if got := eipOf(eipB); got.InstanceId != inst || got.InstanceType != "EcsInstance" || got.PrivateIpAddress != "" {
		t.Errorf("the instance's EIP: %+v", got)
	}

	// The EIP stays with the ENI through a detach and an attach.
	must(struct{}{}, detachENI(e.ecs, eni, inst))(t)
	if got := eniAttr(t, e.ecs, eni).AssociatedPublicIp; got.AllocationId != eipA || eipOf(eipA).InstanceId != eni {
		t.Errorf("after the detach: ENI %+v, EIP %+v", got, eipOf(eipA))
	}
	must(struct{}{}, attachENI(e.ecs, eni, inst))(t)

	must(struct{}{}, unassociate(eipA, eni, ni))(t)
	if got := eipOf(eipA); got.Status != "Available" || got.InstanceId != "" || got.InstanceType != "" || got.PrivateIpAddress != "" {
		t.Errorf("DescribeEipAddresses after the unbind: %+v", got)
	}
	if got := eniAttr(t, e.ecs, eni).AssociatedPublicIp; got.PublicIpAddress != "" || got.AllocationId != "" {
		t.Errorf("the ENI after the unbind: %+v", got)
	}
	// Bound again, naming no address: none is read back (Terraform's
	// private_ip_address would force a new association).
	must(struct{}{}, associate(e.vpc, eipA, eni, ni, "", ""))(t)
	if got := eipOf(eipA); got.InstanceId != eni || got.PrivateIpAddress != "" {
		t.Errorf("bound with no PrivateIpAddress: %+v", got)
	}
	// Deleting the ENI unbinds its EIP, which can then be released.
	must(struct{}{}, detachENI(e.ecs, eni, inst))(t)
	must(struct{}{}, deleteENI(e.ecs, eni))(t)
	if got := eipOf(eipA); got.Status != "Available" || got.InstanceId != "" {
		t.Errorf("after the ENI's deletion: %+v", got)
	}
	rel := vpc.CreateReleaseEipAddressRequest()
	rel.AllocationId = eipA
	must(e.vpc.ReleaseEipAddress(rel))(t)

	// An ENI deleted with its instance (DeleteOnRelease) unbinds its EIP too.
	cr = ecs.CreateCreateNetworkInterfaceRequest()
	cr.VSwitchId, cr.SecurityGroupIds, cr.DeleteOnRelease = n.vsw, &[]string{n.sgB}, requests.NewBoolean(true)
	eni2 := must(e.ecs.CreateNetworkInterface(cr))(t).NetworkInterfaceId
	inst2 := runInstance(t, e.ecs, n.vsw, n.sgA)
	must(struct{}{}, attachENI(e.ecs, eni2, inst2))(t)
	eipC, _ := allocate()
	must(struct{}{}, associate(e.vpc, eipC, eni2, ni, "", ""))(t)
	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId, del.Force = inst2, requests.NewBoolean(true)
	must(e.ecs.DeleteInstance(del))(t)
	if got := eipOf(eipC); got.Status != "Available" || got.InstanceId != "" {
		t.Errorf("after the ENI went with its instance: %+v", got)
	}
	rel.AllocationId = eipC
	must(e.vpc.ReleaseEipAddress(rel))(t)
}

// TestAnalysisENIEIP drives the analysis actions over an EIP bound to a
// secondary ENI: the internet reaches the ENI through it, decided by the
// ENI's group (SSH) and not its instance's (HTTPS); the instance, with no
// public address of its own, is not reached; the audit reports the ENI's
// EIP; after the unbind the live analysis no longer reaches the ENI.
func TestAnalysisENIEIP(t *testing.T) {
	e := newEnv(t)
	n := newNetwork(t, e, "10.0.0.0/16") // sgA: the instance's, sgB: the ENI's
	noErr(t, authorize(e.ecs, n.sgA, cidrIngress("tcp", "443/443", "0.0.0.0/0")))
	noErr(t, authorize(e.ecs, n.sgB, cidrIngress("tcp", "22/22", "0.0.0.0/0")))
	ssh := rules(t, e.ecs, n.sgB, "")[0].SecurityGroupRuleId
	web := runInstance(t, e.ecs, n.vsw, n.sgA)
	eni := createENI(t, e.ecs, n.vsw, "10.0.1.50", n.sgB).NetworkInterfaceId
	must(struct{}{}, attachENI(e.ecs, eni, web))(t)
	eip := must(e.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t).AllocationId
	as := vpc.CreateAssociateEipAddressRequest()
	as.AllocationId, as.InstanceId, as.InstanceType = eip, eni, "NetworkInterface"
	must(e.vpc.AssociateEipAddress(as))(t)

	const internet = "198.51.100.7"
	verify := func(to, port string) map[string]any {
		return mustCall(t, e.v3, ecsVersion, "PalisadeVerifyFlow", map[string]any{"From": internet, "To": to, "Protocol": "tcp", "Port": port})
	}
	if v := verify(eni, "22"); v["Verdict"] != "Accept" || path(t, v, "Ingress", "RuleId") != ssh || path(t, v, "Ingress", "GroupId") != n.sgB {
		t.Errorf("verify internet -> ENI 22: %v", v)
	}
	if v := verify(eni, "443"); v["Verdict"] != "Drop" || path(t, v, "Ingress", "Reason") != "default inbound drop" {
		t.Errorf("verify internet -> ENI 443 (the instance's rule, not the ENI's): %v", v)
	}
	if v := verify(web, "443"); v["Verdict"] != "Drop" || v["Path"] != "no public address" {
		t.Errorf("verify internet -> the instance 443, which has no public address: %v", v)
	}
	a := mustCall(t, e.v3, ecsVersion, "PalisadeAudit", nil)
	found := false
	for _, f := range list(t, a, "Findings") {
		if path(t, f, "check") == "SGA-027" && path(t, f, "resource") == eni {
			found = true
		}
		if path(t, f, "check") == "SGA-027" && path(t, f, "resource") == web {
			t.Errorf("audit reports the instance's public address: %v", f)
		}
	}
	if !found {
		t.Errorf("audit lacks SGA-027 for the ENI's EIP: %v", a)
	}

	un := vpc.CreateUnassociateEipAddressRequest()
	un.AllocationId, un.InstanceId, un.InstanceType = eip, eni, "NetworkInterface"
	must(e.vpc.UnassociateEipAddress(un))(t)
	if v := verify(eni, "22"); v["Verdict"] != "Drop" || v["Path"] != "no public address" {
		t.Errorf("verify internet -> ENI 22 after the unbind: %v", v)
	}
}
