package apply

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// A new instance or ENI launches into a vSwitch of its VPC that holds its
// addresses; for those no vSwitch holds, apply makes vSwitches. A VPC's
// vSwitches may not overlap in either family, and each has one IPv4 block
// and at most one IPv6 /64, so the file's addresses are grouped first:
// each /24 (or the VPC's block, if smaller) is a vSwitch, except that
// addresses in one IPv6 /64 must share one, whose block then grows to the
// smallest that holds all of their /24s, taking in the blocks it covers.
// (Planned one address at a time, two /24s sharing a /64 made two
// vSwitches asking for the same /64, and the second was refused.)

// plannedVSwitch is a vSwitch apply makes: its IPv4 block and, when an
// address in it has one, its IPv6 /64.
type plannedVSwitch struct {
	block netip.Prefix
	ipv6  []netip.Prefix // the /64s of its addresses: one, unless the file's addresses cannot share a vSwitch
}

// endpoint is an address that needs a vSwitch: an instance's or an ENI's.
type endpoint struct {
	id, vpc    string // file IDs: the instance's or ENI's, its VPC's
	ipv4, ipv6 netip.Addr
}

// endpoints are the file's VPC instances and its ENIs.
func (b *builder) endpoints() []endpoint {
	var eps []endpoint
	for _, in := range b.sc.Instances {
		if in.VpcID != "" {
			eps = append(eps, endpoint{in.ID, in.VpcID, in.PrivateIP, in.IPv6})
		}
	}
	for _, n := range b.sc.ENIs {
		eps = append(eps, endpoint{n.ID, n.VpcID, n.PrivateIP, n.IPv6})
	}
	return eps
}

// planVSwitches plans, per VPC (file ID), the vSwitches for the file's
// instances and ENIs that no vSwitch of the account holds.
func (b *builder) planVSwitches() map[string][]*plannedVSwitch {
	eps := b.endpoints()
	bits := map[string]int{}
	for _, v := range b.sc.VPCs {
		bits[v.ID] = v.CIDR.Bits()
	}
	plans := map[string][]*plannedVSwitch{}
	for _, e := range eps {
		if b.heldVSwitch(e) != "" {
			continue
		}
		p := &plannedVSwitch{block: netip.PrefixFrom(e.ipv4, max(24, bits[e.vpc])).Masked()}
		if e.ipv6.IsValid() {
			p.ipv6 = []netip.Prefix{netip.PrefixFrom(e.ipv6, 64).Masked()}
		}
		plans[e.vpc] = append(plans[e.vpc], p)
	}
	for vpc, ps := range plans {
		plans[vpc] = mergeVSwitches(ps)
	}
	return plans
}

// checkVSwitches plans the vSwitches apply makes (planVSwitches) and
// refuses, before anything is applied, a plan the API would refuse midway:
// a vSwitch that must hold addresses of two /64s, or one that overlaps a
// vSwitch of the account (in either family; a vSwitch cannot grow).
func (b *builder) checkVSwitches() error {
	b.planned = b.planVSwitches()
	for _, vpc := range slices.Sorted(maps.Keys(b.planned)) {
		for _, p := range b.planned[vpc] {
			if len(p.ipv6) > 1 {
				return &FileError{fmt.Sprintf("VPC %s: the IPv4 addresses in %s need one vSwitch (a vSwitch's IPv6 addresses share one /64, and vSwitches may not overlap), but their IPv6 addresses are in %d /64s (%v): give them one /64, or IPv4 addresses in separate /24s", vpc, p.block, len(p.ipv6), p.ipv6)}
			}
			v, ok := b.vpcs[vpc]
			if !ok {
				continue
			}
			for _, w := range b.st.VSwitches {
				if w.VpcID != v.ID {
					continue
				}
				if w.CIDR.Overlaps(p.block) || len(p.ipv6) == 1 && w.IPv6CIDR.IsValid() && w.IPv6CIDR.Overlaps(p.ipv6[0]) {
					return &FileError{fmt.Sprintf("VPC %s: the addresses in %s (IPv6 %v) need a vSwitch of their own, which would overlap the account's vSwitch %s (%s, IPv6 %s), and a vSwitch cannot grow: give them addresses its blocks hold, or others", vpc, p.block, p.ipv6, w.ID, w.CIDR, w.IPv6CIDR)}
				}
			}
		}
	}
	return b.checkReserved()
}

