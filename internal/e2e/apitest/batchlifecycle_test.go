package apitest

import (
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// statusOf is an instance's status as DescribeInstanceStatus lists it ("" when
// it is not listed).
func statusOf(t testing.TB, c *ecs.Client, id string) string {
	t.Helper()
	r := ecs.CreateDescribeInstanceStatusRequest()
	r.InstanceId = &[]string{id}
	for _, s := range must(c.DescribeInstanceStatus(r))(t).InstanceStatuses.InstanceStatus {
		if s.InstanceId == id {
			return s.Status
		}
	}
	return ""
}

// outcomes renders an InstanceResponses list as "ID Code Previous>Current".
func outcomes(rs []ecs.InstanceResponse) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.InstanceId+" "+r.Code+" "+r.PreviousStatus+">"+r.CurrentStatus)
	}
	return out
}

// TestBatchLifecycle drives RebootInstance, Start/Stop/RebootInstances,
// DeleteInstances and DescribeInstanceStatus with the official SDK: the
// answers in the SDK's shapes, AllTogether refusing the whole batch and
// changing nothing, SuccessFirst answering each instance's outcome,
// another account's instance as absent, ClientToken retries, and each
// write in the event trail.
func TestBatchLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	n := newNetwork(t, e, "10.0.0.0/16")
	a, b, d := runInstance(t, c, n.vsw, n.sgA), runInstance(t, c, n.vsw, n.sgA), runInstance(t, c, n.vsw, n.sgA)
	other := e.newAccount(t, "other")
	ovpc := createVPC(t, other.vpc, "10.0.0.0/16")
	theirs := runInstance(t, other.ecs, createVSwitch(t, other.vpc, ovpc, "10.0.1.0/24"), createGroup(t, other.ecs, "theirs", ovpc, ""))

	stop := func(mode string, ids ...string) (*ecs.StopInstancesResponse, error) {
		r := ecs.CreateStopInstancesRequest()
		r.InstanceId, r.BatchOptimization = &ids, mode
		return c.StopInstances(r)
	}
	start := func(mode string, ids ...string) (*ecs.StartInstancesResponse, error) {
		r := ecs.CreateStartInstancesRequest()
		r.InstanceId, r.BatchOptimization = &ids, mode
		return c.StartInstances(r)
	}
	reboots := func(ids ...string) (*ecs.RebootInstancesResponse, error) {
		r := ecs.CreateRebootInstancesRequest()
		r.InstanceId = &ids
		return c.RebootInstances(r)
	}
	reboot := func(id string, force bool) error {
		r := ecs.CreateRebootInstanceRequest()
		r.InstanceId, r.ForceStop = id, requests.NewBoolean(force)
		_, err := c.RebootInstance(r)
		return err
	}
	statuses := func() []string {
		return []string{statusOf(t, c, a), statusOf(t, c, b), statusOf(t, c, d)}
	}

	// AllTogether (the default): b is already running to a start, so
	// nothing starts.
	res := must(stop("", a))(t)
	if got := outcomes(res.InstanceResponses.InstanceResponse); !slices.Equal(got, []string{a + " 200 Running>Stopped"}) {
		t.Fatalf("StopInstances answered %v", got)
	}
	_, err := start("AllTogether", a, b)
	wantErr(t, err, http.StatusForbidden, "IncorrectInstanceStatus")
	if got := statuses(); !slices.Equal(got, []string{"Stopped", "Running", "Running"}) {
		t.Fatalf("after a refused batch: %v", got)
	}
	// SuccessFirst: a starts, b's refusal and another account's instance
	// (absent to this one) are answered beside it.
	sres := must(start("SuccessFirst", a, b, theirs))(t)
	want := []string{a + " 200 Stopped>Running", b + " IncorrectInstanceStatus Running>Running", theirs + " InvalidInstanceId.NotFound >"}
	if got := outcomes(sres.InstanceResponses.InstanceResponse); !slices.Equal(got, want) {
		t.Fatalf("StartInstances SuccessFirst answered %v, want %v", got, want)
	}
	if statusOf(t, other.ecs, theirs) != "Running" {
		t.Fatal("another account's instance changed")
	}

	// Reboots: running instances only; nothing changes.
	noErr(t, reboot(a, true))
	rres := must(reboots(a, b))(t)
	if got := outcomes(rres.InstanceResponses.InstanceResponse); !slices.Equal(got, []string{a + " 200 Running>Running", b + " 200 Running>Running"}) {
		t.Fatalf("RebootInstances answered %v", got)
	}
	must(stop("", d))(t)
	_, err = reboots(a, d)
	wantErr(t, err, http.StatusForbidden, "IncorrectInstanceStatus")

	for _, tt := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"reboot stopped", func() error { return reboot(d, false) }, 403, "IncorrectInstanceStatus"},
		{"reboot another account's", func() error { return reboot(theirs, false) }, 404, "InvalidInstanceId.NotFound"},
		{"reboot none", func() error { return reboot("", false) }, 400, "MissingParameter"},
		{"stop none", func() error { _, err := stop(""); return err }, 400, "MissingParameter"},
		{"stop twice the same", func() error { _, err := stop("", a, a); return err }, 400, "InvalidParameter"},
		{"stop another account's", func() error { _, err := stop("", a, theirs); return err }, 404, "InvalidInstanceId.NotFound"},
		{"bad optimization", func() error { _, err := stop("Later", a); return err }, 400, "InvalidParameter"},
		{"stop 101", func() error {
			ids := make([]string, 101)
			for i := range ids {
				ids[i] = "i-" + strconv.Itoa(i)
			}
			_, err := stop("", ids...)
			return err
		}, 400, "InvalidParameter"},
		{"dry run", func() error {
			r := ecs.CreateStopInstancesRequest()
			r.InstanceId, r.DryRun = &[]string{a}, requests.NewBoolean(true)
			_, err := c.StopInstances(r)
			return err
		}, 400, "DryRunOperation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.call(), tt.status, tt.code)
			if got := statuses(); !slices.Equal(got, []string{"Running", "Running", "Stopped"}) {
				t.Fatalf("a refused call changed the statuses: %v", got)
			}
		})
	}

	// DescribeInstanceStatus pages the region's instances, newest first,
	// filtered by zone and ID; another account's are not listed.
	var listed []string
	for num, want := range []int{2, 1} { // pages 1 and 2 of 2
		ds := ecs.CreateDescribeInstanceStatusRequest()
		ds.PageSize, ds.PageNumber = requests.NewInteger(2), requests.NewInteger(num+1)
		page := must(c.DescribeInstanceStatus(ds))(t)
		if page.TotalCount != 3 || page.PageNumber != num+1 || page.PageSize != 2 || len(page.InstanceStatuses.InstanceStatus) != want {
			t.Fatalf("DescribeInstanceStatus page %d of 2: %+v", num+1, page)
		}
		for _, s := range page.InstanceStatuses.InstanceStatus {
			listed = append(listed, s.InstanceId)
		}
	}
	if !slices.Equal(sorted(listed...), sorted(a, b, d)) {
		t.Fatalf("the two pages list %v, want each of %v once", listed, []string{a, b, d})
	}
	dz := ecs.CreateDescribeInstanceStatusRequest()
	dz.ZoneId = "cn-hangzhou-nowhere"
	if got := must(c.DescribeInstanceStatus(dz))(t); got.TotalCount != 0 {
		t.Fatalf("another zone: %+v", got)
	}
	dz.ZoneId = zone
	if got := must(c.DescribeInstanceStatus(dz))(t); got.TotalCount != 3 {
		t.Fatalf("the instances' zone: %+v", got)
	}
	if got := statusOf(t, c, theirs); got != "" {
		t.Fatalf("another account's instance listed: %s", got)
	}
	bad := ecs.CreateDescribeInstanceStatusRequest()
	bad.PageSize = requests.NewInteger(51)
	_, err = c.DescribeInstanceStatus(bad)
	wantErr(t, err, 400, "InvalidPageSize.Malformed")

	// DeleteInstances: all or none; a running one needs Force; a retry
	// with its ClientToken gets the first answer.
	del := func(force bool, token string, ids ...string) error {
		r := ecs.CreateDeleteInstancesRequest()
		r.InstanceId, r.Force, r.ClientToken = &ids, requests.NewBoolean(force), token
		_, err := c.DeleteInstances(r)
		return err
	}
	wantErr(t, del(false, "", d, a), 403, "IncorrectInstanceStatus")
	wantErr(t, del(true, "", d, theirs), 404, "InvalidInstanceId.NotFound")
	if got := statuses(); !slices.Equal(got, []string{"Running", "Running", "Stopped"}) {
		t.Fatalf("a refused delete changed something: %v", got)
	}
	noErr(t, del(true, "del-1", d, a))
	noErr(t, del(true, "del-1", d, a)) // the retry: answered as the first, nothing more deleted
	if got := statuses(); !slices.Equal(got, []string{"", "Running", ""}) {
		t.Fatalf("after DeleteInstances: %v", got)
	}
	wantErr(t, del(true, "", d), 404, "InvalidInstanceId.NotFound")

	// Each write is in the trail, the refused ones with their codes; a
	// reboot changes nothing in the store but is recorded as ECS records it.
	tc := trailClient(t, e.addr, e.ak, e.secret)
	got := map[string]int{}
	for _, ev := range lookup(t, tc) {
		code, _ := ev["errorCode"].(string)
		got[ev["eventName"].(string)+" "+code]++
	}
	for _, k := range []string{"StartInstances ", "StartInstances IncorrectInstanceStatus", "StopInstances ", "RebootInstance ",
		"RebootInstances ", "RebootInstance IncorrectInstanceStatus", "DeleteInstances ", "DeleteInstances IncorrectInstanceStatus"} {
		if got[k] == 0 {
			t.Errorf("no %q event in the trail: %v", k, got)
		}
	}
}

