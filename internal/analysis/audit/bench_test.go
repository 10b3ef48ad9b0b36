package audit

import (
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
)

// BenchmarkAudit runs the full audit on the benchmark cloud (reachtest.Big:
// 10,000 instances, 1,000 groups, about 50,000 rules) and reports, besides
// ns/op, how many times faster it is than the reference paths (the
// straightforward engine the faster one replaced, kept for the equivalence
// test) measured once in the same run.
//
//	go test -run '^$' -bench Audit -benchtime 3x ./internal/analysis/audit
func BenchmarkAudit(b *testing.B) {
	c := reachtest.Big().Snapshot()
	o := Options{}.withDefaults()
	start := time.Now()
	ref := len(run(&Input{Cloud: c, Options: o, reference: true}))
	refTime := time.Since(start)
	b.Logf("reference: %d findings in %s", ref, refTime.Round(time.Millisecond))
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n = len(run(&Input{Cloud: c, Options: o}))
	}
	if n != ref {
		b.Fatalf("the audit found %d findings, the reference %d", n, ref)
	}
	per := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(per, "s/audit")
	b.ReportMetric(refTime.Seconds(), "s/reference")
	b.ReportMetric(refTime.Seconds()/per, "x-vs-reference")
}
