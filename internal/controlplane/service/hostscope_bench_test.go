package service

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// downloadCloud is a cloudgen cloud of 4 VPCs × groups × instances (up to
// 20 rules a group), bound 20 to a host: the benchmark's has 50 groups and
// 500 instances per VPC (2,000 instances on 100 hosts).
func downloadCloud(tb testing.TB, groups, instances int) (*Service, []string) {
	return downloadCloudOf(tb, 4, groups, instances, 20)
}

// downloadCloudOf is downloadCloud with vpcs VPCs and up to rules rules a
// group.
func downloadCloudOf(tb testing.TB, vpcs, groups, instances, rules int) (*Service, []string) {
	tb.Helper()
	st, err := sqlite.Open(":memory:")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	asServed(tb)
	s := New(st)
	c := cloudgen.Generate(42, cloudgen.Config{VPCs: vpcs, Groups: groups, Instances: instances, RulesPerGroup: rules, PrefixLists: 10,
		PortRangeLists: 5, MaxGroups: 3, PublicShare: 0.2, IPv6Share: 0.3, Enterprise: 0.1})
	var hosts []string
	for h := range vpcs * instances / 20 {
		hosts = append(hosts, fmt.Sprintf("host%03d", h))
	}
	for i, in := range c.Instances {
		in.Host, in.Interface = hosts[i%len(hosts)], fmt.Sprintf("pi-%d", i)
	}
	if _, err := s.Import(context.Background(), "cn-hangzhou", Resources{VPCs: c.VPCs, Groups: c.Groups, Instances: c.Instances,
		PrefixLists: c.PrefixLists, PortRangeLists: c.PortRangeLists}); err != nil {
		tb.Fatal(err)
	}
	return s, hosts
}

// downloads is what agents download: a snapshot, then a watch after each
// of n random changes (a rule added to a group, an instance joining other
// groups, an instance's new address), as JSON. Answers without records
// (a host for which nothing changed) are counted apart: a long poll holds
// them.
type downloads struct {
	opSnap, opWatch     int   // the operator's agent
	hostSnap, hostWatch []int // each host's agent
	hostAnswers         int   // watch answers with records, all hosts
}

func measureDownloads(tb testing.TB, s *Service, hosts []string, n int) downloads {
	ctx := context.Background()
	size := func(v any) int {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return len(b)
	}
	op := Caller{Account: legacyFirstUID, Operator: true}
	callers := append([]Caller{op}, make([]Caller, len(hosts))...)
	for i, h := range hosts {
		callers[i+1] = Caller{Host: h}
	}
	d := downloads{hostSnap: make([]int, len(hosts)), hostWatch: make([]int, len(hosts))}
	revs := make([]int64, len(callers))
	for i, c := range callers {
		snap, err := s.GetSnapshot(ctx, c)
		if err != nil {
			tb.Fatal(err)
		}
		revs[i] = snap.Revision
		if i == 0 {
			d.opSnap = size(snap)
		} else {
			d.hostSnap[i-1] = size(snap)
		}
	}
	full, err := s.GetSnapshot(ctx, op)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for k := range n {
		if _, err := s.Store.Update(ctx, func(tx store.Tx) error {
			switch k % 3 {
			case 0:
				g := *full.Groups[rng.IntN(len(full.Groups))]
				g.Rules = append(append([]model.Rule(nil), g.Rules...), modeltest.Rule(fmt.Sprintf("sgr-bench%d", k),
					fmt.Sprintf("in accept 1 TCP %d/%d 10.%d.0.0/16", 1000+k, 1000+k, k%200)))
				return PutGroup(tx, &g)
			case 1:
				in := *full.Instances[rng.IntN(len(full.Instances))]
				in.SecurityGroups = append([]string(nil), in.SecurityGroups[:1]...)
				return PutInstance(tx, &in)
			default:
				in := *full.Instances[rng.IntN(len(full.Instances))]
				in.PrivateIP = in.PrivateIP.Next()
				return PutInstance(tx, &in)
			}
		}); err != nil {
			tb.Fatal(err)
		}
		for i, c := range callers {
			ch, err := s.WatchChanges(ctx, WatchInput{Caller: c, AfterRevision: revs[i]})
			if err != nil {
				tb.Fatal(err)
			}
			if ch.Resync {
				tb.Fatal("unexpected resync")
			}
			revs[i] = ch.Revision
			records := len(ch.Groups) + len(ch.Instances) + len(ch.ENIs) + len(ch.PrefixLists) + len(ch.PortRangeLists) + len(ch.Deleted)
			switch {
			case i == 0:
				d.opWatch += size(ch)
			case records > 0:
				d.hostWatch[i-1] += size(ch)
				d.hostAnswers++
			}
		}
	}
	return d
}

func mean(xs []int) float64 {
	t := 0
	for _, x := range xs {
		t += x
	}
	return float64(t) / float64(len(xs))
}

