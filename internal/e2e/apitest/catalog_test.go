package apitest

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

var plID = regexp.MustCompile(`^pl-[a-z0-9]{20}$`)

func TestRegionsAndZones(t *testing.T) {
	e := newEnv(t)
	regions := must(e.ecs.DescribeRegions(ecs.CreateDescribeRegionsRequest()))(t).Regions.Region
	var ids []string
	for _, r := range regions {
		ids = append(ids, r.RegionId)
		// Every region's endpoint is this server as the client addressed it,
		// so clients that resolve endpoints keep talking to Palisade.
		if r.RegionEndpoint != e.addr || r.Status != "available" || r.LocalName == "" {
			t.Errorf("region decoded as %+v", r)
		}
	}
	for _, want := range []string{"cn-hangzhou", "cn-shanghai", "ap-southeast-1", "eu-central-1"} {
		if !slices.Contains(ids, want) {
			t.Errorf("DescribeRegions lacks %s: %v", want, ids)
		}
	}

	zr := ecs.CreateDescribeZonesRequest()
	zr.RegionId = "cn-hangzhou"
	var zones []string
	for _, z := range must(e.ecs.DescribeZones(zr))(t).Zones.Zone {
		zones = append(zones, z.ZoneId)
		if z.LocalName == "" {
			t.Errorf("zone decoded as %+v", z)
		}
	}
	if !slices.Equal(zones, []string{"cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"}) {
		t.Errorf("DescribeZones cn-hangzhou: %v", zones)
	}
	// A fresh request: the classic SDK keeps the query of a request object
	// once sent, so a reused one would still carry the old RegionId.
	zr = ecs.CreateDescribeZonesRequest()
	zr.RegionId = "mars-north-1"
	_, err := e.ecs.DescribeZones(zr)
	wantErr(t, err, 404, "InvalidRegionId.NotFound")
}

