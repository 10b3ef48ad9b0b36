package audit

import (
	"syscall"
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
	start, cpu0 := time.Now(), cpuTime()
	ref := len(run(&Input{Cloud: c, Options: o, reference: true}))
	refTime, refCPU := time.Since(start), cpuTime()-cpu0
	b.Logf("reference: %d findings in %s (CPU %s)", ref, refTime.Round(time.Millisecond), refCPU.Round(time.Millisecond))
	b.ResetTimer()
	cpu0 = cpuTime()
	n := 0
	for b.Loop() {
		n = len(run(&Input{Cloud: c, Options: o}))
	}
	if n != ref {
		b.Fatalf("the audit found %d findings, the reference %d", n, ref)
	}
	per := b.Elapsed().Seconds() / float64(b.N)
	perCPU := (cpuTime() - cpu0).Seconds() / float64(b.N)
	b.ReportMetric(per, "s/audit")
	b.ReportMetric(refTime.Seconds(), "s/reference")
	b.ReportMetric(refTime.Seconds()/per, "x-vs-reference")
	// On a shared machine CPU time is steadier than elapsed time.
	b.ReportMetric(perCPU, "cpu-s/audit")
	b.ReportMetric(refCPU.Seconds(), "cpu-s/reference")
	b.ReportMetric(refCPU.Seconds()/perCPU, "x-cpu-vs-reference")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
