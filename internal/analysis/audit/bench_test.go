package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"runtime"
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
	var c *cloudgen.Cloud
	if testing.Short() {
		c = cloudgen.Generate(42, smokeConfig)
	} else {
		c = reachtest.Big() // not made under -short: minutes on a loaded machine
	}
	cloud := c.Snapshot()
	o := Options{}.withDefaults()
	// PALISADE_AUDIT_NOREF=1 skips the reference (minutes on the big
	// cloud) while iterating; the findings' digest, logged, still tells a
	// change of findings.
	noRef := os.Getenv("PALISADE_AUDIT_NOREF") == "1"
	var ref []Finding
	var refTime, refCPU time.Duration
	if !noRef {
		start, cpu0 := time.Now(), cpuTime()
		ref = run(&Input{Cloud: cloud, Options: o, reference: true})
		refTime, refCPU = time.Since(start), cpuTime()-cpu0
		b.Logf("reference: %d findings in %s (CPU %s), digest %s", len(ref), refTime.Round(time.Millisecond), refCPU.Round(time.Millisecond), digest(ref))
	}
	// The generator's garbage (gigabytes on the big cloud) is collected
	// now, not on the audit's time.
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime()
	var got []Finding
	for b.Loop() {
		got = run(&Input{Cloud: cloud, Options: o})
	}
	b.StopTimer()
	per := b.Elapsed().Seconds() / float64(b.N)
	perCPU := (cpuTime() - cpu0).Seconds() / float64(b.N)
	b.Logf("audit: %d findings, digest %s", len(got), digest(got))
	if !noRef && digest(got) != digest(ref) {
		b.Fatalf("the audit found %d findings (digest %s), the reference %d (digest %s)", len(got), digest(got), len(ref), digest(ref))
	}
	b.ReportMetric(per, "s/audit")
	// On a shared machine CPU time is steadier than elapsed time.
	b.ReportMetric(perCPU, "cpu-s/audit")
	if noRef {
		return
	}
	b.ReportMetric(refTime.Seconds(), "s/reference")
	b.ReportMetric(refTime.Seconds()/per, "x-vs-reference")
	b.ReportMetric(refCPU.Seconds(), "cpu-s/reference")
	b.ReportMetric(refCPU.Seconds()/perCPU, "x-cpu-vs-reference")
}

// consoleConfig is a console-sized cloud: one VPC of the benchmark cloud
// (1,000 instances, 100 groups, about 5,000 rules).
var consoleConfig = func() cloudgen.Config { c := reachtest.BigConfig; c.VPCs = 1; return c }()

// BenchmarkAuditConsole runs the full audit on a console-sized cloud, the
// size one tenant's console audits, with the findings' digest logged.
// Under -short it audits the smoke cloud.
//
//	go test -run '^$' -bench AuditConsole -benchtime 5x ./internal/analysis/audit
func BenchmarkAuditConsole(b *testing.B) {
	cfg := consoleConfig
	if testing.Short() {
		cfg = smokeConfig
	}
	cloud := cloudgen.Generate(42, cfg).Snapshot()
	o := Options{}.withDefaults()
	runtime.GC()
	b.ResetTimer()
	cpu0 := cpuTime()
	var got []Finding
	for b.Loop() {
		got = run(&Input{Cloud: cloud, Options: o})
	}
	b.StopTimer()
	b.Logf("audit: %d findings, digest %s", len(got), digest(got))
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/audit")
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/audit")
}

// digest is a short hash of findings, in order.
func digest(fs []Finding) string {
	b, err := json.Marshal(fs)
	if err != nil {
		panic(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
