package audit

import (
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// smokeConfig is the cloud BenchmarkAudit uses under -short (the suite's
// one-pass smoke run): one small VPC, so that the pass only proves the
// benchmark still runs.
var smokeConfig = cloudgen.Config{VPCs: 1, Groups: 20, Instances: 100, RulesPerGroup: 20, PrefixLists: 3,
	MaxGroups: 3, PublicShare: 0.3, IPv6Share: 0.3, Enterprise: 0.2}

// BenchmarkAudit runs the full audit on the benchmark cloud (reachtest.Big:
// 10,000 instances, 1,000 groups, about 50,000 rules) and reports, besides
// ns/op, how many times faster it is than the reference paths (the
// straightforward engine the faster one replaced, kept for the equivalence
// test) measured once in the same run. Under -short (the suite's smoke run)
// it audits a small cloud instead: the reference takes minutes on the big one.
//
//	go test -run '^$' -bench Audit -benchtime 3x ./internal/analysis/audit
func BenchmarkAudit(b *testing.B) {
	c := reachtest.Big()
	if testing.Short() {
		c = cloudgen.Generate(42, smokeConfig)
	}
	cloud := c.Snapshot()
	o := Options{}.withDefaults()
	start, cpu0 := time.Now(), cpuTime()
	ref := len(run(&Input{Cloud: cloud, Options: o, reference: true}))
	refTime, refCPU := time.Since(start), cpuTime()-cpu0
	b.Logf("reference: %d findings in %s (CPU %s)", ref, refTime.Round(time.Millisecond), refCPU.Round(time.Millisecond))
	b.ResetTimer()
	cpu0 = cpuTime()
	n := 0
	for b.Loop() {
		n = len(run(&Input{Cloud: cloud, Options: o}))
	}
	if n != ref {
		b.Fatalf("the audit found %d findings, the reference %d", n, ref)
	}
	per := b.Elapsed().Seconds() / float64(b.N)
	perCPU := (cpuTime() - cpu0).Seconds() / float64(b.N)
	b.ReportMetric(per, "s/audit")
	// On a shared machine CPU time is steadier than elapsed time.
	b.ReportMetric(perCPU, "cpu-s/audit")
	b.ReportMetric(refTime.Seconds(), "s/reference")
	b.ReportMetric(refTime.Seconds()/per, "x-vs-reference")
	b.ReportMetric(refCPU.Seconds(), "cpu-s/reference")
	b.ReportMetric(refCPU.Seconds()/perCPU, "x-cpu-vs-reference")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
