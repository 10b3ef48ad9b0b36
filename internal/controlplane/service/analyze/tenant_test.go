package analyze

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// tenant is a second account beside newNet's, in the classic network,
// with instances in one group that lets a classic group of the first
// account (peer, with one instance, peerInst) in on 5432: a peer across
// accounts.
type tenant struct {
	c              service.Caller
	ids            []string
	sg             string
	peer, peerInst string
}

func newTenant(t *testing.T, n *net, count int) tenant {
	t.Helper()
	ctx := context.Background()
	tt := tenant{c: service.Caller{Account: "1000000000000002", Region: "cn-hangzhou"}}
	pg, err := n.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: n.c, Name: "classic-db"})
	if err != nil {
		t.Fatal(err)
	}
	tt.peer = pg.SecurityGroupId
	ids, err := n.svc.RunInstances(ctx, service.LaunchInput{Caller: n.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1", SecurityGroupID: tt.peer})
	if err != nil {
		t.Fatal(err)
	}
	tt.peerInst = ids[0]
	g, err := n.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: tt.c, Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	tt.sg = g.SecurityGroupId
	if err := n.svc.Authorize(ctx, service.RulesInput{Caller: tt.c, SecurityGroupID: tt.sg, Direction: model.Ingress,
		Permissions: []model.RuleInput{
			{IpProtocol: "tcp", PortRange: "5432/5432", SourceGroupId: tt.peer, SourceGroupOwnerId: n.c.Account},
			{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"},
		}}); err != nil {
		t.Fatal(err)
	}
	if tt.ids, err = n.svc.RunInstances(ctx, service.LaunchInput{Caller: tt.c, Amount: count, ImageID: "img", InstanceType: "ecs.t1",
		SecurityGroupID: tt.sg}); err != nil {
		t.Fatal(err)
	}
	return tt
}

// TestReachIsTenantScoped: each account's reachability lists and counts
// only its own instances, and a peer group of the other account still
// decides as the peer it is.
func TestReachIsTenantScoped(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := newTenant(t, n, 3)
	for _, tc := range []struct {
		name      string
		c         service.Caller
		instances int
		mine      []string
	}{
		{"first account", n.c, 3, []string{n.web, n.db, other.peerInst}},
		{"second account", other.c, 3, other.ids},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, view := range []string{"matrix", "graph"} {
				r, err := n.a.Reachability(ctx, ReachInput{Caller: tc.c, View: view})
				if err != nil {
					t.Fatal(err)
				}
				if got := r.Stats["instances"]; got != tc.instances {
					t.Errorf("%s: Stats.instances = %d, want %d (the caller's only)", view, got, tc.instances)
				}
				mine := map[string]bool{reach.Internet: true}
				for _, id := range tc.mine {
					mine[id] = true
				}
				for _, l := range r.Links {
					if !mine[l.From] || !mine[l.To] {
						t.Errorf("%s: link %s→%s names another account's instance", view, l.From, l.To)
					}
				}
				if r.Graph != nil {
					for _, nd := range r.Graph.Nodes {
						if nd.ID != reach.Internet && strings.HasPrefix(nd.ID, "sg-") && nd.ID != other.sg && tc.c == other.c {
							t.Errorf("graph node %s is not the caller's", nd.ID)
						}
					}
				}
			}
		})
	}
	// The peer decides: the first account's instance in the peer group
	// reaches the second account's on 5432 across accounts (its answer
	// shows that instance's side only), and the internet reaches them on 22.
	var seen int
	err := n.a.state(ctx, func(st liveState) error {
		for _, id := range other.ids {
			l, err := st.r.Between(other.peerInst, id)
			if err != nil {
				return err
			}
			if !l.IPv4.Only(model.TCP, 5432).Empty() {
				seen++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(other.ids) {
		t.Errorf("the peer group reaches %d of the %d instances across accounts", seen, len(other.ids))
	}
	r, err := n.a.Reachability(ctx, ReachInput{Caller: other.c, Port: "22"})
	if want := len(other.ids) * (len(other.ids) - 1); err != nil || len(r.Links) != want {
		t.Fatalf("the second account's instances on 22: %v links, %v; want %d", r.Links, err, want)
	}
	// Naming the other account's instance or group is refused as unknown.
	for _, end := range []string{n.web, n.sgDB, other.peer} {
		if _, err := n.a.Reachability(ctx, ReachInput{Caller: other.c, From: end}); !ecserr.Is(err, "InvalidParameter.NotFound") {
			t.Errorf("From %s of another account: %v", end, err)
		}
	}
}

// TestReachPages: a long matrix comes in pages that join into the whole.
func TestReachPages(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := newTenant(t, n, 6)
	whole, err := n.a.Reachability(ctx, ReachInput{Caller: other.c})
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Links) < 4 || whole.NextToken != "" {
		t.Fatalf("the whole matrix: %d links, NextToken %q", len(whole.Links), whole.NextToken)
	}
	var joined []string
	token, pages := "", 0
	for {
		r, err := n.a.Reachability(ctx, ReachInput{Caller: other.c, Page: Page{MaxResults: 3, NextToken: token}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Links) > 3 {
			t.Fatalf("a page of %d links, asked for 3", len(r.Links))
		}
		for _, l := range r.Links {
			joined = append(joined, l.String())
		}
		pages++
		if token = r.NextToken; token == "" {
			break
		}
	}
	var want []string
	for _, l := range whole.Links {
		want = append(want, l.String())
	}
	if fmt.Sprint(joined) != fmt.Sprint(want) || pages != (len(want)+2)/3 {
		t.Errorf("%d pages joined:\n%v\nwant\n%v", pages, joined, want)
	}
	for _, p := range []Page{{MaxResults: -1}, {MaxResults: MaxResultsLimit + 1}, {NextToken: "x"}, {NextToken: "-5"}} {
		if _, err := n.a.Reachability(ctx, ReachInput{Caller: other.c, Page: p}); err == nil {
			t.Errorf("page %+v accepted", p)
		}
	}
}

// TestAnalysisConcurrencyBound: without a queue, beyond the bound an
// analysis is refused with Throttling at once (Throttling.User beyond the
// account's own); one account cannot take every slot; a slot freed is
// usable again.
func TestAnalysisConcurrencyBound(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	a := NewWith(n.svc, Options{MaxConcurrent: 2, MaxPerAccount: 1, Queue: -1})
	other := service.Caller{Account: "1000000000000002", Region: "cn-hangzhou"}
	third := service.Caller{Account: "1000000000000003", Region: "cn-hangzhou"}
	hold1, err := a.gate.enter(n.c.Account) // an analysis of the first account is running
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reachability(ctx, ReachInput{Caller: n.c}); !ecserr.Is(err, "Throttling.User") {
		t.Fatalf("a second analysis of one account: %v, want Throttling.User", err)
	}
	hold2, err := a.gate.enter(other.Account)
	if err != nil {
		t.Fatalf("another account is let in: %v", err)
	}
	if _, err := a.VerifyFlow(ctx, FlowInput{Caller: third, From: "1.2.3.4", To: "5.6.7.8", Protocol: "tcp", Port: "22"}); !ecserr.Is(err, "Throttling") {
		t.Fatalf("beyond the server's bound: %v, want Throttling", err)
	}
	// Marked Waiting (the console), the second analysis of an account waits
	// for the slot instead, and gives up with its context.
	short, cancel := context.WithTimeout(Waiting(ctx), 50*time.Millisecond)
	defer cancel()
	if _, err := a.Reachability(short, ReachInput{Caller: n.c}); !ecserr.Is(err, "Throttling.User") {
		t.Fatalf("a waiting analysis whose context ended: %v, want Throttling.User", err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := a.Reachability(Waiting(ctx), ReachInput{Caller: n.c})
		waited <- err
	}()
	select {
	case err := <-waited:
		t.Fatalf("a waiting analysis ran while the slot was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	hold1()
	if err := <-waited; err != nil {
		t.Fatalf("the waiting analysis, once the slot was freed: %v", err)
	}
	hold2()
	if _, err := a.Reachability(ctx, ReachInput{Caller: n.c}); err != nil {
		t.Fatalf("after the others ended: %v", err)
	}
	if a.gate.total != 0 || len(a.gate.byAccount) != 0 {
		t.Errorf("gate holds %d analyses, %d accounts after all ended", a.gate.total, len(a.gate.byAccount))
	}
}

// TestAnalysisCPUShare: admitted analyses share a pool of CPU tokens (a
// core is left to the API): one that finds none free waits for one,
// whoever holds them, and an analysis's workers take only the tokens free.
func TestAnalysisCPUShare(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two cores to share")
	}
	n := newNet(t)
	ctx := context.Background()
	other := service.Caller{Account: "1000000000000002", Region: "cn-hangzhou"}
	if got := newGate(Options{}).o.CPU; got != runtime.GOMAXPROCS(0)-1 {
		t.Errorf("default CPU share %d, want GOMAXPROCS-1 = %d", got, runtime.GOMAXPROCS(0)-1)
	}
	a := NewWith(n.svc, Options{MaxConcurrent: 4, MaxPerAccount: 4, CPU: 2})
	sh, done, err := a.enter(ctx, n.c)
	if err != nil {
		t.Fatal(err)
	}
	if w := sh.workers(); w != 2 {
		t.Fatalf("alone, an analysis may run %d workers, want the pool's 2", w)
	}
	// Every token is held: another account's analysis is admitted but waits.
	ran := make(chan error, 1)
	go func() {
		_, err := a.Reachability(ctx, ReachInput{Caller: other})
		ran <- err
	}()
	select {
	case err := <-ran:
		t.Fatalf("an analysis ran while the CPU share was taken: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := a.VerifyFlow(short, FlowInput{Caller: n.c, From: n.web, To: n.db, Protocol: "tcp", Port: "22"}); err == nil {
		t.Fatal("an analysis whose context ended while it waited for the CPU ran")
	}
	done()
	if err := <-ran; err != nil {
		t.Fatalf("the waiting analysis, once the share was freed: %v", err)
	}
	sh2, done2, err := a.enter(ctx, n.c)
	if err != nil {
		t.Fatal(err)
	}
	sh3, done3, err := a.enter(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if w := sh2.workers(); w != 1 {
		t.Errorf("with the other token held, an analysis may run %d workers, want 1", w)
	}
	done3()
	if w := sh2.workers(); w != 2 {
		t.Errorf("once the other token is free, an analysis may run %d workers, want 2", w)
	}
	_ = sh3
	done2()
	if len(a.gate.cpu) != 0 || a.gate.total != 0 {
		t.Errorf("%d tokens and %d analyses held after all ended", len(a.gate.cpu), a.gate.total)
	}
}

// TestOutsideRangesHideOtherTenantsNetworks: another account's VPC block is
// the internet to the caller, so its outside ranges show no gap there
// (a gap would tell the other account's network), in reach and in plans.
func TestOutsideRangesHideOtherTenantsNetworks(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	// The second account's VPC, 10.0.0.0/16.
	other := service.Caller{Account: "1000000000000002", Region: "cn-hangzhou"}
	if _, err := n.svc.CreateVpc(ctx, service.CreateVpcInput{Caller: other, CidrBlock: "10.0.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	g, err := n.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: n.c, VpcID: vpcOf(t, n), Name: "pub"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.RunInstances(ctx, service.LaunchInput{Caller: n.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1",
		VSwitchID: vswOf(t, n), SecurityGroupID: g.SecurityGroupId, BandwidthOut: 5}); err != nil {
		t.Fatal(err)
	}
	ssh := func(ctx context.Context, svc *service.Service) error {
		return svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: g.SecurityGroupId, Direction: model.Ingress,
			Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"}}})
	}
	hidden := func(what string, ranges [][2]netip.Addr) {
		t.Helper()
		if len(ranges) == 0 {
			t.Fatalf("%s: no outside ranges", what)
		}
		inOther := netip.MustParseAddr("10.0.5.5")
		for _, r := range ranges {
			if r[0].Compare(inOther) <= 0 && inOther.Compare(r[1]) <= 0 {
				return
			}
		}
		t.Errorf("%s: the outside ranges %v leave the other account's 10.0.0.0/16 out", what, ranges)
	}
	p, err := n.a.PlanChange(ctx, n.c, ssh)
	if err != nil {
		t.Fatal(err)
	}
	var planned [][2]netip.Addr
	for _, ch := range p.Changes {
		if ch.From == reach.Internet {
			planned = append(planned, [2]netip.Addr{ch.First, ch.Last})
		}
	}
	hidden("plan", planned)
	if err := ssh(ctx, n.svc); err != nil {
		t.Fatal(err)
	}
	r, err := n.a.Reachability(ctx, ReachInput{Caller: n.c, From: reach.Internet, Port: "22"})
	if err != nil {
		t.Fatal(err)
	}
	var reached [][2]netip.Addr
	for _, l := range r.Links {
		for _, o := range l.Outside {
			reached = append(reached, [2]netip.Addr{o.First, o.Last})
		}
	}
	hidden("reach", reached)
}

func vpcOf(t *testing.T, n *net) string {
	t.Helper()
	vs, err := service.View(n.svc, context.Background(), func(tx store.ReadTx) ([]*model.VPC, error) { return service.ListAll[model.VPC](tx, service.KindVPC) })
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Owner == n.c.Account {
			return v.ID
		}
	}
	t.Fatal("no VPC")
	return ""
}

func vswOf(t *testing.T, n *net) string {
	t.Helper()
	ws, err := service.View(n.svc, context.Background(), func(tx store.ReadTx) ([]*model.VSwitch, error) {
		return service.ListAll[model.VSwitch](tx, service.KindVSwitch)
	})
	if err != nil || len(ws) == 0 {
		t.Fatal("no vSwitch", err)
	}
	return ws[0].ID
}

// TestPlanNamesHiddenPeers: a plan that touches a policy with a rule naming
// another account's group says so (its members' flows are not in the
// answer, which may then list none), and one that touches no such policy
// says nothing.
func TestPlanNamesHiddenPeers(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := newTenant(t, n, 1)
	rule := func(c service.Caller, sg, port string) Change {
		return func(ctx context.Context, svc *service.Service) error {
			return svc.Authorize(ctx, service.RulesInput{Caller: c, SecurityGroupID: sg, Direction: model.Ingress,
				Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: port, SourceCidrIp: "192.168.0.0/16"}}})
		}
	}
	empty, err := n.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: other.c, Name: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		c      service.Caller
		change Change
		want   []string
	}{
		{"a rule beside one naming the other account's group", other.c, rule(other.c, other.sg, "8080/8080"), []string{other.peer}},
		{"a rule naming the other account's group", other.c, func(ctx context.Context, svc *service.Service) error {
			return svc.Authorize(ctx, service.RulesInput{Caller: other.c, SecurityGroupID: other.sg, Direction: model.Ingress,
				Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "6379/6379", SourceGroupId: other.peer, SourceGroupOwnerId: n.c.Account}}})
		}, []string{other.peer}},

		{"a group without members", other.c, rule(other.c, empty.SecurityGroupId, "8080/8080"), nil},
		{"the named group's own account", n.c, rule(n.c, other.peer, "8080/8080"), nil},
		{"an unrelated group", n.c, rule(n.c, n.sgDB, "8080/8080"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := n.a.PlanChange(ctx, tc.c, tc.change)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.HiddenPeers, tc.want) {
				t.Errorf("HiddenPeers = %v, want %v", p.HiddenPeers, tc.want)
			}
		})
	}
}
