package apitest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

var eniID = regexp.MustCompile(`^eni-[a-z0-9]{20}$`)

func createENI(t testing.TB, c *ecs.Client, vsw, ip string, groups ...string) *ecs.CreateNetworkInterfaceResponse {
	t.Helper()
	r := ecs.CreateCreateNetworkInterfaceRequest()
	r.VSwitchId, r.PrimaryIpAddress, r.SecurityGroupIds = vsw, ip, &groups
	return must(c.CreateNetworkInterface(r))(t)
}

func eniAttr(t testing.TB, c *ecs.Client, id string) *ecs.DescribeNetworkInterfaceAttributeResponse {
	t.Helper()
	r := ecs.CreateDescribeNetworkInterfaceAttributeRequest()
	r.NetworkInterfaceId = id
	return must(c.DescribeNetworkInterfaceAttribute(r))(t)
}

func attachENI(c *ecs.Client, eni, inst string) error {
	r := ecs.CreateAttachNetworkInterfaceRequest()
	r.NetworkInterfaceId, r.InstanceId = eni, inst
	_, err := c.AttachNetworkInterface(r)
	return err
}

func detachENI(c *ecs.Client, eni, inst string) error {
	r := ecs.CreateDetachNetworkInterfaceRequest()
	r.NetworkInterfaceId, r.InstanceId = eni, inst
	_, err := c.DetachNetworkInterface(r)
	return err
}

func deleteENI(c *ecs.Client, eni string) error {
	r := ecs.CreateDeleteNetworkInterfaceRequest()
	r.NetworkInterfaceId = eni
	_, err := c.DeleteNetworkInterface(r)
	return err
}

func modifyENIGroups(c *ecs.Client, eni string, groups ...string) error {
	r := ecs.CreateModifyNetworkInterfaceAttributeRequest()
	r.NetworkInterfaceId, r.SecurityGroupId = eni, &groups
	_, err := c.ModifyNetworkInterfaceAttribute(r)
	return err
}

