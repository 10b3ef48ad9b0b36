package plan_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/plan"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

var configs = []cloudgen.Config{
	cloudgen.Small,
	{VPCs: 1, Groups: 3, Instances: 8, RulesPerGroup: 10, PrefixLists: 2, MaxGroups: 4, PublicShare: 1, IPv6Share: 1, Enterprise: 0.2, MoreIPv6Share: 0.5},
	{VPCs: 3, Groups: 2, Instances: 4, RulesPerGroup: 6, PrefixLists: 3, MaxGroups: 1, PublicShare: 0.7, IPv6Share: 0.3, Enterprise: 0.5, MoreIPv6Share: 0.5},
	cloudgen.Full,
}

type key struct {
	from, to string
	version  int
}

// TestDiffAgreesWithNaive checks Diff against per-flow evaluation of the
// cloud before and after random changes: every pair and family whose flows
// differ, and the internet at the cloud's outside addresses, with the
// opened and closed ports. Both ways of getting the after result are held
// to it: computed from scratch, and cloned and updated.
func TestDiffAgreesWithNaive(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	nonEmpty := 0
	for v, cfg := range configs {
		n := seeds
		if cfg.ClassicInstances > 0 {
			n = max(seeds/3, 2) // the largest cloud, at several times the cost
		}
		for seed := range uint64(n) {
			rng := rand.New(rand.NewPCG(seed, 5))
			gen := cloudgen.Generate(seed+300, cfg)
			for step := range 6 {
				next, ch, what := reachtest.Mutate(rng, gen)
				c0, c1 := gen.Snapshot(), next.Snapshot()
				before := reach.Compute(c0, reach.Options{})
				updated := before.Clone()
				updated.Update(c1, ch)
				want := naiveDiff(c0, c1, gen.Outside)
				name := fmt.Sprintf("config %d seed %d step %d (%s)", v, seed, step, what)
				for _, after := range []*reach.Result{reach.Compute(c1, reach.Options{}), updated} {
					check(t, name, plan.Diff(before, after), want, gen.Outside)
				}
				if len(want) > 0 {
					nonEmpty++
				}
				gen = next
			}
		}
	}
	if nonEmpty < 10 {
		t.Errorf("only %d random changes changed any flow: the test checks little", nonEmpty)
	}
}

// naiveDiff evaluates every flow before and after and keeps the differences
// (opened, closed) per link and family; outside addresses stand for the
// internet.
func naiveDiff(c0, c1 *policy.Cloud, outside []netip.Addr) map[key][2]reach.Ports {
	a := reachtest.Links(c0, outside, 0)
	b := reachtest.Links(c1, outside, 0)
	out := map[key][2]reach.Ports{}
	for _, m := range []map[reachtest.Key][2]reach.Ports{a, b} {
		for k := range m {
			for f := range 2 {
				before, after := a[k][f], b[k][f]
				if !before.Equal(after) {
					out[key{k.From, k.To, 4 + 2*f}] = [2]reach.Ports{after.Minus(before), before.Minus(after)}
				}
			}
		}
	}
	return out
}

func check(t *testing.T, name string, got []plan.Change, want map[key][2]reach.Ports, outside []netip.Addr) {
	t.Helper()
	seen := map[key]bool{}
	for _, c := range got {
		if c.Opened.Empty() && c.Closed.Empty() {
			t.Errorf("%s: empty change %v", name, c)
		}
		if c.From == reach.Internet || c.To == reach.Internet {
			continue // checked at the outside addresses below
		}
		k := key{c.From, c.To, c.IPVersion}
		w, ok := want[k]
		if !ok || !w[0].Equal(c.Opened) || !w[1].Equal(c.Closed) {
			t.Fatalf("%s: diff says %v; naive opens %v, closes %v", name, c, w[0], w[1])
		}
		seen[k] = true
	}
	for k, w := range want {
		fa, errFrom := netip.ParseAddr(k.from)
		ta, errTo := netip.ParseAddr(k.to)
		if errFrom == nil || errTo == nil {
			a, from, to := fa, reach.Internet, k.to
			if errTo == nil {
				a, from, to = ta, k.from, reach.Internet
			}
			c := covering(got, from, to, a)
			if c == nil || !c.Opened.Equal(w[0]) || !c.Closed.Equal(w[1]) {
				t.Fatalf("%s: %s -> %s: diff %v; naive opens %v, closes %v", name, k.from, k.to, c, w[0], w[1])
			}
			continue
		}
		if !seen[k] {
			t.Fatalf("%s: %s -> %s IPv%d: naive opens %v, closes %v; the diff says nothing", name, k.from, k.to, k.version, w[0], w[1])
		}
	}
	// A change at an outside address that evaluation does not see.
	for _, o := range outside {
		for _, c := range got {
			if (c.From == reach.Internet || c.To == reach.Internet) && c.First.Is6() == o.Is6() && c.First.Compare(o) <= 0 && o.Compare(c.Last) <= 0 {
				from, to := o.String(), c.To
				if c.To == reach.Internet {
					from, to = c.From, o.String()
				}
				if _, ok := want[key{from, to, c.IPVersion}]; !ok {
					t.Fatalf("%s: diff says %v, but nothing changes for %s -> %s", name, c, from, to)
				}
			}
		}
	}
}

func covering(cs []plan.Change, from, to string, a netip.Addr) *plan.Change {
	for i, c := range cs {
		if c.From == from && c.To == to && c.First.IsValid() && c.First.Is6() == a.Is6() && c.First.Compare(a) <= 0 && a.Compare(c.Last) <= 0 {
			return &cs[i]
		}
	}
	return nil
}

