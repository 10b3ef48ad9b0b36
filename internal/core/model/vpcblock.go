package model

import (
	"net/netip"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/iprange"
)

// Assignable reports whether a may be given to a NIC of a vSwitch of
// block p: Alibaba Cloud keeps the first address and the last three of
// every vSwitch to itself.
func Assignable(p netip.Prefix, a netip.Addr) bool {
	return p.Contains(a) && p.Masked().Addr().Less(a) && a.Compare(LastAssignable(p)) <= 0
}

// LastAssignable is the highest address Assignable gives of block p.
func LastAssignable(p netip.Prefix) netip.Addr { return iprange.LastAddr(p).Prev().Prev().Prev() }

// The private ranges VPC and vSwitch blocks are taken from, and the masks
// each takes (CreateVpc, CreateVSwitch). apply checks a scenario's VPC
// blocks with them before any step, as the API does at CreateVpc.
var privateIPv4 = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

const (
	VPCMinBits, VPCMaxBits         = 8, 28
	VSwitchMinBits, VSwitchMaxBits = 16, 29
)

// ParsePrivateCIDR parses an IPv4 block inside the private ranges with a
// mask from minBits to maxBits.
func ParsePrivateCIDR(s string, minBits, maxBits int) (netip.Prefix, *ecserr.Error) {
	p, err := netip.ParsePrefix(s) // no spaces: one canonical form
	switch {
	case err != nil || !p.Addr().Is4():
		return p, ecserr.BadRequest("InvalidCidrBlock.Malformed", "CidrBlock %q is not an IPv4 CIDR block such as 192.168.0.0/16.", s)
	case p != p.Masked():
		return p, ecserr.BadRequest("InvalidCidrBlock.Malformed", "CidrBlock %q has host bits set; give the network address, %s.", s, p.Masked())
	case p.Bits() < minBits || p.Bits() > maxBits:
		return p, ecserr.BadRequest("InvalidCidrBlock.Malformed", "The mask of CidrBlock %q must be from /%d to /%d.", s, minBits, maxBits)
	}
	for _, r := range privateIPv4 {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return p, nil
		}
	}
	return p, ecserr.BadRequest("InvalidCidrBlock.Malformed", "CidrBlock %q must lie inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.", s)
}
