package space

import (
	"fmt"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestPaintPathsAgree holds paint's paths by classes of pieces (one- and
// two-word, for programs of up to 64 and 128 rules, and paintFast's) to
// its general path, piece by piece: the same tables, standings and hits,
// on programs of every size up to some 200 rules; and a lazy space's
// answers, and those of a space cut from an Index, to those of one built
// without.
func TestPaintPathsAgree(t *testing.T) {
	cfg := cloudgen.Config{VPCs: 1, Groups: 6, Instances: 12, RulesPerGroup: 250, PrefixLists: 3, PortRangeLists: 2,
		MaxGroups: 3, PublicShare: 0.4, IPv6Share: 0.5, Enterprise: 0.3, MoreIPv6Share: 0.5}
	sizes := map[int]int{} // programs by bit-set words
	for seed := range uint64(6) {
		gen := cloudgen.Generate(seed+1, cfg)
		res := NewResolver(gen.Snapshot())
		ix := NewIndex(res)
		for _, in := range gen.Instances {
			for _, dir := range []model.Direction{model.Ingress, model.Egress} {
				o := Options{AllSourcePorts: true}
				fast := ForInstance(res, in, dir, model.Intranet, o)
				genericPaint = true
				slow := ForInstance(res, in, dir, model.Intranet, o)
				genericPaint = false
				sizes[(len(fast.Program.Rules)+63)/64]++
				name := fmt.Sprintf("seed %d %s %s (%d rules)", seed+1, in.ID, dir, len(fast.Program.Rules))
				if fmt.Sprint(fast.Rules) != fmt.Sprint(slow.Rules) || !slices.Equal(fast.IntraHit, slow.IntraHit) || fast.DefaultHit != slow.DefaultHit {
					t.Fatalf("%s: standings differ:\n fast %v %v %v\n slow %v %v %v", name, fast.Rules, fast.IntraHit, fast.DefaultHit, slow.Rules, slow.IntraHit, slow.DefaultHit)
				}
				var a, b []Cell
				fast.Walk(func(c Cell) { a = append(a, c) })
				slow.Walk(func(c Cell) { b = append(b, c) })
				if !slices.Equal(a, b) {
					t.Fatalf("%s: the partitions differ (%d and %d cells)", name, len(a), len(b))
				}
				// Pieces cut from an index: the same standings and cells.
				indexed := ForInstance(res, in, dir, model.Intranet, Options{AllSourcePorts: true, Index: ix})
				var x []Cell
				indexed.Walk(func(c Cell) { x = append(x, c) })
				if fmt.Sprint(indexed.Rules) != fmt.Sprint(fast.Rules) || !slices.Equal(x, a) {
					t.Fatalf("%s: a space cut from an index differs (%d and %d cells)", name, len(x), len(a))
				}
				// Its rules' numbers name its rules in the index.
				nums := indexed.RuleNumbers()
				if len(nums) != len(indexed.Program.Rules) || fast.RuleNumbers() != nil {
					t.Fatalf("%s: %d rule numbers for %d rules (%d without an index)", name, len(nums), len(indexed.Program.Rules), len(fast.RuleNumbers()))
				}
				for i, n := range nums {
					if ix.Rules()[n] != indexed.Program.Rules[i].Rule {
						t.Fatalf("%s: rule %d is numbered %d, which is another rule", name, i, n)
					}
				}
				// Lazy tables: the same blockers and columns read from the
				// classes, and the same cells once written out.
				lazy := ForInstance(res, in, dir, model.Intranet, Options{AllSourcePorts: true, Scratch: new(Scratch), Lazy: true, Index: ix})
				// EachRun, before a lazy table is written out and after a
				// table is, gives the runs Start and Deciders give.
				for p, part := range lazy.Parts {
					for f := range 2 {
						for sl, pt := range part.Tables[f] {
							for k, at := range pt.Addrs {
								var got []string
								at.EachRun(func(start iprange.Key, by Decider) { got = append(got, fmt.Sprint(start, by)) })
								wt := fast.Parts[p].Tables[f][sl].Addrs[k]
								var want []string
								wt.EachRun(func(start iprange.Key, by Decider) { want = append(want, fmt.Sprint(start, by)) })
								var written []string
								for j, by := range wt.Deciders() {
									written = append(written, fmt.Sprint(wt.Start(j), by))
								}
								if !slices.Equal(got, want) || !slices.Equal(want, written) {
									t.Fatalf("%s: table %d/%d/%d/%d runs differ:\n lazy %v\n full %v\n read %v", name, p, f, sl, k, got, want, written)
								}
							}
						}
					}
				}
				for i := range lazy.Program.Rules {
					if got, want := fmt.Sprint(lazy.Blockers(i)), fmt.Sprint(fast.Blockers(i)); got != want {
						t.Fatalf("%s: rule %d's blockers differ in a lazy space:\n got %s\nwant %s", name, i, got, want)
					}
				}
				for part := range lazy.Parts {
					for _, six := range []bool{false, true} {
						if !lazy.Has(six) {
							continue
						}
						for _, k := range lazy.Pieces(six) {
							if got, want := lazy.Column(part, six, k), fast.Column(part, six, k); !slices.Equal(got, want) {
								t.Fatalf("%s: the columns at %v differ in a lazy space:\n got %v\nwant %v", name, k, got, want)
							}
						}
					}
				}
				var l []Cell
				lazy.Walk(func(c Cell) { l = append(l, c) })
				if !slices.Equal(l, a) {
					t.Fatalf("%s: a lazy space's partition differs (%d and %d cells)", name, len(l), len(a))
				}
				// Without standings (paintFast), by classes and piece by piece.
				po := Options{AllSourcePorts: true, PartitionOnly: true}
				fastPO := ForInstance(res, in, dir, model.Intranet, po)
				genericPaint = true
				slowPO := ForInstance(res, in, dir, model.Intranet, po)
				genericPaint = false
				var c, d []Cell
				fastPO.Walk(func(x Cell) { c = append(c, x) })
				slowPO.Walk(func(x Cell) { d = append(d, x) })
				if !slices.Equal(c, d) || !slices.Equal(c, a) {
					t.Fatalf("%s: the partitions without standings differ (%d and %d cells, %d with)", name, len(c), len(d), len(a))
				}
			}
		}
	}
	for words := 1; words <= 3; words++ {
		if sizes[words] == 0 {
			t.Errorf("no program of %d-%d rules among the random clouds: the test checks nothing for it (sizes %v)", 64*words-63, 64*words, sizes)
		}
	}
}
