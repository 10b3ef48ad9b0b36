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

// TestTerraformInstanceStoppedMode: alicloud_instance's status Stopped with
// stopped_mode stops with StopInstance's StoppedMode and reads the mode back
// from DescribeInstances' StoppedMode (Not-applicable while running). An
// answer of Not-applicable for a stopped instance made every plan after
// the stop change stopped_mode again. Not-applicable, which the provider
// sends back once it has read it, stops with no mode.
func TestTerraformInstanceStoppedMode(t *testing.T) {
	e := newEnv(t)
	vpcID := createVPC(t, e.vpc, "10.0.0.0/16")
	id := runInstance(t, e.ecs, createVSwitch(t, e.vpc, vpcID, "10.0.1.0/24"), createGroup(t, e.ecs, "web", vpcID, ""))
	read := func() (string, string) {
		t.Helper()
		r := ecs.CreateDescribeInstancesRequest()
		r.InstanceIds = `["` + id + `"]`
		list := must(e.ecs.DescribeInstances(r))(t).Instances.Instance
		if len(list) != 1 {
			t.Fatalf("DescribeInstances %s: %d instances", id, len(list))
		}
		if a := instance(t, e.ecs, id).StoppedMode; a != list[0].StoppedMode {
			t.Errorf("DescribeInstanceAttribute's StoppedMode %q, DescribeInstances' %q", a, list[0].StoppedMode)
		}
		return list[0].Status, list[0].StoppedMode
	}
	stop := func(mode string) error {
		r := ecs.CreateStopInstanceRequest()
		r.InstanceId, r.ForceStop, r.StoppedMode = id, requests.NewBoolean(false), mode
		_, err := e.ecs.StopInstance(r)
		return err
	}
	start := func() error {
		r := ecs.CreateStartInstanceRequest()
		r.InstanceId = id
		_, err := e.ecs.StartInstance(r)
		return err
	}
	stopAll := func(mode string) error {
		r := ecs.CreateStopInstancesRequest()
		r.InstanceId, r.StoppedMode = &[]string{id}, mode
		_, err := e.ecs.StopInstances(r)
		return err
	}
	for _, step := range []struct {
		name       string
		act        func() error
		status     string
		mode       string
		code       string // the error wanted, "" for none
		httpStatus int
	}{
		{"running", func() error { return nil }, "Running", "Not-applicable", "", 0},
		{"stop, unknown mode", func() error { return stop("Hibernate") }, "Running", "Not-applicable", "InvalidParameter", 400},
		{"stop, StopCharging", func() error { return stop("StopCharging") }, "Stopped", "StopCharging", "", 0},
		{"start", start, "Running", "Not-applicable", "", 0},
		{"stop, no mode", func() error { return stop("") }, "Stopped", "KeepCharging", "", 0},
		{"start again", start, "Running", "Not-applicable", "", 0},
		// The provider sends back the stopped_mode it read while the
		// instance ran: it stops as with no mode.
		{"stop, Not-applicable", func() error { return stop("Not-applicable") }, "Stopped", "KeepCharging", "", 0},
		{"start a third time", start, "Running", "Not-applicable", "", 0},
		{"StopInstances, Not-applicable", func() error { return stopAll("Not-applicable") }, "Stopped", "KeepCharging", "", 0},
		{"start a fourth time", start, "Running", "Not-applicable", "", 0},
		{"StopInstances, StopCharging", func() error { return stopAll("StopCharging") }, "Stopped", "StopCharging", "", 0},
	} {
		err := step.act()
		if step.code != "" {
			wantErr(t, err, step.httpStatus, step.code)
		} else if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if status, mode := read(); status != step.status || mode != step.mode {
			t.Errorf("%s: %s with StoppedMode %q, want %s with %q", step.name, status, mode, step.status, step.mode)
		}
	}
}
