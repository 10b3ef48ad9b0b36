package policy

import (
	"net/netip"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// The network path of a flow is decided here and nowhere else: Evaluate,
// the reachability analysis, the audit and the other analyzers ask Path (or
// PathBetween) which path a flow takes, which addresses each side sees and
// why a flow has none. Only the lab picks its probe addresses on its own, on
// purpose: it is the ground truth the evaluators are tested against.

// AddrKind names which of an end's addresses a packet carries.
type AddrKind uint8

const (
	PrivateAddr AddrKind = iota // an instance's private IPv4 address
	PublicAddr                  // an instance's public IPv4 address (or EIP)
	IPv6Addr                    // an instance's IPv6 address (global)
	OutsideAddr                 // the address of an end outside every VPC
)

// Of returns the address of this kind of an end: an instance, or (in nil)
// an outside address.
func (k AddrKind) Of(in *model.Instance, outside netip.Addr) netip.Addr {
	switch {
	case in == nil || k == OutsideAddr:
		return outside
	case k == PublicAddr:
		return in.PublicIP
	case k == IPv6Addr:
		return in.IPv6
	}
	return in.PrivateIP
}

// End is what the path of a flow depends on at one of its ends.
type End struct {
	Outside bool // an address outside every VPC, not an instance
	Public  bool // the instance has a public IPv4 address
	IPv6    bool // the instance has an IPv6 address
}

// EndOf describes an instance as an end of a flow; nil is an outside address.
func EndOf(in *model.Instance) End {
	if in == nil {
		return End{Outside: true}
	}
	return End{Public: in.PublicIP.IsValid(), IPv6: in.IPv6.IsValid()}
}

// Addrs are the source and destination of a packet, as kinds of address.
type Addrs struct{ Src, Dst AddrKind }

// Route is how the network carries a flow between two ends.
type Route struct {
	// NoPath is why the network cannot carry the flow ("" when it can): an
	// end lacks the address the path needs. No policy is consulted then.
	NoPath Reason
	// NIC is the path: intranet inside one VPC, internet across VPCs and to
	// or from the outside. It selects the rule set of classic groups.
	NIC model.NicType
	// The packet as the source sends it (its egress side sees this) and as
	// the destination receives it (its ingress side), after NAT.
	Egress, Ingress Addrs
}

// Path decides the path of a flow from what it depends on: the two ends,
// whether two instances share a VPC (sameVPC; ignored for an outside end),
// and the IP version. Inside a VPC instances meet on their private
// addresses; across VPCs only through their public addresses, each side
// NATed; the outside reaches only public addresses; IPv6 addresses are
// global, the same inside a VPC and across.
func Path(src, dst End, sameVPC, six bool) Route {
	if src.Outside && dst.Outside {
		return Route{NoPath: NoPublicAddress, NIC: model.Internet}
	}
	if six {
		rt := Route{NIC: model.Internet, Egress: Addrs{IPv6Addr, IPv6Addr}, Ingress: Addrs{IPv6Addr, IPv6Addr}}
		switch {
		case src.Outside:
			rt.Egress.Src, rt.Ingress.Src = OutsideAddr, OutsideAddr
		case dst.Outside:
			rt.Egress.Dst, rt.Ingress.Dst = OutsideAddr, OutsideAddr
		case sameVPC:
			rt.NIC = model.Intranet
		}
		if !src.Outside && !src.IPv6 || !dst.Outside && !dst.IPv6 {
			rt.NoPath = NoIPv6Address
		}
		return rt
	}
	switch {
	case !src.Outside && !dst.Outside && sameVPC:
		return Route{NIC: model.Intranet, Egress: Addrs{PrivateAddr, PrivateAddr}, Ingress: Addrs{PrivateAddr, PrivateAddr}}
	case !src.Outside && !dst.Outside:
		rt := Route{NIC: model.Internet, Egress: Addrs{PrivateAddr, PublicAddr}, Ingress: Addrs{PublicAddr, PrivateAddr}}
		if !src.Public || !dst.Public {
			rt.NoPath = DifferentVPC
		}
		return rt
	case src.Outside:
		rt := Route{NIC: model.Internet, Egress: Addrs{OutsideAddr, PublicAddr}, Ingress: Addrs{OutsideAddr, PrivateAddr}}
		if !dst.Public {
			rt.NoPath = NoPublicAddress
		}
		return rt
	}
	rt := Route{NIC: model.Internet, Egress: Addrs{PrivateAddr, OutsideAddr}, Ingress: Addrs{PublicAddr, OutsideAddr}}
	if !src.Public {
		rt.NoPath = NoPublicAddress
	}
	return rt
}

// PathBetween decides the path of a flow between two instances, or an
// instance and the outside (nil).
func PathBetween(src, dst *model.Instance, six bool) Route {
	return Path(EndOf(src), EndOf(dst), src != nil && dst != nil && src.VpcID == dst.VpcID, six)
}

// Packets fills in the addresses of a flow's packet on each side of a
// route; outside is the address of an outside end.
func (rt Route) Packets(src, dst *model.Instance, outside netip.Addr, p Packet) (eg, ing Packet) {
	eg, ing = p, p
	eg.Src, eg.Dst = rt.Egress.Src.Of(src, outside), rt.Egress.Dst.Of(dst, outside)
	ing.Src, ing.Dst = rt.Ingress.Src.Of(src, outside), rt.Ingress.Dst.Of(dst, outside)
	return eg, ing
}
