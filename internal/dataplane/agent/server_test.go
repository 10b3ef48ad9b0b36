package agent

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// TestAgentWithServer runs the agent against the real server on loopback,
// through its default Source (the API over HTTP), with the fake kernel: the
// seams match what the server sends (snapshot, changes, deletions, resync)
// and what it takes (applied revision, counters).
func TestAgentWithServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The tenant's key changes the cloud; the operator's runs the agent and
	// binds instances, as a hypervisor would.
	const keyID, secret = "LTAIagentservertest0", "agent-server-secret"
	const opID, opSecret = "LTAIagentserverop000", "agent-server-op-secret"
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		AccessKeyID: keyID, AccessKeySecret: secret, OperatorKeyID: opID, OperatorKeySecret: opSecret, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	groups, ins := records(80)
	vpc := &model.VPC{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", api.Resources{VPCs: []*model.VPC{vpc}, Groups: groups, Instances: ins}); err != nil {
		t.Fatal(err)
	}
	kernel := nft.NewFake(opts)
	kernel.SetCounters(map[nft.RuleKey]nft.Counter{webKey: {Packets: 3, Bytes: 180}})
	applied := make(chan int64, 100)
	agentCtx, stopAgent := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- Run(agentCtx, Config{Server: srv.Addr, AccessKeyID: opID, Secret: opSecret, Host: host, NFT: opts,
			ReportEvery: 20 * time.Millisecond, Log: quiet,
			OpenTable: func() (nft.Table, error) { return kernel, nil },
			OnApplied: func(rev int64, _ nft.Stats) { applied <- rev }})
	}()
	api, err := apiclient.New(srv.Addr, keyID, secret, "")
	if err != nil {
		t.Fatal(err)
	}
	opAPI, err := apiclient.New(srv.Addr, opID, opSecret, "")
	if err != nil {
		t.Fatal(err)
	}
	// converged waits until the agent applied the store's revision and the
	// server heard of it, and checks the kernel holds the records' policy.
	converged := func(step string, groups []*model.SecurityGroup, ins []*model.Instance) int64 {
		t.Helper()
		rev, err := srv.Store.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.After(30 * time.Second)
		for got := int64(0); got < rev; {
			select {
			case got = <-applied:
			case err := <-ran:
				t.Fatalf("%s: Run returned: %v", step, err)
			case <-deadline:
				t.Fatalf("%s: revision %d not applied in 30 s", step, rev)
			}
		}
		if got, w := kernel.Applied().String(), want(groups, ins); got != w {
			t.Errorf("%s: the kernel holds\n%s\nwant\n%s", step, got, w)
		}
		eventually(t, step+": the server hears of the applied revision", func() bool { return srv.Ops.AppliedRevision(host) >= rev })
		return rev
	}
	converged("snapshot", groups, ins)

	// A change through the API: i-4 is bound to this host.
	if err := opAPI.Call(ctx, "PalisadeBindInstance", map[string]string{"InstanceId": "i-4", "HostName": host, "Interface": "pi-4"}, nil, 0); err != nil {
		t.Fatal(err)
	}
	ins[3].Host, ins[3].Interface = host, "pi-4"
	converged("bind", groups, ins)

	// A deletion: i-2 goes.
	if err := api.Call(ctx, "DeleteInstance", map[string]string{"InstanceId": "i-2", "Force": "true"}, nil, 0); err != nil {
		t.Fatal(err)
	}
	rev := converged("delete", groups, []*model.Instance{ins[0], ins[2], ins[3]})

	// The counters reach the server.
	eventually(t, "the counters reach the server", func() bool {
		var out struct {
			RuleCounters struct {
				RuleCounter []struct {
					SecurityGroupRuleId string
					Packets, Bytes      uint64
				}
			}
		}
		err := api.Call(ctx, "PalisadeDescribeRuleCounters", map[string]string{"SecurityGroupId": "sg-web"}, &out, 0)
		if err != nil {
			t.Fatal(err)
		}
		rc := out.RuleCounters.RuleCounter
		return len(rc) == 1 && rc[0].SecurityGroupRuleId == "sgr-web" && rc[0].Packets == 3 && rc[0].Bytes == 180
	})

	// A watcher ahead of the server is told to resync, at the server's revision.
	w, err := apiSource{opAPI, host}.Watch(ctx, WatchRequest{After: rev + 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Resync || w.Revision != rev {
		t.Errorf("watch from the future: resync %v at revision %d, want a resync at %d", w.Resync, w.Revision, rev)
	}

	stopAgent()
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// eventually polls cond until it holds, for at most 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within 30 s", what)
		}
	}
}
