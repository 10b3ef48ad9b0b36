package reach_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/cloudgen"
	"github.com/palisade-sg/palisade/model"
	"github.com/palisade-sg/palisade/policy"
	"github.com/palisade-sg/palisade/reach"
	"github.com/palisade-sg/palisade/reach/reachtest"
)

// The benchmarks run on reachtest.Big (10,000 instances, 1,000 groups,
// about 50,000 rules) and report, besides ns/op, how many times faster the
// operation is than the naive way measured in the same run:
//
//   - naive: for every ordered pair of instances and family, one
//     policy.Evaluate to learn whether a path exists, and where it does,
//     one per destination port of TCP and UDP (1-65535) plus ICMP and GRE.
//     The naive full run would take days, so it is measured on a sample of
//     pairs (and a sample of ports per pair) and extrapolated to all pairs
//     (the metric names say "est").
//   - boundaries: the same, but trying only one port per interval of the
//     rules' port boundaries (what the tests' oracle does): the best a
//     per-pair evaluation can do without an analysis.

type naiveCost struct {
	pairs, pathPairs float64 // ordered (pair, family) combinations, and those with a path
	perPath, perNone float64 // seconds per combination, with and without a path
	perPathBounds    float64 // seconds per combination with a path, boundary ports only
}

func (n naiveCost) total() float64 {
	return n.pathPairs*n.perPath + (n.pairs-n.pathPairs)*n.perNone
}

func (n naiveCost) bounds() float64 {
	return n.pathPairs*n.perPathBounds + (n.pairs-n.pathPairs)*n.perNone
}

var naiveMemo *naiveCost

// measureNaive estimates the naive evaluation of every pair of a cloud.
func measureNaive(gen *cloudgen.Cloud, c *policy.Cloud) naiveCost {
	if naiveMemo != nil {
		return *naiveMemo
	}
	eng := policy.Compile(c)
	eng.Warm()
	var n naiveCost
	ins := gen.Instances
	// Count the (pair, family) combinations that have a path.
	byVPC := map[string]float64{}
	var pub, six float64
	pubByVPC, sixByVPC := map[string]float64{}, map[string]float64{}
	for _, in := range ins {
		byVPC[in.VpcID]++
		if in.PublicIP.IsValid() {
			pub++
			pubByVPC[in.VpcID]++
		}
		if in.IPv6.IsValid() {
			six++
			sixByVPC[in.VpcID]++
		}
	}
	total := float64(len(ins))
	n.pairs = 2 * total * (total - 1)
	for v, k := range byVPC {
		n.pathPairs += k*(k-1) + pubByVPC[v]*(pub-pubByVPC[v])
	}
	n.pathPairs += six * (six - 1)

	rng := rand.New(rand.NewPCG(1, 1))
	bounds := reachtest.Boundaries(c)
	const samples, portSample = 12, 2048
	var tPath, tBounds, tNone time.Duration
	var nPath, nNone int
	for nPath < samples || nNone < samples {
		a, b := ins[rng.IntN(len(ins))], ins[rng.IntN(len(ins))]
		if a == b {
			continue
		}
		six := rng.IntN(2) == 1
		version := 4
		if six {
			version = 6
		}
		probe, _ := policy.Evaluate(eng, policy.Flow{From: a.ID, To: b.ID, Protocol: model.GRE, IPVersion: version})
		if probe.Path != "" {
			if nNone < samples {
				start := time.Now()
				policy.Evaluate(eng, policy.Flow{From: a.ID, To: b.ID, Protocol: model.GRE, IPVersion: version})
				tNone += time.Since(start)
				nNone++
			}
			continue
		}
		if nPath >= samples {
			continue
		}
		start := time.Now()
		for _, proto := range []model.Protocol{model.TCP, model.UDP} {
			for range portSample {
				policy.Evaluate(eng, policy.Flow{From: a.ID, To: b.ID, Protocol: proto, Port: uint16(1 + rng.IntN(65535)), IPVersion: version})
			}
		}
		// Scale the port sample to every port, and add ICMP and GRE.
		tPath += time.Duration(float64(time.Since(start)) * 65535 / portSample)
		start = time.Now()
		reachtest.Ports(eng, bounds, a.ID, b.ID, six, 0)
		tBounds += time.Since(start)
		nPath++
	}
	n.perPath = tPath.Seconds() / samples
	n.perPathBounds = tBounds.Seconds() / samples
	n.perNone = tNone.Seconds() / samples
	naiveMemo = &n
	return n
}

func reportRatios(b *testing.B, n naiveCost) {
	per := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(n.total()/per, "x-vs-naive-est")
	b.ReportMetric(n.bounds()/per, "x-vs-boundaries-est")
}

