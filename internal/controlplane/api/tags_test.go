package api

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// tagPutInstance stores a running instance of e's account in cn-hangzhou,
// bypassing the instance actions.
func tagPutInstance(e *env, id string) {
	e.t.Helper()
	in := &model.Instance{ID: id, Region: "cn-hangzhou", Owner: plAccount(e), Zone: "cn-hangzhou-h", VpcID: "vpc-test",
		PrivateIP: netip.MustParseAddr("192.168.0.10"), Status: model.StatusRunning, SecurityGroups: []string{"sg-a"}}
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error { return putInstance(tx, in) }); err != nil {
		e.t.Fatal(err)
	}
}

// tagRows lists tags as "resource:key=value" rows.
func tagRows(e *env, params map[string]string) []string {
	e.t.Helper()
	var out []string
	for _, r := range e.ecs("ListTagResources", params).(*listTagResourcesResponse).TagResources.TagResource {
		out = append(out, r.ResourceId+":"+r.TagKey+"="+r.TagValue)
	}
	return out
}

func TestTagResourcesAndList(t *testing.T) {
	e := newEnv(t)
	plPutGroup(e, "sg-a")
	plPutGroup(e, "sg-b")
	e.ecs("TagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a", "ResourceId.2": "sg-b",
		"Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team", "Tag.2.Value": "net"})
	// Same key again: new value. Type matched in any case. Empty value allowed.
	e.ecs("TagResources", map[string]string{"ResourceType": "SecurityGroup", "ResourceId.1": "sg-b",
		"Tag.1.Key": "env", "Tag.1.Value": "production", "Tag.2.Key": "empty"})

	for _, tc := range []struct {
		name   string
		params map[string]string
		want   []string
	}{
		{"by id", map[string]string{"ResourceId.1": "sg-a"}, []string{"sg-a:env=prod", "sg-a:team=net"}},
		{"by ids", map[string]string{"ResourceId.1": "sg-b", "ResourceId.2": "sg-a"},
			[]string{"sg-b:env=production", "sg-b:team=net", "sg-b:empty=", "sg-a:env=prod", "sg-a:team=net"}},
		{"unknown id gives nothing", map[string]string{"ResourceId.1": "sg-nothere"}, nil},
		{"by tag", map[string]string{"Tag.1.Key": "env", "Tag.1.Value": "prod"}, []string{"sg-a:env=prod", "sg-a:team=net"}},
		{"by tag key", map[string]string{"Tag.1.Key": "empty"}, []string{"sg-b:env=production", "sg-b:team=net", "sg-b:empty="}},
		{"by two tags", map[string]string{"Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "empty"}, nil},
		{"by id and tag", map[string]string{"ResourceId.1": "sg-a", "Tag.1.Key": "empty"}, nil},
		{"filter prefix", map[string]string{"TagFilter.1.TagKey": "env", "TagFilter.1.TagValues.1": "produc"},
			[]string{"sg-b:env=production", "sg-b:team=net", "sg-b:empty="}},
		{"filter any of values", map[string]string{"TagFilter.1.TagKey": "env", "TagFilter.1.TagValues.1": "x", "TagFilter.1.TagValues.2": "pro"},
			[]string{"sg-a:env=prod", "sg-a:team=net", "sg-b:env=production", "sg-b:team=net", "sg-b:empty="}},
		{"filter key only", map[string]string{"TagFilter.1.TagKey": "team"},
			[]string{"sg-a:env=prod", "sg-a:team=net", "sg-b:env=production", "sg-b:team=net", "sg-b:empty="}},
		{"filter no match", map[string]string{"TagFilter.1.TagKey": "env", "TagFilter.1.TagValues.1": "dev"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]string{"ResourceType": "securitygroup"}
			for k, v := range tc.params {
				p[k] = v
			}
			if got := tagRows(plSubtest(e, t), p); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	// The tags are the group's own.
	e.s.Store.View(e.ctx, func(tx store.ReadTx) error {
		g, err := getGroup(tx, caller{Account: plAccount(e), Region: "cn-hangzhou"}, "sg-b")
		if err != nil || len(g.Tags) != 3 || g.Tags[0] != (model.Tag{Key: "env", Value: "production"}) {
			t.Errorf("group tags = %+v, %v", g, err)
		}
		return nil
	})
}

func TestUntagResources(t *testing.T) {
	e := newEnv(t)
	plPutGroup(e, "sg-a")
	plPutGroup(e, "sg-b")
	tag := map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a", "ResourceId.2": "sg-b",
		"Tag.1.Key": "a", "Tag.2.Key": "b", "Tag.3.Key": "c"}
	e.ecs("TagResources", tag)
	ids := map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a", "ResourceId.2": "sg-b"}
	with := func(extra map[string]string) map[string]string {
		p := map[string]string{}
		for k, v := range ids {
			p[k] = v
		}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}

	e.ecs("UntagResources", with(map[string]string{"TagKey.1": "b", "TagKey.2": "absent"}))
	if got, want := tagRows(e, ids), []string{"sg-a:a=", "sg-a:c=", "sg-b:a=", "sg-b:c="}; !slices.Equal(got, want) {
		t.Fatalf("after untag b: %v, want %v", got, want)
	}
	// Neither keys nor All: nothing to remove.
	e.ecs("UntagResources", ids)
	// All is ignored when keys are given.
	e.ecs("UntagResources", with(map[string]string{"TagKey.1": "a", "All": "true", "ResourceId.2": ""}))
	if got, want := tagRows(e, ids), []string{"sg-a:c=", "sg-b:a=", "sg-b:c="}; !slices.Equal(got, want) {
		t.Fatalf("after untag a of sg-a: %v, want %v", got, want)
	}
	e.ecs("UntagResources", with(map[string]string{"All": "True"}))
	if got := tagRows(e, ids); len(got) != 0 {
		t.Fatalf("after untag all: %v", got)
	}
}

func TestTagOtherResourceTypes(t *testing.T) {
	e := newEnv(t)
	tagPutInstance(e, "i-one")
	pl := plCreate(e, map[string]string{"Tag.1.Key": "made", "Tag.1.Value": "at-create"})
	e.ecs("TagResources", map[string]string{"ResourceType": "instance", "ResourceId.1": "i-one", "Tag.1.Key": "role", "Tag.1.Value": "web"})
	e.ecs("TagResources", map[string]string{"ResourceType": "PrefixList", "ResourceId.1": pl, "Tag.1.Key": "role", "Tag.1.Value": "office"})
	if got, want := tagRows(e, map[string]string{"ResourceType": "instance", "Tag.1.Key": "role"}), []string{"i-one:role=web"}; !slices.Equal(got, want) {
		t.Fatalf("instance tags = %v, want %v", got, want)
	}
	if got, want := tagRows(e, map[string]string{"ResourceType": "prefixlist", "ResourceId.1": pl}), []string{pl + ":made=at-create", pl + ":role=office"}; !slices.Equal(got, want) {
		t.Fatalf("prefix list tags = %v, want %v", got, want)
	}
	r := e.ecs("ListTagResources", map[string]string{"ResourceType": "PREFIXLIST", "ResourceId.1": pl}).(*listTagResourcesResponse)
	if rt := r.TagResources.TagResource[0].ResourceType; rt != "prefixlist" {
		t.Fatalf("ResourceType = %q, want prefixlist", rt)
	}
	// A group ID is not an instance.
	plPutGroup(e, "sg-a")
	e.ecsErr("InvalidResourceId.NotFound", 404, "TagResources", map[string]string{"ResourceType": "instance", "ResourceId.1": "sg-a", "Tag.1.Key": "k"})
	// Tagging keeps the rest of the resource.
	if a := plAttrs(e, pl); a.PrefixListName != "office" || a.MaxEntries != 10 {
		t.Fatalf("prefix list after tagging: %+v", a)
	}
}

func TestTagErrors(t *testing.T) {
	e := newEnv(t)
	plPutGroup(e, "sg-a")
	plPutGroup(e, "sg-full")
	full := map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-full"}
	for i := 1; i <= model.MaxTags-1; i++ {
		full[fmt.Sprintf("Tag.%d.Key", i)] = fmt.Sprintf("k%d", i)
	}
	e.ecs("TagResources", full)

	many := func(prefix, suffix string, n int) map[string]string {
		p := map[string]string{}
		for i := 1; i <= n; i++ {
			p[fmt.Sprintf("%s.%d%s", prefix, i, suffix)] = fmt.Sprintf("v%d", i)
		}
		return p
	}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	sg := map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a"}
	tag := map[string]string{"Tag.1.Key": "k"}
	for _, tc := range []struct {
		name   string
		action string
		params map[string]string
		code   string
		status int
	}{
		{"no region", "TagResources", merge(sg, tag, map[string]string{"RegionId": ""}), "MissingParameter", 400},
		{"bad region", "TagResources", merge(sg, tag, map[string]string{"RegionId": "mars-1"}), "InvalidRegionId.NotFound", 404},
		{"no type", "TagResources", merge(sg, tag, map[string]string{"ResourceType": ""}), "MissingParameter.ResourceType", 404},
		{"bad type", "TagResources", merge(sg, tag, map[string]string{"ResourceType": "disk"}), "InvalidResourceType.NotFound", 404},
		{"no ids", "TagResources", merge(sg, tag, map[string]string{"ResourceId.1": ""}), "MissingParameter", 400},
		{"51 ids", "TagResources", merge(sg, tag, many("ResourceId", "", 51)), "NumberExceed.ResourceIds", 400},
		{"no tags", "TagResources", sg, "MissingParameter.Tags", 404},
		{"21 tags", "TagResources", merge(sg, many("Tag", ".Key", 21)), "NumberExceed.Tags", 400},
		{"reserved key", "TagResources", merge(sg, map[string]string{"Tag.1.Key": "acs:x"}), "InvalidTagKey.Malformed", 400},
		{"value without key", "TagResources", merge(sg, map[string]string{"Tag.1.Value": "v"}), "InvalidTagKey.Malformed", 400},
		{"long value", "TagResources", merge(sg, map[string]string{"Tag.1.Key": "k", "Tag.1.Value": strings.Repeat("v", 129)}), "InvalidTagValue.Malformed", 400},
		{"duplicate key", "TagResources", merge(sg, map[string]string{"Tag.1.Key": "k", "Tag.2.Key": "k"}), "Duplicate.TagKey", 400},
		{"unknown resource", "TagResources", merge(sg, tag, map[string]string{"ResourceId.1": "sg-nothere"}), "InvalidResourceId.NotFound", 404},
		{"one unknown resource", "TagResources", merge(sg, tag, map[string]string{"ResourceId.2": "sg-nothere"}), "InvalidResourceId.NotFound", 404},
		{"resource in another region", "TagResources", merge(sg, tag, map[string]string{"RegionId": "cn-shanghai"}), "InvalidResourceId.NotFound", 404},
		{"over 20 tags", "TagResources", merge(sg, tag, map[string]string{"ResourceId.2": "sg-full", "Tag.2.Key": "new"}), "OperationDenied.QuotaExceed", 400},

		{"untag no type", "UntagResources", merge(sg, map[string]string{"ResourceType": "", "TagKey.1": "k"}), "MissingParameter.ResourceType", 404},
		{"untag bad type", "UntagResources", merge(sg, map[string]string{"ResourceType": "vpc", "TagKey.1": "k"}), "InvalidResourceType.NotFound", 404},
		{"untag no ids", "UntagResources", map[string]string{"ResourceType": "securitygroup", "TagKey.1": "k"}, "MissingParameter", 400},
		{"untag 51 ids", "UntagResources", merge(sg, many("ResourceId", "", 51)), "NumberExceed.ResourceIds", 400},
		{"untag 21 keys", "UntagResources", merge(sg, many("TagKey", "", 21)), "NumberExceed.Tags", 400},
		{"untag bad All", "UntagResources", merge(sg, map[string]string{"All": "yes"}), "InvalidParameter", 400},
		{"untag unknown resource", "UntagResources", merge(sg, map[string]string{"ResourceId.2": "sg-nothere", "All": "true"}), "InvalidResourceId.NotFound", 404},

		{"list no type", "ListTagResources", map[string]string{"ResourceId.1": "sg-a"}, "MissingParameter.ResourceType", 404},
		{"list bad type", "ListTagResources", map[string]string{"ResourceType": "x", "ResourceId.1": "sg-a"}, "InvalidResourceType.NotFound", 404},
		{"list nothing to select by", "ListTagResources", map[string]string{"ResourceType": "securitygroup"}, "MissingParameter", 400},
		{"list 51 ids", "ListTagResources", merge(map[string]string{"ResourceType": "securitygroup"}, many("ResourceId", "", 51)), "NumberExceed.ResourceIds", 400},
		{"list 21 tags", "ListTagResources", merge(map[string]string{"ResourceType": "securitygroup"}, many("Tag", ".Key", 21)), "NumberExceed.Tags", 400},
		{"list value only", "ListTagResources", map[string]string{"ResourceType": "securitygroup", "Tag.1.Value": "v"}, "InvalidParameter.TagValue", 400},
		{"list tag and filter", "ListTagResources", map[string]string{"ResourceType": "securitygroup", "Tag.1.Key": "k", "TagFilter.1.TagKey": "k"}, "InvalidParameter.TagFilterConflict", 400},
		{"list filter without key", "ListTagResources", map[string]string{"ResourceType": "securitygroup", "TagFilter.1.TagValues.1": "v"}, "MissingParameter", 400},
		{"list 6 filters", "ListTagResources", merge(map[string]string{"ResourceType": "securitygroup"}, many("TagFilter", ".TagKey", 6)), "NumberExceed.TagFilters", 400},
		{"list bad token", "ListTagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a", "NextToken": "x"}, "InvalidNextToken.Malformed", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plSubtest(e, t).ecsErr(tc.code, tc.status, tc.action, tc.params)
		})
	}
	// No failed call tagged anything: sg-a has no tags, sg-full still 19.
	if got := tagRows(e, map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a"}); len(got) != 0 {
		t.Fatalf("sg-a tags after failed calls: %v", got)
	}
	if got := tagRows(e, map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-full"}); len(got) != model.MaxTags-1 {
		t.Fatalf("sg-full has %d tags after failed calls, want %d", len(got), model.MaxTags-1)
	}
	// Exactly 20 is fine, and re-setting an existing key does not count twice.
	e.ecs("TagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-full", "Tag.1.Key": "k1", "Tag.2.Key": "k20"})
}

