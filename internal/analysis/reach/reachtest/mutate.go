package reachtest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// Copy returns a deep copy of a generated cloud, so that a change to the
// copy leaves snapshots of the original intact.
func Copy(c *cloudgen.Cloud) *cloudgen.Cloud {
	out := &cloudgen.Cloud{VPCs: c.VPCs, Outside: c.Outside}
	for _, g := range c.Groups {
		cp := *g
		cp.Rules = slices.Clone(g.Rules)
		out.Groups = append(out.Groups, &cp)
	}
	for _, in := range c.Instances {
		cp := *in
		cp.SecurityGroups = slices.Clone(in.SecurityGroups)
		out.Instances = append(out.Instances, &cp)
	}
	for _, pl := range c.PrefixLists {
		cp := *pl
		cp.Entries = slices.Clone(pl.Entries)
		out.PrefixLists = append(out.PrefixLists, &cp)
	}
	for _, l := range c.PortRangeLists {
		cp := *l
		cp.Entries = slices.Clone(l.Entries)
		out.PortRangeLists = append(out.PortRangeLists, &cp)
	}
	return out
}

// Mutate applies one random change to a copy of the cloud, of the kinds the
// API makes: a rule added, removed or modified; an instance joining or
// leaving a group; a prefix list edited; a group's intra-group policy
// switched; an instance created, deleted or given a public address. It
// returns the changed copy and the change, for reach's Update.
func Mutate(rng *rand.Rand, c *cloudgen.Cloud) (*cloudgen.Cloud, reach.Change, string) {
	out := Copy(c)
	var ch reach.Change
	g := out.Groups[rng.IntN(len(out.Groups))]
	in := out.Instances[rng.IntN(len(out.Instances))]
	switch k := rng.IntN(11); {
	case k == 9 && len(out.Groups) > 3: // delete a group; rules naming it dangle, and so do the
		// instances listing it (the API refuses that, a snapshot may not)
		i := slices.Index(out.Groups, g)
		out.Groups = slices.Delete(out.Groups, i, i+1)
		ch.Groups = []string{g.ID}
		return out, ch, "delete " + g.ID
	case k == 10: // create a group with a rule, and move an instance into it
		first := groupByID(out, in.SecurityGroups[0])
		if first == nil || len(in.SecurityGroups) >= 5 {
			return Mutate(rng, c)
		}
		n := &model.SecurityGroup{ID: fmt.Sprintf("sg-new-%d", rng.IntN(1e6)), VpcID: in.VpcID, Type: first.Type, InnerAccessPolicy: model.InnerAccept,
			Rules: []model.Rule{{ID: "sgr-new", Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
				PortRange: model.PortRange{Start: 8443, End: 8443}, Peer: model.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}, NicType: model.Intranet}}}
		if first.Type == model.Enterprise {
			n.InnerAccessPolicy = model.InnerDrop
		}
		out.Groups = append(out.Groups, n)
		in.SecurityGroups = append(in.SecurityGroups, n.ID)
		ch.Groups, ch.Instances = []string{n.ID}, []string{in.ID}
		return out, ch, fmt.Sprintf("create %s with %s in it", n.ID, in.ID)
	case k == 0 && len(g.Rules) > 0: // remove a rule
		i := rng.IntN(len(g.Rules))
		ch.Groups = []string{g.ID}
		desc := fmt.Sprintf("remove %s from %s", g.Rules[i].ID, g.ID)
		g.Rules = slices.Delete(g.Rules, i, i+1)
		return out, ch, desc
	case k <= 1 && len(g.Rules) > 0: // modify a rule: its policy, priority or ports
		r := &g.Rules[rng.IntN(len(g.Rules))]
		switch rng.IntN(3) {
		case 0:
			r.Policy = map[model.Policy]model.Policy{model.Accept: model.Drop, model.Drop: model.Accept}[r.Policy]
		case 1:
			r.Priority = 1 + rng.IntN(100)
		default:
			if r.Protocol.HasPorts() {
				p := int32(1 + rng.IntN(9000))
				r.PortRange, r.PortRangeListID = model.PortRange{Start: p, End: p + int32(rng.IntN(100))}, ""
			} else {
				r.Policy = model.Drop
			}
		}
		ch.Groups = []string{g.ID}
		return out, ch, fmt.Sprintf("modify %s in %s", r.ID, g.ID)
	case k <= 2: // add a copy of another group's rule
		src := out.Groups[rng.IntN(len(out.Groups))]
		if len(src.Rules) == 0 || src.VpcID != g.VpcID || src.Type != g.Type {
			return Mutate(rng, c)
		}
		r := src.Rules[rng.IntN(len(src.Rules))]
		if r.Peer.GroupID == g.ID {
			return Mutate(rng, c)
		}
		r.ID = fmt.Sprintf("sgr-new-%d", rng.IntN(1e6))
		g.Rules = append(g.Rules, r)
		ch.Groups = []string{g.ID}
		return out, ch, fmt.Sprintf("add %s to %s", r.ID, g.ID)
	case k == 3: // join or leave a group
		ch.Instances = []string{in.ID}
		if i := slices.Index(in.SecurityGroups, g.ID); i >= 0 && len(in.SecurityGroups) > 1 {
			in.SecurityGroups = slices.Delete(in.SecurityGroups, i, i+1)
			return out, ch, fmt.Sprintf("%s leaves %s", in.ID, g.ID)
		}
		first := groupByID(out, in.SecurityGroups[0])
		if first == nil || first.Type != g.Type || g.VpcID != in.VpcID || slices.Contains(in.SecurityGroups, g.ID) {
			return Mutate(rng, c)
		}
		in.SecurityGroups = append(in.SecurityGroups, g.ID)
		return out, ch, fmt.Sprintf("%s joins %s", in.ID, g.ID)
	case k == 4 && len(out.PortRangeLists) > 0 && rng.IntN(2) == 0: // edit a port range list
		l := out.PortRangeLists[rng.IntN(len(out.PortRangeLists))]
		if len(l.Entries) > 1 && rng.IntN(2) == 0 {
			i := rng.IntN(len(l.Entries))
			desc := fmt.Sprintf("remove %s from %s", l.Entries[i].Range, l.ID)
			l.Entries = slices.Delete(l.Entries, i, i+1)
			ch.PortRangeLists = []string{l.ID}
			return out, ch, desc
		}
		p := int32(1 + rng.IntN(9000))
		e := model.PortEntry{Range: model.PortRange{Start: p, End: p + int32(rng.IntN(50))}}
		if model.PortEntryIndex(l.Entries, e.Range) >= 0 {
			return Mutate(rng, c)
		}
		l.Entries = append(l.Entries, e)
		ch.PortRangeLists = []string{l.ID}
		return out, ch, fmt.Sprintf("add %s to %s", e.Range, l.ID)
	case k == 4 && len(out.PrefixLists) > 0: // edit a prefix list
		pl := out.PrefixLists[rng.IntN(len(out.PrefixLists))]
		a := out.Instances[rng.IntN(len(out.Instances))].PrivateIP
		if pl.AddressFamily == "IPv6" {
			a = netip.MustParseAddr("2001:db8::").Next()
		}
		p, _ := a.Prefix([]int{32, 24, 16}[rng.IntN(3)] * a.BitLen() / 32)
		pl.Entries = append(pl.Entries, model.PrefixEntry{CIDR: p})
		ch.PrefixLists = []string{pl.ID}
		return out, ch, fmt.Sprintf("add %s to %s", p, pl.ID)
	case k == 5 && g.Type == model.Normal: // switch intra-group access
		g.InnerAccessPolicy = map[string]string{model.InnerAccept: model.InnerDrop, model.InnerDrop: model.InnerAccept}[g.InnerAccessPolicy]
		ch.Groups = []string{g.ID}
		return out, ch, fmt.Sprintf("%s inner policy %s", g.ID, g.InnerAccessPolicy)
	case k == 6: // a new instance, a clone of another one at a new address
		n := *in
		n.ID = in.ID + "-new"
		n.SecurityGroups = slices.Clone(in.SecurityGroups)
		n.PrivateIP = netip.AddrFrom4([4]byte{10, in.PrivateIP.As4()[1], 200, byte(rng.IntN(250))})
		if n.PublicIP.IsValid() {
			n.PublicIP = netip.AddrFrom4([4]byte{198, 18, 0, byte(rng.IntN(250))})
		}
		n.IPv6 = netip.Addr{}
		if slices.ContainsFunc(out.Instances, func(x *model.Instance) bool { return x.ID == n.ID }) {
			return Mutate(rng, c)
		}
		out.Instances = append(out.Instances, &n)
		ch.Instances = []string{n.ID}
		return out, ch, "create " + n.ID
	case k == 7 && len(out.Instances) > 2: // delete an instance
		i := slices.Index(out.Instances, in)
		out.Instances = slices.Delete(out.Instances, i, i+1)
		ch.Instances = []string{in.ID}
		return out, ch, "delete " + in.ID
	case k == 8: // give or take a public address
		if in.PublicIP.IsValid() {
			in.PublicIP = netip.Addr{}
		} else {
			in.PublicIP = netip.AddrFrom4([4]byte{198, 18, 1, byte(rng.IntN(250))})
		}
		ch.Instances = []string{in.ID}
		return out, ch, "switch the public address of " + in.ID
	}
	return Mutate(rng, c)
}

func groupByID(c *cloudgen.Cloud, id string) *model.SecurityGroup {
	for _, g := range c.Groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}
