package analyze

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// benchCloud is a generated cloud in a real store, served by a real
// service with its in-memory view and the live reachability: one tenant
// per VPC (1,000 instances each on reachtest.Big).
type benchCloud struct {
	svc    *service.Service
	a      *Service
	tenant service.Caller
	group  string // a group of the tenant with members
}

func loadBench(b *testing.B, gen *cloudgen.Cloud) *benchCloud {
	b.Helper()
	c := reachtest.Copy(gen)
	const region = "cn-hangzhou"
	ownerOf := map[string]string{}
	for i, v := range c.VPCs {
		cp := *v
		cp.Owner, cp.Region = fmt.Sprintf("1%015d", i+1), region
		c.VPCs[i] = &cp
		ownerOf[v.ID] = cp.Owner
	}
	groupOwner := map[string]string{}
	for _, g := range c.Groups {
		g.Owner, g.Region = ownerOf[g.VpcID], region
		groupOwner[g.ID] = g.Owner
	}
	for _, g := range c.Groups {
		for i := range g.Rules {
			if p := &g.Rules[i].Peer; p.GroupID != "" {
				p.GroupOwner = groupOwner[p.GroupID]
			}
		}
	}
	for _, in := range c.Instances {
		in.Owner, in.Region = ownerOf[in.VpcID], region
	}
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	_, err = st.Update(ctx, func(tx store.Tx) error {
		for _, v := range c.VPCs {
			if err := store.PutAs(tx, service.KindVPC, v.ID, v.Owner, region, v); err != nil {
				return err
			}
		}
		for _, g := range c.Groups {
			if err := store.PutAs(tx, service.KindGroup, g.ID, g.Owner, region, g); err != nil {
				return err
			}
		}
		for _, in := range c.Instances {
			if err := store.PutAs(tx, service.KindInstance, in.ID, in.Owner, region, in); err != nil {
				return err
			}
		}
		for _, pl := range c.PrefixLists {
			if err := store.PutAs(tx, service.KindPrefixList, pl.ID, pl.Owner, region, pl); err != nil {
				return err
			}
		}
		for _, l := range c.PortRangeLists {
			if err := store.PutAs(tx, service.KindPortRangeList, l.ID, l.Owner, region, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	svc := service.New(st)
	bc := &benchCloud{svc: svc, a: New(svc), tenant: service.Caller{Account: c.VPCs[0].Owner, Region: region}}
	snap := gen.Snapshot()
	for _, g := range c.Groups {
		if g.Owner == bc.tenant.Account && g.Type == model.Normal && len(snap.Members(g.ID)) > 0 && len(g.Rules) < 150 &&
			!slices.ContainsFunc(g.Rules, func(r model.Rule) bool { return r.Peer.PrefixListID != "" }) {
			bc.group = g.ID
			break
		}
	}
	bc.sync(b) // the first computation, outside the timings
	return bc
}

// sync waits until the live result holds every write answered so far.
func (bc *benchCloud) sync(b *testing.B) {
	if err := bc.a.state(context.Background(), func(liveState) error { return nil }); err != nil {
		b.Fatal(err)
	}
}

func (bc *benchCloud) rule(ctx context.Context, svc *service.Service, add bool) error {
	in := service.RulesInput{Caller: bc.tenant, SecurityGroupID: bc.group, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "7777/7777", SourceCidrIp: "0.0.0.0/0"}}}
	if add {
		return svc.Authorize(ctx, in)
	}
	return svc.Revoke(ctx, in)
}

// BenchmarkLive measures the analysis service on reachtest.Big and
// reachtest.Shared (10,000 instances, 1,000 groups, about 51,000 rules),
// against the cost of what each request did before the result was kept
// live, measured in the same run:
//
//   - recompute: the whole cloud read from the view and analysed from
//     scratch (reach.Compute), once per reach or plan request before;
//   - fold-rule: one rule added or removed through the service, folded
//     into the live result from the view's change (fold-ms is the fold
//     alone, without the store's commit, which ns/op includes);
//   - reach-tenant: one tenant's (1,000 instances) first page of
//     PalisadeDescribeReachability;
//   - plan-tenant: the plan of adding a rule to one of its groups (the
//     change run over the in-memory view; plan-tenant-sqlite: in a
//     rolled-back SQLite transaction, as before).
func BenchmarkLive(b *testing.B) {
	for _, cloud := range []struct {
		name string
		gen  func() *cloudgen.Cloud
	}{{"big", reachtest.Big}, {"shared", reachtest.Shared}} {
		b.Run(cloud.name, func(b *testing.B) { benchLive(b, cloud.gen()) })
	}
}

func benchLive(b *testing.B, gen *cloudgen.Cloud) {
	bc := loadBench(b, gen)
	ctx := context.Background()
	var recompute float64
	b.Run("recompute", func(b *testing.B) {
		// Seconds each: at most two, whatever -benchtime says (ns/op is
		// reported per computation made).
		n := min(b.N, 2)
		start := time.Now()
		for range n {
			snap, err := bc.svc.InMemory().Snapshot(ctx)
			if err != nil {
				b.Fatal(err)
			}
			cl, err := cloudOf(snap)
			if err != nil {
				b.Fatal(err)
			}
			_, vpcs, err := cloudAndVPCs(snap)
			if err != nil {
				b.Fatal(err)
			}
			inside := reach.InsideBlocks("", vpcs, maps.Values(cl.Instances))
			reach.Compute(cl, reach.Options{Inside: inside})
		}
		recompute = time.Since(start).Seconds() / float64(n)
		b.ReportMetric(recompute*1e9, "ns/op")
	})
	ratio := func(b *testing.B, per float64) {
		if recompute > 0 {
			b.ReportMetric(recompute/per, "x-vs-recompute")
		}
	}
	b.Run("fold-rule", func(b *testing.B) {
		l := bc.a.Live()
		folded0, rebuilt0 := l.Stats()
		t0 := l.FoldTime()
		k := 0
		for b.Loop() {
			if err := bc.rule(ctx, bc.svc, k%2 == 0); err != nil {
				b.Fatal(err)
			}
			k++
			bc.sync(b)
		}
		bc.rule(ctx, bc.svc, false) // leave the rule out, as found (an error: it was out)
		bc.sync(b)
		folded, rebuilt := l.Stats()
		if rebuilt != rebuilt0 || folded == folded0 {
			b.Fatalf("%d recomputations, %d folds during the benchmark", rebuilt-rebuilt0, folded-folded0)
		}
		per := (l.FoldTime() - t0).Seconds() / float64(folded-folded0)
		b.ReportMetric(per*1e3, "fold-ms")
		ratio(b, per)
	})
	b.Run("reach-tenant", func(b *testing.B) {
		for b.Loop() {
			r, err := bc.a.Reachability(ctx, ReachInput{Caller: bc.tenant})
			if err != nil {
				b.Fatal(err)
			}
			if len(r.Links) == 0 {
				b.Fatal("no links")
			}
		}
		ratio(b, b.Elapsed().Seconds()/float64(b.N))
	})
	plan := func(b *testing.B, a *Service) {
		cpu0 := cpuTime()
		for b.Loop() {
			p, err := a.PlanChange(ctx, bc.tenant, func(ctx context.Context, svc *service.Service) error { return bc.rule(ctx, svc, true) })
			if err != nil {
				b.Fatal(err)
			}
			if p.Summary.Links == 0 {
				b.Fatal("the plan opens nothing")
			}
		}
		// The process's CPU time per plan (the plans run alone in it): a
		// figure the other programs sharing the machine disturb less than
		// ns/op.
		b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
		ratio(b, b.Elapsed().Seconds()/float64(b.N))
	}
	// The change run over the in-memory view (the default), and, for
	// comparison, in a rolled-back SQLite transaction.
	viaStore := New(bc.svc)
	viaStore.live, viaStore.storeDryRun = bc.a.Live(), true
	viaStore.liveOnce.Do(func() {})
	// One plan of each, untimed: the first plan interns the port sets the
	// change makes into the live result's table, for every later one.
	for _, a := range []*Service{viaStore, bc.a} {
		if _, err := a.PlanChange(ctx, bc.tenant, func(ctx context.Context, svc *service.Service) error { return bc.rule(ctx, svc, true) }); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC() // not the garbage of the runs before, in the first one's time
	b.Run("plan-tenant", func(b *testing.B) { plan(b, bc.a) })
	runtime.GC()
	b.Run("plan-tenant-sqlite", func(b *testing.B) { plan(b, viaStore) })
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
