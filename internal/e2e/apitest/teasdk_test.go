package apitest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs3 "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	vpc3 "github.com/alibabacloud-go/vpc-20160428/v6/client"

	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// The typed new-generation clients (ecs-20140526/v7, vpc-20160428/v6) sign
// with ACS3-HMAC-SHA256 like darabonba's CallApi, but build the query from
// their request structs (lists flattened to Permissions.1.IpProtocol,
// SecurityGroupRuleId.1, TagFilter.1.TagValues.1) and decode the JSON body
// into typed structs with dara.Convert: case-sensitive names, fuzzy
// scalars (1 and "1" both decode), and a field sent under another name or
// not at all is silently left nil.

var str = dara.String

// teaClients are typed ECS and VPC clients of addr signing with this key.
func teaClients(t testing.TB, addr, ak, secret string) (*ecs3.Client, *vpc3.Client) {
	t.Helper()
	cfg := func() *openapiutil.Config {
		return &openapiutil.Config{AccessKeyId: str(ak), AccessKeySecret: str(secret),
			Endpoint: str(addr), Protocol: str("HTTP"), RegionId: str(region)}
	}
	e, err := ecs3.NewClient(cfg())
	if err != nil {
		t.Fatalf("typed ECS client: %v", err)
	}
	v, err := vpc3.NewClient(cfg())
	if err != nil {
		t.Fatalf("typed VPC client: %v", err)
	}
	return e, v
}

// wantTeaErr fails unless err is the Tea SDK's error (*tea.SDKError, what
// the typed clients return) with this HTTP status and code, and carries
// the server's RequestId and message in its Data.
func wantTeaErr(t testing.TB, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded; want %d %s", status, code)
	}
	var se *tea.SDKError
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v is not a *tea.SDKError; want %d %s", err, err, status, code)
	}
	if tea.StringValue(se.Code) != code || tea.IntValue(se.StatusCode) != status {
		t.Fatalf("got %d %s; want %d %s\n%v", tea.IntValue(se.StatusCode), tea.StringValue(se.Code), status, code, err)
	}
	data := tea.StringValue(se.Data)
	var id string
	if i := strings.Index(data, `"RequestId":"`); i >= 0 {
		id, _, _ = strings.Cut(data[i+len(`"RequestId":"`):], `"`)
	}
	if !guid.MatchString(id) || !strings.Contains(tea.StringValue(se.Message), "request id: "+id) {
		t.Errorf("%s: RequestId %q in data %s, message %q", code, id, data, tea.StringValue(se.Message))
	}
}

// unset lists the fields of a decoded typed response that are nil (pointer
// fields and lists, by path such as Vpcs.Vpc[0].DhcpOptionsSetId), except
// those in skip. A nil field is one the server did not send, or sent under
// another name or shape: dereferencing it panics in the caller's code.
// Every item of a list is walked.
func unset(v any, skip ...string) []string {
	var out []string
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		if slices.Contains(skip, path) {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				out = append(out, path)
				return
			}
			walk(path, v.Elem())
		case reflect.Struct:
			for i := range v.NumField() {
				if f := v.Type().Field(i); f.IsExported() {
					walk(strings.TrimPrefix(path+"."+f.Name, "."), v.Field(i))
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(fmt.Sprintf("%s[%d]", path, i), v.Index(i))
			}
		}
	}
	walk("", reflect.ValueOf(v))
	return out
}

// sortedPerms are a group's rules from DescribeSecurityGroupAttribute keyed
// by their description (every rule of these tests has a distinct one).
func sortedPerms(t testing.TB, c *ecs3.Client, sg string) map[string]*ecs3.DescribeSecurityGroupAttributeResponseBodyPermissionsPermission {
	t.Helper()
	b := must(c.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(sg)}))(t).Body
	out := map[string]*ecs3.DescribeSecurityGroupAttributeResponseBodyPermissionsPermission{}
	for _, p := range b.Permissions.Permission {
		out[dara.StringValue(p.Description)] = p
	}
	return out
}

