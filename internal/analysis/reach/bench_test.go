package reach_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
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

func reportRatios(b *testing.B, n reachtest.NaiveCost) {
	per := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(n.Total()/per, "x-vs-naive-est")
	b.ReportMetric(n.Bounds()/per, "x-vs-boundaries-est")
}

// BenchmarkFull computes reachability from scratch, then walks every pair
// once to build the group graph (so that every pair is really answered).
func BenchmarkFull(b *testing.B) {
	gen := reachtest.Big()
	c := gen.Snapshot()
	n := reachtest.Naive(gen, c)
	b.Logf("naive: %.0f (pair, family) combinations, %.0f with a path; %.3fs per path pair (all ports), %.2fms (boundary ports, %d), %.1fµs without a path",
		n.Pairs, n.PathPairs, n.PerPath, n.PerPathBounds*1e3, len(reachtest.Boundaries(c)), n.PerNone*1e6)
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

// BenchmarkUpdate moves a result back and forth across one change: each
// operation is one incremental Update. "shared" runs on reachtest.Shared,
// where the members of a group share their policy class.
func BenchmarkUpdate(b *testing.B) {
	for _, cloud := range []struct {
		name string
		gen  func() *cloudgen.Cloud
	}{{"", reachtest.Big}, {"shared-", reachtest.Shared}} {
		gen := cloud.gen()
		base, alts, chs := reachtest.Changes(gen)
		n := reachtest.Naive(gen, base)
		full := reach.Compute(base, reach.Options{})
		for i, name := range []string{"rule", "membership"} {
			b.Run(cloud.name+name, func(b *testing.B) {
				r := full.Clone()
				snaps := []*policy.Cloud{alts[i], base}
				k, built, folded := 0, 0, 0
				cpu0 := cpuTime()
				for b.Loop() {
					r.Update(snaps[k%2], chs[i])
					k++
					built, folded = built+r.Built(), folded+r.Folded()
				}
				// The process's CPU time per Update (GC included): less
				// disturbed than ns/op by others sharing the machine.
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				reportRatios(b, n)
				b.ReportMetric(float64(built)/float64(b.N), "classes/op")
				b.ReportMetric(float64(folded)/float64(b.N), "folded/op")
			})
		}
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

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
