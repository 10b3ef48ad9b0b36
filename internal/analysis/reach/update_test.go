package reach_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/reach/reachtest"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
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

// TestFoldEqualsScratch applies chains of random changes of rules (of every
// protocol, port, peer and path, in one or two groups, now and then with
// a membership change), with one of any kind (reachtest.Mutate: members,
// lists) now and then, so that what a folded class names is put to the
// test: after each, the updated result must equal one computed from
// scratch (for two source ports: rules with source-port ranges), the
// result it was cloned from must be left as it was, and most classes
// analysed must have been folded rather than rebuilt.
func TestFoldEqualsScratch(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	built, folded := 0, 0
	for v, cfg := range variants {
		for seed := range uint64(seeds) {
			rng := rand.New(rand.NewPCG(seed, 100+uint64(v)))
			gen := cloudgen.Generate(seed+1700, cfg)
			o := reach.Options{}
			if seed%2 == 1 {
				o.SourcePort = 1000
			}
			r := reach.Compute(gen.Snapshot(), o)
			for step := range 12 {
				mutate := reachtest.MutateRules
				if step%3 == 2 {
					mutate = reachtest.Mutate
				}
				next, ch, what := mutate(rng, gen)
				before := r.Clone()
				r.Update(next.Snapshot(), ch)
				built, folded = built+r.Built(), folded+r.Folded()
				name := fmt.Sprintf("variant %d seed %d step %d (%s)", v, seed, step, what)
				sameLinks(t, name, r, reach.Compute(next.Snapshot(), o))
				sameLinks(t, name+", the clone", before, reach.Compute(gen.Snapshot(), o))
				gen = next
			}
		}
	}
	if folded < built/2 {
		t.Errorf("%d of %d classes analysed were folded, want most", folded, built)
	}
	t.Logf("%d of %d classes analysed were folded", folded, built)
}

// TestFoldNamesNewPeers: a rule folded into a class may name a group or
// prefix list the class did not name before; a later change of that
// group's members or that list's entries must then reach the class.
func TestFoldNamesNewPeers(t *testing.T) {
	rl := modeltest.Rule
	type cloud struct {
		db   []model.Rule
		web  []string // i-web's groups
		list []string // pl-1's entries
	}
	build := func(c cloud) *policy.Cloud {
		return policy.NewCloud([]*model.SecurityGroup{
			modeltest.Group("sg-db", "vpc-a", "basic", c.db...),
			modeltest.Group("sg-app", "vpc-a", "basic"),
			modeltest.Group("sg-web", "vpc-a", "basic"),
		}, []*model.Instance{
			modeltest.Instance("i-db", "vpc-a", "10.0.0.5,2001:db8::5", "sg-db"),
			modeltest.Instance("i-app", "vpc-a", "10.0.1.5", "sg-app"),
			modeltest.Instance("i-web", "vpc-a", "10.0.2.5,2001:db8::2:5", c.web...),
		}, []*model.PrefixList{modeltest.PrefixList("pl-1", 10, c.list...)})
	}
	ssh := rl("r-ssh", "in accept 1 TCP 22/22 10.0.0.0/8")
	base := cloud{db: []model.Rule{ssh}, web: []string{"sg-web"}, list: []string{"192.168.0.0/24"}}
	for _, tc := range []struct {
		name string
		rule model.Rule // added to sg-db: folded in
		then cloud      // the next change, of what the rule names
	}{
		{"group peer", rl("r-app", "in accept 1 TCP 80/80 sg-app"), cloud{web: []string{"sg-web", "sg-app"}, list: base.list}},
		{"prefix list", rl("r-pl", "in accept 1 TCP 80/80 pl-1"), cloud{web: base.web, list: []string{"192.168.0.0/24", "10.0.2.0/24"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			added := base
			added.db = []model.Rule{ssh, tc.rule}
			then := tc.then
			then.db = added.db
			r := reach.Compute(build(base), reach.Options{})
			for i, c := range []cloud{base, added, then}[1:] {
				before, after := build([]cloud{base, added}[i]), build(c)
				r.Update(after, reach.Changes(before, after))
				if i == 0 && r.Folded() == 0 {
					t.Fatal("the rule was not folded in")
				}
				sameLinks(t, fmt.Sprintf("step %d", i+1), r, reach.Compute(after, reach.Options{}))
			}
		})
	}
}
