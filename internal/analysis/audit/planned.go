package audit

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/policy"
)

// NamePlanned renames, in the findings of after (a cloud as a change would
// leave it, made by a dry run of the change from before), the groups and
// rules the change would make. Their IDs are the dry run's own, which the
// change does not give them when it is applied: a preview that named them
// so showed an ID no resource ever has. They become "new group N" and "new
// rule N", numbered in the order the change makes them (groups by ID, each
// group's rules in its order: an authorization's in the order given), in
// the finding's resource, rule and words alike.
func NamePlanned(fs []Finding, before, after *policy.Cloud) []Finding {
	var changed []string
	for id, g := range after.Groups {
		if before.Groups[id] != g { // a group the change did not touch is shared
			changed = append(changed, id)
		}
	}
	slices.Sort(changed)
	label := map[string]string{} // a planned ID → its name
	var pairs []string           // for the words: "Rule ID" starts a sentence
	name := func(id, kind string, n int) {
		s := "new " + kind + " " + strconv.Itoa(n)
		label[id] = s
		pairs = append(pairs, strings.ToUpper(kind[:1])+kind[1:]+" "+id, "New "+kind+" "+strconv.Itoa(n), kind+" "+id, s, id, s)
	}
	groups, rules := 0, 0
	for _, id := range changed {
		g, old := after.Groups[id], before.Groups[id]
		if old == nil {
			groups++
			name(id, "group", groups)
		}
		had := map[string]bool{}
		if old != nil {
			for i := range old.Rules {
				had[old.Rules[i].ID] = true
			}
		}
		for i := range g.Rules {
			if id := g.Rules[i].ID; !had[id] {
				rules++
				name(id, "rule", rules)
			}
		}
	}
	if len(label) == 0 {
		return fs
	}
	words := strings.NewReplacer(pairs...)
	out := make([]Finding, len(fs))
	for i, f := range fs {
		f.Resource = cmp.Or(label[f.Resource], f.Resource)
		f.RuleID = cmp.Or(label[f.RuleID], f.RuleID)
		f.Message, f.Fix = words.Replace(f.Message), words.Replace(f.Fix)
		out[i] = f
	}
	return out
}
