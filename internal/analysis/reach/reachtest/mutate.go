package reachtest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

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

// MutateRules applies one random change of rules to a copy of the cloud:
// in one or two groups, a rule added, removed or changed in one field
// (protocol, ports, port range list, source ports, peer, priority,
// policy, direction, path; now and then a local CIDR), so that every kind
// of region an Update folds meets the others. Now and then an instance
// also joins or leaves a group in the same change. It returns the changed
// copy and the change, for reach's Update.
func MutateRules(rng *rand.Rand, c *cloudgen.Cloud) (*cloudgen.Cloud, reach.Change, string) {
	out := Copy(c)
	var ch reach.Change
	var desc []string
	for range 1 + rng.IntN(2) {
		g := out.Groups[rng.IntN(len(out.Groups))]
		if !slices.Contains(ch.Groups, g.ID) {
			ch.Groups = append(ch.Groups, g.ID)
		}
		switch k := rng.IntN(4); {
		case k == 0 && len(g.Rules) > 0:
			i := rng.IntN(len(g.Rules))
			desc = append(desc, fmt.Sprintf("remove %s from %s", g.Rules[i].ID, g.ID))
			g.Rules = slices.Delete(g.Rules, i, i+1)
		case k == 1 && len(g.Rules) > 0:
			r := &g.Rules[rng.IntN(len(g.Rules))]
			desc = append(desc, fmt.Sprintf("change %s of %s in %s", changeRule(rng, out, g, r), r.ID, g.ID))
		default:
			r := model.Rule{ID: fmt.Sprintf("sgr-fold-%d", rng.IntN(1e9)), Direction: model.Ingress, Policy: model.Accept,
				Priority: 1, Protocol: model.TCP, PortRange: model.PortRange{Start: 7777, End: 7777}, NicType: model.Intranet,
				Peer: model.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}}
			var what []string
			for range 1 + rng.IntN(3) {
				what = append(what, changeRule(rng, out, g, &r))
			}
			g.Rules = slices.Insert(g.Rules, rng.IntN(len(g.Rules)+1), r)
			desc = append(desc, fmt.Sprintf("add %s (%s) to %s", r.ID, strings.Join(what, ", "), g.ID))
		}
	}
	if rng.IntN(6) == 0 { // an instance joins or leaves a group too
		in := out.Instances[rng.IntN(len(out.Instances))]
		g := out.Groups[rng.IntN(len(out.Groups))]
		first := groupByID(out, in.SecurityGroups[0])
		switch i := slices.Index(in.SecurityGroups, g.ID); {
		case i >= 0 && len(in.SecurityGroups) > 1:
			in.SecurityGroups = slices.Delete(in.SecurityGroups, i, i+1)
			ch.Instances = []string{in.ID}
			desc = append(desc, fmt.Sprintf("%s leaves %s", in.ID, g.ID))
		case i < 0 && first != nil && first.Type == g.Type && g.VpcID == in.VpcID && len(in.SecurityGroups) < 5:
			in.SecurityGroups = append(in.SecurityGroups, g.ID)
			ch.Instances = []string{in.ID}
			desc = append(desc, fmt.Sprintf("%s joins %s", in.ID, g.ID))
		}
	}
	return out, ch, strings.Join(desc, "; ")
}