// TestHostKeyDownloadsLess logs what an agent downloads with a host key
// and with the operator's key on a cloud of 40 hosts, and checks that a
// host's agent downloads less than the whole cloud. Run with -v for the
// figures (BenchmarkHostScope/download measures the larger cloud).
func TestHostKeyDownloadsLess(t *testing.T) {
	s, hosts := downloadCloud(t, 20, 200)
	const n = 10
	d := measureDownloads(t, s, hosts, n)
	hs, hw := mean(d.hostSnap), mean(d.hostWatch)
	t.Logf("snapshot: operator %d B, host key %.0f B (mean of %d hosts), ratio %.3f", d.opSnap, hs, len(hosts), hs/float64(d.opSnap))
	t.Logf("watch of %d changes: operator %d B, host key %.0f B (mean), ratio %.3f; %d of %d host answers carried records",
		n, d.opWatch, hw, hw/float64(d.opWatch), d.hostAnswers, n*len(hosts))
	t.Logf("all %d agents, snapshot + watch: operator keys %d B, host keys %.0f B, ratio %.3f", len(hosts),
		len(hosts)*(d.opSnap+d.opWatch), float64(len(hosts))*(hs+hw), (hs+hw)/float64(d.opSnap+d.opWatch))
	if hs >= float64(d.opSnap) || hw >= float64(d.opWatch) {
		t.Errorf("a host key's agent downloads no less than the operator's: snapshot %.0f vs %d, watch %.0f vs %d", hs, d.opSnap, hw, d.opWatch)
	}
}

// BenchmarkHostScope times what a host key costs the server on the cloud
// above: a host's scoped snapshot against the whole one, and one change
// answered to every host's watch against the operator's (shared) answer.
// It reports the bytes as host-B/op-B ratios.
func BenchmarkHostScope(b *testing.B) {
	s, hosts := downloadCloud(b, 50, 500)
	ctx := context.Background()
	op := Caller{Account: legacyFirstUID, Operator: true}
	b.Run("snapshot/operator", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetSnapshot(ctx, op); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("snapshot/host", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.GetSnapshot(ctx, Caller{Host: hosts[i%len(hosts)]}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	// One rule change answered to a watcher per host: each host's scoped
	// answer, or the operator's one answer shared by as many agents.
	for _, scoped := range []bool{false, true} {
		name := "change/operator-x100"
		if scoped {
			name = "change/host-keys-x100"
		}
		b.Run(name, func(b *testing.B) {
			callers := make([]Caller, len(hosts))
			revs := make([]int64, len(hosts))
			rev, err := s.Store.Revision(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for i, h := range hosts {
				callers[i], revs[i] = op, rev
				if scoped {
					callers[i] = Caller{Host: h}
					if _, err := s.GetSnapshot(ctx, callers[i]); err != nil { // as an agent starts
						b.Fatal(err)
					}
				}
			}
			full, err := s.GetSnapshot(ctx, op)
			if err != nil {
				b.Fatal(err)
			}
			k := 0
			for b.Loop() {
				k++
				if _, err := s.Store.Update(ctx, func(tx store.Tx) error {
					g := *full.Groups[(k*7919)%len(full.Groups)]
					g.Rules = append(append([]model.Rule(nil), g.Rules...), modeltest.Rule(fmt.Sprintf("sgr-chg%d-%v", k, scoped),
						fmt.Sprintf("in accept 1 TCP %d/%d 10.%d.0.0/16", 2000+k%1000, 2000+k%1000, k%200)))
					return PutGroup(tx, &g)
				}); err != nil {
					b.Fatal(err)
				}
				for i, c := range callers {
					ch, err := s.WatchChanges(ctx, WatchInput{Caller: c, AfterRevision: revs[i]})
					if err != nil || ch.Resync {
						b.Fatal(err, ch.Resync)
					}
					revs[i] = ch.Revision
				}
			}
		})
	}
	b.Run("download", func(b *testing.B) {
		var d downloads
		for b.Loop() {
			d = measureDownloads(b, s, hosts, 20)
		}
		b.ReportMetric(mean(d.hostSnap)/float64(d.opSnap), "host-B/op-B(snapshot)")
		b.ReportMetric(mean(d.hostWatch)/float64(d.opWatch), "host-B/op-B(watch)")
	})
	// A sparser cloud: 20 VPCs of 10 groups (up to 5 rules) and 100
	// instances, 2,000 instances on 100 hosts, still placed round robin.
	b.Run("download-sparse", func(b *testing.B) {
		s, hosts := downloadCloudOf(b, 20, 10, 100, 5)
		var d downloads
		for b.Loop() {
			d = measureDownloads(b, s, hosts, 20)
		}
		b.ReportMetric(mean(d.hostSnap)/float64(d.opSnap), "host-B/op-B(snapshot)")
		b.ReportMetric(mean(d.hostWatch)/float64(d.opWatch), "host-B/op-B(watch)")
	})
}
