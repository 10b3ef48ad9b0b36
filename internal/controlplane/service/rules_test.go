package service

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

func TestRulesLifecycle(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	ssh := model.RuleInput{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}
	web := model.RuleInput{IpProtocol: "tcp", PortRange: "80/80", SourceCidrIp: "0.0.0.0/0", Policy: "drop", Priority: "5"}
	rules := func(in RulesInput) RulesInput {
		in.Caller, in.SecurityGroupID = e.c, sg
		if in.Direction == "" {
			in.Direction = model.Ingress
		}
		return in
	}

	for _, tt := range []struct {
		name string
		in   RulesInput
		code string
	}{
		{"none", RulesInput{}, "MissingParameter"},
		{"too many", RulesInput{Permissions: make([]model.RuleInput, model.MaxPermissionsPerAPI+1)}, "InvalidParam.Permissions"},
		{"repeated", RulesInput{Permissions: []model.RuleInput{ssh, ssh}}, "InvalidParam.DuplicatePermissions"},
		{"bad priority", RulesInput{Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "1/1", SourceCidrIp: "10.0.0.0/8", Priority: "101"}}}, "InvalidPriority.ValueNotSupported"},
		{"two", RulesInput{Permissions: []model.RuleInput{ssh, web}}, ""},
		{"again adds nothing", RulesInput{Permissions: []model.RuleInput{ssh}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, e.s.Authorize(e.ctx, rules(tt.in)), tt.code) })
	}
	g := e.load(sg)
	if len(g.Rules) != 2 {
		t.Fatalf("%d rules, want 2", len(g.Rules))
	}
	attr, err := e.s.DescribeSecurityGroupAttribute(e.ctx, GroupAttributeInput{Caller: e.c, SecurityGroupID: sg, Page: Page{Tokens: true, Size: 10}})
	wantCode(t, err, "")
	// Priority 5 drop sorts after priority 1 accept.
	if len(attr.Rules) != 2 || attr.Rules[0].PortRange.String() != "22/22" {
		t.Fatalf("described rules %+v", attr.Rules)
	}

	// Modify by ID: the port changes, the ID stays.
	id := g.Rules[0].ID
	wantCode(t, e.s.ModifyRule(e.ctx, ModifyRuleInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress, RuleID: id,
		Changes: model.RuleInput{PortRange: "2222/2222"}}), "")
	wantCode(t, e.s.ModifyRule(e.ctx, ModifyRuleInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress, RuleID: id,
		Changes: model.RuleInput{SourcePrefixListId: "pl-x"}}), "InvalidOperation.ModifySgRuleEntityType")
	if r := e.load(sg).Rules[0]; r.ID != id || r.PortRange.String() != "2222/2222" {
		t.Fatalf("after modify: %s %s", r.ID, r.PortRange)
	}

	// Revoke by ID or by fields, not both; a missing one is an error.
	wantCode(t, e.s.Revoke(e.ctx, rules(RulesInput{RuleIDs: []string{id}, Permissions: []model.RuleInput{web}})), "InvalidParam.Permissions")
	wantCode(t, e.s.Revoke(e.ctx, rules(RulesInput{RuleIDs: []string{id}, Direction: model.Egress})), "InvalidSecurityGroupRuleId.NotFound")
	wantCode(t, e.s.Revoke(e.ctx, rules(RulesInput{RuleIDs: []string{id}})), "")
	wantCode(t, e.s.Revoke(e.ctx, rules(RulesInput{Permissions: []model.RuleInput{web}})), "")
	wantCode(t, e.s.Revoke(e.ctx, rules(RulesInput{Permissions: []model.RuleInput{web}})), "InvalidSecurityGroupRule.RuleNotExist")
	if n := len(e.load(sg).Rules); n != 0 {
		t.Fatalf("%d rules left", n)
	}
	e.s.LenientRevoke = true
	wantCode(t, e.s.Revoke(e.ctx, rules(RulesInput{Permissions: []model.RuleInput{web}})), "")
}

