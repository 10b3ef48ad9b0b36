package reach

import (
	"iter"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// InsideBlocks lists what is not the internet to owner (every owner's for
// ""), for Options.Inside and Filter.Inside: the blocks of its VPCs, IPv4
// and IPv6, and the private addresses of its classic instances, which
// lie in no VPC. An outside address lies outside every VPC and is no
// NIC's (FORMAT.md: a file names the instance instead), so the internet's
// links leave these out, as the scenario loader leaves them out of the
// outside ends. Never nil.
func InsideBlocks(owner string, vpcs []*model.VPC, instances iter.Seq[*model.Instance]) []netip.Prefix {
	out := []netip.Prefix{}
	for _, v := range vpcs {
		if owner == "" || v.Owner == owner {
			for _, p := range []netip.Prefix{v.CIDR, v.IPv6CIDR} {
				if p.IsValid() {
					out = append(out, p)
				}
			}
		}
	}
	for in := range instances {
		if in.Classic() && (owner == "" || in.Owner == owner) {
			for _, a := range in.Addresses() {
				if a.IsValid() {
					out = append(out, netip.PrefixFrom(a, a.BitLen()))
				}
			}
		}
	}
	return out
}

// NotOutside says why a cannot be an outside end to owner ("" when it
// can): it is the public address of one of owner's instances, the private
// address of a classic one, or lies in one of owner's VPCs (every
// owner's for ""). Its internet links leave those out (InsideBlocks), so a
// verdict on such an end would contradict them; a file or a request
// names the instance instead.
func NotOutside(owner string, vpcs []*model.VPC, instances iter.Seq[*model.Instance], a netip.Addr) string {
	const tail = "; an outside address must be outside every VPC and no instance's (name the instance instead)"
	a = a.Unmap()
	for in := range instances {
		switch {
		case owner != "" && in.Owner != owner:
		case in.PublicIP == a:
			return a.String() + " is the public address of " + in.ID + tail
		case in.Classic() && slices.Contains(in.Addresses(), a):
			return a.String() + " is the private address of " + in.ID + tail
		}
	}
	// Every VPC that holds it: VPCs may share a block, and naming one
	// only read as the wrong one to whoever meant the other.
	var in []string
	for _, v := range vpcs {
		if (owner == "" || v.Owner == owner) && (v.CIDR.Contains(a) || v.IPv6CIDR.IsValid() && v.IPv6CIDR.Contains(a)) {
			in = append(in, v.ID)
		}
	}
	if len(in) > 0 {
		slices.Sort(in)
		return a.String() + " lies inside " + strings.Join(in, " and ") + tail
	}
	return ""
}
