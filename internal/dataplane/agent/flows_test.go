package agent

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/flowlog"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// fakeCollector stands for the kernel's collector (flowlog.Collector needs
// root): the test emits windows through its Config.Emit.
type fakeCollector struct {
	cfg  flowlog.Config
	last []flowlog.Record // emitted when it stops, as the real one emits its last window
}

func (c *fakeCollector) Run(ctx context.Context) error {
	<-ctx.Done()
	if c.last != nil {
		c.cfg.Emit(c.last)
	}
	return nil
}
func (c *fakeCollector) Stats() flowlog.Stats { return flowlog.Stats{} }
func (c *fakeCollector) Close() error         { return nil }

// TestAgentFlowLogs runs the agent against the real server with the fake
// kernel and a fake collector: a flow log covering the host's NICs turns
// flow logging on (the ruleset names its entries, the collector starts),
// the records it asks for reach the server and the tenant reads them with
// their deciding entry; a state file left by a killed agent is reported
// once; a clean stop ships the last window and clears it.
func TestAgentFlowLogs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const keyID, secret = "LTAIagentflowtest000", "agent-flow-secret"
	const opID, opSecret = "LTAIagentflowop00000", "agent-flow-op-secret"
	srv, _, _ := serveRecords(t, ctx, keyID, secret, opID, opSecret)
	defer cancel()
	tenant, err := srv.Ops.CallerOf(ctx, keyID, "cn-hangzhou", true)
	if err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(t.TempDir(), "flow.state")
	if err := os.WriteFile(state, []byte(`{"Host":"h1"}`), 0o600); err != nil { // a killed agent's
		t.Fatal(err)
	}
	kernel := nft.NewFake(opts)
	applied := make(chan *nft.Ruleset, 100)
	started := make(chan *fakeCollector, 4)
	counters := &FlowCounters{}
	var mu sync.Mutex
	var current *fakeCollector
	agentCtx, stopAgent := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- Run(agentCtx, Config{Server: srv.Addr, AccessKeyID: opID, Secret: opSecret, Host: host, NFT: opts,
			ReportEvery: time.Hour, Log: quiet,
			OpenTable: func() (nft.Table, error) { return kernel, nil },
			OnRuleset: func(_ string, rs *nft.Ruleset, _ *policy.Cloud) { applied <- rs },
			Flow: FlowConfig{Window: time.Second, StateFile: state, Counters: counters, Buffer: 1,
				Start: func(cfg flowlog.Config) (Collector, error) {
					c := &fakeCollector{cfg: cfg}
					mu.Lock()
					current = c
					mu.Unlock()
					started <- c
					return c, nil
				}}})
	}()
	next := func(step string) *nft.Ruleset {
		t.Helper()
		select {
		case rs := <-applied:
			return rs
		case err := <-ran:
			t.Fatalf("%s: Run returned %v", step, err)
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no apply in 15 s", step)
		}
		return nil
	}
	if rs := next("start"); len(rs.Entries) != 0 {
		t.Fatalf("without a flow log the ruleset names %d entries", len(rs.Entries))
	}
	if len(started) != 0 {
		t.Fatal("a collector started without a flow log")
	}

	_, err = srv.Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: "vpc-a", TrafficType: model.TrafficDrop})
	if err != nil {
		t.Fatal(err)
	}
	if rs := next("flow log created"); len(rs.Entries) == 0 {
		t.Fatal("with a flow log the ruleset names no entries: FlowLog is off")
	}
	var col *fakeCollector
	select {
	case col = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no collector started for the flow log")
	}
	if got := counters.LostWindows.Load(); got != 1 {
		t.Errorf("the killed agent's window: LostWindows %d, want 1", got)
	}

	// One window: a drop (recorded), another (over the buffer of 1), an
	// accept (the flow log records drops only) and a drop of a NIC of no
	// flow log's (another VPC).
	now := time.Now()
	// sg-web's one rule accepts: what drops is the default (the server
	// refuses a record that says an accept rule dropped).
	drop := nft.Entry{Side: model.Ingress, Reason: policy.DefaultIngressDrop, Verdict: policy.Drop}
	rec := func(eni, vpc, action string) flowlog.Record {
		return flowlog.Record{Version: 1, Interface: flowlog.Interface{ENI: eni, VpcID: vpc}, Src: netip.MustParseAddr("10.0.9.9"),
			Dst: netip.MustParseAddr("10.0.0.1"), SrcPort: 4000, DstPort: 80, Protocol: 6, Direction: "in", Packets: 1, Bytes: 60,
			Start: now, End: now, Action: action, LogStatus: flowlog.StatusOK, Entry: drop}
	}
	col.cfg.Emit([]flowlog.Record{rec("eni-1", "vpc-a", flowlog.Reject), rec("eni-2", "vpc-a", flowlog.Reject),
		rec("eni-1", "vpc-a", flowlog.Accept), rec("eni-9", "vpc-b", flowlog.Reject)})
	deadline := time.Now().Add(10 * time.Second)
	for counters.Shipped.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if counters.Recorded.Load() != 1 || counters.Shipped.Load() != 1 || counters.Overflow.Load() != 1 {
		t.Fatalf("recorded %d, shipped %d, overflow %d; want 1, 1 and 1", counters.Recorded.Load(), counters.Shipped.Load(), counters.Overflow.Load())
	}
	// Everything shipped, the state file says the window open since the
	// last one's end: an agent killed now loses what came after, not what
	// it shipped since its collector started.
	var since time.Time
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var st windowState
		if b, err := os.ReadFile(state); err == nil && json.Unmarshal(b, &st) == nil {
			if since = st.Since; !since.Before(now) {
				break
			}
		}
	}
	if since.Before(now) {
		t.Errorf("the state file says a window open since %v, before the window shipped (ended after %v)", since, now)
	}
	got, err := srv.Ops.DescribeFlowRecords(ctx, service.FlowRecordFilter{Caller: tenant, Page: service.Page{Tokens: true, Size: 10}})
	if err != nil || got.Total != 1 {
		t.Fatalf("the tenant reads %+v (%v), want the drop", got, err)
	}
	if r := got.Items[0]; r.VmId != "i-1" || r.Action != "REJECT" || r.Reason != string(policy.DefaultIngressDrop) || r.SecurityGroupId != "" || r.HostName != host ||
		r.LogStatus != "SKIPDATA" { // the window lost a record (and the killed agent's before it)
		t.Errorf("record as read: %+v", r)
	}

	// A clean stop ships the last window and clears the state file.
	mu.Lock()
	current.last = []flowlog.Record{rec("eni-2", "vpc-a", flowlog.Reject)}
	mu.Unlock()
	stopAgent()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if counters.Shipped.Load() != 2 {
		t.Errorf("after stop: shipped %d, want 2 (the last window)", counters.Shipped.Load())
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the state file outlived a clean stop: %v", err)
	}

}