func TestTagOtherAccount(t *testing.T) {
	e := newEnv(t)
	o := e.otherAccount()
	plPutGroup(e, "sg-a")
	pl := plCreate(e, nil)
	e.ecs("TagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a", "Tag.1.Key": "owner", "Tag.1.Value": "e"})
	for _, tc := range []struct {
		action string
		params map[string]string
	}{
		{"TagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a", "Tag.1.Key": "owner", "Tag.1.Value": "o"}},
		{"TagResources", map[string]string{"ResourceType": "prefixlist", "ResourceId.1": pl, "Tag.1.Key": "owner"}},
		{"UntagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a", "All": "true"}},
	} {
		o.ecsErr("InvalidResourceId.NotFound", 404, tc.action, tc.params)
	}
	for _, p := range []map[string]string{
		{"ResourceType": "securitygroup", "ResourceId.1": "sg-a"},
		{"ResourceType": "securitygroup", "Tag.1.Key": "owner"},
		{"ResourceType": "securitygroup", "TagFilter.1.TagKey": "owner"},
	} {
		if got := tagRows(o, p); len(got) != 0 {
			t.Fatalf("another account lists %v with %v", got, p)
		}
	}
	if got, want := tagRows(e, map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a"}), []string{"sg-a:owner=e"}; !slices.Equal(got, want) {
		t.Fatalf("tags after another account's attempts: %v, want %v", got, want)
	}
}

