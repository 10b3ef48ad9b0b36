package policy_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// bigNIC builds one instance whose five groups hold 1,000 rules between them
// (the per-NIC quota): varied ports, protocols, CIDRs, priorities and policies.
func bigNIC(rules int) (*policy.Cloud, []policy.Flow) {
	rng := rand.New(rand.NewPCG(1, 2))
	var groups []*model.SecurityGroup
	in := &model.Instance{ID: "i-big", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.0.1"), PublicIP: netip.MustParseAddr("192.0.2.1")}
	for g := range 5 {
		sg := &model.SecurityGroup{ID: fmt.Sprintf("sg-%d", g), VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept}
		groups = append(groups, sg)
		in.SecurityGroups = append(in.SecurityGroups, sg.ID)
	}
	for i := range rules {
		port := 1 + rng.IntN(60000)
		r := model.Rule{ID: fmt.Sprintf("sgr-%d", i), Direction: model.Ingress, Priority: 1 + rng.IntN(100), Policy: model.Accept,
			Protocol: model.TCP, PortRange: model.PortRange{Start: int32(port), End: int32(port + rng.IntN(10))}, NicType: model.Intranet}
		if rng.IntN(4) == 0 {
			r.Policy = model.Drop
		}
		if rng.IntN(5) == 0 {
			r.Protocol = model.UDP
		}
		r.Peer.CIDR = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0}), 16+rng.IntN(17)).Masked()
		groups[i%5].Rules = append(groups[i%5].Rules, r)
	}
	cloud := policy.NewCloud(groups, []*model.Instance{in}, nil)
	var flows []policy.Flow
	for range 4096 {
		flows = append(flows, policy.Flow{From: netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}).String(),
			To: "i-big", Protocol: model.TCP, Port: uint16(1 + rng.IntN(65535))})
	}
	return cloud, flows
}

// decideBench measures the per-NIC decision, the part the compiled engine
// speeds up; the path resolution around it is the same for both.
func decideBench(b *testing.B, d policy.Decider, cloud *policy.Cloud, flows []policy.Flow) {
	in := cloud.Instances["i-big"]
	pkts := make([]policy.Packet, len(flows))
	for i, f := range flows {
		pkts[i] = policy.Packet{Src: netip.MustParseAddr(f.From), Dst: in.PrivateIP, Proto: 6, SrcPort: 40000, DstPort: f.Port}
	}
	d.Decide(in, model.Ingress, model.Internet, pkts[0]) // compile outside the timer
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d.Decide(in, model.Ingress, model.Internet, pkts[i%len(pkts)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
}

// BenchmarkNIC1000Rules compares the evaluators on one NIC with 1,000 rules.
// Compare the two evals/s figures of one run (compiled ÷ linear).
func BenchmarkNIC1000Rules(b *testing.B) {
	cloud, flows := bigNIC(1000)
	b.Run("linear", func(b *testing.B) { decideBench(b, policy.NewLinear(cloud), cloud, flows) })
	b.Run("compiled", func(b *testing.B) { decideBench(b, policy.Compile(cloud), cloud, flows) })
}

// BenchmarkCloud10000Instances evaluates random flows end to end in a cloud
// of 10,000 instances.
func BenchmarkCloud10000Instances(b *testing.B) {
	cfg := cloudgen.Config{VPCs: 10, Groups: 100, Instances: 1000, RulesPerGroup: 40, PrefixLists: 20, MaxGroups: 5, PublicShare: 0.3, IPv6Share: 0.3, Enterprise: 0.2}
	gen := cloudgen.Generate(7, cfg)
	cloud := gen.Snapshot()
	flows := gen.Flows(7, 8192)
	run := func(b *testing.B, d policy.Decider) {
		for _, f := range flows { // warm caches outside the timer
			policy.Evaluate(d, f)
		}
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			policy.Evaluate(d, flows[i%len(flows)])
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evals/s")
	}
	b.Run("linear", func(b *testing.B) { run(b, policy.NewLinear(cloud)) })
	b.Run("compiled", func(b *testing.B) { run(b, policy.Compile(cloud)) })
}

// BenchmarkCompile1000Rules measures compiling one 1,000-rule policy.
func BenchmarkCompile1000Rules(b *testing.B) {
	cloud, flows := bigNIC(1000)
	in := cloud.Instances["i-big"]
	p := policy.Packet{Src: netip.MustParseAddr(flows[0].From), Dst: in.PrivateIP, Proto: 6, DstPort: 80}
	for b.Loop() {
		policy.Compile(cloud).Decide(in, model.Ingress, model.Internet, p)
	}
}