// checkReserved refuses, before anything is applied, an instance or ENI
// at an address its vSwitch cannot assign: the first of the vSwitch's block
// or one of its last three (RunInstances or CreateNetworkInterface refused
// it midway, the steps before applied; for a NIC that moved there, after
// its old self was deleted). A NIC that exists keeps an address the API
// gave, so only moved and new ones can be refused.
func (b *builder) checkReserved() error {
	for _, e := range b.endpoints() {
		var block netip.Prefix
		if id := b.heldVSwitch(e); id != "" {
			for _, w := range b.st.VSwitches {
				if w.ID == id {
					block = w.CIDR
				}
			}
		} else if i := slices.IndexFunc(b.planned[e.vpc], func(p *plannedVSwitch) bool { return p.block.Contains(e.ipv4) }); i >= 0 {
			block = b.planned[e.vpc][i].block
		}
		if block.Contains(e.ipv4) && !model.Assignable(block, e.ipv4) {
			return &FileError{fmt.Sprintf("%s: %s's private address %s is the first or one of the last three addresses of %s, the block of the vSwitch apply launches it into, which the API does not assign: give it another address", b.sc.File, e.id, e.ipv4, block)}
		}
	}
	return nil
}

// mergeVSwitches merges planned vSwitches that overlap or share a /64
// until none do; the result is sorted by block.
func mergeVSwitches(ps []*plannedVSwitch) []*plannedVSwitch {
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(ps) && !merged; i++ {
			for j := i + 1; j < len(ps) && !merged; j++ {
				a, c := ps[i], ps[j]
				if !a.block.Overlaps(c.block) && !sharesAny(a.ipv6, c.ipv6) {
					continue
				}
				a.block = cover(a.block, c.block)
				for _, s := range c.ipv6 {
					if !slices.Contains(a.ipv6, s) {
						a.ipv6 = append(a.ipv6, s)
					}
				}
				ps = slices.Delete(ps, j, j+1)
				merged = true
			}
		}
	}
	slices.SortFunc(ps, func(a, c *plannedVSwitch) int { return a.block.Addr().Compare(c.block.Addr()) })
	return ps
}

func sharesAny(a, c []netip.Prefix) bool {
	for _, p := range a {
		if slices.Contains(c, p) {
			return true
		}
	}
	return false
}

// cover is the smallest block that holds both a and c (of one family).
func cover(a, c netip.Prefix) netip.Prefix {
	bits := min(a.Bits(), c.Bits())
	for bits > 0 && !netip.PrefixFrom(a.Addr(), bits).Masked().Contains(c.Addr()) {
		bits--
	}
	return netip.PrefixFrom(a.Addr(), bits).Masked()
}

// heldVSwitch is the account's vSwitch of e's VPC that holds e's
// addresses ("" if none).
func (b *builder) heldVSwitch(e endpoint) string {
	v, ok := b.vpcs[e.vpc]
	if !ok {
		return ""
	}
	for _, w := range b.st.VSwitches {
		if w.VpcID == v.ID && w.CIDR.Contains(e.ipv4) && (!e.ipv6.IsValid() || w.IPv6CIDR.Contains(e.ipv6)) {
			return w.ID
		}
	}
	return ""
}

// vSwitch returns the vSwitch a new instance or ENI with these addresses
// launches into: the account's that holds them, else the one planned for
// them, made by the first that needs it.
func (b *builder) vSwitch(e endpoint) string {
	if id := b.heldVSwitch(e); id != "" {
		return id
	}
	if b.planned == nil {
		b.planned = b.planVSwitches()
	}
	i := slices.IndexFunc(b.planned[e.vpc], func(p *plannedVSwitch) bool { return p.block.Contains(e.ipv4) })
	if i < 0 { // planned for every endpoint of the file: not reached
		b.planned[e.vpc] = append(b.planned[e.vpc], &plannedVSwitch{block: netip.PrefixFrom(e.ipv4, 24).Masked()})
		i = len(b.planned[e.vpc]) - 1
	}
	p := b.planned[e.vpc][i]
	key := e.vpc + "/" + p.block.String()
	if r, ok := b.newVSw[key]; ok {
		return r
	}
	r := ref("vsw", key)
	b.newVSw[key] = r
	params := map[string]string{"VpcId": b.vpcID(e.vpc), "ZoneId": b.opt.Zone, "CidrBlock": p.block.String(),
		"Description": vSwitchDesc(e.vpc)}
	if len(p.ipv6) > 0 {
		// The /64 inside the VPC's /56: its eighth byte. Addresses of
		// several /64s that must share this vSwitch cannot: RunInstances
		// or CreateNetworkInterface refuses those outside this one.
		params["Ipv6CidrBlock"] = strconv.Itoa(int(p.ipv6[0].Addr().As16()[7]))
	}
	b.add(Step{Product: "Vpc", Action: "CreateVSwitch", Resource: e.vpc, Params: params, Note: "for " + e.id, creates: r, idField: "VSwitchId"})
	return r
}
