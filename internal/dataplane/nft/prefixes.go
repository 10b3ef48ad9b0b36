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