// TestENILifecycle drives the ENI actions with the official SDK: create,
// read back, attach, change groups (Modify, Join, Leave by
// NetworkInterfaceId), detach, delete, read → not found.
func TestENILifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	vsw := createVSwitch(t, e.vpc, v, "10.0.1.0/24")
	web, mgmt, extra := createGroup(t, c, "web", v, ""), createGroup(t, c, "mgmt", v, ""), createGroup(t, c, "extra", v, "")
	inst := runInstance(t, c, vsw, web)

	cr := ecs.CreateCreateNetworkInterfaceRequest()
	cr.VSwitchId, cr.SecurityGroupId, cr.PrimaryIpAddress, cr.NetworkInterfaceName, cr.Description = vsw, mgmt, "10.0.1.50", "mgmt-nic", "management"
	cr.DeleteOnRelease = requests.NewBoolean(false)
	created := must(c.CreateNetworkInterface(cr))(t)
	if !eniID.MatchString(created.NetworkInterfaceId) || created.Status != "Available" || created.Type != "Secondary" || created.VpcId != v ||
		created.VSwitchId != vsw || created.ZoneId != zone || created.PrivateIpAddress != "10.0.1.50" || created.NetworkInterfaceName != "mgmt-nic" ||
		created.Description != "management" || !slices.Equal(created.SecurityGroupIds.SecurityGroupId, []string{mgmt}) || created.MacAddress == "" ||
		created.OwnerId == "" || len(created.PrivateIpSets.PrivateIpSet) != 1 || !created.PrivateIpSets.PrivateIpSet[0].Primary {
		t.Fatalf("CreateNetworkInterface decoded %+v", created)
	}
	id := created.NetworkInterfaceId
	a := eniAttr(t, c, id)
	if a.NetworkInterfaceId != id || a.Status != "Available" || a.InstanceId != "" || a.PrivateIpAddress != "10.0.1.50" || a.CreationTime == "" ||
		!slices.Equal(a.SecurityGroupIds.SecurityGroupId, []string{mgmt}) {
		t.Fatalf("DescribeNetworkInterfaceAttribute %+v", a)
	}
	// Made without a resource group, it answers none (Terraform's
	// alicloud_ecs_network_interface would replace it otherwise); once
	// moved into the account's, that one.
	va := vpc.CreateDescribeVpcAttributeRequest()
	va.VpcId = v
	rg := must(e.vpc.DescribeVpcAttribute(va))(t).ResourceGroupId
	if a.ResourceGroupId != "" {
		t.Errorf("ResourceGroupId %q before JoinResourceGroup, want none", a.ResourceGroupId)
	}
	join := ecs.CreateJoinResourceGroupRequest()
	join.ResourceType, join.ResourceId, join.ResourceGroupId = "eni", id, rg
	must(c.JoinResourceGroup(join))(t)
	if got := eniAttr(t, c, id).ResourceGroupId; got != rg {
		t.Errorf("ResourceGroupId %q after JoinResourceGroup, want %q", got, rg)
	}

	noErr(t, attachENI(c, id, inst))
	if a := eniAttr(t, c, id); a.Status != "InUse" || a.InstanceId != inst || a.Attachment.InstanceId != inst || a.Attachment.DeviceIndex != 1 {
		t.Fatalf("after attach %+v", a)
	}
	// DescribeInstances lists the secondary ENI with its own groups.
	di := ecs.CreateDescribeInstancesRequest()
	di.InstanceIds = `["` + inst + `"]`
	nics := must(c.DescribeInstances(di))(t).Instances.Instance[0].NetworkInterfaces.NetworkInterface
	if len(nics) != 2 || nics[0].Type != "Primary" || nics[1].NetworkInterfaceId != id || nics[1].PrimaryIpAddress != "10.0.1.50" {
		t.Fatalf("DescribeInstances NICs %+v", nics)
	}

	// Describe: by ID, by instance, by type; the primary is listed too.
	d := ecs.CreateDescribeNetworkInterfacesRequest()
	d.InstanceId = inst
	all := must(c.DescribeNetworkInterfaces(d))(t).NetworkInterfaceSets.NetworkInterfaceSet
	if len(all) != 2 {
		t.Fatalf("ENIs of the instance: %+v", all)
	}
	for _, n := range all { // the primary answers its instance's group
		if n.ResourceGroupId != rg {
			t.Errorf("%s ENI %s: ResourceGroupId %q, want %q", n.Type, n.NetworkInterfaceId, n.ResourceGroupId, rg)
		}
	}
	d.Type = "Secondary"
	sec := must(c.DescribeNetworkInterfaces(d))(t).NetworkInterfaceSets.NetworkInterfaceSet
	if len(sec) != 1 || sec[0].NetworkInterfaceId != id || sec[0].InstanceId != inst || sec[0].Status != "InUse" {
		t.Fatalf("secondary ENIs %+v", sec)
	}
	d = ecs.CreateDescribeNetworkInterfacesRequest()
	d.SecurityGroupId = web // matches secondary ENIs only
	if got := must(c.DescribeNetworkInterfaces(d))(t).NetworkInterfaceSets.NetworkInterfaceSet; len(got) != 0 {
		t.Fatalf("by the primary's group: %+v", got)
	}
	d = ecs.CreateDescribeNetworkInterfacesRequest()
	d.NetworkInterfaceId = &[]string{"eni-doesnotexist000000"}
	if got := must(c.DescribeNetworkInterfaces(d))(t).NetworkInterfaceSets.NetworkInterfaceSet; len(got) != 0 {
		t.Fatalf("unknown ID: %+v", got)
	}

	// The groups: replace, join, leave.
	noErr(t, modifyENIGroups(c, id, mgmt, extra))
	if g := eniAttr(t, c, id).SecurityGroupIds.SecurityGroupId; !slices.Equal(g, []string{mgmt, extra}) {
		t.Fatalf("groups after modify: %v", g)
	}
	lv := ecs.CreateLeaveSecurityGroupRequest()
	lv.NetworkInterfaceId, lv.SecurityGroupId = id, extra
	must(c.LeaveSecurityGroup(lv))(t)
	jn := ecs.CreateJoinSecurityGroupRequest()
	jn.NetworkInterfaceId, jn.SecurityGroupId = id, web
	must(c.JoinSecurityGroup(jn))(t)
	if g := eniAttr(t, c, id).SecurityGroupIds.SecurityGroupId; !slices.Equal(g, []string{mgmt, web}) {
		t.Fatalf("groups after leave and join: %v", g)
	}
	// The instance keeps its own groups.
	if g := instance(t, c, inst).SecurityGroupIds.SecurityGroupId; !slices.Equal(g, []string{web}) {
		t.Fatalf("instance groups %v", g)
	}
	// The ENI counts as a member of its groups.
	dsg := ecs.CreateDescribeSecurityGroupsRequest()
	dsg.SecurityGroupId = mgmt
	if g := must(c.DescribeSecurityGroups(dsg))(t).SecurityGroups.SecurityGroup[0]; g.EcsCount != 1 || g.AvailableInstanceAmount != 1999 {
		t.Errorf("mgmt: EcsCount %d, AvailableInstanceAmount %d; want the ENI counted", g.EcsCount, g.AvailableInstanceAmount)
	}
	// The same on an unfiltered page, which counts members from the view's
	// group indexes instead of a scan.
	for _, g := range must(c.DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()))(t).SecurityGroups.SecurityGroup {
		if g.SecurityGroupId == mgmt && (g.EcsCount != 1 || g.AvailableInstanceAmount != 1999) {
			t.Errorf("mgmt, unfiltered page: EcsCount %d, AvailableInstanceAmount %d; want the ENI counted", g.EcsCount, g.AvailableInstanceAmount)
		}
	}
	// A group with an ENI in it cannot be deleted.
	dg := ecs.CreateDeleteSecurityGroupRequest()
	dg.SecurityGroupId = mgmt
	_, err := c.DeleteSecurityGroup(dg)
	wantErr(t, err, 403, "DependencyViolation")

	noErr(t, detachENI(c, id, inst))
	if a := eniAttr(t, c, id); a.Status != "Available" || a.InstanceId != "" {
		t.Fatalf("after detach %+v", a)
	}
	noErr(t, deleteENI(c, id))
	r := ecs.CreateDescribeNetworkInterfaceAttributeRequest()
	r.NetworkInterfaceId = id
	_, err = c.DescribeNetworkInterfaceAttribute(r)
	wantErr(t, err, 404, "InvalidEniId.NotFound")
}