func TestListTagResourcesPaging(t *testing.T) {
	e := newEnv(t)
	ids := []string{"sg-p1", "sg-p2", "sg-p3"}
	for _, id := range ids {
		plPutGroup(e, id)
	}
	p := map[string]string{"ResourceType": "securitygroup"}
	for i, id := range ids {
		p[fmt.Sprintf("ResourceId.%d", i+1)] = id
	}
	for i := 1; i <= model.MaxTags; i++ {
		p[fmt.Sprintf("Tag.%d.Key", i)] = fmt.Sprintf("k%02d", i)
	}
	e.ecs("TagResources", p)

	list := map[string]string{"ResourceType": "securitygroup", "TagFilter.1.TagKey": "k01"}
	first := e.ecs("ListTagResources", list).(*listTagResourcesResponse)
	if n := len(first.TagResources.TagResource); n != tagPageSize || first.NextToken == "" {
		t.Fatalf("first page: %d rows, NextToken %q; want %d rows and a token", n, first.NextToken, tagPageSize)
	}
	list["NextToken"] = first.NextToken
	second := e.ecs("ListTagResources", list).(*listTagResourcesResponse)
	if n := len(second.TagResources.TagResource); n != 3*model.MaxTags-tagPageSize || second.NextToken != "" {
		t.Fatalf("second page: %d rows, NextToken %q", n, second.NextToken)
	}
	seen := map[string]bool{}
	for _, r := range append(first.TagResources.TagResource, second.TagResources.TagResource...) {
		k := r.ResourceId + ":" + r.TagKey
		if seen[k] {
			t.Fatalf("row %s on two pages", k)
		}
		seen[k] = true
	}
	if len(seen) != 3*model.MaxTags {
		t.Fatalf("%d distinct rows, want %d", len(seen), 3*model.MaxTags)
	}
}

