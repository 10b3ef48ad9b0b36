package service

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestJoinAndLeave(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	a := e.group(CreateGroupInput{VpcID: vpc})
	b := e.group(CreateGroupInput{VpcID: vpc})
	ent := e.group(CreateGroupInput{VpcID: vpc, Type: model.Enterprise})
	inst := e.instance(vpc, a)
	// The actions take the instance's region: the caller needs none.
	c := Caller{Account: e.c.Account}
	m := func(group string) MembershipInput {
		return MembershipInput{Caller: c, InstanceID: inst, SecurityGroupID: group}
	}

	wantCode(t, e.s.LeaveSecurityGroup(e.ctx, m(a)), "InstanceLastSecurityGroup")
	wantCode(t, e.s.JoinSecurityGroup(e.ctx, m(ent)), "InvalidOperation.MultiGroupType")
	wantCode(t, e.s.JoinSecurityGroup(e.ctx, m(a)), "InvalidInstanceId.AlreadyExists")
	wantCode(t, e.s.JoinSecurityGroup(e.ctx, MembershipInput{Caller: c, NetworkInterfaceID: "eni-1", SecurityGroupID: b}), "InvalidEniId.NotFound")
	wantCode(t, e.s.JoinSecurityGroup(e.ctx, m(b)), "")
	wantCode(t, e.s.LeaveSecurityGroup(e.ctx, m(a)), "")
	wantCode(t, e.s.LeaveSecurityGroup(e.ctx, m(a)), "InvalidSecurityGroupAssociation.NotFound")
	got, err := View(e.s, e.ctx, func(tx store.ReadTx) (*model.Instance, error) { return GetInstance(tx, c, inst) })
	wantCode(t, err, "")
	if len(got.SecurityGroups) != 1 || got.SecurityGroups[0] != b {
		t.Fatalf("groups %v, want [%s]", got.SecurityGroups, b)
	}
}

// TestMembershipByPrimaryENI: Join and Leave by an instance's primary ENI
// are Join and Leave of the instance, with the same checks and the same
// ECS errors (the ENI form skipped the status check and answered the VPC
// and last-group refusals with other codes).
func TestMembershipByPrimaryENI(t *testing.T) {
	e := newEnv(t)
	vpc, far := e.vpc(), e.vpc()
	a := e.group(CreateGroupInput{VpcID: vpc})
	b := e.group(CreateGroupInput{VpcID: vpc})
	ent := e.group(CreateGroupInput{VpcID: vpc, Type: model.Enterprise})
	elsewhere := e.group(CreateGroupInput{VpcID: far})
	running := e.instance(vpc, a)
	starting := model.Instance{ID: model.NewID("i"), Region: e.c.Region, Owner: e.c.Account, VpcID: vpc,
		PrivateIP: netip.MustParseAddr("192.168.1.11"), Status: model.StatusStarting, SecurityGroups: []string{a}}
	e.put(KindInstance, starting.ID, starting)
	c := Caller{Account: e.c.Account}
	groupsOf := func(inst string) []string {
		got, err := View(e.s, e.ctx, func(tx store.ReadTx) (*model.Instance, error) { return GetInstance(tx, c, inst) })
		wantCode(t, err, "")
		return got.SecurityGroups
	}
	for _, tc := range []struct {
		name        string
		inst, group string
		join        bool
		code        string
	}{
		{"join a group of another VPC", running, elsewhere, true, "InvalidInstanceId.Mismatch"},
		{"join a group of the other type", running, ent, true, "InvalidOperation.MultiGroupType"},
		{"join a group twice", running, a, true, "InvalidInstanceId.AlreadyExists"},
		{"join an unknown group", running, "sg-doesnotexist0000000", true, "InvalidSecurityGroupId.NotFound"},
		{"leave the last group", running, a, false, "InstanceLastSecurityGroup"},
		{"leave a group it is not in", running, b, false, "InvalidSecurityGroupAssociation.NotFound"},
		{"join while starting", starting.ID, b, true, "IncorrectInstanceStatus"},
		{"leave while starting", starting.ID, a, false, "IncorrectInstanceStatus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			do := e.s.LeaveSecurityGroup
			if tc.join {
				do = e.s.JoinSecurityGroup
			}
			before := groupsOf(tc.inst)
			byInstance := do(e.ctx, MembershipInput{Caller: c, InstanceID: tc.inst, SecurityGroupID: tc.group})
			byENI := do(e.ctx, MembershipInput{Caller: c, NetworkInterfaceID: model.DerivedID("eni", tc.inst), SecurityGroupID: tc.group})
			wantCode(t, byInstance, tc.code)
			wantCode(t, byENI, tc.code)
			if x, y := ecserr.As(byInstance), ecserr.As(byENI); x.Status != y.Status {
				t.Errorf("HTTP %d by instance, %d by its primary ENI", x.Status, y.Status)
			}
			if after := groupsOf(tc.inst); !slices.Equal(after, before) {
				t.Errorf("groups %v after a refused call, were %v", after, before)
			}
		})
	}
	wantCode(t, e.s.JoinSecurityGroup(e.ctx, MembershipInput{Caller: c, NetworkInterfaceID: model.DerivedID("eni", running), SecurityGroupID: b}), "")
	wantCode(t, e.s.LeaveSecurityGroup(e.ctx, MembershipInput{Caller: c, NetworkInterfaceID: model.DerivedID("eni", running), SecurityGroupID: a}), "")
	if got := groupsOf(running); !slices.Equal(got, []string{b}) {
		t.Errorf("groups %v after joining and leaving by the primary ENI, want [%s]", got, b)
	}
}