// TestTeaSDKSecurityGroups drives security groups, their rules, tags and
// members through the typed clients and checks what the typed structs
// decode, field by field.
func TestTeaSDKSecurityGroups(t *testing.T) {
	e := newEnv(t)
	c, vc := teaClients(t, e.addr, e.ak, e.secret)

	vb := must(vc.CreateVpc(&vpc3.CreateVpcRequest{RegionId: str(region), CidrBlock: str("10.0.0.0/16"), VpcName: str("tea"), EnableIpv6: dara.Bool(true)}))(t).Body
	vpcID := dara.StringValue(vb.VpcId)
	vsw := dara.StringValue(must(vc.CreateVSwitch(&vpc3.CreateVSwitchRequest{RegionId: str(region), VpcId: str(vpcID),
		CidrBlock: str("10.0.1.0/24"), ZoneId: str(zone)}))(t).Body.VSwitchId)
	vpcs := must(vc.DescribeVpcs(&vpc3.DescribeVpcsRequest{RegionId: str(region), VpcId: str(vpcID)}))(t).Body
	if v := vpcs.Vpcs.Vpc; len(v) != 1 || dara.StringValue(v[0].CidrBlock) != "10.0.0.0/16" || dara.StringValue(v[0].VpcName) != "tea" ||
		!reflect.DeepEqual(dara.StringSliceValue(v[0].VSwitchIds.VSwitchId), []string{vsw}) || dara.Int32Value(vpcs.TotalCount) != 1 {
		t.Errorf("DescribeVpcs: %v", vpcs)
	}
	// DhcpOptionsSetId was left out of DescribeVpcs' items (DescribeVpcAttribute
	// had it).
	if u := unset(vpcs); len(u) > 0 {
		t.Errorf("DescribeVpcs leaves unset: %v", u)
	}

	create := func(name, typ string, tags ...*ecs3.CreateSecurityGroupRequestTag) string {
		t.Helper()
		r := &ecs3.CreateSecurityGroupRequest{RegionId: str(region), VpcId: str(vpcID), SecurityGroupName: str(name),
			Description: str("group " + name), Tag: tags}
		if typ != "" {
			r.SecurityGroupType = str(typ)
		}
		b := must(c.CreateSecurityGroup(r))(t).Body
		if !sgID.MatchString(dara.StringValue(b.SecurityGroupId)) || !guid.MatchString(dara.StringValue(b.RequestId)) {
			t.Fatalf("CreateSecurityGroup %s: %v", name, b)
		}
		return dara.StringValue(b.SecurityGroupId)
	}
	web := create("web", "", &ecs3.CreateSecurityGroupRequestTag{Key: str("env"), Value: str("dev")})
	peer := create("peer", "normal")
	ent := create("ent", "enterprise", &ecs3.CreateSecurityGroupRequestTag{Key: str("env"), Value: str("prod")})

	// A group as DescribeSecurityGroups decodes it.
	groups := func(r *ecs3.DescribeSecurityGroupsRequest) *ecs3.DescribeSecurityGroupsResponseBody {
		t.Helper()
		r.RegionId = str(region)
		return must(c.DescribeSecurityGroups(r))(t).Body
	}
	gs := groups(&ecs3.DescribeSecurityGroupsRequest{SecurityGroupId: str(ent)})
	if dara.Int32Value(gs.TotalCount) != 1 || dara.Int32Value(gs.PageNumber) != 1 || dara.Int32Value(gs.PageSize) != 10 ||
		dara.StringValue(gs.RegionId) != region || !guid.MatchString(dara.StringValue(gs.RequestId)) || len(gs.SecurityGroups.SecurityGroup) != 1 {
		t.Fatalf("DescribeSecurityGroups: %v", gs)
	}
	if u := unset(gs); len(u) > 0 {
		t.Errorf("DescribeSecurityGroups leaves unset: %v", u)
	}
	g := gs.SecurityGroups.SecurityGroup[0]
	if dara.StringValue(g.SecurityGroupId) != ent || dara.StringValue(g.SecurityGroupName) != "ent" || dara.StringValue(g.Description) != "group ent" ||
		dara.StringValue(g.SecurityGroupType) != "enterprise" || dara.StringValue(g.VpcId) != vpcID || dara.BoolValue(g.ServiceManaged) ||
		g.ServiceManaged == nil || g.RuleCount == nil || dara.Int32Value(g.RuleCount) != 0 || g.GroupToGroupRuleCount == nil ||
		g.ResourceGroupId == nil || len(g.Tags.Tag) != 1 || dara.StringValue(g.Tags.Tag[0].TagKey) != "env" || dara.StringValue(g.Tags.Tag[0].TagValue) != "prod" {
		t.Errorf("enterprise group: %v", g)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", dara.StringValue(g.CreationTime)); err != nil {
		t.Errorf("CreationTime %q: %v", dara.StringValue(g.CreationTime), err)
	}

	// Filters, each with the groups it must find.
	ids := func(b *ecs3.DescribeSecurityGroupsResponseBody) []string {
		var out []string
		for _, g := range b.SecurityGroups.SecurityGroup {
			out = append(out, dara.StringValue(g.SecurityGroupId))
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		name string
		r    *ecs3.DescribeSecurityGroupsRequest
		want []string
	}{
		{"type enterprise", &ecs3.DescribeSecurityGroupsRequest{SecurityGroupType: str("enterprise")}, []string{ent}},
		{"type normal", &ecs3.DescribeSecurityGroupsRequest{SecurityGroupType: str("normal")}, sorted(web, peer)},
		{"name", &ecs3.DescribeSecurityGroupsRequest{SecurityGroupName: str("peer")}, []string{peer}},
		{"ids", &ecs3.DescribeSecurityGroupsRequest{SecurityGroupIds: str(fmt.Sprintf(`["%s","%s"]`, web, ent))}, sorted(web, ent)},
		{"vpc", &ecs3.DescribeSecurityGroupsRequest{VpcId: str(vpcID), NetworkType: str("vpc")}, sorted(web, peer, ent)},
		{"tag", &ecs3.DescribeSecurityGroupsRequest{Tag: []*ecs3.DescribeSecurityGroupsRequestTag{{Key: str("env"), Value: str("dev")}}}, []string{web}},
		{"tag key", &ecs3.DescribeSecurityGroupsRequest{Tag: []*ecs3.DescribeSecurityGroupsRequestTag{{Key: str("env")}}}, sorted(web, ent)},
		{"unknown id", &ecs3.DescribeSecurityGroupsRequest{SecurityGroupId: str("sg-000000000000000000zz")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(groups(tc.r)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	// Paging: by page number (with TotalCount) and by token (without).
	more := []string{web, peer, ent}
	for i := range 9 {
		more = append(more, create(fmt.Sprintf("page-%d", i), ""))
	}
	var paged []string
	for n := int32(1); n <= 3; n++ {
		b := groups(&ecs3.DescribeSecurityGroupsRequest{PageNumber: dara.Int32(n), PageSize: dara.Int32(5)})
		if dara.Int32Value(b.TotalCount) != 12 || dara.Int32Value(b.PageNumber) != n || dara.Int32Value(b.PageSize) != 5 {
			t.Errorf("page %d: TotalCount %v PageNumber %v PageSize %v", n, dara.Int32Value(b.TotalCount), dara.Int32Value(b.PageNumber), dara.Int32Value(b.PageSize))
		}
		paged = append(paged, ids(b)...)
	}
	if slices.Sort(paged); !reflect.DeepEqual(paged, sorted(more...)) {
		t.Errorf("pages gave %v, want %v", paged, sorted(more...))
	}
	var tokened []string
	token, pages := "", 0
	for {
		r := &ecs3.DescribeSecurityGroupsRequest{MaxResults: dara.Int32(10)}
		if token != "" {
			r.NextToken = str(token)
		}
		b := groups(r)
		if b.TotalCount != nil {
			t.Errorf("token paging answered TotalCount %d", dara.Int32Value(b.TotalCount))
		}
		tokened = append(tokened, ids(b)...)
		pages++
		if token = dara.StringValue(b.NextToken); token == "" || pages > 3 {
			break
		}
	}
	if slices.Sort(tokened); pages != 2 || !reflect.DeepEqual(tokened, sorted(more...)) {
		t.Errorf("%d token pages gave %v, want 2 pages of %v", pages, tokened, sorted(more...))
	}

	// An empty group.
	attr := func(sg, direction string) *ecs3.DescribeSecurityGroupAttributeResponseBody {
		t.Helper()
		r := &ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(sg)}
		if direction != "" {
			r.Direction = str(direction)
		}
		return must(c.DescribeSecurityGroupAttribute(r))(t).Body
	}
	a := attr(peer, "")
	if dara.StringValue(a.SecurityGroupId) != peer || dara.StringValue(a.SecurityGroupName) != "peer" || dara.StringValue(a.Description) != "group peer" ||
		dara.StringValue(a.VpcId) != vpcID || dara.StringValue(a.RegionId) != region || dara.StringValue(a.InnerAccessPolicy) != "Accept" ||
		a.Permissions == nil || len(a.Permissions.Permission) != 0 || !guid.MatchString(dara.StringValue(a.RequestId)) {
		t.Errorf("empty group: %v", a)
	}
	if a := attr(ent, ""); dara.StringValue(a.InnerAccessPolicy) != "Drop" {
		t.Errorf("enterprise group InnerAccessPolicy %v", dara.StringValue(a.InnerAccessPolicy))
	}

	// Lists to reference.
	pl := dara.StringValue(must(c.CreatePrefixList(&ecs3.CreatePrefixListRequest{RegionId: str(region), AddressFamily: str("IPv4"),
		MaxEntries: dara.Int32(5), PrefixListName: str("office"),
		Entry: []*ecs3.CreatePrefixListRequestEntry{{Cidr: str("192.168.0.0/24"), Description: str("hq")}}}))(t).Body.PrefixListId)
	prl := dara.StringValue(must(c.CreatePortRangeList(&ecs3.CreatePortRangeListRequest{RegionId: str(region), MaxEntries: dara.Int32(5),
		PortRangeListName: str("web"), Entry: []*ecs3.CreatePortRangeListRequestEntry{{PortRange: str("80/80")}, {PortRange: str("443/443")}}}))(t).Body.PortRangeListId)
	if !strings.HasPrefix(pl, "pl-") || !strings.HasPrefix(prl, "prl-") {
		t.Fatalf("lists %q %q", pl, prl)
	}

	must(c.AuthorizeSecurityGroup(&ecs3.AuthorizeSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(web),
		Permissions: []*ecs3.AuthorizeSecurityGroupRequestPermissions{
			{IpProtocol: str("TCP"), PortRange: str("22/22"), SourceCidrIp: str("10.0.0.0/8"), Priority: str("5"), Description: str("ssh")},
			{IpProtocol: str("tcp"), PortRange: str("5432/5432"), SourceGroupId: str(peer), Policy: str("accept"), Description: str("db")},
			{IpProtocol: str("TCP"), PortRange: str("8080/8080"), Ipv6SourceCidrIp: str("2001:DB8::/32"), Policy: str("Drop"), Priority: str("10"), Description: str("v6")},
			{IpProtocol: str("TCP"), PortRange: str("443/443"), SourcePrefixListId: str(pl), Description: str("office")},
			{IpProtocol: str("TCP"), PortRangeListId: str(prl), SourceCidrIp: str("0.0.0.0/0"), Description: str("ports")},
			{IpProtocol: str("UDP"), PortRange: str("53/53"), SourceCidrIp: str("10.1.0.0/16"), SourcePortRange: str("1024/65535"),
				DestCidrIp: str("10.0.1.0/24"), Description: str("quintuple")},
		}}))(t)
	must(c.AuthorizeSecurityGroupEgress(&ecs3.AuthorizeSecurityGroupEgressRequest{RegionId: str(region), SecurityGroupId: str(web),
		Permissions: []*ecs3.AuthorizeSecurityGroupEgressRequestPermissions{
			{IpProtocol: str("ALL"), PortRange: str("-1/-1"), DestCidrIp: str("0.0.0.0/0"), Policy: str("Drop"), Priority: str("100"), Description: str("deny all")},
			{IpProtocol: str("TCP"), PortRange: str("5432/5432"), DestGroupId: str(peer), Description: str("to db")},
			{IpProtocol: str("ICMPv6"), PortRange: str("-1/-1"), Ipv6DestCidrIp: str("::/0"), Description: str("ping6")},
		}}))(t)

	// Every rule field is sent, "" when it does not apply.
	if u := unset(attr(web, ""), "SnapshotPolicyIds"); len(u) > 0 {
		t.Errorf("DescribeSecurityGroupAttribute leaves unset: %v", u)
	}
	perms := sortedPerms(t, c, web)
	if len(perms) != 9 {
		t.Fatalf("%d rules: %v", len(perms), perms)
	}
	type want struct{ field, value string }
	for desc, fields := range map[string][]want{
		"ssh": {{"Direction", "ingress"}, {"IpProtocol", "TCP"}, {"PortRange", "22/22"}, {"SourceCidrIp", "10.0.0.0/8"}, {"Priority", "5"},
			{"Policy", "Accept"}, {"NicType", "intranet"}, {"SourcePortRange", ""}, {"SourceGroupId", ""}, {"PortRangeListId", ""}},
		"db":        {{"IpProtocol", "TCP"}, {"SourceGroupId", peer}, {"SourceGroupName", "peer"}, {"SourceGroupOwnerAccount", ""}, {"Policy", "Accept"}, {"Priority", "1"}},
		"v6":        {{"Ipv6SourceCidrIp", "2001:db8::/32"}, {"SourceCidrIp", ""}, {"Policy", "Drop"}, {"Priority", "10"}},
		"office":    {{"SourcePrefixListId", pl}, {"SourcePrefixListName", "office"}, {"PortRange", "443/443"}},
		"ports":     {{"PortRangeListId", prl}, {"PortRangeListName", "web"}, {"PortRange", ""}},
		"quintuple": {{"IpProtocol", "UDP"}, {"SourcePortRange", "1024/65535"}, {"DestCidrIp", "10.0.1.0/24"}, {"SourceCidrIp", "10.1.0.0/16"}},
		"deny all":  {{"Direction", "egress"}, {"IpProtocol", "ALL"}, {"PortRange", "-1/-1"}, {"DestCidrIp", "0.0.0.0/0"}, {"Policy", "Drop"}, {"Priority", "100"}},
		"to db":     {{"Direction", "egress"}, {"DestGroupId", peer}, {"DestGroupName", "peer"}, {"DestGroupOwnerAccount", ""}},
		"ping6":     {{"Direction", "egress"}, {"IpProtocol", "ICMPv6"}, {"Ipv6DestCidrIp", "::/0"}},
	} {
		p := perms[desc]
		if p == nil {
			t.Errorf("no rule %q", desc)
			continue
		}
		v := reflect.ValueOf(p).Elem()
		for _, w := range fields {
			f := v.FieldByName(w.field)
			if f.IsNil() || f.Elem().String() != w.value {
				t.Errorf("%s: %s is %v, want %q", desc, w.field, f, w.value)
			}
		}
		if !ruleID.MatchString(dara.StringValue(p.SecurityGroupRuleId)) {
			t.Errorf("%s: SecurityGroupRuleId %q", desc, dara.StringValue(p.SecurityGroupRuleId))
		}
		if _, err := time.Parse("2006-01-02T15:04:05Z", dara.StringValue(p.CreateTime)); err != nil {
			t.Errorf("%s: CreateTime %q: %v", desc, dara.StringValue(p.CreateTime), err)
		}
	}
	if n := len(attr(web, "egress").Permissions.Permission); n != 3 {
		t.Errorf("%d egress rules, want 3", n)
	}
	g = groups(&ecs3.DescribeSecurityGroupsRequest{SecurityGroupId: str(web)}).SecurityGroups.SecurityGroup[0]
	// The prefix and port lists weigh their MaxEntries (5 each) in RuleCount.
	if dara.Int32Value(g.RuleCount) != 17 || dara.Int32Value(g.GroupToGroupRuleCount) != 2 {
		t.Errorf("RuleCount %d GroupToGroupRuleCount %d, want 17 and 2", dara.Int32Value(g.RuleCount), dara.Int32Value(g.GroupToGroupRuleCount))
	}

	// ModifySecurityGroupRule / ModifySecurityGroupEgressRule by rule ID:
	// the fields given change, the others stay.
	must(c.ModifySecurityGroupRule(&ecs3.ModifySecurityGroupRuleRequest{RegionId: str(region), SecurityGroupId: str(web),
		SecurityGroupRuleId: perms["ssh"].SecurityGroupRuleId, PortRange: str("2222/2222"), Priority: str("7"), Description: str("ssh2")}))(t)
	must(c.ModifySecurityGroupEgressRule(&ecs3.ModifySecurityGroupEgressRuleRequest{RegionId: str(region), SecurityGroupId: str(web),
		SecurityGroupRuleId: perms["deny all"].SecurityGroupRuleId, Policy: str("Accept"), Description: str("allow all")}))(t)
	perms2 := sortedPerms(t, c, web)
	if p := perms2["ssh2"]; p == nil || dara.StringValue(p.SecurityGroupRuleId) != dara.StringValue(perms["ssh"].SecurityGroupRuleId) ||
		dara.StringValue(p.PortRange) != "2222/2222" || dara.StringValue(p.Priority) != "7" || dara.StringValue(p.SourceCidrIp) != "10.0.0.0/8" {
		t.Errorf("modified ingress rule: %v", p)
	}
	if p := perms2["allow all"]; p == nil || dara.StringValue(p.Policy) != "Accept" || dara.StringValue(p.Priority) != "100" {
		t.Errorf("modified egress rule: %v", p)
	}

	// ModifySecurityGroupPolicy and ModifySecurityGroupAttribute.
	must(c.ModifySecurityGroupPolicy(&ecs3.ModifySecurityGroupPolicyRequest{RegionId: str(region), SecurityGroupId: str(web), InnerAccessPolicy: str("drop")}))(t)
	must(c.ModifySecurityGroupAttribute(&ecs3.ModifySecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(web),
		SecurityGroupName: str("web-2"), Description: str("the web tier")}))(t)
	if a := attr(web, "ingress"); dara.StringValue(a.InnerAccessPolicy) != "Drop" || dara.StringValue(a.SecurityGroupName) != "web-2" ||
		dara.StringValue(a.Description) != "the web tier" || len(a.Permissions.Permission) != 6 {
		t.Errorf("after the policy and attribute changes: %v", a)
	}

	// RevokeSecurityGroup by rule IDs; RevokeSecurityGroupEgress by
	// Permissions.
	must(c.RevokeSecurityGroup(&ecs3.RevokeSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(web),
		SecurityGroupRuleId: []*string{perms["v6"].SecurityGroupRuleId, perms["quintuple"].SecurityGroupRuleId}}))(t)
	must(c.RevokeSecurityGroupEgress(&ecs3.RevokeSecurityGroupEgressRequest{RegionId: str(region), SecurityGroupId: str(web),
		Permissions: []*ecs3.RevokeSecurityGroupEgressRequestPermissions{{IpProtocol: str("ICMPv6"), PortRange: str("-1/-1"), Ipv6DestCidrIp: str("::/0")}}}))(t)
	perms3 := sortedPerms(t, c, web)
	if len(perms3) != 6 || perms3["v6"] != nil || perms3["quintuple"] != nil || perms3["ping6"] != nil {
		t.Errorf("after the revokes: %v", perms3)
	}

	// Tags.
	must(c.TagResources(&ecs3.TagResourcesRequest{RegionId: str(region), ResourceType: str("securitygroup"), ResourceId: []*string{str(peer), str(ent)},
		Tag: []*ecs3.TagResourcesRequestTag{{Key: str("tier"), Value: str("db")}}}))(t)
	type tagRes struct{ id, key, value string }
	listTags := func(r *ecs3.ListTagResourcesRequest) []tagRes {
		t.Helper()
		r.RegionId, r.ResourceType = str(region), str("securitygroup")
		b := must(c.ListTagResources(r))(t).Body
		var out []tagRes
		for _, tr := range b.TagResources.TagResource {
			if dara.StringValue(tr.ResourceType) != "securitygroup" {
				t.Errorf("ResourceType %q", dara.StringValue(tr.ResourceType))
			}
			out = append(out, tagRes{dara.StringValue(tr.ResourceId), dara.StringValue(tr.TagKey), dara.StringValue(tr.TagValue)})
		}
		slices.SortFunc(out, func(a, b tagRes) int { return strings.Compare(a.id+a.key, b.id+b.key) })
		return out
	}
	byID := func(l []tagRes) []tagRes {
		slices.SortFunc(l, func(a, b tagRes) int { return strings.Compare(a.id+a.key, b.id+b.key) })
		return l
	}
	for _, tc := range []struct {
		name string
		r    *ecs3.ListTagResourcesRequest
		want []tagRes
	}{
		{"ids", &ecs3.ListTagResourcesRequest{ResourceId: []*string{str(peer), str(web)}}, byID([]tagRes{{peer, "tier", "db"}, {web, "env", "dev"}})},
		// Tag and TagFilter select resources; each comes with all its tags.
		{"tag", &ecs3.ListTagResourcesRequest{Tag: []*ecs3.ListTagResourcesRequestTag{{Key: str("tier"), Value: str("db")}}},
			byID([]tagRes{{peer, "tier", "db"}, {ent, "tier", "db"}, {ent, "env", "prod"}})},
		{"tag filter", &ecs3.ListTagResourcesRequest{TagFilter: []*ecs3.ListTagResourcesRequestTagFilter{{TagKey: str("env"), TagValues: []*string{str("dev"), str("prod")}}}},
			byID([]tagRes{{web, "env", "dev"}, {ent, "env", "prod"}, {ent, "tier", "db"}})},
	} {
		t.Run("ListTagResources "+tc.name, func(t *testing.T) {
			if got := listTags(tc.r); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	must(c.UntagResources(&ecs3.UntagResourcesRequest{RegionId: str(region), ResourceType: str("securitygroup"), ResourceId: []*string{str(ent)}, TagKey: []*string{str("tier")}}))(t)
	if got := listTags(&ecs3.ListTagResourcesRequest{ResourceId: []*string{str(ent)}}); !reflect.DeepEqual(got, []tagRes{{ent, "env", "prod"}}) {
		t.Errorf("after UntagResources: %v", got)
	}

	// Members.
	run := must(c.RunInstances(&ecs3.RunInstancesRequest{RegionId: str(region), ImageId: str(imageID), InstanceType: str(instanceType),
		VSwitchId: str(vsw), SecurityGroupIds: []*string{str(web)}, Amount: dara.Int32(1)}))(t).Body
	if run.InstanceIdSets == nil || len(run.InstanceIdSets.InstanceIdSet) != 1 {
		t.Fatalf("RunInstances: %v", run)
	}
	inst := run.InstanceIdSets.InstanceIdSet[0]
	must(c.JoinSecurityGroup(&ecs3.JoinSecurityGroupRequest{RegionId: str(region), InstanceId: inst, SecurityGroupId: str(peer)}))(t)
	memberOf := func() []string {
		t.Helper()
		b := must(c.DescribeInstanceAttribute(&ecs3.DescribeInstanceAttributeRequest{InstanceId: inst}))(t).Body
		return dara.StringSliceValue(b.SecurityGroupIds.SecurityGroupId)
	}
	if got := memberOf(); !reflect.DeepEqual(got, []string{web, peer}) {
		t.Errorf("groups after the join: %v", got)
	}
	insts := must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region), SecurityGroupId: str(peer)}))(t).Body
	if l := insts.Instances.Instance; len(l) != 1 || dara.StringValue(l[0].InstanceId) != dara.StringValue(inst) {
		t.Errorf("DescribeInstances by group: %v", insts)
	}
	must(c.LeaveSecurityGroup(&ecs3.LeaveSecurityGroupRequest{RegionId: str(region), InstanceId: inst, SecurityGroupId: str(web)}))(t)
	if got := memberOf(); !reflect.DeepEqual(got, []string{peer}) {
		t.Errorf("groups after the leave: %v", got)
	}

	refs := must(c.DescribeSecurityGroupReferences(&ecs3.DescribeSecurityGroupReferencesRequest{RegionId: str(region), SecurityGroupId: []*string{str(peer)}}))(t).Body
	if r := refs.SecurityGroupReferences.SecurityGroupReference; len(r) != 1 || dara.StringValue(r[0].SecurityGroupId) != peer ||
		len(r[0].ReferencingSecurityGroups.ReferencingSecurityGroup) != 1 ||
		dara.StringValue(r[0].ReferencingSecurityGroups.ReferencingSecurityGroup[0].SecurityGroupId) != web ||
		dara.StringValue(r[0].ReferencingSecurityGroups.ReferencingSecurityGroup[0].AliUid) != e.srv.UID {
		t.Errorf("DescribeSecurityGroupReferences: %v", refs)
	}
	if u := unset(refs); len(u) > 0 {
		t.Errorf("DescribeSecurityGroupReferences leaves unset: %v", u)
	}

	// Deletion: refused while referenced or with members, then done.
	_, err := c.DeleteSecurityGroup(&ecs3.DeleteSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(peer)})
	wantTeaErr(t, err, 403, "DependencyViolation")
	must(c.DeleteSecurityGroup(&ecs3.DeleteSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(ent)}))(t)
	_, err = c.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(ent)})
	wantTeaErr(t, err, 404, "InvalidSecurityGroupId.NotFound")
}

