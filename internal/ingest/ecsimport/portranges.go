package ecsimport

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Port range lists (prl-…): DescribePortRangeLists pages and
// DescribePortRangeListEntries answers. The newer APIs answer with bare
// arrays, and an entries answer does not name its list: the list ID is
// taken from the answer's PortRangeListId if a user added it, else from
// the file name (or the live call) it came from.

// portRangeListsPage is a DescribePortRangeLists response.
type portRangeListsPage struct {
	NextToken      string
	PortRangeLists []portRangeListItem
}

type portRangeListItem struct {
	PortRangeListId   string
	PortRangeListName string
	Description       string
	MaxEntries        num
	CreationTime      string
}

// portRangeEntries is a DescribePortRangeListEntries response.
type portRangeEntries struct {
	PortRangeListId string // not in ECS's answer; accepted when added
	Entries         []struct{ PortRange, Description string }
}

const (
	kindPortRangeLists   kind = "DescribePortRangeLists"
	kindPortRangeEntries kind = "DescribePortRangeListEntries"
)

// portListKind tells the port range list answers apart from the others.
func portListKind(top map[string]json.RawMessage) kind {
	has := func(k string) bool { _, ok := top[k]; return ok }
	switch {
	case has("PortRangeLists"):
		return kindPortRangeLists
	case has("Entries") && !has("PrefixListId"):
		return kindPortRangeEntries
	}
	return kindUnknown
}

type portListData struct {
	src     string
	item    *portRangeListItem
	entries *portRangeEntries
}

func (b *builder) portList(src, id string) *portListData {
	if b.prls == nil {
		b.prls = map[string]*portListData{}
	}
	d := b.prls[id]
	if d == nil {
		d = &portListData{src: src}
		b.prls[id] = d
	}
	return d
}

var prlID = regexp.MustCompile(`prl-[A-Za-z0-9]+`)

// addPortList takes a port range list answer; it reports false for other
// kinds.
func (b *builder) addPortList(src string, k kind, raw json.RawMessage) (bool, error) {
	switch k {
	case kindPortRangeLists:
		var p portRangeListsPage
		if err := json.Unmarshal(raw, &p); err != nil {
			return true, fmt.Errorf("%s: a %s response that cannot be read: %w", src, k, err)
		}
		b.paged(string(k), src, p.NextToken, 0)
		for i := range p.PortRangeLists {
			it := &p.PortRangeLists[i]
			if d := b.portList(src, it.PortRangeListId); d.item == nil {
				d.item = it
			}
		}
		return true, nil
	case kindPortRangeEntries:
		var e portRangeEntries
		if err := json.Unmarshal(raw, &e); err != nil {
			return true, fmt.Errorf("%s: a %s response that cannot be read: %w", src, k, err)
		}
		id := cmp.Or(e.PortRangeListId, prlID.FindString(src))
		if id == "" {
			b.warn(src, "", "", "a DescribePortRangeListEntries answer does not say which list it is for; name its file after the list (for example %s.json) and import again", "prl-…-entries")
			return true, nil
		}
		if d := b.portList(src, id); d.entries == nil {
			d.entries = &e
		}
		return true, nil
	}
	return false, nil
}

// convertPortList builds a port range list; entries are parsed as
// CreatePortRangeList parses them.
func (b *builder) convertPortList(id string, d *portListData) *model.PortRangeList {
	l := &model.PortRangeList{ID: id, Region: b.region, Name: id, Entries: []model.PortEntry{}}
	if it := d.item; it != nil {
		l.Name, l.Description, l.MaxEntries, l.Created = cmp.Or(it.PortRangeListName, id), it.Description, int(it.MaxEntries), parseTime(it.CreationTime)
	}
	if d.entries == nil {
		b.warn(d.src, id, "", "no DescribePortRangeListEntries answer, so the list is imported without entries and rules naming it match no port: save `DescribePortRangeListEntries --PortRangeListId %s` as %s.json too", id, id)
		return l
	}
	for _, en := range d.entries.Entries {
		r, e := model.ParseListPortRange(en.PortRange, "PortRange")
		if e == nil {
			e = l.AddEntry(model.PortEntry{Range: r, Description: en.Description})
		}
		if e != nil {
			b.warn(d.src, id, "", "entry skipped: %s", e.Message)
		}
	}
	l.MaxEntries = max(l.MaxEntries, len(l.Entries), 1)
	return l
}

// finishPortLists converts the lists read and warns about rules naming a
// list the import does not hold.
func (b *builder) finishPortLists(a *Account) {
	held := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(b.prls)) {
		l := b.convertPortList(id, b.prls[id])
		l.Owner = a.Owner
		a.PortRangeLists = append(a.PortRangeLists, l)
		held[id] = true
	}
	for _, g := range a.Groups {
		for _, r := range g.Rules {
			if r.PortRangeListID != "" && !held[r.PortRangeListID] {
				src := cmp.Or(b.ruleSrc[g.ID+"/"+r.ID], b.groups[g.ID].src)
				b.warn(src, g.ID, r.ID, "the rule takes its ports from port list %s, which the import does not hold, so it matches no port when evaluated; save DescribePortRangeLists and DescribePortRangeListEntries too", r.PortRangeListID)
			}
		}
	}
}
