package analyze

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// net is two instances of one account in one VPC: web in group web, db in
// group db, which lets nothing in yet.
type net struct {
	svc     *service.Service
	a       *Service
	c       service.Caller
	web, db string // instances
	sgDB    string
}

func newNet(t *testing.T) *net {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	svc := service.New(st)
	n := &net{svc: svc, a: New(svc), c: service.Caller{Account: "1000000000000001", Region: "cn-hangzhou"}}
	v, err := svc.CreateVpc(ctx, service.CreateVpcInput{Caller: n.c, CidrBlock: "192.168.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := svc.CreateVSwitch(ctx, service.CreateVSwitchInput{Caller: n.c, VpcID: v.VpcId, ZoneID: "cn-hangzhou-h", CidrBlock: "192.168.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	launch := func(name string) (string, string) {
		g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: n.c, VpcID: v.VpcId, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := svc.RunInstances(ctx, service.LaunchInput{Caller: n.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1",
			VSwitchID: w.VSwitchId, SecurityGroupID: g.SecurityGroupId})
		if err != nil {
			t.Fatal(err)
		}
		return ids[0], g.SecurityGroupId
	}
	n.web, _ = launch("web")
	n.db, n.sgDB = launch("db")
	return n
}

// mysql opens db's 3306 to the VPC.
func (n *net) mysql(ctx context.Context, svc *service.Service) error {
	return svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: n.sgDB, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "3306/3306", SourceCidrIp: "192.168.0.0/16"}}})
}

func (n *net) verify(t *testing.T) policy.Verdict {
	t.Helper()
	r, err := n.a.VerifyFlow(context.Background(), FlowInput{Caller: n.c, From: n.web, To: n.db, Protocol: "tcp", Port: "3306"})
	if err != nil {
		t.Fatal(err)
	}
	return policy.Verdict(r.Verdict)
}

func TestPlanThenApply(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	if d := n.verify(t); d != policy.Drop {
		t.Fatalf("before any rule: %v", d)
	}
	// The plan of a typed change shows the flow it opens and changes nothing.
	p, err := n.a.PlanChange(ctx, n.c, n.mysql)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) == 0 || p.Changes[0].From != n.web || p.Changes[0].To != n.db {
		t.Fatalf("plan %+v, want the flow web→db opened", p)
	}
	if d := n.verify(t); d != policy.Drop {
		t.Fatalf("the plan applied its change: %v", d)
	}
	// A change the service refuses is refused by the plan alike.
	_, err = n.a.PlanChange(ctx, n.c, func(ctx context.Context, svc *service.Service) error {
		return svc.DeleteSecurityGroup(ctx, service.GroupRef{Caller: n.c, SecurityGroupID: n.sgDB})
	})
	if !ecserr.Is(err, "DependencyViolation") {
		t.Fatalf("planning a refused change: %v", err)
	}
	if err := n.mysql(ctx, n.svc); err != nil {
		t.Fatal(err)
	}
	if d := n.verify(t); d != policy.Accept {
		t.Fatalf("after the change: %v", d)
	}
	if pols, err := n.a.EffectiveRules(ctx, n.c, n.db); err != nil || len(pols) == 0 {
		t.Fatalf("effective rules of db: %v, %v", pols, err)
	}
}

func TestCallerSeesOnlyItsOwn(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := service.Caller{Account: "1000000000000002", Region: "cn-hangzhou"}
	_, err := n.a.VerifyFlow(ctx, FlowInput{Caller: other, From: n.web, To: n.db, Protocol: "tcp", Port: "22"})
	if !ecserr.Is(err, "InvalidInstanceId.NotFound") {
		t.Fatalf("another account verifying this one's flow: %v", err)
	}
	r, err := n.a.Reachability(ctx, ReachInput{Caller: other})
	if err != nil || len(r.Links) != 0 {
		t.Fatalf("another account's reachability: %d links, %v", len(r.Links), err)
	}
	a, err := n.a.Audit(ctx, other, audit.Options{})
	if err != nil || len(a.Findings) != 0 {
		t.Fatalf("another account's audit: %d findings, %v", len(a.Findings), err)
	}
	if _, err := n.a.Reachability(ctx, ReachInput{Caller: n.c, View: "table"}); !ecserr.Is(err, "InvalidParameter") {
		t.Fatalf("an unknown view: %v", err)
	}
	if _, err := n.a.Reachability(ctx, ReachInput{Caller: n.c, View: "graph"}); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyFlowNamesTheParameter: a flow the engine refuses names the
// parameter at fault (a TCP flow to port 0 was refused as a bad
// "Protocol").
func TestVerifyFlowNamesTheParameter(t *testing.T) {
	n := newNet(t)
	for _, tt := range []struct {
		in    FlowInput
		field string
	}{
		{FlowInput{Protocol: "tcp", Port: "0"}, `"Port"`},
		{FlowInput{Protocol: "udp"}, `"Port"`},
		{FlowInput{Protocol: "tcp", Port: "22", SourcePort: "70000"}, `"SourcePort"`},
		{FlowInput{Protocol: "tcp", Port: "22", IPVersionText: "5"}, `"IPVersion"`},
		{FlowInput{Protocol: "all"}, `"Protocol"`},
	} {
		tt.in.Caller, tt.in.From, tt.in.To = n.c, n.web, n.db
		_, err := n.a.VerifyFlow(context.Background(), tt.in)
		if !ecserr.Is(err, "InvalidParameter") || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%+v: %v, want InvalidParameter naming %s", tt.in, err, tt.field)
		}
	}
}

