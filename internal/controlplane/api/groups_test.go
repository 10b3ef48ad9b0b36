package api

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// newGroup creates a group through the API and returns its ID.
func (e *env) newGroup(params map[string]string) string {
	e.t.Helper()
	return e.ecs("CreateSecurityGroup", params).(*createSecurityGroupResponse).SecurityGroupId
}

// group reads a group straight from the store.
func (e *env) group(id string) model.SecurityGroup {
	e.t.Helper()
	var g model.SecurityGroup
	e.s.Store.View(e.ctx, func(tx store.ReadTx) error {
		g, _, _ = store.GetAs[model.SecurityGroup](tx, KindGroup, id)
		return nil
	})
	return g
}

// vpcFor puts a VPC of the env's account into the store.
func (e *env) vpcFor(cidr string) string {
	e.t.Helper()
	acct, _ := e.s.AccountOfKey(e.ctx, e.key)
	v := model.VPC{ID: model.NewID("vpc"), Region: "cn-hangzhou", Owner: acct}
	v.CIDR, _ = model.ParseCIDR(cidr)
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		return store.PutAs(tx, KindVPC, v.ID, v.Owner, v.Region, v)
	}); err != nil {
		e.t.Fatal(err)
	}
	return v.ID
}

func TestCreateSecurityGroupValidation(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpcFor("192.168.0.0/16")
	tests := []struct {
		name   string
		params map[string]string
		code   string
		status int
	}{
		{"short name", map[string]string{"SecurityGroupName": "a"}, "InvalidSecurityGroupName.Malformed", 400},
		{"name starts with a digit", map[string]string{"SecurityGroupName": "1web"}, "InvalidSecurityGroupName.Malformed", 400},
		{"name is a URL", map[string]string{"SecurityGroupName": "http://x"}, "InvalidSecurityGroupName.Malformed", 400},
		{"description too short", map[string]string{"Description": "x"}, "InvalidSecurityGroupDiscription.Malformed", 400},
		{"bad type", map[string]string{"SecurityGroupType": "premium"}, "InvalidParams.GroupType", 400},
		{"enterprise without VPC", map[string]string{"SecurityGroupType": "enterprise"}, "InvalidParams.VpcIdGroupType", 400},
		{"unknown VPC", map[string]string{"VpcId": "vpc-nothere"}, "InvalidVpcId.NotFound", 404},
		{"unknown region", map[string]string{"RegionId": "mars-1"}, "InvalidRegionId.NotFound", 404},
		{"no region", map[string]string{"RegionId": ""}, "MissingParameter", 400},
		{"reserved tag key", map[string]string{"Tag.1.Key": "aliyun:x", "Tag.1.Value": "v"}, "InvalidTagKey.Malformed", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { e.ecsErr(tt.code, tt.status, "CreateSecurityGroup", tt.params) })
	}
	id := e.newGroup(map[string]string{"VpcId": vpc, "SecurityGroupName": "web", "SecurityGroupType": "enterprise", "Description": "web tier", "Tag.1.Key": "env", "Tag.1.Value": "prod"})
	g := e.group(id)
	if g.Type != model.Enterprise || g.InnerAccessPolicy != model.InnerDrop || g.Name != "web" || len(g.Tags) != 1 || len(g.Rules) != 0 {
		t.Fatalf("created %+v", g)
	}
}

func TestDescribeSecurityGroups(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpcFor("10.0.0.0/8")
	var ids []string
	for i := range 12 {
		ids = append(ids, e.newGroup(map[string]string{"VpcId": vpc, "SecurityGroupName": fmt.Sprintf("g%02d", i)}))
	}
	other := e.otherAccount()
	other.newGroup(nil)

	all := e.ecs("DescribeSecurityGroups", map[string]string{"PageSize": "50"}).(*describeSecurityGroupsResponse)
	if all.TotalCount == nil || *all.TotalCount != 12 || len(all.SecurityGroups.SecurityGroup) != 12 {
		t.Fatalf("got %d of %v groups, want the account's 12", len(all.SecurityGroups.SecurityGroup), all.TotalCount)
	}
	for i := 1; i < len(all.SecurityGroups.SecurityGroup); i++ {
		if all.SecurityGroups.SecurityGroup[i-1].SecurityGroupId < all.SecurityGroups.SecurityGroup[i].SecurityGroupId {
			t.Fatal("groups are not in descending ID order")
		}
	}
	first := e.ecs("DescribeSecurityGroups", map[string]string{"MaxResults": "5"}).(*describeSecurityGroupsResponse)
	seen := len(first.SecurityGroups.SecurityGroup)
	for next := first.NextToken; next != ""; {
		p := e.ecs("DescribeSecurityGroups", map[string]string{"MaxResults": "5", "NextToken": next}).(*describeSecurityGroupsResponse)
		seen += len(p.SecurityGroups.SecurityGroup)
		next = p.NextToken
	}
	if seen != 12 || first.TotalCount != nil {
		t.Fatalf("token paging saw %d groups (TotalCount %v)", seen, first.TotalCount)
	}
	one := e.ecs("DescribeSecurityGroups", map[string]string{"SecurityGroupIds": fmt.Sprintf(`["%s"]`, ids[3])}).(*describeSecurityGroupsResponse)
	if len(one.SecurityGroups.SecurityGroup) != 1 || one.SecurityGroups.SecurityGroup[0].SecurityGroupName != "g03" {
		t.Fatalf("filter by ID: %+v", one.SecurityGroups)
	}
	none := e.ecs("DescribeSecurityGroups", map[string]string{"SecurityGroupId": "sg-unknown"}).(*describeSecurityGroupsResponse)
	if len(none.SecurityGroups.SecurityGroup) != 0 {
		t.Fatal("an unknown ID must give an empty list")
	}
	e.ecsErr("InvalidPageSize.Malformed", 400, "DescribeSecurityGroups", map[string]string{"PageSize": "51"})
}