// TestModifyLegacyRule: a rule stored before the canonical form was
// enforced (a CIDR with host bits, a description with a control character)
// can still be modified; the change stores it in the canonical form.
func TestModifyLegacyRule(t *testing.T) {
	e := newEnv(t)
	sg := e.group(CreateGroupInput{VpcID: e.vpc()})
	g := e.load(sg)
	r, _, perr := model.ParseRule(model.Ingress, model.RuleInput{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}, false)
	if perr != nil {
		t.Fatal(perr)
	}
	r.ID, r.Peer.CIDRText, r.Description = model.NewID("sgr"), "10.1.2.3/8", "old\x1bdesc"
	g.Rules = append(g.Rules, r)
	e.put(KindGroup, sg, g)
	wantCode(t, e.s.ModifyRule(e.ctx, ModifyRuleInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress, RuleID: r.ID,
		Changes: model.RuleInput{PortRange: "2222/2222"}}), "")
	got := e.load(sg).Rules[0]
	if got.PortRange.String() != "2222/2222" || got.Peer.CIDRText != "10.0.0.0/8" || got.Description != "" {
		t.Fatalf("after modify: %+v", got)
	}
}

// sameKey is Key equality, for rules that differ in each part of the key
// or only in what the key leaves out (description).
func TestSameKey(t *testing.T) {
	specs := []string{
		"in accept 1 TCP 22/22 10.0.0.0/8", "in accept 1 TCP 22/22 10.0.0.1", "in accept 1 TCP 22/23 10.0.0.0/8",
		"in accept 1 TCP 22/22 10.0.0.0/8 desc=other", "out accept 1 TCP 22/22 10.0.0.0/8", "in drop 1 TCP 22/22 10.0.0.0/8",
		"in accept 2 TCP 22/22 10.0.0.0/8", "in accept 1 UDP 22/22 10.0.0.0/8", "in accept 1 ICMP -1/-1 10.0.0.0/8",
		"in accept 1 ALL -1/-1 10.0.0.0/8", "in accept 1 TCP 22/22 sg-peer", "in accept 1 TCP 22/22 pl-list",
		"in accept 1 TCP 22/22 2001:db8::/32", "in accept 1 TCP 1/22 10.0.0.0/8", "in accept 1 TCP 22/22 192.0.2.0/24",
	}
	var rules []model.Rule
	for i, s := range specs {
		rules = append(rules, modeltest.Rule(fmt.Sprint("sgr-", i), s))
	}
	for i := range rules {
		for j := range rules {
			o, r := &rules[i], &rules[j]
			if got, want := sameKey(o, r, r.Key()), o.Key() == r.Key(); got != want {
				t.Errorf("sameKey(%s, %s) = %v, want %v", specs[i], specs[j], got, want)
			}
		}
	}
}

// TestAuthorizeNICQuotaEverySet: an Authorize counts the NIC-wide rule
// total of each distinct group set among its group's members (members
// with a set already counted are not counted again), and refuses naming
// the first NIC over the limit, whichever set it has. Five groups within
// their quota cannot pass 1,000, so one is stored over it.
func TestAuthorizeNICQuotaEverySet(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	prl := model.PortRangeList{ID: model.NewID("prl"), Region: e.c.Region, Owner: e.c.Account, Name: "wide", MaxEntries: 200,
		Entries: []model.PortEntry{{Range: model.PortRange{Start: 80, End: 80}}}}
	e.put(KindPortRangeList, prl.ID, prl)
	var groups []string
	for i := range 5 { // groups[0] empty, the others 200, groups[4] 201
		id := e.group(CreateGroupInput{VpcID: vpc})
		g := e.load(id)
		if i > 0 {
			g.Rules = append(g.Rules, model.Rule{ID: model.NewID("sgr"), Direction: model.Ingress, Policy: model.Accept, Priority: 1,
				Protocol: model.TCP, PortRangeListID: prl.ID, Peer: model.Peer{CIDR: netip.MustParsePrefix("10.0.0.0/8")}})
		}
		if i == 4 {
			g.Rules = append(g.Rules, model.Rule{ID: model.NewID("sgr"), Direction: model.Ingress, Policy: model.Accept, Priority: 1,
				Protocol: model.UDP, PortRange: model.PortRange{Start: 53, End: 53}, Peer: model.Peer{CIDR: netip.MustParsePrefix("10.0.0.0/8")}})
		}
		e.put(KindGroup, id, g)
		groups = append(groups, id)
	}
	member := func(id string, groups ...string) {
		e.put(KindInstance, id, model.Instance{ID: id, Region: e.c.Region, Owner: e.c.Account, VpcID: vpc,
			PrivateIP: netip.MustParseAddr("192.168.1.10"), Status: model.StatusRunning, SecurityGroups: groups})
	}
	// In ID order: sets {0}, {0,1} twice, {0}, then all five at 801.
	member("i-a0", groups[0])
	member("i-b01", groups[0], groups[1])
	member("i-c01", groups[0], groups[1])
	member("i-d0", groups[0])
	member("i-zall", groups...)
	listed := []model.RuleInput{{IpProtocol: "TCP", PortRangeListId: prl.ID, SourceCidrIp: "192.0.2.0/24", Policy: "accept", Priority: "1"}}
	authorize := func() error {
		return e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: groups[0], Direction: model.Ingress, Permissions: listed})
	}
	// 200 more: 400 for the {0,1} NICs, 1,001 for i-zall.
	err := authorize()
	wantCode(t, err, "AclLimitExceed")
	if err != nil && !strings.Contains(err.Error(), "i-zall") {
		t.Errorf("%v, want it to name i-zall", err)
	}
	// With i-zall in a smaller set, it passes.
	member("i-zall", groups[0], groups[2])
	wantCode(t, authorize(), "")
}