// TestVerifyFlowRefusesAddressesInsideVPCs: an outside end inside a VPC's
// block is refused, as the scenario loader refuses it: the reachability
// leaves those blocks out of the internet, and the verdict on it
// contradicted it.
func TestVerifyFlowRefusesAddressesInsideVPCs(t *testing.T) {
	n := newNet(t)
	// Another account's VPC is the internet to the caller, and not the
	// caller's to learn of: an address in it is taken as any other.
	other := service.Caller{Account: "1000000000000002", Region: n.c.Region}
	if _, err := n.svc.CreateVpc(context.Background(), service.CreateVpcInput{Caller: other, CidrBlock: "172.20.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		from, to string
		field    string // "" accepted
	}{
		{"192.168.7.7", n.db, `"From"`},
		{n.web, "192.168.1.200", `"To"`},
		{"198.51.100.7", n.db, ""},
		{"172.20.0.9", n.db, ""},
	} {
		_, err := n.a.VerifyFlow(context.Background(), FlowInput{Caller: n.c, From: tt.from, To: tt.to, Protocol: "tcp", Port: "22"})
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s -> %s: %v", tt.from, tt.to, err)
		case tt.field != "" && (!ecserr.Is(err, "InvalidParameter") || !strings.Contains(err.Error(), tt.field) || !strings.Contains(err.Error(), "vpc-")):
			t.Errorf("%s -> %s: %v, want InvalidParameter naming %s and the VPC", tt.from, tt.to, err, tt.field)
		}
	}
}

// TestVerifyFlowRefusesOwnPublicAddress: an outside end that is the
// public address of one of the caller's instances, or the private address
// of a classic one, is refused, naming the
// instance to give instead (scenario files refuse it too); another
// account's public address is an address on the internet like any other.
func TestVerifyFlowRefusesOwnPublicAddress(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	eip, err := n.svc.AllocateEipAddress(ctx, service.AllocateEipInput{Caller: n.c})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.svc.AssociateEipAddress(ctx, service.EipInput{Caller: n.c, AllocationID: eip.AllocationId, InstanceID: n.web}); err != nil {
		t.Fatal(err)
	}
	other := service.Caller{Account: "1000000000000002", Region: n.c.Region}
	theirs, err := n.svc.AllocateEipAddress(ctx, service.AllocateEipInput{Caller: other})
	if err != nil {
		t.Fatal(err)
	}
	// A classic instance's private address is no outside address either.
	tt := newTenant(t, n, 1)
	var classic *model.Instance
	_, err = service.View(n.svc, ctx, func(tx store.ReadTx) (struct{}, error) {
		in, _, err := store.GetAs[model.Instance](tx, service.KindInstance, tt.ids[0])
		classic = &in
		return struct{}{}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caller   service.Caller
		from, to string
		field    string // "" accepted
		names    string
	}{
		{n.c, eip.EipAddress, n.db, `"From"`, n.web},
		{n.c, n.db, eip.EipAddress, `"To"`, n.web},
		{n.c, theirs.EipAddress, n.db, "", ""},
		{tt.c, classic.PrivateIP.String(), tt.ids[0], `"From"`, tt.ids[0]},
		{n.c, classic.PrivateIP.String(), n.db, "", ""}, // another account's: the internet to this one
	} {
		_, err := n.a.VerifyFlow(ctx, FlowInput{Caller: tc.caller, From: tc.from, To: tc.to, Protocol: "tcp", Port: "22"})
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s -> %s: %v", tc.from, tc.to, err)
		case tc.field != "" && (!ecserr.Is(err, "InvalidParameter") || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.names)):
			t.Errorf("%s -> %s: %v, want InvalidParameter naming %s and %s", tc.from, tc.to, err, tc.field, tc.names)
		}
	}
}
