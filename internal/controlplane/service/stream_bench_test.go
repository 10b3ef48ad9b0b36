package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// BenchmarkStreamFanout is the server's side of bench/fanout without HTTP:
// hosts streams (two instances per host, all in sg-base, isolated, and
// in one of 20 team groups) and a rule added to sg-base per op, which
// every stream sends; ns/op is the time until the last stream sent it,
// on every core. It shows what the streams' own work costs per change.
func BenchmarkStreamFanout(b *testing.B) {
	sizes := []int{100, 1000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, hosts := range sizes {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			ctx := context.Background()
			st, err := sqlite.Open(":memory:")
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			asServed(b)
			s := New(st)
			vpc := &model.VPC{ID: "vpc-f", CIDR: netip.MustParsePrefix("10.0.0.0/8")}
			res := Resources{VPCs: []*model.VPC{vpc}}
			var rules []model.Rule
			for k := range 20 {
				rules = append(rules, modeltest.Rule(fmt.Sprintf("sgr-base-%d", k), fmt.Sprintf("in accept %d TCP %d/%d 172.16.%d.0/24", 1+k, 1000+k, 1000+k, k)))
			}
			res.Groups = append(res.Groups, modeltest.Group("sg-base", vpc.ID, "isolated", rules...))
			for t := range 20 {
				res.Groups = append(res.Groups, modeltest.Group(fmt.Sprintf("sg-team%02d", t), vpc.ID, "basic"))
			}
			for h := range hosts {
				for k := range 2 {
					ip := netip.AddrFrom4([4]byte{10, byte(h >> 8), byte(h), byte(10 + k)})
					in := modeltest.Instance(fmt.Sprintf("i-h%04d-%d", h, k), vpc.ID, ip.String(), "sg-base", fmt.Sprintf("sg-team%02d", h%20))
					in.Host, in.Interface = fmt.Sprintf("host%04d", h), fmt.Sprintf("pi-%d", k)
					res.Instances = append(res.Instances, in)
				}
			}
			vpc.Owner = legacyFirstUID
			for _, g := range res.Groups {
				g.Owner = legacyFirstUID
			}
			for _, in := range res.Instances {
				in.Owner = legacyFirstUID
			}
			if _, err := s.Import(ctx, "cn-hangzhou", res); err != nil {
				b.Fatal(err)
			}
			var target atomic.Int64
			var pending sync.WaitGroup
			sctx, cancel := context.WithCancel(ctx)
			var running sync.WaitGroup
			for h := range hosts {
				c := Caller{Host: fmt.Sprintf("host%04d", h)}
				snap, err := s.GetSnapshot(ctx, c)
				if err != nil {
					b.Fatal(err)
				}
				cs, err := s.OpenStream(ctx, StreamInput{Caller: c, AfterRevision: snap.Revision, Heartbeat: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				running.Go(func() {
					cs.Run(sctx, func(ch Changes) error {
						if _, err := ch.Encoded(func(c *Changes) ([]byte, error) { return json.Marshal(c) }); err != nil {
							return err
						}
						if ch.Revision >= target.Load() && !ch.Empty() {
							pending.Done()
						}
						return nil
					})
				})
			}
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range b.N {
				pending.Add(hosts)
				cur, err := st.Revision(ctx)
				if err != nil {
					b.Fatal(err)
				}
				target.Store(cur + 1) // the update's
				_, err = st.Update(ctx, func(tx store.Tx) error {
					g, _, err := store.GetAs[model.SecurityGroup](tx, KindGroup, "sg-base")
					if err != nil {
						return err
					}
					g.Rules = append(g.Rules, modeltest.Rule(fmt.Sprintf("sgr-new-%d", i), fmt.Sprintf("in accept 50 TCP %d/%d 192.0.2.0/24", 30000+i%30000, 30000+i%30000)))
					return PutGroup(tx, &g)
				})
				if err != nil {
					b.Fatal(err)
				}
				pending.Wait()
			}
			b.StopTimer()
			// The machine may be shared: the process's CPU time per change
			// says more than the wall time.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			cancel()
			running.Wait()
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