// TestDescribeAttributePages: every page of a group's rules, with every
// direction filter and page size, read from the view (ReadOnly) or a
// copy, is the slice of the whole sorted listing at its offset, with the
// next page's token exactly when rules remain; each rule's Index is its
// place in the answer's Group.
func TestDescribeAttributePages(t *testing.T) {
	e := newEnv(t)
	sg := e.group(CreateGroupInput{VpcID: e.vpc()})
	for i := range 13 {
		in := RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress, Permissions: []model.RuleInput{{IpProtocol: "tcp",
			PortRange: fmt.Sprintf("%d/%d", 100+i, 100+i), SourceCidrIp: "10.0.0.0/8", Priority: fmt.Sprint(1 + i%3*7), Policy: []string{"accept", "drop"}[i%2]}}}
		if i%3 == 0 {
			in.Direction = model.Egress
			in.Permissions[0].SourceCidrIp, in.Permissions[0].DestCidrIp = "", "10.1.0.0/16"
		}
		wantCode(t, e.s.Authorize(e.ctx, in), "")
	}
	shared := 0 // answers read from the view's group
	for _, dir := range []string{"", "ingress", "EGRESS"} {
		all, err := e.s.DescribeSecurityGroupAttribute(e.ctx, GroupAttributeInput{Caller: e.c, SecurityGroupID: sg, Direction: dir, Page: Page{Size: 1000}})
		wantCode(t, err, "")
		if want := map[string]int{"": 13, "ingress": 8, "EGRESS": 5}[dir]; len(all.Rules) != want {
			t.Fatalf("%q: %d rules, want %d", dir, len(all.Rules), want)
		}
		for i := 1; i < len(all.Rules); i++ {
			if compareRules(&all.Rules[i-1].Rule, &all.Rules[i].Rule) > 0 {
				t.Fatalf("%q: rule %d sorts before rule %d", dir, i, i-1)
			}
		}
		for _, readOnly := range []bool{false, true} {
			for _, size := range []int{1, 3, 5, 13, 1000} {
				for off := 0; off <= len(all.Rules)+1; off++ {
					got, err := e.s.DescribeSecurityGroupAttribute(e.ctx, GroupAttributeInput{Caller: e.c, SecurityGroupID: sg, Direction: dir,
						Page: Page{Tokens: true, Offset: off, Size: size}, ReadOnly: readOnly})
					wantCode(t, err, "")
					lo, hi := min(off, len(all.Rules)), min(off+size, len(all.Rules))
					next := ""
					if hi < len(all.Rules) && off < len(all.Rules) {
						next = fmt.Sprint(hi)
					}
					if got.Rules == nil || len(got.Rules) != hi-lo || got.NextToken != next {
						t.Fatalf("%q readOnly=%v size %d offset %d: %d rules, next %q; want %d, %q", dir, readOnly, size, off, len(got.Rules), got.NextToken, hi-lo, next)
					}
					shared += map[bool]int{true: 1}[got.Memo != nil]
					if got.Memo != nil && !readOnly {
						t.Fatalf("a copy of the group came with its record's memo")
					}
					for i, v := range got.Rules {
						if v.ID != all.Rules[lo+i].ID || got.Group.Rules[v.Index].ID != v.ID {
							t.Fatalf("%q readOnly=%v size %d offset %d: rule %d is %s (index %d), want %s", dir, readOnly, size, off, i, v.ID, v.Index, all.Rules[lo+i].ID)
						}
					}
				}
			}
		}
	}
	if shared == 0 {
		t.Error("no ReadOnly answer was read from the view's group")
	}
}

