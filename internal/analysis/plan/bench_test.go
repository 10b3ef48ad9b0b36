package plan_test

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/plan"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
)

// BenchmarkPlan diffs reachability before and after one change on the
// benchmark cloud (reachtest.Big): the "after" result is a clone of the
// "before" one, updated (outside the timer). The ratio compares with the
// naive way, evaluating every pair one flow at a time before and after
// (reachtest.NaiveCost, measured on a sample in the same run and
// extrapolated).
func BenchmarkPlan(b *testing.B) {
	gen := reachtest.Big()
	base, alts, chs := reachtest.Changes(gen)
	n := reachtest.Naive(gen, base)
	before := reach.Compute(base, reach.Options{})
	for i, name := range []string{"rule", "membership"} {
		b.Run(name, func(b *testing.B) {
			after := before.Clone()
			after.Update(alts[i], chs[i])
			var cs []plan.Change
			for b.Loop() {
				cs = plan.Diff(before, after)
			}
			per := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*n.Total()/per, "x-vs-naive-est")
			b.ReportMetric(2*n.Bounds()/per, "x-vs-boundaries-est")
			b.ReportMetric(float64(len(cs)), "changes")
			b.ReportMetric(float64(len(reach.Affected(before, after))), "affected-instances")
		})
	}
}
