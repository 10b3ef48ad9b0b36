// Package iprange holds the one address-range type of Palisade: an
// immutable, inclusive range of addresses of one family, and the 128-bit
// integer form of an address (Key) that lets ranges sort and compare
// cheaply in the hot loops of the evaluators and analyses. The compiled
// evaluator (policy), the packet-space analysis (space, reach) and the data
// plane's interval sets (nft) all speak it.
package iprange

import (
	"encoding/binary"
	"net/netip"
	"slices"
)

// Key is an address as a 128-bit integer (IPv4 in the low 32 bits), so that
// intervals of either family sort and compare cheaply. Families never share
// a table, so an IPv4 and an IPv6 key are never compared.
type Key struct{ Hi, Lo uint64 }

// KeyOf returns the key of an address.
func KeyOf(a netip.Addr) Key {
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return Key{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return Key{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// Addr returns the address of a key of the given family.
func (k Key) Addr(six bool) netip.Addr {
	if !six {
		return netip.AddrFrom4([4]byte{byte(k.Lo >> 24), byte(k.Lo >> 16), byte(k.Lo >> 8), byte(k.Lo)})
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.Hi)
	binary.BigEndian.PutUint64(b[8:], k.Lo)
	return netip.AddrFrom16(b)
}

// Compare orders keys as unsigned integers.
func (k Key) Compare(o Key) int {
	switch {
	case k.Hi < o.Hi || k.Hi == o.Hi && k.Lo < o.Lo:
		return -1
	case k == o:
		return 0
	}
	return 1
}

// Less reports whether k < o.
func (k Key) Less(o Key) bool { return k.Hi < o.Hi || k.Hi == o.Hi && k.Lo < o.Lo }

// Next returns k+1 (the caller makes sure k is not the family's last key).
func (k Key) Next() Key {
	if k.Lo == ^uint64(0) {
		return Key{k.Hi + 1, 0}
	}
	return Key{k.Hi, k.Lo + 1}
}

// Prev returns k-1 (k is not zero).
func (k Key) Prev() Key {
	if k.Lo == 0 {
		return Key{k.Hi - 1, ^uint64(0)}
	}
	return Key{k.Hi, k.Lo - 1}
}

// Last returns the highest key of a family.
func Last(six bool) Key {
	if six {
		return Key{^uint64(0), ^uint64(0)}
	}
	return Key{0, 1<<32 - 1}
}

// Count returns the number of keys from k to o inclusive, as a float (IPv6
// spaces overflow integers; volumes only rank blockers).
func Count(k, o Key) float64 {
	return (float64(o.Hi)-float64(k.Hi))*18446744073709551616.0 + (float64(o.Lo) - float64(k.Lo)) + 1
}

// Range is an inclusive range of addresses of one family. Its bounds are
// set by the constructors only; it is a value, safe to share.
type Range struct {
	lo, hi Key
	six    bool
}

// New returns the range from lo to hi (lo <= hi) of a family.
func New(lo, hi Key, six bool) Range { return Range{lo, hi, six} }

// All returns the whole family.
func All(six bool) Range { return Range{Key{}, Last(six), six} }

// FromPrefix returns the addresses of a prefix.
func FromPrefix(p netip.Prefix) Range {
	p = p.Masked()
	lo := KeyOf(p.Addr())
	hi := lo
	// Go defines shifts by the full width as 0, so 1<<64-1 is all ones.
	if host := p.Addr().BitLen() - p.Bits(); host <= 64 {
		hi.Lo |= uint64(1)<<host - 1
	} else {
		hi.Lo = ^uint64(0)
		hi.Hi |= uint64(1)<<(host-64) - 1
	}
	return Range{lo, hi, p.Addr().Is6()}
}

// FromAddrs returns the range from first to last (of one family, first <= last).
func FromAddrs(first, last netip.Addr) Range {
	return Range{KeyOf(first), KeyOf(last), first.Unmap().Is6()}
}

// Lo and Hi return the bounds as keys.
func (r Range) Lo() Key { return r.lo }
func (r Range) Hi() Key { return r.hi }

// Is6 reports whether the range holds IPv6 addresses.
func (r Range) Is6() bool { return r.six }

// First and Last return the bounds as addresses.
func (r Range) First() netip.Addr { return r.lo.Addr(r.six) }
func (r Range) Last() netip.Addr  { return r.hi.Addr(r.six) }

// Contains reports whether the range holds a key of its family.
func (r Range) Contains(k Key) bool { return !k.Less(r.lo) && !r.hi.Less(k) }

// Overlaps reports whether two ranges share an address.
func (r Range) Overlaps(o Range) bool {
	return r.six == o.six && !r.hi.Less(o.lo) && !o.hi.Less(r.lo)
}

// IsAll reports whether the range is its whole family.
func (r Range) IsAll() bool { return r == All(r.six) }

// WithHi returns the range with another upper bound.
func (r Range) WithHi(hi Key) Range { return Range{r.lo, hi, r.six} }

// String renders the range as nft lists it: an address or a prefix when it
// is one, else "first-last".
func (r Range) String() string {
	first := r.First()
	for bits := 0; bits <= first.BitLen(); bits++ {
		p := netip.PrefixFrom(first, bits)
		if FromPrefix(p) == r {
			if bits == first.BitLen() {
				return first.String()
			}
			return p.String()
		}
	}
	return first.String() + "-" + r.Last().String()
}

// LastAddr is the highest address of a prefix.
func LastAddr(p netip.Prefix) netip.Addr { return FromPrefix(p).Last() }

// Normalize sorts ranges of one family and merges those that overlap or
// touch. It reuses rs.
func Normalize(rs []Range) []Range {
	if len(rs) < 2 {
		return rs
	}
	slices.SortFunc(rs, func(a, b Range) int { return a.lo.Compare(b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if !last.hi.Less(r.lo) || last.hi.Next() == r.lo {
			if last.hi.Less(r.hi) {
				*last = last.WithHi(r.hi)
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// MergePrefixes merges sorted, non-overlapping prefixes of one family into
// ranges that do not touch.
func MergePrefixes(ps []netip.Prefix) []Range {
	var out []Range
	for _, p := range ps {
		r := FromPrefix(p)
		if n := len(out); n > 0 && out[n-1].hi != Last(r.six) && out[n-1].hi.Next() == r.lo {
			out[n-1] = out[n-1].WithHi(r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Holds reports whether sorted, disjoint ranges hold k.
func Holds(rs []Range, k Key) bool {
	i, ok := slices.BinarySearchFunc(rs, k, func(r Range, k Key) int {
		switch {
		case r.hi.Less(k):
			return -1
		case k.Less(r.lo):
			return 1
		}
		return 0
	})
	return ok && i < len(rs)
}

// Overlapping reports whether two sorted, disjoint range lists share a key.
func Overlapping(a, b []Range) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].hi.Less(b[j].lo):
			i++
		case b[j].hi.Less(a[i].lo):
			j++
		default:
			return true
		}
	}
	return false
}

// Subtract returns the parts of x outside sorted, disjoint ranges.
func Subtract(x Range, rs []Range) []Range {
	var out []Range
	lo := x.lo
	for _, r := range rs {
		if r.hi.Less(lo) {
			continue
		}
		if x.hi.Less(r.lo) {
			break
		}
		if lo.Less(r.lo) {
			out = append(out, Range{lo, r.lo.Prev(), x.six})
		}
		if !r.hi.Less(x.hi) {
			return out
		}
		lo = r.hi.Next()
	}
	return append(out, Range{lo, x.hi, x.six})
}

// Search returns the index of the piece of a sorted list of range starts
// that holds k: the last start <= k (starts[0] is the family's zero key).
// The compiled evaluator and the packet-space analysis both look addresses
// up this way.
func Search(starts []Key, k Key) int {
	lo, hi := 0, len(starts)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if !k.Less(starts[m]) {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}
