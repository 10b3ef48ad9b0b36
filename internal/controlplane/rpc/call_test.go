package rpc

import "testing"

func TestClientHost(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:5300", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"192.0.2.1", "192.0.2.1"}, // no port: as it is
		{"@", "@"},                 // a unix socket's peer
		{"", ""},
	} {
		if got := ClientHost(tc.addr); got != tc.want {
			t.Errorf("ClientHost(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}
