package lab

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
)

// buildFabric joins the routers (internet first) to a bridge in the fabric
// namespace, each through a veth whose router end is fab0.
func (l *Lab) buildFabric(routers []string) error {
	err := inNetns(fabricNs(l.Spec.Name), func() error {
		off := false
		attrs := netlink.NewLinkAttrs()
		attrs.Name = bridgeName
		br := &netlink.Bridge{LinkAttrs: attrs, MulticastSnooping: &off}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("fabric bridge: %w", err)
		}
		if err := netlink.LinkSetUp(br); err != nil {
			return err
		}
		for i, r := range routers {
			f, err := os.Open(netnsPath(r))
			if err != nil {
				return err
			}
			attrs := netlink.NewLinkAttrs()
			attrs.Name = fabricPort(i + internetIndex)
			attrs.MasterIndex = br.Index
			v := &netlink.Veth{LinkAttrs: attrs, PeerName: fabIface, PeerNamespace: netlink.NsFd(f.Fd()), PeerTxQLen: -1,
				PeerHardwareAddr: routerMAC(i + internetIndex)}
			err = netlink.LinkAdd(v)
			f.Close()
			if err != nil {
				return fmt.Errorf("fabric port for %s: %w", r, err)
			}
			if err := netlink.LinkSetUp(v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range routers {
		idx := i + internetIndex
		err := inNetns(r, func() error {
			link, err := netlink.LinkByName(fabIface)
			if err != nil {
				return err
			}
			if err := addAddr(link, netip.PrefixFrom(underlayV4(idx), underlayNet.Bits()), false); err != nil {
				return err
			}
			if err := addAddr(link, netip.PrefixFrom(underlayV6(idx), 64), true); err != nil {
				return err
			}
			if err := netlink.LinkSetUp(link); err != nil {
				return err
			}
			for j := range routers {
				if other := j + internetIndex; other != idx {
					mac := routerMAC(other)
					if err := addNeigh(link, underlayV4(other), mac); err != nil {
						return err
					}
					if err := addNeigh(link, underlayV6(other), mac); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("underlay of %s: %w", r, err)
		}
	}
	return nil
}
