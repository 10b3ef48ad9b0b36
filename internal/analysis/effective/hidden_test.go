package effective_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/effective"
	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestOfHidingHidesMembers: the effective rules of account 1's instance,
// whose group names account 2's group sg-b, as account 1 reads them
// (OfHiding) are the same whatever sg-b's members: none ("group sg-b has
// no members" was a note), one at the address another rule names (which
// shadowed that rule), one elsewhere. The exact view (Of) tells them
// apart; the rule naming sg-b, and the one it may hide, are unknown.
func TestOfHidingHidesMembers(t *testing.T) {
	rules := []model.Rule{
		rl("grp", "in accept 1 TCP 22/22 sg-b nic=intranet owner=2"),
		rl("one", "in accept 2 TCP 22/22 10.0.0.20/32 nic=intranet"),
		rl("web", "in accept 3 TCP 80/80 0.0.0.0/0 nic=intranet"),
	}
	exact, tenant := map[string]bool{}, map[string]bool{}
	var seen []effective.Policy
	for _, member := range []string{"", "10.0.0.20", "10.0.0.30"} {
		a := sg("sg-a", "", "basic", rules...)
		b := sg("sg-b", "", "basic")
		a.Owner, b.Owner = "1", "2"
		x := vm("i-a", "", "10.0.0.5", "sg-a")
		x.Owner = "1"
		ins := []*model.Instance{x}
		if member != "" {
			y := vm("i-b", "", member, "sg-b")
			y.Owner = "2"
			ins = append(ins, y)
		}
		c := policy.NewCloud([]*model.SecurityGroup{a, b}, ins, nil)
		for _, hidden := range []space.Hidden{nil, space.HiddenFrom(c, "1")} {
			pols, err := effective.OfHiding(c, "i-a", hidden)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(pols)
			if hidden == nil {
				exact[string(js)] = true
				continue
			}
			tenant[string(js)] = true
			seen = pols
		}
	}
	if len(exact) == 1 {
		t.Errorf("the exact effective rules are the same whatever sg-b's members: the test shows no leak")
	}
	if len(tenant) != 1 {
		t.Fatalf("account 1's effective rules depend on sg-b's members:\n%s", strings.Join(keysOf(tenant), "\n--\n"))
	}
	var got []string
	for _, e := range seen[0].Entries { // ingress
		got = append(got, line(e))
		if strings.Contains(e.Note, "no members") {
			t.Errorf("entry %d says %q", e.Position, e.Note)
		}
		if e.Status == space.Unknown && !strings.Contains(e.Note, "another account's group") {
			t.Errorf("entry %d is unknown without saying why: %q", e.Position, e.Note)
		}
	}
	want := []string{"1 intra:sg-a Accept live", "2 grp Accept unknown", "3 one Accept unknown", "4 web Accept live", "5 default Drop live"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("account 1 sees\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
