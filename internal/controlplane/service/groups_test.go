package service

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestCreateSecurityGroup(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	tests := []struct {
		name   string
		in     CreateGroupInput
		code   string
		policy string
	}{
		{"basic", CreateGroupInput{VpcID: vpc, Name: "web"}, "", model.InnerAccept},
		{"classic basic", CreateGroupInput{}, "", model.InnerAccept},
		{"enterprise in any case", CreateGroupInput{VpcID: vpc, Type: "Enterprise"}, "", model.InnerDrop},
		{"enterprise without VPC", CreateGroupInput{Type: model.Enterprise}, "InvalidParams.VpcIdGroupType", ""},
		{"unknown VPC", CreateGroupInput{VpcID: "vpc-nothere"}, "InvalidVpcId.NotFound", ""},
		{"bad name", CreateGroupInput{Name: "1web"}, "InvalidSecurityGroupName.Malformed", ""},
		{"bad tag", CreateGroupInput{Tags: []model.Tag{{Key: "aliyun:x"}}}, "InvalidTagKey.Malformed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Caller = e.c
			res, err := e.s.CreateSecurityGroup(e.ctx, tt.in)
			wantCode(t, err, tt.code)
			if err == nil {
				if g := e.load(res.SecurityGroupId); g.InnerAccessPolicy != tt.policy {
					t.Fatalf("policy %s, want %s", g.InnerAccessPolicy, tt.policy)
				}
			}
		})
	}
}

func TestCreateSecurityGroupClientToken(t *testing.T) {
	e := newEnv(t)
	in := CreateGroupInput{Caller: e.c, Name: "web", Idempotency: Idempotency{ClientToken: "t-1"}}
	first, err := e.s.CreateSecurityGroup(e.ctx, in)
	wantCode(t, err, "")
	again, err := e.s.CreateSecurityGroup(e.ctx, in)
	wantCode(t, err, "")
	if again != first {
		t.Fatalf("a retry made %s, want %s", again.SecurityGroupId, first.SecurityGroupId)
	}
	// Without a Fingerprint the input itself says what "the same" is.
	in.Name = "db"
	_, err = e.s.CreateSecurityGroup(e.ctx, in)
	wantCode(t, err, "IdempotentParameterMismatch")
	in.ClientToken = string(make([]byte, MaxClientToken+1))
	_, err = e.s.CreateSecurityGroup(e.ctx, in)
	wantCode(t, err, "InvalidClientToken.Malformed")
}

func TestDescribeAndModifyGroups(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	basic := e.group(CreateGroupInput{VpcID: vpc, Name: "web", Tags: []model.Tag{{Key: "env", Value: "prod"}}})
	ent := e.group(CreateGroupInput{VpcID: vpc, Type: model.Enterprise})
	e.instance(vpc, basic)

	list := func(in DescribeGroupsInput) []string {
		t.Helper()
		in.Caller, in.Page = e.c, Page{Number: 1, Size: 10}
		res, err := e.s.DescribeSecurityGroups(e.ctx, in)
		wantCode(t, err, "")
		var ids []string
		for _, g := range res.Items {
			ids = append(ids, g.Group.ID)
			if g.Group.ID == basic && (g.Members != 1 || g.AvailableInstanceAmount != model.MaxGroupMembers-1) {
				t.Errorf("basic group: %d members, %d available", g.Members, g.AvailableInstanceAmount)
			}
		}
		return ids
	}
	if got := list(DescribeGroupsInput{}); len(got) != 2 {
		t.Fatalf("all groups: %v", got)
	}
	if got := list(DescribeGroupsInput{Type: "ENTERPRISE"}); len(got) != 1 || got[0] != ent {
		t.Fatalf("enterprise groups: %v", got)
	}
	if got := list(DescribeGroupsInput{Tags: []model.Tag{{Key: "env"}}}); len(got) != 1 || got[0] != basic {
		t.Fatalf("groups tagged env: %v", got)
	}
	_, err := e.s.DescribeSecurityGroups(e.ctx, DescribeGroupsInput{Caller: e.c, DryRun: true})
	wantCode(t, err, "DryRunOperation")

	name := "web-2"
	wantCode(t, e.s.ModifySecurityGroupAttribute(e.ctx, ModifyGroupInput{Caller: e.c, SecurityGroupID: basic, Name: &name}), "")
	if g := e.load(basic); g.Name != name || g.Description != "" {
		t.Fatalf("after rename: %q %q", g.Name, g.Description)
	}
	wantCode(t, e.s.ModifySecurityGroupPolicy(e.ctx, GroupPolicyInput{Caller: e.c, SecurityGroupID: basic, InnerAccessPolicy: "drop"}), "")
	if g := e.load(basic); g.InnerAccessPolicy != model.InnerDrop {
		t.Fatalf("policy %s after the change", g.InnerAccessPolicy)
	}
	wantCode(t, e.s.ModifySecurityGroupPolicy(e.ctx, GroupPolicyInput{Caller: e.c, SecurityGroupID: ent, InnerAccessPolicy: "Drop"}), "InvalidParameter.InnerAccessPolicy")
	wantCode(t, e.s.ModifySecurityGroupPolicy(e.ctx, GroupPolicyInput{Caller: e.c, SecurityGroupID: basic}), "MissingParameter")

	// A group with members, or named by another group's rule, stays.
	wantCode(t, e.s.DeleteSecurityGroup(e.ctx, GroupRef{Caller: e.c, SecurityGroupID: basic}), "DependencyViolation")
	peer := e.group(CreateGroupInput{VpcID: vpc})
	wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: peer, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourceGroupId: basic}}}), "")
	refs, err := e.s.DescribeSecurityGroupReferences(e.ctx, e.c, []string{basic})
	wantCode(t, err, "")
	if len(refs) != 1 || len(refs[0].Referencing) != 1 || refs[0].Referencing[0].SecurityGroupID != peer {
		t.Fatalf("references %+v", refs)
	}
	wantCode(t, e.s.DeleteSecurityGroup(e.ctx, GroupRef{Caller: e.c, SecurityGroupID: ent}), "")
	wantCode(t, e.s.DeleteSecurityGroup(e.ctx, GroupRef{Caller: e.c, SecurityGroupID: ent}), "InvalidSecurityGroupId.NotFound")
}
