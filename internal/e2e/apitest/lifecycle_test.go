package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// The lifecycle Terraform runs for each resource, replayed with both
// official SDKs over HTTPS: create, read back and compare every field the
// create set (in the form ECS returns it), read again and see nothing
// change, delete, and read the "not found" Terraform takes for gone.

// params are an action's parameters: string values, []string for lists of
// values (Name.N) and []map[string]string for lists of objects
// (Name.N.Field), as each SDK flattens them.
type params map[string]any

// sdkClient sends one action with an official SDK and returns the
// response as generic JSON (numbers as json.Number).
type sdkClient interface {
	do(version, action string, p params) (map[string]any, error)
}

// classicRequests are the classic SDK's typed requests for the actions the
// lifecycle sends; the response is the matching typed response, so a field
// the server names or types otherwise than the SDK is lost and the
// comparison fails.
var classicRequests = map[string]func() any{
	"CreateVpc":                      func() any { return vpc.CreateCreateVpcRequest() },
	"DescribeVpcAttribute":           func() any { return vpc.CreateDescribeVpcAttributeRequest() },
	"DescribeVpcs":                   func() any { return vpc.CreateDescribeVpcsRequest() },
	"DescribeRouteTableList":         func() any { return vpc.CreateDescribeRouteTableListRequest() },
	"DeleteVpc":                      func() any { return vpc.CreateDeleteVpcRequest() },
	"TagResources":                   func() any { return vpc.CreateTagResourcesRequest() }, // the VPC product's, here
	"CreateVSwitch":                  func() any { return vpc.CreateCreateVSwitchRequest() },
	"DescribeVSwitchAttributes":      func() any { return vpc.CreateDescribeVSwitchAttributesRequest() },
	"DescribeVSwitches":              func() any { return vpc.CreateDescribeVSwitchesRequest() },
	"DeleteVSwitch":                  func() any { return vpc.CreateDeleteVSwitchRequest() },
	"CreateSecurityGroup":            func() any { return ecs.CreateCreateSecurityGroupRequest() },
	"DescribeSecurityGroupAttribute": func() any { return ecs.CreateDescribeSecurityGroupAttributeRequest() },
	"DescribeSecurityGroups":         func() any { return ecs.CreateDescribeSecurityGroupsRequest() },
	"DeleteSecurityGroup":            func() any { return ecs.CreateDeleteSecurityGroupRequest() },
	"AuthorizeSecurityGroup":         func() any { return ecs.CreateAuthorizeSecurityGroupRequest() },
	"AuthorizeSecurityGroupEgress":   func() any { return ecs.CreateAuthorizeSecurityGroupEgressRequest() },
	"RevokeSecurityGroup":            func() any { return ecs.CreateRevokeSecurityGroupRequest() },
	"RevokeSecurityGroupEgress":      func() any { return ecs.CreateRevokeSecurityGroupEgressRequest() },
	"CreatePrefixList":               func() any { return ecs.CreateCreatePrefixListRequest() },
	"DescribePrefixListAttributes":   func() any { return ecs.CreateDescribePrefixListAttributesRequest() },
	"DeletePrefixList":               func() any { return ecs.CreateDeletePrefixListRequest() },
}

// classic sends actions with the classic SDK's typed clients (V1
// signatures).
type classic struct {
	ecs *ecs.Client
	vpc *vpc.Client
}

