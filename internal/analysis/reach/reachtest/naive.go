// Package reachtest computes reachability the naive way, one policy.Evaluate
// per flow, as an oracle for tests of reach and plan. It evaluates every
// destination port that can matter: the ports of a cloud's rules cut 1-65535
// into intervals that every rule treats alike, and one port per interval
// stands for it.
package reachtest

import (
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Key names an ordered pair of endpoints (instance IDs, or an outside address).
type Key struct{ From, To string }

// Boundaries returns the first port of every interval the rules of a cloud
// tell apart (1 included).
func Boundaries(c *policy.Cloud) []uint16 {
	b := []int{1}
	for _, g := range c.Groups {
		for _, r := range g.Rules {
			if !r.Protocol.HasPorts() {
				continue
			}
			for _, pr := range c.DestPorts(&r) {
				if !pr.IsAny() {
					b = append(b, int(pr.Start), int(pr.End)+1)
				}
			}
		}
	}
	slices.Sort(b)
	b = slices.Compact(b)
	var out []uint16
	for _, p := range b {
		if p >= 1 && p <= 65535 {
			out = append(out, uint16(p))
		}
	}
	return out
}

// Ports evaluates every protocol of one family between two endpoints.
func Ports(d policy.Decider, bounds []uint16, from, to string, six bool, sport uint16) reach.Ports {
	var p reach.Ports
	version := 4
	if six {
		version = 6
	}
	accept := func(proto model.Protocol, port uint16) bool {
		res, err := policy.Evaluate(d, policy.Flow{From: from, To: to, Protocol: proto, Port: port, SourcePort: sport, IPVersion: version})
		return err == nil && res.Verdict == policy.Accept
	}
	for _, x := range []struct {
		proto model.Protocol
		dst   *[]reach.PortRange
	}{{model.TCP, &p.TCP}, {model.UDP, &p.UDP}} {
		for k, lo := range bounds {
			hi := uint16(65535)
			if k+1 < len(bounds) {
				hi = bounds[k+1] - 1
			}
			if !accept(x.proto, lo) {
				continue
			}
			if n := len(*x.dst); n > 0 && (*x.dst)[n-1].To+1 == lo {
				(*x.dst)[n-1].To = hi
			} else {
				*x.dst = append(*x.dst, reach.PortRange{From: lo, To: hi})
			}
		}
	}
	if six {
		p.ICMPv6 = accept(model.ICMPv6, 0)
	} else {
		p.ICMP = accept(model.ICMP, 0)
	}
	p.GRE = accept(model.GRE, 0)
	return p
}

// Links evaluates every ordered pair of instances, and every instance with
// each outside address (both ways), per family: [0] IPv4, [1] IPv6. Pairs
// where nothing passes are left out.
func Links(c *policy.Cloud, outside []netip.Addr, sport uint16) map[Key][2]reach.Ports {
	d := policy.Compile(c)
	bounds := Boundaries(c)
	out := map[Key][2]reach.Ports{}
	add := func(from, to string, v4, v6 bool) {
		var ps [2]reach.Ports
		if v4 {
			ps[0] = Ports(d, bounds, from, to, false, sport)
		}
		if v6 {
			ps[1] = Ports(d, bounds, from, to, true, sport)
		}
		if !ps[0].Empty() || !ps[1].Empty() {
			out[Key{from, to}] = ps
		}
	}
	for a := range c.Instances {
		for b := range c.Instances {
			if a != b {
				add(a, b, true, true)
			}
		}
		for _, o := range outside {
			add(o.String(), a, o.Is4(), o.Is6())
			add(a, o.String(), o.Is4(), o.Is6())
		}
	}
	return out
}
