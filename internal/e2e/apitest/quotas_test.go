package apitest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// portRules returns n ingress rules from 10.0.0.0/8 on ports from, from+1, ...
func portRules(from, n int) []perm {
	out := make([]perm, n)
	for i := range out {
		p := from + i
		out[i] = cidrIngress("TCP", fmt.Sprintf("%d/%d", p, p), "10.0.0.0/8")
	}
	return out
}

// ruleCount is a group's RuleCount as DescribeSecurityGroups reports it.
func ruleCount(t testing.TB, c *ecs.Client, id string) (rules, groupRules int) {
	t.Helper()
	r := ecs.CreateDescribeSecurityGroupsRequest()
	r.SecurityGroupId = id
	g := must(c.DescribeSecurityGroups(r))(t).SecurityGroups.SecurityGroup[0]
	return g.RuleCount, g.GroupToGroupRuleCount
}

func TestRuleQuota(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	sg := createGroup(t, c, "full", v, "")

	noErr(t, authorize(c, sg, portRules(1, 100)...))
	noErr(t, authorize(c, sg, portRules(101, 50)...))
	// 150 + 60 > 200: refused as a whole, nothing of it lands.
	wantErr(t, authorize(c, sg, portRules(151, 60)...), 403, "AuthorizationLimitExceed")
	if n, _ := ruleCount(t, c, sg); n != 150 {
		t.Fatalf("RuleCount %d after a refused batch, want 150", n)
	}
	noErr(t, authorize(c, sg, portRules(151, 50)...))
	if n, _ := ruleCount(t, c, sg); n != 200 {
		t.Fatalf("RuleCount %d, want 200", n)
	}
	// Ingress and egress share the quota.
	wantErr(t, authorize(c, sg, portRules(1000, 1)...), 403, "AuthorizationLimitExceed")
	wantErr(t, egressErr(c, sg, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "1/1", DestCidrIp: "10.0.0.0/8"})(), 403, "AuthorizationLimitExceed")
	// Re-authorizing an existing rule adds nothing and is fine at the quota.
	noErr(t, authorize(c, sg, portRules(1, 1)...))
	if got := len(rules(t, c, sg, "")); got != 200 {
		t.Fatalf("%d rules, want 200", got)
	}

	// A prefix-list rule weighs the list's MaxEntries: with 195 rules a list
	// of 6 entries does not fit, a list of 5 does.
	rv := ecs.CreateRevokeSecurityGroupRequest()
	rv.SecurityGroupId = sg
	var drop []string
	for _, p := range rules(t, c, sg, "")[:5] {
		drop = append(drop, p.SecurityGroupRuleId)
	}
	rv.SecurityGroupRuleId = &drop
	must(c.RevokeSecurityGroup(rv))(t)
	prefixList := func(max string) string {
		r := ecs.CreateCreatePrefixListRequest()
		r.AddressFamily, r.MaxEntries, r.PrefixListName = "IPv4", requests.Integer(max), "pl-"+max
		return must(c.CreatePrefixList(r))(t).PrefixListId
	}
	six, five := prefixList("6"), prefixList("5")
	wantErr(t, authorize(c, sg, perm{IpProtocol: "TCP", PortRange: "443/443", SourcePrefixListId: six}), 403, "AuthorizationLimitExceed")
	noErr(t, authorize(c, sg, perm{IpProtocol: "TCP", PortRange: "443/443", SourcePrefixListId: five}))
	if n, _ := ruleCount(t, c, sg); n != 200 {
		t.Errorf("RuleCount %d with 195 rules and a 5-entry list, want 200", n)
	}
	if got := len(rules(t, c, sg, "")); got != 196 {
		t.Errorf("%d rules listed, want 196", got)
	}
}

func TestGroupPeerQuota(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	sg := createGroup(t, c, "hub", v, "")
	peer := createGroup(t, c, "spoke", v, "")
	var ps []perm
	for i := 1; i <= 20; i++ {
		ps = append(ps, perm{IpProtocol: "TCP", PortRange: fmt.Sprintf("%d/%d", i, i), SourceGroupId: peer})
	}
	noErr(t, authorize(c, sg, ps...))
	wantErr(t, authorize(c, sg, perm{IpProtocol: "TCP", PortRange: "21/21", SourceGroupId: peer}), 400, "AuthorizedGroupRule.LimitExceed")
	wantErr(t, egressErr(c, sg, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "TCP", PortRange: "21/21", DestGroupId: peer})(), 400, "AuthorizedGroupRule.LimitExceed")
	// CIDR rules are not limited by it.
	noErr(t, authorize(c, sg, portRules(21, 1)...))
	if n, g := ruleCount(t, c, sg); n != 21 || g != 20 {
		t.Errorf("RuleCount %d GroupToGroupRuleCount %d, want 21 and 20", n, g)
	}
}

