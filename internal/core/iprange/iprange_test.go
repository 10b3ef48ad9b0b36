package iprange

import (
	"net/netip"
	"testing"
)

func TestFromPrefix(t *testing.T) {
	for _, tt := range []struct{ pfx, lo, hi, str string }{
		{"10.0.0.0/8", "10.0.0.0", "10.255.255.255", "10.0.0.0/8"},
		{"10.1.2.3/32", "10.1.2.3", "10.1.2.3", "10.1.2.3"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255", "0.0.0.0/0"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"},
		{"2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64"},
		{"2001:db8::/100", "2001:db8::", "2001:db8::fff:ffff", "2001:db8::/100"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0"},
		{"2001:db8::1/128", "2001:db8::1", "2001:db8::1", "2001:db8::1"},
	} {
		r := FromPrefix(netip.MustParsePrefix(tt.pfx))
		lo, hi := netip.MustParseAddr(tt.lo), netip.MustParseAddr(tt.hi)
		if r.Lo() != KeyOf(lo) || r.Hi() != KeyOf(hi) {
			t.Errorf("%s: got %v..%v", tt.pfx, r.Lo(), r.Hi())
		}
		if r.First() != lo || r.Last() != hi || r.Is6() != lo.Is6() {
			t.Errorf("%s: got %s..%s (IPv6 %t)", tt.pfx, r.First(), r.Last(), r.Is6())
		}
		if r.String() != tt.str {
			t.Errorf("%s: renders as %s, want %s", tt.pfx, r, tt.str)
		}
	}
}

func TestMergeSubtract(t *testing.T) {
	p := netip.MustParsePrefix
	merged := MergePrefixes([]netip.Prefix{p("10.0.0.0/25"), p("10.0.0.128/25"), p("10.0.2.0/24")})
	if len(merged) != 2 || merged[0].String() != "10.0.0.0/24" || merged[1].String() != "10.0.2.0/24" {
		t.Fatalf("merged: %v", merged)
	}
	if !Holds(merged, KeyOf(netip.MustParseAddr("10.0.2.9"))) || Holds(merged, KeyOf(netip.MustParseAddr("10.0.1.9"))) {
		t.Errorf("Holds disagrees with %v", merged)
	}
	rest := Subtract(FromPrefix(p("10.0.0.0/22")), merged)
	if len(rest) != 2 || rest[0].String() != "10.0.1.0/24" || rest[1].String() != "10.0.3.0/24" {
		t.Errorf("subtract: %v", rest)
	}
	if got := FromAddrs(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.5")).String(); got != "10.0.0.1-10.0.0.5" {
		t.Errorf("range renders as %s", got)
	}
}

func TestSearch(t *testing.T) {
	k := func(s string) Key { return KeyOf(netip.MustParseAddr(s)) }
	starts := []Key{k("0.0.0.0"), k("10.0.0.0"), k("10.0.1.0"), k("192.168.0.0")}
	tests := []struct {
		addr string
		want int
	}{
		{"0.0.0.0", 0}, {"9.255.255.255", 0}, {"10.0.0.0", 1}, {"10.0.0.255", 1},
		{"10.0.1.0", 2}, {"192.167.255.255", 2}, {"192.168.0.0", 3}, {"255.255.255.255", 3},
	}
	for _, tt := range tests {
		if got := Search(starts, k(tt.addr)); got != tt.want {
			t.Errorf("Search(%s) = %d, want %d", tt.addr, got, tt.want)
		}
	}
}
