package server

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsAccess: /metrics answers loopback clients, a scraper with the
// token, and anyone when public; others get 401 or 403 saying what lets
// them in, and none of the metrics. A loopback client must name this
// machine in Host: a browser on it that runs a page of a site whose DNS
// name was pointed at 127.0.0.1 (DNS rebinding) sends that site's name,
// and would otherwise read the metrics for the page.
func TestMetricsAccess(t *testing.T) {
	const token = "0123456789abcdef0123"
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("palisade_store_revision 7\n")) })
	self, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost localhost.localdomain\n127.0.1.1\tbox.example.com box # Debian\n"+
		"::1 ip6-localhost ip6-loopback\n192.0.2.9 lan.example\n# 127.0.0.1 commented.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func(f string) { hostsFile = f }(hostsFile)
	hostsFile = hosts
	cases := []struct {
		name   string
		access MetricsAccess
		remote string
		host   string // "" is 127.0.0.1:8080
		auth   string
		status int
		hint   string
	}{
		{"loopback v4", MetricsAccess{}, "127.0.0.1:5000", "", "", 200, ""},
		{"loopback v6", MetricsAccess{}, "[::1]:5000", "", "", 200, ""},
		{"loopback mapped", MetricsAccess{}, "[::ffff:127.0.0.1]:5000", "", "", 200, ""},
		{"remote", MetricsAccess{}, "192.0.2.7:5000", "", "", 403, "PALISADE_METRICS_TOKEN"},
		{"remote with a bearer but no token set", MetricsAccess{}, "192.0.2.7:5000", "", "Bearer " + token, 403, "--metrics-public"},
		{"remote, public", MetricsAccess{Public: true}, "192.0.2.7:5000", "", "", 200, ""},
		{"remote, token", MetricsAccess{Token: token}, "192.0.2.7:5000", "", "Bearer " + token, 200, ""},
		{"remote, token, scheme in lower case", MetricsAccess{Token: token}, "192.0.2.7:5000", "", "bearer " + token, 200, ""},
		{"remote, wrong token", MetricsAccess{Token: token}, "192.0.2.7:5000", "", "Bearer " + token + "x", 401, "Authorization: Bearer"},
		{"remote, token's prefix", MetricsAccess{Token: token}, "192.0.2.7:5000", "", "Bearer " + token[:10], 401, ""},
		{"remote, basic auth", MetricsAccess{Token: token}, "192.0.2.7:5000", "", "Basic " + token, 401, ""},
		{"remote v6, no header", MetricsAccess{Token: token}, "[2001:db8::1]:5000", "", "", 401, ""},
		{"remote v6, token", MetricsAccess{Token: token}, "[2001:db8::1]:5000", "", "Bearer " + token, 200, ""},
		{"link-local v6 is not loopback", MetricsAccess{}, "[fe80::1%eth0]:5000", "", "", 403, ""},
		{"malformed remote", MetricsAccess{}, "localhost", "", "", 403, ""},
		{"loopback, localhost", MetricsAccess{}, "127.0.0.1:5000", "localhost:8080", "", 200, ""},
		{"loopback, a name under localhost", MetricsAccess{}, "127.0.0.1:5000", "metrics.localhost", "", 200, ""},
		{"loopback v6, v6 literal", MetricsAccess{}, "[::1]:5000", "[::1]:8080", "", 200, ""},
		{"loopback, this machine's name", MetricsAccess{}, "127.0.0.1:5000", strings.ToUpper(self) + ":8080", "", 200, ""},
		{"loopback, no port", MetricsAccess{}, "127.0.0.1:5000", "127.0.0.1", "", 200, ""},
		{"loopback, another site's name", MetricsAccess{}, "127.0.0.1:5000", "rebind.example:8080", "", 403, "not another site's name"},
		{"loopback v6, another site's name", MetricsAccess{}, "[::1]:5000", "rebind.example.", "", 403, "127.0.0.1"},
		{"loopback, another site's name, token set", MetricsAccess{Token: token}, "127.0.0.1:5000", "rebind.example", "", 403, "PALISADE_METRICS_TOKEN"},
		{"loopback, another site's name, with the token", MetricsAccess{Token: token}, "127.0.0.1:5000", "rebind.example", "Bearer " + token, 200, ""},
		{"loopback, another site's name, no token set", MetricsAccess{}, "127.0.0.1:5000", "rebind.example", "", 403, "start serve with PALISADE_METRICS_TOKEN"},
		// Names the hosts file gives loopback addresses: not DNS's to add to.
		{"loopback, RHEL's localhost.localdomain", MetricsAccess{}, "127.0.0.1:5000", "localhost.localdomain:8080", "", 200, ""},
		{"loopback, Debian's 127.0.1.1 name", MetricsAccess{}, "127.0.0.1:5000", "BOX.example.com.:9090", "", 200, ""},
		{"loopback v6, ip6-localhost", MetricsAccess{}, "[::1]:5000", "ip6-localhost", "", 200, ""},
		{"loopback, a hosts name of another address", MetricsAccess{}, "127.0.0.1:5000", "lan.example", "", 403, ""},
		{"loopback, a commented-out name", MetricsAccess{}, "127.0.0.1:5000", "commented.example", "", 403, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/metrics", nil)
			r.RemoteAddr = c.remote
			r.Host = c.host
			if r.Host == "" {
				r.Host = "127.0.0.1:8080"
			}
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			w := httptest.NewRecorder()
			c.access.guard(metrics).ServeHTTP(w, r)
			body := w.Body.String()
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, body)
			}
			if c.status != 200 && strings.Contains(body, "palisade_") {
				t.Errorf("a refusal shows the metrics: %s", body)
			}
			if !strings.Contains(body, c.hint) {
				t.Errorf("answer %q does not say %q", body, c.hint)
			}
		})
	}
}

// TestMetricsTokenChecked: a token is refused when short or with space
// inside; space around it (a file's newline) is not part of it.
func TestMetricsTokenChecked(t *testing.T) {
	for _, c := range []struct {
		token string
		err   string
	}{
		{"", ""},
		{"0123456789abcdef", ""},
		{"0123456789abcdef\n", ""},
		{"  0123456789abcdef  ", ""},
		{"0123456789abcde", "has 15 characters"},
		{"0123456789abcde\n", "has 15 characters"},
		{"01234567 89abcdef", "white space inside"},
	} {
		err := MetricsAccess{Token: c.token}.check()
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("check(%q) = %v, want %q", c.token, err, c.err)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(c.token)) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}
