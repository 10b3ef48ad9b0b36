package reach_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// variants of the small generated cloud, so that every feature meets the
// others: more groups per instance, all public, few groups (large classes),
// many enterprise groups.
var variants = []cloudgen.Config{
	cloudgen.Small,
	{VPCs: 1, Groups: 3, Instances: 10, RulesPerGroup: 10, PrefixLists: 2, MaxGroups: 5, PublicShare: 1, IPv6Share: 1, Enterprise: 0.2, MoreIPv6Share: 0.5},
	{VPCs: 3, Groups: 2, Instances: 5, RulesPerGroup: 6, PrefixLists: 3, MaxGroups: 1, PublicShare: 0.7, IPv6Share: 0.3, Enterprise: 0.5, MoreIPv6Share: 0.5},
	{VPCs: 2, Groups: 6, Instances: 8, RulesPerGroup: 14, PrefixLists: 1, MaxGroups: 3, PublicShare: 0.3, IPv6Share: 0.7, Enterprise: 0, MoreIPv6Share: 0.5},
	cloudgen.Full, // the classic network, secondary ENIs and addresses, another account
}

// resultsBySourcePort computes one result per source port the flows use.
func resultsBySourcePort(c *policy.Cloud, flows []policy.Flow) map[uint16]*reach.Result {
	out := map[uint16]*reach.Result{}
	for _, f := range flows {
		sp := f.SourcePort
		if sp == 0 {
			sp = policy.DefaultSourcePort
		}
		if out[sp] == nil {
			out[sp] = reach.Compute(c, reach.Options{SourcePort: sp})
		}
	}
	return out
}

// agree checks that reach says pass iff the compiled engine accepts.
func agree(t *testing.T, name string, c *policy.Cloud, flows []policy.Flow) (accepted int) {
	t.Helper()
	results := resultsBySourcePort(c, flows)
	eng := policy.Compile(c)
	for _, f := range flows {
		want, err := policy.Evaluate(eng, f)
		sp := f.SourcePort
		if sp == 0 {
			sp = policy.DefaultSourcePort
		}
		got, gerr := results[sp].Allows(f)
		if (err == nil) != (gerr == nil) {
			t.Fatalf("%s %+v: engine error %v, reach error %v", name, f, err, gerr)
		}
		if err != nil {
			continue
		}
		if got != (want.Verdict == policy.Accept) {
			t.Fatalf("%s %+v: reach says pass=%v, engine %s (%s)", name, f, got, want.Verdict, describe(want))
		}
		if got {
			accepted++
		}
	}
	return accepted
}

func describe(r policy.Result) string {
	s := fmt.Sprintf("path=%q", r.Path)
	for _, d := range []*policy.Decision{r.Egress, r.Ingress} {
		if d != nil {
			s += " | " + d.String()
		}
	}
	return s
}

func TestAgreesWithEngine(t *testing.T) {
	seeds := 80
	if testing.Short() {
		seeds = 15
	}
	total, accepted := 0, 0
	for v, cfg := range variants {
		for seed := range uint64(seeds) {
			gen := cloudgen.Generate(seed, cfg)
			flows := gen.Flows(seed+1000, 300)
			accepted += agree(t, fmt.Sprintf("variant %d seed %d", v, seed), gen.Snapshot(), flows)
			total += len(flows)
		}
	}
	// Both verdicts must be common, or the comparison proves little.
	if accepted < total/20 || accepted > total*19/20 {
		t.Errorf("%d of %d flows accepted: the random clouds do not exercise both verdicts", accepted, total)
	}
}

func TestAgreesOnScenarios(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/scenarios/*.yaml")
	if len(files) < 10 {
		t.Fatalf("found %d scenario files", len(files))
	}
	for _, file := range files {
		s, err := scenario.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		var flows []policy.Flow
		for _, f := range s.Flows {
			flows = append(flows, f.Flow)
		}
		c := s.Cloud()
		agree(t, file, c, flows)
		// And the expectations written in the file.
		results := resultsBySourcePort(c, flows)
		for _, f := range s.Flows {
			sp := f.SourcePort
			if sp == 0 {
				sp = policy.DefaultSourcePort
			}
			got, err := results[sp].Allows(f.Flow)
			if err != nil {
				t.Fatalf("%s:%d: %v", file, f.Line, err)
			}
			if got != (f.Expect == policy.Accept) {
				t.Errorf("%s:%d: reach says pass=%v, the file expects %s", file, f.Line, got, f.Expect)
			}
		}
	}
}

// TestExhaustive compares every pair, protocol and port interval of small
// random clouds with the naive per-flow evaluation, and the links with the
// internet at the cloud's outside addresses.
func TestExhaustive(t *testing.T) {
	seeds := 25
	if testing.Short() {
		seeds = 5
	}
	for v, cfg := range variants {
		for seed := range uint64(seeds) {
			gen := cloudgen.Generate(seed+500, cfg)
			c := gen.Snapshot()
			for _, sport := range []uint16{policy.DefaultSourcePort, 1000} {
				r := reach.Compute(c, reach.Options{SourcePort: sport})
				want := reachtest.Links(c, gen.Outside, sport)
				got := map[reachtest.Key][2]reach.Ports{}
				links, err := r.Matrix(reach.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range links {
					if l.From != reach.Internet && l.To != reach.Internet {
						got[reachtest.Key{From: l.From, To: l.To}] = [2]reach.Ports{l.IPv4, l.IPv6}
					}
				}
				for _, o := range gen.Outside {
					for id := range c.Instances {
						for _, k := range []reachtest.Key{{From: o.String(), To: id}, {From: id, To: o.String()}} {
							var ps [2]reach.Ports
							for f, six := range []bool{false, true} {
								if o.Is6() == six {
									ps[f] = outsidePorts(t, r, k, six)
								}
							}
							if !ps[0].Empty() || !ps[1].Empty() {
								got[k] = ps
							}
						}
					}
				}
				name := fmt.Sprintf("variant %d seed %d sport %d", v, seed+500, sport)
				for k, w := range want {
					if g := got[k]; !g[0].Equal(w[0]) || !g[1].Equal(w[1]) {
						t.Fatalf("%s %s -> %s:\n reach %v | %v\n naive %v | %v", name, k.From, k.To, g[0], g[1], w[0], w[1])
					}
				}
				for k, g := range got {
					if _, ok := want[k]; !ok {
						t.Fatalf("%s %s -> %s: reach opens %v | %v, naive nothing", name, k.From, k.To, g[0], g[1])
					}
				}
			}
		}
	}
}

// outsidePorts reads the ports between an instance and one outside address
// from the internet link's ranges.
func outsidePorts(t *testing.T, r *reach.Result, k reachtest.Key, six bool) reach.Ports {
	t.Helper()
	from, to, addr := reach.Internet, k.To, k.From
	if _, ok := r.Cloud().Instances[k.From]; ok {
		from, to, addr = k.From, reach.Internet, k.To
	}
	l, err := r.Between(from, to)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr(addr)
	for _, o := range l.Outside {
		if o.First.Is6() == six && o.First.Compare(a) <= 0 && a.Compare(o.Last) <= 0 {
			return o.Ports
		}
	}
	return reach.Ports{}
}