// tagRows lists key=value rows ListTagResources returns for one resource.
func tagRows(t testing.TB, c *ecs.Client, typ, id string) []string {
	t.Helper()
	r := ecs.CreateListTagResourcesRequest()
	r.ResourceType, r.ResourceId = typ, &[]string{id}
	var rows []string
	for _, tr := range must(c.ListTagResources(r))(t).TagResources.TagResource {
		if tr.ResourceId != id || tr.ResourceType != typ {
			t.Errorf("row %+v for %s %s", tr, typ, id)
		}
		rows = append(rows, tr.TagKey+"="+tr.TagValue)
	}
	slices.Sort(rows)
	return rows
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	a := createGroup(t, c, "tag-a", "", "")
	b := createGroup(t, c, "tag-b", "", "")

	tr := ecs.CreateTagResourcesRequest()
	tr.ResourceType, tr.ResourceId = "securitygroup", &[]string{a, b}
	tr.Tag = &[]ecs.TagResourcesTag{{Key: "env", Value: "prod"}, {Key: "team", Value: "net"}}
	must(c.TagResources(tr))(t)
	// A key already there gets the new value.
	tr = ecs.CreateTagResourcesRequest()
	tr.ResourceType, tr.ResourceId = "securitygroup", &[]string{b}
	tr.Tag = &[]ecs.TagResourcesTag{{Key: "env", Value: "test"}, {Key: "cost", Value: ""}}
	must(c.TagResources(tr))(t)
	if got := tagRows(t, c, "securitygroup", a); !slices.Equal(got, []string{"env=prod", "team=net"}) {
		t.Errorf("tags of a: %v", got)
	}
	if got := tagRows(t, c, "securitygroup", b); !slices.Equal(got, []string{"cost=", "env=test", "team=net"}) {
		t.Errorf("tags of b: %v", got)
	}

	// ListTagResources by tag, across resources.
	lr := ecs.CreateListTagResourcesRequest()
	lr.ResourceType = "securitygroup"
	lr.Tag = &[]ecs.ListTagResourcesTag{{Key: "env", Value: "prod"}}
	res := must(c.ListTagResources(lr))(t).TagResources.TagResource
	var owners []string
	for _, r := range res {
		owners = append(owners, r.ResourceId)
	}
	if owners = slices.Compact(owners); !slices.Equal(owners, []string{a}) {
		t.Errorf("resources tagged env=prod: %v", owners)
	}
	// TagFilter matches value prefixes.
	lr = ecs.CreateListTagResourcesRequest()
	lr.ResourceType = "securitygroup"
	lr.TagFilter = &[]ecs.ListTagResourcesTagFilter{{TagKey: "env", TagValues: &[]string{"te"}}}
	res = must(c.ListTagResources(lr))(t).TagResources.TagResource
	if len(res) == 0 || res[0].ResourceId != b {
		t.Errorf("TagFilter env=te*: %+v", res)
	}
	// DescribeSecurityGroups filters on the same tags.
	if got := groupIDs(t, c, func(r *ecs.DescribeSecurityGroupsRequest) {
		r.Tag = &[]ecs.DescribeSecurityGroupsTag{{Key: "env", Value: "test"}}
	}); !slices.Equal(got, []string{b}) {
		t.Errorf("DescribeSecurityGroups Tag env=test: %v", got)
	}

	ur := ecs.CreateUntagResourcesRequest()
	ur.ResourceType, ur.ResourceId, ur.TagKey = "securitygroup", &[]string{a, b}, &[]string{"team", "absent"}
	must(c.UntagResources(ur))(t)
	if got := tagRows(t, c, "securitygroup", b); !slices.Equal(got, []string{"cost=", "env=test"}) {
		t.Errorf("tags of b after untag: %v", got)
	}
	ur = ecs.CreateUntagResourcesRequest()
	ur.ResourceType, ur.ResourceId, ur.All = "securitygroup", &[]string{b}, requests.NewBoolean(true)
	must(c.UntagResources(ur))(t)
	if got := tagRows(t, c, "securitygroup", b); len(got) != 0 {
		t.Errorf("tags of b after All=true: %v", got)
	}
	if got := tagRows(t, c, "securitygroup", a); !slices.Equal(got, []string{"env=prod"}) {
		t.Errorf("tags of a: %v", got)
	}

	// Instances carry tags too, and DescribeInstances filters on them.
	inst := runInstance(t, c, "", a)
	it := ecs.CreateTagResourcesRequest()
	it.ResourceType, it.ResourceId, it.Tag = "instance", &[]string{inst}, &[]ecs.TagResourcesTag{{Key: "role", Value: "db"}}
	must(c.TagResources(it))(t)
	if got := tagRows(t, c, "instance", inst); !slices.Equal(got, []string{"role=db"}) {
		t.Errorf("instance tags: %v", got)
	}
	if got := instances(t, c, func(r *ecs.DescribeInstancesRequest) {
		r.Tag = &[]ecs.DescribeInstancesTag{{Key: "role", Value: "db"}}
	}); !slices.Equal(got, []string{inst}) {
		t.Errorf("DescribeInstances Tag role=db: %v", got)
	}
	// A Tag.N.Value without its key is refused.
	lt := ecs.CreateListTagResourcesRequest()
	lt.ResourceType, lt.Tag = "securitygroup", &[]ecs.ListTagResourcesTag{{Value: "prod"}}
	_, err := c.ListTagResources(lt)
	wantErr(t, err, 400, "InvalidParameter.TagValue")
	// A group ID is not an instance.
	it = ecs.CreateTagResourcesRequest()
	it.ResourceType, it.ResourceId, it.Tag = "instance", &[]string{a}, &[]ecs.TagResourcesTag{{Key: "role", Value: "db"}}
	_, err = c.TagResources(it)
	wantErr(t, err, 404, "InvalidResourceId.NotFound")

	// Errors; a refused call changes no resource, not even the valid ones.
	for _, tc := range []struct {
		name   string
		ids    []string
		typ    string
		tags   []ecs.TagResourcesTag
		status int
		code   string
	}{
		{"unknown resource", []string{a, "sg-doesnotexist0000000"}, "securitygroup", []ecs.TagResourcesTag{{Key: "x", Value: "1"}}, 404, "InvalidResourceId.NotFound"},
		{"unknown type", []string{a}, "bucket", []ecs.TagResourcesTag{{Key: "x", Value: "1"}}, 404, "InvalidResourceType.NotFound"},
		{"reserved key", []string{a}, "securitygroup", []ecs.TagResourcesTag{{Key: "aliyun:x", Value: "1"}}, 400, "InvalidTagKey.Malformed"},
		{"duplicate key", []string{a}, "securitygroup", []ecs.TagResourcesTag{{Key: "x", Value: "1"}, {Key: "x", Value: "2"}}, 400, "Duplicate.TagKey"},
		{"no tags", []string{a}, "securitygroup", nil, 404, "MissingParameter.Tags"},
		{"21 tags", []string{a}, "securitygroup", func() []ecs.TagResourcesTag {
			var ts []ecs.TagResourcesTag
			for i := range 21 {
				ts = append(ts, ecs.TagResourcesTag{Key: "k" + string(rune('a'+i)), Value: "v"})
			}
			return ts
		}(), 400, "NumberExceed.Tags"},
		{"more than 20 on the resource", []string{a}, "securitygroup", func() []ecs.TagResourcesTag {
			var ts []ecs.TagResourcesTag
			for i := range 20 {
				ts = append(ts, ecs.TagResourcesTag{Key: "k" + string(rune('a'+i)), Value: "v"})
			}
			return ts
		}(), 400, "OperationDenied.QuotaExceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ecs.CreateTagResourcesRequest()
			r.ResourceType, r.ResourceId, r.Tag = tc.typ, &tc.ids, &tc.tags
			_, err := c.TagResources(r)
			wantErr(t, err, tc.status, tc.code)
			if got := tagRows(t, c, "securitygroup", a); !slices.Equal(got, []string{"env=prod"}) {
				t.Errorf("tags of a after a refused call: %v", got)
			}
		})
	}
}