// changeRule changes one field of a rule of group g at random and says
// which.
func changeRule(rng *rand.Rand, c *cloudgen.Cloud, g *model.SecurityGroup, r *model.Rule) string {
	switch rng.IntN(10) {
	case 0:
		r.Protocol = []model.Protocol{model.TCP, model.UDP, model.ICMP, model.ICMPv6, model.GRE, model.ALL}[rng.IntN(6)]
		if !r.Protocol.HasPorts() {
			r.PortRange, r.PortRangeListID, r.SourcePortRange = model.AnyPort, "", model.PortRange{}
		} else if r.PortRange.IsAny() && r.PortRangeListID == "" {
			r.PortRange = model.PortRange{Start: 1, End: 65535}
		}
		return "protocol " + string(r.Protocol)
	case 1, 2:
		if !r.Protocol.HasPorts() {
			r.Protocol = model.UDP
		}
		p := int32([]int{1, 22, 80, 443, 3306, 7777, 8000, 65535}[rng.IntN(8)])
		r.PortRange = [](model.PortRange){{Start: p, End: p}, {Start: p, End: min(p+int32(rng.IntN(5000)), 65535)},
			{Start: 1, End: 65535}, {Start: 1, End: p}, model.AnyPort}[rng.IntN(5)]
		r.PortRangeListID = ""
		if len(c.PortRangeLists) > 0 && rng.IntN(4) == 0 {
			r.PortRangeListID = c.PortRangeLists[rng.IntN(len(c.PortRangeLists))].ID
		}
		return "ports " + r.PortRange.String() + " " + r.PortRangeListID
	case 3:
		r.Priority = []int{1, 1, 2, 5, 50, 100}[rng.IntN(6)]
		return fmt.Sprint("priority ", r.Priority)
	case 4:
		r.Policy = map[model.Policy]model.Policy{model.Accept: model.Drop, model.Drop: model.Accept}[r.Policy]
		return "policy " + string(r.Policy)
	case 5:
		r.Direction = map[model.Direction]model.Direction{model.Ingress: model.Egress, model.Egress: model.Ingress}[r.Direction]
		return "direction " + string(r.Direction)
	case 6:
		if r.Protocol.HasPorts() {
			r.SourcePortRange = []model.PortRange{{}, {Start: 1, End: 1023}, {Start: 32768, End: 65535}}[rng.IntN(3)]
			return "source ports " + r.SourcePortRange.String()
		}
		r.NicType = map[model.NicType]model.NicType{model.Intranet: model.Internet, model.Internet: model.Intranet}[r.NicType]
		return "path " + string(r.NicType)
	case 7:
		if rng.IntN(3) == 0 && r.Peer.CIDR.IsValid() { // class keys change: no fold
			r.Local = netip.MustParsePrefix([]string{"10.0.0.0/16", "10.1.0.0/16", "10.0.0.0/8"}[rng.IntN(3)])
			if r.Peer.CIDR.Addr().Is6() {
				r.Local = netip.MustParsePrefix("2001:db8::/40")
			}
			return "local " + r.Local.String()
		}
		r.Local = netip.Prefix{}
		return "no local"
	}
	// The peer: a block around an instance or outside address, of either
	// family, or one of the peers other rules name.
	r.Peer = model.Peer{}
	switch rng.IntN(3) {
	case 0:
		var a netip.Addr
		if in := c.Instances[rng.IntN(len(c.Instances))]; rng.IntN(3) > 0 {
			a = in.PrivateIP
			if in.IPv6.IsValid() && rng.IntN(3) == 0 {
				a = in.IPv6
			}
		} else if len(c.Outside) > 0 {
			a = c.Outside[rng.IntN(len(c.Outside))]
		} else {
			a = in.PrivateIP
		}
		bits := []int{0, 8, 16, 24, 32}[rng.IntN(5)] * a.BitLen() / 32
		r.Peer.CIDR = netip.PrefixFrom(a, bits).Masked()
		r.Peer.CIDRText = r.Peer.CIDR.String()
	default:
		var peers []model.Peer
		for _, o := range c.Groups {
			for _, x := range o.Rules {
				if o.VpcID == g.VpcID && x.Peer.GroupID != g.ID {
					peers = append(peers, x.Peer)
				}
			}
		}
		if len(peers) == 0 {
			r.Peer.CIDR = netip.MustParsePrefix("10.0.0.0/8")
			break
		}
		r.Peer = peers[rng.IntN(len(peers))]
	}
	if r.Peer.CIDR.IsValid() && r.Local.IsValid() && r.Peer.CIDR.Addr().Is6() != r.Local.Addr().Is6() {
		r.Local = netip.Prefix{}
	}
	return "peer " + r.Peer.CIDR.String() + r.Peer.GroupID + r.Peer.PrefixListID
}