func TestGroupIsolationBetweenAccounts(t *testing.T) {
	e := newEnv(t)
	other := e.otherAccount()
	id := e.newGroup(nil)
	for _, action := range []string{"DescribeSecurityGroupAttribute", "DeleteSecurityGroup", "ModifySecurityGroupAttribute"} {
		other.ecsErr("InvalidSecurityGroupId.NotFound", 404, action, map[string]string{"SecurityGroupId": id, "SecurityGroupName": "mine"})
	}
	other.ecsErr("InvalidSecurityGroupId.NotFound", 404, "AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": id, "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"})
	if g := e.group(id); g.Name != "" || len(g.Rules) != 0 {
		t.Fatalf("another account changed the group: %+v", g)
	}
	e.ecsErr("InvalidSecurityGroupId.Malformed", 400, "DeleteSecurityGroup", map[string]string{"SecurityGroupId": "group-1"})
}

func TestModifySecurityGroupPolicy(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpcFor("10.0.0.0/8")
	basic := e.newGroup(map[string]string{"VpcId": vpc})
	ent := e.newGroup(map[string]string{"VpcId": vpc, "SecurityGroupType": "enterprise"})
	e.ecs("ModifySecurityGroupPolicy", map[string]string{"SecurityGroupId": basic, "InnerAccessPolicy": "drop"})
	if g := e.group(basic); g.InnerAccessPolicy != "Drop" {
		t.Fatalf("policy %q", g.InnerAccessPolicy)
	}
	e.ecsErr("InvalidParameter.InnerAccessPolicy", 404, "ModifySecurityGroupPolicy", map[string]string{"SecurityGroupId": ent, "InnerAccessPolicy": "Accept"})
	e.ecsErr("InvalidPolicy.Malformed", 400, "ModifySecurityGroupPolicy", map[string]string{"SecurityGroupId": basic, "InnerAccessPolicy": "allow"})
	e.ecsErr("MissingParameter", 400, "ModifySecurityGroupPolicy", map[string]string{"SecurityGroupId": basic})
}

func TestGroupQuota(t *testing.T) {
	e := newEnv(t)
	for range model.MaxGroupsPerRegion {
		e.newGroup(nil)
	}
	e.ecsErr("QuotaExceed.SecurityGroup", 403, "CreateSecurityGroup", nil)
	// Another region has its own quota.
	e.ecs("CreateSecurityGroup", map[string]string{"RegionId": "cn-beijing"})
}

func TestIdempotentCreate(t *testing.T) {
	e := newEnv(t)
	a := e.newGroup(map[string]string{"ClientToken": "tok-1", "SecurityGroupName": "web"})
	b := e.newGroup(map[string]string{"ClientToken": "tok-1", "SecurityGroupName": "web"})
	if a != b {
		t.Fatalf("same token gave %s and %s", a, b)
	}
	e.ecsErr("IdempotentParameterMismatch", 400, "CreateSecurityGroup", map[string]string{"ClientToken": "tok-1", "SecurityGroupName": "db"})
	groups := e.ecs("DescribeSecurityGroups", nil).(*describeSecurityGroupsResponse)
	if groups.TotalCount == nil || *groups.TotalCount != 1 {
		t.Fatalf("%v groups after retries, want 1", groups.TotalCount)
	}
}

// TestConcurrentAuthorizeQuota: many clients authorize into one group at once;
// exactly 200 rules land and the next is refused.
func TestConcurrentAuthorizeQuota(t *testing.T) {
	e := newEnv(t)
	id := e.newGroup(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				_, err := e.call(ECSVersion, "AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": id,
					"IpProtocol": "tcp", "PortRange": fmt.Sprintf("%d/%d", 1000+w*100+i, 1000+w*100+i), "SourceCidrIp": "10.0.0.0/8"})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		if !isCode(err, "AuthorizationLimitExceed") {
			t.Fatalf("unexpected error: %v", err)
		}
		refused++
	}
	if n := len(e.group(id).Rules); n != model.MaxRulesPerGroup || refused != 300-model.MaxRulesPerGroup {
		t.Fatalf("%d rules, %d refused; want %d and %d", n, refused, model.MaxRulesPerGroup, 300-model.MaxRulesPerGroup)
	}
	e.ecsErr("AuthorizationLimitExceed", 403, "AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": id,
		"IpProtocol": "udp", "PortRange": "53/53", "SourceCidrIp": "10.0.0.0/8"})
	_ = context.Background()
}
