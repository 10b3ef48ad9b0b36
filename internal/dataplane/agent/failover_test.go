package agent

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// lockedBuffer collects an agent's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAgentFailover: two servers on one etcd; the agent, given both with
// its host key, follows the first. When it stops, a write through the
// second reaches the agent, which resumed its watch there from its
// revision (no new snapshot), and the kernel kept the last policy in
// between.
func TestAgentFailover(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const keyID, secret = "LTAIagentfailover000", "agent-failover-secret"
	const opID, opSecret = "LTAIagentfailoverop0", "agent-failover-op-secret"
	etcdURL := etcdtest.Embedded(t)
	open := func() (*server.Server, func()) {
		srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), Etcd: []string{etcdURL},
			AccessKeyID: keyID, AccessKeySecret: secret, OperatorKeyID: opID, OperatorKeySecret: opSecret, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- srv.Serve(sctx) }()
		var once sync.Once
		stopped := func() { once.Do(func() { stop(); <-served }) }
		t.Cleanup(stopped)
		return srv, stopped
	}
	a, stopA := open()
	b, _ := open()

	groups, ins := records(80)
	vpc := &model.VPC{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	if _, err := a.Ops.Import(ctx, "cn-hangzhou", api.Resources{VPCs: []*model.VPC{vpc}, Groups: groups, Instances: ins}); err != nil {
		t.Fatal(err)
	}
	op, err := a.Ops.KeyCaller(ctx, opID)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := a.Ops.RegisterHost(ctx, op, host)
	if err != nil {
		t.Fatal(err)
	}

	kernel := nft.NewFake(opts)
	applied := make(chan int64, 100)
	var logged lockedBuffer
	agentCtx, stopAgent := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- Run(agentCtx, Config{Server: a.Addr + ", " + b.Addr, AccessKeyID: hk.ID, Secret: hk.Secret, Host: host, NFT: opts,
			ReportEvery: time.Hour, Log: slog.New(slog.NewTextHandler(&logged, nil)),
			OpenTable: func() (nft.Table, error) { return kernel, nil },
			OnApplied: func(rev int64, _ nft.Stats) { applied <- rev }})
	}()
	// converged waits until the agent applied srv's revision, and checks
	// the kernel holds the policy srv holds.
	converged := func(step string, srv *server.Server) {
		t.Helper()
		rev, err := srv.Store.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.After(15 * time.Second)
		for got := int64(0); got < rev; {
			select {
			case got = <-applied:
			case err := <-ran:
				t.Fatalf("%s: Run returned: %v", step, err)
			case <-deadline:
				t.Fatalf("%s: revision %d not applied in 15 s; the agent's log:\n%s", step, rev, logged.String())
			}
		}
		snap, err := srv.Ops.GetSnapshot(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		w := nft.Build(policy.NewCloud(snap.Groups, snap.Instances, nil), host, opts).String()
		if got := kernel.Applied().String(); got != w {
			t.Errorf("%s: the kernel holds\n%s\nwant\n%s", step, got, w)
		}
	}
	converged("on server A", a)
	before := kernel.Applied().String()

	stopA()
	if got := kernel.Applied().String(); got != before {
		t.Errorf("the kernel's policy changed when server A stopped:\n%s", got)
	}
	tenant, err := apiclient.New(b.Addr, keyID, secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := tenant.Call(ctx, "AuthorizeSecurityGroup", map[string]string{"RegionId": "cn-hangzhou", "SecurityGroupId": "sg-web",
		"IpProtocol": "tcp", "PortRange": "8443/8443", "SourceCidrIp": "192.0.2.0/24"}, nil, 0); err != nil {
		t.Fatal(err)
	}
	converged("written through B, after A stopped", b)
	if !strings.Contains(kernel.Applied().String(), "8443") {
		t.Errorf("the kernel does not hold the rule written through B:\n%s", kernel.Applied())
	}
	log := logged.String()
	if !strings.Contains(log, "moving to the next one") {
		t.Errorf("the agent did not say it moved to server B; its log:\n%s", log)
	}
	if strings.Contains(log, "new snapshot") {
		t.Errorf("the agent took a new snapshot instead of resuming its watch; its log:\n%s", log)
	}
	stopAgent()
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
}