// TestTeaSDKErrors: errors reach the typed clients as *tea.SDKError with
// the server's code, HTTP status and RequestId, and change nothing.
func TestTeaSDKErrors(t *testing.T) {
	e := newEnv(t)
	c, vc := teaClients(t, e.addr, e.ak, e.secret)
	vpcID := dara.StringValue(must(vc.CreateVpc(&vpc3.CreateVpcRequest{RegionId: str(region), CidrBlock: str("10.0.0.0/16")}))(t).Body.VpcId)
	sg := dara.StringValue(must(c.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), VpcId: str(vpcID)}))(t).Body.SecurityGroupId)
	ent := dara.StringValue(must(c.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), VpcId: str(vpcID),
		SecurityGroupType: str("enterprise")}))(t).Body.SecurityGroupId)
	vsw := dara.StringValue(must(vc.CreateVSwitch(&vpc3.CreateVSwitchRequest{RegionId: str(region), VpcId: str(vpcID),
		CidrBlock: str("10.0.1.0/24"), ZoneId: str(zone)}))(t).Body.VSwitchId)
	bad, _ := teaClients(t, e.addr, e.ak, "wrong")
	nobody, _ := teaClients(t, e.addr, "LTAInobodyhas", e.secret)
	unknown := "sg-000000000000000000zz"

	authorize := func(ps ...*ecs3.AuthorizeSecurityGroupRequestPermissions) error {
		_, err := c.AuthorizeSecurityGroup(&ecs3.AuthorizeSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(sg), Permissions: ps})
		return err
	}
	ports := func(from, n int) []*ecs3.AuthorizeSecurityGroupRequestPermissions {
		out := make([]*ecs3.AuthorizeSecurityGroupRequestPermissions, n)
		for i := range out {
			out[i] = &ecs3.AuthorizeSecurityGroupRequestPermissions{IpProtocol: str("TCP"), PortRange: str(fmt.Sprintf("%d/%d", from+i, from+i)), SourceCidrIp: str("10.0.0.0/8")}
		}
		return out
	}
	noErr(t, authorize(ports(1, 100)...))
	noErr(t, authorize(ports(101, 100)...))

	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"unknown group", func() error {
			_, err := c.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(unknown)})
			return err
		}, 404, "InvalidSecurityGroupId.NotFound"},
		{"unknown group delete", func() error {
			_, err := c.DeleteSecurityGroup(&ecs3.DeleteSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(unknown)})
			return err
		}, 404, "InvalidSecurityGroupId.NotFound"},
		{"bad CIDR", func() error {
			return authorize(&ecs3.AuthorizeSecurityGroupRequestPermissions{IpProtocol: str("TCP"), PortRange: str("22/22"), SourceCidrIp: str("10.0.0.300/8")})
		}, 400, "InvalidSourceCidrIp.Malformed"},
		{"rule quota", func() error { return authorize(ports(1000, 1)...) }, 403, "AuthorizationLimitExceed"},
		{"bad policy", func() error {
			_, err := c.ModifySecurityGroupPolicy(&ecs3.ModifySecurityGroupPolicyRequest{RegionId: str(region), SecurityGroupId: str(sg), InnerAccessPolicy: str("maybe")})
			return err
		}, 400, "InvalidPolicy.Malformed"},
		{"enterprise policy", func() error {
			_, err := c.ModifySecurityGroupPolicy(&ecs3.ModifySecurityGroupPolicyRequest{RegionId: str(region), SecurityGroupId: str(ent), InnerAccessPolicy: str("Accept")})
			return err
		}, 404, "InvalidParameter.InnerAccessPolicy"},
		{"unknown rule ID", func() error {
			_, err := c.RevokeSecurityGroup(&ecs3.RevokeSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(sg), SecurityGroupRuleId: []*string{str("sgr-000000000000000000zz")}})
			return err
		}, 404, "InvalidSecurityGroupRuleId.NotFound"},
		{"enterprise type without a VPC", func() error {
			_, err := c.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), SecurityGroupType: str("enterprise")})
			return err
		}, 400, "InvalidParams.VpcIdGroupType"},
		{"wrong secret", func() error {
			_, err := bad.DescribeSecurityGroups(&ecs3.DescribeSecurityGroupsRequest{RegionId: str(region)})
			return err
		}, 400, "SignatureDoesNotMatch"},
		// NetworkInterface.N was not read: the instance was launched with
		// its primary interface alone, in sg, and the call answered success.
		{"launch with NetworkInterface.N", func() error {
			_, err := c.RunInstances(&ecs3.RunInstancesRequest{RegionId: str(region), ImageId: str(imageID), InstanceType: str(instanceType),
				VSwitchId: str(vsw), SecurityGroupId: str(sg), NetworkInterface: []*ecs3.RunInstancesRequestNetworkInterface{
					{InstanceType: str("Secondary"), VSwitchId: str(vsw), SecurityGroupIds: []*string{str(ent)}}}})
			return err
		}, 400, "OperationUnsupported.NetworkInterface"},
		{"unknown key", func() error {
			_, err := nobody.DescribeSecurityGroups(&ecs3.DescribeSecurityGroupsRequest{RegionId: str(region)})
			return err
		}, 400, "InvalidAccessKeyId.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantTeaErr(t, tc.call(), tc.status, tc.code) })
	}
	b := must(c.DescribeSecurityGroups(&ecs3.DescribeSecurityGroupsRequest{RegionId: str(region), SecurityGroupId: str(sg)}))(t).Body
	if g := b.SecurityGroups.SecurityGroup; len(g) != 1 || dara.Int32Value(g[0].RuleCount) != 200 {
		t.Errorf("after the refusals: %v", b)
	}
	if a := must(c.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(sg)}))(t).Body; dara.StringValue(a.InnerAccessPolicy) != "Accept" {
		t.Errorf("InnerAccessPolicy %q after a refused change", dara.StringValue(a.InnerAccessPolicy))
	}

	if n := must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region)}))(t).Body.TotalCount; dara.Int32Value(n) != 0 {
		t.Errorf("%d instances after a refused launch", dara.Int32Value(n))
	}

	// Throttling reaches the typed client (through darabonba's
	// ThrottlingError) as the same *tea.SDKError.
	srv := testenv.Start(t, testenv.Config{RateLimit: ratelimit.Config{PerAction: 0.01, ActionBurst: 1, PerAccount: 1000, AccountBurst: 1000}})
	tc, _ := teaClients(t, srv.Addr, srv.KeyID, srv.Secret)
	describe := func() error {
		_, err := tc.DescribeSecurityGroups(&ecs3.DescribeSecurityGroupsRequest{RegionId: str(region)})
		return err
	}
	noErr(t, describe())
	wantTeaErr(t, describe(), 400, "Throttling.User")
}

