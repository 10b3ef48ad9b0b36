package service

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// benchService is a service on a fresh store holding one VPC, groups groups
// of 20 rules and instances instances (each in two groups; the last group
// has none).
func benchService(b *testing.B, groups, instances int) (*Service, Caller) {
	b.Helper()
	st, err := sqlite.Open(":memory:")
	if err != nil {
		b.Fatal(err)
	}
	return benchServiceOn(b, st, groups, instances)
}

// benchServiceOn is benchService on a store of the caller's.
func benchServiceOn(b *testing.B, st *sqlite.Store, groups, instances int) (*Service, Caller) {
	b.Helper()
	b.Cleanup(func() { st.Close() })
	asServed(b)
	s := New(st)
	boot, err := s.Bootstrap(context.Background(), BootstrapKeys{})
	if err != nil {
		b.Fatal(err)
	}
	c := Caller{Account: boot.Tenant.Account, Region: "cn-hangzhou"}
	vpc := &model.VPC{ID: "vpc-bench", CIDR: netip.MustParsePrefix("10.0.0.0/8")}
	r := Resources{VPCs: []*model.VPC{vpc}}
	for g := range groups {
		var rs []model.Rule
		for k := range 20 {
			rs = append(rs, modeltest.Rule(fmt.Sprintf("sgr-b%d-%d", g, k), fmt.Sprintf("in accept 1 TCP %d/%d 10.1.%d.0/24", 1000+k, 1000+k, k)))
		}
		r.Groups = append(r.Groups, modeltest.Group(fmt.Sprintf("sg-b%05d", g), vpc.ID, "basic", rs...))
	}
	for i := range instances {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).Next()
		r.Instances = append(r.Instances, modeltest.Instance(fmt.Sprintf("i-b%06d", i), vpc.ID, ip.String(),
			fmt.Sprintf("sg-b%05d", i%(groups-1)), fmt.Sprintf("sg-b%05d", (i+1)%(groups-1))))
	}
	if _, err := s.Import(context.Background(), c.Region, r); err != nil {
		b.Fatal(err)
	}
	if _, err := s.view.Snapshot(context.Background()); err != nil { // caught up with the seed
		b.Fatal(err)
	}
	return s, c
}

// timeOf is the mean time of f over n calls.
// asServed makes a benchmark measure the service as a server runs it:
// without the tests' check of every object a write hands the view (a JSON
// encoding of each record, see verify_test.go). Tests keep the check.
func asServed(tb testing.TB) {
	if _, bench := tb.(*testing.B); !bench {
		return
	}
	verify := view.VerifyObjects
	view.VerifyObjects = false
	tb.Cleanup(func() { view.VerifyObjects = verify })
}

