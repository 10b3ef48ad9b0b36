package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestFlows: `palisade flows` shows the records an agent shipped, newest
// first, with the deciding rule, and filters them.
func TestFlows(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetClientEnv(t)
	shipFlows(t, srv)

	var got []map[string]any
	if err := json.Unmarshal([]byte(ok(t, "flows", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0]["SecurityGroupRuleId"] != "sgr-http" || got[1]["Reason"] != "default inbound drop" || got[0]["VmId"] != "i-web" {
		t.Fatalf("flows --json, newest first: %v", got)
	}
	out := ok(t, "flows", "--verdict", "accept")
	if !strings.Contains(out, "sg-web/sgr-http (priority 1, Accept)") || strings.Contains(out, "REJECT") {
		t.Errorf("flows --verdict accept:\n%s", out)
	}
	out = ok(t, "flows", "--instance", "i-web", "--port", "22")
	if !strings.Contains(out, "default inbound drop") || strings.Contains(out, "sgr-http") {
		t.Errorf("flows --port 22:\n%s", out)
	}
	if out := ok(t, "flows", "--instance", "i-other"); !strings.Contains(out, "No flow records") {
		t.Errorf("flows of another instance:\n%s", out)
	}
	if code, _, errs := palisade("flows", "--verdict", "maybe"); code != 2 || !strings.Contains(errs, "accept or reject") {
		t.Errorf("flows --verdict maybe: exit %d, %s", code, errs)
	}
}

// TestFlowsSurviveRestart: the records a server acknowledged are on its
// disk: after a restart (graceful or not) the same query gives the same
// answer, and new records join them.
func TestFlowsSurviveRestart(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetClientEnv(t)
	shipFlows(t, srv)
	before := ok(t, "flows", "--json")
	for _, stop := range []struct {
		name string
		do   func()
	}{{"a graceful stop", srv.Stop}, {"a crash", srv.Crash}} {
		stop.do()
		srv = srv.Reopen(t)
		srv.SetClientEnv(t)
		if after := ok(t, "flows", "--json"); after != before {
			t.Fatalf("after %s:\n%s\nbefore:\n%s", stop.name, after, before)
		}
	}
	ctx := context.Background()
	now := time.Now().Unix()
	res, err := srv.Ops.ReportFlowRecords(ctx, service.FlowReportInput{Caller: service.Caller{Host: "h1"}, HostName: "h1", Records: []service.FlowRecord{
		{EniId: "eni-web", SrcAddr: "10.0.9.9", SrcPort: 4002, DstAddr: "10.0.0.1", DstPort: 443, Protocol: 6, Direction: "in", Packets: 1, Bytes: 60,
			Start: now, End: now, Action: "REJECT", LogStatus: "OK", Reason: "default inbound drop"}}})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("shipping after the restart: %+v, %v", res, err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(ok(t, "flows", "--json")), &got); err != nil || len(got) != 3 {
		t.Fatalf("after shipping one more: %d records (%v)", len(got), err)
	}
	resp, err := http.Get("http://" + srv.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\npalisade_flow_records 3\n") || !strings.Contains(string(body), "\npalisade_flow_records_dropped_total 0\n") {
		t.Errorf("/metrics does not count the 3 records kept:\n%s", body)
	}
}

// shipFlows makes a tenant's instance i-web on host h1 under a flow log of
// its VPC and ships two records of it as h1: a drop by the default, then
// an accept by rule sgr-http of sg-web.
func shipFlows(t *testing.T, srv *testenv.Server) (now int64) {
	t.Helper()
	ctx := context.Background()
	g := &model.SecurityGroup{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop,
		Rules: []model.Rule{modeltest.Rule("sgr-http", "in accept 1 TCP 80/80 0.0.0.0/0"), modeltest.Rule("sgr-ssh", "in accept 1 TCP 22/22 192.168.0.0/16")}}
	in := &model.Instance{ID: "i-web", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.0.1"), SecurityGroups: []string{"sg-web"},
		Status: model.StatusRunning, Host: "h1", Interface: "pi-1"}
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", api.Resources{VPCs: []*model.VPC{{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}},
		Groups: []*model.SecurityGroup{g}, Instances: []*model.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	tenant, err := srv.Ops.CallerOf(ctx, srv.KeyID, "cn-hangzhou", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	now = time.Now().Unix()
	recs := []service.FlowRecord{
		{EniId: "eni-web", SrcAddr: "10.0.9.9", SrcPort: 4000, DstAddr: "10.0.0.1", DstPort: 22, Protocol: 6, Direction: "in", Packets: 1, Bytes: 60,
			Start: now - 10, End: now - 10, Action: "REJECT", LogStatus: "OK", Reason: "default inbound drop"},
		{EniId: "eni-web", SrcAddr: "10.0.9.9", SrcPort: 4001, DstAddr: "10.0.0.1", DstPort: 80, Protocol: 6, Direction: "in", Packets: 5, Bytes: 900,
			Start: now, End: now, Action: "ACCEPT", LogStatus: "OK", Reason: "rule", SecurityGroupId: "sg-web", SecurityGroupRuleId: "sgr-http", Priority: 1, Policy: "Accept"},
	}
	res, err := srv.Ops.ReportFlowRecords(ctx, service.FlowReportInput{Caller: service.Caller{Host: "h1"}, HostName: "h1", Records: recs})
	if err != nil || res.Accepted != 2 {
		t.Fatalf("shipping: %+v, %v", res, err)
	}
	return now
}

// TestFlowHits: the hits of each rule, from the records the server keeps,
// show as the last hit of the entries of "palisade effective" and beside
// the counters of "palisade sg counters"; an entry no record names shows
// "-".
func TestFlowHits(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetClientEnv(t)
	now := shipFlows(t, srv)
	at := func(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02T15:04:05Z") }

	out := ok(t, "effective", "i-web")
	// Columns: # GROUP RULE PRIO POLICY PROTO PORTS PEER STATUS LAST-HIT NOTE…
	lastHit := func(key string) string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 10 && f[2] == key {
				return f[9]
			}
		}
		t.Fatalf("no entry %s in:\n%s", key, out)
		return ""
	}
	for _, tc := range []struct{ entry, want string }{
		{"sgr-http", at(now)},
		{"sgr-ssh", "-"},
		{"(default)", at(now - 10)}, // the ingress default, first of the two
	} {
		if got := lastHit(tc.entry); got != tc.want {
			t.Errorf("effective: last hit of %s = %q, want %q\n%s", tc.entry, got, tc.want, out)
		}
	}

	out = ok(t, "sg", "counters", "sg-web")
	if r := row(out, "sgr-http"); len(r) != 9 || r[7] != "1" || r[8] != at(now) {
		t.Errorf("counters row of sgr-http = %q, want 1 flow last hit at %s\n%s", r, at(now), out)
	}
	if r := row(out, "sgr-ssh"); len(r) != 9 || r[7] != "0" || r[8] != "-" {
		t.Errorf("counters row of sgr-ssh = %q, want no flow\n%s", r, out)
	}
}

// TestFlowsFollow: "flows --follow" says at once that it is following
// (with no records yet it printed nothing and looked hung), then prints
// each record once, oldest first: those shipped after it started (table)
// and those already there (JSON, run second); it exits 0 when
// interrupted.
func TestFlowsFollow(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetClientEnv(t)
	every, follow := followEvery, followContext
	ctx, interrupt := context.WithCancel(context.Background())
	followEvery = 20 * time.Millisecond
	followContext = func() (context.Context, context.CancelFunc) { return ctx, func() {} }
	t.Cleanup(func() { followEvery, followContext = every, follow; interrupt() })

	for _, mode := range []struct {
		name   string
		args   []string
		record string // how the two records show, in order
	}{
		{"table", []string{"flows", "--follow"}, "10.0.9.9:400"},
		{"json", []string{"flows", "--follow", "--json"}, `"SrcPort":400`},
	} {
		t.Run(mode.name, func(t *testing.T) {
			if mode.name == "json" {
				ctx, interrupt = context.WithCancel(context.Background())
				followContext = func() (context.Context, context.CancelFunc) { return ctx, func() {} }
			}
			var out, errs logbuf.Buffer
			code := make(chan int, 1)
			go func() { code <- Main(mode.args, &out, &errs) }()
			waitFor(t, "the follow's start", func() bool { return strings.Contains(errs.String(), "Following the flow records") })
			if mode.name == "table" {
				if got := out.String(); got != strings.Join(flowHeader, "  ")+"\n" {
					t.Fatalf("before any record, stdout is %q, want the header", got)
				}
				shipFlows(t, srv)
			}
			waitFor(t, "both records", func() bool { return strings.Count(out.String(), mode.record) == 2 })
			time.Sleep(5 * followEvery) // more polls: nothing is printed twice
			interrupt()
			if c := <-code; c != 0 {
				t.Fatalf("exit %d after the interrupt; stderr: %s", c, errs.String())
			}
			got := out.String()
			if n := strings.Count(got, mode.record); n != 2 {
				t.Errorf("%d records printed, want 2 (each once):\n%s", n, got)
			}
			if first, second := strings.Index(got, mode.record+"0"), strings.Index(got, mode.record+"1"); first < 0 || second < first {
				t.Errorf("records not oldest first:\n%s", got)
			}
			if mode.name == "json" && !strings.HasPrefix(got, "{") {
				t.Errorf("--json prints records only, one object a line:\n%s", got)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