func TestPrefixLists(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	sg := createGroup(t, c, "uses-pl", v, "")

	cr := ecs.CreateCreatePrefixListRequest()
	cr.AddressFamily, cr.MaxEntries, cr.PrefixListName, cr.Description = "IPv4", "10", "office", "office ranges"
	cr.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "192.168.0.0/24", Description: "hq"}, {Cidr: "10.10.10.10"}}
	pl := must(c.CreatePrefixList(cr))(t).PrefixListId
	if !plID.MatchString(pl) {
		t.Fatalf("PrefixListId %q", pl)
	}
	cr6 := ecs.CreateCreatePrefixListRequest()
	cr6.AddressFamily, cr6.MaxEntries, cr6.PrefixListName = "IPv6", "5", "v6"
	pl6 := must(c.CreatePrefixList(cr6))(t).PrefixListId

	ar := ecs.CreateDescribePrefixListAttributesRequest()
	ar.PrefixListId = pl
	got := must(c.DescribePrefixListAttributes(ar))(t)
	if got.PrefixListId != pl || got.PrefixListName != "office" || got.AddressFamily != "IPv4" || got.MaxEntries != 10 ||
		got.Description != "office ranges" || len(got.Entries.Entry) != 2 {
		t.Fatalf("DescribePrefixListAttributes decoded %+v", got)
	}
	recent(t, "CreationTime", got.CreationTime)
	entries := func() []string {
		var out []string
		for _, en := range must(c.DescribePrefixListAttributes(ar))(t).Entries.Entry {
			out = append(out, en.Cidr+" "+en.Description)
		}
		slices.Sort(out)
		return out
	}
	// A bare address becomes a host prefix.
	if es := entries(); !slices.Equal(es, []string{"10.10.10.10/32 ", "192.168.0.0/24 hq"}) {
		t.Errorf("entries %q", es)
	}

	mr := ecs.CreateModifyPrefixListRequest()
	mr.PrefixListId, mr.PrefixListName = pl, "office-2"
	mr.AddEntry = &[]ecs.ModifyPrefixListAddEntry{{Cidr: "172.16.0.0/12", Description: "vpn"}, {Cidr: "192.168.0.0/24", Description: "head office"}}
	mr.RemoveEntry = &[]ecs.ModifyPrefixListRemoveEntry{{Cidr: "10.10.10.10/32"}}
	must(c.ModifyPrefixList(mr))(t)
	if es := entries(); !slices.Equal(es, []string{"172.16.0.0/12 vpn", "192.168.0.0/24 head office"}) {
		t.Errorf("entries after ModifyPrefixList %q", es)
	}

	lr := ecs.CreateDescribePrefixListsRequest()
	lr.AddressFamily = "IPv4"
	lists := must(c.DescribePrefixLists(lr))(t).PrefixLists.PrefixList
	if len(lists) != 1 || lists[0].PrefixListId != pl || lists[0].PrefixListName != "office-2" || lists[0].AssociationCount != 0 {
		t.Errorf("DescribePrefixLists AddressFamily=IPv4: %+v", lists)
	}
	lr = ecs.CreateDescribePrefixListsRequest()
	lr.PrefixListId = &[]string{pl6}
	if lists := must(c.DescribePrefixLists(lr))(t).PrefixLists.PrefixList; len(lists) != 1 || lists[0].AddressFamily != "IPv6" {
		t.Errorf("DescribePrefixLists PrefixListId=[pl6]: %+v", lists)
	}

	// A rule uses the list: it shows in the rule, the associations, and
	// counts as MaxEntries rules.
	noErr(t, authorize(c, sg, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "443/443", SourcePrefixListId: pl}))
	if ps := rules(t, c, sg, ""); len(ps) != 1 || ps[0].SourcePrefixListId != pl || ps[0].SourcePrefixListName != "office-2" || ps[0].SourceCidrIp != "" {
		t.Errorf("prefix-list rule decoded as %+v", ps)
	}
	if g := must(c.DescribeSecurityGroups(func() *ecs.DescribeSecurityGroupsRequest {
		r := ecs.CreateDescribeSecurityGroupsRequest()
		r.SecurityGroupId = sg
		return r
	}()))(t).SecurityGroups.SecurityGroup[0]; g.RuleCount != 10 {
		t.Errorf("RuleCount with one prefix-list rule of MaxEntries 10: %d", g.RuleCount)
	}
	asr := ecs.CreateDescribePrefixListAssociationsRequest()
	asr.PrefixListId = pl
	assoc := must(c.DescribePrefixListAssociations(asr))(t).PrefixListAssociations.PrefixListAssociation
	if len(assoc) != 1 || assoc[0].ResourceId != sg || assoc[0].ResourceType != "securitygroup" {
		t.Errorf("DescribePrefixListAssociations: %+v", assoc)
	}
	lr = ecs.CreateDescribePrefixListsRequest()
	lr.PrefixListId = &[]string{pl}
	if lists := must(c.DescribePrefixLists(lr))(t).PrefixLists.PrefixList; len(lists) != 1 || lists[0].AssociationCount != 1 {
		t.Errorf("AssociationCount: %+v", lists)
	}

	// Deleting a list in use is refused; after the revoke it goes.
	dr := ecs.CreateDeletePrefixListRequest()
	dr.PrefixListId = pl
	_, err := c.DeletePrefixList(dr)
	wantErr(t, err, 400, "NotAllowed.AssociationExist")
	rr := ecs.CreateRevokeSecurityGroupRequest()
	rr.SecurityGroupId = sg
	rr.Permissions = &[]ecs.RevokeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "443/443", SourcePrefixListId: pl}}
	must(c.RevokeSecurityGroup(rr))(t)
	must(c.DeletePrefixList(dr))(t)
	_, err = c.DescribePrefixListAttributes(ar)
	wantErr(t, err, 404, "InvalidPrefixListId.NotFound")
	if lists := must(c.DescribePrefixLists(ecs.CreateDescribePrefixListsRequest()))(t).PrefixLists.PrefixList; len(lists) != 1 || lists[0].PrefixListId != pl6 {
		t.Errorf("lists after delete: %+v", lists)
	}
}