// TestTeaSDKForms: the typed clients' other encodings: int64 owner IDs in
// Permissions (cross-account peers on the classic network), the legacy
// flat rule form, MaxResults/NextToken paging of a group's rules, a
// ClientToken, list parameters of ENIs and instances, and OwnerId, which
// every typed request carries and which names no other account's
// resources.
func TestTeaSDKForms(t *testing.T) {
	e := newEnv(t)
	c, vc := teaClients(t, e.addr, e.ak, e.secret)
	partner := e.srv.NewAccount(t, "partner")
	pc, _ := teaClients(t, e.addr, partner.KeyID, partner.Secret)
	var uid int64
	if _, err := fmt.Sscan(e.srv.UID, &uid); err != nil {
		t.Fatal(err)
	}
	classic := func(c *ecs3.Client, name string) string {
		return dara.StringValue(must(c.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), SecurityGroupName: str(name)}))(t).Body.SecurityGroupId)
	}
	target, mine := classic(c, "shared"), classic(pc, "mine")

	// Cross-account peers by owner ID (an int64 in the typed structs), in
	// the Permissions and the flat form.
	must(pc.AuthorizeSecurityGroup(&ecs3.AuthorizeSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(mine),
		Permissions: []*ecs3.AuthorizeSecurityGroupRequestPermissions{{IpProtocol: str("TCP"), PortRange: str("5432/5432"),
			SourceGroupId: str(target), SourceGroupOwnerId: dara.Int64(uid), Description: str("permissions")}}}))(t)
	must(pc.AuthorizeSecurityGroup(&ecs3.AuthorizeSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(mine),
		IpProtocol: str("TCP"), PortRange: str("6379/6379"), SourceGroupId: str(target), SourceGroupOwnerId: dara.Int64(uid),
		NicType: str("intranet"), Description: str("flat")}))(t)
	must(pc.AuthorizeSecurityGroupEgress(&ecs3.AuthorizeSecurityGroupEgressRequest{RegionId: str(region), SecurityGroupId: str(mine),
		Permissions: []*ecs3.AuthorizeSecurityGroupEgressRequestPermissions{{IpProtocol: str("TCP"), PortRange: str("5432/5432"),
			DestGroupId: str(target), DestGroupOwnerId: dara.Int64(uid), Description: str("egress")}}}))(t)
	ps := must(pc.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(mine),
		NicType: str("intranet")}))(t).Body.Permissions.Permission
	if len(ps) != 3 {
		t.Fatalf("%d cross-account rules", len(ps))
	}
	for _, p := range ps {
		peer, owner := p.SourceGroupId, p.SourceGroupOwnerAccount
		if dara.StringValue(p.Direction) == "egress" {
			peer, owner = p.DestGroupId, p.DestGroupOwnerAccount
		}
		if dara.StringValue(peer) != target || dara.StringValue(owner) != e.srv.UID || dara.StringValue(p.NicType) != "intranet" {
			t.Errorf("%s: peer %s owner %s nic %s", dara.StringValue(p.Description), dara.StringValue(peer), dara.StringValue(owner), dara.StringValue(p.NicType))
		}
	}
	refs := must(c.DescribeSecurityGroupReferences(&ecs3.DescribeSecurityGroupReferencesRequest{RegionId: str(region), SecurityGroupId: []*string{str(target)}}))(t).Body
	if r := refs.SecurityGroupReferences.SecurityGroupReference; len(r) != 1 || len(r[0].ReferencingSecurityGroups.ReferencingSecurityGroup) != 1 ||
		dara.StringValue(r[0].ReferencingSecurityGroups.ReferencingSecurityGroup[0].AliUid) != partner.UID {
		t.Errorf("references: %v", refs)
	}

	// OwnerId and ResourceOwnerId name no other account.
	_, err := pc.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(target),
		OwnerId: dara.Int64(uid), ResourceOwnerId: dara.Int64(uid), OwnerAccount: str("default"), ResourceOwnerAccount: str("default")})
	wantTeaErr(t, err, 404, "InvalidSecurityGroupId.NotFound")

	vpcID := dara.StringValue(must(vc.CreateVpc(&vpc3.CreateVpcRequest{RegionId: str(region), CidrBlock: str("10.0.0.0/16")}))(t).Body.VpcId)
	vsw := dara.StringValue(must(vc.CreateVSwitch(&vpc3.CreateVSwitchRequest{RegionId: str(region), VpcId: str(vpcID),
		CidrBlock: str("10.0.1.0/24"), ZoneId: str(zone)}))(t).Body.VSwitchId)
	// The same ClientToken gives the same group.
	create := func(token string) string {
		return dara.StringValue(must(c.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), VpcId: str(vpcID), ClientToken: str(token)}))(t).Body.SecurityGroupId)
	}
	sg := create("tea-token-1")
	if again := create("tea-token-1"); again != sg {
		t.Errorf("the same ClientToken made %s and %s", sg, again)
	}
	// A rule page of MaxResults, then the rest by NextToken.
	var perms []*ecs3.AuthorizeSecurityGroupRequestPermissions
	for p := 1; p <= 12; p++ {
		perms = append(perms, &ecs3.AuthorizeSecurityGroupRequestPermissions{IpProtocol: str("TCP"), PortRange: str(fmt.Sprintf("%d/%d", p, p)), SourceCidrIp: str("10.0.0.0/8")})
	}
	must(c.AuthorizeSecurityGroup(&ecs3.AuthorizeSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(sg), Permissions: perms}))(t)
	first := must(c.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(sg), MaxResults: dara.Int32(10)}))(t).Body
	if len(first.Permissions.Permission) != 10 || dara.StringValue(first.NextToken) == "" {
		t.Fatalf("first page: %d rules, NextToken %q", len(first.Permissions.Permission), dara.StringValue(first.NextToken))
	}
	rest := must(c.DescribeSecurityGroupAttribute(&ecs3.DescribeSecurityGroupAttributeRequest{RegionId: str(region), SecurityGroupId: str(sg),
		MaxResults: dara.Int32(10), NextToken: first.NextToken}))(t).Body
	if len(rest.Permissions.Permission) != 2 || dara.StringValue(rest.NextToken) != "" {
		t.Errorf("second page: %d rules, NextToken %q", len(rest.Permissions.Permission), dara.StringValue(rest.NextToken))
	}

	// ENI and instance group lists (SecurityGroupIds.N, SecurityGroupId.N).
	other := create("tea-token-2")
	eni := must(c.CreateNetworkInterface(&ecs3.CreateNetworkInterfaceRequest{RegionId: str(region), VSwitchId: str(vsw), SecurityGroupIds: []*string{str(sg)}}))(t).Body
	if !reflect.DeepEqual(dara.StringSliceValue(eni.SecurityGroupIds.SecurityGroupId), []string{sg}) {
		t.Errorf("CreateNetworkInterface: %v", eni)
	}
	must(c.JoinSecurityGroup(&ecs3.JoinSecurityGroupRequest{RegionId: str(region), NetworkInterfaceId: eni.NetworkInterfaceId, SecurityGroupId: str(other)}))(t)
	enis := must(c.DescribeNetworkInterfaces(&ecs3.DescribeNetworkInterfacesRequest{RegionId: str(region), SecurityGroupId: str(other)}))(t).Body.NetworkInterfaceSets.NetworkInterfaceSet
	if len(enis) != 1 || !reflect.DeepEqual(dara.StringSliceValue(enis[0].SecurityGroupIds.SecurityGroupId), []string{sg, other}) {
		t.Errorf("DescribeNetworkInterfaces after the join: %v", enis)
	}
	must(c.ModifyNetworkInterfaceAttribute(&ecs3.ModifyNetworkInterfaceAttributeRequest{RegionId: str(region), NetworkInterfaceId: eni.NetworkInterfaceId,
		SecurityGroupId: []*string{str(other)}}))(t)
	_, err = c.LeaveSecurityGroup(&ecs3.LeaveSecurityGroupRequest{RegionId: str(region), NetworkInterfaceId: eni.NetworkInterfaceId, SecurityGroupId: str(other)})
	wantTeaErr(t, err, 403, "InvalidOperation.AtLeastInOneGroup")

	inst := must(c.RunInstances(&ecs3.RunInstancesRequest{RegionId: str(region), ImageId: str(imageID), InstanceType: str(instanceType),
		VSwitchId: str(vsw), SecurityGroupId: str(sg)}))(t).Body.InstanceIdSets.InstanceIdSet[0]
	must(c.ModifyInstanceAttribute(&ecs3.ModifyInstanceAttributeRequest{InstanceId: inst, SecurityGroupIds: []*string{str(other), str(sg)}}))(t)
	ia := must(c.DescribeInstanceAttribute(&ecs3.DescribeInstanceAttributeRequest{InstanceId: inst}))(t).Body
	if got := dara.StringSliceValue(ia.SecurityGroupIds.SecurityGroupId); !reflect.DeepEqual(got, []string{other, sg}) {
		t.Errorf("groups after ModifyInstanceAttribute: %v", got)
	}
	_, err = c.JoinSecurityGroup(&ecs3.JoinSecurityGroupRequest{InstanceId: inst, SecurityGroupId: str(sg)})
	wantTeaErr(t, err, 403, "InvalidInstanceId.AlreadyExists")
	_, err = c.DeleteSecurityGroup(&ecs3.DeleteSecurityGroupRequest{RegionId: str(region), SecurityGroupId: str(other)})
	wantTeaErr(t, err, 403, "DependencyViolation")
}