// TestDeleteInstancesRefusedKeepsENIs: DeleteInstances changes nothing
// when it is refused (another instance of the batch is running) or only
// checked (DryRun), so an ENI attached to an instance of the batch stays
// attached. The detach of its ENIs, done for the first instance before
// the second was refused, changed the server's in-memory copy of the ENI
// in place: the rollback kept the store as it was, but every read, and
// the hosts' snapshots, saw the ENI detached.
func TestDeleteInstancesRefusedKeepsENIs(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	w := createVSwitch(t, e.vpc, v, "10.0.1.0/24")
	g := createGroup(t, c, "batch-eni", v, "")
	for _, tt := range []struct {
		name    string
		running bool // the batch's second instance is running: the call is refused
		dryRun  bool
		status  int
		code    string
	}{
		{"refused by another instance", true, false, http.StatusForbidden, "IncorrectInstanceStatus"},
		{"dry run", false, true, http.StatusBadRequest, "DryRunOperation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := runInstance(t, c, w, g), runInstance(t, c, w, g)
			stopped := []string{a}
			if !tt.running {
				stopped = append(stopped, b)
			}
			for _, id := range stopped {
				r := ecs.CreateStopInstanceRequest()
				r.InstanceId = id
				must(c.StopInstance(r))(t)
			}
			n := createENI(t, c, w, "", g).NetworkInterfaceId
			noErr(t, attachENI(c, n, a))
			d := ecs.CreateDeleteInstancesRequest()
			d.InstanceId = &[]string{a, b}
			if tt.dryRun {
				d.DryRun = requests.NewBoolean(true)
			}
			_, err := c.DeleteInstances(d)
			wantErr(t, err, tt.status, tt.code)
			if got := eniAttr(t, c, n); got.Status != "InUse" || got.InstanceId != a {
				t.Fatalf("after a DeleteInstances that changed nothing, ENI %s is %s on %q; want InUse on %s", n, got.Status, got.InstanceId, a)
			}
		})
	}
}
