package apitest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
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

// TestTerraformInstanceSet replays alicloud_ecs_instance_set's create:
// RunInstances with Amount, the wait on DescribeInstances, then the look
// for instances ECS released at launch (DescribeInstanceHistoryEvents,
// EventType SystemFailure.Delete, ResourceId indexed from 0 as the
// provider sends it), which must answer a list, empty here; then the
// destroy. Without that action the create failed with the instances made
// and outside the state.
func TestTerraformInstanceSet(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	o := srv.NewAccount(t, "other")
	other := &tfClient{testenv.V3Client(t, srv.Addr, o.KeyID, o.Secret, "v2")}
	events := func(extra map[string]any) map[string]any {
		b := map[string]any{"EventType": "SystemFailure.Delete", "PageSize": 100, "PageNumber": 1, "ResourceType": "instance",
			"ResourceId.0": "{i0}", "ResourceId.1": "{i1}"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	runTF(t, tf, []tfStep{
		{name: "vpc", version: vpcVersion, action: "CreateVpc", body: map[string]any{"CidrBlock": "10.0.0.0/16"}, save: map[string]string{"vpc": "VpcId"}},
		{name: "vswitch", version: vpcVersion, action: "CreateVSwitch", body: map[string]any{"CidrBlock": "10.0.1.0/24", "VpcId": "{vpc}", "ZoneId": zone},
			save: map[string]string{"vsw": "VSwitchId"}},
		{name: "group", version: ecsVersion, action: "CreateSecurityGroup", body: map[string]any{"VpcId": "{vpc}"}, save: map[string]string{"sg": "SecurityGroupId"}},
		{name: "create", version: ecsVersion, action: "RunInstances", body: map[string]any{"Amount": 2, "InstanceType": instanceType, "ImageId": imageID,
			"SecurityGroupIds.1": "{sg}", "InstanceName": "tf-set", "ZoneId": zone, "VSwitchId": "{vsw}", "SystemDisk.Category": "cloud_essd",
			"InternetMaxBandwidthOut": 0, "ClientToken": "tf-set-token"},
			save: map[string]string{"i0": "InstanceIdSets.InstanceIdSet.0", "i1": "InstanceIdSets.InstanceIdSet.1"}},
		{name: "create wait", version: ecsVersion, action: "DescribeInstances", body: map[string]any{"InstanceIds": `["{i0}","{i1}"]`, "PageNumber": 1, "PageSize": 100},
			want: map[string]string{"TotalCount": "2"}},
		{name: "released at launch", version: ecsVersion, action: "DescribeInstanceHistoryEvents", body: events(nil),
			want:  map[string]string{"TotalCount": "0", "InstanceSystemEventSet.InstanceSystemEventType": "[]"},
			kinds: map[string]string{"InstanceSystemEventSet.InstanceSystemEventType": "list"}},
		{name: "other: released at launch", as: other, version: ecsVersion, action: "DescribeInstanceHistoryEvents", body: events(nil),
			want: map[string]string{"TotalCount": "0", "InstanceSystemEventSet.InstanceSystemEventType": "[]"}},
		{name: "page too large", version: ecsVersion, action: "DescribeInstanceHistoryEvents", body: events(map[string]any{"PageSize": 101}),
			err: "InvalidPageSize.Malformed", status: 400},
		{name: "unknown resource type", version: ecsVersion, action: "DescribeInstanceHistoryEvents", body: events(map[string]any{"ResourceType": "bucket"}),
			err: "InvalidParameter", status: 400},
		{name: "destroy", version: ecsVersion, action: "DeleteInstances", body: map[string]any{"InstanceId.1": "{i0}", "InstanceId.2": "{i1}", "Force": true}},
		{name: "destroyed", version: ecsVersion, action: "DescribeInstances", body: map[string]any{"VpcId": "{vpc}"},
			want: map[string]string{"Instances.Instance": "[]"}},
	})
}
