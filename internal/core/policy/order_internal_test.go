package policy

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestPoolOrder checks pool's and Order's integer sorts against the stable comparison
// sort it stands for, on random groups with many ties, out-of-range
// priorities (which take the comparison sort) and classic rule sets.
func TestPoolOrder(t *testing.T) {
	stable := func(groups []*model.SecurityGroup, dir model.Direction, nic model.NicType) []pooled {
		var out []pooled
		for gi, g := range groups {
			for ri := range g.Rules {
				if r := &g.Rules[ri]; Applies(g, r, dir, nic) {
					out = append(out, pooled{r, g, gi, ri})
				}
			}
		}
		slices.SortStableFunc(out, func(a, b pooled) int {
			return cmp.Or(CompareRules(a.rule, b.rule), cmp.Compare(a.gi, b.gi), cmp.Compare(a.ri, b.ri))
		})
		return out
	}
	for _, tc := range []struct {
		name       string
		groups     int
		rules      int
		priorities []int
		classic    bool
	}{
		{"one group", 1, 40, []int{1, 2, 3}, false},
		{"three groups, many ties", 3, 60, []int{1, 1, 5, 100}, false},
		{"five groups, no ties", 5, 7, nil, false},
		{"more rules than the buffer", 4, 120, []int{1, 50, 100}, false},
		{"classic", 2, 30, []int{1, 2}, true},
		{"priority out of range", 2, 20, []int{-3, 1, 1 << 40}, false},
		{"no rules", 3, 0, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
			var groups []*model.SecurityGroup
			for gi := range tc.groups {
				g := &model.SecurityGroup{ID: fmt.Sprintf("sg-%d", gi)}
				if tc.classic {
					g.VpcID = ""
				} else {
					g.VpcID = "vpc-1"
				}
				for ri := range tc.rules {
					r := model.Rule{ID: fmt.Sprintf("r-%d-%d", gi, ri), Direction: model.Ingress, Policy: model.Accept, NicType: model.Intranet}
					if tc.priorities != nil {
						r.Priority = tc.priorities[rng.IntN(len(tc.priorities))]
					} else {
						r.Priority = rng.IntN(100) + 1
					}
					if rng.IntN(3) == 0 {
						r.Policy = model.Drop
					}
					if rng.IntN(4) == 0 {
						r.Direction = model.Egress
					}
					if tc.classic && rng.IntN(2) == 0 {
						r.NicType = model.Internet
					}
					g.Rules = append(g.Rules, r)
				}
				groups = append(groups, g)
			}
			for _, dir := range []model.Direction{model.Ingress, model.Egress} {
				for _, nic := range []model.NicType{model.Intranet, model.Internet} {
					got, want := pool(groups, dir, nic), stable(groups, dir, nic)
					if len(got) != len(want) {
						t.Fatalf("%s %s: %d rules, want %d", dir, nic, len(got), len(want))
					}
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("%s %s: rule %d is %s (priority %d), want %s (priority %d)", dir, nic, i,
								got[i].rule.ID, got[i].rule.Priority, want[i].rule.ID, want[i].rule.Priority)
						}
					}
					// Order, by its own integer sort when it fits.
					order := Order(groups, dir, nic)
					if len(order) != len(want) {
						t.Fatalf("%s %s: Order has %d rules, want %d", dir, nic, len(order), len(want))
					}
					for i := range order {
						if order[i].Rule != want[i].rule || order[i].Group != want[i].group {
							t.Fatalf("%s %s: Order's rule %d is %s, want %s", dir, nic, i, order[i].Rule.ID, want[i].rule.ID)
						}
					}
				}
			}
		})
	}
}