// TestPeerNameOtherAccount: a rule may name a group without its owner
// (imported, or stored before owners were); when that group is another
// account's, its name is that tenant's data and stays out of the answer.
func TestPeerNameOtherAccount(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	mine := e.group(CreateGroupInput{VpcID: vpc, Name: "mine"})
	const theirs, other = "sg-theirs0000000000", "1000000000000002"
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		return store.PutAs(tx, KindGroup, theirs, other, e.c.Region,
			model.SecurityGroup{ID: theirs, Region: e.c.Region, Owner: other, Name: "their-secret", Type: model.Normal, VpcID: "vpc-theirs"})
	}); err != nil {
		t.Fatal(err)
	}
	g := e.load(mine)
	g.Rules = append(g.Rules,
		model.Rule{ID: "sgr-noowner", Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.ALL,
			Peer: model.Peer{GroupID: theirs}, NicType: model.Intranet},
		model.Rule{ID: "sgr-mine", Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.ALL,
			Peer: model.Peer{GroupID: mine}, NicType: model.Intranet})
	e.put(KindGroup, mine, *g)
	for _, readOnly := range []bool{false, true} {
		got, err := e.s.DescribeSecurityGroupAttribute(e.ctx, GroupAttributeInput{Caller: e.c, SecurityGroupID: mine, Page: Page{Size: 100}, ReadOnly: readOnly})
		wantCode(t, err, "")
		names := map[string]string{}
		for _, v := range got.Rules {
			names[v.ID] = v.PeerGroupName
		}
		if names["sgr-noowner"] != "" || names["sgr-mine"] != "mine" {
			t.Errorf("readOnly=%v: peer names %v; want none for another account's group, %q for ours", readOnly, names, "mine")
		}
	}
}

// TestRevokeRepeatedPermissions: a Revoke naming one rule twice in its
// Permissions is refused with 400 InvalidParam.DuplicatePermissions, as
// Authorize is (reference 3.9), however the two are spelled, and removes
// nothing.
func TestRevokeRepeatedPermissions(t *testing.T) {
	e := newEnv(t)
	sg := e.group(CreateGroupInput{VpcID: e.vpc()})
	ssh := model.RuleInput{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}
	sshSpelled := model.RuleInput{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8", Policy: "Accept", Priority: "1", Description: "other"}
	web := model.RuleInput{IpProtocol: "tcp", PortRange: "80/80", SourceCidrIp: "0.0.0.0/0"}
	wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress, Permissions: []model.RuleInput{ssh, web}}), "")
	for _, tt := range []struct {
		name  string
		perms []model.RuleInput
		code  string
	}{
		{"the same rule twice", []model.RuleInput{ssh, web, ssh}, "InvalidParam.DuplicatePermissions"},
		{"the same rule spelled two ways", []model.RuleInput{ssh, sshSpelled}, "InvalidParam.DuplicatePermissions"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := e.s.Revoke(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress, Permissions: tt.perms})
			wantCode(t, err, tt.code)
			if got := ecserr.As(err).Status; got != 400 {
				t.Errorf("HTTP %d, want 400", got)
			}
			if n := len(e.load(sg).Rules); n != 2 {
				t.Errorf("%d rules after a refused revoke, want 2", n)
			}
		})
	}
}
