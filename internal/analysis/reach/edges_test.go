package reach_test

import (
	"math/rand/v2"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestInternetAtEdges holds reach's links with the internet, broken down
// by outside address range, to the linear evaluator at the addresses
// where rules change (each peer prefix's first and last address and those
// just outside, every NIC's addresses taken as outside ones): the range
// that holds an address opens exactly the ports a flow from or to it gets
// through, for two source ports.
func TestInternetAtEdges(t *testing.T) {
	seeds := 100
	if testing.Short() {
		seeds = 15
	}
	open := 0
	for seed := range uint64(seeds) {
		cfg := cloudgen.Full
		switch {
		case seed%2 == 1:
			cfg = variants[1] // all public, all IPv6
		case seed%4 == 2: // rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		}
		gen := cloudgen.Generate(seed+9000, cfg)
		c := gen.Snapshot()
		lin := policy.NewLinear(c)
		bounds := reachtest.Boundaries(c)
		rng := rand.New(rand.NewPCG(seed, 17))
		for _, sport := range []uint16{policy.DefaultSourcePort, 1000} {
			r := reach.Compute(c, reach.Options{SourcePort: sport})
			for range 150 {
				six := rng.IntN(2) == 1
				addrs := gen.EdgeAddrs(c, six)
				a := addrs[rng.IntN(len(addrs))]
				inst := gen.Instances[rng.IntN(len(gen.Instances))].ID
				k := reachtest.Key{From: a.String(), To: inst}
				if rng.IntN(2) == 0 {
					k = reachtest.Key{From: inst, To: a.String()}
				}
				want := reachtest.Ports(lin, bounds, k.From, k.To, six, sport)
				got := outsidePorts(t, r, k, six)
				if !got.Equal(want) {
					t.Fatalf("seed %d sport %d %s -> %s:\n reach %v\n evaluator %v", seed+9000, sport, k.From, k.To, got, want)
				}
				if !want.Empty() {
					open++
				}
			}
		}
	}
	if open == 0 {
		t.Error("nothing passes at any edge: the test checks little")
	}
}