func timeOf(n int, f func(i int)) time.Duration {
	start := time.Now()
	for i := range n {
		f(i)
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkDescribeGroupsPage: a page of 50 groups costs the same whether
// the region holds 50 or 1,000 groups (ratio near 1), unfiltered or with a
// VpcId filter (every group is in the VPC, so the filter selects them all),
// and so does a page resumed at a NextToken's cursor.
func BenchmarkDescribeGroupsPage(b *testing.B) {
	ctx := context.Background()
	// Each store has its own first tenant (account IDs are random).
	small, cs := benchService(b, 50, 200)
	large, cl := benchService(b, 1000, 200)
	callers := map[*Service]Caller{small: cs, large: cl}
	for _, f := range []struct {
		name string
		in   DescribeGroupsInput
	}{
		{"unfiltered", DescribeGroupsInput{}},
		{"VpcId", DescribeGroupsInput{VpcID: "vpc-bench"}},
	} {
		for _, token := range []bool{false, true} {
			name := f.name
			if token {
				name += ", NextToken" // the second page of 25, resumed at its cursor
			}
			b.Run(name, func(b *testing.B) {
				page := func(s *Service) func(int) {
					in := f.in
					in.Caller, in.Page = callers[s], Page{Number: 1, Size: 50}
					if token {
						in.Page = Page{Tokens: true, Size: 25}
						first, err := s.DescribeSecurityGroups(ctx, in)
						off, after, ok := ParseToken(first.NextToken)
						if err != nil || !ok || after == "" {
							b.Fatal(err, first.NextToken)
						}
						in.Page.Offset, in.Page.After = off, after
					}
					return func(int) {
						if l, err := s.DescribeSecurityGroups(ctx, in); err != nil || len(l.Items) != in.Page.Size {
							b.Fatal(err, len(l.Items))
						}
					}
				}
				page(small)(0)
				page(large)(0)
				b.ResetTimer()
				var ts, tl time.Duration
				for range b.N {
					ts += timeOf(20, page(small))
					tl += timeOf(20, page(large))
				}
				b.ReportMetric(float64(ts.Microseconds())/float64(b.N), "µs/page@50")
				b.ReportMetric(float64(tl.Microseconds())/float64(b.N), "µs/page@1000")
				b.ReportMetric(float64(tl)/float64(ts), "ratio")
			})
		}
	}
}

// BenchmarkAuthorizeWrite: a rule change costs the same with 0 or 5,000
// instances in the region (ratio near 1) when the group has no members
// either way; a group with members checks each member's rule quota, so
// "members" also shows the cost of its 0 → 200 members.
func BenchmarkAuthorizeWrite(b *testing.B) {
	ctx := context.Background()
	empty, ce := benchService(b, 50, 0)
	full, cf := benchService(b, 50, 5000)
	callers := map[*Service]Caller{empty: ce, full: cf}
	for _, g := range []struct{ name, id string }{{"no members", "sg-b00049"}, {"members", "sg-b00007"}} {
		b.Run(g.name, func(b *testing.B) {
			write := func(s *Service) func(int) {
				return func(i int) {
					p := model.RuleInput{IpProtocol: "TCP", PortRange: "40000/40000", SourceCidrIp: "192.0.2.0/24", Policy: "accept", Priority: "1"}
					in := RulesInput{Caller: callers[s], SecurityGroupID: g.id, Direction: model.Ingress, Permissions: []model.RuleInput{p}}
					var err error
					if i%2 == 0 {
						err = s.Authorize(ctx, in)
					} else {
						err = s.Revoke(ctx, in)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			for _, s := range []*Service{empty, full} {
				write(s)(0)
				write(s)(1)
			}
			b.ResetTimer()
			var te, tf time.Duration
			for range b.N {
				te += timeOf(20, write(empty))
				tf += timeOf(20, write(full))
			}
			b.ReportMetric(float64(te.Microseconds())/float64(b.N), "µs/write@0")
			b.ReportMetric(float64(tf.Microseconds())/float64(b.N), "µs/write@5000")
			b.ReportMetric(float64(tf)/float64(te), "ratio")
		})
	}
}

// BenchmarkPortRangeListUses: the groups whose rules use a port range list
// come from the view's index, so the answer costs the same with 50 or 1,000
// groups in the region (ratio near 1; a scan of the region grows with it).
func BenchmarkPortRangeListUses(b *testing.B) {
	ctx := context.Background()
	small, cs := benchService(b, 50, 0)
	large, cl := benchService(b, 1000, 0)
	uses := func(s *Service, c Caller) func(int) {
		return func(int) {
			if _, err := View(s, ctx, func(tx store.ReadTx) ([]string, error) { return PortRangeListUses(tx, c.Region, "prl-bench") }); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	var ts, tl time.Duration
	for range b.N {
		ts += timeOf(20, uses(small, cs))
		tl += timeOf(20, uses(large, cl))
	}
	b.ReportMetric(float64(ts)/1e3/float64(b.N), "µs/call@50")
	b.ReportMetric(float64(tl)/1e3/float64(b.N), "µs/call@1000")
	b.ReportMetric(float64(tl)/float64(ts), "ratio")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConcurrentWrites: 32 writers, each authorizing and revoking a
// rule of its own group (whose members share groups with the neighbours'),
// on a durable store, with the writes run in the store's serialized
// section (in-store, as before) and outside it against the view
// (optimistic). It reports for each the writes per second, the serialized
// section's time per write (sqlite's Stats: running the batch, before the
// commit), the process's CPU per write, the writes per commit, and the
// ratio of the two write rates.
func BenchmarkConcurrentWrites(b *testing.B) {
	ctx := context.Background()
	const writers, each = 32, 20
	type mode struct {
		name  string
		s     *Service
		c     Caller
		st    *sqlite.Store
		spent time.Duration
		cpu   time.Duration
		stats sqlite.Stats
	}
	var modes []*mode
	for _, name := range []string{"in-store", "optimistic"} {
		st, err := sqlite.Open(filepath.Join(b.TempDir(), "palisade.db"))
		if err != nil {
			b.Fatal(err)
		}
		s, c := benchServiceOn(b, st, 50, 200)
		s.inStoreWrites = name == "in-store"
		modes = append(modes, &mode{name: name, s: s, c: c, st: st})
	}
	run := func(m *mode) {
		before := m.st.Stats()
		cpu0 := processCPU()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				port := strconv.Itoa(40000 + w)
				p := model.RuleInput{IpProtocol: "TCP", PortRange: port + "/" + port, SourceCidrIp: "192.0.2.0/24", Policy: "accept", Priority: "1"}
				in := RulesInput{Caller: m.c, SecurityGroupID: fmt.Sprintf("sg-b%05d", w), Direction: model.Ingress, Permissions: []model.RuleInput{p}}
				for i := range each {
					var err error
					if i%2 == 0 {
						err = m.s.Authorize(ctx, in)
					} else {
						err = m.s.Revoke(ctx, in)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		m.spent += time.Since(start)
		m.cpu += processCPU() - cpu0
		after := m.st.Stats()
		m.stats.Batches += after.Batches - before.Batches
		m.stats.Updates += after.Updates - before.Updates
		m.stats.Run += after.Run - before.Run
		m.stats.Commit += after.Commit - before.Commit
	}
	b.ResetTimer()
	for range b.N {
		for _, m := range modes {
			run(m)
		}
	}
	rate := map[string]float64{}
	for _, m := range modes {
		rate[m.name] = float64(b.N*writers*each) / m.spent.Seconds()
		b.ReportMetric(rate[m.name], "writes/s-"+m.name)
		b.ReportMetric(float64(m.stats.Run.Microseconds())/float64(m.stats.Updates), "serial-µs/write-"+m.name)
		b.ReportMetric(float64(m.cpu.Microseconds())/float64(b.N*writers*each), "cpu-µs/write-"+m.name)
		b.ReportMetric(float64(m.stats.Updates)/float64(m.stats.Batches), "writes/commit-"+m.name)
	}
	b.ReportMetric(rate["optimistic"]/rate["in-store"], "ratio")
}
