package nft

import (
	"net/netip"
	"slices"
)

// normalizePrefixes keeps the prefixes of one family, masked and sorted,
// without those another one contains: an interval set refuses overlaps.
func normalizePrefixes(ps []netip.Prefix, fam Family) []netip.Prefix {
	var in []netip.Prefix
	for _, p := range ps {
		if p.IsValid() && familyOf(p.Addr()) == fam {
			in = append(in, p.Masked())
		}
	}
	slices.SortFunc(in, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits() // the wider first, so it swallows the narrower
	})
	out := []netip.Prefix{} // never nil: an empty interval set is still a set
	for _, p := range in {
		if n := len(out); n > 0 && out[n-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// addrRange is an inclusive address range.
type addrRange struct{ from, to netip.Addr }

// mergeRanges merges sorted, non-overlapping prefixes into ranges that do not
// touch: the intervals the kernel holds (adjacent intervals would share a
// boundary element).
func mergeRanges(ps []netip.Prefix) []addrRange {
	var out []addrRange
	for _, p := range ps {
		r := addrRange{p.Addr(), lastAddr(p)}
		if n := len(out); n > 0 && out[n-1].to.Next() == r.from {
			out[n-1].to = r.to
			continue
		}
		out = append(out, r)
	}
	return out
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// String renders the range as nft lists it: a prefix when it is one.
func (r addrRange) String() string {
	for bits := 0; bits <= r.from.BitLen(); bits++ {
		p := netip.PrefixFrom(r.from, bits)
		if p.Masked().Addr() == r.from && lastAddr(p) == r.to {
			if bits == r.from.BitLen() {
				return r.from.String()
			}
			return p.String()
		}
	}
	return r.from.String() + "-" + r.to.String()
}