func TestENIErrors(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	far := createVPC(t, e.vpc, "10.1.0.0/16")
	vsw := createVSwitch(t, e.vpc, v, "10.0.1.0/24")
	sg := createGroup(t, c, "ga", v, "")
	farGroup := createGroup(t, c, "far", far, "")
	ent := createGroup(t, c, "ent", v, "enterprise")
	inst := runInstance(t, c, vsw, sg)
	eni := createENI(t, c, vsw, "10.0.1.50", sg).NetworkInterfaceId
	primary := "eni-" + inst[len("i-"):]

	other := e.newAccount(t, "other")
	ov := createVPC(t, other.vpc, "10.0.0.0/16")
	ovsw := createVSwitch(t, other.vpc, ov, "10.0.1.0/24")
	osg := createGroup(t, other.ecs, "go", ov, "")
	otherENI := createENI(t, other.ecs, ovsw, "10.0.1.60", osg).NetworkInterfaceId

	groups := func(n int) []string {
		out := []string{sg}
		for i := 1; i < n; i++ {
			out = append(out, createGroup(t, c, "gx", v, ""))
		}
		return out
	}
	six := groups(6)
	create := func(f func(r *ecs.CreateNetworkInterfaceRequest)) func() error {
		return func() error {
			r := ecs.CreateCreateNetworkInterfaceRequest()
			r.VSwitchId, r.SecurityGroupId = vsw, sg
			f(r)
			_, err := c.CreateNetworkInterface(r)
			return err
		}
	}
	attr := func(client *ecs.Client, id string) func() error {
		return func() error {
			r := ecs.CreateDescribeNetworkInterfaceAttributeRequest()
			r.NetworkInterfaceId = id
			_, err := client.DescribeNetworkInterfaceAttribute(r)
			return err
		}
	}
	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"unknown ENI", attr(c, "eni-doesnotexist000000"), 404, "InvalidEniId.NotFound"},
		{"malformed ENI ID", attr(c, "nic-1"), 400, "InvalidParams.EniId"},
		{"another account's ENI", attr(c, otherENI), 404, "InvalidEniId.NotFound"},
		{"attach another account's ENI", func() error { return attachENI(c, otherENI, inst) }, 404, "InvalidEniId.NotFound"},
		{"another account reads mine", attr(other.ecs, eni), 404, "InvalidEniId.NotFound"},
		{"a group of another VPC", create(func(r *ecs.CreateNetworkInterfaceRequest) { r.SecurityGroupId = farGroup }), 403, "InvalidOperation.VpcMismatch"},
		{"another account's group", create(func(r *ecs.CreateNetworkInterfaceRequest) { r.SecurityGroupId = osg }), 404, "InvalidSecurityGroupId.NotFound"},
		{"six groups", create(func(r *ecs.CreateNetworkInterfaceRequest) { r.SecurityGroupId, r.SecurityGroupIds = "", &six }), 400, "JoinedGroupLimitExceed"},
		{"both group forms", create(func(r *ecs.CreateNetworkInterfaceRequest) { r.SecurityGroupIds = &[]string{sg} }), 400, "InvalidParameter.Conflict"},
		{"no group", create(func(r *ecs.CreateNetworkInterfaceRequest) { r.SecurityGroupId = "" }), 400, "MissingParameter"},
		{"address taken", create(func(r *ecs.CreateNetworkInterfaceRequest) { r.PrimaryIpAddress = "10.0.1.50" }), 400, "InvalidPrivateIpAddress.Duplicated"},
		{"address outside the vSwitch", create(func(r *ecs.CreateNetworkInterfaceRequest) { r.PrimaryIpAddress = "10.0.2.5" }), 403, "InvalidVSwitchId.IpInvalid"},
		{"unknown vSwitch", create(func(r *ecs.CreateNetworkInterfaceRequest) { r.VSwitchId = "vsw-doesnotexist000000" }), 404, "InvalidVSwitchId.NotFound"},
		{"a sixth group by modify", func() error { return modifyENIGroups(c, eni, six...) }, 400, "JoinedGroupLimitExceed"},
		{"modify to a group of another VPC", func() error { return modifyENIGroups(c, eni, farGroup) }, 403, "InvalidOperation.VpcMismatch"},
		{"join a group of another VPC", func() error {
			r := ecs.CreateJoinSecurityGroupRequest()
			r.NetworkInterfaceId, r.SecurityGroupId = eni, farGroup
			_, err := c.JoinSecurityGroup(r)
			return err
		}, 403, "InvalidOperation.VpcMismatch"},
		{"join a group of the other type", func() error {
			r := ecs.CreateJoinSecurityGroupRequest()
			r.NetworkInterfaceId, r.SecurityGroupId = eni, ent
			_, err := c.JoinSecurityGroup(r)
			return err
		}, 400, "InvalidOperation.MultiGroupType"},
		{"leave the last group", func() error {
			r := ecs.CreateLeaveSecurityGroupRequest()
			r.NetworkInterfaceId, r.SecurityGroupId = eni, sg
			_, err := c.LeaveSecurityGroup(r)
			return err
		}, 403, "InvalidOperation.AtLeastInOneGroup"},
		{"detach the primary", func() error { return detachENI(c, primary, inst) }, 400, "InvalidOperation.DetachPrimaryEniNotAllowed"},
		{"delete the primary", func() error { return deleteENI(c, primary) }, 403, "InvalidOperation.InvalidEniType"},
		{"detach one not attached", func() error { return detachENI(c, eni, inst) }, 400, "InvalidOperation.InvalidEniState"},
		{"attach to an unknown instance", func() error { return attachENI(c, eni, "i-doesnotexist00000000") }, 403, "InvalidInstanceId.NotFound"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantErr(t, tt.call(), tt.status, tt.code) })
	}

	// Attached: it cannot be deleted or attached again; the instance type
	// (ecs.g7.large, not in Palisade's table: 2 ENIs with the primary) takes
	// no second secondary ENI.
	noErr(t, attachENI(c, eni, inst))
	wantErr(t, deleteENI(c, eni), 400, "InvalidOperation.InvalidEniState")
	wantErr(t, attachENI(c, eni, inst), 400, "InvalidOperation.InvalidEniState")
	second := createENI(t, c, vsw, "10.0.1.51", sg).NetworkInterfaceId
	wantErr(t, attachENI(c, second, inst), 403, "EniPerInstanceLimitExceeded")
	// An ENI of another VPC does not attach.
	fvsw := createVSwitch(t, e.vpc, far, "10.1.1.0/24")
	farENI := createENI(t, c, fvsw, "10.1.1.5", farGroup).NetworkInterfaceId
	noErr(t, detachENI(c, eni, inst))
	wantErr(t, attachENI(c, farENI, inst), 403, "InvalidOperation.VpcMismatch")
	// The ENI alone holds its vSwitch.
	dv := vpc.CreateDeleteVSwitchRequest()
	dv.VSwitchId = fvsw
	_, err := e.vpc.DeleteVSwitch(dv)
	wantErr(t, err, 400, "DependencyViolation")
	noErr(t, deleteENI(c, farENI))
	must(e.vpc.DeleteVSwitch(dv))(t)
	// The primary's groups are the instance's: Modify on the primary changes them.
	noErr(t, modifyENIGroups(c, primary, sg, six[1]))
	if g := instance(t, c, inst).SecurityGroupIds.SecurityGroupId; !slices.Equal(g, []string{sg, six[1]}) {
		t.Fatalf("instance groups after modifying its primary ENI: %v", g)
	}
}

