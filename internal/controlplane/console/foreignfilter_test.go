package console

import (
	"context"
	"html"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// TestInstancesFilterNotFound: the instances page filtered by a group or
// a VPC that is not the caller's says it is not found, in the same words
// whether it is another account's or none's (it listed no members, as of
// an empty group of the caller's); the caller's own filter lists.
func TestInstancesFilterNotFound(t *testing.T) {
	svc, key, cl := tenantService(t)
	_, other := newTenant(t, svc, "other")
	ctx := context.Background()
	mine, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: other, Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	const theirVPC = "vpc-foreignfilter0001"
	v := &model.VPC{ID: theirVPC, Owner: other.Account, Region: other.Region, Name: "theirs", CIDR: netip.MustParsePrefix("10.9.0.0/16")}
	g := modeltest.Group("sg-foreignfilter00001", theirVPC, "basic")
	g.Owner = other.Account
	if _, err := svc.Import(ctx, other.Region, service.Resources{VPCs: []*model.VPC{v}, Groups: []*model.SecurityGroup{g}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// answer is the page's error with the ID named replaced by ID: the
	// same for another account's and for none's.
	answer := func(q, id string) (int, string) {
		code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/instances?"+q+"="+id)
		body = html.UnescapeString(body)
		if i := strings.Index(body, `class="ecs-code"`); code != http.StatusOK && i >= 0 {
			body = body[i:]
			body = body[:strings.Index(body, "</p>")]
		}
		return code, strings.ReplaceAll(body, id, "ID")
	}
	for _, tc := range []struct {
		name, q, foreign, none, code string
	}{
		{"group", "group", theirs.SecurityGroupId, "sg-foreignfilter99999", "InvalidSecurityGroupId.NotFound"},
		{"vpc", "vpc", theirVPC, "vpc-foreignfilter9999", "InvalidVpcId.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc, fb := answer(tc.q, tc.foreign)
			nc, nb := answer(tc.q, tc.none)
			if fc != http.StatusNotFound || !strings.Contains(fb, tc.code) || !strings.Contains(fb, "does not exist") {
				t.Errorf("another account's %s: %d %.1500s", tc.name, fc, fb)
			}
			if fc != nc || fb != nb {
				t.Errorf("another account's %s and none's are told apart:\n%d %q\n%d %q", tc.name, fc, fb, nc, nb)
			}
		})
	}
	if code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/instances?group="+mine.SecurityGroupId); code != http.StatusOK || !strings.Contains(body, `id="instances-group"`) {
		t.Errorf("the caller's own group: %d %.1500s", code, body)
	}
}
