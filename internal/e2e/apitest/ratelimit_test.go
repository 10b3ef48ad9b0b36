package apitest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestRateLimitThrottlesOneAccount: an account that calls an action faster
// than the server's rate gets Throttling.User (HTTP 400, the ECS error
// body) through the official SDK, which does not retry it (the classic Go
// SDK retries only network errors and 5xx answers); its other actions and
// another account's calls go on.
func TestRateLimitThrottlesOneAccount(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{RateLimit: ratelimit.Config{PerAction: 0.01, ActionBurst: 3, PerAccount: 1000, AccountBurst: 1000}})
	other := srv.NewAccount(t, "other")
	describe := func(c *ecs.Client) error {
		_, err := c.DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest())
		return err
	}
	first := srv.ECS(t)
	var throttled int
	for range 6 {
		err := describe(first)
		if err == nil {
			continue
		}
		code, status, ok := apiError(err)
		if !ok || code != "Throttling.User" || status != 400 {
			t.Fatalf("a refused call: %v, want Throttling.User with HTTP 400", err)
		}
		throttled++
	}
	if throttled != 3 {
		t.Errorf("%d of 6 calls throttled, want 3 (the burst is 3)", throttled)
	}
	if _, err := first.DescribeRegions(ecs.CreateDescribeRegionsRequest()); err != nil {
		t.Errorf("another action of the throttled account: %v", err)
	}
	oc := srv.ECSAs(t, other.KeyID, other.Secret)
	for i := range 3 {
		if err := describe(oc); err != nil {
			t.Errorf("another account's call %d: %v", i, err)
		}
	}
}

// TestReachPagesThroughSDK: PalisadeDescribeReachability answers a page of
// MaxResults links with the NextToken of the next, and the pages join into
// the whole answer.
func TestReachPagesThroughSDK(t *testing.T) {
	e := newEnv(t)
	n := newNetwork(t, e, "10.0.0.0/16")
	noErr(t, authorize(e.ecs, n.sgA, cidrIngress("tcp", "22/22", "10.0.0.0/8")))
	for range 3 {
		runInstance(t, e.ecs, n.vsw, n.sgA)
	}
	whole := list(t, mustCall(t, e.v3, ecsVersion, "PalisadeDescribeReachability", map[string]any{"Port": "22"}), "Links")
	if len(whole) != 6 {
		t.Fatalf("3 instances open to each other on 22: %d links", len(whole))
	}
	var joined []any
	token := ""
	for range 10 {
		q := map[string]any{"Port": "22", "MaxResults": "4"}
		if token != "" {
			q["NextToken"] = token
		}
		r := mustCall(t, e.v3, ecsVersion, "PalisadeDescribeReachability", q)
		page := list(t, r, "Links")
		if len(page) > 4 {
			t.Fatalf("a page of %d links, asked for 4", len(page))
		}
		joined = append(joined, page...)
		token, _ = r["NextToken"].(string)
		if token == "" {
			break
		}
	}
	if len(joined) != len(whole) {
		t.Errorf("pages joined: %d links, the whole: %d", len(joined), len(whole))
	}
	_, err := call(e.v3, ecsVersion, "PalisadeDescribeReachability", map[string]any{"MaxResults": "0"}, nil)
	if code, _, _ := apiError(err); code != "InvalidParameter.MaxResults" {
		t.Errorf("MaxResults=0: %v", err)
	}
}

// TestHostReportsLimitedPerHost: an agent's reports (each written to the
// server's disk) are limited per host key: a host that floods them is
// throttled, another host's reports and the first host's long polls and
// snapshots go on. They were never limited, so a host key could make the
// server sync flow records without bound.
func TestHostReportsLimitedPerHost(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{RateLimit: ratelimit.Config{PerAction: 0.01, ActionBurst: 3, PerAccount: 1000, AccountBurst: 1000}})
	ctx := context.Background()
	idA, secretA := srv.RegisterHost(t, "host-a")
	idB, secretB := srv.RegisterHost(t, "host-b")
	hostA, hostB := testenv.APIClient(t, srv.Addr, idA, secretA), testenv.APIClient(t, srv.Addr, idB, secretB)
	report := func(c *apiclient.Client, host string) error {
		return c.Call(ctx, "PalisadeReportHostStatus", map[string]string{"HostName": host}, nil, 0)
	}
	throttled := 0
	for range 6 {
		err := report(hostA, "host-a")
		if err == nil {
			continue
		}
		if e, ok := errors.AsType[*apiclient.Error](err); !ok || e.Code != "Throttling.User" || e.Status != 400 {
			t.Fatalf("a refused report: %v, want Throttling.User with HTTP 400", err)
		}
		throttled++
	}
	if throttled != 3 {
		t.Errorf("%d of 6 reports of one host throttled, want 3 (the burst is 3)", throttled)
	}
	for i := range 3 {
		if err := report(hostB, "host-b"); err != nil {
			t.Errorf("another host's report %d: %v", i, err)
		}
	}
	for range 6 {
		if err := hostA.Call(ctx, "PalisadeGetSnapshot", map[string]string{"HostName": "host-a"}, nil, 0); err != nil {
			t.Fatalf("the throttled host's snapshot: %v", err)
		}
	}
}