// TestXMLFormat: with Format=XML the classic SDK decodes the XML body into
// the same structs.
func TestXMLFormat(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	sg := createGroup(t, c, "xml", "", "")
	peer := createGroup(t, c, "xml-peer", "", "")
	noErr(t, authorize(c, sg, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: peer, Priority: "7", Description: "a <b> & c"}))
	r := ecs.CreateDescribeSecurityGroupAttributeRequest()
	r.SecurityGroupId, r.NicType = sg, "intranet"
	r.AcceptFormat = "XML"
	resp := must(c.DescribeSecurityGroupAttribute(r))(t)
	if ct := resp.GetHttpHeaders()["Content-Type"]; len(ct) == 0 || ct[0] != "text/xml;charset=utf-8" {
		t.Errorf("Content-Type %v", ct)
	}
	if resp.SecurityGroupId != sg || resp.SecurityGroupName != "xml" || resp.InnerAccessPolicy != "Accept" || !guid.MatchString(resp.RequestId) ||
		len(resp.Permissions.Permission) != 1 {
		t.Fatalf("XML decoded as %+v\n%s", resp, resp.GetHttpContentString())
	}
	p := resp.Permissions.Permission[0]
	if !ruleID.MatchString(p.SecurityGroupRuleId) || p.Priority != "7" || p.SourceGroupId != peer || p.Description != "a <b> & c" || p.PortRange != "22/22" {
		t.Errorf("XML permission decoded as %+v", p)
	}

	lr := ecs.CreateDescribeSecurityGroupsRequest()
	lr.AcceptFormat = "XML"
	list := must(c.DescribeSecurityGroups(lr))(t)
	if list.TotalCount != 2 || len(list.SecurityGroups.SecurityGroup) != 2 {
		t.Errorf("XML DescribeSecurityGroups decoded %+v", list)
	}

	// String lists become repeated elements.
	inst := runInstance(t, c, "", sg, peer)
	ir := ecs.CreateDescribeInstancesRequest()
	ir.AcceptFormat = "XML"
	insts := must(c.DescribeInstances(ir))(t)
	if len(insts.Instances.Instance) != 1 || insts.Instances.Instance[0].InstanceId != inst ||
		!slices.Equal(insts.Instances.Instance[0].SecurityGroupIds.SecurityGroupId, []string{sg, peer}) {
		t.Errorf("XML DescribeInstances decoded %+v\n%s", insts.Instances, insts.GetHttpContentString())
	}
}

