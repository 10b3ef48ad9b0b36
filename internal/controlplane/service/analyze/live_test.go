package analyze

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestLiveEqualsRecomputation drives random changes through the real
// service (two accounts: one in a VPC, one in the classic network, with
// peers across them) and checks after each that the live result, folded
// in change by change from the view, answers what a computation from
// scratch over the same snapshot answers: every link, ports and outside
// ranges included.
func TestLiveEqualsRecomputation(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			n := newNet(t)
			ctx := context.Background()
			other := newTenant(t, n, 2)
			rng := rand.New(rand.NewPCG(seed, 99))
			m := &mutator{t: t, n: n, rng: rng, callers: []service.Caller{n.c, other.c}}
			m.vpcSwitch(ctx)
			for step := range 40 {
				what := m.step(ctx)
				if step%4 == 3 {
					compareLive(t, n, what)
				}
			}
			compareLive(t, n, "the end")
			folded, rebuilt := n.a.Live().Stats()
			t.Logf("%d changes folded in, %d recomputations", folded, rebuilt)
			if folded == 0 {
				t.Error("no change was folded in incrementally")
			}
		})
	}
}

// compareLive checks the live result against a recomputation.
func compareLive(t *testing.T, n *net, after string) {
	t.Helper()
	ctx := context.Background()
	err := n.a.state(ctx, func(st liveState) error {
		snap, err := n.svc.InMemory().Wait(ctx, st.rev)
		if err != nil {
			return err
		}
		if snap.Revision() != st.rev {
			return nil // the view moved on meanwhile: compare next time
		}
		cl, err := cloudOf(snap)
		if err != nil {
			return err
		}
		_, vpcs, err := cloudAndVPCs(snap)
		if err != nil {
			return err
		}
		inside := reach.InsideBlocks("", vpcs, maps.Values(cl.Instances))
		fresh := reach.Compute(cl, reach.Options{Inside: inside})
		got, err := st.r.Matrix(reach.Filter{})
		if err != nil {
			return err
		}
		want, err := fresh.Matrix(reach.Filter{})
		if err != nil {
			return err
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("after %s (revision %d): live result\n%s\nrecomputed\n%s", after, st.rev, g, w)
		}
		if len(st.cloud.Instances) != len(cl.Instances) || len(st.cloud.Groups) != len(cl.Groups) {
			t.Errorf("after %s: live cloud has %d NICs, %d groups; the snapshot %d, %d", after,
				len(st.cloud.Instances), len(st.cloud.Groups), len(cl.Instances), len(cl.Groups))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mutator makes random changes of the kinds the API makes.
type mutator struct {
	t       *testing.T
	n       *net
	rng     *rand.Rand
	callers []service.Caller
	vsw     string
	pls     []string
}

func (m *mutator) vpcSwitch(ctx context.Context) {
	var err error
	_, err = service.View(m.n.svc, ctx, func(tx store.ReadTx) (struct{}, error) {
		ws, err := service.ListAll[model.VSwitch](tx, service.KindVSwitch)
		if err == nil && len(ws) > 0 {
			m.vsw = ws[0].ID
		}
		return struct{}{}, err
	})
	if err != nil {
		m.t.Fatal(err)
	}
}

// state lists the groups and instances of an account.
func (m *mutator) state(ctx context.Context, c service.Caller) ([]*model.SecurityGroup, []*model.Instance) {
	var gs []*model.SecurityGroup
	var ins []*model.Instance
	_, err := service.View(m.n.svc, ctx, func(tx store.ReadTx) (struct{}, error) {
		all, err := service.ListAll[model.SecurityGroup](tx, service.KindGroup)
		for _, g := range all {
			if g.Owner == c.Account {
				gs = append(gs, g)
			}
		}
		insts, err2 := service.ListAll[model.Instance](tx, service.KindInstance)
		for _, in := range insts {
			if in.Owner == c.Account {
				ins = append(ins, in)
			}
		}
		if err == nil {
			err = err2
		}
		return struct{}{}, err
	})
	if err != nil {
		m.t.Fatal(err)
	}
	return gs, ins
}

func pick[T any](rng *rand.Rand, s []T) (T, bool) {
	var zero T
	if len(s) == 0 {
		return zero, false
	}
	return s[rng.IntN(len(s))], true
}

// step makes one change (a refused one changes nothing, which is fine)
// and says what it tried.
func (m *mutator) step(ctx context.Context) string {
	svc, rng := m.n.svc, m.rng
	c := m.callers[rng.IntN(len(m.callers))]
	gs, ins := m.state(ctx, c)
	g, _ := pick(rng, gs)
	in, _ := pick(rng, ins)
	vsw := ""
	if g != nil && g.VpcID != "" {
		vsw = m.vsw
	}
	switch k := rng.IntN(10); {
	case k <= 2 && g != nil: // a rule: CIDR, group (maybe another account's) or prefix list
		r := model.RuleInput{IpProtocol: "tcp", PortRange: fmt.Sprintf("%d/%d", 20+rng.IntN(10), 30+rng.IntN(10)),
			Policy: []string{"accept", "drop"}[rng.IntN(2)], Priority: fmt.Sprint(1 + rng.IntN(5))}
		dir := []model.Direction{model.Ingress, model.Egress}[rng.IntN(2)]
		switch rng.IntN(3) {
		case 0:
			r.SourceCidrIp = []string{"0.0.0.0/0", "192.168.0.0/16", "10.0.0.0/8", "10.0.0.4/30"}[rng.IntN(4)]
		case 1:
			c2 := m.callers[rng.IntN(len(m.callers))]
			gs2, _ := m.state(ctx, c2)
			if peer, ok := pick(rng, gs2); ok {
				r.SourceGroupId, r.SourceGroupOwnerId = peer.ID, c2.Account
			}
		default:
			if pl, ok := pick(rng, m.pls); ok && c == m.n.c {
				r.SourcePrefixListId = pl
			} else {
				r.SourceCidrIp = "0.0.0.0/0"
			}
		}
		if dir == model.Egress {
			r.DestCidrIp, r.SourceCidrIp = r.SourceCidrIp, ""
			r.DestGroupId, r.DestGroupOwnerId, r.SourceGroupId, r.SourceGroupOwnerId = r.SourceGroupId, r.SourceGroupOwnerId, "", ""
			r.DestPrefixListId, r.SourcePrefixListId = r.SourcePrefixListId, ""
		}
		svc.Authorize(ctx, service.RulesInput{Caller: c, SecurityGroupID: g.ID, Direction: dir, Permissions: []model.RuleInput{r}})
		return "authorize in " + g.ID
	case k == 3 && g != nil && len(g.Rules) > 0:
		r := g.Rules[rng.IntN(len(g.Rules))]
		svc.Revoke(ctx, service.RulesInput{Caller: c, SecurityGroupID: g.ID, Direction: r.Direction, RuleIDs: []string{r.ID}})
		return "revoke " + r.ID
	case k == 4 && g != nil:
		svc.RunInstances(ctx, service.LaunchInput{Caller: c, Amount: 1 + rng.IntN(2), ImageID: "img", InstanceType: "ecs.t1", VSwitchID: vsw, SecurityGroupID: g.ID})
		return "launch into " + g.ID
	case k == 5 && in != nil && len(ins) > 1:
		svc.DeleteInstance(ctx, service.DeleteInstanceInput{Caller: c, InstanceID: in.ID, Force: true})
		return "delete " + in.ID
	case k == 6 && in != nil && g != nil:
		if err := svc.JoinSecurityGroup(ctx, service.MembershipInput{Caller: c, InstanceID: in.ID, SecurityGroupID: g.ID}); err != nil {
			svc.LeaveSecurityGroup(ctx, service.MembershipInput{Caller: c, InstanceID: in.ID, SecurityGroupID: g.ID})
		}
		return "join/leave " + in.ID + " " + g.ID
	case k == 7 && g != nil:
		svc.ModifySecurityGroupPolicy(ctx, service.GroupPolicyInput{Caller: c, SecurityGroupID: g.ID, InnerAccessPolicy: []string{"Accept", "Drop"}[rng.IntN(2)]})
		return "policy of " + g.ID
	case k == 8 && c == m.n.c:
		if pl, ok := pick(rng, m.pls); ok && rng.IntN(2) == 0 {
			svc.ModifyPrefixList(ctx, service.ModifyPrefixListInput{Caller: c, PrefixListID: pl,
				AddEntries: []service.PrefixEntryInput{{Cidr: fmt.Sprintf("192.168.%d.0/24", rng.IntN(4))}}})
			return "modify " + pl
		}
		max := 10
		res, err := svc.CreatePrefixList(ctx, service.CreatePrefixListInput{Caller: c, Name: "pl", AddressFamily: "IPv4", MaxEntries: &max,
			Entries: []service.PrefixEntryInput{{Cidr: "192.168.1.0/24"}}})
		if err == nil {
			m.pls = append(m.pls, res.PrefixListId)
		}
		return "create a prefix list"
	default:
		vpc := ""
		if c == m.n.c && rng.IntN(2) == 0 {
			_, err := service.View(svc, ctx, func(tx store.ReadTx) (struct{}, error) {
				vs, err := service.ListAll[model.VPC](tx, service.KindVPC)
				for _, v := range vs {
					if v.Owner == c.Account {
						vpc = v.ID
					}
				}
				return struct{}{}, err
			})
			if err != nil {
				m.t.Fatal(err)
			}
		}
		svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: c, VpcID: vpc, Name: "g"})
		return "create a group"
	}
}

// TestLiveUnderConcurrentReads: reach and plan requests run while changes
// are folded in (run with -race: readers never see a result mid-update).
func TestLiveUnderConcurrentReads(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := newTenant(t, n, 2)
	m := &mutator{t: t, n: n, rng: rand.New(rand.NewPCG(7, 7)), callers: []service.Caller{n.c, other.c}}
	m.vpcSwitch(ctx)
	done := make(chan struct{})
	errs := make(chan error, 4)
	for _, c := range []service.Caller{n.c, other.c} {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, err := n.a.Reachability(ctx, ReachInput{Caller: c}); err != nil {
					errs <- err
					return
				}
				if _, err := n.a.PlanChange(ctx, c, func(context.Context, *service.Service) error { return nil }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 20 {
		m.step(ctx)
	}
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	compareLive(t, n, "concurrent reads")
}