func TestGroupsPerRegionQuota(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	// A region of its own, so the count is exact.
	const shanghai = "cn-shanghai"
	create := func(name string) (string, error) {
		r := ecs.CreateCreateSecurityGroupRequest()
		r.RegionId, r.SecurityGroupName = shanghai, name
		resp, err := c.CreateSecurityGroup(r)
		if err != nil {
			return "", err
		}
		return resp.SecurityGroupId, nil
	}
	var first string
	for i := range 100 {
		id, err := create(fmt.Sprintf("g%03d", i))
		if err != nil {
			t.Fatalf("group %d: %v", i+1, err)
		}
		if i == 0 {
			first = id
		}
	}
	_, err := create("one-too-many")
	wantErr(t, err, 403, "QuotaExceed.SecurityGroup")
	count := func(region string) int {
		r := ecs.CreateDescribeSecurityGroupsRequest()
		r.RegionId = region
		return must(c.DescribeSecurityGroups(r))(t).TotalCount
	}
	if n := count(shanghai); n != 100 {
		t.Errorf("%d groups in %s, want 100", n, shanghai)
	}
	// The quota is per region.
	createGroup(t, c, "elsewhere", "", "")
	if n := count(region); n != 1 {
		t.Errorf("%d groups in %s, want 1", n, region)
	}
	// Deleting one makes room for one.
	d := ecs.CreateDeleteSecurityGroupRequest()
	d.RegionId, d.SecurityGroupId = shanghai, first
	must(c.DeleteSecurityGroup(d))(t)
	if _, err := create("room-again"); err != nil {
		t.Errorf("create after a delete: %v", err)
	}
	_, err = create("again-too-many")
	wantErr(t, err, 403, "QuotaExceed.SecurityGroup")
}

