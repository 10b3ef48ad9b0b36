package apitest

import (
	"fmt"
	"testing"
)

// TestPortRangeLists drives the six port range list actions and rules that
// use a list through the Tea client (darabonba CallApi; the classic SDK
// v1.63.107 has no typed request for them): entries and their checks,
// Modify, rules naming a list, the refusal to delete a list in use, and
// another account's view.
func TestPortRangeLists(t *testing.T) {
	e := newEnv(t)
	q := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	entries := func(rs ...string) []any {
		var out []any
		for _, r := range rs {
			out = append(out, map[string]any{"PortRange": r})
		}
		return out
	}
	create := q("PortRangeListName", "web", "MaxEntries", "3", "Entry", entries("80/80", "8000/8080"))
	prl := fmt.Sprint(mustCall(t, e.v3, ecsVersion, "CreatePortRangeList", create)["PortRangeListId"])

	// Creation refusals.
	for _, c := range []struct {
		name   string
		q      map[string]any
		status int
		code   string
	}{
		{"bad range", q("PortRangeListName", "x1", "MaxEntries", "3", "Entry", entries("0/80")), 400, "InvalidPortRange.Malformed"},
		{"reversed", q("PortRangeListName", "x1", "MaxEntries", "3", "Entry", entries("90/80")), 400, "InvalidPortRange.Malformed"},
		{"duplicate", q("PortRangeListName", "x1", "MaxEntries", "3", "Entry", entries("80/80", "80/80")), 400, "InvalidParam.DuplicatePortRange"},
		{"too many", q("PortRangeListName", "x1", "MaxEntries", "1", "Entry", entries("80/80", "81/81")), 400, "InvalidParam.MaxEntries"},
		{"max entries", q("PortRangeListName", "x1", "MaxEntries", "2001"), 400, "InvalidParameter.MaxEntries"},
		{"no max entries", q("PortRangeListName", "x1"), 400, "MissingParameter"},
		{"name", q("PortRangeListName", "com.aliyun.x", "MaxEntries", "1"), 400, "InvalidPortRangeListName.Malformed"},
	} {
		_, err := call(e.v3, ecsVersion, "CreatePortRangeList", c.q, nil)
		t.Run(c.name, func(t *testing.T) { wantErr(t, err, c.status, c.code) })
	}

	// Modify: remove one, add two (the third fills MaxEntries), rename.
	mustCall(t, e.v3, ecsVersion, "ModifyPortRangeList", q("PortRangeListId", prl, "PortRangeListName", "web2",
		"RemoveEntry", entries("8000/8080"), "AddEntry", []any{map[string]any{"PortRange": "443/443", "Description": "https"},
			map[string]any{"PortRange": "8443/8443"}}))
	got := mustCall(t, e.v3, ecsVersion, "DescribePortRangeListEntries", q("PortRangeListId", prl))
	if s := fmt.Sprint(got["Entries"]); s != "[map[Description: PortRange:80/80] map[Description:https PortRange:443/443] map[Description: PortRange:8443/8443]]" {
		t.Errorf("entries after modify: %s", s)
	}
	_, err := call(e.v3, ecsVersion, "ModifyPortRangeList", q("PortRangeListId", prl, "AddEntry", entries("9000/9000")), nil)
	wantErr(t, err, 400, "InvalidParam.MaxEntries")
	lists := mustCall(t, e.v3, ecsVersion, "DescribePortRangeLists", q("PortRangeListName", "web2"))
	if s := fmt.Sprint(lists["PortRangeLists"]); len(lists["PortRangeLists"].([]any)) != 1 || lists["PortRangeLists"].([]any)[0].(map[string]any)["PortRangeListId"] != prl {
		t.Errorf("DescribePortRangeLists by name: %s", s)
	}

	// Rules naming the list.
	vpcID := fmt.Sprint(mustCall(t, e.v3, vpcVersion, "CreateVpc", q("CidrBlock", "10.0.0.0/16"))["VpcId"])
	sg := fmt.Sprint(mustCall(t, e.v3, ecsVersion, "CreateSecurityGroup", q("VpcId", vpcID))["SecurityGroupId"])
	perm := func(kv ...any) map[string]any {
		return q("SecurityGroupId", sg, "Permissions", []any{q(kv...)})
	}
	mustCall(t, e.v3, ecsVersion, "AuthorizeSecurityGroup", perm("IpProtocol", "TCP", "PortRangeListId", prl, "SourceCidrIp", "10.0.0.0/8"))
	for _, c := range []struct {
		name   string
		q      map[string]any
		status int
		code   string
	}{
		{"ICMP with a list", perm("IpProtocol", "ICMP", "PortRangeListId", prl, "SourceCidrIp", "10.0.0.0/8"), 400, "InvalidParam.ProtocolNotSupportPortRangeList"},
		{"unknown list", perm("IpProtocol", "UDP", "PortRangeListId", "prl-nothere", "SourceCidrIp", "10.0.0.0/8"), 400, "InvalidPortRangeListId.NotFound"},
		{"neither", perm("IpProtocol", "UDP", "SourceCidrIp", "10.0.0.0/8"), 400, "InvalidPortRange.Malformed"},
	} {
		_, err := call(e.v3, ecsVersion, "AuthorizeSecurityGroup", c.q, nil)
		t.Run(c.name, func(t *testing.T) { wantErr(t, err, c.status, c.code) })
	}
	attr := mustCall(t, e.v3, ecsVersion, "DescribeSecurityGroupAttribute", q("SecurityGroupId", sg))
	rule := attr["Permissions"].(map[string]any)["Permission"].([]any)[0].(map[string]any)
	if rule["PortRangeListId"] != prl || rule["PortRangeListName"] != "web2" {
		t.Errorf("the rule reads back as %v", rule)
	}
	_, err = call(e.v3, ecsVersion, "ModifySecurityGroupRule", q("SecurityGroupId", sg, "SecurityGroupRuleId", rule["SecurityGroupRuleId"], "PortRange", "22/22"), nil)
	wantErr(t, err, 400, "InvalidOperation.ModifyPortRangeType")

	// A list counts as its MaxEntries against the group's 200 rules, and
	// DescribeSecurityGroups reports that weight.
	if n, _ := ruleCount(t, e.ecs, sg); n != 3 {
		t.Errorf("RuleCount of one rule naming a list of MaxEntries 3: %d, want 3", n)
	}
	big := fmt.Sprint(mustCall(t, e.v3, ecsVersion, "CreatePortRangeList", q("PortRangeListName", "big", "MaxEntries", "199", "Entry", entries("1/1")))["PortRangeListId"])
	_, err = call(e.v3, ecsVersion, "AuthorizeSecurityGroup", perm("IpProtocol", "UDP", "PortRangeListId", big, "SourceCidrIp", "10.0.0.0/8"), nil)
	wantErr(t, err, 403, "AuthorizationLimitExceed")
	mustCall(t, e.v3, ecsVersion, "DeletePortRangeList", q("PortRangeListId", big))

	// In use: associations, and the delete refused until the rule goes.
	assoc := mustCall(t, e.v3, ecsVersion, "DescribePortRangeListAssociations", q("PortRangeListId", prl))
	if s := fmt.Sprint(assoc["PortRangeListAssociations"]); s != fmt.Sprintf("[map[ResourceId:%s ResourceType:SecurityGroup]]", sg) {
		t.Errorf("associations: %s", s)
	}
	lists = mustCall(t, e.v3, ecsVersion, "DescribePortRangeLists", q("PortRangeListId", []any{prl}))
	if n := fmt.Sprint(lists["PortRangeLists"].([]any)[0].(map[string]any)["AssociationCount"]); n != "1" {
		t.Errorf("AssociationCount %s, want 1", n)
	}
	_, err = call(e.v3, ecsVersion, "DeletePortRangeList", q("PortRangeListId", prl), nil)
	wantErr(t, err, 400, "InvalidPortRangeListId.AssociationExist")

	// Another account sees no such list, and cannot use it.
	other := e.newAccount(t, "other")
	_, err = call(other.v3, ecsVersion, "DescribePortRangeListEntries", q("PortRangeListId", prl), nil)
	wantErr(t, err, 400, "InvalidPortRangeListId.NotFound")
	if l := mustCall(t, other.v3, ecsVersion, "DescribePortRangeLists", nil)["PortRangeLists"].([]any); len(l) != 0 {
		t.Errorf("another account lists %v", l)
	}

	mustCall(t, e.v3, ecsVersion, "RevokeSecurityGroup", perm("IpProtocol", "TCP", "PortRangeListId", prl, "SourceCidrIp", "10.0.0.0/8"))
	mustCall(t, e.v3, ecsVersion, "DeletePortRangeList", q("PortRangeListId", prl))
	_, err = call(e.v3, ecsVersion, "DeletePortRangeList", q("PortRangeListId", prl), nil)
	wantErr(t, err, 400, "InvalidPortRangeListId.NotFound")
}
