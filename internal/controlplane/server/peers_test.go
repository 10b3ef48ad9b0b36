package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdvertiseURL: the URL the other servers reach this one at is
// --advertise, else the address listened on, which must name a host.
func TestAdvertiseURL(t *testing.T) {
	for _, tc := range []struct {
		advertise, listened string
		tls                 bool
		want                string // "" = refused
	}{
		{"", "127.0.0.1:8080", false, "http://127.0.0.1:8080"},
		{"", "10.0.0.5:8443", true, "https://10.0.0.5:8443"},
		{"", "[::1]:8080", false, "http://[::1]:8080"},
		{"", "0.0.0.0:8080", false, ""},
		{"", "[::]:8080", false, ""},
		{"", ":8080", false, ""},
		{"10.0.0.5:8080", "0.0.0.0:8080", false, "http://10.0.0.5:8080"},
		{"api.example.com:443", "[::]:8443", true, "https://api.example.com:443"},
		{"10.0.0.5", "0.0.0.0:8080", false, ""},
		{"10.0.0.5:8080/x", "0.0.0.0:8080", false, ""},
		{"user@10.0.0.5:8080", "0.0.0.0:8080", false, ""},
		{":8080", "0.0.0.0:8080", false, ""},
	} {
		got, err := advertiseURL(tc.advertise, tc.listened, tc.tls)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("advertise %q, listening on %s: %q, %v; want %q", tc.advertise, tc.listened, got, err, tc.want)
		}
	}
}

// TestServerID: a server's ID is made once and kept beside its store; a
// file that does not hold one is refused, not replaced.
func TestServerID(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	id, err := serverID(db)
	if err != nil || len(id) != 16 {
		t.Fatalf("new ID %q, %v", id, err)
	}
	if again, err := serverID(db); again != id || err != nil {
		t.Errorf("ID at the second start %q, %v; want %q", again, err, id)
	}
	if err := os.WriteFile(serverIDFile(db), []byte("not an id!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := serverID(db); err == nil {
		t.Errorf("a bad ID file gave %q", got)
	}
}

// TestLoopbackAdvertise: a loopback advertise address is refused when the
// etcd cluster is reached off this machine (every server would register
// one address and ask itself), and at the start, before etcd is dialed.
func TestLoopbackAdvertise(t *testing.T) {
	for _, tc := range []struct {
		self string
		etcd []string
		ok   bool
	}{
		{"http://127.0.0.1:8080", []string{"http://127.0.0.1:2379"}, true},
		{"http://localhost:8080", []string{"localhost:2379", "unix:///run/etcd.sock"}, true},
		{"http://127.0.0.1:8080", []string{"http://127.0.0.1:2379", "http://10.0.0.2:2379"}, false},
		{"https://[::1]:8443", []string{"etcd.example.com:2379"}, false},
		{"http://10.0.0.1:8080", []string{"http://10.0.0.2:2379"}, true},
		{"http://127.0.0.1:8080", []string{"http://127.0.0.1:2379", "", "http://192.0.2.1:2380"}, false}, // an embedded member's peer URL
	} {
		if err := checkLoopbackAdvertise(tc.self, tc.etcd); (err == nil) != tc.ok {
			t.Errorf("advertise %s with etcd %v: %v, want ok %v", tc.self, tc.etcd, err, tc.ok)
		}
	}
	dir := t.TempDir()
	_, err := Open(t.Context(), Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "p.db"), Etcd: []string{"http://192.0.2.1:2379"}})
	if err == nil || !strings.Contains(err.Error(), "--advertise") {
		t.Errorf("Open with a loopback listen and etcd off the machine: %v, want a refusal naming --advertise", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p.db")); err == nil {
		t.Errorf("the refused start made the store")
	}
}
