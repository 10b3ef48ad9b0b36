package apitest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// TestTerraformInstancesDataSource replays data "alicloud_instances" with
// its default enable_details: DescribeInstances by its filters, then
// DescribeInstanceRamRole for the VPC instances found (InstanceIds as a
// JSON array, PageSize 50, paged by number), keeping only the instances
// that answer names. ECS answers each instance, with RamRoleName "" when
// it has no role; an answer that left them out made the data source empty
// (total_count 2, instances []).
func TestTerraformInstancesDataSource(t *testing.T) {
	e := newEnv(t)
	other := e.newAccount(t, "other")
	vpcA := createVPC(t, e.vpc, "10.0.0.0/16")
	vsw := createVSwitch(t, e.vpc, vpcA, "10.0.1.0/24")
	sg := createGroup(t, e.ecs, "web", vpcA, "")
	a, b := runInstance(t, e.ecs, vsw, sg), runInstance(t, e.ecs, vsw, sg)

	dr := ecs.CreateDescribeInstancesRequest()
	dr.VpcId, dr.PageNumber, dr.PageSize = vpcA, requests.NewInteger(1), requests.NewInteger(100)
	var found []string
	for _, in := range must(e.ecs.DescribeInstances(dr))(t).Instances.Instance {
		found = append(found, in.InstanceId)
	}
	ids, _ := json.Marshal(found)
	unknown, _ := json.Marshal([]string{a, "i-doesnotexist00000000"})

	roles := func(c *ecs.Client, ids, roleName string, page, size int) *ecs.DescribeInstanceRamRoleResponse {
		t.Helper()
		r := ecs.CreateDescribeInstanceRamRoleRequest()
		r.InstanceIds, r.RamRoleName = ids, roleName
		r.PageNumber, r.PageSize = requests.NewInteger(page), requests.NewInteger(size)
		return must(c.DescribeInstanceRamRole(r))(t)
	}
	for _, tc := range []struct {
		name       string
		c          *ecs.Client
		ids, role  string
		page, size int
		want       []string // the instances answered, each with RamRoleName ""
		total      int
	}{
		{"the data source's call", e.ecs, string(ids), "", 1, 50, []string{a, b}, 2},
		{"alicloud_instance's read", e.ecs, `["` + a + `"]`, "", 1, 10, []string{a}, 1},
		{"paged, past the end", e.ecs, string(ids), "", 3, 1, nil, 2},
		{"an unknown instance left out", e.ecs, string(unknown), "", 1, 50, []string{a}, 1},
		{"by a role no instance holds", e.ecs, string(ids), "ecs-role", 1, 50, nil, 0},
		{"another account's instances", other.ecs, string(ids), "", 1, 50, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := roles(tc.c, tc.ids, tc.role, tc.page, tc.size)
			var got []string
			for _, s := range resp.InstanceRamRoleSets.InstanceRamRoleSet {
				if s.RamRoleName != "" {
					t.Errorf("%s has role %q, want none", s.InstanceId, s.RamRoleName)
				}
				got = append(got, s.InstanceId)
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) || resp.TotalCount != tc.total {
				t.Errorf("answered %v (TotalCount %d), want %v (%d)", got, resp.TotalCount, tc.want, tc.total)
			}
		})
	}

	// One a page: each page answers another instance.
	p1, p2 := roles(e.ecs, string(ids), "", 1, 1), roles(e.ecs, string(ids), "", 2, 1)
	if len(p1.InstanceRamRoleSets.InstanceRamRoleSet) != 1 || len(p2.InstanceRamRoleSets.InstanceRamRoleSet) != 1 ||
		p1.InstanceRamRoleSets.InstanceRamRoleSet[0].InstanceId == p2.InstanceRamRoleSets.InstanceRamRoleSet[0].InstanceId {
		t.Errorf("pages of one: %v and %v, want one instance each, not the same", p1.InstanceRamRoleSets, p2.InstanceRamRoleSets)
	}

	r := ecs.CreateDescribeInstanceRamRoleRequest()
	r.InstanceIds, r.PageSize = string(ids), requests.NewInteger(51)
	_, err := e.ecs.DescribeInstanceRamRole(r)
	wantErr(t, err, 400, "InvalidPageSize.Malformed")
}
