package policy

import (
	"net/netip"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Cloud is a consistent snapshot of the resources evaluation needs, with
// the indexes both evaluators share. It is read-only once built.
//
// The unit of policy is the network interface (NIC): Instances holds the
// NICs, each in the shape of an instance, keyed by ID. An instance stands
// for its primary NIC; a secondary ENI attached to it is a NIC of its own
// with its own groups and addresses (model.NICs builds the list). A flow's
// end, a group's members and the compiled per-instance policies are NICs.
type Cloud struct {
	Groups      map[string]*model.SecurityGroup
	Instances   map[string]*model.Instance
	PrefixLists map[string]*model.PrefixList
	// PortRangeLists are the lists rules take their ports from; see
	// WithPortRangeLists. A rule naming a list missing here matches no port.
	PortRangeLists map[string]*model.PortRangeList

	members     map[string][]*model.Instance   // group ID → member instances
	memberAddrs map[string]map[netip.Addr]bool // group ID → members' private addresses
	byPrivate   map[netKey]*model.Instance     // (network, address) → instance
	byPublic    map[netip.Addr]*model.Instance // public IPv4 → instance
}

// netKey names an address inside one network: a VPC ID, or "" for the
// classic network.
type netKey struct {
	net  string
	addr netip.Addr
}

// NewCloud indexes a snapshot. Instances that name unknown groups keep the
// groups that exist.
func NewCloud(groups []*model.SecurityGroup, instances []*model.Instance, prefixLists []*model.PrefixList) *Cloud {
	c := &Cloud{
		Groups:      make(map[string]*model.SecurityGroup, len(groups)),
		Instances:   make(map[string]*model.Instance, len(instances)),
		PrefixLists: make(map[string]*model.PrefixList, len(prefixLists)),
		members:     map[string][]*model.Instance{},
		memberAddrs: map[string]map[netip.Addr]bool{},
		byPrivate:   map[netKey]*model.Instance{},
		byPublic:    map[netip.Addr]*model.Instance{},
	}
	for _, g := range groups {
		c.Groups[g.ID] = g
	}
	for _, p := range prefixLists {
		c.PrefixLists[p.ID] = p
	}
	for _, in := range instances {
		c.Instances[in.ID] = in
		for _, a := range in.Addresses() {
			c.byPrivate[netKey{in.VpcID, a}] = in
		}
		if in.PublicIP.IsValid() {
			c.byPublic[in.PublicIP] = in
		}
		for _, gid := range in.SecurityGroups {
			if _, ok := c.Groups[gid]; !ok {
				continue
			}
			c.members[gid] = append(c.members[gid], in)
			m := c.memberAddrs[gid]
			if m == nil {
				m = map[netip.Addr]bool{}
				c.memberAddrs[gid] = m
			}
			for _, a := range in.Addresses() {
				m[a] = true
			}
		}
	}
	return c
}

// WithPortRangeLists adds the port range lists to a snapshot being built
// (before it is used) and returns it. It is apart from NewCloud so that the
// snapshots without any list need no change.
func (c *Cloud) WithPortRangeLists(lists []*model.PortRangeList) *Cloud {
	c.PortRangeLists = make(map[string]*model.PortRangeList, len(lists))
	for _, l := range lists {
		c.PortRangeLists[l.ID] = l
	}
	return c
}

// DestPorts returns the destination port ranges a rule of a protocol with
// ports admits: its PortRange (AnyPort when absent), or its port range
// list's ranges (none when the list is unknown).
func (c *Cloud) DestPorts(r *model.Rule) []model.PortRange {
	if r.PortRangeListID == "" {
		if r.PortRange.IsAny() {
			return []model.PortRange{model.AnyPort}
		}
		return []model.PortRange{r.PortRange}
	}
	if l, ok := c.PortRangeLists[r.PortRangeListID]; ok {
		return l.Ranges()
	}
	return nil
}

// Members returns the instances in a group.
func (c *Cloud) Members(groupID string) []*model.Instance { return c.members[groupID] }

// groupsOf returns the existing groups of an instance, in its order.
func (c *Cloud) groupsOf(in *model.Instance) []*model.SecurityGroup {
	gs := make([]*model.SecurityGroup, 0, len(in.SecurityGroups))
	for _, id := range in.SecurityGroups {
		if g, ok := c.Groups[id]; ok {
			gs = append(gs, g)
		}
	}
	return gs
}

// enterprise reports whether an instance's groups are enterprise groups (an
// instance's groups are all of one type).
func (c *Cloud) enterprise(in *model.Instance) bool {
	gs := c.groupsOf(in)
	return len(gs) > 0 && gs[0].Type == model.Enterprise
}

// intraSet holds the private addresses of the members of an instance's basic
// groups whose InnerAccessPolicy is Accept (members always reach each other),
// each mapped to the group that grants it.
type intraSet struct {
	group string                // the only such group, if there is one
	addrs map[netip.Addr]bool   // its members
	multi map[netip.Addr]string // merged sets when there are several
}

func (c *Cloud) intraSet(in *model.Instance) intraSet {
	var s intraSet
	var groups []*model.SecurityGroup
	for _, g := range c.groupsOf(in) {
		if g.InnerAccept() {
			groups = append(groups, g)
		}
	}
	switch len(groups) {
	case 0:
	case 1:
		s.group, s.addrs = groups[0].ID, c.memberAddrs[groups[0].ID]
	default:
		s.multi = map[netip.Addr]string{}
		for i := len(groups) - 1; i >= 0; i-- { // the first group in the instance's order wins
			for a := range c.memberAddrs[groups[i].ID] {
				s.multi[a] = groups[i].ID
			}
		}
	}
	return s
}

// lookup returns the shared group if the remote private address belongs to
// a member of one.
func (s *intraSet) lookup(remote netip.Addr) (string, bool) {
	if s.multi != nil {
		g, ok := s.multi[remote]
		return g, ok
	}
	return s.group, s.addrs[remote]
}

// peerContains reports whether a rule's peer stands for the address: a CIDR
// block containing it, a group one of whose members has it as a private
// address, or a prefix list with an entry containing it.
func (c *Cloud) peerContains(p *model.Peer, a netip.Addr) bool {
	switch {
	case p.CIDR.IsValid():
		return p.CIDR.Masked().Contains(a)
	case p.GroupID != "":
		return c.memberAddrs[p.GroupID][a]
	case p.PrefixListID != "":
		if pl, ok := c.PrefixLists[p.PrefixListID]; ok {
			for _, e := range pl.Entries {
				if e.CIDR.Masked().Contains(a) {
					return true
				}
			}
		}
	}
	return false
}