func TestListTagResourcesShape(t *testing.T) {
	e := newEnv(t)
	plPutGroup(e, "sg-a")
	e.ecs("TagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": "sg-a", "Tag.1.Key": "k", "Tag.1.Value": "v"})
	for params, want := range map[string]string{
		"sg-a":       `"TagResources":{"TagResource":[{"ResourceId":"sg-a","ResourceType":"securitygroup","TagKey":"k","TagValue":"v"}]}`,
		"sg-nothere": `"TagResources":{"TagResource":[]}`,
	} {
		b, err := json.Marshal(e.ecs("ListTagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": params}))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) || !strings.Contains(string(b), `"NextToken":""`) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
}

// TestDescribeTagsTypes: DescribeTags counts the resources of each ECS type
// Palisade tags (prefix lists in PrefixList, a field the SDKs do not know),
// and a ResourceType names one of them.
func TestDescribeTagsTypes(t *testing.T) {
	e := newEnv(t)
	plPutGroup(e, "sg-a")
	tagPutInstance(e, "i-one")
	pl := plCreate(e, nil)
	for _, r := range [][2]string{{"securitygroup", "sg-a"}, {"instance", "i-one"}, {"prefixlist", pl}} {
		e.ecs("AddTags", map[string]string{"ResourceType": r[0], "ResourceId": r[1], "Tag.1.Key": "env", "Tag.1.Value": "prod"})
	}
	for _, tc := range []struct {
		typ  string
		want resourceTypeCount
	}{
		{"", resourceTypeCount{Instance: 1, Securitygroup: 1, PrefixList: 1}},
		{"PrefixList", resourceTypeCount{PrefixList: 1}},
		{"instance", resourceTypeCount{Instance: 1}},
		{"eni", resourceTypeCount{}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			res := plSubtest(e, t).ecs("DescribeTags", map[string]string{"ResourceType": tc.typ}).(*describeTagsResponse)
			var want []describeTagsItem
			if tc.want != (resourceTypeCount{}) {
				want = []describeTagsItem{{TagKey: "env", TagValue: "prod", ResourceTypeCount: tc.want}}
			}
			if !slices.Equal(res.Tags.Tag, want) || res.TotalCount != len(want) {
				t.Fatalf("DescribeTags %q: %+v (TotalCount %d), want %+v", tc.typ, res.Tags.Tag, res.TotalCount, want)
			}
		})
	}
	// The VPC product's types are not ECS's.
	e.ecsErr("InvalidResourceType.NotFound", 404, "DescribeTags", map[string]string{"ResourceType": "vpc"})
	e.ecsErr("InvalidResourceType.NotFound", 404, "AddTags", map[string]string{"ResourceType": "vswitch", "ResourceId": "vsw-x", "Tag.1.Key": "k"})
}
