package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// IPv6 addresses of an ENI (AssignIpv6Addresses, UnassignIpv6Addresses).
// Palisade gives a NIC at most one IPv6 address (DescribeInstanceTypes
// answers EniIpv6AddressQuantity 1), from its vSwitch's IPv6 block. Like
// secondary IPv4 addresses, it is an address of the NIC: the engine, the
// agents and the group-membership sets see it through Addresses().

// MaxIPv6PerCall bounds Ipv6Address.N and Ipv6AddressCount, as ECS does.
const MaxIPv6PerCall = 10

// MaxIPv6PerNIC is how many IPv6 addresses Palisade gives one NIC.
const MaxIPv6PerNIC = 1

// IPv6Input names an ENI and the IPv6 addresses to assign or unassign:
// Addresses (Ipv6Address.N), or for an assignment Count
// (Ipv6AddressCount) addresses picked from the vSwitch.
type IPv6Input struct {
	Caller             Caller
	NetworkInterfaceID string
	Addresses          []string
	Count              int
	Idempotency        `json:"-"`
}

// parseIPv6s reads Ipv6Address.N: IPv6, no repeats, at most MaxIPv6PerCall.
func parseIPv6s(addrs []string) ([]netip.Addr, error) {
	if len(addrs) > MaxIPv6PerCall {
		return nil, ecserr.InvalidParameter("Ipv6Address.N", fmt.Sprintf("it takes at most %d addresses", MaxIPv6PerCall))
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, s := range addrs {
		a, ok := model.ParseAddr(s, true)
		if !ok {
			return nil, ecserr.BadRequest("InvalidIpv6Address.Malformed", "Ipv6Address.N %q is not an IPv6 address.", model.Clip(s)).At("Ipv6Address.N")
		}
		if slices.Contains(out, a) {
			return nil, ecserr.InvalidParameter("Ipv6Address.N", fmt.Sprintf("it names %s twice", a))
		}
		out = append(out, a)
	}
	return out, nil
}

// AssignIpv6Addresses gives an ENI IPv6 addresses from its vSwitch's IPv6
// block: the named ones, or Count free ones. Each is free in the vSwitch,
// and the NIC holds at most MaxIPv6PerNIC.
func (s *Service) AssignIpv6Addresses(ctx context.Context, in IPv6Input) (AssignedIPs, error) {
	c := in.Caller
	if err := checkAddrInput("Ipv6Address.N", "Ipv6AddressCount", MaxIPv6PerCall, in.Addresses, in.Count, false); err != nil {
		return AssignedIPs{}, err
	}
	named, err := parseIPv6s(in.Addresses)
	if err != nil {
		return AssignedIPs{}, err
	}
	return Update(s, ctx, c, "AssignIpv6Addresses", in.Idempotency, in, func(tx store.Tx) (AssignedIPs, error) {
		t, err := ipTargetOf(tx, c, in.NetworkInterfaceID)
		if err != nil {
			return AssignedIPs{}, err
		}
		n := t.n
		have := 0
		if n.IPv6.IsValid() {
			have = 1
		}
		if want := len(named) + in.Count; have+want > MaxIPv6PerNIC {
			return AssignedIPs{}, ecserr.Forbidden("InvalidOperation.Ipv6CountExceeded", "Network interface %s has %d IPv6 addresses and %d more were asked for; Palisade gives a network interface at most %d. Unassign it first (UnassignIpv6Addresses).", n.ID, have, want, MaxIPv6PerNIC)
		}
		w, err := getVSwitch(tx, c, n.VSwitchID)
		if err != nil {
			return AssignedIPs{}, err
		}
		if !w.IPv6CIDR.IsValid() {
			return AssignedIPs{}, ecserr.BadRequest("InvalidVSwitch.Ipv6NotTurnOn", "vSwitch %s of network interface %s has no IPv6 block; a vSwitch gets one at creation (Ipv6CidrBlock), in a VPC with IPv6.", w.ID, n.ID)
		}
		_, taken6, err := vswitchTaken(tx, c, w.ID)
		if err != nil {
			return AssignedIPs{}, err
		}
		var a netip.Addr
		if len(named) > 0 {
			switch a = named[0]; {
			case !model.Assignable(w.IPv6CIDR, a):
				return AssignedIPs{}, ecserr.Forbidden("InvalidIp.Address", "Ipv6Address %s is not an assignable address of vSwitch %s (%s).", a, w.ID, w.IPv6CIDR).At("Ipv6Address.N")
			case taken6[a]:
				return AssignedIPs{}, ecserr.Forbidden("InvalidIp.IpRepeated", "Ipv6Address %s is already used in vSwitch %s.", a, w.ID).At("Ipv6Address.N")
			}
		} else {
			var ok bool
			if a, ok = allocateAddr(w.IPv6CIDR, taken6); !ok {
				return AssignedIPs{}, ecserr.Forbidden("InvalidVSwitchId.IpNotEnough", "vSwitch %s has no free IPv6 address left.", w.ID)
			}
		}
		return AssignedIPs{NetworkInterfaceID: n.ID, Addresses: []string{a.String()}}, t.put6(tx, a)
	})
}

// UnassignIpv6Addresses takes IPv6 addresses from an ENI; each named
// address must be one it holds.
func (s *Service) UnassignIpv6Addresses(ctx context.Context, in IPv6Input) error {
	c := in.Caller
	if len(in.Addresses) == 0 {
		return ecserr.MissingParameter("Ipv6Address.N")
	}
	named, err := parseIPv6s(in.Addresses)
	if err != nil {
		return err
	}
	_, err = Update(s, ctx, c, "UnassignIpv6Addresses", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		t, err := ipTargetOf(tx, c, in.NetworkInterfaceID)
		if err != nil {
			return struct{}{}, err
		}
		for _, a := range named {
			if a != t.n.IPv6 {
				return struct{}{}, ecserr.Forbidden("InvalidIp.IpUnassigned", "%s is not an IPv6 address of network interface %s.", a, t.n.ID).At("Ipv6Address.N")
			}
		}
		return struct{}{}, t.put6(tx, netip.Addr{})
	})
	return err
}
