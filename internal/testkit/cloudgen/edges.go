package cloudgen

import (
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// The edges of a snapshot's rules: the values at which some rule starts or
// stops matching. A verdict is constant between two edges, so probes at
// the edges (and just outside them) visit every case an analysis tells
// apart; differential tests draw their packets and flows from them.

// EdgePorts returns the destination and source ports at the ends of every
// rule's ranges (a port range list's too) and the ports just outside
// them, with 0, 1 and 65535, and the default source port.
func EdgePorts(pc *policy.Cloud) (ports, sports []uint16) {
	ports = []uint16{0, 1, 65535}
	sports = []uint16{1, policy.DefaultSourcePort, 65535}
	edge := func(out []uint16, pr model.PortRange) []uint16 {
		if !pr.IsSet() || pr.IsAny() {
			return out
		}
		return append(out, uint16(pr.Start), uint16(pr.End), uint16(pr.Start-1), uint16(pr.End+1))
	}
	for _, g := range pc.Groups {
		for i := range g.Rules {
			r := &g.Rules[i]
			if !r.Protocol.HasPorts() {
				continue
			}
			for _, pr := range pc.DestPorts(r) {
				ports = edge(ports, pr)
			}
			sports = edge(sports, r.SourcePortRange)
		}
	}
	slices.Sort(ports)
	slices.Sort(sports)
	return slices.Compact(ports), slices.Compact(sports)
}

// EdgeAddrs returns the remote addresses of one family at which rules
// change: every NIC's addresses (secondary ones too), the outside
// addresses, and the first and last address of every peer prefix (CIDR
// blocks and prefix lists' entries) with those just outside.
func (c *Cloud) EdgeAddrs(pc *policy.Cloud, six bool) []netip.Addr {
	var out []netip.Addr
	add := func(a netip.Addr) {
		if a.IsValid() && a.Is6() == six {
			out = append(out, a)
		}
	}
	for _, in := range pc.Instances {
		for _, a := range in.Addresses() {
			add(a)
		}
		add(in.PublicIP)
	}
	for _, a := range c.Outside {
		add(a)
	}
	for _, g := range pc.Groups {
		for i := range g.Rules {
			for _, p := range pc.PeerPrefixes(&g.Rules[i].Peer) {
				first, last := p.Masked().Addr(), iprange.LastAddr(p)
				add(first)
				add(last)
				add(first.Prev())
				add(last.Next())
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// EdgeFlows draws n flows between the NICs and the outside addresses, of
// every protocol and both IP versions, with destination and source ports
// drawn from EdgePorts.
func (c *Cloud) EdgeFlows(pc *policy.Cloud, seed uint64, n int) []policy.Flow {
	rng := rand.New(rand.NewPCG(seed, seed^0xed9e))
	ports, sports := EdgePorts(pc)
	ends := make([]string, 0, len(c.Instances)+len(c.Outside))
	for _, in := range c.Instances {
		ends = append(ends, in.ID)
	}
	for _, a := range c.Outside {
		ends = append(ends, a.String())
	}
	var out []policy.Flow
	for len(out) < n {
		f := policy.Flow{From: ends[rng.IntN(len(ends))], To: ends[rng.IntN(len(ends))], IPVersion: 4 + 2*rng.IntN(2)}
		if f.From == f.To || f.From[0] != 'i' && f.From[0] != 'e' && f.To[0] != 'i' && f.To[0] != 'e' {
			continue
		}
		if a, err := netip.ParseAddr(f.From); err == nil && a.Is6() != (f.IPVersion == 6) {
			continue
		}
		if a, err := netip.ParseAddr(f.To); err == nil && a.Is6() != (f.IPVersion == 6) {
			continue
		}
		f.Protocol = []model.Protocol{model.TCP, model.TCP, model.UDP, model.ICMP, model.GRE}[rng.IntN(5)]
		if f.Protocol == model.ICMP && f.IPVersion == 6 {
			f.Protocol = model.ICMPv6
		}
		if f.Protocol.HasPorts() {
			f.Port, f.SourcePort = ports[rng.IntN(len(ports))], sports[rng.IntN(len(sports))]
		}
		out = append(out, f)
	}
	return out
}