// TestAgentActionsLimitedByKey: the agents' actions are exempt from the
// tenants' limits only for the keys agents run with (a host key's
// snapshots and watches have bounds of their own, per host, far above
// these: TestHostSnapshotsBounded). A host key's binds (each a
// store write, synced, that wakes the watches) are limited per key, as its
// reports are; the operator's are not (a lab binds hundreds at once); a
// tenant's calls of them, which the actions refuse, are limited as any
// call, and so are those of a key refused (its account disabled). Neither was limited: a hostile host could move its instance
// between two interfaces as fast as the server wrote, and a tenant send
// refused snapshots (each logged and trailed) as fast as it could.
func TestAgentActionsLimitedByKey(t *testing.T) {
	e := clients(t, testenv.Start(t, testenv.Config{RateLimit: ratelimit.Config{PerAction: 0.01, ActionBurst: 3, PerAccount: 1000, AccountBurst: 1000}}))
	ctx := context.Background()
	n := newNetwork(t, e, "10.0.0.0/16")
	instA, instB := runInstance(t, e.ecs, n.vsw, n.sgA), runInstance(t, e.ecs, n.vsw, n.sgA)
	op, tenant := e.srv.Operator(t), e.srv.API(t)
	idA, secretA := e.srv.RegisterHost(t, "host-a")
	idB, secretB := e.srv.RegisterHost(t, "host-b")
	hostA, hostB := testenv.APIClient(t, e.addr, idA, secretA), testenv.APIClient(t, e.addr, idB, secretB)
	gone := e.srv.NewAccount(t, "gone")
	noErr(t, op.Call(ctx, "PalisadeDisableAccount", map[string]string{"AccountId": gone.UID}, nil, 0))
	disabled := testenv.APIClient(t, e.addr, gone.KeyID, gone.Secret)
	bind := func(inst, host string) func(c *apiclient.Client, i int) error {
		return func(c *apiclient.Client, i int) error {
			return c.Call(ctx, "PalisadeBindInstance", map[string]string{"InstanceId": inst, "HostName": host, "Interface": fmt.Sprintf("pi-%d", i%2)}, nil, 0)
		}
	}
	snapshot := func(c *apiclient.Client, _ int) error {
		return c.Call(ctx, "PalisadeGetSnapshot", nil, nil, 0)
	}
	for _, tc := range []struct {
		name          string
		c             *apiclient.Client
		call          func(c *apiclient.Client, i int) error
		calls, refuse int
		code          string // of the calls not throttled ("": none)
	}{
		{"the operator places both", op, bind(instA, "host-a"), 6, 0, ""},
		{"the operator's binds are not limited", op, bind(instB, "host-b"), 6, 0, ""},
		{"a host moving its instance", hostA, bind(instA, "host-a"), 6, 3, ""},
		{"another host, its own buckets", hostB, bind(instB, "host-b"), 3, 0, ""},
		{"a host's snapshots are not held to the tenants' rates", hostA, snapshot, 6, 0, ""},
		{"a tenant's snapshots", tenant, snapshot, 6, 3, "Forbidden.Operator"},
		{"a disabled account's snapshots", disabled, snapshot, 6, 3, "Forbidden.AccountDisabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			throttled := 0
			for i := range tc.calls {
				err := tc.call(tc.c, i)
				e, _ := errors.AsType[*apiclient.Error](err)
				switch {
				case e != nil && e.Code == "Throttling.User" && e.Status == 400:
					throttled++
				case tc.code == "" && err != nil, tc.code != "" && (e == nil || e.Code != tc.code):
					t.Fatalf("call %d: %v, want %q or Throttling.User with HTTP 400", i, err, tc.code)
				}
			}
			if throttled != tc.refuse {
				t.Errorf("%d of %d calls throttled, want %d", throttled, tc.calls, tc.refuse)
			}
		})
	}
}
