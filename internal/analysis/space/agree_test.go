package space_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// probes returns packets that visit every cell a program can tell apart:
// each boundary of every rule's ports, source ports and peer ranges (and the
// value just below it), the instance's own and its neighbours' addresses,
// plus random values.
func probes(rng *rand.Rand, res *space.Resolver, p *policy.Program, c *cloudgen.Cloud) (ports, sports []uint16, addrs [2][]netip.Addr) {
	ports = []uint16{0, 1, 65535}
	sports = []uint16{0, 80, 1000, 40000, 65535}
	add := func(six bool, k iprange.Key) {
		addrs[b2i(six)] = append(addrs[b2i(six)], k.Addr(six))
		if k != (iprange.Key{}) {
			addrs[b2i(six)] = append(addrs[b2i(six)], k.Prev().Addr(six))
		}
	}
	for _, r := range p.Rules {
		for _, pr := range res.Cloud.DestPorts(r.Rule) { // a port range list's ranges too
			if pr.IsSet() && !pr.IsAny() {
				ports = append(ports, uint16(pr.Start), uint16(pr.End), uint16(pr.Start-1), uint16(pr.End+1))
			}
		}
		if pr := r.SourcePortRange; pr.IsSet() && !pr.IsAny() {
			sports = append(sports, uint16(pr.Start), uint16(pr.End), uint16(pr.Start-1), uint16(pr.End+1))
		}
		rs := res.Peer(&r.Peer)
		for f := range 2 {
			for _, x := range rs[f] {
				add(f == 1, x.Lo())
				add(f == 1, x.Hi())
				if x.Hi() != iprange.Last(f == 1) {
					add(f == 1, x.Hi().Next())
				}
			}
		}
	}
	for _, in := range c.Instances {
		addrs[0] = append(addrs[0], in.PrivateIP)
		if in.PublicIP.IsValid() {
			addrs[0] = append(addrs[0], in.PublicIP)
		}
		addrs[1] = append(addrs[1], in.IPv6s()...) // further ones too
	}
	for _, a := range c.Outside {
		addrs[b2i(a.Is6())] = append(addrs[b2i(a.Is6())], a)
	}
	for range 20 {
		ports = append(ports, uint16(rng.IntN(65536)))
		addrs[0] = append(addrs[0], netip.AddrFrom4([4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}))
	}
	slices.Sort(ports)
	slices.Sort(sports)
	return slices.Compact(ports), slices.Compact(sports), addrs
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSpaceAgreesWithRun holds the partition to policy.Cloud.Run, the
// reference walk, on every program of many random clouds.
func TestSpaceAgreesWithRun(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 10
	}
	for seed := range uint64(seeds) {
		gen := cloudgen.Generate(seed, cloudgen.Small)
		cloud := gen.Snapshot()
		res := space.NewResolver(cloud)
		rng := rand.New(rand.NewPCG(seed, 99))
		scratch := &space.Scratch{}
		for _, in := range gen.Instances {
			for _, dir := range []model.Direction{model.Ingress, model.Egress} {
				s := space.ForInstance(res, in, dir, model.Intranet, space.Options{AllSourcePorts: true})
				// The fast path without standings, on a reused scratch, must
				// decide alike.
				fast := space.ForInstance(res, in, dir, model.Intranet, space.Options{AllSourcePorts: true, PartitionOnly: true, Scratch: scratch})
				ports, sports, addrs := probes(rng, res, s.Program, gen)
				for f, six := range []bool{false, true} {
					local := in.PrivateIP
					if six {
						local = in.IPv6
					}
					if !local.IsValid() {
						continue
					}
					for _, remote := range addrs[f] {
						for p := range space.NProto {
							ps, ss := ports, sports
							if !p.Ports() {
								ps, ss = []uint16{0}, []uint16{0}
							}
							for _, port := range ps {
								for _, sport := range ss {
									pkt := policy.Packet{Src: remote, Dst: local, Proto: p.Number(), SrcPort: sport, DstPort: port}
									if dir == model.Egress {
										pkt.Src, pkt.Dst = local, remote
									}
									want := cloud.Run(s.Program, pkt)
									d, ok := s.Decide(six, p, sport, port, iprange.KeyOf(remote))
									if !ok {
										t.Fatalf("seed %d %s: source port %d not covered", seed, in.ID, sport)
									}
									if got := s.Decision(d); got.String() != want.String() || got.Verdict != want.Verdict {
										t.Fatalf("seed %d %s %s %+v:\n space %s\n run   %s", seed, in.ID, dir, pkt, got, want)
									}
									if d2, _ := fast.Decide(six, p, sport, port, iprange.KeyOf(remote)); d2 != d {
										t.Fatalf("seed %d %s %s %+v: PartitionOnly decides %s, the full build %s", seed, in.ID, dir, pkt, fast.Decision(d2), want)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestStatusAgreesWithRemoval checks shadowing and redundancy by brute force:
// a rule is redundant or shadowed iff removing it changes no verdict on any
// probe, and shadowed iff it decides no probe.
func TestStatusAgreesWithRemoval(t *testing.T) {
	checked := map[space.Status]int{}
	for seed := range uint64(12) {
		gen := cloudgen.Generate(seed, cloudgen.Small)
		cloud := gen.Snapshot()
		res := space.NewResolver(cloud)
		rng := rand.New(rand.NewPCG(seed, 7))
		for _, in := range gen.Instances[:4] {
			for _, dir := range []model.Direction{model.Ingress, model.Egress} {
				s := space.ForInstance(res, in, dir, model.Intranet, space.Options{AllSourcePorts: true})
				ports, sports, addrs := probes(rng, res, s.Program, gen)
				for i := range s.Program.Rules {
					without := *s.Program
					without.Rules = slices.Delete(slices.Clone(s.Program.Rules), i, i+1)
					decides, changes := false, false
					for f, six := range []bool{false, true} {
						local := in.PrivateIP
						if six {
							local = in.IPv6
						}
						if !local.IsValid() {
							continue
						}
						for _, remote := range addrs[f] {
							for p := range space.NProto {
								ps, ss := ports, sports
								if !p.Ports() {
									ps, ss = []uint16{0}, []uint16{0}
								}
								for _, port := range ps {
									for _, sport := range ss {
										pkt := policy.Packet{Src: remote, Dst: local, Proto: p.Number(), SrcPort: sport, DstPort: port}
										if dir == model.Egress {
											pkt.Src, pkt.Dst = local, remote
										}
										a := cloud.Run(s.Program, pkt)
										if a.Rule != nil && a.Rule.RuleID == s.Program.Rules[i].ID && a.Rule.GroupID == s.Program.Rules[i].Group.ID {
											decides = true
										}
										if cloud.Run(&without, pkt).Verdict != a.Verdict {
											changes = true
										}
									}
								}
							}
						}
					}
					st := s.Status(i)
					checked[st]++
					name := fmt.Sprintf("seed %d %s %s rule %s", seed, in.ID, dir, s.Program.Rules[i].ID)
					switch {
					case st == space.Shadowed && decides:
						t.Errorf("%s: shadowed, but it decides a probe", name)
					case st != space.Shadowed && !decides && in.IPv6.IsValid():
						// Only meaningful when every family was probed.
						t.Errorf("%s: %s, but it decides no probe", name, st)
					case st == space.Live && !changes && in.IPv6.IsValid():
						t.Errorf("%s: live, but removing it changes no probe", name)
					case st != space.Live && changes:
						t.Errorf("%s: %s, but removing it changes a verdict", name, st)
					}
				}
			}
		}
	}
	for _, st := range []space.Status{space.Live, space.Shadowed, space.Redundant} {
		if checked[st] == 0 {
			t.Errorf("no %s rule among the random clouds: the test checks nothing for it", st)
		}
	}
}

// TestPointEqualsColumn holds Point, which decides one address without
// building tables, to the built space's Column at that address.
func TestPointEqualsColumn(t *testing.T) {
	for seed := range uint64(20) {
		gen := cloudgen.Generate(seed, cloudgen.Small)
		cloud := gen.Snapshot()
		res := space.NewResolver(cloud)
		rng := rand.New(rand.NewPCG(seed, 3))
		for _, in := range gen.Instances {
			for _, dir := range []model.Direction{model.Ingress, model.Egress} {
				for _, sport := range []uint16{0, 1000} {
					o := space.Options{SourcePort: sport, Local4: in.PrivateIP, Local6: in.IPv6}
					p := cloud.Program(in, dir, model.Intranet)
					s := space.Build(res, &p, o)
					_, _, addrs := probes(rng, res, &p, gen)
					for f, six := range []bool{false, true} {
						for _, a := range addrs[f] {
							got := space.Point(res, &p, o, six, iprange.KeyOf(a))
							want := s.Column(0, six, iprange.KeyOf(a))
							if fmt.Sprint(got) != fmt.Sprint(want) {
								t.Fatalf("seed %d %s %s %s:\n point  %v\n column %v", seed, in.ID, dir, a, got, want)
							}
						}
					}
				}
			}
		}
	}
}
