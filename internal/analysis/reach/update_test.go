package reach_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// sameLinks compares two results link by link, the internet included.
func sameLinks(t *testing.T, name string, got, want *reach.Result) {
	t.Helper()
	a, err := got.Matrix(reach.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := want.Matrix(reach.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	index := map[[2]string]reach.Link{}
	for _, l := range b {
		index[[2]string{l.From, l.To}] = l
	}
	for _, l := range a {
		w, ok := index[[2]string{l.From, l.To}]
		if !ok || !sameLink(l, w) {
			t.Fatalf("%s: %s -> %s:\n updated %v\n scratch %v", name, l.From, l.To, l, w)
		}
		delete(index, [2]string{l.From, l.To})
	}
	for _, w := range index {
		t.Fatalf("%s: %s -> %s: updated has nothing, scratch %v", name, w.From, w.To, w)
	}
}

func sameLink(a, b reach.Link) bool {
	if !a.IPv4.Equal(b.IPv4) || !a.IPv6.Equal(b.IPv6) || len(a.Outside) != len(b.Outside) {
		return false
	}
	for i := range a.Outside {
		x, y := a.Outside[i], b.Outside[i]
		if x.First != y.First || x.Last != y.Last || !x.Ports.Equal(y.Ports) {
			return false
		}
	}
	return true
}

// TestUpdateEqualsScratch applies chains of random changes: after each,
// the updated result must equal one computed from scratch, and the result
// it was cloned from must still describe the old snapshot.
func TestUpdateEqualsScratch(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for v, cfg := range variants {
		for seed := range uint64(seeds) {
			rng := rand.New(rand.NewPCG(seed, uint64(v)))
			gen := cloudgen.Generate(seed+900, cfg)
			r := reach.Compute(gen.Snapshot(), reach.Options{})
			for step := range 8 {
				next, ch, what := reachtest.Mutate(rng, gen)
				before := r.Clone()
				r.Update(next.Snapshot(), ch)
				name := fmt.Sprintf("variant %d seed %d step %d (%s)", v, seed, step, what)
				sameLinks(t, name, r, reach.Compute(next.Snapshot(), reach.Options{}))
				sameLinks(t, name+", the clone", before, reach.Compute(gen.Snapshot(), reach.Options{}))
				gen = next
			}
		}
	}
}

// TestChanges checks that Changes finds what a change did: updating with
// what it names gives the result computed from scratch.
func TestChanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := cloudgen.Generate(3, cloudgen.Small)
	r := reach.Compute(gen.Snapshot(), reach.Options{})
	for step := range 150 {
		next, _, what := reachtest.Mutate(rng, gen)
		before, after := gen.Snapshot(), next.Snapshot()
		r.Update(after, reach.Changes(before, after))
		sameLinks(t, fmt.Sprintf("step %d (%s)", step, what), r, reach.Compute(after, reach.Options{}))
		gen = next
	}
}

// TestPortRangeListUpdate: a change to a port range list's entries alone
// is found by Changes and rebuilds every class whose rules name the list.
func TestPortRangeListUpdate(t *testing.T) {
	for seed := range uint64(20) {
		gen := cloudgen.Generate(seed, cloudgen.Small)
		r := reach.Compute(gen.Snapshot(), reach.Options{})
		next := reachtest.Copy(gen)
		for _, l := range next.PortRangeLists {
			l.Entries = append(l.Entries[:0], model.PortEntry{Range: model.PortRange{Start: 1, End: 79}}, model.PortEntry{Range: model.PortRange{Start: 5000, End: 9000}})
		}
		before, after := gen.Snapshot(), next.Snapshot()
		ch := reach.Changes(before, after)
		if len(ch.PortRangeLists) != len(next.PortRangeLists) || len(ch.Groups)+len(ch.Instances)+len(ch.PrefixLists) != 0 {
			t.Fatalf("seed %d: Changes = %+v, want only the port range lists", seed, ch)
		}
		r.Update(after, ch)
		sameLinks(t, fmt.Sprintf("seed %d", seed), r, reach.Compute(after, reach.Options{}))
	}
}
