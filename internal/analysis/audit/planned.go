package audit

import (
	"cmp"
	"slices"
	"strings"
)

// NamePlanned renames, in the findings of a cloud as a change would leave
// it (made by a dry run of the change), the groups and rules the change
// would make. Their IDs are the dry run's own, which the change does not
// give them when it is applied: a preview that named them so showed an ID
// no resource ever has. names maps each such ID to what the preview calls
// it ("new group 1", "new rule (row 2)"), which replaces the ID in the
// finding's resource, rule and words alike ("Rule sgr-…" reads "New rule
// (row 2)"); what names leaves out keeps its ID.
func NamePlanned(fs []Finding, names map[string]string) []Finding {
	if len(names) == 0 {
		return fs
	}
	ids := make([]string, 0, len(names))
	for id := range names {
		ids = append(ids, id)
	}
	slices.Sort(ids) // one replacer whatever the map's order
	var pairs []string
	for _, id := range ids {
		s := names[id]
		if s == "" {
			continue
		}
		upper := strings.ToUpper(s[:1]) + s[1:]
		// "Rule ID" and "Group ID" start a sentence, or follow a word.
		pairs = append(pairs, "Rule "+id, upper, "rule "+id, s, "Group "+id, upper, "group "+id, s, id, s)
	}
	words := strings.NewReplacer(pairs...)
	out := make([]Finding, len(fs))
	for i, f := range fs {
		f.Resource = cmp.Or(names[f.Resource], f.Resource) // an empty name names nothing
		f.RuleID = cmp.Or(names[f.RuleID], f.RuleID)
		f.Message, f.Fix = words.Replace(f.Message), words.Replace(f.Fix)
		out[i] = f
	}
	return out
}
