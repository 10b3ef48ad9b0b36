package audit

import (
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestNamePlanned: the findings of a cloud as a change would leave it
// name the groups and rules the change makes as the preview calls them,
// in its resource, rule and words, and never by the dry run's IDs, which
// the applied change does not give them (a preview showed findings of
// "rule sgr-…" that no rule ever had); what existed keeps its ID. The
// names are the caller's: the second rule added, whose ID is the smaller,
// is still the one called "new rule 2" (they were numbered by ID).
func TestNamePlanned(t *testing.T) {
	old := rl("sgr-old", "in drop 1 TCP 22/22 0.0.0.0/0")
	member := vm("i-a", vpcA, "10.0.1.5", "sg-a")
	before := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, old)}, insts: []*model.Instance{member}}.cloud()
	for _, tc := range []struct {
		name  string
		after *policy.Cloud
		names map[string]string // the dry run's IDs and what they are called
		want  []string          // "resource rule" of findings that must be there
		words []string          // and words some finding must say
	}{
		{"rules added", before.Next(policy.Edit{Groups: map[string]*model.SecurityGroup{
			"sg-a": grp("sg-a", vpcA, model.Normal, old, rl("sgr-dry00000000000009", "in accept 1 TCP 3389/3389 0.0.0.0/0"), rl("sgr-dry00000000000001", "in accept 5 TCP 3306/3306 0.0.0.0/0"))}}),
			map[string]string{"sgr-dry00000000000009": "new rule 1", "sgr-dry00000000000001": "new rule 2"},
			[]string{"sg-a new rule 1", "sg-a new rule 2"}, []string{"New rule 1 of sg-a opens TCP 3389", "New rule 2 of sg-a opens TCP 3306"}},
		{"rules named by the form's rows", before.Next(policy.Edit{Groups: map[string]*model.SecurityGroup{
			"sg-a": grp("sg-a", vpcA, model.Normal, old, rl("sgr-dry00000000000009", "in accept 1 TCP 3389/3389 0.0.0.0/0"))}}),
			map[string]string{"sgr-dry00000000000009": "new rule (row 2)"},
			[]string{"sg-a new rule (row 2)"}, []string{"New rule (row 2) of sg-a opens TCP 3389"}},
		{"a group made", before.Next(policy.Edit{Groups: map[string]*model.SecurityGroup{
			"sg-dry0000000000000001": grp("sg-dry0000000000000001", vpcA, model.Normal, rl("sgr-dry00000000000003", "in accept 1 TCP 22/22 0.0.0.0/0"))}}),
			map[string]string{"sg-dry0000000000000001": "new group 1", "sgr-dry00000000000003": "new rule 1"},
			[]string{"new group 1 -", "new group 1 new rule 1"}, []string{"New group 1 has no member instances"}},
		{"nothing made", world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, old)}, insts: []*model.Instance{member}}.cloud(),
			nil, []string{"sg-a sgr-old"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Run(tc.after, Options{})
			out := NamePlanned(in, tc.names)
			if len(out) != len(in) {
				t.Fatalf("%d findings, %d before naming", len(out), len(in))
			}
			var got, said []string
			for i, f := range out {
				got = append(got, f.Resource+" "+cmpOrDash(f.RuleID))
				said = append(said, f.Message)
				named := false
				for id := range tc.names {
					text := strings.Join([]string{f.Resource, f.RuleID, f.Message, f.Fix}, " ")
					if strings.Contains(text, id) {
						t.Errorf("%s names %s: %+v", f.Check, id, f)
					}
					named = named || strings.Contains(in[i].Message+in[i].Fix, id) || in[i].Resource == id || in[i].RuleID == id
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
			for _, w := range tc.words {
				if !slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("no finding says %q: %q", w, said)
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
