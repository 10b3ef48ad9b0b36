package reach

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestUpdateKeepsTheOtherFamily: a change of rules of one family (their
// peers are blocks of that family) rebuilds that side of the classes
// holding them and takes the other over as it was; any other change
// rebuilds both. Either way the result equals one computed from scratch.
func TestUpdateKeepsTheOtherFamily(t *testing.T) {
	rl := modeltest.Rule
	base := []model.Rule{
		rl("r-ssh", "in accept 1 TCP 22/22 10.0.0.0/8"),
		rl("r-ssh6", "in accept 1 TCP 22/22 2001:db8::/32"),
		rl("r-peer", "in accept 2 TCP 5432/5432 sg-app"),
	}
	cloud := func(rules ...model.Rule) *policy.Cloud {
		return policy.NewCloud([]*model.SecurityGroup{
			modeltest.Group("sg-db", "vpc-a", "basic", rules...),
			modeltest.Group("sg-app", "vpc-a", "basic"),
		}, []*model.Instance{
			modeltest.Instance("i-db", "vpc-a", "10.0.0.5,2001:db8::5", "sg-db"),
			modeltest.Instance("i-db4", "vpc-a", "10.0.0.6", "sg-db"),
			modeltest.Instance("i-app", "vpc-a", "10.0.1.5,2001:db8::1:5", "sg-app"),
		}, nil)
	}
	for _, tc := range []struct {
		name  string
		added model.Rule
		kept  int // the family whose side is kept; -1: none
	}{
		{"IPv4 block", rl("r-web", "in accept 1 TCP 80/80 0.0.0.0/0"), 1},
		{"IPv6 block", rl("r-web6", "in accept 1 TCP 80/80 ::/0"), 0},
		{"group peer", rl("r-app", "in accept 1 TCP 80/80 sg-app"), -1},
		{"local block", rl("r-loc", "in accept 1 TCP 80/80 0.0.0.0/0 local=10.0.0.0/24"), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := Compute(cloud(base...), Options{})
			after := before.Clone()
			after.Update(cloud(append(base, tc.added)...), Change{Groups: []string{"sg-db"}})
			old := before.nodes[before.index["i-db"]].cls[ingress][intra]
			got := after.nodes[after.index["i-db"]].cls[ingress][intra]
			if got == nil || got == old {
				t.Fatal("the class of i-db was not rebuilt")
			}
			for f := range 2 {
				same := &got.sides[f].ids[0] == &old.sides[f].ids[0]
				if same != (f == tc.kept) {
					t.Errorf("side %d taken over: %v, want %v", f, same, f == tc.kept)
				}
			}
			scratch := Compute(cloud(append(base, tc.added)...), Options{})
			for _, from := range []string{"i-app", "i-db4"} {
				for _, to := range []string{"i-db", "i-db4"} {
					if from == to {
						continue
					}
					a4, a6, err := after.Pair(from, to)
					if err != nil {
						t.Fatal(err)
					}
					b4, b6, _ := scratch.Pair(from, to)
					if !a4.Equal(b4) || !a6.Equal(b6) {
						t.Errorf("%s → %s: updated %v / %v, from scratch %v / %v", from, to, a4, a6, b4, b6)
					}
				}
			}
		})
	}
}
