package space

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

// Range is an inclusive interval of keys.
type Range struct{ Lo, Hi Key }

// PrefixRange returns the first and last address of a prefix.
func PrefixRange(p netip.Prefix) Range {
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
	return Range{lo, hi}
}

// normalize sorts ranges and merges those that overlap or touch.
func normalize(rs []Range) []Range {
	if len(rs) < 2 {
		return rs
	}
	slices.SortFunc(rs, func(a, b Range) int { return a.Lo.Compare(b.Lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if !last.Hi.Less(r.Lo) || last.Hi.Next() == r.Lo {
			if last.Hi.Less(r.Hi) {
				last.Hi = r.Hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// containsKey reports whether sorted, disjoint ranges hold k.
func containsKey(rs []Range, k Key) bool {
	i, _ := slices.BinarySearchFunc(rs, k, func(r Range, k Key) int {
		switch {
		case r.Hi.Less(k):
			return -1
		case k.Less(r.Lo):
			return 1
		}
		return 0
	})
	return i < len(rs) && !k.Less(rs[i].Lo) && !rs[i].Hi.Less(k)
}

// overlaps reports whether two sorted, disjoint range lists share a key.
func overlaps(a, b []Range) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].Hi.Less(b[j].Lo):
			i++
		case b[j].Hi.Less(a[i].Lo):
			j++
		default:
			return true
		}
	}
	return false
}

// searchKey returns the index of the piece holding k: the last start <= k
// (starts[0] is the family's zero key).
func searchKey(starts []Key, k Key) int {
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

// SearchKey returns the index of the piece of a sorted start list holding k.
func SearchKey(starts []Key, k Key) int { return searchKey(starts, k) }

func searchPort(starts []uint16, p uint16) int {
	lo, hi := 0, len(starts)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if starts[m] <= p {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// gallop is searchKey for a k known to lie in piece from or later: it
// probes onwards in growing steps, so that a run of searches for sorted
// keys costs about the log of the distance between them.
func gallop(starts []Key, from int, k Key) int {
	step := 1
	for from+step < len(starts) && !k.Less(starts[from+step]) {
		from += step
		step *= 2
	}
	// starts[from] <= k < starts[from+step] (or the end).
	return from + searchKey(starts[from:min(from+step, len(starts))], k)
}
