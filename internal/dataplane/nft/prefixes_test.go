package nft

import (
	"net/netip"
	"slices"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestIntervalSets(t *testing.T) {
	tests := []struct {
		name string
		fam  Family
		in   []netip.Prefix
		want []string // the ranges the set holds, as nft lists them
	}{
		{"one prefix", IPv4, prefixes("10.0.0.0/8"), []string{"10.0.0.0/8"}},
		{"host bits cleared, other family dropped", IPv4, prefixes("10.1.2.3/16", "2001:db8::/32"), []string{"10.1.0.0/16"}},
		{"contained prefixes go", IPv4, prefixes("10.1.0.0/16", "10.0.0.0/8", "10.2.3.0/24"), []string{"10.0.0.0/8"}},
		{"adjacent prefixes merge", IPv4, prefixes("10.0.0.0/9", "10.128.0.0/9"), []string{"10.0.0.0/8"}},
		{"adjacent but not a prefix", IPv4, prefixes("10.0.0.0/8", "11.0.0.0/16"), []string{"10.0.0.0-11.0.255.255"}},
		{"everything", IPv4, prefixes("0.0.0.0/0", "10.0.0.0/8"), []string{"0.0.0.0/0"}},
		{"the top address", IPv4, prefixes("255.255.255.255/32", "1.2.3.4/32"), []string{"1.2.3.4", "255.255.255.255"}},
		{"IPv6 to the top", IPv6, prefixes("ffff::/16", "2001:db8::/32"), []string{"2001:db8::/32", "ffff::/16"}},
		{"empty", IPv6, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Set{Name: "s", Type: addrType(tc.fam), Interval: true, Prefixes: normalizePrefixes(tc.in, tc.fam)}
			if got := elemKeys(s); !slices.Equal(got, tc.want) {
				t.Errorf("ranges %v, want %v", got, tc.want)
			}
			// The kernel's encoding decodes back to the same ranges.
			got := kernelElemKeys(&kset{typ: s.Type, interval: true}, setElements(s))
			if !slices.Equal(got, tc.want) {
				t.Errorf("encoded and decoded: %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIntervalEncoding(t *testing.T) {
	s := &Set{Type: IPv4Addr, Interval: true, Prefixes: prefixes("10.0.0.0/8", "255.255.255.0/24")}
	type el struct {
		key string
		end bool
	}
	var got []el
	for _, e := range setElements(s) {
		a, _ := netip.AddrFromSlice(e.Key)
		got = append(got, el{a.String(), e.IntervalEnd})
	}
	// As nft encodes it: a leading end at zero, each range's start and the
	// end one past it, no end for a range that reaches the top.
	want := []el{{"0.0.0.0", true}, {"10.0.0.0", false}, {"11.0.0.0", true}, {"255.255.255.0", false}}
	if !slices.Equal(got, want) {
		t.Errorf("elements %v, want %v", got, want)
	}
}
