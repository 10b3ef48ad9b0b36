package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/cli/apply"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

const taggedScenario = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, tags: {owner: net-team}}
securityGroups:
  - securityGroupId: sg-web
    vpcId: vpc-a
    tags: {env: prod, app: shop}
instances:
  - {instanceId: i-web, vpcId: vpc-a, privateIpAddress: 10.0.1.10, securityGroupIds: [sg-web], tags: {env: prod, owner: web-team}}
`

// TestApplyTags: apply creates the file's tags beside its palisade:id
// marker, a second apply makes no call, and a changed `tags:` converges
// with TagResources and UntagResources while the marker stays.
func TestApplyTags(t *testing.T) {
	s := applyServer(t)
	f := writeScenario(t, taggedScenario)
	ok(t, "apply", f, "--yes")
	user := func(ts []model.Tag) []string {
		var out []string
		for _, x := range ts {
			out = append(out, x.Key+"="+x.Value)
		}
		slices.Sort(out)
		return out
	}
	vpcTags := func() []string {
		r := vpc.CreateDescribeVpcsRequest()
		r.RegionId = testenv.Region
		resp, err := s.VPC(t).DescribeVpcs(r)
		if err != nil || len(resp.Vpcs.Vpc) != 1 {
			t.Fatalf("DescribeVpcs: %v", err)
		}
		var ts []model.Tag
		for _, x := range resp.Vpcs.Vpc[0].Tags.Tag {
			ts = append(ts, model.Tag{Key: x.Key, Value: x.Value})
		}
		return user(ts)
	}
	rb := read(t, s)
	if got := user(rb.groups["sg-web"].Tags); !slices.Equal(got, []string{"app=shop", "env=prod", apply.Marker + "=sg-web"}) {
		t.Errorf("group tags %q", got)
	}
	if got := user(rb.insts["i-web"].Tags); !slices.Equal(got, []string{"env=prod", "owner=web-team", apply.Marker + "=i-web"}) {
		t.Errorf("instance tags %q", got)
	}
	if got := vpcTags(); !slices.Equal(got, []string{"owner=net-team"}) {
		t.Errorf("VPC tags %q", got)
	}
	if p := planOf(t, f); len(p.Steps) != 0 {
		t.Fatalf("second apply: %q", actions(p))
	}

	// New tags for the group, none for the VPC, and the instance's left
	// out of the file (so left alone).
	edited := strings.NewReplacer("tags: {env: prod, app: shop}", "tags: {env: test, app: shop, owner: web-team}",
		"tags: {owner: net-team}", "tags: {}", ", tags: {env: prod, owner: web-team}}", "}").Replace(taggedScenario)
	f = writeScenario(t, edited)
	p := planOf(t, f)
	if got, want := actions(p), []string{"UnTagResources vpc-a", "TagResources sg-web"}; !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	ok(t, "apply", f, "--yes")
	rb = read(t, s)
	if got := user(rb.groups["sg-web"].Tags); !slices.Equal(got, []string{"app=shop", "env=test", "owner=web-team", apply.Marker + "=sg-web"}) {
		t.Errorf("group tags after the change %q", got)
	}
	if got := user(rb.insts["i-web"].Tags); !slices.Equal(got, []string{"env=prod", "owner=web-team", apply.Marker + "=i-web"}) {
		t.Errorf("instance tags after the change %q", got)
	}
	if got := vpcTags(); len(got) != 0 {
		t.Errorf("VPC tags after the change %q", got)
	}
	// Removing one of the group's keys untags it, keeping the marker.
	f = writeScenario(t, strings.Replace(edited, "tags: {env: test, app: shop, owner: web-team}", "tags: {env: test}", 1))
	if got, want := actions(planOf(t, f)), []string{"UntagResources sg-web"}; !slices.Equal(got, want) {
		t.Fatalf("plan %q, want %q", got, want)
	}
	ok(t, "apply", f, "--yes")
	if got := user(read(t, s).groups["sg-web"].Tags); !slices.Equal(got, []string{"env=test", apply.Marker + "=sg-web"}) {
		t.Errorf("group tags after the untag %q", got)
	}
	if p := planOf(t, f); len(p.Steps) != 0 {
		t.Errorf("apply after the untag: %q", actions(p))
	}
}