func TestKinds(t *testing.T) {
	g := &model.SecurityGroup{ID: "sg-a", VpcID: "vpc", Type: model.Normal, InnerAccessPolicy: model.InnerDrop}
	x := &model.Instance{ID: "i-x", VpcID: "vpc", PrivateIP: netip.MustParseAddr("10.0.0.1"), SecurityGroups: []string{"sg-a"}}
	y := &model.Instance{ID: "i-y", VpcID: "vpc", PrivateIP: netip.MustParseAddr("10.0.0.2"), SecurityGroups: []string{"sg-a"}}
	rule := func(id string, pol model.Policy, ports model.PortRange) model.Rule {
		return model.Rule{ID: id, Direction: model.Ingress, Policy: pol, Priority: 1, Protocol: model.TCP, PortRange: ports,
			Peer: model.Peer{CIDR: netip.MustParsePrefix("10.0.0.0/24")}, NicType: model.Intranet}
	}
	snap := func(rules ...model.Rule) *policy.Cloud {
		cp := *g
		cp.Rules = rules
		return policy.NewCloud([]*model.SecurityGroup{&cp}, []*model.Instance{x, y}, nil)
	}
	base := reach.Compute(snap(rule("r1", model.Accept, model.PortRange{Start: 80, End: 90})), reach.Options{})
	for _, tt := range []struct {
		name  string
		after *policy.Cloud
		kind  plan.Kind
		text  string
	}{
		{"widen", snap(rule("r1", model.Accept, model.PortRange{Start: 80, End: 100})), plan.Widen, "i-x -> i-y IPv4 opens TCP 91-100"},
		{"narrow", snap(rule("r1", model.Accept, model.PortRange{Start: 85, End: 90})), plan.Narrow, "i-x -> i-y IPv4 closes TCP 80-84"},
		{"mixed", snap(rule("r1", model.Accept, model.PortRange{Start: 85, End: 95})), plan.Mixed, "i-x -> i-y IPv4 opens TCP 91-95, closes TCP 80-84"},
		{"a drop at the same priority closes", snap(rule("r1", model.Accept, model.PortRange{Start: 80, End: 90}), rule("r2", model.Drop, model.PortRange{Start: 90, End: 90})), plan.Narrow, "i-x -> i-y IPv4 closes TCP 90"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			after := base.Clone()
			after.Update(tt.after, reach.Changes(base.Cloud(), tt.after))
			cs := plan.Diff(base, after)
			if len(cs) != 2 { // both directions between the two instances
				t.Fatalf("got %d changes, want 2: %v", len(cs), cs)
			}
			if cs[0].String() != tt.text || cs[0].Kind != tt.kind {
				t.Errorf("got %q (%s), want %q (%s)", cs[0], cs[0].Kind, tt.text, tt.kind)
			}
			if s := plan.Summarize(cs); s.Kind != tt.kind || s.Links != 2 {
				t.Errorf("summary %+v, want kind %s over 2 links", s, tt.kind)
			}
		})
	}
}

// TestDiffAtEdges holds Diff's changes with the internet to the linear
// evaluator asked before and after random changes (rules, joins and
// leaves, group deletion, intra-group policy, prefix and port range list
// entries, addresses) at the addresses where rules change, not only the
// cloud's outside addresses: the change whose range holds an address
// opens and closes exactly the ports whose verdict changed there.
func TestDiffAtEdges(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	changed := 0
	for seed := range uint64(seeds) {
		cfg := cloudgen.Full
		switch {
		case seed%2 == 1:
			cfg = configs[1]
		case seed%4 == 2: // rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		}
		rng := rand.New(rand.NewPCG(seed, 23))
		gen := cloudgen.Generate(seed+9500, cfg)
		for step := range 6 {
			next, ch, what := reachtest.Mutate(rng, gen)
			c0, c1 := gen.Snapshot(), next.Snapshot()
			before := reach.Compute(c0, reach.Options{})
			after := before.Clone()
			after.Update(c1, ch)
			diff := plan.Diff(before, after)
			l0, l1 := policy.NewLinear(c0), policy.NewLinear(c1)
			b0, b1 := reachtest.Boundaries(c0), reachtest.Boundaries(c1)
			bounds := append(b0, b1...)
			slices.Sort(bounds)
			bounds = slices.Compact(bounds)
			name := fmt.Sprintf("seed %d step %d (%s)", seed+9500, step, what)
			for range 60 {
				six := rng.IntN(2) == 1
				addrs := append(gen.EdgeAddrs(c0, six), next.EdgeAddrs(c1, six)...)
				a := addrs[rng.IntN(len(addrs))]
				ids := slices.Collect(maps.Keys(c1.Instances))
				slices.Sort(ids)
				id := ids[rng.IntN(len(ids))]
				if c0.Instances[id] == nil {
					continue // created: its links are all new
				}
				from, to, cf, ct := a.String(), id, reach.Internet, id
				if rng.IntN(2) == 0 {
					from, to, cf, ct = id, a.String(), id, reach.Internet
				}
				p0 := reachtest.Ports(l0, bounds, from, to, six, 0)
				p1 := reachtest.Ports(l1, bounds, from, to, six, 0)
				opened, closed := p1.Minus(p0), p0.Minus(p1)
				var gotO, gotC reach.Ports
				if c := covering(diff, cf, ct, a); c != nil {
					gotO, gotC = c.Opened, c.Closed
				}
				if !gotO.Equal(opened) || !gotC.Equal(closed) {
					t.Fatalf("%s %s -> %s: diff opens %v, closes %v; the evaluator opens %v, closes %v", name, from, to, gotO, gotC, opened, closed)
				}
				if !opened.Empty() || !closed.Empty() {
					changed++
				}
			}
			gen = next
		}
	}
	if changed == 0 {
		t.Error("no change changed a flow at an edge: the test checks little")
	}
}