// TestNICRuleQuotaWeighsPortLists: a NIC's rule total counts a rule naming
// a port range list as the list's MaxEntries on every path that changes a
// NIC's groups, as the group quota does. Five groups within their quota
// cannot pass 1,000, so one group is stored over it (as state from before
// a quota change would be).
func TestNICRuleQuotaWeighsPortLists(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	prl := model.PortRangeList{ID: model.NewID("prl"), Region: e.c.Region, Owner: e.c.Account, Name: "wide", MaxEntries: 200,
		Entries: []model.PortEntry{{Range: model.PortRange{Start: 80, End: 80}}}}
	e.put(KindPortRangeList, prl.ID, prl)
	var groups []string
	for i := range 5 {
		id := e.group(CreateGroupInput{VpcID: vpc})
		g := e.load(id)
		g.Rules = append(g.Rules, model.Rule{ID: model.NewID("sgr"), Direction: model.Ingress, Policy: model.Accept, Priority: 1,
			Protocol: model.TCP, PortRangeListID: prl.ID, Peer: model.Peer{CIDR: netip.MustParsePrefix("10.0.0.0/8")}})
		if i == 4 { // 201
			g.Rules = append(g.Rules, model.Rule{ID: model.NewID("sgr"), Direction: model.Ingress, Policy: model.Accept, Priority: 1,
				Protocol: model.UDP, PortRange: model.PortRange{Start: 53, End: 53}, Peer: model.Peer{CIDR: netip.MustParsePrefix("10.0.0.0/8")}})
		}
		e.put(KindGroup, id, g)
		groups = append(groups, id)
	}
	inst := e.instance(vpc, groups[0])
	for _, g := range groups[1:4] {
		wantCode(t, e.s.JoinSecurityGroup(e.ctx, MembershipInput{Caller: e.c, InstanceID: inst, SecurityGroupID: g}), "")
	}
	wantCode(t, e.s.JoinSecurityGroup(e.ctx, MembershipInput{Caller: e.c, InstanceID: inst, SecurityGroupID: groups[4]}), "AclLimitExceed")

	n := model.NetworkInterface{ID: model.NewID("eni"), Region: e.c.Region, Owner: e.c.Account, VpcID: vpc, Type: model.ENISecondary,
		Status: model.ENIAvailable, PrivateIP: netip.MustParseAddr("192.168.1.20"), SecurityGroups: groups[:4]}
	e.put(KindENI, n.ID, n)
	wantCode(t, e.s.JoinSecurityGroup(e.ctx, MembershipInput{Caller: e.c, NetworkInterfaceID: n.ID, SecurityGroupID: groups[4]}), "AclLimitExceed")
	wantCode(t, e.s.ModifyNetworkInterfaceAttribute(e.ctx, ModifyENIInput{Caller: e.c, NetworkInterfaceID: n.ID, SecurityGroupIDs: groups}), "AclLimitExceed")
	wantCode(t, e.s.ModifyInstanceAttribute(e.ctx, ModifyInstanceInput{Caller: e.c, InstanceID: inst, SecurityGroupIDs: groups}), "AclLimitExceed")
}

