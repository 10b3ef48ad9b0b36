package audit

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestStandingsAgreeWithEvaluator holds SGA-022 (shadowed rule) and
// SGA-023 (redundant rule) to the linear evaluator on random clouds (the
// classic network, ENIs and secondary addresses included): for packets at
// the edges of the rules, to every address of every member of the group,
// a shadowed rule never decides, and taking a redundant rule out of the
// member's program changes no verdict. Every other seed of the clouds
// with another account's groups audits as a server does for tenants
// (PerAccount): what it claims without reading those groups' members
// holds for the members they have.
func TestStandingsAgreeWithEvaluator(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 10
	}
	checked := map[string]int{}
	for seed := range uint64(seeds) {
		cfg := cloudgen.Full
		switch seed % 3 {
		case 1: // rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		case 2:
			cfg = cloudgen.Small
		}
		gen := cloudgen.Generate(seed+8000, cfg)
		c := gen.Snapshot()
		ports, sports := cloudgen.EdgePorts(c)
		remotes := [2][]netip.Addr{gen.EdgeAddrs(c, false), gen.EdgeAddrs(c, true)}
		rng := rand.New(rand.NewPCG(seed, 13))
		for _, f := range Run(c, Options{PerAccount: seed%2 == 1}) {
			if f.Check != "SGA-022" && f.Check != "SGA-023" {
				continue
			}
			g := c.Groups[f.Resource]
			for _, in := range c.Members(g.ID) {
				for _, dir := range []model.Direction{model.Ingress, model.Egress} {
					for _, nic := range policy.RuleSets(c.GroupsOf(in)) {
						prog := c.Program(in, dir, nic)
						i := slices.IndexFunc(prog.Rules, func(r policy.ProgramRule) bool { return r.Group == g && r.Rule.ID == f.RuleID })
						if i < 0 {
							continue
						}
						without := prog
						without.Rules = slices.Delete(slices.Clone(prog.Rules), i, i+1)
						name := fmt.Sprintf("seed %d %s %s/%s: %s at %s %s/%s", seed+8000, f.Check, g.ID, f.RuleID, f.Message, in.ID, dir, nic)
						for _, local := range in.Addresses() {
							six := local.Is6()
							for range 100 {
								pkt := policy.Packet{Src: remotes[b2i(six)][rng.IntN(len(remotes[b2i(six)]))], Dst: local,
									Proto: []model.Protocol{model.TCP, model.UDP, model.ICMP, model.GRE}[rng.IntN(4)].Number()}
								if six && pkt.Proto == model.ICMP.Number() {
									pkt.Proto = model.ICMPv6.Number()
								}
								if pkt.Proto == model.TCP.Number() || pkt.Proto == model.UDP.Number() {
									pkt.DstPort, pkt.SrcPort = ports[rng.IntN(len(ports))], sports[rng.IntN(len(sports))]
								}
								if dir == model.Egress {
									pkt.Src, pkt.Dst = pkt.Dst, pkt.Src
								}
								d := c.Run(&prog, pkt)
								if f.Check == "SGA-022" && d.Rule != nil && d.Rule.GroupID == g.ID && d.Rule.RuleID == f.RuleID {
									t.Fatalf("%s: it decides %+v", name, pkt)
								}
								if f.Check == "SGA-023" && c.Run(&without, pkt).Verdict != d.Verdict {
									t.Fatalf("%s: without it %+v gets %s", name, pkt, c.Run(&without, pkt))
								}
								checked[f.Check]++
							}
						}
					}
				}
			}
		}
	}
	if checked["SGA-022"] == 0 || checked["SGA-023"] == 0 {
		t.Errorf("packets checked by finding %v: the clouds do not exercise both", checked)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
