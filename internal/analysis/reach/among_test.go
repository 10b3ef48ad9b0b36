package reach_test

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestAmongAndLimit: a matrix limited to some instances is the full
// matrix's links between them (and the internet); a limit keeps its first
// links; a graph limited alike counts only their pairs.
func TestAmongAndLimit(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		r := reach.Compute(cloudgen.Generate(seed, cloudgen.Small).Snapshot(), reach.Options{})
		all := r.Instances()
		among := []string{}
		for i, id := range all {
			if i%3 == 0 {
				among = append(among, id)
			}
		}
		full, err := r.Matrix(reach.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var want []reach.Link
		for _, l := range full {
			if (l.From == reach.Internet || slices.Contains(among, l.From)) && (l.To == reach.Internet || slices.Contains(among, l.To)) {
				want = append(want, l)
			}
		}
		got, err := r.Matrix(reach.Filter{Among: among})
		if err != nil {
			t.Fatal(err)
		}
		if g, w := js(got), js(want); g != w {
			t.Errorf("seed %d: Among matrix\n%s\nwant\n%s", seed, g, w)
		}
		if len(want) > 2 {
			lim, _ := r.Matrix(reach.Filter{Among: among, Limit: 2})
			if js(lim) != js(want[:2]) {
				t.Errorf("seed %d: Limit 2 gave %s", seed, js(lim))
			}
		}
		g, err := r.Graph(reach.Filter{Among: among})
		if err != nil {
			t.Fatal(err)
		}
		pairs := 0
		for _, e := range g.Edges {
			pairs += e.Pairs4 + e.Pairs6
		}
		fg, _ := r.Graph(reach.Filter{})
		fpairs := 0
		for _, e := range fg.Edges {
			fpairs += e.Pairs4 + e.Pairs6
		}
		if len(want) < len(full) && pairs >= fpairs {
			t.Errorf("seed %d: the limited graph counts %d pairs, the whole %d", seed, pairs, fpairs)
		}
		if n := r.ClassesAmong(among); n > r.Classes() || n == 0 && len(among) > 0 {
			t.Errorf("seed %d: %d classes among %d instances, %d in all", seed, n, len(among), r.Classes())
		}
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestDeltasAmong: the deltas limited to some instances are the full
// deltas between them (and the internet), over random changes.
func TestDeltasAmong(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, seed := range []uint64{1, 2, 3, 4} {
		gen := cloudgen.Generate(seed, cloudgen.Small)
		before := reach.Compute(gen.Snapshot(), reach.Options{})
		for range 5 {
			next, ch, what := reachtest.Mutate(rng, gen)
			after := before.Clone()
			after.Update(next.Snapshot(), ch)
			in := map[string]bool{reach.Internet: true}
			for i, id := range after.Instances() {
				if i%2 == 0 {
					in[id] = true
				}
			}
			var want []reach.Delta
			for _, d := range reach.Deltas(before, after) {
				if in[d.From] && in[d.To] {
					want = append(want, d)
				}
			}
			got := reach.DeltasAmong(before, after, func(id string) bool { return in[id] })
			if js(got) != js(want) {
				t.Errorf("seed %d, %s: DeltasAmong\n%s\nwant\n%s", seed, what, js(got), js(want))
			}
		}
	}
}