func (c classic) do(version, action string, p params) (map[string]any, error) {
	if commonOnly[action] || usesPortRangeList(p) {
		return c.common(version, action, p)
	}
	mk, ok := classicRequests[action]
	if !ok {
		return nil, fmt.Errorf("no classic request type for %s: add it to classicRequests", action)
	}
	req := mk()
	if err := fill(reflect.ValueOf(req).Elem(), p); err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	target := reflect.ValueOf(c.ecs)
	if version == vpcVersion {
		target = reflect.ValueOf(c.vpc)
	}
	out := target.MethodByName(action).Call([]reflect.Value{reflect.ValueOf(req)})
	if err, _ := out[1].Interface().(error); err != nil {
		return nil, err
	}
	body, err := json.Marshal(out[0].Interface())
	if err != nil {
		return nil, err
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	return m, d.Decode(&m)
}

// commonOnly are the actions the classic SDK (v1.63.107) has no typed
// request for: its users send them as a CommonRequest.
var commonOnly = map[string]bool{"CreatePortRangeList": true, "DescribePortRangeLists": true,
	"DescribePortRangeListEntries": true, "DescribePortRangeListAssociations": true, "ModifyPortRangeList": true,
	"DeletePortRangeList": true}

// usesPortRangeList reports whether a request names a port range list,
// which no classic typed request has a field for.
func usesPortRangeList(p params) bool {
	if _, ok := p["PortRangeListId"]; ok {
		return true
	}
	perms, _ := p["Permissions"].([]map[string]string)
	for _, m := range perms {
		if _, ok := m["PortRangeListId"]; ok {
			return true
		}
	}
	return false
}

// common sends an action as the classic SDK's CommonRequest, flattening
// lists as the SDK does (Name.N, Name.N.Field).
func (c classic) common(version, action string, p params) (map[string]any, error) {
	r := requests.NewCommonRequest()
	r.Domain, r.Version, r.ApiName, r.Scheme = c.ecs.Domain, version, action, c.ecs.GetConfig().Scheme
	r.QueryParams["RegionId"] = region
	for k, v := range p {
		switch v := v.(type) {
		case string:
			r.QueryParams[k] = v
		case []string:
			for i, s := range v {
				r.QueryParams[fmt.Sprintf("%s.%d", k, i+1)] = s
			}
		case []map[string]string:
			for i, m := range v {
				for f, s := range m {
					r.QueryParams[fmt.Sprintf("%s.%d.%s", k, i+1, f)] = s
				}
			}
		default:
			return nil, fmt.Errorf("parameter %s: %T is not a parameter value", k, v)
		}
	}
	res, err := c.ecs.ProcessCommonRequest(r)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(res.GetHttpContentString()))
	d.UseNumber()
	return m, d.Decode(&m)
}

// commonClassic sends every action as the classic SDK's CommonRequest.
type commonClassic struct{ c classic }

func (c commonClassic) do(version, action string, p params) (map[string]any, error) {
	return c.c.common(version, action, p)
}

// fill sets the fields of a classic request (or of one of its repeated
// structs) from p by their `name` tags, as the SDK's users set them.
func fill(v reflect.Value, p params) error {
	used := 0
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		val, ok := p[sf.Tag.Get("name")]
		if sf.Anonymous || !ok {
			continue
		}
		used++
		switch val := val.(type) {
		case string:
			f.SetString(val) // string, requests.Integer and requests.Boolean alike
		case []string:
			l := reflect.MakeSlice(f.Type().Elem(), len(val), len(val))
			for j, s := range val {
				l.Index(j).SetString(s)
			}
			f.Set(reflect.New(l.Type()))
			f.Elem().Set(l)
		case []map[string]string:
			l := reflect.MakeSlice(f.Type().Elem(), len(val), len(val))
			for j, m := range val {
				item := params{}
				for k, s := range m {
					item[k] = s
				}
				if err := fill(l.Index(j), item); err != nil {
					return err
				}
			}
			f.Set(reflect.New(l.Type()))
			f.Elem().Set(l)
		default:
			return fmt.Errorf("parameter %s: %T is not a parameter value", sf.Name, val)
		}
	}
	if used != len(p) {
		return fmt.Errorf("%d of the parameters %v are not fields of %s", len(p)-used, p, v.Type())
	}
	return nil
}

// teaV3 sends actions with darabonba's CallApi (V3 signatures) over a
// protocol.
type teaV3 struct {
	c        *openapi.Client
	protocol string
}

