package lab

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// buildInstance makes an instance's namespace and its veth to the host,
// configuring the instance end from inside the new namespace, then the
// host end from inside the host's.
func (l *Lab) buildInstance(in *Instance, mac net.HardwareAddr, hostFd int) error {
	iface := l.Interfaces[in.ID]
	err := createNetns(instanceNs(l.Spec.Name, in.ID), func() error {
		if err := setupLoopback(instanceSysctls); err != nil {
			return err
		}
		if err := guestSide(in, instIface, iface, mac, hostFd, 0); err != nil {
			return err
		}
		if err := unix.Setns(hostFd, unix.CLONE_NEWNET); err != nil {
			return err
		}
		return l.hostSide(in, iface, mac)
	})
	if err != nil {
		return fmt.Errorf("instance %s: %w", in.ID, err)
	}
	return nil
}

// hostSide configures the host end of an instance's veth, from inside the
// host: it is the gateway (fe80::1 as an address; 169.254.1.1 by proxy ARP,
// answered at once rather than after the default random delay of up to
// 0.8 s, for when the instance's permanent entry is flushed) and routes the
// instance's addresses to it.
func (l *Lab) hostSide(in *Instance, iface string, mac net.HardwareAddr) error {
	err := setSysctls([]sysctl{
		{"ipv4/conf/" + iface + "/proxy_arp", "1"},
		{"ipv4/neigh/" + iface + "/proxy_delay", "0"},
	})
	if err != nil {
		return err
	}
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	if err := addAddr(link, netip.PrefixFrom(gatewayV6, 64), true); err != nil {
		return err
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(netip.PrefixFrom(in.PrivateIP, 32)), Scope: netlink.SCOPE_LINK}
	if err := netlink.RouteAdd(r); err != nil {
		return fmt.Errorf("route to %s: %w", in.PrivateIP, err)
	}
	if err := addNeigh(link, in.PrivateIP, mac); err != nil {
		return err
	}
	for _, a := range in.ipv6s() {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(netip.PrefixFrom(a, 128))}
		if err := netlink.RouteAdd(r); err != nil {
			return fmt.Errorf("route to %s: %w", a, err)
		}
		if err := addNeigh(link, a, mac); err != nil {
			return err
		}
	}
	return nil
}
