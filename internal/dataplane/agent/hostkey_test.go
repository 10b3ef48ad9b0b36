package agent

import (
	"context"
	"encoding/json"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// tenant owns the records of TestAgentWithHostKey.
const tenant = "1000000000000001"

// serviceSource is the service called with a caller of the test's choice
// (a host key's), its answers passed through JSON as the API sends them.
type serviceSource struct {
	s *service.Service
	c service.Caller
}

func viaJSON(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

func (s serviceSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	snap, err := s.s.GetSnapshot(ctx, s.c)
	if err != nil {
		return nil, err
	}
	var out Snapshot
	return &out, viaJSON(snap, &out)
}

func (s serviceSource) Watch(ctx context.Context, r WatchRequest) (*Changes, error) {
	ch, err := s.s.WatchChanges(ctx, service.WatchInput{Caller: s.c, AfterRevision: r.After, Wait: r.Wait,
		Progress: service.HostProgress{HostName: r.Host, AppliedRevision: r.Applied}})
	if err != nil {
		return nil, err
	}
	var out Changes
	return &out, viaJSON(ch, &out)
}

func (s serviceSource) Report(ctx context.Context, st Status) error {
	return s.s.ReportHostStatus(ctx, service.ReportInput{Caller: s.c, Progress: service.HostProgress{HostName: st.Host, AppliedRevision: st.Applied}})
}

// TestAgentWithHostKey runs the agent on a host key's stream (only what its
// host enforces) from the real service: its kernel converges to the table
// the whole cloud gives the host, through changes inside and outside its
// scope.
func TestAgentWithHostKey(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := service.New(st)
	groups, ins := records(80)
	// sg-db admits members of sg-web: h1 needs sg-web's members (i-3 on h2,
	// i-4 nowhere) as addresses, not as instances it enforces.
	groups = append(groups, &model.SecurityGroup{ID: "sg-db", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop,
		Rules: []model.Rule{{ID: "sgr-db", Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
			PortRange: model.PortRange{Start: 5432, End: 5432}, Peer: model.Peer{GroupID: "sg-web"}, NicType: model.Intranet}}})
	ins = append(ins, &model.Instance{ID: "i-5", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.0.5"), SecurityGroups: []string{"sg-db"}, Host: host, Interface: "pi-5"})
	vpc := &model.VPC{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16"), Owner: tenant}
	for _, g := range groups {
		g.Owner = tenant
	}
	for _, in := range ins {
		in.Owner = tenant
	}
	if _, err := s.Import(ctx, "cn-hangzhou", service.Resources{VPCs: []*model.VPC{vpc}, Groups: groups, Instances: ins}); err != nil {
		t.Fatal(err)
	}
	kernel := nft.NewFake(opts)
	agentCtx, stopAgent := context.WithCancel(ctx)
	ran := make(chan error, 1)
	hostKey := service.Caller{Host: host}
	go func() {
		ran <- Run(agentCtx, Config{Host: host, NFT: opts, ReportEvery: time.Hour, Log: quiet,
			Source: serviceSource{s, hostKey}, OpenTable: func() (nft.Table, error) { return kernel, nil }})
	}()
	// converged waits until the kernel holds the table the whole cloud (the
	// operator's snapshot) gives this host.
	converged := func(step string) {
		t.Helper()
		full, err := s.GetSnapshot(ctx, service.Caller{Operator: true})
		if err != nil {
			t.Fatal(err)
		}
		w := nft.Build(policy.NewCloud(full.Groups, model.NICs(full.Instances, full.ENIs), full.PrefixLists).WithPortRangeLists(full.PortRangeLists), host, opts).String()
		eventually(t, step, func() bool { return kernel.Applied() != nil && kernel.Applied().String() == w })
	}
	converged("snapshot")
	if !strings.Contains(kernel.Applied().String(), "10.0.0.3") {
		t.Fatalf("the peer group's member on another host is missing:\n%s", kernel.Applied())
	}

	op := service.Caller{Account: tenant, Region: "cn-hangzhou", Operator: true}
	steps := []struct {
		name string
		do   func() error
	}{
		{"a rule of the host's group", func() error {
			return s.Authorize(ctx, service.RulesInput{Caller: op, SecurityGroupID: "sg-web", Direction: model.Ingress,
				Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "443/443", SourceCidrIp: "10.9.0.0/16"}}})
		}},
		{"the operator places a free instance on the host", func() error {
			return s.BindInstance(ctx, service.BindInput{Caller: op, InstanceID: "i-4", HostName: host, Interface: "pi-4"})
		}},
		{"a peer member moves to another host (no change for h1)", func() error {
			return s.BindInstance(ctx, service.BindInput{Caller: op, InstanceID: "i-3", HostName: "h3", Interface: "pi-3"})
		}},
		{"the host unbinds its instance", func() error {
			return s.BindInstance(ctx, service.BindInput{Caller: hostKey, InstanceID: "i-1"})
		}},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		converged(step.name)
	}
	stopAgent()
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// refusingSource refuses every call as the server refuses a key for a host.
type refusingSource struct{ err error }

func (s refusingSource) Snapshot(context.Context) (*Snapshot, error)           { return nil, s.err }
func (s refusingSource) Watch(context.Context, WatchRequest) (*Changes, error) { return nil, s.err }
func (s refusingSource) Report(context.Context, Status) error                  { return s.err }

// TestAgentStopsOnRefusedKey: a key for another host (or one that may not
// act for hosts) stops the agent with an error naming the host and the
// server's reason, instead of retrying forever.
func TestAgentStopsOnRefusedKey(t *testing.T) {
	for _, code := range []string{"Forbidden.HostMismatch", "Forbidden.Operator"} {
		t.Run(code, func(t *testing.T) {
			refusal := &apiclient.Error{Status: 403, Code: code, Message: "This access key belongs to host h2"}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := Run(ctx, Config{Host: host, NFT: opts, Log: quiet, Source: refusingSource{refusal},
				OpenTable: func() (nft.Table, error) { return nft.NewFake(opts), nil }})
			if err == nil || ctx.Err() != nil {
				t.Fatalf("Run returned %v (context: %v), want the refusal", err, ctx.Err())
			}
			for _, part := range []string{host, code, "belongs to host h2"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not say %q", err, part)
				}
			}
		})
	}
}

// TestAgentHostKeyOverHTTP runs the agent with a registered host key
// against the real server: it converges to its host's table, and the same
// key given to an agent of another host stops that agent with an error
// naming both hosts.
func TestAgentHostKeyOverHTTP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const keyID, secret = "LTAIagenthostkeyten0", "agent-host-key-tenant-secret"
	const opID, opSecret = "LTAIagenthostkeyop00", "agent-host-key-op-secret"
	srv, groups, ins := serveRecords(t, ctx, keyID, secret, opID, opSecret)
	defer cancel()
	op, err := srv.Ops.CallerOf(ctx, opID, "", false)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := srv.Ops.RegisterHost(ctx, op, host)
	if err != nil {
		t.Fatal(err)
	}
	kernel := nft.NewFake(opts)
	agentCtx, stopAgent := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- Run(agentCtx, Config{Server: srv.Addr, AccessKeyID: hk.ID, Secret: hk.Secret, Host: host, NFT: opts,
			ReportEvery: time.Hour, Log: quiet, OpenTable: func() (nft.Table, error) { return kernel, nil }})
	}()
	w := want(groups, ins)
	eventually(t, "the host key's agent converges", func() bool { return kernel.Applied() != nil && kernel.Applied().String() == w })
	stopAgent()
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}

	ctx2, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	err = Run(ctx2, Config{Server: srv.Addr, AccessKeyID: hk.ID, Secret: hk.Secret, Host: "h2", NFT: opts, Log: quiet,
		OpenTable: func() (nft.Table, error) { return nft.NewFake(opts), nil }})
	if err == nil || ctx2.Err() != nil {
		t.Fatalf("an agent of h2 with h1's key: Run returned %v (context: %v)", err, ctx2.Err())
	}
	for _, part := range []string{"Forbidden.HostMismatch", "h1", "h2"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not say %q", err, part)
		}
	}
}

// serveRecords serves a real server until ctx ends (the test waits for it
// to stop), with the tenant and operator keys given and records(80)
// imported into a VPC of cn-hangzhou (returned).
func serveRecords(t *testing.T, ctx context.Context, keyID, secret, opID, opSecret string) (*server.Server, []*model.SecurityGroup, []*model.Instance) {
	t.Helper()
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		AccessKeyID: keyID, AccessKeySecret: secret, OperatorKeyID: opID, OperatorKeySecret: opSecret, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() { <-served })
	groups, ins := records(80)
	vpc := &model.VPC{ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", api.Resources{VPCs: []*model.VPC{vpc}, Groups: groups, Instances: ins}); err != nil {
		t.Fatal(err)
	}
	return srv, groups, ins
}