func TestMembershipErrors(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	n := newNetwork(t, e, "10.0.0.0/16")
	var more []string
	for i := range 4 {
		more = append(more, createGroup(t, c, fmt.Sprintf("basic-%d", i), n.vpc, ""))
	}
	ent := createGroup(t, c, "ent", n.vpc, "enterprise")
	farVPC := createVPC(t, e.vpc, "10.1.0.0/16")
	far := createGroup(t, c, "far", farVPC, "")
	cl := createGroup(t, c, "classic", "", "")
	inst := runInstance(t, c, n.vsw, n.sgA)
	classicInst := runInstance(t, c, "", cl)

	snapshot := func(t testing.TB) string {
		t.Helper()
		return fmt.Sprint(instances(t, c, nil), groupsOf(t, c, inst), groupsOf(t, c, classicInst))
	}
	// join and leave name the NIC by instance ID, or by ENI ID (an
	// instance's primary ENI stands for the instance).
	nic := func(id string) (instance, eni string) {
		if strings.HasPrefix(id, "eni-") {
			return "", id
		}
		return id, ""
	}
	join := func(id, group string) func() error {
		return func() error {
			r := ecs.CreateJoinSecurityGroupRequest()
			r.InstanceId, r.NetworkInterfaceId = nic(id)
			r.SecurityGroupId = group
			_, err := c.JoinSecurityGroup(r)
			return err
		}
	}
	leave := func(id, group string) func() error {
		return func() error {
			r := ecs.CreateLeaveSecurityGroupRequest()
			r.InstanceId, r.NetworkInterfaceId = nic(id)
			r.SecurityGroupId = group
			_, err := c.LeaveSecurityGroup(r)
			return err
		}
	}
	primary := "eni-" + inst[len("i-"):]
	set := func(instance string, groups ...string) func() error {
		return func() error {
			r := ecs.CreateModifyInstanceAttributeRequest()
			r.InstanceId, r.SecurityGroupIds = instance, &groups
			_, err := c.ModifyInstanceAttribute(r)
			return err
		}
	}
	run := func(groups ...string) func() error {
		return func() error {
			r := ecs.CreateRunInstancesRequest()
			r.ImageId, r.InstanceType, r.VSwitchId = imageID, instanceType, n.vsw
			if len(groups) > 0 {
				r.SecurityGroupIds = &groups
			}
			_, err := c.RunInstances(r)
			return err
		}
	}
	six := append([]string{n.sgA, n.sgB}, more...)
	runErrCases(t, snapshot, []errCase{
		{"join a group of the other type", join(inst, ent), 400, "InvalidOperation.MultiGroupType"},
		{"join a group of another VPC", join(inst, far), 400, "InvalidInstanceId.Mismatch"},
		{"join a classic group", join(inst, cl), 400, "InvalidInstanceId.Mismatch"},
		{"join a group twice", join(inst, n.sgA), 403, "InvalidInstanceId.AlreadyExists"},
		{"join an unknown group", join(inst, "sg-doesnotexist0000000"), 404, "InvalidSecurityGroupId.NotFound"},
		{"join with an unknown instance", join("i-doesnotexist00000000", n.sgB), 404, "InvalidInstanceId.NotFound"},
		{"join by ENI", join("eni-doesnotexist000000", n.sgB), 404, "InvalidEniId.NotFound"},
		{"join by instance and ENI", func() error {
			r := ecs.CreateJoinSecurityGroupRequest()
			r.InstanceId, r.NetworkInterfaceId, r.SecurityGroupId = inst, "eni-x", n.sgB
			_, err := c.JoinSecurityGroup(r)
			return err
		}, 403, "InvalidParam.EniIdAndInstanceId.Conflict"},
		{"leave the last group", leave(inst, n.sgA), 403, "InstanceLastSecurityGroup"},
		{"leave a group it is not in", leave(inst, n.sgB), 400, "InvalidSecurityGroupAssociation.NotFound"},
		{"join a group of the other type by the primary ENI", join(primary, ent), 400, "InvalidOperation.MultiGroupType"},
		{"join a group of another VPC by the primary ENI", join(primary, far), 400, "InvalidInstanceId.Mismatch"},
		{"join a group twice by the primary ENI", join(primary, n.sgA), 403, "InvalidInstanceId.AlreadyExists"},
		{"leave the last group by the primary ENI", leave(primary, n.sgA), 403, "InstanceLastSecurityGroup"},
		{"leave a group it is not in by the primary ENI", leave(primary, n.sgB), 400, "InvalidSecurityGroupAssociation.NotFound"},
		{"set mixed types", set(inst, n.sgA, ent), 403, "EnterpriseGroupLimited.MutliGroupType"},
		{"set a group twice", set(inst, n.sgA, n.sgA), 404, "InvalidParameter.SecurityGroupIdRepeated"},
		{"set a group of another VPC", set(inst, n.sgA, far), 404, "InvalidSecurityGroupVpc.NotBelongToOneVpc"},
		{"set six groups", set(inst, six...), 400, "JoinedGroupLimitExceed"},
		{"set an unknown group", set(inst, n.sgA, "sg-doesnotexist0000000"), 404, "InvalidSecurityGroupId.NotFound"},
		{"set groups of a classic instance", set(classicInst, cl), 400, "InvalidNetworkType.NotSupported"},
		{"run with six groups", run(six...), 400, "JoinedGroupLimitExceed"},
		{"run with mixed types", run(n.sgA, ent), 403, "EnterpriseGroupLimited.MutliGroupType"},
		{"run a VPC instance in a classic group", run(cl), 400, "InvalidInstanceId.Mismatch"},
		{"run with a group twice", run(n.sgA, n.sgA), 404, "InvalidParameter.SecurityGroupIdRepeated"},
		{"run without a group", run(), 400, "MissingParameter"},
	})

	// Five groups through Join; the sixth is refused.
	for _, g := range append([]string{n.sgB}, more[:3]...) {
		noErr(t, join(inst, g)())
	}
	if g := groupsOf(t, c, inst); len(g) != 5 {
		t.Fatalf("groups after joining 4: %v", g)
	}
	wantErr(t, join(inst, more[3])(), 400, "InstanceSecurityGroupLimitExceeded")
	if g := groupsOf(t, c, inst); len(g) != 5 || strings.Contains(fmt.Sprint(g), more[3]) {
		t.Errorf("groups after a refused join: %v", g)
	}
	// Switching from all-basic to all-enterprise is allowed; then a basic
	// group cannot be joined.
	noErr(t, set(inst, ent)())
	if g := groupsOf(t, c, inst); len(g) != 1 || g[0] != ent {
		t.Fatalf("groups after switching to enterprise: %v", g)
	}
	wantErr(t, join(inst, n.sgA)(), 400, "InvalidOperation.MultiGroupType")
}
