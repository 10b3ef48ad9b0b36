package audit

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestMergeEqualsSort holds merge (findings dealt into buckets by severity
// and check, a bucket sorted only when out of order) to one stable sort of
// all the findings: on random clouds' findings as the checks give them, and
// shuffled, and with findings that do not fit a bucket.
func TestMergeEqualsSort(t *testing.T) {
	cases := []struct {
		name    string
		shuffle bool // shuffle each check's findings
		foreign bool // a finding carries another check's ID
	}{
		{"as given", false, false},
		{"shuffled", true, false},
		{"foreign check ID", true, true},
	}
	for _, tc := range cases {
		for seed := range uint64(6) {
			c := cloudgen.Generate(seed+1, cloudgen.Small).Snapshot()
			in := &Input{Cloud: c, Options: Options{}.withDefaults(), once: true}
			todo := Checks()
			in.prime(todo)
			found := make([][]Finding, len(todo))
			n := 0
			rng := rand.New(rand.NewPCG(seed, 7))
			for k, ch := range todo {
				found[k] = ch.Run(in)
				if tc.shuffle {
					rng.Shuffle(len(found[k]), func(i, j int) { found[k][i], found[k][j] = found[k][j], found[k][i] })
				}
				n += len(found[k])
			}
			if tc.foreign && len(found[0]) > 0 {
				found[0][0].Check = "SGA-099"
			}
			if n == 0 {
				t.Fatalf("seed %d: no findings, the test checks nothing", seed+1)
			}
			want := sortAll(found)
			if got := merge(todo, found, 2); !slices.Equal(got, want) {
				t.Errorf("%s, seed %d: merge differs from a full sort (%d findings)", tc.name, seed+1, n)
			}
		}
	}
}