// TestMembershipErrorsByAction: the refusals of a group change carry the
// code and status the ECS action documents for them: JoinSecurityGroup by
// a secondary ENI answers as by an instance (400
// InvalidOperation.MultiGroupType, 403 SecurityGroupInstanceLimitExceeded),
// ModifyInstanceAttribute with a full group 403
// SecurityGroupInstanceLimitExceed (no trailing d); none changes anything.
func TestMembershipErrorsByAction(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	a := e.group(CreateGroupInput{VpcID: vpc})
	full := e.group(CreateGroupInput{VpcID: vpc})
	ent := e.group(CreateGroupInput{VpcID: vpc, Type: model.Enterprise})
	inst := e.instance(vpc, a)
	n := model.NetworkInterface{ID: model.NewID("eni"), Region: e.c.Region, Owner: e.c.Account, VpcID: vpc, Type: model.ENISecondary,
		Status: model.ENIAvailable, PrivateIP: netip.MustParseAddr("192.168.1.20"), SecurityGroups: []string{a}}
	e.put(KindENI, n.ID, n)
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		for range model.MaxGroupMembers {
			m := model.Instance{ID: model.NewID("i"), Region: e.c.Region, Owner: e.c.Account, VpcID: vpc,
				PrivateIP: netip.MustParseAddr("192.168.2.10"), Status: model.StatusRunning, SecurityGroups: []string{full}}
			if err := store.PutAs(tx, KindInstance, m.ID, e.c.Account, e.c.Region, m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	groups := func() (ofInst, ofENI []string) {
		got, err := View(e.s, e.ctx, func(tx store.ReadTx) ([2][]string, error) {
			i, err := GetInstance(tx, e.c, inst)
			if err != nil {
				return [2][]string{}, err
			}
			m, err := GetENI(tx, e.c, n.ID)
			if err != nil {
				return [2][]string{}, err
			}
			return [2][]string{i.SecurityGroups, m.SecurityGroups}, nil
		})
		wantCode(t, err, "")
		return got[0], got[1]
	}
	join := func(nic, group string) func() error {
		in := MembershipInput{Caller: e.c, InstanceID: nic, SecurityGroupID: group}
		if nic == n.ID {
			in = MembershipInput{Caller: e.c, NetworkInterfaceID: nic, SecurityGroupID: group}
		}
		return func() error { return e.s.JoinSecurityGroup(e.ctx, in) }
	}
	for _, tc := range []struct {
		name   string
		do     func() error
		status int
		code   string
	}{
		{"ENI joins a group of the other type", join(n.ID, ent), 400, "InvalidOperation.MultiGroupType"},
		{"ENI joins a full group", join(n.ID, full), 403, "SecurityGroupInstanceLimitExceeded"},
		{"instance joins a full group", join(inst, full), 403, "SecurityGroupInstanceLimitExceeded"},
		{"instance set with a full group", func() error {
			return e.s.ModifyInstanceAttribute(e.ctx, ModifyInstanceInput{Caller: e.c, InstanceID: inst, SecurityGroupIDs: []string{a, full}})
		}, 403, "SecurityGroupInstanceLimitExceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bi, be := groups()
			err := tc.do()
			wantCode(t, err, tc.code)
			if got := ecserr.As(err).Status; got != tc.status {
				t.Errorf("HTTP %d, want %d", got, tc.status)
			}
			if ai, ae := groups(); !slices.Equal(ai, bi) || !slices.Equal(ae, be) {
				t.Errorf("groups of the instance %v and the ENI %v after a refused call, were %v and %v", ai, ae, bi, be)
			}
		})
	}
}