// TestENINameCharacters: an ENI's name is 2 to 128 characters, counted as
// characters like every other name (a group's, a VPC's), not bytes, and
// its letters are letters of any script, not any byte past ASCII. Counted
// in bytes, 43 Chinese letters were refused and a single one taken, and a
// zero-width space or a symbol passed as a letter.
func TestENINameCharacters(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	vsw := createVSwitch(t, e.vpc, v, "10.0.1.0/24")
	sg := createGroup(t, c, "names", v, "")
	eni := createENI(t, c, vsw, "10.0.1.50", sg).NetworkInterfaceId
	count := func() int {
		r := ecs.CreateDescribeNetworkInterfacesRequest()
		r.VSwitchId = vsw
		return len(must(c.DescribeNetworkInterfaces(r))(t).NetworkInterfaceSets.NetworkInterfaceSet)
	}
	kept := "kept-name"
	rename := ecs.CreateModifyNetworkInterfaceAttributeRequest()
	rename.NetworkInterfaceId, rename.NetworkInterfaceName = eni, kept
	must(c.ModifyNetworkInterfaceAttribute(rename))(t)
	ip := 100
	for _, tt := range []struct {
		what, name string
		ok         bool
	}{
		{"128 Chinese letters", strings.Repeat("网", 128), true},
		{"43 Chinese letters", strings.Repeat("网", 43), true},
		{"mixed scripts", "web-网卡_1.a:b", true},
		{"129 Chinese letters", strings.Repeat("网", 129), false},
		{"one Chinese letter", "网", false},
		{"a zero-width space", "ab\u200bcd", false},
		{"a symbol", "ab→cd", false},
		{"an emoji", "ab👍cd", false},
	} {
		t.Run(tt.what, func(t *testing.T) {
			before := count()
			ip++
			r := ecs.CreateCreateNetworkInterfaceRequest()
			r.VSwitchId, r.SecurityGroupId, r.PrimaryIpAddress, r.NetworkInterfaceName = vsw, sg, fmt.Sprintf("10.0.1.%d", ip), tt.name
			created, err := c.CreateNetworkInterface(r)
			m := ecs.CreateModifyNetworkInterfaceAttributeRequest()
			m.NetworkInterfaceId, m.NetworkInterfaceName = eni, tt.name
			_, merr := c.ModifyNetworkInterfaceAttribute(m)
			if !tt.ok {
				wantErr(t, err, 400, "InvalidParameter")
				wantErr(t, merr, 400, "InvalidParameter")
				if n := count(); n != before {
					t.Errorf("the refused create left %d ENIs, not %d", n, before)
				}
				if got := eniAttr(t, c, eni).NetworkInterfaceName; got != kept {
					t.Errorf("the refused modify renamed the ENI %q", got)
				}
				return
			}
			noErr(t, err)
			noErr(t, merr)
			if got := eniAttr(t, c, created.NetworkInterfaceId).NetworkInterfaceName; got != tt.name {
				t.Errorf("created with name %q, read back %q", tt.name, got)
			}
			if got := eniAttr(t, c, eni).NetworkInterfaceName; got != tt.name {
				t.Errorf("renamed to %q, read back %q", tt.name, got)
			}
			rename.NetworkInterfaceName = kept
			must(c.ModifyNetworkInterfaceAttribute(rename))(t)
		})
	}
}

