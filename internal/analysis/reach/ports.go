package reach

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// PortRange is an inclusive interval of ports.
type PortRange struct {
	From uint16 `json:"from"`
	To   uint16 `json:"to"`
}

func (r PortRange) String() string {
	if r.From == r.To {
		return fmt.Sprint(r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// Ports is a set of flows of one address family: destination ports (1-65535)
// of TCP and UDP, and the protocols without ports. The zero value is empty.
type Ports struct {
	TCP    []PortRange `json:"tcp,omitempty"`
	UDP    []PortRange `json:"udp,omitempty"`
	ICMP   bool        `json:"icmp,omitempty"`
	ICMPv6 bool        `json:"icmpv6,omitempty"`
	GRE    bool        `json:"gre,omitempty"`
}

// Empty reports whether nothing passes.
func (p Ports) Empty() bool {
	return len(p.TCP) == 0 && len(p.UDP) == 0 && !p.ICMP && !p.ICMPv6 && !p.GRE
}

// Equal reports whether two sets hold the same flows.
func (p Ports) Equal(q Ports) bool {
	return p.ICMP == q.ICMP && p.ICMPv6 == q.ICMPv6 && p.GRE == q.GRE && slices.Equal(p.TCP, q.TCP) && slices.Equal(p.UDP, q.UDP)
}

// Allows reports whether a flow of the protocol (to the port, for TCP and
// UDP) is in the set.
func (p Ports) Allows(proto model.Protocol, port uint16) bool {
	switch proto {
	case model.TCP:
		return inRanges(p.TCP, port)
	case model.UDP:
		return inRanges(p.UDP, port)
	case model.ICMP:
		return p.ICMP
	case model.ICMPv6:
		return p.ICMPv6
	case model.GRE:
		return p.GRE
	}
	return false
}

func inRanges(rs []PortRange, port uint16) bool {
	_, found := slices.BinarySearchFunc(rs, port, func(r PortRange, p uint16) int {
		switch {
		case r.To < p:
			return -1
		case r.From > p:
			return 1
		}
		return 0
	})
	return found
}

func (p Ports) String() string {
	var parts []string
	for _, x := range []struct {
		name string
		rs   []PortRange
	}{{"TCP", p.TCP}, {"UDP", p.UDP}} {
		if len(x.rs) == 0 {
			continue
		}
		if len(x.rs) == 1 && x.rs[0] == (PortRange{1, 65535}) {
			parts = append(parts, x.name+" all ports")
			continue
		}
		s := make([]string, len(x.rs))
		for i, r := range x.rs {
			s[i] = r.String()
		}
		parts = append(parts, x.name+" "+strings.Join(s, ","))
	}
	for _, x := range []struct {
		name string
		on   bool
	}{{"ICMP", p.ICMP}, {"ICMPv6", p.ICMPv6}, {"GRE", p.GRE}} {
		if x.on {
			parts = append(parts, x.name)
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// Intersect returns the flows in both sets.
func (p Ports) Intersect(q Ports) Ports {
	return Ports{TCP: intersect(p.TCP, q.TCP), UDP: intersect(p.UDP, q.UDP),
		ICMP: p.ICMP && q.ICMP, ICMPv6: p.ICMPv6 && q.ICMPv6, GRE: p.GRE && q.GRE}
}

// Union returns the flows in either set.
func (p Ports) Union(q Ports) Ports {
	return Ports{TCP: union(p.TCP, q.TCP), UDP: union(p.UDP, q.UDP),
		ICMP: p.ICMP || q.ICMP, ICMPv6: p.ICMPv6 || q.ICMPv6, GRE: p.GRE || q.GRE}
}

// Minus returns the flows of p that are not in q.
func (p Ports) Minus(q Ports) Ports {
	return Ports{TCP: minus(p.TCP, q.TCP), UDP: minus(p.UDP, q.UDP),
		ICMP: p.ICMP && !q.ICMP, ICMPv6: p.ICMPv6 && !q.ICMPv6, GRE: p.GRE && !q.GRE}
}

// Only keeps the flows of one protocol ("" keeps all) and, if port is not
// 0, to that port (protocols without ports are dropped then).
func (p Ports) Only(proto model.Protocol, port uint16) Ports {
	keep := func(x model.Protocol) bool { return proto == "" || proto == model.ALL || proto == x }
	var out Ports
	if keep(model.TCP) {
		out.TCP = p.TCP
	}
	if keep(model.UDP) {
		out.UDP = p.UDP
	}
	if port != 0 {
		one := []PortRange{{port, port}}
		out.TCP, out.UDP = intersect(out.TCP, one), intersect(out.UDP, one)
		return out
	}
	out.ICMP, out.ICMPv6, out.GRE = p.ICMP && keep(model.ICMP), p.ICMPv6 && keep(model.ICMPv6), p.GRE && keep(model.GRE)
	return out
}

// Ranges are sorted, disjoint and not touching; the operations keep them so.

func intersect(a, b []PortRange) []PortRange {
	var out []PortRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].From, b[j].From), min(a[i].To, b[j].To)
		if lo <= hi {
			out = append(out, PortRange{lo, hi})
		}
		if a[i].To < b[j].To {
			i++
		} else {
			j++
		}
	}
	return out
}

func union(a, b []PortRange) []PortRange {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	all := append(slices.Clone(a), b...)
	slices.SortFunc(all, func(x, y PortRange) int { return int(x.From) - int(y.From) })
	return appendMerged(nil, all)
}

// appendMerged appends sorted ranges to out, merging those that overlap or touch.
func appendMerged(out []PortRange, rs []PortRange) []PortRange {
	for _, r := range rs {
		if n := len(out); n > 0 && int(out[n-1].To)+1 >= int(r.From) {
			out[n-1].To = max(out[n-1].To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}

func minus(a, b []PortRange) []PortRange {
	var out []PortRange
	j := 0
	for _, r := range a {
		lo := int(r.From)
		for j < len(b) && int(b[j].To) < lo {
			j++
		}
		k := j
		for ; k < len(b) && int(b[k].From) <= int(r.To); k++ {
			if int(b[k].From) > lo {
				out = append(out, PortRange{uint16(lo), b[k].From - 1})
			}
			lo = int(b[k].To) + 1
		}
		if lo <= int(r.To) {
			out = append(out, PortRange{uint16(lo), r.To})
		}
	}
	return out
}
