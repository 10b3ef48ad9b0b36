package audit

import (
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestNamePlanned: the findings of a cloud as a change would leave it name
// the groups and rules the change makes as "new group N" and "new rule N",
// in its resource, rule and words, and never by the dry run's IDs, which
// the applied change does not give them (a preview showed findings of
// "rule sgr-…" that no rule ever had); what existed keeps its ID.
func TestNamePlanned(t *testing.T) {
	old := rl("sgr-old", "in drop 1 TCP 22/22 0.0.0.0/0")
	member := vm("i-a", vpcA, "10.0.1.5", "sg-a")
	before := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, old)}, insts: []*model.Instance{member}}.cloud()
	for _, tc := range []struct {
		name    string
		after   *policy.Cloud
		planned []string // the dry run's IDs
		want    []string // "resource rule" of findings that must be there
	}{
		{"rules added", before.Next(policy.Edit{Groups: map[string]*model.SecurityGroup{
			"sg-a": grp("sg-a", vpcA, model.Normal, old, rl("sgr-dry00000000000001", "in accept 1 TCP 22/22 0.0.0.0/0"), rl("sgr-dry00000000000002", "in accept 5 TCP 3306/3306 0.0.0.0/0"))}}),
			[]string{"sgr-dry00000000000001", "sgr-dry00000000000002"}, []string{"sg-a new rule 1", "sg-a new rule 2"}},
		{"a group made", before.Next(policy.Edit{Groups: map[string]*model.SecurityGroup{
			"sg-dry0000000000000001": grp("sg-dry0000000000000001", vpcA, model.Normal, rl("sgr-dry00000000000003", "in accept 1 TCP 22/22 0.0.0.0/0"))}}),
			[]string{"sg-dry0000000000000001", "sgr-dry00000000000003"}, []string{"new group 1 -", "new group 1 new rule 1"}},
		{"a cloud built anew, nothing made", world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, old)}, insts: []*model.Instance{member}}.cloud(),
			nil, []string{"sg-a sgr-old"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Run(tc.after, Options{})
			out := NamePlanned(in, before, tc.after)
			if len(out) != len(in) {
				t.Fatalf("%d findings, %d before naming", len(out), len(in))
			}
			var got []string
			for i, f := range out {
				rule := cmpOrDash(f.RuleID)
				got = append(got, f.Resource+" "+rule)
				named := false
				for _, id := range tc.planned {
					text := strings.Join([]string{f.Resource, f.RuleID, f.Message, f.Fix}, " ")
					if strings.Contains(text, id) {
						t.Errorf("%s names %s: %+v", f.Check, id, f)
					}
					named = named || strings.Contains(in[i].Message, id) || in[i].Resource == id || in[i].RuleID == id
				}
				if !named && f != in[i] {
					t.Errorf("a finding that names nothing planned changed: %+v, was %+v", f, in[i])
				}
				if strings.Contains(f.Message, "Rule new rule") || strings.Contains(f.Message, "rule new rule") || strings.Contains(f.Message, "Group new group") {
					t.Errorf("%s reads badly: %s", f.Check, f.Message)
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("no finding of %q among %q", w, got)
				}
			}
		})
	}
}

func cmpOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
