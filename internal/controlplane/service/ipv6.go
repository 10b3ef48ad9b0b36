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

// IPv6 addresses of an ENI (AssignIpv6Addresses, UnassignIpv6Addresses),
// from its vSwitch's IPv6 block, as many as model.IPv6Quota allows (its
// instance type's EniIpv6AddressQuantity). Like secondary IPv4 addresses,
// they are addresses of the NIC: the engine, the agents and the
// group-membership sets see them through Addresses().

// MaxIPv6PerCall bounds Ipv6Address.N and Ipv6AddressCount, as ECS does.
const MaxIPv6PerCall = 10

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
// block: the named ones, or Count free ones, after those it has. Each is
// free in the vSwitch, and the NIC stays within model.IPv6Quota.
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
		have := n.IPv6s()
		if want, quota := len(named)+in.Count, model.IPv6Quota(t.inst); len(have)+want > quota {
			where := "an interface not attached"
			if t.inst != nil {
				where = fmt.Sprintf("an interface of %s (%s)", t.inst.ID, t.inst.InstanceType)
			}
			return AssignedIPs{}, ecserr.Forbidden("InvalidOperation.Ipv6CountExceeded", "Network interface %s has %d IPv6 addresses and %d more were asked for; %s holds at most %d. Unassign some first (UnassignIpv6Addresses).", n.ID, len(have), want, where, quota)
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
		added, err := pickIPv6s(w, taken6, named, in.Count)
		if err != nil {
			return AssignedIPs{}, err
		}
		out := AssignedIPs{NetworkInterfaceID: n.ID}
		for _, a := range added {
			out.Addresses = append(out.Addresses, a.String())
		}
		return out, t.put6(tx, append(have, added...))
	})
}

// pickIPv6s checks the named IPv6 addresses (each assignable in vSwitch w
// and free there, taken6 its addresses in use), or picks count free ones.
func pickIPv6s(w *model.VSwitch, taken6 map[netip.Addr]bool, named []netip.Addr, count int) ([]netip.Addr, error) {
	for _, a := range named {
		switch {
		case !model.Assignable(w.IPv6CIDR, a):
			return nil, ecserr.Forbidden("InvalidIp.Address", "Ipv6Address %s is not an assignable address of vSwitch %s (%s).", a, w.ID, w.IPv6CIDR).At("Ipv6Address.N")
		case taken6[a]:
			return nil, ecserr.Forbidden("InvalidIp.IpRepeated", "Ipv6Address %s is already used in vSwitch %s.", a, w.ID).At("Ipv6Address.N")
		}
	}
	out := slices.Clone(named)
	for range count {
		a, ok := allocateAddr(w.IPv6CIDR, taken6)
		if !ok {
			return nil, ecserr.Forbidden("InvalidVSwitchId.IpNotEnough", "vSwitch %s has no free IPv6 address left.", w.ID)
		}
		taken6[a] = true
		out = append(out, a)
	}
	return out, nil
}

// UnassignIpv6Addresses takes IPv6 addresses from an ENI; each named
// address must be one it holds. The others keep their order: unassigning
// the first promotes the next.
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
		have := t.n.IPv6s()
		for _, a := range named {
			if !slices.Contains(have, a) {
				return struct{}{}, ecserr.Forbidden("InvalidIp.IpUnassigned", "%s is not an IPv6 address of network interface %s.", a, t.n.ID).At("Ipv6Address.N")
			}
		}
		return struct{}{}, t.put6(tx, slices.DeleteFunc(have, func(a netip.Addr) bool { return slices.Contains(named, a) }))
	})
	return err
}
