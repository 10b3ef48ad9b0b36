package apitest

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

var instID = regexp.MustCompile(`^i-[a-z0-9]{20}$`)

const (
	imageID      = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"
	instanceType = "ecs.g7.large"
)

// runInstance launches one running instance into a vSwitch ("" for the
// classic network) with the given groups.
func runInstance(t testing.TB, c *ecs.Client, vswitch string, groups ...string) string {
	t.Helper()
	r := ecs.CreateRunInstancesRequest()
	r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupIds = imageID, instanceType, vswitch, &groups
	resp := must(c.RunInstances(r))(t)
	if len(resp.InstanceIdSets.InstanceIdSet) != 1 {
		t.Fatalf("RunInstances returned %v", resp.InstanceIdSets.InstanceIdSet)
	}
	return resp.InstanceIdSets.InstanceIdSet[0]
}

// instance describes one instance.
func instance(t testing.TB, c *ecs.Client, id string) *ecs.DescribeInstanceAttributeResponse {
	t.Helper()
	r := ecs.CreateDescribeInstanceAttributeRequest()
	r.InstanceId = id
	return must(c.DescribeInstanceAttribute(r))(t)
}

// groupsOf returns an instance's security groups in order.
func groupsOf(t testing.TB, c *ecs.Client, id string) []string {
	t.Helper()
	return instance(t, c, id).SecurityGroupIds.SecurityGroupId
}

