package policy

import (
	"net/netip"
	"testing"
)

func TestPrefixRange(t *testing.T) {
	for _, tt := range []struct{ pfx, lo, hi string }{
		{"10.0.0.0/8", "10.0.0.0", "10.255.255.255"},
		{"10.1.2.3/32", "10.1.2.3", "10.1.2.3"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"},
		{"2001:db8::/100", "2001:db8::", "2001:db8::fff:ffff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::1/128", "2001:db8::1", "2001:db8::1"},
	} {
		lo, hi := prefixRange(netip.MustParsePrefix(tt.pfx))
		if lo != keyOf(netip.MustParseAddr(tt.lo)) || hi != keyOf(netip.MustParseAddr(tt.hi)) {
			t.Errorf("%s: got %v..%v", tt.pfx, lo, hi)
		}
	}
}
