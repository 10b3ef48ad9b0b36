package space

import (
	"fmt"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestAnonymousRunAgreesWithSort holds Anonymous's walk along the named run
// from the family's first address to the plain sort-and-merge, on peers
// chained from address 0 in an order that takes several passes, and on
// every ingress program of random clouds.
func TestAnonymousRunAgreesWithSort(t *testing.T) {
	rl, sg, vm := modeltest.Rule, modeltest.Group, modeltest.Instance
	cases := map[string][]model.Rule{
		"nothing at the bottom": {rl("a", "in accept 1 tcp 22/22 10.0.0.0/8")},
		"one range at 0":        {rl("a", "in accept 1 tcp 22/22 0.0.0.0/8")},
		"chain out of order": {
			rl("a", "in accept 1 tcp 22/22 3.0.0.0/8"), rl("b", "in accept 1 tcp 22/22 2.0.0.0/8"),
			rl("c", "in accept 1 tcp 22/22 1.0.0.0/8"), rl("d", "in accept 1 tcp 22/22 0.0.0.0/8")},
		"long chain out of order": {
			rl("a", "in accept 1 tcp 22/22 7.0.0.0/8"), rl("b", "in accept 1 tcp 22/22 6.0.0.0/8"),
			rl("c", "in accept 1 tcp 22/22 5.0.0.0/8"), rl("d", "in accept 1 tcp 22/22 4.0.0.0/8"),
			rl("e", "in accept 1 tcp 22/22 3.0.0.0/8"), rl("f", "in accept 1 tcp 22/22 2.0.0.0/8"),
			rl("g", "in accept 1 tcp 22/22 1.0.0.0/8"), rl("h", "in accept 1 tcp 22/22 0.0.0.0/8")},
		"every address in halves": {rl("a", "in accept 1 tcp 22/22 128.0.0.0/1"), rl("b", "in drop 1 tcp 22/22 0.0.0.0/1")},
		"whole family only":       {rl("a", "in accept 1 tcp 22/22 0.0.0.0/0")},
		"v6 at the bottom":        {rl("a", "in accept 1 tcp 22/22 ::/16"), rl("b", "in accept 1 tcp 22/22 1::/16")},
	}
	var spaces []*Space
	for _, rules := range cases {
		g := sg("sg-a", "vpc", "basic", rules...)
		x := vm("i-x", "vpc", "10.0.0.5,2001:db8::5", "sg-a")
		c := policy.NewCloud([]*model.SecurityGroup{g}, []*model.Instance{x}, nil)
		s := ForInstance(NewResolver(c), x, model.Ingress, model.Intranet, Options{PartitionOnly: true})
		spaces = append(spaces, s)
	}
	for seed := range uint64(5) {
		gen := cloudgen.Generate(seed, cloudgen.Small)
		c := gen.Snapshot()
		res := NewResolver(c)
		for _, in := range c.Instances {
			spaces = append(spaces, ForInstance(res, in, model.Ingress, model.Intranet, Options{PartitionOnly: true}))
		}
	}
	walked := 0
	for i, s := range spaces {
		for _, six := range []bool{false, true} {
			wantK, wantOK := s.anonymousSorted(six)
			gotK, gotOK := s.Anonymous(six)
			if fmt.Sprint(gotK, gotOK) != fmt.Sprint(wantK, wantOK) {
				t.Errorf("space %d six=%v: Anonymous = %v %v, sorting says %v %v", i, six, gotK, gotOK, wantK, wantOK)
			}
			if _, _, done := s.anonymousRun(six); done {
				walked++
			}
		}
	}
	if walked == 0 || walked == 2*len(spaces) {
		t.Errorf("the walk answered %d of %d: both paths should be exercised", walked, 2*len(spaces))
	}
}

// TestPieceWithoutScratch holds Piece of a kept space's tables (which
// search the pieces) to Piece of the same space built with a Scratch (which
// records the indexes), table by table.
func TestPieceWithoutScratch(t *testing.T) {
	for seed := range uint64(3) {
		c := cloudgen.Generate(seed, cloudgen.Small).Snapshot()
		res := NewResolver(c)
		var sc Scratch
		for _, in := range c.Instances {
			for _, o := range []Options{{AllSourcePorts: true}, {PartitionOnly: true}} {
				kept := ForInstance(res, in, model.Ingress, model.Intranet, o)
				o.Scratch = &sc
				lent := ForInstance(res, in, model.Ingress, model.Intranet, o)
				for pi := range kept.Parts {
					for f := range 2 {
						for slot := range NProto {
							a, b := kept.Parts[pi].Tables[f][slot], lent.Parts[pi].Tables[f][slot]
							if (a == nil) != (b == nil) {
								t.Fatalf("seed %d %s: table %d/%d/%d built in one space only", seed, in.ID, pi, f, slot)
							}
							if a == nil {
								continue
							}
							for k := range a.Addrs {
								for j := range a.Addrs[k].Len() {
									if got, want := a.Addrs[k].Piece(j), b.Addrs[k].Piece(j); got != want {
										t.Fatalf("seed %d %s: Piece(%d) = %d, with a Scratch %d", seed, in.ID, j, got, want)
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