// instances lists instance IDs for a DescribeInstances filter.
func instances(t testing.TB, c *ecs.Client, filter func(r *ecs.DescribeInstancesRequest)) []string {
	t.Helper()
	r := ecs.CreateDescribeInstancesRequest()
	r.PageSize = "100"
	if filter != nil {
		filter(r)
	}
	var ids []string
	for _, in := range must(c.DescribeInstances(r))(t).Instances.Instance {
		ids = append(ids, in.InstanceId)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// network is a VPC with one vSwitch (10.0.1.0/24) and two basic groups.
type network struct {
	vpc, vsw, sgA, sgB string
}

func newNetwork(t testing.TB, e *env, cidr string) network {
	t.Helper()
	var n network
	n.vpc = createVPC(t, e.vpc, cidr)
	b := netip.MustParsePrefix(cidr).Addr().As4() // a /16: the vSwitch is its x.y.1.0/24
	b[2] = 1
	n.vsw = createVSwitch(t, e.vpc, n.vpc, netip.PrefixFrom(netip.AddrFrom4(b), 24).String())
	n.sgA = createGroup(t, e.ecs, "net-a", n.vpc, "")
	n.sgB = createGroup(t, e.ecs, "net-b", n.vpc, "")
	return n
}

func TestInstanceLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	n := newNetwork(t, e, "10.0.0.0/16")

	rr := ecs.CreateRunInstancesRequest()
	rr.ImageId, rr.InstanceType, rr.VSwitchId, rr.Amount, rr.InstanceName = imageID, instanceType, n.vsw, "2", "web"
	rr.SecurityGroupIds = &[]string{n.sgA}
	rr.Tag = &[]ecs.RunInstancesTag{{Key: "role", Value: "web"}}
	run := must(c.RunInstances(rr))(t)
	web := run.InstanceIdSets.InstanceIdSet
	if len(web) != 2 || !instID.MatchString(web[0]) || !instID.MatchString(web[1]) || !guid.MatchString(run.RequestId) {
		t.Fatalf("RunInstances decoded %+v", run)
	}

	cr := ecs.CreateCreateInstanceRequest()
	cr.ImageId, cr.InstanceType, cr.VSwitchId, cr.SecurityGroupId, cr.PrivateIpAddress, cr.InstanceName =
		imageID, instanceType, n.vsw, n.sgB, "10.0.1.50", "db"
	db := must(c.CreateInstance(cr))(t).InstanceId
	if !instID.MatchString(db) {
		t.Fatalf("CreateInstance InstanceId %q", db)
	}

	// DescribeInstances: the fields the SDK decodes for a VPC instance.
	dr := ecs.CreateDescribeInstancesRequest()
	dr.InstanceIds = fmt.Sprintf(`["%s"]`, web[0])
	list := must(c.DescribeInstances(dr))(t)
	if list.TotalCount != 1 || len(list.Instances.Instance) != 1 {
		t.Fatalf("DescribeInstances InstanceIds=[%s]: %+v", web[0], list)
	}
	in := list.Instances.Instance[0]
	ip, err := netip.ParseAddr(in.VpcAttributes.PrivateIpAddress.IpAddress[0])
	if err != nil || !netip.MustParsePrefix("10.0.1.0/24").Contains(ip) {
		t.Errorf("private address %v not in the vSwitch", in.VpcAttributes.PrivateIpAddress.IpAddress)
	}
	if in.InstanceId != web[0] || in.Status != "Running" || in.InstanceName != "web" || in.InstanceNetworkType != "vpc" ||
		in.VpcAttributes.VpcId != n.vpc || in.VpcAttributes.VSwitchId != n.vsw || in.ZoneId != zone || in.RegionId != region ||
		in.ImageId != imageID || in.InstanceType != instanceType || !slices.Equal(in.SecurityGroupIds.SecurityGroupId, []string{n.sgA}) {
		t.Errorf("instance decoded as %+v", in)
	}
	if len(in.Tags.Tag) != 1 || in.Tags.Tag[0].TagKey != "role" || in.Tags.Tag[0].TagValue != "web" {
		t.Errorf("instance tags %+v", in.Tags.Tag)
	}
	recent(t, "CreationTime", in.CreationTime)
	if !strings.HasPrefix(in.ResourceGroupId, "rg-") {
		t.Errorf("instance ResourceGroupId %q, want the account's rg-…", in.ResourceGroupId)
	}

	for _, tc := range []struct {
		name   string
		filter func(r *ecs.DescribeInstancesRequest)
		want   []string
	}{
		{"all", nil, sorted(web[0], web[1], db)},
		{"VpcId", func(r *ecs.DescribeInstancesRequest) { r.VpcId = n.vpc }, sorted(web[0], web[1], db)},
		{"SecurityGroupId", func(r *ecs.DescribeInstancesRequest) { r.SecurityGroupId = n.sgB }, []string{db}},
		{"Status", func(r *ecs.DescribeInstancesRequest) { r.Status = "Stopped" }, []string{db}},
		{"InstanceIds", func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = fmt.Sprintf(`["%s","%s"]`, web[1], db) }, sorted(web[1], db)},
		{"unknown InstanceIds", func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = `["i-doesnotexist0000000"]` }, nil},
		// The account's one resource group holds every instance; another
		// holds none (a filter ignored would answer them all).
		{"ResourceGroupId", func(r *ecs.DescribeInstancesRequest) { r.ResourceGroupId = in.ResourceGroupId }, sorted(web[0], web[1], db)},
		{"another ResourceGroupId", func(r *ecs.DescribeInstancesRequest) { r.ResourceGroupId = "rg-elsewhere" }, nil},
	} {
		t.Run("filter "+tc.name, func(t *testing.T) {
			if got := instances(t, c, tc.filter); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("NextToken paging", func(t *testing.T) {
		r := ecs.CreateDescribeInstancesRequest()
		r.MaxResults = "2"
		first := must(c.DescribeInstances(r))(t)
		if len(first.Instances.Instance) != 2 || first.NextToken == "" {
			t.Fatalf("first page: %d instances, NextToken %q", len(first.Instances.Instance), first.NextToken)
		}
		r = ecs.CreateDescribeInstancesRequest()
		r.MaxResults, r.NextToken = "2", first.NextToken
		second := must(c.DescribeInstances(r))(t)
		if len(second.Instances.Instance) != 1 || second.NextToken != "" {
			t.Fatalf("second page: %d instances, NextToken %q", len(second.Instances.Instance), second.NextToken)
		}
		got := sorted(first.Instances.Instance[0].InstanceId, first.Instances.Instance[1].InstanceId, second.Instances.Instance[0].InstanceId)
		if !slices.Equal(got, sorted(web[0], web[1], db)) {
			t.Errorf("pages gave %v", got)
		}
	})

	a := instance(t, c, db)
	if a.Status != "Stopped" || a.InstanceName != "db" || a.InstanceNetworkType != "vpc" || a.VpcAttributes.VpcId != n.vpc ||
		!slices.Equal(a.VpcAttributes.PrivateIpAddress.IpAddress, []string{"10.0.1.50"}) ||
		!slices.Equal(a.SecurityGroupIds.SecurityGroupId, []string{n.sgB}) || !guid.MatchString(a.RequestId) {
		t.Errorf("DescribeInstanceAttribute decoded %+v", a)
	}

	// Start, stop, and the status checks between them.
	start := ecs.CreateStartInstanceRequest()
	start.InstanceId = db
	must(c.StartInstance(start))(t)
	if s := instance(t, c, db).Status; s != "Running" {
		t.Errorf("after StartInstance: %s", s)
	}
	_, err = c.StartInstance(start)
	wantErr(t, err, 403, "IncorrectInstanceStatus")
	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = db
	must(c.StopInstance(stop))(t)
	if s := instance(t, c, db).Status; s != "Stopped" {
		t.Errorf("after StopInstance: %s", s)
	}
	_, err = c.StopInstance(stop)
	wantErr(t, err, 403, "IncorrectInstanceStatus")

	// ModifyInstanceAttribute replaces the whole group set.
	mr := ecs.CreateModifyInstanceAttributeRequest()
	mr.InstanceId, mr.SecurityGroupIds, mr.InstanceName = web[0], &[]string{n.sgB, n.sgA}, "web-0"
	must(c.ModifyInstanceAttribute(mr))(t)
	if a := instance(t, c, web[0]); !slices.Equal(a.SecurityGroupIds.SecurityGroupId, []string{n.sgB, n.sgA}) || a.InstanceName != "web-0" {
		t.Errorf("after ModifyInstanceAttribute: groups %v name %q", a.SecurityGroupIds.SecurityGroupId, a.InstanceName)
	}
	mr = ecs.CreateModifyInstanceAttributeRequest()
	mr.InstanceId, mr.SecurityGroupIds = web[0], &[]string{n.sgA}
	must(c.ModifyInstanceAttribute(mr))(t)
	if g := groupsOf(t, c, web[0]); !slices.Equal(g, []string{n.sgA}) {
		t.Errorf("after setting [sgA]: %v", g)
	}

	// Join and Leave.
	jr := ecs.CreateJoinSecurityGroupRequest()
	jr.InstanceId, jr.SecurityGroupId = web[1], n.sgB
	must(c.JoinSecurityGroup(jr))(t)
	if g := groupsOf(t, c, web[1]); !slices.Equal(g, []string{n.sgA, n.sgB}) {
		t.Errorf("after JoinSecurityGroup: %v", g)
	}
	lr := ecs.CreateLeaveSecurityGroupRequest()
	lr.InstanceId, lr.SecurityGroupId = web[1], n.sgA
	must(c.LeaveSecurityGroup(lr))(t)
	if g := groupsOf(t, c, web[1]); !slices.Equal(g, []string{n.sgB}) {
		t.Errorf("after LeaveSecurityGroup: %v", g)
	}
	if got := instances(t, c, func(r *ecs.DescribeInstancesRequest) { r.SecurityGroupId = n.sgB }); !slices.Equal(got, sorted(web[1], db)) {
		t.Errorf("members of sgB: %v", got)
	}

	// Deleting needs a stopped instance unless Force is set.
	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId = web[0]
	_, err = c.DeleteInstance(del)
	wantErr(t, err, 403, "IncorrectInstanceStatus")
	del.Force = requests.NewBoolean(true)
	must(c.DeleteInstance(del))(t)
	del = ecs.CreateDeleteInstanceRequest()
	del.InstanceId = db
	must(c.DeleteInstance(del))(t)
	if got := instances(t, c, nil); !slices.Equal(got, []string{web[1]}) {
		t.Errorf("after deleting two: %v", got)
	}
	_, err = c.DescribeInstanceAttribute(func() *ecs.DescribeInstanceAttributeRequest {
		r := ecs.CreateDescribeInstanceAttributeRequest()
		r.InstanceId = db
		return r
	}())
	wantErr(t, err, 404, "InvalidInstanceId.NotFound")
}

func TestClassicInstance(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	sg := createGroup(t, c, "classic", "", "")
	id := runInstance(t, c, "", sg)
	a := instance(t, c, id)
	if a.InstanceNetworkType != "classic" || a.VpcAttributes.VpcId != "" || len(a.InnerIpAddress.IpAddress) != 1 ||
		!slices.Equal(a.SecurityGroupIds.SecurityGroupId, []string{sg}) {
		t.Errorf("classic instance decoded as %+v", a)
	}
	// Classic instances change groups only through Join/Leave.
	other := createGroup(t, c, "classic-2", "", "")
	mr := ecs.CreateModifyInstanceAttributeRequest()
	mr.InstanceId, mr.SecurityGroupIds = id, &[]string{other}
	_, err := c.ModifyInstanceAttribute(mr)
	wantErr(t, err, 400, "InvalidNetworkType.NotSupported")
	jr := ecs.CreateJoinSecurityGroupRequest()
	jr.InstanceId, jr.SecurityGroupId = id, other
	must(c.JoinSecurityGroup(jr))(t)
	if g := groupsOf(t, c, id); !slices.Equal(g, []string{sg, other}) {
		t.Errorf("classic instance groups after Join: %v", g)
	}
}

func TestEIPLifecycle(t *testing.T) {
	e := newEnv(t)
	n := newNetwork(t, e, "10.0.0.0/16")
	inst := runInstance(t, e.ecs, n.vsw, n.sgA)
	other := runInstance(t, e.ecs, n.vsw, n.sgA)

	ar := vpc.CreateAllocateEipAddressRequest()
	ar.Bandwidth = "10"
	alloc := must(e.vpc.AllocateEipAddress(ar))(t)
	if !eipID.MatchString(alloc.AllocationId) || !guid.MatchString(alloc.RequestId) {
		t.Fatalf("AllocateEipAddress decoded %+v", alloc)
	}
	addr := eipAddress(t, alloc.EipAddress)
	second := must(e.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t)
	if second.EipAddress == alloc.EipAddress {
		t.Errorf("two EIPs got the same address %s", addr)
	}

	as := vpc.CreateAssociateEipAddressRequest()
	as.AllocationId, as.InstanceId = alloc.AllocationId, inst
	must(e.vpc.AssociateEipAddress(as))(t)
	a := instance(t, e.ecs, inst)
	if a.EipAddress.AllocationId != alloc.AllocationId || a.EipAddress.IpAddress != addr.String() || a.EipAddress.Bandwidth != 10 {
		t.Errorf("instance EipAddress after associate: %+v", a.EipAddress)
	}
	dr := ecs.CreateDescribeInstancesRequest()
	dr.InstanceIds = fmt.Sprintf(`["%s"]`, inst)
	if got := must(e.ecs.DescribeInstances(dr))(t).Instances.Instance[0].EipAddress; got.IpAddress != addr.String() || got.AllocationId != alloc.AllocationId {
		t.Errorf("DescribeInstances EipAddress: %+v", got)
	}

	// An EIP binds once; an instance takes one public address.
	as2 := vpc.CreateAssociateEipAddressRequest()
	as2.AllocationId, as2.InstanceId = alloc.AllocationId, other
	_, err := e.vpc.AssociateEipAddress(as2)
	wantErr(t, err, 400, "IncorrectEipStatus")
	as2.AllocationId, as2.InstanceId = second.AllocationId, inst
	_, err = e.vpc.AssociateEipAddress(as2)
	wantErr(t, err, 400, "InvalidAssociation.Duplicated")
	rel := vpc.CreateReleaseEipAddressRequest()
	rel.AllocationId = alloc.AllocationId
	_, err = e.vpc.ReleaseEipAddress(rel)
	wantErr(t, err, 400, "IncorrectEipStatus")
	if got := instance(t, e.ecs, inst).EipAddress.AllocationId; got != alloc.AllocationId {
		t.Errorf("refused calls changed the binding: %q", got)
	}

	// EIPs bind to VPC instances only.
	classicGroup := createGroup(t, e.ecs, "classic", "", "")
	classicInst := runInstance(t, e.ecs, "", classicGroup)
	as3 := vpc.CreateAssociateEipAddressRequest()
	as3.AllocationId, as3.InstanceId = second.AllocationId, classicInst
	_, err = e.vpc.AssociateEipAddress(as3)
	wantErr(t, err, 400, "InvalidNetworkType.NotSupported")

	un := vpc.CreateUnassociateEipAddressRequest()
	un.AllocationId, un.InstanceId = alloc.AllocationId, inst
	must(e.vpc.UnassociateEipAddress(un))(t)
	if got := instance(t, e.ecs, inst).EipAddress; got.AllocationId != "" || got.IpAddress != "" {
		t.Errorf("instance EipAddress after unassociate: %+v", got)
	}
	_, err = e.vpc.UnassociateEipAddress(un)
	wantErr(t, err, 400, "IncorrectEipStatus")
	must(e.vpc.ReleaseEipAddress(rel))(t)
	_, err = e.vpc.ReleaseEipAddress(rel)
	wantErr(t, err, 404, "InvalidAllocationId.NotFound")
	// Deleting an instance unbinds its EIP, which can then be released.
	as3 = vpc.CreateAssociateEipAddressRequest()
	as3.AllocationId, as3.InstanceId = second.AllocationId, other
	must(e.vpc.AssociateEipAddress(as3))(t)
	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId, del.Force = other, requests.NewBoolean(true)
	must(e.ecs.DeleteInstance(del))(t)
	rel = vpc.CreateReleaseEipAddressRequest()
	rel.AllocationId = second.AllocationId
	must(e.vpc.ReleaseEipAddress(rel))(t)
}

func TestLaunchErrors(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	n := newNetwork(t, e, "10.0.0.0/16")
	pinned := ecs.CreateCreateInstanceRequest()
	pinned.ImageId, pinned.InstanceType, pinned.VSwitchId, pinned.SecurityGroupId, pinned.PrivateIpAddress = imageID, instanceType, n.vsw, n.sgA, "10.0.1.10"
	taken := must(c.CreateInstance(pinned))(t).InstanceId

	launch := func(set func(r *ecs.RunInstancesRequest)) func() error {
		return func() error {
			r := ecs.CreateRunInstancesRequest()
			r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupId = imageID, instanceType, n.vsw, n.sgA
			set(r)
			_, err := c.RunInstances(r)
			return err
		}
	}
	snapshot := func(t testing.TB) string {
		t.Helper()
		r := vpc.CreateDescribeVSwitchesRequest()
		r.VSwitchId = n.vsw
		free := must(e.vpc.DescribeVSwitches(r))(t).VSwitches.VSwitch[0].AvailableIpAddressCount
		return fmt.Sprint(instances(t, c, nil), free)
	}
	if s := snapshot(t); s != fmt.Sprintf("[%s] 251", taken) {
		t.Fatalf("before: %s (a /24 vSwitch with one instance has 251 free addresses)", s)
	}
	runErrCases(t, snapshot, []errCase{
		{"no ImageId", launch(func(r *ecs.RunInstancesRequest) { r.ImageId = "" }), 400, "MissingParameter"},
		{"no InstanceType", launch(func(r *ecs.RunInstancesRequest) { r.InstanceType = "" }), 400, "MissingParameter"},
		{"Amount 0", launch(func(r *ecs.RunInstancesRequest) { r.Amount = "0" }), 400, "InvalidParameter"},
		{"Amount 101", launch(func(r *ecs.RunInstancesRequest) { r.Amount = "101" }), 400, "InvalidParameter"},
		{"address taken", launch(func(r *ecs.RunInstancesRequest) { r.PrivateIpAddress = "10.0.1.10" }), 400, "InvalidPrivateIpAddress.Duplicated"},
		{"address outside the vSwitch", launch(func(r *ecs.RunInstancesRequest) { r.PrivateIpAddress = "10.0.2.10" }), 400, "InvalidPrivateIpAddress.Mismatch"},
		{"reserved address", launch(func(r *ecs.RunInstancesRequest) { r.PrivateIpAddress = "10.0.1.255" }), 400, "InvalidPrivateIpAddress.Malformed"},
		{"zone of another vSwitch", launch(func(r *ecs.RunInstancesRequest) { r.ZoneId = "cn-hangzhou-i" }), 400, "InvalidVSwitchId.Mismatch"},
		{"unknown vSwitch", launch(func(r *ecs.RunInstancesRequest) { r.VSwitchId = "vsw-doesnotexist000000" }), 404, "InvalidVSwitchId.NotFound"},
		{"unknown group", launch(func(r *ecs.RunInstancesRequest) { r.SecurityGroupId = "sg-doesnotexist0000000" }), 404, "InvalidSecurityGroupId.NotFound"},
		{"bad name", launch(func(r *ecs.RunInstancesRequest) { r.InstanceName = "-web" }), 400, "InvalidInstanceName.Malformed"},
		// A dry run checks everything, then refuses and creates nothing.
		{"DryRun", launch(func(r *ecs.RunInstancesRequest) { r.DryRun, r.Amount = "true", "3" }), 400, "DryRunOperation"},
		{"delete a vSwitch in use", func() error {
			r := vpc.CreateDeleteVSwitchRequest()
			r.VSwitchId = n.vsw
			_, err := e.vpc.DeleteVSwitch(r)
			return err
		}, 400, "DependencyViolation"},
		{"start an unknown instance", func() error {
			r := ecs.CreateStartInstanceRequest()
			r.InstanceId = "i-doesnotexist00000000"
			_, err := c.StartInstance(r)
			return err
		}, 404, "InvalidInstanceId.NotFound"},
	})
}