// TestENIAnalysis checks the analysis actions per ENI: the plan of an
// attach opens flows to the ENI itself, and reachability names it.
func TestENIAnalysis(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	vsw := createVSwitch(t, e.vpc, v, "10.0.1.0/24")
	web, mgmt, admin := createGroup(t, c, "web", v, ""), createGroup(t, c, "mgmt", v, ""), createGroup(t, c, "admin", v, "")
	noErr(t, authorize(c, mgmt, cidrIngress("TCP", "22/22", "10.0.0.0/16")))
	inst := runInstance(t, c, vsw, web)
	adm := runInstance(t, c, vsw, admin)
	id := createENI(t, c, vsw, "10.0.1.50", mgmt).NetworkInterfaceId

	p := mustCall(t, e.v3, ecsVersion, "PalisadePlanChange", map[string]any{"ChangeAction": "AttachNetworkInterface",
		"NetworkInterfaceId": id, "InstanceId": inst})
	changes := list(t, p, "Changes")
	opened := false
	for _, ch := range changes {
		if path(t, ch, "to") == id && path(t, ch, "from") == adm {
			opened = true
		}
		if path(t, ch, "to") == inst {
			t.Errorf("the attach changes flows to the instance's primary: %v", ch)
		}
	}
	if !opened {
		t.Errorf("plan of the attach: %v; want %s -> %s opened", p, adm, id)
	}
	noErr(t, attachENI(c, id, inst))
	// mgmt admits the whole VPC: the admin and the instance's own primary.
	r := mustCall(t, e.v3, ecsVersion, "PalisadeDescribeReachability", map[string]any{"To": id, "Port": "22"})
	var from []string
	for _, l := range list(t, r, "Links") {
		from = append(from, fmt.Sprint(path(t, l, "from")))
	}
	if slices.Sort(from); !slices.Equal(from, sorted(adm, inst)) {
		t.Errorf("reach to the ENI on 22 from %v, want %s and %s", from, adm, inst)
	}
	r = mustCall(t, e.v3, ecsVersion, "PalisadeDescribeReachability", map[string]any{"To": inst, "Port": "22"})
	if links, ok := r["Links"].([]any); ok && len(links) != 0 {
		t.Errorf("reach to the primary on 22 (its group admits nothing): %v", links)
	}
}
