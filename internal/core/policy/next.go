package policy

import (
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Edit names the records that differ between a snapshot and the next one:
// each map holds the new version of a changed record, or nil for one
// deleted. Records not named are unchanged.
type Edit struct {
	Groups         map[string]*model.SecurityGroup
	Instances      map[string]*model.Instance // NICs, as in Cloud.Instances
	PrefixLists    map[string]*model.PrefixList
	PortRangeLists map[string]*model.PortRangeList
}

// Next returns the snapshot c becomes with an edit, as NewCloud would build
// it from the edited records, without rebuilding what the edit leaves
// alone: the maps and indexes it does not touch are shared with c, which
// stays as it was. A change of one group's rules costs a copy of the group
// map, not a pass over every instance.
func (c *Cloud) Next(e Edit) *Cloud {
	n := *c
	if len(e.PrefixLists) > 0 {
		n.PrefixLists = maps.Clone(c.PrefixLists)
		apply(n.PrefixLists, e.PrefixLists)
	}
	if len(e.PortRangeLists) > 0 {
		n.PortRangeLists = maps.Clone(c.PortRangeLists)
		if n.PortRangeLists == nil {
			n.PortRangeLists = map[string]*model.PortRangeList{}
		}
		apply(n.PortRangeLists, e.PortRangeLists)
	}
	// Groups whose member lists must be made again: those of changed
	// instances (old and new versions), and groups created or deleted
	// (members only count groups that exist).
	remember := map[string]bool{}
	if len(e.Groups) > 0 {
		n.Groups = maps.Clone(c.Groups)
		for id, g := range e.Groups {
			if (c.Groups[id] == nil) != (g == nil) {
				remember[id] = true
			}
		}
		apply(n.Groups, e.Groups)
	}
	if len(e.Instances) > 0 {
		n.Instances = maps.Clone(c.Instances)
		n.byPrivate = maps.Clone(c.byPrivate)
		n.byPublic = maps.Clone(c.byPublic)
		for id, in := range e.Instances {
			if old := c.Instances[id]; old != nil {
				for _, a := range old.Addresses() {
					if k := (netKey{old.VpcID, a}); n.byPrivate[k] == old {
						delete(n.byPrivate, k)
					}
				}
				if old.PublicIP.IsValid() && n.byPublic[old.PublicIP] == old {
					delete(n.byPublic, old.PublicIP)
				}
				for _, g := range old.SecurityGroups {
					remember[g] = true
				}
			}
			if in == nil {
				delete(n.Instances, id)
				continue
			}
			n.Instances[id] = in
			for _, a := range in.Addresses() {
				n.byPrivate[netKey{in.VpcID, a}] = in
			}
			if in.PublicIP.IsValid() {
				n.byPublic[in.PublicIP] = in
			}
			for _, g := range in.SecurityGroups {
				remember[g] = true
			}
		}
	}
	if len(remember) > 0 {
		n.members, n.memberAddrs = maps.Clone(c.members), maps.Clone(c.memberAddrs)
		var created []string // groups whose members must be found by a scan
		for g := range remember {
			if (c.Groups[g] == nil) != (n.Groups[g] == nil) {
				created = append(created, g)
				continue
			}
			var list []*model.Instance
			for _, m := range c.members[g] {
				if _, changed := e.Instances[m.ID]; !changed {
					list = append(list, m)
				}
			}
			for _, in := range e.Instances {
				if in != nil && n.Groups[g] != nil && slices.Contains(in.SecurityGroups, g) {
					list = append(list, in)
				}
			}
			n.setMembers(g, list)
		}
		if len(created) > 0 {
			lists := map[string][]*model.Instance{}
			for _, in := range n.Instances {
				for _, g := range in.SecurityGroups {
					if slices.Contains(created, g) {
						lists[g] = append(lists[g], in)
					}
				}
			}
			for _, g := range created {
				if n.Groups[g] == nil {
					lists[g] = nil
				}
				n.setMembers(g, lists[g])
			}
		}
	}
	return &n
}

// setMembers sets a group's members (in ID order, as NewCloud gets them
// from a listing) and their addresses, in maps n owns.
func (n *Cloud) setMembers(g string, list []*model.Instance) {
	if len(list) == 0 {
		delete(n.members, g)
		delete(n.memberAddrs, g)
		return
	}
	slices.SortFunc(list, func(a, b *model.Instance) int { return strings.Compare(a.ID, b.ID) })
	addrs := map[netip.Addr]bool{}
	for _, in := range list {
		for _, a := range in.Addresses() {
			addrs[a] = true
		}
	}
	n.members[g], n.memberAddrs[g] = list, addrs
}

func apply[T any](m map[string]*T, e map[string]*T) {
	for id, v := range e {
		if v == nil {
			delete(m, id)
		} else {
			m[id] = v
		}
	}
}
