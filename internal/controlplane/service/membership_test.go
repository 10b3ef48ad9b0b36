package service

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"

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
