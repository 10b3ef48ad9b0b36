package lab

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hostRoutes routes the other hosts' instances via their underlay address
// and everything else to the internet.
func (l *Lab) hostRoutes(host string) error {
	return withRoutes(func(add func(dst netip.Prefix, via netip.Addr) error) error {
		for _, in := range l.Spec.Instances {
			if in.Host != host {
				if err := l.routeInstance(add, in); err != nil {
					return err
				}
			}
		}
		if err := add(netip.MustParsePrefix("0.0.0.0/0"), underlayV4(internetIndex)); err != nil {
			return err
		}
		return add(netip.MustParsePrefix("::/0"), underlayV6(internetIndex))
	})
}

// internetRoutes holds the outside and public addresses on lo and routes
// every instance's addresses to its host.
func (l *Lab) internetRoutes() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	for _, a := range l.Spec.Outside {
		if err := addAddr(lo, netip.PrefixFrom(a, a.BitLen()), true); err != nil {
			return err
		}
	}
	for _, in := range l.Spec.Instances {
		if in.PublicIP.IsValid() {
			if err := addAddr(lo, netip.PrefixFrom(in.PublicIP, 32), false); err != nil {
				return err
			}
		}
	}
	return withRoutes(func(add func(dst netip.Prefix, via netip.Addr) error) error {
		for _, in := range l.Spec.Instances {
			if err := l.routeInstance(add, in); err != nil {
				return err
			}
		}
		return nil
	})
}

func (l *Lab) routeInstance(add func(dst netip.Prefix, via netip.Addr) error, in Instance) error {
	idx := hostIndex(l.hostNumber(in.Host))
	if err := add(netip.PrefixFrom(in.PrivateIP, 32), underlayV4(idx)); err != nil {
		return err
	}
	for _, a := range in.ipv6s() {
		if err := add(netip.PrefixFrom(a, 128), underlayV6(idx)); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) hostNumber(host string) int {
	for i, h := range l.Spec.Hosts {
		if h == host {
			return i
		}
	}
	panic("lab: unknown host " + host) // Validate guarantees every instance's host exists
}

// withRoutes gives fn a way to add routes through fab0 of the current
// namespace, over one netlink socket.
func withRoutes(fn func(add func(dst netip.Prefix, via netip.Addr) error) error) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	fab, err := h.LinkByName(fabIface)
	if err != nil {
		return err
	}
	return fn(func(dst netip.Prefix, via netip.Addr) error {
		r := &netlink.Route{LinkIndex: fab.Attrs().Index, Dst: ipNet(dst), Gw: via.AsSlice()}
		if err := h.RouteAdd(r); err != nil {
			return fmt.Errorf("route %s via %s: %w", dst, via, err)
		}
		return nil
	})
}
