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

// Secondary private IPv4 addresses of an ENI (AssignPrivateIpAddresses,
// UnassignPrivateIpAddresses). They are addresses of the same NIC: the
// policy engine, the agents and the analyses see them through
// Addresses(), under the ENI's groups. A primary ENI's are kept on its
// instance, a secondary ENI's on the ENI.

// MaxPrivateIPsPerCall bounds PrivateIpAddress.N of one call.
const MaxPrivateIPsPerCall = model.MaxSecondaryIPsUnattached

// PrivateIPsInput names an ENI and the secondary addresses to assign or
// unassign: Addresses (PrivateIpAddress.N), or for an assignment Count
// (SecondaryPrivateIpAddressCount) addresses picked from the vSwitch.
type PrivateIPsInput struct {
	Caller             Caller
	NetworkInterfaceID string
	Addresses          []string
	Count              int
	Idempotency        `json:"-"`
}

// AssignedIPs is what AssignPrivateIpAddresses answers (and keeps for a
// ClientToken retry).
type AssignedIPs struct {
	NetworkInterfaceID string
	Addresses          []string
}

// parse reads the named addresses: IPv4, no repeats.
func (in PrivateIPsInput) parse() ([]netip.Addr, error) { return parseSecondaries(in.Addresses) }

func parseSecondaries(addrs []string) ([]netip.Addr, error) {
	if len(addrs) > MaxPrivateIPsPerCall {
		return nil, ecserr.InvalidParameter("PrivateIpAddress.N", fmt.Sprintf("it takes at most %d addresses", MaxPrivateIPsPerCall))
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, s := range addrs {
		a, ok := model.ParseAddr(s, false)
		if !ok {
			return nil, ecserr.InvalidParameter("PrivateIpAddress.N", fmt.Sprintf("%q is not an IPv4 address", model.Clip(s)))
		}
		if slices.Contains(out, a) {
			return nil, ecserr.BadRequest("InvalidPrivateIpAddress.Duplicated", "PrivateIpAddress.N names %s twice.", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// ipTarget is an ENI whose secondary addresses change, with the instance
// it is attached to (nil if none) and how to write it back.
type ipTarget struct {
	n    *model.NetworkInterface
	inst *model.Instance
	put  func(tx store.Tx, secondary []netip.Addr) error
	put6 func(tx store.Tx, ipv6 []netip.Addr) error // its IPv6 addresses, the first one first
}

// ipTargetOf loads an ENI of the caller for an address change, with the
// instance it is attached to (whose type bounds its addresses). The ENI is
// Available or InUse; a primary ENI's instance is Running or Stopped, as
// ECS requires.
func ipTargetOf(tx store.ReadTx, c Caller, id string) (ipTarget, error) {
	n, err := GetENI(tx, c, id)
	if err != nil {
		return ipTarget{}, err
	}
	t := ipTarget{n: n}
	if n.InstanceID != "" {
		if t.inst, err = GetInstance(tx, c, n.InstanceID); err != nil {
			return ipTarget{}, err
		}
		if n.Type == model.ENIPrimary && t.inst.Status != model.StatusRunning && t.inst.Status != model.StatusStopped {
			return ipTarget{}, ecserr.BadRequest("InvalidOperation.InvalidEcsState", "Instance %s is %s; it must be Running or Stopped to change the addresses of its network interface %s.", t.inst.ID, t.inst.Status, n.ID)
		}
	}
	if n.Status != model.ENIAvailable && n.Status != model.ENIInUse {
		return ipTarget{}, ecserr.BadRequest("InvalidOperation.InvalidEniState", "Network interface %s is %s; it must be Available or InUse.", n.ID, n.Status)
	}
	if n.Type == model.ENIPrimary {
		inst := t.inst
		t.put = func(tx store.Tx, secondary []netip.Addr) error {
			inst.SecondaryIPs = secondary
			return PutInstance(tx, inst)
		}
		t.put6 = func(tx store.Tx, a []netip.Addr) error {
			inst.SetIPv6s(a)
			return PutInstance(tx, inst)
		}
	} else {
		t.put = func(tx store.Tx, secondary []netip.Addr) error {
			n.SecondaryIPs = secondary
			return putENI(tx, n)
		}
		t.put6 = func(tx store.Tx, a []netip.Addr) error {
			n.SetIPv6s(a)
			return putENI(tx, n)
		}
	}
	return t, nil
}

// AssignPrivateIpAddresses gives an ENI secondary private IPv4 addresses
// from its vSwitch: the named ones, or Count free ones. Each is free in the
// vSwitch (no other address of an instance or ENI there, primary or
// secondary), and the ENI stays within its quota (model.IPv4Quota).
func (s *Service) AssignPrivateIpAddresses(ctx context.Context, in PrivateIPsInput) (AssignedIPs, error) {
	c := in.Caller
	if err := checkSecondaryInput(in.Addresses, in.Count, false); err != nil {
		return AssignedIPs{}, err
	}
	named, err := in.parse()
	if err != nil {
		return AssignedIPs{}, err
	}
	return Update(s, ctx, c, "AssignPrivateIpAddresses", in.Idempotency, in, func(tx store.Tx) (AssignedIPs, error) {
		t, err := ipTargetOf(tx, c, in.NetworkInterfaceID)
		if err != nil {
			return AssignedIPs{}, err
		}
		n := t.n
		want := len(named) + in.Count
		if have, quota := 1+len(n.SecondaryIPs), model.IPv4Quota(t.inst); have+want > quota {
			where := "an interface not attached"
			if t.inst != nil {
				where = fmt.Sprintf("an interface of %s (%s)", t.inst.ID, t.inst.InstanceType)
			}
			return AssignedIPs{}, ecserr.Forbidden("InvalidOperation.Ipv4CountExceeded", "Network interface %s has %d private IPv4 addresses and %d more were asked for; %s holds at most %d.", n.ID, have, want, where, quota)
		}
		w, err := getVSwitch(tx, c, n.VSwitchID)
		if err != nil {
			return AssignedIPs{}, err
		}
		taken, _, err := vswitchTaken(tx, c, w.ID)
		if err != nil {
			return AssignedIPs{}, err
		}
		picked, err := pickSecondaries(w, taken, named, in.Count)
		if err != nil {
			return AssignedIPs{}, err
		}
		out := AssignedIPs{NetworkInterfaceID: n.ID}
		for _, a := range picked {
			out.Addresses = append(out.Addresses, a.String())
		}
		return out, t.put(tx, append(slices.Clone(n.SecondaryIPs), picked...))
	})
}

// pickSecondaries checks the named secondary addresses against a vSwitch
// (assignable, not taken) and adds count free ones: the addresses to
// assign, in order, each marked taken.
func pickSecondaries(w *model.VSwitch, taken map[netip.Addr]bool, named []netip.Addr, count int) ([]netip.Addr, error) {
	for _, a := range named {
		switch {
		case !model.Assignable(w.CIDR, a):
			return nil, ecserr.Forbidden("InvalidVSwitchId.IpInvalid", "PrivateIpAddress %s is not an assignable address of vSwitch %s (%s).", a, w.ID, w.CIDR).At("PrivateIpAddress.N")
		case taken[a]:
			return nil, ecserr.BadRequest("InvalidPrivateIpAddress.Duplicated", "PrivateIpAddress %s is already used in vSwitch %s.", a, w.ID).At("PrivateIpAddress.N")
		}
		taken[a] = true
	}
	out := slices.Clone(named)
	for range count {
		a, ok := allocateAddr(w.CIDR, taken)
		if !ok {
			return nil, ecserr.Forbidden("InvalidVSwitchId.IpNotEnough", "vSwitch %s has no free private address left for %d more.", w.ID, count)
		}
		taken[a] = true
		out = append(out, a)
	}
	return out, nil
}

// checkSecondaryInput checks the two forms of asking for secondary
// addresses (PrivateIpAddress.N, SecondaryPrivateIpAddressCount): at most
// one, the count within ECS's bound. none says whether neither may be
// given.
func checkSecondaryInput(addrs []string, count int, none bool) error {
	return checkAddrInput("PrivateIpAddress.N", "SecondaryPrivateIpAddressCount", model.MaxSecondaryIPsUnattached, addrs, count, none)
}

// checkAddrInput checks that a call names addresses (list) or asks for a
// count of free ones (countName), not both, and a count within max; none
// says it may do neither.
func checkAddrInput(list, countName string, max int, addrs []string, count int, none bool) error {
	switch {
	case len(addrs) > 0 && count != 0:
		return ecserr.BadRequest("InvalidParameter.Conflict", "Give %s or %s, not both.", list, countName)
	case len(addrs) == 0 && count == 0 && !none:
		return ecserr.MissingParameter(list + " or " + countName)
	case count < 0 || count > max:
		return ecserr.InvalidParameter(countName, fmt.Sprintf("it is 1 to %d", max))
	case len(addrs) > max:
		return ecserr.InvalidParameter(list, fmt.Sprintf("it takes at most %d addresses", max))
	}
	return nil
}

// UnassignPrivateIpAddresses takes secondary private addresses from an
// ENI. Each named address must be one of its secondary addresses: its
// primary address stays as long as the ENI.
func (s *Service) UnassignPrivateIpAddresses(ctx context.Context, in PrivateIPsInput) error {
	c := in.Caller
	if len(in.Addresses) == 0 {
		return ecserr.MissingParameter("PrivateIpAddress.N")
	}
	named, err := in.parse()
	if err != nil {
		return err
	}
	_, err = Update(s, ctx, c, "UnassignPrivateIpAddresses", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		t, err := ipTargetOf(tx, c, in.NetworkInterfaceID)
		if err != nil {
			return struct{}{}, err
		}
		n := t.n
		for _, a := range named {
			switch {
			case a == n.PrivateIP:
				return struct{}{}, ecserr.Forbidden("InvalidIp.IpUnassigned", "%s is the primary private address of network interface %s and cannot be unassigned; name its secondary addresses only.", a, n.ID).At("PrivateIpAddress.N")
			case !slices.Contains(n.SecondaryIPs, a):
				return struct{}{}, ecserr.Forbidden("InvalidIp.IpUnassigned", "%s is not a secondary private address of network interface %s.", a, n.ID).At("PrivateIpAddress.N")
			}
		}
		left := slices.DeleteFunc(slices.Clone(n.SecondaryIPs), func(a netip.Addr) bool { return slices.Contains(named, a) })
		if len(left) == 0 {
			left = nil
		}
		return struct{}{}, t.put(tx, left)
	})
	return err
}
