package audit

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestExposureAgreesWithEvaluator holds what the exposure checks
// (SGA-001 to -006, -013, -028) read, each instance's openings to the
// internet at large, to the linear evaluator on random clouds (the
// classic network and ENIs included): a port, ICMP or GRE is open to an
// address no rule names but through 0.0.0.0/0 or ::/0 exactly when a flow
// from such an address is accepted from some source port, and the rule
// the audit blames decides it for one of them (the generator's named
// blocks, /8 at the widest, are far less than the internet, so what such
// an address meets is what the internet meets). Latent exposures (no
// public IPv4 address) are held to the intranet ingress decision.
func TestExposureAgreesWithEvaluator(t *testing.T) {
	seeds := 80
	if testing.Short() {
		seeds = 20
	}
	// No generated rule names these but through a /0 (their prefixes come
	// from the instances' and outside addresses).
	anon := [2]netip.Addr{netip.MustParseAddr("100.100.100.100"), netip.MustParseAddr("2400:cb00::1")}
	opened := 0
	for seed := range uint64(seeds) {
		cfg := cloudgen.Full
		switch seed % 3 {
		case 1: // rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		case 2:
			cfg = cloudgen.Small
		}
		gen := cloudgen.Generate(seed+7000, cfg)
		c := gen.Snapshot()
		lin := policy.NewLinear(c)
		ports, sports := cloudgen.EdgePorts(c)
		for _, rp := range riskyPorts {
			ports = append(ports, rp.port)
		}
		ports = slices.DeleteFunc(ports, func(p uint16) bool { return p == 0 })
		for _, reference := range []bool{false, true} {
			in := &Input{Cloud: c, Options: Options{}.withDefaults(), reference: reference}
			e := engineFor(in)
			type key struct {
				inst   string
				six    bool
				latent bool
			}
			// An instance has an exposure in IPv6 for each of its
			// addresses that sees its policy otherwise (internetViews).
			xs := map[key][]*exposure{}
			for _, x := range e.exposed() {
				k := key{x.inst.ID, x.six, false}
				xs[k] = append(xs[k], x)
			}
			for _, x := range e.latent() {
				k := key{x.inst.ID, x.six, true}
				xs[k] = append(xs[k], x)
			}
			for _, inst := range gen.Instances {
				for f, six := range []bool{false, true} {
					latent := false
					if policy.PathBetween(nil, inst, six).NoPath != "" {
						if six || !inst.PrivateIP.IsValid() {
							continue
						}
						latent = true // judged on its intranet ingress
					}
					k := key{inst.ID, six, latent}
					name := fmt.Sprintf("seed %d reference=%v %s IPv%d latent=%v", seed+7000, reference, inst.ID, 4+2*f, latent)
					// The addresses the internet reaches the instance at:
					// each IPv6 one is global; zero is the one the path
					// gives.
					to := []netip.Addr{{}}
					if six {
						to = inst.IPv6s()
					}
					// accepted returns the rules by which the evaluator
					// accepts a packet from the anonymous address to
					// to[i], from some of the source ports.
					accepted := func(i int, proto model.Protocol, port uint16, sps []uint16) (by []string) {
						for _, sp := range sps {
							var d policy.Decision
							if latent {
								d = lin.Decide(inst, model.Ingress, model.Intranet, policy.Packet{Src: anon[f], Dst: inst.PrivateIP,
									Proto: proto.Number(), DstPort: port, SrcPort: sp})
							} else {
								res, err := policy.Evaluate(lin, policy.Flow{From: anon[f].String(), To: inst.ID, Protocol: proto, Port: port,
									SourcePort: sp, IPVersion: 4 + 2*f, ToAddr: to[i]})
								if err != nil {
									t.Fatalf("%s: %v", name, err)
								}
								d = *res.Ingress
							}
							if d.Verdict != policy.Accept {
								continue
							}
							if d.Rule == nil {
								t.Fatalf("%s %s %d: accepted by %s, not a rule", name, proto, port, d)
							}
							by = append(by, d.Rule.GroupID+"/"+d.Rule.RuleID)
						}
						return by
					}
					check := func(p space.Proto, port uint16, sps []uint16) {
						var anywhere []string
						for i := range to {
							anywhere = append(anywhere, accepted(i, p.Model(), port, sps)...)
						}
						open := false
						for _, x := range xs[k] {
							rule := x.decider(p, port)
							if rule < 0 {
								continue
							}
							open = true
							// Each exposure holds at its own address.
							by := anywhere
							if six {
								by = accepted(slices.Index(to, x.addr), p.Model(), port, sps)
							}
							switch {
							case len(by) == 0:
								t.Fatalf("%s at %s %s %d: the audit sees it open by %s, the evaluator accepts it from no source port", name, x.addr, p, port, x.rule(rule).ID)
							case !slices.Contains(by, x.rule(rule).Group.ID+"/"+x.rule(rule).ID):
								t.Fatalf("%s at %s %s %d: the audit blames %s, the evaluator accepts by %v", name, x.addr, p, port, x.rule(rule).ID, by)
							}
							opened++
						}
						if !open && len(anywhere) > 0 {
							t.Fatalf("%s %s %d: the audit sees it closed, the evaluator accepts it (by %v)", name, p, port, anywhere)
						}
					}
					for _, p := range []space.Proto{space.TCP, space.UDP} {
						for _, port := range ports {
							check(p, port, sports)
						}
					}
					icmp := space.ICMP
					if six {
						icmp = space.ICMPv6
					}
					check(icmp, 0, []uint16{0})
					check(space.GRE, 0, []uint16{0})
				}
			}
		}
	}
	if opened == 0 {
		t.Error("nothing is open to the internet in the random clouds: the test checks little")
	}
}
