package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestTarget: the example takes PALISADE_ENDPOINT in each form serve
// prints (https:// for a server with a certificate).
func TestTarget(t *testing.T) {
	for _, tt := range []struct{ in, domain, scheme string }{
		{"", "127.0.0.1:8080", "http"},
		{"127.0.0.1:18080", "127.0.0.1:18080", "http"},
		{"http://127.0.0.1:18080", "127.0.0.1:18080", "http"},
		{"https://127.0.0.1:8443", "127.0.0.1:8443", "https"},
		{"https://localhost:8443/", "localhost:8443", "https"},
	} {
		if d, s := target(tt.in); d != tt.domain || s != tt.scheme {
			t.Errorf("target(%q) = %q, %q; want %q, %q", tt.in, d, s, tt.domain, tt.scheme)
		}
	}
}

// TestTour runs the README's tour against a server over HTTP and over
// HTTPS, with PALISADE_ENDPOINT as serve prints it.
func TestTour(t *testing.T) {
	for _, tls := range []bool{true, false} {
		srv := testenv.Start(t, testenv.Config{TLS: tls})
		endpoint := srv.Addr
		if tls {
			// The SDK trusts the system's roots, which Go reads from
			// SSL_CERT_FILE once, before the first TLS handshake.
			t.Setenv("SSL_CERT_FILE", srv.CAFile)
			endpoint = "https://" + srv.Addr
		}
		var out bytes.Buffer
		if err := run(endpoint, srv.KeyID, srv.Secret, &out); err != nil {
			t.Fatalf("tour against %s: %v", endpoint, err)
		}
		for _, want := range []string{"Accept TCP 3306/3306 from sg-", "(web)", "InvalidPriority.ValueNotSupported"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("tour against %s printed no %q:\n%s", endpoint, want, out.String())
			}
		}
	}
}
