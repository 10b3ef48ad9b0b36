package service

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestDescribeGroupsFollowChanges: what a listing derives from a group once
// per revision (its counts, memoised on the view's record) follows every
// change to the group, and what it reads from other records (members, a
// list's capacity) is read per call; on the unfiltered, the one-filter and
// the filtered path alike.
func TestDescribeGroupsFollowChanges(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	g := e.group(CreateGroupInput{VpcID: vpc, Name: "web"})
	peer := e.group(CreateGroupInput{VpcID: vpc, Name: "peer"})
	seven := 7
	pl, err := e.s.CreatePrefixList(e.ctx, CreatePrefixListInput{Caller: e.c, Name: "office", AddressFamily: "ipv4", MaxEntries: &seven})
	wantCode(t, err, "")
	authorize := func(r model.RuleInput) func() {
		return func() {
			wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: g, Direction: model.Ingress, Permissions: []model.RuleInput{r}}), "")
		}
	}
	name := "web"
	for _, step := range []struct {
		name                  string
		change                func()
		rules, peers, members int
	}{
		{"new", nil, 0, 0, 0},
		{"a CIDR rule", authorize(model.RuleInput{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}), 1, 0, 0},
		{"a group rule", authorize(model.RuleInput{IpProtocol: "tcp", PortRange: "80/80", SourceGroupId: peer}), 2, 1, 0},
		{"a prefix list rule weighs its capacity", authorize(model.RuleInput{IpProtocol: "tcp", PortRange: "443/443", SourcePrefixListId: pl.PrefixListId}), 2 + 7, 1, 0},
		{"a member", func() { e.instance(vpc, g) }, 9, 1, 1},
		{"renamed", func() {
			name = "db"
			wantCode(t, e.s.ModifySecurityGroupAttribute(e.ctx, ModifyGroupInput{Caller: e.c, SecurityGroupID: g, Name: &name}), "")
		}, 9, 1, 1},
		{"another member", func() { e.instance(vpc, g, peer) }, 9, 1, 2},
	} {
		if step.change != nil {
			step.change()
		}
		for _, path := range []struct {
			name string
			in   DescribeGroupsInput
		}{
			{"unfiltered", DescribeGroupsInput{}},
			{"VPC", DescribeGroupsInput{VpcID: vpc}},
			{"VPC and type", DescribeGroupsInput{VpcID: vpc, Type: model.Normal}},
		} {
			in := path.in
			in.Caller, in.Page = e.c, Page{Number: 1, Size: 10}
			l, err := e.s.DescribeSecurityGroups(e.ctx, in)
			wantCode(t, err, "")
			found := false
			for _, s := range l.Items {
				if s.Group.ID != g {
					continue
				}
				found = true
				if s.Group.Name != name || s.RuleCount != step.rules || s.PeerRules != step.peers || s.Members != step.members ||
					s.AvailableInstanceAmount != model.MaxGroupMembers-step.members {
					t.Errorf("%s, %s: %s with %d rules (%d peer), %d members (%d more), want %s with %d (%d), %d", step.name, path.name,
						s.Group.Name, s.RuleCount, s.PeerRules, s.Members, s.AvailableInstanceAmount, name, step.rules, step.peers, step.members)
				}
			}
			if !found {
				t.Errorf("%s, %s: %s not listed", step.name, path.name, g)
			}
		}
	}
}
