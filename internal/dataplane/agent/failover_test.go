package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
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
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
)

// The keys of the servers on one etcd.
const (
	foKeyID, foSecret  = "LTAIagentfailover000", "agent-failover-secret"
	foOpID, foOpSecret = "LTAIagentfailoverop0", "agent-failover-op-secret"
)

// serveOnEtcd runs a server on the etcd at etcdURL until the test ends or
// the function returned is called.
func serveOnEtcd(ctx context.Context, t *testing.T, etcdURL string) (*server.Server, func()) {
	t.Helper()
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), Etcd: []string{etcdURL},
		AccessKeyID: foKeyID, AccessKeySecret: foSecret, OperatorKeyID: foOpID, OperatorKeySecret: foOpSecret, Log: quiet})
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

// TestAgentFailover: two servers on one etcd; the agent, given both with
// its host key, follows the first. When it stops, a write through the
// second reaches the agent, which resumed its watch there from its
// revision (no new snapshot), and the kernel kept the last policy in
// between.
func TestAgentFailover(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const keyID, secret, opID = foKeyID, foSecret, foOpID
	etcdURL := etcdtest.Embedded(t)
	a, stopA := serveOnEtcd(ctx, t, etcdURL)
	b, _ := serveOnEtcd(ctx, t, etcdURL)

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
	var logged logbuf.Buffer
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

// records keeps an agent's log records: message, level, attributes.
type logRecords struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { rec.attrs[a.Key] = a.Value.String(); return true })
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, rec)
	return nil
}

// since returns the records from the n-th on.
func (l *logRecords) since(n int) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs[min(n, len(l.recs)):])
}

func (l *logRecords) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

// TestAgentFailoverLog: what the agent logs when its servers stop, with
// nothing changing (so the next server's first frame is its heartbeat,
// seconds later). When one of its two servers stops, the other answers at
// once: the log says the agent is connected to it, at info level, and
// warns of nothing (a warning that the server is unreachable sent the
// operator after a control plane that was there). When both stop, it
// warns that no server answers.
func TestAgentFailoverLog(t *testing.T) {
	const (
		connected = "agent: connected to the next server after one failed; catching up from the revision in force"
		none      = "agent: no server answers; the kernel keeps the last policy"
	)
	for _, tc := range []struct {
		name string
		stop int    // servers stopped, the first first
		want string // the record waited for
	}{
		{"one of two stops", 1, connected},
		{"both stop", 2, none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			etcdURL := etcdtest.Embedded(t)
			a, stopA := serveOnEtcd(ctx, t, etcdURL)
			b, stopB := serveOnEtcd(ctx, t, etcdURL)
			groups, ins := records(80)
			vpc := &model.VPC{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
			if _, err := a.Ops.Import(ctx, "cn-hangzhou", api.Resources{VPCs: []*model.VPC{vpc}, Groups: groups, Instances: ins}); err != nil {
				t.Fatal(err)
			}
			rev, err := a.Store.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			logs := &logRecords{}
			applied := make(chan int64, 100)
			agentCtx, stopAgent := context.WithCancel(ctx)
			ran := make(chan error, 1)
			go func() {
				ran <- Run(agentCtx, Config{Server: a.Addr + "," + b.Addr, AccessKeyID: foOpID, Secret: foOpSecret, Host: host, NFT: opts,
					ReportEvery: time.Hour, Log: slog.New(logs),
					OpenTable: func() (nft.Table, error) { return nft.NewFake(opts), nil },
					OnApplied: func(rev int64, _ nft.Stats) { applied <- rev }})
			}()
			defer func() { stopAgent(); <-ran }()
			for got := int64(0); got < rev; {
				select {
				case got = <-applied:
				case <-time.After(15 * time.Second):
					t.Fatalf("revision %d not applied in 15 s; the agent's log: %v", rev, logs.since(0))
				}
			}
			from := logs.len()
			stopA()
			if tc.stop > 1 {
				stopB()
			}
			// Until the record is there (without the fix, the first word
			// after the stop was a warning, and the next server's first
			// frame, its heartbeat, said it "answers again").
			deadline := time.Now().Add(30 * time.Second)
			found := func() *logRecord {
				for _, r := range logs.since(from) {
					if r.msg == tc.want {
						return &r
					}
				}
				return nil
			}
			for found() == nil && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			got := found()
			if got == nil {
				t.Fatalf("no %q in 30 s; the agent's log since the stop:\n%s", tc.want, dump(logs.since(from)))
			}
			switch tc.stop {
			case 1:
				if got.level != slog.LevelInfo || got.attrs["address"] != b.Addr || got.attrs["failed"] != a.Addr {
					t.Errorf("%s: level %s, attributes %v; want info, address %s, failed %s", got.msg, got.level, got.attrs, b.Addr, a.Addr)
				}
				for _, r := range logs.since(from) {
					if r.level >= slog.LevelWarn {
						t.Errorf("a warning while the other server answers: %s %v", r.msg, r.attrs)
					}
				}
			case 2:
				if got.level != slog.LevelWarn {
					t.Errorf("%s: level %s, want warn", got.msg, got.level)
				}
				for _, r := range logs.since(from) {
					if r.msg == connected {
						t.Errorf("the log says %q while no server answers", r.msg)
					}
				}
			}
		})
	}
}

func dump(recs []logRecord) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s %s %v\n", r.level, r.msg, r.attrs)
	}
	return b.String()
}
