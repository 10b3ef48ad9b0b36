package reach

import (
	"iter"
	"net/netip"

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