// TestXMLAnsweredOrRefused: every analysis action asked for XML answers
// in XML or refuses Format with InvalidParameter before its work; none
// answers InternalError because its answer has no XML form.
func TestXMLAnsweredOrRefused(t *testing.T) {
	e := newEnv(t)
	n := newNetwork(t, e, "10.0.0.0/16")
	inst := runInstance(t, e.ecs, n.vsw, n.sgA)
	c := testenv.CommonClient(t, e.addr, e.ak, e.secret)
	for _, tc := range []struct {
		version, action string
		params          map[string]string
	}{
		{api.ECSVersion, "PalisadeDescribeReachability", map[string]string{}},
		{api.ECSVersion, "PalisadeDescribeReachability", map[string]string{"View": "graph"}},
		{api.ECSVersion, "PalisadeVerifyFlow", map[string]string{"From": inst, "To": "8.8.8.8", "Protocol": "tcp", "Port": "443"}},
		{api.ECSVersion, "PalisadeDescribeEffectiveRules", map[string]string{"InstanceId": inst}},
		{api.ECSVersion, "PalisadeAudit", map[string]string{}},
		{api.ECSVersion, "PalisadePlanChange", map[string]string{"ChangeAction": "AuthorizeSecurityGroup", "SecurityGroupId": n.sgA,
			"IpProtocol": "tcp", "PortRange": "80/80", "SourceCidrIp": "0.0.0.0/0"}},
		{api.ECSVersion, "PalisadeDescribeRuleCounters", map[string]string{"SecurityGroupId": n.sgA}},
		{api.ECSVersion, "PalisadeDescribeFlowRecords", map[string]string{}},
		{trail.Version, "LookupEvents", map[string]string{}},
	} {
		t.Run(tc.action+" "+tc.params["View"], func(t *testing.T) {
			req := requests.NewCommonRequest()
			req.Method, req.Scheme, req.Domain = "POST", "http", e.addr
			req.Version, req.ApiName, req.Product = tc.version, tc.action, "Ecs"
			req.AcceptFormat = "XML"
			req.FormParams = maps.Clone(tc.params)
			req.FormParams["RegionId"] = testenv.Region
			resp, err := c.ProcessCommonRequest(req)
			var se *sdkerrors.ServerError
			switch {
			case err == nil:
				if !strings.HasPrefix(resp.GetHttpContentString(), "<?xml") {
					t.Errorf("answered 200 but not in XML: %.300s", resp.GetHttpContentString())
				}
			case errors.As(err, &se):
				// The SDK reads error codes from JSON only: an XML error is
				// its message whole.
				if msg := se.Message(); se.HttpStatus() != 400 || !strings.Contains(msg, "<Code>InvalidParameter</Code>") || !strings.Contains(msg, "Format") {
					t.Errorf("%d: %s; want an answer in XML or InvalidParameter naming Format", se.HttpStatus(), msg)
				}
			default:
				t.Fatal(err)
			}
		})
	}
}

