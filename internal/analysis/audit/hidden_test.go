package audit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestStandingsHideOtherAccountsMembers: on the classic network a group of
// testOwner names another account's group sg-b. Whether, and where, sg-b
// has members changes the exact rule-anomaly findings (SGA-022 shadowed,
// -023 redundant, -024 conflicting) on testOwner's group, so an owner that
// read them learned it; audited for tenants (PerAccount) the findings on
// its group are the same whatever sg-b's members.
func TestStandingsHideOtherAccountsMembers(t *testing.T) {
	const other = "1000000000000002"
	tests := []struct {
		name  string
		rules []model.Rule
		check string // the check whose exact findings tell
	}{
		{"shadowed by the group", described(
			rl("grp", "in accept 1 TCP 22/22 sg-b nic=intranet owner="+other),
			rl("one", "in accept 2 TCP 22/22 10.0.0.20/32 nic=intranet"),
		), "SGA-022"},
		{"redundant with the group", described(
			rl("one", "in accept 1 TCP 22/22 10.0.0.20/32 nic=intranet"),
			rl("grp", "in accept 2 TCP 22/22 sg-b nic=intranet owner="+other),
		), "SGA-023"},
		{"conflicting with the group", described(
			rl("nob", "in drop 1 TCP 22/22 sg-b nic=intranet owner="+other),
			rl("one", "in accept 1 TCP 22/22 10.0.0.20/32 nic=intranet"),
		), "SGA-024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exact, tenant := map[string]bool{}, map[string]bool{}
			for _, member := range []string{"", "10.0.0.20", "10.0.0.30"} {
				a := grp("sg-a", "", model.Normal, tc.rules...)
				b := grp("sg-b", "", model.Normal)
				b.Owner = other
				ins := []*model.Instance{vm("i-a", "", "10.0.0.5", "sg-a")}
				if member != "" {
					y := vm("i-b", "", member, "sg-b")
					y.Owner = other
					ins = append(ins, y)
				}
				c := policy.NewCloud([]*model.SecurityGroup{a, b}, ins, nil)
				for _, o := range []Options{{}, {PerAccount: true}} {
					var got []string
					for _, f := range Run(c, o) {
						if f.Resource == "sg-a" && (f.Check == "SGA-022" || f.Check == "SGA-023" || f.Check == "SGA-024") {
							got = append(got, fmt.Sprintf("%s %s: %s", f.Check, f.RuleID, f.Message))
						}
					}
					key := strings.Join(got, "\n")
					if o.PerAccount {
						tenant[key] = true
					} else {
						exact[key] = true
						if member == "10.0.0.20" && !strings.Contains(key, tc.check) {
							t.Errorf("with sg-b's member at 10.0.0.20 no %s finding: the case shows no leak (%q)", tc.check, key)
						}
					}
				}
			}
			if len(exact) == 1 {
				t.Errorf("the exact findings are the same whatever sg-b's members: the case shows no leak")
			}
			if len(tenant) != 1 {
				t.Errorf("the findings for tenants depend on sg-b's members:\n%s", strings.Join(keys(tenant), "\n--\n"))
			}
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