func (c teaV3) do(version, action string, p params) (map[string]any, error) {
	q := map[string]any{"RegionId": region}
	for k, v := range p {
		switch v := v.(type) {
		case []map[string]string:
			l := make([]any, len(v))
			for i, m := range v {
				item := map[string]any{}
				for k, s := range m {
					item[k] = s
				}
				l[i] = item
			}
			q[k] = l
		case []string:
			l := make([]any, len(v))
			for i, s := range v {
				l[i] = s
			}
			q[k] = l
		default:
			q[k] = v
		}
	}
	ps := &openapi.Params{Action: dara.String(action), Version: dara.String(version), Protocol: dara.String(c.protocol),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
	res, err := c.c.CallApi(ps, &openapi.OpenApiRequest{Query: openapiutil.Query(q)}, &dara.RuntimeOptions{})
	if err != nil {
		return nil, err
	}
	body, _ := res["body"].(map[string]any)
	if body == nil {
		return nil, fmt.Errorf("%s: response has no JSON body: %v", action, res)
	}
	return body, nil
}

// at walks a decoded response by a dotted path; numbers index arrays.
func at(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// text is a decoded JSON value as it reads: numbers as their digits.
func text(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// lifecycle replays Terraform's lifecycles through c; other is a client
// of another account, for a rule naming that account's group.
type lifecycle struct {
	t        *testing.T
	c, other sdkClient
	otherUID string
}

func (l lifecycle) do(version, action string, p params) map[string]any {
	l.t.Helper()
	out, err := l.c.do(version, action, p)
	if err != nil {
		l.t.Fatalf("%s %v: %v", action, p, err)
	}
	return out
}

// read reads a resource twice: the first answer must hold every field of
// want under prefix, the second must equal the first (nothing changed
// from reading).
func (l lifecycle) read(version, action string, p params, prefix string, want map[string]string) map[string]any {
	l.t.Helper()
	first := l.do(version, action, p)
	for k, w := range want {
		if got, ok := at(first, prefix+k); !ok || text(got) != w {
			l.t.Errorf("%s: %s%s = %q (present %v), want %q", action, prefix, k, text(got), ok, w)
		}
	}
	second := l.do(version, action, p)
	delete(first, "RequestId")
	delete(second, "RequestId")
	if !reflect.DeepEqual(first, second) {
		l.t.Errorf("%s read twice differs:\n%v\n%v", action, first, second)
	}
	return first
}

// gone checks the answer Terraform takes for a deleted resource: an error
// with HTTP 404 and this code (its NotFoundError also accepts any 404).
func (l lifecycle) gone(version, action string, p params, code string) {
	l.t.Helper()
	_, err := l.c.do(version, action, p)
	if err == nil {
		l.t.Errorf("%s %v after delete: succeeded, want 404 %s", action, p, code)
		return
	}
	if c, s, _ := apiError(err); c != code || s != 404 {
		l.t.Errorf("%s %v after delete: %d %s, want 404 %s (%v)", action, p, s, c, code, err)
	}
}

func (l lifecycle) run() {
	t := l.t
	tag := []map[string]string{{"Key": "env", "Value": "lifecycle"}}

	// alicloud_vpc: CreateVpc, then DescribeVpcAttribute and the system
	// route table from DescribeRouteTableList.
	created := l.do(vpcVersion, "CreateVpc", params{"CidrBlock": "10.0.0.0/16", "VpcName": "tf-vpc", "Description": "lifecycle vpc", "Tag": tag})
	vpcID, vrt, vtb := text(created["VpcId"]), text(created["VRouterId"]), text(created["RouteTableId"])
	if !strings.HasPrefix(vrt, "vrt-") || !strings.HasPrefix(vtb, "vtb-") {
		t.Fatalf("CreateVpc: %v", created)
	}
	// The provider's update, run at the end of its create, sets the tags
	// again through the VPC product's TagResources.
	l.do(vpcVersion, "TagResources", params{"ResourceType": "VPC", "ResourceId": []string{vpcID}, "Tag": tag})
	vpcWant := map[string]string{"VpcId": vpcID, "CidrBlock": "10.0.0.0/16", "VpcName": "tf-vpc", "Description": "lifecycle vpc",
		"Status": "Available", "RegionId": region, "IsDefault": "false", "VRouterId": vrt, "ResourceGroupId": text(created["ResourceGroupId"]),
		"Tags.Tag.0.Key": "env", "Tags.Tag.0.Value": "lifecycle"}
	l.read(vpcVersion, "DescribeVpcAttribute", params{"VpcId": vpcID}, "", vpcWant)
	l.read(vpcVersion, "DescribeVpcs", params{"VpcId": vpcID}, "Vpcs.Vpc.0.", vpcWant)
	l.read(vpcVersion, "DescribeRouteTableList", params{"VpcId": vpcID}, "RouterTableList.RouterTableListType.0.",
		map[string]string{"RouteTableId": vtb, "RouterId": vrt, "VpcId": vpcID, "RouteTableType": "System", "RouterType": "VRouter"})

	// alicloud_vswitch.
	vsw := text(l.do(vpcVersion, "CreateVSwitch", params{"VpcId": vpcID, "ZoneId": zone, "CidrBlock": "10.0.1.0/24",
		"VSwitchName": "tf-vsw", "Description": "lifecycle vswitch", "Tag": tag})["VSwitchId"])
	l.do(vpcVersion, "TagResources", params{"ResourceType": "VSWITCH", "ResourceId": []string{vsw}, "Tag": tag})
	vswWant := map[string]string{"VSwitchId": vsw, "VpcId": vpcID, "ZoneId": zone, "CidrBlock": "10.0.1.0/24", "VSwitchName": "tf-vsw",
		"Description": "lifecycle vswitch", "Status": "Available", "IsDefault": "false", "RouteTable.RouteTableId": vtb,
		"Tags.Tag.0.Key": "env", "Tags.Tag.0.Value": "lifecycle"}
	l.read(vpcVersion, "DescribeVSwitchAttributes", params{"VSwitchId": vsw}, "", vswWant)
	l.read(vpcVersion, "DescribeVSwitches", params{"VSwitchId": vsw}, "VSwitches.VSwitch.0.", vswWant)

	// alicloud_security_group, a peer group in the same VPC, a classic
	// group whose rule names another account's classic group (only
	// classic groups may: a VPC belongs to one account), and a prefix list.
	sg := text(l.do(ecsVersion, "CreateSecurityGroup", params{"VpcId": vpcID, "SecurityGroupName": "tf-sg", "Description": "lifecycle group",
		"SecurityGroupType": "normal", "Tag": tag})["SecurityGroupId"])
	l.read(ecsVersion, "DescribeSecurityGroupAttribute", params{"SecurityGroupId": sg}, "", map[string]string{"SecurityGroupId": sg,
		"SecurityGroupName": "tf-sg", "Description": "lifecycle group", "VpcId": vpcID, "InnerAccessPolicy": "Accept"})
	l.read(ecsVersion, "DescribeSecurityGroups", params{"SecurityGroupIds": `["` + sg + `"]`}, "SecurityGroups.SecurityGroup.0.",
		map[string]string{"SecurityGroupId": sg, "SecurityGroupName": "tf-sg", "Description": "lifecycle group", "VpcId": vpcID,
			"SecurityGroupType": "normal", "Tags.Tag.0.TagKey": "env", "Tags.Tag.0.TagValue": "lifecycle"})
	peer := text(l.do(ecsVersion, "CreateSecurityGroup", params{"VpcId": vpcID, "SecurityGroupName": "tf-peer"})["SecurityGroupId"])
	classicSG := text(l.do(ecsVersion, "CreateSecurityGroup", params{"SecurityGroupName": "tf-classic"})["SecurityGroupId"])
	partner, err := l.other.do(ecsVersion, "CreateSecurityGroup", params{"SecurityGroupName": "partner-db"})
	if err != nil {
		t.Fatalf("other account's CreateSecurityGroup: %v", err)
	}
	otherSG := text(partner["SecurityGroupId"])
	pl := text(l.do(ecsVersion, "CreatePrefixList", params{"PrefixListName": "tf-pl", "AddressFamily": "IPv4", "MaxEntries": "10",
		"Entry": []map[string]string{{"Cidr": "192.168.0.0/16", "Description": "office"}}})["PrefixListId"])
	l.read(ecsVersion, "DescribePrefixListAttributes", params{"PrefixListId": pl}, "", map[string]string{"PrefixListId": pl,
		"PrefixListName": "tf-pl", "AddressFamily": "IPv4", "MaxEntries": "10", "Entries.Entry.0.Cidr": "192.168.0.0/16",
		"Entries.Entry.0.Description": "office"})

	// alicloud_ecs_port_range_list (no typed classic request: the classic
	// client sends CommonRequest, as its users must).
	prl := text(l.do(ecsVersion, "CreatePortRangeList", params{"PortRangeListName": "tf-prl", "MaxEntries": "10", "Description": "lifecycle ports",
		"Entry": []map[string]string{{"PortRange": "80/80", "Description": "http"}, {"PortRange": "8000/8080", "Description": "alt-http"}}})["PortRangeListId"])
	if !strings.HasPrefix(prl, "prl-") {
		t.Fatalf("CreatePortRangeList: %q", prl)
	}
	l.read(ecsVersion, "DescribePortRangeLists", params{"PortRangeListId": []string{prl}}, "PortRangeLists.0.", map[string]string{
		"PortRangeListId": prl, "PortRangeListName": "tf-prl", "Description": "lifecycle ports", "MaxEntries": "10", "AssociationCount": "0"})
	l.read(ecsVersion, "DescribePortRangeListEntries", params{"PortRangeListId": prl}, "Entries.", map[string]string{
		"0.PortRange": "80/80", "0.Description": "http", "1.PortRange": "8000/8080", "1.Description": "alt-http"})

	// alicloud_security_group_rule, one kind at a time: authorize, read
	// back, revoke with the same fields (as Terraform deletes a rule), and
	// read: a revoked rule is simply absent, which Terraform takes for
	// gone.
	ingress := func(want map[string]string) map[string]string {
		want = maps.Clone(want)
		want["Direction"] = "ingress"
		return want
	}
	for _, rule := range []struct {
		name  string
		group string
		dir   string // Authorize<dir> and Revoke<dir>
		perm  map[string]string
		want  map[string]string // the rule as ECS shows it
		flat  bool              // perm as top-level parameters (the legacy form the provider sends), not Permissions.1.*
	}{
		{"CIDR", sg, "",
			map[string]string{"IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "Policy": "accept", "Priority": "1",
				"NicType": "intranet", "Description": "ssh"},
			ingress(map[string]string{"IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "Policy": "Accept",
				"Priority": "1", "NicType": "intranet", "Description": "ssh", "SourceGroupId": "", "SourceGroupOwnerAccount": "", "Ipv6SourceCidrIp": ""}), false},
		{"IPv6 CIDR", sg, "",
			map[string]string{"IpProtocol": "tcp", "PortRange": "443/443", "Ipv6SourceCidrIp": "2001:db8::/32", "Priority": "2"},
			ingress(map[string]string{"IpProtocol": "TCP", "PortRange": "443/443", "Ipv6SourceCidrIp": "2001:db8::/32", "SourceCidrIp": "",
				"Policy": "Accept", "Priority": "2", "NicType": "intranet"}), false},
		{"group peer", sg, "",
			map[string]string{"IpProtocol": "tcp", "PortRange": "5432/5432", "SourceGroupId": peer, "NicType": "intranet"},
			ingress(map[string]string{"IpProtocol": "TCP", "PortRange": "5432/5432", "SourceGroupId": peer, "SourceGroupName": "tf-peer",
				"SourceGroupOwnerAccount": "", "SourceCidrIp": "", "Policy": "Accept", "Priority": "1"}), false},
		{"cross-account group peer", classicSG, "",
			map[string]string{"IpProtocol": "tcp", "PortRange": "6379/6379", "SourceGroupId": otherSG, "SourceGroupOwnerAccount": l.otherUID,
				"NicType": "intranet"},
			ingress(map[string]string{"IpProtocol": "TCP", "PortRange": "6379/6379", "SourceGroupId": otherSG,
				"SourceGroupOwnerAccount": l.otherUID, "NicType": "intranet"}), false},
		{"prefix list", sg, "",
			map[string]string{"IpProtocol": "tcp", "PortRange": "80/80", "SourcePrefixListId": pl},
			ingress(map[string]string{"IpProtocol": "TCP", "PortRange": "80/80", "SourcePrefixListId": pl, "SourcePrefixListName": "tf-pl",
				"SourceCidrIp": ""}), false},
		{"CIDR, legacy flat form", sg, "",
			map[string]string{"IpProtocol": "udp", "PortRange": "53/53", "SourceCidrIp": "192.168.1.1", "Policy": "accept", "Priority": "3",
				"NicType": "intranet", "Description": "dns"},
			ingress(map[string]string{"IpProtocol": "UDP", "PortRange": "53/53", "SourceCidrIp": "192.168.1.1", "Policy": "Accept",
				"Priority": "3", "NicType": "intranet", "Description": "dns", "SourceGroupOwnerAccount": ""}), true},
		{"egress", sg, "Egress",
			map[string]string{"IpProtocol": "all", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0", "Policy": "drop", "Priority": "100"},
			map[string]string{"Direction": "egress", "IpProtocol": "ALL", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0", "Policy": "Drop",
				"Priority": "100", "DestGroupOwnerAccount": "", "SourceCidrIp": ""}, false},
		{"port list", sg, "",
			map[string]string{"IpProtocol": "tcp", "PortRangeListId": prl, "SourceCidrIp": "10.1.0.0/16", "Priority": "4"},
			ingress(map[string]string{"IpProtocol": "TCP", "PortRangeListId": prl, "PortRangeListName": "tf-prl", "SourceCidrIp": "10.1.0.0/16",
				"Policy": "Accept", "Priority": "4", "NicType": "intranet"}), false},
	} {
		direction := "ingress"
		if rule.dir == "Egress" {
			direction = "egress"
		}
		perms := params{"SecurityGroupId": rule.group, "Permissions": []map[string]string{rule.perm}}
		if rule.flat {
			perms = params{"SecurityGroupId": rule.group}
			for k, v := range rule.perm {
				perms[k] = v
			}
		}
		l.do(ecsVersion, "AuthorizeSecurityGroup"+rule.dir, perms)
		attr := params{"SecurityGroupId": rule.group, "Direction": direction, "NicType": "intranet"}
		reader := l
		if c, ok := l.c.(classic); ok && usesPortRangeList(params{"Permissions": []map[string]string{rule.perm}}) {
			// The classic typed response has no PortRangeListId field:
			// its users read such rules through CommonRequest too.
			reader.c = commonClassic{c}
		}
		read := reader.read(ecsVersion, "DescribeSecurityGroupAttribute", attr, "Permissions.Permission.0.", rule.want)
		if n := len(read["Permissions"].(map[string]any)["Permission"].([]any)); n != 1 {
			t.Errorf("%s: %d rules, want 1", rule.name, n)
		}
		l.do(ecsVersion, "RevokeSecurityGroup"+rule.dir, perms)
		after := l.do(ecsVersion, "DescribeSecurityGroupAttribute", attr)
		if left, _ := at(after, "Permissions.Permission"); len(left.([]any)) != 0 {
			t.Errorf("%s: rules left after the revoke: %v", rule.name, left)
		}
	}

	// Deletes, newest first, and the reads Terraform makes to see them
	// gone.
	for _, id := range []string{sg, peer, classicSG} {
		l.do(ecsVersion, "DeleteSecurityGroup", params{"SecurityGroupId": id})
		l.gone(ecsVersion, "DescribeSecurityGroupAttribute", params{"SecurityGroupId": id}, "InvalidSecurityGroupId.NotFound")
	}
	l.do(ecsVersion, "DeletePortRangeList", params{"PortRangeListId": prl})
	// A port range list's NotFound is a 400, unlike the other resources'.
	if _, err := l.c.do(ecsVersion, "DescribePortRangeListEntries", params{"PortRangeListId": prl}); err == nil {
		t.Errorf("DescribePortRangeListEntries after delete: succeeded")
	} else if c, s, _ := apiError(err); c != "InvalidPortRangeListId.NotFound" || s != 400 {
		t.Errorf("DescribePortRangeListEntries after delete: %d %s, want 400 InvalidPortRangeListId.NotFound", s, c)
	}
	l.do(ecsVersion, "DeletePrefixList", params{"PrefixListId": pl})
	l.gone(ecsVersion, "DescribePrefixListAttributes", params{"PrefixListId": pl}, "InvalidPrefixListId.NotFound")
	l.do(vpcVersion, "DeleteVSwitch", params{"VSwitchId": vsw})
	l.gone(vpcVersion, "DescribeVSwitchAttributes", params{"VSwitchId": vsw}, "InvalidVSwitchId.NotFound")
	l.do(vpcVersion, "DeleteVpc", params{"VpcId": vpcID})
	l.gone(vpcVersion, "DescribeVpcAttribute", params{"VpcId": vpcID}, "InvalidVpcId.NotFound")
	// The list reads answer an empty list for what is gone.
	if v := l.do(vpcVersion, "DescribeVpcs", params{"VpcId": vpcID}); text(v["TotalCount"]) != "0" {
		t.Errorf("DescribeVpcs after delete: %v", v)
	}
	if v := l.do(vpcVersion, "DescribeRouteTableList", params{"VpcId": vpcID}); text(v["TotalCount"]) != "0" {
		t.Errorf("DescribeRouteTableList after delete: %v", v)
	}
}

// TestLifecycleClassicHTTPS replays the lifecycles with the classic Go SDK's
// typed ecs and vpc clients, over HTTPS to a server with a self-signed
// certificate.
func TestLifecycleClassicHTTPS(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{TLS: true})
	// The server speaks only TLS: a plain-HTTP client is refused.
	if _, err := testenv.ECSClient(t, srv.Addr, srv.KeyID, srv.Secret).DescribeRegions(ecs.CreateDescribeRegionsRequest()); err == nil {
		t.Fatal("a plain-HTTP request to the TLS server succeeded")
	}
	a := srv.NewAccount(t, "partner")
	lifecycle{t: t, c: classic{ecs: srv.ECS(t), vpc: srv.VPC(t)}, other: classic{ecs: srv.ECSAs(t, a.KeyID, a.Secret)}, otherUID: a.UID}.run()
}

// TestLifecycleTeaV3 replays them with the Tea SDK's generic client
// (darabonba CallApi, V3 signatures), over HTTPS too.
func TestLifecycleTeaV3(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{TLS: true})
	a := srv.NewAccount(t, "partner")
	lifecycle{t: t, c: teaV3{c: srv.V3(t), protocol: "HTTPS"}, other: teaV3{c: srv.V3As(t, a.KeyID, a.Secret), protocol: "HTTPS"}, otherUID: a.UID}.run()
}
