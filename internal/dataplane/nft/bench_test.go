package nft

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// benchCloud places n instances on h1, each in its own group of `rules`
// rules (the worst case: no two instances share a chain) and in one shared
// group that the rules of the others refer to.
func benchCloud(n, rules int) ([]*model.SecurityGroup, []*model.Instance) {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(rules)))
	shared := group("sg-shared", "vpc-a", model.Normal, model.InnerDrop)
	groups := []*model.SecurityGroup{shared}
	var ins []*model.Instance
	for i := range n {
		sg := group(fmt.Sprintf("sg-%d", i), "vpc-a", model.Normal, model.InnerAccept)
		for r := range rules {
			ru := model.Rule{ID: fmt.Sprintf("sgr-%d-%d", i, r), Direction: model.Ingress, Policy: model.Accept,
				Priority: 1 + rng.IntN(100), Protocol: model.TCP, NicType: model.Intranet}
			if rng.IntN(4) == 0 {
				ru.Policy = model.Drop
			}
			if rng.IntN(3) == 0 {
				ru.Direction = model.Egress
			}
			if rng.IntN(5) == 0 {
				ru.Protocol = model.UDP
			}
			port := int32(1 + rng.IntN(60000))
			ru.PortRange = model.PortRange{Start: port, End: port + int32(rng.IntN(3))}
			if rng.IntN(10) == 0 {
				ru.Peer.GroupID = shared.ID
			} else {
				ru.Peer.CIDR = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0}), 16+rng.IntN(17)).Masked()
			}
			sg.Rules = append(sg.Rules, ru)
		}
		groups = append(groups, sg)
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		ins = append(ins, inst(fmt.Sprintf("i-%04d", i), "vpc-a", ip.String(), fmt.Sprintf("pi-%d", i), sg.ID, shared.ID))
	}
	return groups, ins
}

var benchSizes = []struct{ instances, rules int }{{100, 50}, {1000, 50}}

func BenchmarkBuild(b *testing.B) {
	for _, sz := range benchSizes {
		groups, ins := benchCloud(sz.instances, sz.rules)
		c := policy.NewCloud(groups, ins, nil)
		for _, merge := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%d/merge=%v", sz.instances, sz.rules, merge), func(b *testing.B) {
				for b.Loop() {
					Build(c, "h1", Options{InterfacePrefix: "pi-", MergeRuns: merge})
				}
			})
		}
	}
}

