package effective_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/effective"
	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestAgreesWithEvaluator holds every NIC's effective rules to the linear
// evaluator on random clouds (the classic network's two rule sets,
// secondary ENIs and addresses included): for packets at the edges of the
// rules' ports, source ports and peers, to each of the NIC's addresses,
// the first entry that matches decides as the evaluator does; an entry
// reported shadowed never decides; a rule reported redundant can be
// taken out without changing any verdict.
func TestAgreesWithEvaluator(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 15
	}
	decided := map[space.Status]int{}
	for seed := range uint64(seeds) {
		cfg := cloudgen.Full
		switch seed % 3 {
		case 1: // rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		case 2:
			cfg = cloudgen.Small
		}
		gen := cloudgen.Generate(seed+6000, cfg)
		c := gen.Snapshot()
		lin := policy.NewLinear(c)
		ports, sports := cloudgen.EdgePorts(c)
		remotes := [2][]netip.Addr{gen.EdgeAddrs(c, false), gen.EdgeAddrs(c, true)}
		rng := rand.New(rand.NewPCG(seed, 11))
		for _, in := range gen.Instances {
			pols, err := effective.Of(c, in.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, pol := range pols {
				name := fmt.Sprintf("seed %d %s %s/%s", seed+6000, in.ID, pol.Direction, pol.NIC)
				prog := c.Program(in, pol.Direction, pol.NIC)
				rules := map[[2]string]*model.Rule{}
				for _, r := range prog.Rules {
					rules[[2]string{r.Group.ID, r.Rule.ID}] = r.Rule
				}
				// first returns the position of the first entry that matches
				// a packet, skipping one entry (-1: none).
				first := func(pkt policy.Packet, skip int) int {
					_, remote := pkt.Dst, pkt.Src
					if pol.Direction == model.Egress {
						remote = pkt.Dst
					}
					for i, e := range pol.Entries {
						if i == skip {
							continue
						}
						switch e.Kind {
						case effective.IntraGroup:
							if slices.Contains(c.GroupAddrs(e.Group), remote) {
								return i
							}
						case effective.Rule:
							if c.RuleMatches(rules[[2]string{e.Group, e.RuleID}], pkt, pol.Direction) {
								return i
							}
						default:
							return i
						}
					}
					return -1
				}
				verdict := func(i int) string {
					if i < 0 {
						return ""
					}
					return pol.Entries[i].Policy
				}
				redundant := map[int]bool{}
				for i, e := range pol.Entries {
					if e.Status == space.Redundant {
						redundant[i] = true
					}
				}
				for _, local := range in.Addresses() {
					six := local.Is6()
					for range 150 {
						pkt := policy.Packet{Src: remotes[b2i(six)][rng.IntN(len(remotes[b2i(six)]))], Dst: local,
							Proto: []model.Protocol{model.TCP, model.UDP, model.ICMP, model.GRE}[rng.IntN(4)].Number()}
						if six && pkt.Proto == model.ICMP.Number() {
							pkt.Proto = model.ICMPv6.Number()
						}
						if pkt.Proto == model.TCP.Number() || pkt.Proto == model.UDP.Number() {
							pkt.DstPort, pkt.SrcPort = ports[rng.IntN(len(ports))], sports[rng.IntN(len(sports))]
						}
						if pol.Direction == model.Egress {
							pkt.Src, pkt.Dst = pkt.Dst, pkt.Src
						}
						want := lin.Decide(in, pol.Direction, pol.NIC, pkt)
						i := first(pkt, -1)
						if i < 0 {
							t.Fatalf("%s %+v: no entry matches", name, pkt)
						}
						e := pol.Entries[i]
						if e.Policy != string(want.Verdict) || !sameEntry(e, want) {
							t.Fatalf("%s %+v: entry %d (%s %s %s) decides, the evaluator %s", name, pkt, e.Position, e.Kind, e.Group, e.RuleID, want)
						}
						if e.Status == space.Shadowed {
							t.Fatalf("%s %+v: entry %d (%s %s %s) is reported shadowed but decides", name, pkt, e.Position, e.Kind, e.Group, e.RuleID)
						}
						decided[e.Status]++
						// Rules of one priority and opposite policies that
						// both match are reported as conflicting.
						var matching []int
						for j, o := range pol.Entries {
							if o.Kind == effective.Rule && c.RuleMatches(rules[[2]string{o.Group, o.RuleID}], pkt, pol.Direction) {
								matching = append(matching, j)
							}
						}
						for _, j := range matching {
							for _, k := range matching {
								a, b := pol.Entries[j], pol.Entries[k]
								if a.Priority == b.Priority && a.Policy != b.Policy && !slices.ContainsFunc(a.ConflictsWith, func(r effective.Ref) bool {
									return r.Group == b.Group && r.RuleID == b.RuleID
								}) {
									t.Fatalf("%s %+v: %s and %s both match at priority %d, but no conflict is reported", name, pkt, a.RuleID, b.RuleID, a.Priority)
								}
							}
						}
						if redundant[i] {
							if v := verdict(first(pkt, i)); v != e.Policy {
								t.Fatalf("%s %+v: entry %d (%s) is reported redundant, but without it the verdict is %s", name, pkt, e.Position, e.RuleID, v)
							}
						}
					}
				}
			}
		}
	}
	if decided[space.Live] == 0 || decided[space.Redundant] == 0 {
		t.Errorf("decisions by status %v: the clouds do not exercise redundant rules", decided)
	}
}

func sameEntry(e effective.Entry, d policy.Decision) bool {
	switch e.Kind {
	case effective.Rule:
		return d.Reason == policy.ByRule && d.Rule.GroupID == e.Group && d.Rule.RuleID == e.RuleID
	case effective.IntraGroup:
		return d.Reason == policy.IntraGroup && d.Group == e.Group
	}
	return string(d.Reason) == e.Reason
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
