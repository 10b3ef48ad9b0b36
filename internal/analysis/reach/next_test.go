package reach_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestNextEqualsNewCloud holds policy.Cloud.Next, the incremental snapshot
// the server's live analyses and plans are built on, to NewCloud over
// chains of random changes (rules, joins and leaves, groups created and
// deleted, intra-group policy, prefix and port range lists, instances
// created, deleted and given public addresses): the same members and
// member addresses per group, and the same decisions of the linear
// evaluator on flows at the rules' edges.
func TestNextEqualsNewCloud(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	for seed := range uint64(seeds) {
		cfg := cloudgen.Full
		switch {
		case seed%2 == 1:
			cfg = variants[2]
		case seed%4 == 2: // rules that tell a NIC's IPv6 addresses apart
			cfg = cloudgen.MoreIPv6
		}
		rng := rand.New(rand.NewPCG(seed, 29))
		gen := cloudgen.Generate(seed+9700, cfg)
		inc := gen.Snapshot()
		for step := range 10 {
			next, ch, what := reachtest.Mutate(rng, gen)
			want := next.Snapshot()
			inc = inc.Next(editOf(want, ch))
			name := fmt.Sprintf("seed %d step %d (%s)", seed+9700, step, what)
			for id := range want.Groups {
				if got, w := ids(inc.Members(id)), ids(want.Members(id)); !slices.Equal(got, w) {
					t.Fatalf("%s: members of %s: Next %v, NewCloud %v", name, id, got, w)
				}
				if got, w := inc.GroupAddrs(id), want.GroupAddrs(id); !slices.Equal(got, w) {
					t.Fatalf("%s: addresses of %s: Next %v, NewCloud %v", name, id, got, w)
				}
			}
			a, b := policy.NewLinear(inc), policy.NewLinear(want)
			for _, f := range next.EdgeFlows(want, seed*100+uint64(step), 200) {
				ra, errA := policy.Evaluate(a, f)
				rb, errB := policy.Evaluate(b, f)
				if (errA == nil) != (errB == nil) || errA == nil && describe(ra) != describe(rb) {
					t.Fatalf("%s %+v:\n Next     %s %v\n NewCloud %s %v", name, f, describe(ra), errA, describe(rb), errB)
				}
			}
			gen = next
		}
	}
}

// editOf is the edit a change makes: the new version of each record it
// names, nil for those gone.
func editOf(c *policy.Cloud, ch reach.Change) policy.Edit {
	e := policy.Edit{Groups: map[string]*model.SecurityGroup{}, Instances: map[string]*model.Instance{},
		PrefixLists: map[string]*model.PrefixList{}, PortRangeLists: map[string]*model.PortRangeList{}}
	for _, id := range ch.Groups {
		e.Groups[id] = c.Groups[id]
	}
	for _, id := range ch.Instances {
		e.Instances[id] = c.Instances[id]
	}
	for _, id := range ch.PrefixLists {
		e.PrefixLists[id] = c.PrefixLists[id]
	}
	for _, id := range ch.PortRangeLists {
		e.PortRangeLists[id] = c.PortRangeLists[id]
	}
	return e
}

func ids(ins []*model.Instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.ID)
	}
	slices.Sort(out)
	return out
}
