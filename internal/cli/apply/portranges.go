package apply

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Port range lists: matched by their marker description like prefix
// lists, created with their entries, their entries and name converged by
// ModifyPortRangeList, removed with --prune after the groups.

// prlID is the account ID of a file's port range list, or the placeholder
// of one made in the run.
func (b *builder) prlID(id string) string {
	if l, ok := b.prls[id]; ok {
		return l.ID
	}
	return ref("prl", id)
}

func (b *builder) diffPortRangeLists() error {
	for _, l := range b.sc.PortRangeLists {
		cur, ok := b.prls[l.ID]
		if !ok {
			p := map[string]string{"PortRangeListName": l.Name, "MaxEntries": strconv.Itoa(l.MaxEntries), "Description": markerDesc(l.ID)}
			for i, e := range l.Entries {
				p[fmt.Sprintf("Entry.%d.PortRange", i+1)] = e.Range.String()
				if e.Description != "" {
					p[fmt.Sprintf("Entry.%d.Description", i+1)] = e.Description
				}
			}
			b.add(Step{Product: "Ecs", Action: "CreatePortRangeList", Resource: l.ID, Params: p, creates: ref("prl", l.ID), idField: "PortRangeListId"})
			continue
		}
		p := map[string]string{"PortRangeListId": cur.ID}
		if l.Name != cur.Name {
			p["PortRangeListName"] = l.Name
		}
		n := 0
		for _, e := range cur.Entries {
			if model.PortEntryIndex(l.Entries, e.Range) < 0 {
				n++
				p[fmt.Sprintf("RemoveEntry.%d.PortRange", n)] = e.Range.String()
			}
		}
		n = 0
		for _, e := range l.Entries {
			if i := model.PortEntryIndex(cur.Entries, e.Range); i < 0 || cur.Entries[i].Description != e.Description {
				n++
				p[fmt.Sprintf("AddEntry.%d.PortRange", n)] = e.Range.String()
				if e.Description != "" {
					p[fmt.Sprintf("AddEntry.%d.Description", n)] = e.Description
				}
			}
		}
		if len(l.Entries) > cur.MaxEntries {
			b.p.Warnings = append(b.p.Warnings, fmt.Sprintf("%s (%s): maxEntries is %d, the file's %d entries need more; apply does not resize port range lists", l.ID, cur.ID, cur.MaxEntries, len(l.Entries)))
		}
		if len(p) > 1 {
			b.add(Step{Product: "Ecs", Action: "ModifyPortRangeList", Resource: l.ID, Params: p})
		}
	}
	return nil
}

// prunePortLists deletes the managed lists the file does not name; it
// returns their file IDs and the steps, to run after the groups go.
func (b *builder) prunePortLists() (left []string, steps []Step) {
	for _, id := range slices.Sorted(maps.Keys(b.prls)) {
		if !slices.ContainsFunc(b.sc.PortRangeLists, func(l *model.PortRangeList) bool { return l.ID == id }) {
			left = append(left, id)
			steps = append(steps, Step{Product: "Ecs", Action: "DeletePortRangeList", Resource: id, Note: "not in the file",
				Params: map[string]string{"PortRangeListId": b.prls[id].ID}})
		}
	}
	return left, steps
}

// portListKey is the rule identity's part for its port range list.
func (b *builder) portListKey(r *model.Rule) string {
	if r.PortRangeListID == "" {
		return ""
	}
	return "prl:" + cmpOr(b.toFile[r.PortRangeListID], r.PortRangeListID)
}

// portListsBeforeAfter are the port range lists before and after the plan,
// under file IDs where they have them (as the groups' rules are renamed).
func (b *builder) portListsBeforeAfter() (before, after []*model.PortRangeList) {
	for _, l := range b.st.Account.PortRangeLists {
		c := *l
		c.ID = cmpOr(b.toFile[l.ID], l.ID)
		before = append(before, &c)
		named := slices.ContainsFunc(b.sc.PortRangeLists, func(x *model.PortRangeList) bool { return x.ID == c.ID })
		if b.toFile[l.ID] == "" || !named && !b.opt.Prune {
			after = append(after, &c)
		}
	}
	return before, append(after, b.sc.PortRangeLists...)
}
