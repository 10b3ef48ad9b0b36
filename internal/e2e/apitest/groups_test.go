package apitest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

var (
	guid    = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`)
	sgID    = regexp.MustCompile(`^sg-[a-z0-9]{20}$`)
	ruleID  = regexp.MustCompile(`^sgr-[a-z0-9]{20}$`)
	ecsTime = "2006-01-02T15:04:05Z"
)

// recent fails unless s is an ECS UTC time within a minute of now.
func recent(t testing.TB, what, s string) {
	t.Helper()
	ts, err := time.Parse(ecsTime, s)
	if err != nil || time.Since(ts).Abs() > time.Minute {
		t.Errorf("%s = %q, want the current time as %s", what, s, ecsTime)
	}
}

func TestSecurityGroupLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.ecs

	cr := ecs.CreateCreateSecurityGroupRequest()
	cr.SecurityGroupName, cr.Description = "web", "web servers"
	cr.Tag = &[]ecs.CreateSecurityGroupTag{{Key: "env", Value: "prod"}, {Key: "team", Value: ""}}
	created := must(c.CreateSecurityGroup(cr))(t)
	id := created.SecurityGroupId
	if !sgID.MatchString(id) || !guid.MatchString(created.RequestId) {
		t.Fatalf("CreateSecurityGroup decoded %+v", created)
	}

	dr := ecs.CreateDescribeSecurityGroupsRequest()
	dr.SecurityGroupId = id
	list := must(c.DescribeSecurityGroups(dr))(t)
	if list.RegionId != region || list.TotalCount != 1 || list.PageNumber != 1 || list.PageSize != 10 || len(list.SecurityGroups.SecurityGroup) != 1 {
		t.Fatalf("DescribeSecurityGroups decoded %+v", list)
	}
	g := list.SecurityGroups.SecurityGroup[0]
	if g.SecurityGroupId != id || g.SecurityGroupName != "web" || g.Description != "web servers" || g.SecurityGroupType != "normal" ||
		g.VpcId != "" || g.RuleCount != 0 || g.GroupToGroupRuleCount != 0 || g.ServiceManaged {
		t.Errorf("group decoded as %+v", g)
	}
	recent(t, "CreationTime", g.CreationTime)
	var tags []string
	for _, tg := range g.Tags.Tag {
		tags = append(tags, tg.TagKey+"="+tg.TagValue)
	}
	if !slices.Equal(tags, []string{"env=prod", "team="}) {
		t.Errorf("tags = %v", tags)
	}

	a := attr(t, c, id, "")
	if a.SecurityGroupId != id || a.SecurityGroupName != "web" || a.Description != "web servers" || a.RegionId != region ||
		a.InnerAccessPolicy != "Accept" || a.VpcId != "" || len(a.Permissions.Permission) != 0 || !guid.MatchString(a.RequestId) {
		t.Errorf("DescribeSecurityGroupAttribute decoded %+v", a)
	}

	mr := ecs.CreateModifySecurityGroupAttributeRequest()
	mr.SecurityGroupId, mr.SecurityGroupName, mr.Description = id, "web-2", "renamed"
	must(c.ModifySecurityGroupAttribute(mr))(t)
	// Only the description: the name must stay.
	mr = ecs.CreateModifySecurityGroupAttributeRequest()
	mr.SecurityGroupId, mr.Description = id, "second description"
	must(c.ModifySecurityGroupAttribute(mr))(t)
	if a := attr(t, c, id, ""); a.SecurityGroupName != "web-2" || a.Description != "second description" {
		t.Errorf("after ModifySecurityGroupAttribute: name %q description %q", a.SecurityGroupName, a.Description)
	}

	for _, tc := range []struct{ in, want string }{{"Drop", "Drop"}, {"accept", "Accept"}, {"DROP", "Drop"}} {
		pr := ecs.CreateModifySecurityGroupPolicyRequest()
		pr.SecurityGroupId, pr.InnerAccessPolicy = id, tc.in
		must(c.ModifySecurityGroupPolicy(pr))(t)
		if got := attr(t, c, id, "").InnerAccessPolicy; got != tc.want {
			t.Errorf("InnerAccessPolicy %q: read back %q, want %q", tc.in, got, tc.want)
		}
	}

	del := ecs.CreateDeleteSecurityGroupRequest()
	del.SecurityGroupId = id
	must(c.DeleteSecurityGroup(del))(t)
	r := ecs.CreateDescribeSecurityGroupAttributeRequest()
	r.SecurityGroupId = id
	_, err := c.DescribeSecurityGroupAttribute(r)
	wantErr(t, err, 404, "InvalidSecurityGroupId.NotFound")
	// An unknown ID as a DescribeSecurityGroups filter is an empty list, not
	// an error: Terraform's read path depends on that.
	if ids := groupIDs(t, c, func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupId = id }); len(ids) != 0 {
		t.Errorf("deleted group still listed: %v", ids)
	}
}

func TestDescribeSecurityGroupsFiltersAndPaging(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	vpcA := createVPC(t, e.vpc, "10.1.0.0/16")
	vpcB := createVPC(t, e.vpc, "10.2.0.0/16")

	tagged := func(name, vpcID, typ string, tags ...string) string {
		r := ecs.CreateCreateSecurityGroupRequest()
		r.SecurityGroupName, r.VpcId, r.SecurityGroupType = name, vpcID, typ
		var ts []ecs.CreateSecurityGroupTag
		for _, kv := range tags {
			k, v, _ := strings.Cut(kv, "=")
			ts = append(ts, ecs.CreateSecurityGroupTag{Key: k, Value: v})
		}
		r.Tag = &ts
		return must(c.CreateSecurityGroup(r))(t).SecurityGroupId
	}
	classic1 := tagged("classic-one", "", "", "team=a")
	classic2 := tagged("classic-two", "", "", "team=b")
	basicA := tagged("basic-a", vpcA, "normal", "team=a", "env=prod")
	entA := tagged("ent-a", vpcA, "enterprise")
	basicB := tagged("basic-b", vpcB, "")
	entB := tagged("ent-b", vpcB, "enterprise", "env=prod")
	dupName := tagged("basic-a", vpcB, "")
	all := []string{classic1, classic2, basicA, entA, basicB, entB, dupName}

	// Every resource is in the account's one resource group, which the VPC
	// API reports; a group created without ResourceGroupId is in it too
	// (the filter finds it), but answers none, as Terraform's
	// alicloud_security_group needs (its resource_group_id is not
	// computed). A group named in the group, on its create or by
	// JoinResourceGroup, answers it.
	va := vpc.CreateDescribeVpcAttributeRequest()
	va.VpcId = vpcA
	rg := must(e.vpc.DescribeVpcAttribute(va))(t).ResourceGroupId
	inGroup := ecs.CreateCreateSecurityGroupRequest()
	inGroup.VpcId, inGroup.ResourceGroupId = vpcA, rg
	named := must(c.CreateSecurityGroup(inGroup))(t).SecurityGroupId
	join := ecs.CreateJoinResourceGroupRequest()
	join.ResourceType, join.ResourceId, join.ResourceGroupId = "securitygroup", basicB, rg
	must(c.JoinResourceGroup(join))(t)
	r := ecs.CreateDescribeSecurityGroupsRequest()
	r.PageSize, r.ResourceGroupId = "50", rg
	listed := 0
	for _, g := range must(c.DescribeSecurityGroups(r))(t).SecurityGroups.SecurityGroup {
		listed++
		want := ""
		if g.SecurityGroupId == named || g.SecurityGroupId == basicB {
			want = rg
		}
		if g.ResourceGroupId != want {
			t.Errorf("%s: ResourceGroupId %q, want %q", g.SecurityGroupId, g.ResourceGroupId, want)
		}
	}
	if listed != len(all)+1 {
		t.Errorf("ResourceGroupId %s lists %d groups, want %d", rg, listed, len(all)+1)
	}
	del := ecs.CreateDeleteSecurityGroupRequest()
	del.SecurityGroupId = named
	must(c.DeleteSecurityGroup(del))(t)

	for _, tc := range []struct {
		name   string
		filter func(r *ecs.DescribeSecurityGroupsRequest)
		want   []string
	}{
		{"none", nil, all},
		{"SecurityGroupId", func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupId = entA }, []string{entA}},
		{"SecurityGroupIds JSON", func(r *ecs.DescribeSecurityGroupsRequest) {
			r.SecurityGroupIds = fmt.Sprintf(`["%s","%s","sg-doesnotexist0000000"]`, classic1, basicB)
		}, []string{classic1, basicB}},
		{"unknown SecurityGroupId", func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupId = "sg-doesnotexist0000000" }, nil},
		{"SecurityGroupName exact", func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupName = "basic-a" }, []string{basicA, dupName}},
		{"SecurityGroupType enterprise", func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupType = "enterprise" }, []string{entA, entB}},
		{"SecurityGroupType normal", func(r *ecs.DescribeSecurityGroupsRequest) { r.SecurityGroupType = "normal" },
			[]string{classic1, classic2, basicA, basicB, dupName}},
		{"VpcId", func(r *ecs.DescribeSecurityGroupsRequest) { r.VpcId = vpcA }, []string{basicA, entA}},
		{"VpcId and type", func(r *ecs.DescribeSecurityGroupsRequest) { r.VpcId, r.SecurityGroupType = vpcB, "normal" }, []string{basicB, dupName}},
		{"NetworkType classic", func(r *ecs.DescribeSecurityGroupsRequest) { r.NetworkType = "classic" }, []string{classic1, classic2}},
		{"NetworkType vpc", func(r *ecs.DescribeSecurityGroupsRequest) { r.NetworkType = "vpc" }, []string{basicA, entA, basicB, entB, dupName}},
		{"Tag key and value", func(r *ecs.DescribeSecurityGroupsRequest) {
			r.Tag = &[]ecs.DescribeSecurityGroupsTag{{Key: "team", Value: "a"}}
		}, []string{classic1, basicA}},
		{"Tag key only", func(r *ecs.DescribeSecurityGroupsRequest) {
			r.Tag = &[]ecs.DescribeSecurityGroupsTag{{Key: "team"}}
		}, []string{classic1, classic2, basicA}},
		{"two tags (AND)", func(r *ecs.DescribeSecurityGroupsRequest) {
			r.Tag = &[]ecs.DescribeSecurityGroupsTag{{Key: "team", Value: "a"}, {Key: "env", Value: "prod"}}
		}, []string{basicA}},
		{"ResourceGroupId the account's", func(r *ecs.DescribeSecurityGroupsRequest) { r.ResourceGroupId = rg }, all},
		{"ResourceGroupId another", func(r *ecs.DescribeSecurityGroupsRequest) { r.ResourceGroupId = "rg-elsewhere" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := groupIDs(t, c, tc.filter)
			if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) {
				t.Errorf("not in descending ID order: %v", got)
			}
			want := slices.Clone(tc.want)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}

	t.Run("PageNumber/PageSize", func(t *testing.T) {
		var seen []string
		for page, wantLen := range []int{3, 3, 1, 0} {
			r := ecs.CreateDescribeSecurityGroupsRequest()
			r.PageNumber, r.PageSize = requests.NewInteger(page+1), "3"
			resp := must(c.DescribeSecurityGroups(r))(t)
			if resp.TotalCount != len(all) || resp.PageNumber != page+1 || resp.PageSize != 3 || resp.NextToken != "" ||
				len(resp.SecurityGroups.SecurityGroup) != wantLen {
				t.Fatalf("page %d: TotalCount %d PageNumber %d PageSize %d NextToken %q, %d groups", page+1,
					resp.TotalCount, resp.PageNumber, resp.PageSize, resp.NextToken, len(resp.SecurityGroups.SecurityGroup))
			}
			for _, g := range resp.SecurityGroups.SecurityGroup {
				seen = append(seen, g.SecurityGroupId)
			}
		}
		want := slices.Clone(all)
		slices.Sort(want)
		slices.Reverse(want)
		if !slices.Equal(seen, want) {
			t.Errorf("pages gave %v, want %v (descending IDs)", seen, want)
		}
	})

	t.Run("NextToken/MaxResults", func(t *testing.T) {
		var seen []string
		token, calls := "", 0
		for {
			r := ecs.CreateDescribeSecurityGroupsRequest()
			r.MaxResults, r.NextToken = "3", token
			resp := must(c.DescribeSecurityGroups(r))(t)
			calls++
			// With token paging ECS leaves TotalCount out.
			if resp.TotalCount != 0 || len(resp.SecurityGroups.SecurityGroup) > 3 {
				t.Fatalf("call %d: TotalCount %d, %d groups", calls, resp.TotalCount, len(resp.SecurityGroups.SecurityGroup))
			}
			for _, g := range resp.SecurityGroups.SecurityGroup {
				seen = append(seen, g.SecurityGroupId)
			}
			if token = resp.NextToken; token == "" || calls > 5 {
				break
			}
		}
		want := slices.Clone(all)
		slices.Sort(want)
		slices.Reverse(want)
		if calls != 3 || !slices.Equal(seen, want) {
			t.Errorf("%d calls gave %v, want 3 calls giving %v", calls, seen, want)
		}
	})

	t.Run("enterprise attribute", func(t *testing.T) {
		if a := attr(t, c, entA, ""); a.InnerAccessPolicy != "Drop" || a.VpcId != vpcA {
			t.Errorf("enterprise group: InnerAccessPolicy %q VpcId %q, want Drop %s", a.InnerAccessPolicy, a.VpcId, vpcA)
		}
	})
}
