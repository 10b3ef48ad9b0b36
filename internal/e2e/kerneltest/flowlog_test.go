package kerneltest

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/flowlog"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestFlowLogNamesDecidingRule plays accepted, dropped and intra-group
// flows through the kernel with flow logging on and checks that each side's
// record names the entry the engine says decided that side, with its
// action. Both layouts of sides are met: two instances of one host (both
// sides' entries in one connection's label) and instances of two hosts.
func TestFlowLogNamesDecidingRule(t *testing.T) {
	testenv.NeedKernel(t)
	const vpc = "vpc-fl"
	c := policy.NewCloud([]*model.SecurityGroup{
		modeltest.Group("sg-app", vpc, "normal"),
		modeltest.Group("sg-web", vpc, "normal",
			modeltest.Rule("sgr-http", "in accept 10 TCP 80/80 10.9.0.0/16"),
			modeltest.Rule("sgr-telnet", "in drop 1 TCP 23/23 10.9.0.0/16")),
		modeltest.Group("sg-ent", vpc, "enterprise",
			modeltest.Rule("sgr-ent-in", "in accept 1 TCP 80/80 10.9.0.0/16")),
	}, []*model.Instance{
		modeltest.Instance("i-a", vpc, "10.9.0.10", "sg-app"),
		modeltest.Instance("i-b", vpc, "10.9.0.11", "sg-app"),
		modeltest.Instance("i-w", vpc, "10.9.0.20", "sg-web"),
		modeltest.Instance("i-e", vpc, "10.9.0.30", "sg-ent"),
	}, nil)
	flows := []policy.Flow{
		{From: "i-a", To: "i-b", Protocol: model.TCP, Port: 5000}, // intra-group, both sides
		{From: "i-a", To: "i-w", Protocol: model.TCP, Port: 80},   // default egress accept, sgr-http
		{From: "i-a", To: "i-w", Protocol: model.TCP, Port: 23},   // dropped by sgr-telnet
		{From: "i-a", To: "i-w", Protocol: model.TCP, Port: 9999}, // default inbound drop
		{From: "i-e", To: "i-w", Protocol: model.TCP, Port: 80},   // enterprise default egress drop
		{From: "i-w", To: "i-e", Protocol: model.TCP, Port: 80},   // sgr-ent-in
		{From: "i-b", To: "i-a", Protocol: model.UDP, Port: 5353}, // intra-group, UDP
		{From: "i-w", To: "i-a", Protocol: model.TCP, Port: 22},   // default inbound drop
	}
	for _, hosts := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d hosts", hosts), func(t *testing.T) {
			o := nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true, FlowLog: true}
			p := play(t, c, hosts, nil, o)
			defer p.lab.Down()
			entries := &flowlog.Entries{}
			for _, rs := range p.rulesets {
				entries.Set(rs.Entries)
			}
			ifaces := map[netip.Addr]flowlog.Interface{}
			for _, in := range p.cloud.Instances {
				ifaces[in.PrivateIP] = flowlog.Interface{VMID: in.ID, ENI: in.Interface, VpcID: in.VpcID}
			}
			res := flowlog.Resolver{
				Entries:   entries,
				Interface: func(a netip.Addr) (flowlog.Interface, bool) { i, ok := ifaces[a]; return i, ok },
			}
			var mu sync.Mutex
			var recs []flowlog.Record
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var cols []*flowlog.Collector
			for _, h := range p.lab.Spec.Hosts {
				col, err := flowlog.Start(flowlog.Config{Netns: p.lab.HostNetns(h), Window: 300 * time.Millisecond, Resolver: res,
					Emit: func(r []flowlog.Record) { mu.Lock(); recs = append(recs, r...); mu.Unlock() }})
				if err != nil {
					t.Fatal(err)
				}
				cols = append(cols, col)
				wg.Add(1)
				go func() { defer wg.Done(); col.Run(ctx) }()
			}
			defer func() {
				cancel()
				wg.Wait()
				for _, col := range cols {
					col.Close()
				}
			}()

			engine, _, diffs := p.compare(t, flows)
			if len(diffs) > 0 {
				t.Fatalf("with flow logging on, the kernel and the engine disagree: %v", diffs)
			}
			type want struct {
				vmid, dir, action string
				pkt               policy.Packet
				dec               policy.Decision
			}
			var wants []want
			for _, r := range engine {
				from, to := r.EgressPacket, r.IngressPacket
				if r.Egress != nil {
					wants = append(wants, want{instanceOf(p.cloud, from.Src), "out", action(r.Egress.Verdict), from, *r.Egress})
				}
				if r.Ingress != nil && (r.Egress == nil || r.Egress.Verdict == policy.Accept) {
					wants = append(wants, want{instanceOf(p.cloud, to.Dst), "in", action(r.Ingress.Verdict), to, *r.Ingress})
				}
			}
			find := func(w want) (flowlog.Record, bool) {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range recs {
					if r.VMID == w.vmid && r.Direction == w.dir && r.Src == w.pkt.Src && r.Dst == w.pkt.Dst &&
						r.Protocol == w.pkt.Proto && r.DstPort == w.pkt.DstPort {
						return r, true
					}
				}
				return flowlog.Record{}, false
			}
			testenv.Eventually(t, 15*time.Second, func() (bool, string) {
				for _, w := range wants {
					if _, ok := find(w); !ok {
						return false, fmt.Sprintf("no record of %s %s %s -> %s:%d (engine: %s); records:\n%s", w.vmid, w.dir, w.pkt.Src, w.pkt.Dst, w.pkt.DstPort, w.dec, dumpRecords(&mu, recs, cols))
					}
				}
				return true, ""
			})
			var bad []string
			for _, w := range wants {
				r, _ := find(w)
				if got := r.Entry.Decision(); got.String() != w.dec.String() || got.Verdict != w.dec.Verdict || r.Action != w.action {
					bad = append(bad, fmt.Sprintf("%s %s %s -> %s:%d: record says %s %s, engine %s %s",
						w.vmid, w.dir, w.pkt.Src, w.pkt.Dst, w.pkt.DstPort, r.Action, got, w.action, w.dec))
				}
				if r.Packets == 0 || r.LogStatus != flowlog.StatusOK || r.Version != 1 {
					bad = append(bad, fmt.Sprintf("%s %s -> %s:%d: packets %d, log-status %s, version %d", w.vmid, w.pkt.Src, w.pkt.Dst, w.pkt.DstPort, r.Packets, r.LogStatus, r.Version))
				}
			}
			if len(bad) > 0 {
				t.Fatalf("%d of %d records disagree with the engine:\n  %s", len(bad), len(wants), strings.Join(bad, "\n  "))
			}
			t.Logf("%d records agree with the engine", len(wants))
		})
	}
}

func action(v policy.Verdict) string {
	if v == policy.Accept {
		return flowlog.Accept
	}
	return flowlog.Reject
}

func instanceOf(c *policy.Cloud, a netip.Addr) string {
	for _, in := range c.Instances {
		if in.PrivateIP == a {
			return in.ID
		}
	}
	return ""
}

func dumpRecords(mu *sync.Mutex, recs []flowlog.Record, cols []*flowlog.Collector) string {
	mu.Lock()
	defer mu.Unlock()
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "  %s %s %s:%d -> %s:%d p%d %s %d pkts %s: %s\n", r.VMID, r.Direction, r.Src, r.SrcPort, r.Dst, r.DstPort, r.Protocol, r.Action, r.Packets, r.LogStatus, r.Entry.Decision())
	}
	for _, c := range cols {
		fmt.Fprintf(&b, "  stats %+v\n", c.Stats())
	}
	return b.String()
}
