package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true, "LocalHost": true, "::ffff:127.0.0.1": true,
		"10.0.0.1": false, "0.0.0.0": false, "": false, "::": false, "192.168.1.5": false, "example.com": false,
	} {
		if got := Loopback(host); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestSelfSigned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cfg, path, created, err := SelfSigned(dir, "10.9.8.7", now)
	if err != nil || !created || path != filepath.Join(dir, CertFile) {
		t.Fatalf("first start: %v %v %s", err, created, path)
	}
	leaf := cfg.Certificates[0].Leaf
	if leaf == nil {
		t.Fatal("no parsed leaf")
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	for _, name := range []string{"127.0.0.1", "::1", "localhost", "10.9.8.7"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not name %s: %v", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", err, fi.Mode())
	}
	serial := leaf.SerialNumber

	for _, tc := range []struct {
		name    string
		host    string
		at      time.Time
		created bool
	}{
		{"same host: reused", "10.9.8.7", now.Add(24 * time.Hour), false},
		{"loopback only: reused", "127.0.0.1", now, false},
		{"another host: remade", "10.9.8.8", now, true},
		{"near expiry: remade", "127.0.0.1", now.Add(validity - 10*24*time.Hour), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, created, err := SelfSigned(dir, tc.host, tc.at)
			if err != nil || created != tc.created {
				t.Fatalf("created %v, err %v; want created %v", created, err, tc.created)
			}
			if same := cfg.Certificates[0].Leaf.SerialNumber.Cmp(serial) == 0; same == tc.created {
				t.Errorf("serial unchanged = %v", same)
			}
			serial = cfg.Certificates[0].Leaf.SerialNumber
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("x"), 0o600)
	if _, err := Load(junk, ""); err == nil {
		t.Error("a missing key was accepted")
	}
	if _, err := Load(filepath.Join(dir, "none"), junk); err == nil {
		t.Error("a missing certificate was accepted")
	}
	if _, err := Load(junk, junk); err == nil {
		t.Error("a file that is not PEM was accepted")
	}
	// A pair SelfSigned wrote loads.
	if _, _, _, err := SelfSigned(dir, "127.0.0.1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)); err != nil {
		t.Errorf("Load of a generated pair: %v", err)
	}
}
