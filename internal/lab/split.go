package lab

import (
	"fmt"
	"net/netip"
	"slices"
)

// Two VPCs may hold the same private addresses (ECS allows it, and a copied
// VPC block does it), but one lab routes every private address in one table
// (hosts, internet). Split cuts such a spec into labs that each hold every
// private address once, to be played one after the other: every instance
// keeps its place (host) and the control plane still holds them all, so the
// agents' policy is the same in each; only the namespaces differ.

// Part is one lab of a split spec and the flows to play in it.
type Part struct {
	Spec  Spec
	Flows []int // indexes into the ends given to Split
}

// Split lays out the flows whose ends (instance IDs or outside addresses)
// are ends[i] over labs that each hold both ends of their flows and no
// private address twice. A spec without a shared private address gives one
// part, the spec itself with every flow: it plays exactly as it did. The
// first part holds every instance it can (all of them without a shared
// address), the later ones only what their flows need. A flow whose two
// ends share a private address (across VPCs, where they meet at public
// addresses) fits in no lab: unplayable says why, by flow index.
func (s Spec) Split(ends [][2]string) (parts []Part, unplayable map[int]string) {
	unit := map[string]string{}        // entry ID → the namespace (instance) it lives in
	addrs := map[string][]netip.Addr{} // namespace → the private addresses in it
	holder := map[netip.Addr]string{}
	overlap := false
	for i := range s.Instances {
		in := &s.Instances[i]
		u := netnsID(in)
		unit[in.ID] = u
		addrs[u] = append(addrs[u], in.PrivateIP)
		if h, ok := holder[in.PrivateIP]; ok && h != u {
			overlap = true
		}
		holder[in.PrivateIP] = u
	}
	if !overlap {
		all := make([]int, len(ends))
		for i := range all {
			all[i] = i
		}
		return []Part{{Spec: s, Flows: all}}, nil
	}

	units := func(i int) []string { // the namespaces flow i needs
		var out []string
		for _, e := range ends[i] {
			if u, ok := unit[e]; ok && !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
		return out
	}
	unplayable = map[int]string{}
	var todo []int
	for i := range ends {
		if u := units(i); len(u) == 2 {
			if a, ok := shared(addrs[u[0]], addrs[u[1]]); ok {
				unplayable[i] = fmt.Sprintf("%s and %s share the private address %s, which a lab holds once (its internet cannot tell them apart)", ends[i][0], ends[i][1], a)
				continue
			}
		}
		todo = append(todo, i)
	}

	// lab is one part being filled: the namespaces it holds, by address.
	type lab struct {
		owner map[netip.Addr]string
		units []string
		flows []int
	}
	fits := func(l *lab, u string) bool {
		for _, a := range addrs[u] {
			if o, ok := l.owner[a]; ok && o != u {
				return false
			}
		}
		return true
	}
	add := func(l *lab, u string) {
		if slices.Contains(l.units, u) {
			return
		}
		for _, a := range addrs[u] {
			l.owner[a] = u
		}
		l.units = append(l.units, u)
	}
	var labs []*lab
	for first := true; len(todo) > 0 || first; first = false {
		l := &lab{owner: map[netip.Addr]string{}}
		if first { // every instance that fits, in the spec's order
			for _, in := range s.Instances {
				if u := unit[in.ID]; fits(l, u) {
					add(l, u)
				}
			}
		}
		var left []int
		for _, i := range todo {
			need := units(i)
			if !slices.ContainsFunc(need, func(u string) bool { return !fits(l, u) }) {
				for _, u := range need {
					add(l, u)
				}
				l.flows = append(l.flows, i)
			} else {
				left = append(left, i)
			}
		}
		todo = left
		// A first lab that plays nothing is left out, unless nothing is played at all.
		if len(l.flows) > 0 || first && len(todo) == 0 {
			labs = append(labs, l)
		}
	}
	for _, l := range labs {
		p := Part{Spec: s, Flows: l.flows}
		p.Spec.Instances = nil
		for i := range s.Instances { // the spec's order, so each lab's layout is the spec's
			if slices.Contains(l.units, unit[s.Instances[i].ID]) {
				p.Spec.Instances = append(p.Spec.Instances, s.Instances[i])
			}
		}
		parts = append(parts, p)
	}
	return parts, unplayable
}

// shared is an address two lists hold both.
func shared(a, b []netip.Addr) (netip.Addr, bool) {
	for _, x := range a {
		if slices.Contains(b, x) {
			return x, true
		}
	}
	return netip.Addr{}, false
}