// BenchmarkApply measures Apply into a fresh namespace: a full load (the
// table deleted first), a no-op (the same ruleset again), one rule changed
// (one chain replaced), one membership change (set elements), and reading
// the counters; for Build, Build with MergeRuns, and (full load only) the
// linear baseline.
func BenchmarkApply(b *testing.B) {
	if !kernelOK() {
		b.Skip("needs root, nft and ip")
	}
	for _, sz := range benchSizes {
		groups, ins := benchCloud(sz.instances, sz.rules)
		// A copy of the first group with one rule changed.
		changed := *groups[1]
		changed.Rules = append([]model.Rule(nil), changed.Rules...)
		changed.Rules[0].PortRange = model.PortRange{Start: 1, End: 1}
		ruleChanged := append([]*model.SecurityGroup{groups[0], &changed}, groups[2:]...)
		other := inst("i-other", "vpc-a", "10.9.9.9", "pi-other", "sg-shared")
		other.Host = "h2"
		joined := append(ins[:len(ins):len(ins)], other)

		ns := newNetns(b, "bench")
		k, err := Open(ns, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { k.Close() })
		mustApply := func(b *testing.B, rs *Ruleset) {
			if _, err := k.Apply(rs); err != nil {
				b.Fatal(err)
			}
		}
		full := func(rs *Ruleset) func(*testing.B) {
			return func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					if err := k.Delete(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					mustApply(b, rs)
				}
				b.ReportMetric(float64(countRules(rs)), "rules")
				b.ReportMetric(float64(len(rs.Chains)), "chains")
			}
		}
		for _, merge := range []bool{false, true} {
			o := Options{InterfacePrefix: "pi-", MergeRuns: merge}
			rs := Build(policy.NewCloud(groups, ins, nil), "h1", o)
			rsRule := Build(policy.NewCloud(ruleChanged, ins, nil), "h1", o)
			rsMember := Build(policy.NewCloud(groups, joined, nil), "h1", o)
			name := fmt.Sprintf("%dx%d/merge=%v", sz.instances, sz.rules, merge)
			b.Run(name+"/full", full(rs))
			b.Run(name+"/noop", func(b *testing.B) {
				mustApply(b, rs)
				for b.Loop() {
					mustApply(b, rs)
				}
			})
			b.Run(name+"/rule-change", func(b *testing.B) {
				mustApply(b, rs) // before the timer starts
				for i := 0; b.Loop(); i++ {
					mustApply(b, []*Ruleset{rsRule, rs}[i%2])
				}
			})
			b.Run(name+"/membership", func(b *testing.B) {
				mustApply(b, rs)
				for i := 0; b.Loop(); i++ {
					mustApply(b, []*Ruleset{rsMember, rs}[i%2])
				}
			})
			b.Run(name+"/counters", func(b *testing.B) {
				mustApply(b, rs)
				for b.Loop() {
					if _, err := k.Counters(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("%dx%d/linear/full", sz.instances, sz.rules), full(BuildLinear(policy.NewCloud(groups, ins, nil), "h1", Options{InterfacePrefix: "pi-"})))
	}
}

func countRules(rs *Ruleset) int {
	n := 0
	for _, c := range rs.Chains {
		n += len(c.Rules)
	}
	return n
}

// firstPacketCloud: a server instance whose ingress holds `rules` rules no
// client packet matches (random ports and public prefixes, both verdicts,
// random priorities), then at the lowest priority the one that admits the
// client; a client; and `fillers` other instances with 20 rules each.
func firstPacketCloud(rules, fillers int) *policy.Cloud {
	rng := rand.New(rand.NewPCG(7, uint64(rules)))
	server := group("sg-server", "vpc-a", model.Normal, model.InnerDrop)
	for i := range rules {
		r := model.Rule{ID: fmt.Sprintf("sgr-%d", i), Direction: model.Ingress, Policy: model.Accept, Priority: 1 + rng.IntN(99),
			Protocol: model.TCP, NicType: model.Intranet}
		if rng.IntN(4) == 0 {
			r.Policy = model.Drop
		}
		port := int32(6000 + rng.IntN(50000))
		r.PortRange = model.PortRange{Start: port, End: port + int32(rng.IntN(10))}
		r.Peer.CIDR = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(11 + rng.IntN(200)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0}), 16+rng.IntN(17)).Masked()
		server.Rules = append(server.Rules, r)
	}
	server.Rules = append(server.Rules, rule("sgr-client", model.Ingress, model.Accept, 100, model.TCP, "5201/5201", "10.0.2.0/24"))
	groups := []*model.SecurityGroup{server, group("sg-client", "vpc-a", model.Normal, model.InnerDrop)}
	ins := []*model.Instance{inst("i-zz-server", "vpc-a", "10.0.1.10", "pi-server", "sg-server"), inst("i-client", "vpc-a", "10.0.2.10", "pi-client", "sg-client")}
	fg, fi := benchCloud(fillers, 20)
	return policy.NewCloud(append(groups, fg...), append(ins, fi...), nil)
}

// BenchmarkFirstPacket measures TCP connections per second through the host
// namespace to a server whose admitting rule comes after 1,000 others: each
// connection's first packet walks the server's ingress policy. Layouts:
// none (no table), Build, Build with MergeRuns, Build with FlowLog (no
// collector), BuildLinear (which also
// walks 300 other instances' rules).
func BenchmarkFirstPacket(b *testing.B) {
	if !kernelOK() {
		b.Skip("needs root, nft and ip")
	}
	c := firstPacketCloud(1000, 300)
	host := newNetns(b, "fp")
	run(b, "ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	server := plugTB(b, host, "pi-server", "10.0.1.10", "10.0.1.1")
	client := plugTB(b, host, "pi-client", "10.0.2.10", "10.0.2.1")
	var l net.Listener
	inNetns(b, server, func() {
		var err error
		if l, err = net.Listen("tcp", "10.0.1.10:5201"); err != nil {
			b.Fatal(err)
		}
	})
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	k, err := Open(host, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { k.Close() })
	o := Options{InterfacePrefix: "pi-"}
	layouts := []struct {
		name string
		rs   *Ruleset
	}{
		{"none", nil},
		{"vmap", Build(c, "h1", o)},
		{"vmap+merge", Build(c, "h1", Options{InterfacePrefix: "pi-", MergeRuns: true})},
		{"vmap+flowlog", Build(c, "h1", Options{InterfacePrefix: "pi-", FlowLog: true})},
		{"linear", BuildLinear(c, "h1", o)},
	}
	for _, lay := range layouts {
		b.Run(lay.name, func(b *testing.B) {
			if err := k.Delete(); err != nil {
				b.Fatal(err)
			}
			if lay.rs != nil {
				if _, err := k.Apply(lay.rs); err != nil {
					b.Fatal(err)
				}
			}
			var d net.Dialer
			inNetns(b, client, func() {
				for b.Loop() {
					conn, err := d.Dial("tcp", "10.0.1.10:5201")
					if err != nil {
						b.Fatal(err)
					}
					conn.(*net.TCPConn).SetLinger(0) // no TIME_WAIT pile-up
					conn.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conn/s")
		})
	}
}
