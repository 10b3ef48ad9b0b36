package lab

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Secondary ENIs in the lab. An ENI is a NIC of its own to the policy (it
// has its own groups), so the lab gives it its own veth and host-side
// interface, which the agent binds to the ENI; but it lives in its
// instance's namespace, as eth<DeviceIndex>, as a NIC of the VM. Replies
// must leave by the interface the request came in on (the host enforces
// each NIC's policy on its own veth), so the namespace routes by source
// address: a packet from the ENI's address takes the ENI's table, whose
// default route is the ENI's veth.

// eniTableBase is the routing table of eth1; eth<n> uses eniTableBase+n-1.
const eniTableBase = 101

// AttachENIs marks the spec's entries that are secondary ENIs of an
// instance of the spec: they move to the instance's host and namespace.
// ENIs whose instance the spec does not hold stay as they are.
func (s *Spec) AttachENIs(enis []*model.NetworkInterface) {
	host := map[string]string{}
	for _, in := range s.Instances {
		host[in.ID] = in.Host
	}
	byID := map[string]*model.NetworkInterface{}
	for _, n := range enis {
		byID[n.ID] = n
	}
	for i := range s.Instances {
		in := &s.Instances[i]
		if n := byID[in.ID]; n != nil && host[n.InstanceID] != "" && n.DeviceIndex > 0 {
			in.NICOf, in.Device, in.Host = n.InstanceID, n.DeviceIndex, host[n.InstanceID]
		}
	}
}

// netnsID is the ID whose namespace holds an entry: its instance's for a
// secondary ENI.
func netnsID(in *Instance) string {
	if in.NICOf != "" {
		return in.NICOf
	}
	return in.ID
}

// checkENIs checks the secondary ENIs of a spec: each names an instance of
// the spec on its own host, and each device index of an instance is used
// once.
func (s *Spec) checkENIs() error {
	byID := map[string]*Instance{}
	for i := range s.Instances {
		byID[s.Instances[i].ID] = &s.Instances[i]
	}
	devices := map[string]bool{}
	for _, in := range s.Instances {
		if in.NICOf == "" {
			continue
		}
		owner := byID[in.NICOf]
		switch {
		case owner == nil || owner.NICOf != "":
			return fmt.Errorf("network interface %s belongs to %q, which is not an instance of the lab", in.ID, in.NICOf)
		case owner.Host != in.Host:
			return fmt.Errorf("network interface %s is on host %s but its instance %s is on %s; an ENI is on its instance's host", in.ID, in.Host, owner.ID, owner.Host)
		case in.Device < 1 || in.Device > 15:
			return fmt.Errorf("network interface %s has device index %d; secondary ENIs are eth1 to eth15", in.ID, in.Device)
		case devices[in.NICOf+"/"+strconv.Itoa(in.Device)]:
			return fmt.Errorf("network interface %s: instance %s already has an eth%d", in.ID, in.NICOf, in.Device)
		}
		devices[in.NICOf+"/"+strconv.Itoa(in.Device)] = true
	}
	return nil
}

// buildENI adds a secondary ENI's veth to its instance's namespace (built
// before), with its addresses and a routing table of its own chosen by
// source address, then configures the host end as for an instance.
func (l *Lab) buildENI(in *Instance, mac net.HardwareAddr, hostFd int) error {
	iface := l.Interfaces[in.ID]
	dev := "eth" + strconv.Itoa(in.Device)
	table := eniTableBase + in.Device - 1
	err := inNetns(instanceNs(l.Spec.Name, in.NICOf), func() error {
		if err := guestSide(in, dev, iface, mac, hostFd, table); err != nil {
			return err
		}
		if err := unix.Setns(hostFd, unix.CLONE_NEWNET); err != nil {
			return err
		}
		return l.hostSide(in, iface, mac)
	})
	if err != nil {
		return fmt.Errorf("network interface %s: %w", in.ID, err)
	}
	return nil
}

// guestSide makes, from inside an instance's namespace, its end dev of the
// veth whose host end is iface, with in's addresses and default routes via
// the gateway. Table 0 is the main table (the primary NIC); a secondary
// ENI's own table is chosen by source address, and its reverse-path filter
// is off.
func guestSide(in *Instance, dev, iface string, mac net.HardwareAddr, hostFd, table int) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = dev
	attrs.HardwareAddr = mac
	v := &netlink.Veth{LinkAttrs: attrs, PeerName: iface, PeerNamespace: netlink.NsFd(hostFd), PeerTxQLen: -1,
		PeerHardwareAddr: hostVethMAC}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("veth %s: %w", iface, err)
	}
	if err := netlink.LinkSetUp(v); err != nil {
		return err
	}
	if table != 0 {
		if err := setSysctls([]sysctl{{"ipv4/conf/" + dev + "/rp_filter", "0"}}); err != nil {
			return err
		}
	}
	if err := addAddr(v, netip.PrefixFrom(in.PrivateIP, 32), false); err != nil {
		return err
	}
	// The gateway is not on any subnet of the device: onlink says it is there.
	gw := &netlink.Route{LinkIndex: v.Index, Dst: ipNet(netip.MustParsePrefix("0.0.0.0/0")), Table: table,
		Gw: gatewayV4.AsSlice(), Flags: int(netlink.FLAG_ONLINK)}
	if err := netlink.RouteAdd(gw); err != nil {
		return fmt.Errorf("%s default route: %w", dev, err)
	}
	if err := addNeigh(v, gatewayV4, hostVethMAC); err != nil {
		return err
	}
	if table != 0 {
		if err := sourceRule(in.PrivateIP, table); err != nil {
			return err
		}
	}
	six := in.ipv6s()
	if len(six) == 0 {
		return nil
	}
	for _, a := range six {
		if err := addAddr(v, netip.PrefixFrom(a, 128), true); err != nil {
			return err
		}
	}
	gw6 := &netlink.Route{LinkIndex: v.Index, Dst: ipNet(netip.MustParsePrefix("::/0")), Gw: gatewayV6.AsSlice(), Table: table}
	if err := netlink.RouteAdd(gw6); err != nil {
		return fmt.Errorf("%s IPv6 default route: %w", dev, err)
	}
	if err := addNeigh(v, gatewayV6, hostVethMAC); err != nil {
		return err
	}
	if table != 0 {
		for _, a := range six {
			if err := sourceRule(a, table); err != nil {
				return err
			}
		}
	}
	return nil
}

// sourceRule sends packets from a to table.
func sourceRule(a netip.Addr, table int) error {
	r := netlink.NewRule()
	r.Src = ipNet(netip.PrefixFrom(a, a.BitLen()))
	r.Table = table
	r.Priority = 100
	r.Family = unix.AF_INET
	if a.Is6() {
		r.Family = unix.AF_INET6
	}
	if err := netlink.RuleAdd(r); err != nil {
		return fmt.Errorf("rule from %s: %w", a, err)
	}
	return nil
}