func TestPrefixListErrors(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	cr := ecs.CreateCreatePrefixListRequest()
	cr.AddressFamily, cr.MaxEntries, cr.PrefixListName = "IPv4", "2", "small"
	cr.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "10.0.0.0/8"}}
	pl := must(c.CreatePrefixList(cr))(t).PrefixListId

	create := func(set func(r *ecs.CreatePrefixListRequest)) func() error {
		return func() error {
			r := ecs.CreateCreatePrefixListRequest()
			r.AddressFamily, r.MaxEntries, r.PrefixListName = "IPv4", "5", "fine"
			set(r)
			_, err := c.CreatePrefixList(r)
			return err
		}
	}
	modify := func(set func(r *ecs.ModifyPrefixListRequest)) func() error {
		return func() error {
			r := ecs.CreateModifyPrefixListRequest()
			r.PrefixListId = pl
			set(r)
			_, err := c.ModifyPrefixList(r)
			return err
		}
	}
	snapshot := func(t testing.TB) string {
		t.Helper()
		ar := ecs.CreateDescribePrefixListAttributesRequest()
		ar.PrefixListId = pl
		a := must(c.DescribePrefixListAttributes(ar))(t)
		return fmt.Sprint(len(must(c.DescribePrefixLists(ecs.CreateDescribePrefixListsRequest()))(t).PrefixLists.PrefixList), a.PrefixListName, a.Entries.Entry)
	}
	runErrCases(t, snapshot, []errCase{
		{"MaxEntries 0", create(func(r *ecs.CreatePrefixListRequest) { r.MaxEntries = "0" }), 400, "InvalidParameter.MaxEntries"},
		{"MaxEntries 201", create(func(r *ecs.CreatePrefixListRequest) { r.MaxEntries = "201" }), 400, "InvalidParameter.MaxEntries"},
		{"no AddressFamily", create(func(r *ecs.CreatePrefixListRequest) { r.AddressFamily = "" }), 400, "MissingParameter"},
		{"AddressFamily IPv5", create(func(r *ecs.CreatePrefixListRequest) { r.AddressFamily = "IPv5" }), 400, "InvalidParameter.AddressFamily"},
		{"reserved name", create(func(r *ecs.CreatePrefixListRequest) { r.PrefixListName = "com.aliyun.mine" }), 400, "InvalidPrefixListName.Malformed"},
		{"entry of the other family", create(func(r *ecs.CreatePrefixListRequest) {
			r.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "2001:db8::/32"}}
		}), 400, "InvalidParam.AddressFamilyMismatch"},
		{"same entry twice", create(func(r *ecs.CreatePrefixListRequest) {
			r.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "10.0.0.0/8"}, {Cidr: "10.0.0.0/8"}}
		}), 400, "InvalidParam.DuplicateCidr"},
		{"more entries than MaxEntries", create(func(r *ecs.CreatePrefixListRequest) {
			r.MaxEntries = "1"
			r.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "10.0.0.0/8"}, {Cidr: "192.168.0.0/16"}}
		}), 400, "InvalidParam.EntriesExceedMaxEntries"},
		{"entry description of 1", create(func(r *ecs.CreatePrefixListRequest) {
			r.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "10.0.0.0/8", Description: "x"}}
		}), 400, "InvalidEntryDescription.Malformed"},
		{"add beyond MaxEntries", modify(func(r *ecs.ModifyPrefixListRequest) {
			r.AddEntry = &[]ecs.ModifyPrefixListAddEntry{{Cidr: "192.168.0.0/16"}, {Cidr: "172.16.0.0/12"}}
		}), 400, "InvalidParam.EntriesExceedMaxEntries"},
		{"add with host bits", modify(func(r *ecs.ModifyPrefixListRequest) {
			r.AddEntry = &[]ecs.ModifyPrefixListAddEntry{{Cidr: "192.168.0.1/16"}}
		}), 400, "InvalidParam.Cidr"},
		{"add and remove the same", modify(func(r *ecs.ModifyPrefixListRequest) {
			r.AddEntry = &[]ecs.ModifyPrefixListAddEntry{{Cidr: "10.0.0.0/8"}}
			r.RemoveEntry = &[]ecs.ModifyPrefixListRemoveEntry{{Cidr: "10.0.0.0/8"}}
		}), 400, "InvalidParam.CidrConflict"},
		{"remove an absent entry", modify(func(r *ecs.ModifyPrefixListRequest) {
			r.RemoveEntry = &[]ecs.ModifyPrefixListRemoveEntry{{Cidr: "192.168.0.0/16"}}
		}), 400, "InvalidParam.EntryNotFound"},
		{"rename to a bad name", modify(func(r *ecs.ModifyPrefixListRequest) { r.PrefixListName = "9lives" }), 400, "InvalidPrefixListName.Malformed"},
		{"modify an unknown list", modify(func(r *ecs.ModifyPrefixListRequest) { r.PrefixListId = "pl-doesnotexist0000000" }), 404, "InvalidPrefixListId.NotFound"},
		{"delete a malformed ID", func() error {
			r := ecs.CreateDeletePrefixListRequest()
			r.PrefixListId = "prefix-1"
			_, err := c.DeletePrefixList(r)
			return err
		}, 400, "InvalidPrefixListId.Malformed"},
	})

	// 100 lists per region.
	for i := 1; i < 100; i++ {
		r := ecs.CreateCreatePrefixListRequest()
		r.AddressFamily, r.MaxEntries, r.PrefixListName = "IPv4", "1", fmt.Sprintf("pl%03d", i)
		must(c.CreatePrefixList(r))(t)
	}
	wantErr(t, create(func(*ecs.CreatePrefixListRequest) {})(), 403, "QuotaExceed.PrefixList")
}