// BenchmarkFull computes reachability from scratch, then walks every pair
// once to build the group graph (so that every pair is really answered).
func BenchmarkFull(b *testing.B) {
	gen := reachtest.Big()
	c := gen.Snapshot()
	n := measureNaive(gen, c)
	b.Logf("naive: %.0f (pair, family) combinations, %.0f with a path; %.3fs per path pair (all ports), %.2fms (boundary ports, %d), %.1fµs without a path",
		n.pairs, n.pathPairs, n.perPath, n.perPathBounds*1e3, len(reachtest.Boundaries(c)), n.perNone*1e6)
	b.Run("compute", func(b *testing.B) {
		var r *reach.Result
		for b.Loop() {
			r = reach.Compute(c, reach.Options{})
		}
		b.ReportMetric(float64(r.Classes()), "classes")
		reportRatios(b, n)
	})
	b.Run("compute+graph", func(b *testing.B) {
		for b.Loop() {
			r := reach.Compute(c, reach.Options{})
			if _, err := r.Graph(reach.Filter{}); err != nil {
				b.Fatal(err)
			}
		}
		reportRatios(b, n)
	})
}

// changes prepares two snapshots that differ by one change of each kind:
// a rule's ports in one group, and an instance joining a group.
func changes(gen *cloudgen.Cloud) (base *policy.Cloud, alts []*policy.Cloud, chs []reach.Change) {
	base = gen.Snapshot()
	rng := rand.New(rand.NewPCG(3, 4))
	// A rule change: widen the first TCP rule of a group with members.
	ruled := reachtest.Copy(gen)
	for _, i := range rng.Perm(len(ruled.Groups)) {
		g := ruled.Groups[i]
		if k := slices.IndexFunc(g.Rules, func(r model.Rule) bool { return r.Protocol == model.TCP }); k >= 0 && len(base.Members(g.ID)) > 0 {
			g.Rules[k].PortRange = model.PortRange{Start: 8000, End: 8100}
			alts, chs = append(alts, ruled.Snapshot()), append(chs, reach.Change{Groups: []string{g.ID}})
			break
		}
	}
	// A membership change: an instance joins a second group of its type.
	joined := reachtest.Copy(gen)
	for _, i := range rng.Perm(len(joined.Instances)) {
		in := joined.Instances[i]
		first := base.Groups[in.SecurityGroups[0]]
		k := slices.IndexFunc(joined.Groups, func(g *model.SecurityGroup) bool {
			return g.VpcID == in.VpcID && g.Type == first.Type && !slices.Contains(in.SecurityGroups, g.ID)
		})
		if k >= 0 && len(in.SecurityGroups) < 5 {
			in.SecurityGroups = append(in.SecurityGroups, joined.Groups[k].ID)
			alts, chs = append(alts, joined.Snapshot()), append(chs, reach.Change{Instances: []string{in.ID}})
			break
		}
	}
	return base, alts, chs
}

// BenchmarkUpdate moves a result back and forth across one change: each
// operation is one incremental Update.
func BenchmarkUpdate(b *testing.B) {
	gen := reachtest.Big()
	base, alts, chs := changes(gen)
	n := measureNaive(gen, base)
	for i, name := range []string{"rule", "membership"} {
		b.Run(name, func(b *testing.B) {
			r := reach.Compute(base, reach.Options{})
			snaps := []*policy.Cloud{alts[i], base}
			k := 0
			for b.Loop() {
				r.Update(snaps[k%2], chs[i])
				k++
			}
			reportRatios(b, n)
		})
	}
}

// BenchmarkSnapshot measures building the policy.Cloud an Update needs
// (the caller's cost, not Update's).
func BenchmarkSnapshot(b *testing.B) {
	gen := reachtest.Big()
	for b.Loop() {
		gen.Snapshot()
	}
}

// BenchmarkVerify evaluates single flows with the compiled engine, against
// the linear reference evaluator in the same run.
func BenchmarkVerify(b *testing.B) {
	gen := reachtest.Big()
	c := gen.Snapshot()
	flows := gen.Flows(9, 4096)
	lin, comp := policy.NewLinear(c), policy.Compile(c)
	for _, f := range flows { // warm both caches outside the timers
		policy.Evaluate(lin, f)
		policy.Evaluate(comp, f)
	}
	var linear float64
	for _, x := range []struct {
		name string
		d    policy.Decider
	}{{"linear", lin}, {"compiled", comp}} {
		b.Run(x.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				policy.Evaluate(x.d, flows[i%len(flows)])
				i++
			}
			per := b.Elapsed().Seconds() / float64(b.N)
			if x.name == "linear" {
				linear = per
			} else if linear > 0 {
				b.ReportMetric(linear/per, "x-vs-linear")
			}
		})
	}
}
