package model_test

import (
	"fmt"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

func TestCheckGroupPeer(t *testing.T) {
	basicA, basicA2 := modeltest.Group("sg-a", "vpc-a", "basic"), modeltest.Group("sg-a2", "vpc-a", "isolated")
	basicB := modeltest.Group("sg-b", "vpc-b", "basic")
	ent := modeltest.Group("sg-e", "vpc-a", "enterprise")
	classic, classic2 := modeltest.Group("sg-c", "", "basic"), modeltest.Group("sg-c2", "", "basic")
	for _, tc := range []struct {
		name      string
		g, peer   *model.SecurityGroup
		dir       model.Direction
		code      string
		field     string
		forbidden bool
	}{
		{"same VPC", basicA, basicA2, model.Ingress, "", "", false},
		{"itself", basicA, basicA, model.Egress, "", "", false},
		{"classic to classic", classic, classic2, model.Ingress, "", "", false},
		{"enterprise names a group", ent, basicA, model.Ingress, "InvalidGroupParameter.OperationDenied", "SourceGroupId", false},
		{"enterprise named", basicA, ent, model.Egress, "InvalidGroupAuthParameter.OperationDenied", "DestGroupId", false},
		{"classic names VPC", classic, basicA, model.Ingress, "InvalidNetworkType.Mismatch", "SourceGroupId", true},
		{"other VPC, ingress", basicA, basicB, model.Ingress, "InvalidSourceGroupId.Mismatch", "SourceGroupId", false},
		{"other VPC, egress", basicA, basicB, model.Egress, "InvalidDestGroupId.Mismatch", "DestGroupId", false},
	} {
		err := model.CheckGroupPeer(tc.g, tc.peer, tc.dir)
		wantCode(t, tc.name, err, tc.code)
		if err != nil && (err.Field != tc.field || (err.Status == 403) != tc.forbidden) {
			t.Errorf("%s: %d at %q; want field %q, forbidden %v", tc.name, err.Status, err.Field, tc.field, tc.forbidden)
		}
	}
}

func TestCheckPrefixListPeer(t *testing.T) {
	v4 := modeltest.PrefixList("pl-4", 10, "10.0.0.0/8")
	v6 := modeltest.PrefixList("pl-6", 10, "2001:db8::/32")
	for _, tc := range []struct {
		name string
		rule model.Rule
		pl   *model.PrefixList
		code string
	}{
		{"TCP, IPv4 list", modeltest.Rule("r", "in accept 1 TCP 22/22 pl-4"), v4, ""},
		{"TCP, IPv6 list", modeltest.Rule("r", "in accept 1 TCP 22/22 pl-6"), v6, ""},
		{"ICMP, IPv6 list", modeltest.Rule("r", "in accept 1 ICMP -1/-1 pl-6"), v6, "InvalidParam.PrefixListAddressFamilyMismatch"},
		{"ICMPv6, IPv4 list", modeltest.Rule("r", "in accept 1 ICMPv6 -1/-1 pl-4"), v4, "InvalidParam.PrefixListAddressFamilyMismatch"},
		{"IPv6 local, IPv4 list", modeltest.Rule("r", "in accept 1 TCP 22/22 pl-4 local=2001:db8::/64"), v4, "InvalidParam.PrefixListAddressFamilyMismatch"},
		{"IPv4 local, IPv4 list", modeltest.Rule("r", "out accept 1 TCP 22/22 pl-4 local=10.1.0.0/16"), v4, ""},
	} {
		wantCode(t, tc.name, model.CheckPrefixListPeer(&tc.rule, tc.pl, tc.rule.Direction), tc.code)
	}
}

// rules returns n rules with distinct ports whose peer is peer.
func rules(n int, peer string) []model.Rule {
	var out []model.Rule
	for i := range n {
		out = append(out, modeltest.Rule(fmt.Sprintf("sgr-%d", i), fmt.Sprintf("in accept 1 TCP %d/%d %s", i+1, i+1, peer)))
	}
	return out
}

func TestRuleQuotas(t *testing.T) {
	lists := map[string]*model.PrefixList{"pl-big": modeltest.PrefixList("pl-big", 150, "10.0.0.0/8")}
	lookup := model.Lists{Prefix: func(id string) *model.PrefixList { return lists[id] }}

	withList := modeltest.Group("sg-a", "vpc-a", "basic", append(rules(50, "10.0.0.0/8"), modeltest.Rule("sgr-pl", "in accept 1 TCP 80/80 pl-big"))...)
	if n := model.RuleCount(withList, lookup); n != 200 {
		t.Errorf("RuleCount = %d, want 50 + the list's MaxEntries 150", n)
	}
	if w := model.Weight(&withList.Rules[50], model.Lists{Prefix: func(string) *model.PrefixList { return nil }}); w != 1 {
		t.Errorf("a rule of an unknown list weighs %d, want 1", w)
	}
	for _, tc := range []struct {
		name string
		g    *model.SecurityGroup
		code string
	}{
		{"200 rules", modeltest.Group("sg-a", "vpc-a", "basic", rules(model.MaxRulesPerGroup, "10.0.0.0/8")...), ""},
		{"201 rules", modeltest.Group("sg-a", "vpc-a", "basic", rules(model.MaxRulesPerGroup+1, "10.0.0.0/8")...), "AuthorizationLimitExceed"},
		{"a list at the limit", withList, ""},
		{"a list over the limit", modeltest.Group("sg-a", "vpc-a", "basic", append(rules(51, "10.0.0.0/8"), modeltest.Rule("sgr-pl", "in accept 1 TCP 80/80 pl-big"))...), "AuthorizationLimitExceed"},
		{"20 group peers", modeltest.Group("sg-a", "vpc-a", "basic", rules(model.MaxGroupPeerRules, "sg-b")...), ""},
		{"21 group peers", modeltest.Group("sg-a", "vpc-a", "basic", rules(model.MaxGroupPeerRules+1, "sg-b")...), "AuthorizedGroupRule.LimitExceed"},
	} {
		wantCode(t, tc.name, model.CheckRuleQuotas(tc.g, lookup), tc.code)
	}

	var groups []*model.SecurityGroup
	for i := range 5 {
		groups = append(groups, modeltest.Group(fmt.Sprintf("sg-%d", i), "vpc-a", "basic", rules(model.MaxRulesPerGroup, "10.0.0.0/8")...))
	}
	wantCode(t, "1,000 rules on a NIC", model.CheckNICRules("i-a", groups, lookup), "")
	groups[0].Rules = append(groups[0].Rules, modeltest.Rule("sgr-x", "in accept 1 UDP 1/1 10.0.0.0/8"))
	wantCode(t, "1,001 rules on a NIC", model.CheckNICRules("i-a", groups, lookup), "AclLimitExceed")
}

func TestCheckInstanceGroups(t *testing.T) {
	g := func(id, vpc, typ string) *model.SecurityGroup { return modeltest.Group(id, vpc, typ) }
	in := modeltest.Instance("i-a", "vpc-a", "10.0.0.1", "sg-a")
	classic := modeltest.Instance("i-c", "", "10.0.0.2", "sg-c")
	five := []*model.SecurityGroup{g("sg-1", "vpc-a", "basic"), g("sg-2", "vpc-a", "basic"), g("sg-3", "vpc-a", "basic"), g("sg-4", "vpc-a", "basic"), g("sg-5", "vpc-a", "basic")}
	for _, tc := range []struct {
		name   string
		in     *model.Instance
		groups []*model.SecurityGroup
		code   string
	}{
		{"one", in, five[:1], ""},
		{"five", in, five, ""},
		{"none", in, nil, "InvalidOperation.AtLeastInOneGroup"},
		{"six", in, append(five[:5:5], g("sg-6", "vpc-a", "basic")), "JoinedGroupLimitExceed"},
		{"repeated", in, []*model.SecurityGroup{five[0], five[0]}, "InvalidParameter.SecurityGroupIdRepeated"},
		{"mixed types", in, []*model.SecurityGroup{five[0], g("sg-e", "vpc-a", "enterprise")}, "EnterpriseGroupLimited.MutliGroupType"},
		{"other VPC", in, []*model.SecurityGroup{g("sg-b", "vpc-b", "basic")}, "InvalidSecurityGroupVpc.NotBelongToOneVpc"},
		{"classic group, VPC instance", in, []*model.SecurityGroup{g("sg-c", "", "basic")}, "InvalidInstanceId.Mismatch"},
		{"classic", classic, []*model.SecurityGroup{g("sg-c", "", "basic")}, ""},
	} {
		wantCode(t, tc.name, model.CheckInstanceGroups(tc.in, tc.groups), tc.code)
	}
}
