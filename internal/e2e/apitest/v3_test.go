package apitest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
)

// path walks a decoded JSON body: path(b, "Permissions", "Permission").
func path(t testing.TB, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: %T is not an object", k, v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("no %q in %v", k, m)
		}
	}
	return v
}

// isNumber reports whether v is a JSON number (darabonba decodes them as
// json.Number) with this text.
func isNumber(v any, want string) bool {
	n, ok := v.(json.Number)
	return ok && n.String() == want
}

// list is path for an array.
func list(t testing.TB, v any, keys ...string) []any {
	t.Helper()
	l, ok := path(t, v, keys...).([]any)
	if !ok {
		t.Fatalf("%v is %T, not an array", keys, path(t, v, keys...))
	}
	return l
}

// TestDarabonbaV3 drives the main flow through darabonba's CallApi with V3
// signatures and checks the JSON as generic maps: names, nesting and JSON
// types (Priority a string, counts numbers, wrappers present and empty
// lists [] rather than missing or null).
func TestDarabonbaV3(t *testing.T) {
	e := newEnv(t)
	c := e.v3
	ecsCall := func(action string, q map[string]any) map[string]any { return mustCall(t, c, ecsVersion, action, q) }

	vpcID := mustCall(t, c, vpcVersion, "CreateVpc", map[string]any{"CidrBlock": "10.0.0.0/16", "VpcName": "v3"})["VpcId"].(string)
	vsw := mustCall(t, c, vpcVersion, "CreateVSwitch", map[string]any{"VpcId": vpcID, "CidrBlock": "10.0.1.0/24", "ZoneId": zone})["VSwitchId"].(string)
	vpcs := mustCall(t, c, vpcVersion, "DescribeVpcs", map[string]any{"VpcId": vpcID})
	if v := list(t, vpcs, "Vpcs", "Vpc"); len(v) != 1 || path(t, v[0], "CidrBlock") != "10.0.0.0/16" ||
		!reflect.DeepEqual(path(t, v[0], "VSwitchIds", "VSwitchId"), []any{vsw}) {
		t.Errorf("DescribeVpcs: %v", vpcs)
	}

	sg := ecsCall("CreateSecurityGroup", map[string]any{"VpcId": vpcID, "SecurityGroupName": "v3-web",
		"Tag": []any{map[string]any{"Key": "env", "Value": "dev"}}})["SecurityGroupId"].(string)
	peer := ecsCall("CreateSecurityGroup", map[string]any{"VpcId": vpcID, "SecurityGroupName": "v3-peer"})["SecurityGroupId"].(string)
	if !sgID.MatchString(sg) || !sgID.MatchString(peer) {
		t.Fatalf("group IDs %q %q", sg, peer)
	}

	// An empty group still has its wrappers.
	empty := ecsCall("DescribeSecurityGroupAttribute", map[string]any{"SecurityGroupId": peer})
	if ps := list(t, empty, "Permissions", "Permission"); len(ps) != 0 {
		t.Errorf("new group has rules: %v", ps)
	}
	if !guid.MatchString(empty["RequestId"].(string)) || empty["InnerAccessPolicy"] != "Accept" || empty["RegionId"] != region {
		t.Errorf("DescribeSecurityGroupAttribute: %v", empty)
	}

	ecsCall("AuthorizeSecurityGroup", map[string]any{"SecurityGroupId": sg, "Permissions": []any{
		map[string]any{"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "Priority": "5", "Description": "ssh & more*~"},
		map[string]any{"IpProtocol": "TCP", "PortRange": "5432/5432", "SourceGroupId": peer},
	}})
	ecsCall("AuthorizeSecurityGroupEgress", map[string]any{"SecurityGroupId": sg, "Permissions": []any{
		map[string]any{"IpProtocol": "ALL", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0", "Policy": "Drop", "Priority": "100"},
	}})
	got := ecsCall("DescribeSecurityGroupAttribute", map[string]any{"SecurityGroupId": sg})
	ps := list(t, got, "Permissions", "Permission")
	if len(ps) != 3 {
		t.Fatalf("%d rules: %v", len(ps), ps)
	}
	byPort := map[string]map[string]any{}
	for _, p := range ps {
		m := p.(map[string]any)
		byPort[m["PortRange"].(string)] = m
		// Priority is a JSON string in every SDK's model.
		if _, ok := m["Priority"].(string); !ok {
			t.Errorf("Priority is %T (%v), want a string", m["Priority"], m["Priority"])
		}
		// Empty fields are sent as "", not left out.
		if v, ok := m["SourcePortRange"]; !ok || v != "" {
			t.Errorf("SourcePortRange is %v (present %v), want \"\"", v, ok)
		}
	}
	if p := byPort["22/22"]; p["Priority"] != "5" || p["Description"] != "ssh & more*~" || p["Direction"] != "ingress" || !ruleID.MatchString(p["SecurityGroupRuleId"].(string)) {
		t.Errorf("22/22: %v", p)
	}
	if p := byPort["5432/5432"]; p["SourceGroupId"] != peer || p["SourceGroupName"] != "v3-peer" || p["SourceGroupOwnerAccount"] != "" { // same account: no owner
		t.Errorf("5432/5432: %v", p)
	}
	if p := byPort["-1/-1"]; p["Direction"] != "egress" || p["Policy"] != "Drop" || p["Priority"] != "100" {
		t.Errorf("egress: %v", p)
	}

	groups := ecsCall("DescribeSecurityGroups", map[string]any{"SecurityGroupId": sg})
	if !isNumber(groups["TotalCount"], "1") || !isNumber(groups["PageNumber"], "1") || !isNumber(groups["PageSize"], "10") {
		t.Errorf("paging fields %#v %#v %#v, want numbers 1 1 10", groups["TotalCount"], groups["PageNumber"], groups["PageSize"])
	}
	g := list(t, groups, "SecurityGroups", "SecurityGroup")[0].(map[string]any)
	if !isNumber(g["RuleCount"], "3") || !isNumber(g["GroupToGroupRuleCount"], "1") || g["ServiceManaged"] != false || g["SecurityGroupType"] != "normal" ||
		g["VpcId"] != vpcID || g["Description"] != "" {
		t.Errorf("group: %v", g)
	}
	if tags := list(t, g, "Tags", "Tag"); len(tags) != 1 || path(t, tags[0], "TagKey") != "env" || path(t, tags[0], "TagValue") != "dev" {
		t.Errorf("tags: %v", tags)
	}
	if tags := list(t, list(t, ecsCall("DescribeSecurityGroups", map[string]any{"SecurityGroupId": peer}), "SecurityGroups", "SecurityGroup")[0], "Tags", "Tag"); len(tags) != 0 {
		t.Errorf("untagged group tags: %v", tags)
	}

	run := ecsCall("RunInstances", map[string]any{"ImageId": imageID, "InstanceType": instanceType, "VSwitchId": vsw,
		"SecurityGroupIds": []any{sg, peer}, "Amount": 1})
	ids := list(t, run, "InstanceIdSets", "InstanceIdSet")
	if len(ids) != 1 {
		t.Fatalf("RunInstances: %v", run)
	}
	inst := ids[0].(string)
	insts := ecsCall("DescribeInstances", map[string]any{"InstanceIds": fmt.Sprintf(`["%s"]`, inst)})
	in := list(t, insts, "Instances", "Instance")[0]
	if !reflect.DeepEqual(path(t, in, "SecurityGroupIds", "SecurityGroupId"), []any{sg, peer}) || path(t, in, "Status") != "Running" ||
		path(t, in, "VpcAttributes", "VSwitchId") != vsw {
		t.Errorf("instance: %v", in)
	}

	ecsCall("ModifyInstanceAttribute", map[string]any{"InstanceId": inst, "SecurityGroupIds": []any{peer}})
	ecsCall("JoinSecurityGroup", map[string]any{"InstanceId": inst, "SecurityGroupId": sg})
	ecsCall("LeaveSecurityGroup", map[string]any{"InstanceId": inst, "SecurityGroupId": peer})
	attrOf := ecsCall("DescribeInstanceAttribute", map[string]any{"InstanceId": inst})
	if got := path(t, attrOf, "SecurityGroupIds", "SecurityGroupId"); !reflect.DeepEqual(got, []any{sg}) {
		t.Errorf("groups after Modify/Join/Leave: %v", got)
	}

	refs := ecsCall("DescribeSecurityGroupReferences", map[string]any{"SecurityGroupId": []any{peer}})
	ref := list(t, refs, "SecurityGroupReferences", "SecurityGroupReference")
	if len(ref) != 1 || !reflect.DeepEqual(list(t, ref[0], "ReferencingSecurityGroups", "ReferencingSecurityGroup"),
		[]any{map[string]any{"SecurityGroupId": sg, "AliUid": e.srv.UID}}) {
		t.Errorf("references: %v", refs)
	}

	ecsCall("TagResources", map[string]any{"ResourceType": "securitygroup", "ResourceId": []any{peer},
		"Tag": []any{map[string]any{"Key": "tier", "Value": "db"}}})
	tr := list(t, ecsCall("ListTagResources", map[string]any{"ResourceType": "securitygroup", "ResourceId": []any{peer}}), "TagResources", "TagResource")
	if !reflect.DeepEqual(tr, []any{map[string]any{"ResourceId": peer, "ResourceType": "securitygroup", "TagKey": "tier", "TagValue": "db"}}) {
		t.Errorf("ListTagResources: %v", tr)
	}

	var ruleIDs []any
	for _, p := range byPort {
		if p["Direction"] == "ingress" {
			ruleIDs = append(ruleIDs, p["SecurityGroupRuleId"])
		}
	}
	ecsCall("RevokeSecurityGroup", map[string]any{"SecurityGroupId": sg, "SecurityGroupRuleId": ruleIDs})
	left := list(t, ecsCall("DescribeSecurityGroupAttribute", map[string]any{"SecurityGroupId": sg, "Direction": "ingress"}), "Permissions", "Permission")
	if len(left) != 0 {
		t.Errorf("ingress rules left: %v", left)
	}
	// With the referencing rule gone, the peer group can go once the
	// instance has left it (it has).
	ecsCall("DeleteSecurityGroup", map[string]any{"SecurityGroupId": peer})
	if l := list(t, ecsCall("DescribeSecurityGroups", map[string]any{}), "SecurityGroups", "SecurityGroup"); len(l) != 1 {
		t.Errorf("%d groups left, want 1", len(l))
	}

	// V1 through darabonba (SignatureAlgorithm v2) reads the same.
	v1 := newV3(t, e.addr, e.ak, e.secret, "v2")
	a := mustCall(t, c, ecsVersion, "DescribeSecurityGroupAttribute", map[string]any{"SecurityGroupId": sg})
	b := mustCall(t, v1, ecsVersion, "DescribeSecurityGroupAttribute", map[string]any{"SecurityGroupId": sg})
	delete(a, "RequestId")
	delete(b, "RequestId")
	if !reflect.DeepEqual(a, b) {
		t.Errorf("V3 and V1 answers differ:\nV3 %v\nV1 %v", a, b)
	}
	if a["VpcId"] != vpcID || len(list(t, a, "Permissions", "Permission")) != 1 {
		t.Errorf("after the revoke: %v", a)
	}
}

// TestSignatureAlgorithms: the Tea SDKs sign with the algorithm their
// Config names (signatureAlgorithm): ACS3-HMAC-SHA256 by default,
// ACS3-HMAC-SM3, or V1 given "v2"; parameters in the query or, hashed
// with the algorithm's hash, in a form body. SM3 was refused
// (InvalidParameter), though ECS takes it and the SDKs offer it.
func TestSignatureAlgorithms(t *testing.T) {
	e := newEnv(t)
	for _, alg := range []string{"", "ACS3-HMAC-SM3", "v2"} {
		t.Run(cmp.Or(alg, "default"), func(t *testing.T) {
			c := newV3(t, e.addr, e.ak, e.secret, alg)
			sg := mustCall(t, c, ecsVersion, "CreateSecurityGroup", map[string]any{"SecurityGroupName": "alg-" + cmp.Or(alg, "default")})["SecurityGroupId"].(string)
			params := &openapi.Params{Action: dara.String("AuthorizeSecurityGroup"), Version: dara.String(ecsVersion), Protocol: dara.String("HTTP"),
				Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
				ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
			body := map[string]any{"RegionId": region, "SecurityGroupId": sg, "Permissions": []any{
				map[string]any{"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "Description": "a b*~&=中"}}}
			if _, err := c.CallApi(params, &openapi.OpenApiRequest{Body: body}, &dara.RuntimeOptions{}); err != nil {
				t.Fatalf("AuthorizeSecurityGroup with a form body: %v", err)
			}
			ps := list(t, mustCall(t, c, ecsVersion, "DescribeSecurityGroupAttribute", map[string]any{"SecurityGroupId": sg, "NicType": "internet"}), "Permissions", "Permission")
			if len(ps) != 1 || path(t, ps[0], "Description") != "a b*~&=中" {
				t.Errorf("rules %v", ps)
			}
			bad := newV3(t, e.addr, e.ak, "wrong", alg)
			if _, err := call(bad, ecsVersion, "DescribeSecurityGroups", nil, nil); err == nil {
				t.Error("a wrong secret was taken")
			} else if code, status, _ := apiError(err); code != "SignatureDoesNotMatch" || status != 400 {
				t.Errorf("a wrong secret: %s %d (%v), want 400 SignatureDoesNotMatch", code, status, err)
			}
		})
	}
}
