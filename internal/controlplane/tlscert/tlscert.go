// Package tlscert gives the API server its TLS configuration: a certificate
// and key the user supplies, or a self-signed certificate for local use,
// generated once into a directory and reused on later starts, so that the
// same file can be handed to clients (SSL_CERT_FILE) for good.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/atomicfile"
)

// File names of a self-signed pair inside its directory.
const (
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// Load reads a PEM certificate (chain) and its private key.
func Load(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("give both --tls-cert and --tls-key")
	}
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", f, err)
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w (both must be PEM, the key the certificate's)", certFile, keyFile, err)
	}
	return Config(pair), nil
}

// Config is the server's TLS configuration for one certificate.
func Config(pair tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// Names are the names a self-signed certificate is made for: loopback
// (127.0.0.1, ::1, localhost) and the host the server listens on. An
// unspecified listen host (0.0.0.0, ::, "") adds the machine's host name.
func Names(listenHost string) (ips []netip.Addr, dns []string) {
	ips = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	dns = []string{"localhost"}
	a, err := netip.ParseAddr(listenHost)
	switch {
	case listenHost == "" || err == nil && a.IsUnspecified():
		if h, err := os.Hostname(); err == nil && h != "" {
			dns = append(dns, h)
		}
	case err == nil:
		a = a.Unmap()
		if !slices.Contains(ips, a) {
			ips = append(ips, a)
		}
	case !slices.Contains(dns, listenHost):
		dns = append(dns, listenHost)
	}
	return ips, dns
}

// SelfSigned returns the self-signed pair in dir for the listen host,
// generating it when dir holds none, when the one there does not name the
// host, or when it expires within 30 days. created reports a generation.
// The key is written with mode 0600.
func SelfSigned(dir, listenHost string, now time.Time) (cfg *tls.Config, certPath string, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	ips, dns := Names(listenHost)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && covers(pair.Leaf, ips, dns, now) {
		return Config(pair), certPath, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", false, fmt.Errorf("create the certificate directory: %w", err)
	}
	certPEM, keyPEM, err := generate(ips, dns, now)
	if err != nil {
		return nil, "", false, err
	}
	if err := atomicfile.WriteBytes(keyPath, keyPEM, 0o600); err != nil {
		return nil, "", false, err
	}
	if err := atomicfile.WriteBytes(certPath, certPEM, 0o644); err != nil {
		return nil, "", false, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, "", false, err
	}
	return Config(pair), certPath, true, nil
}

// covers reports whether c is valid for 30 more days and names every
// address and name.
func covers(c *x509.Certificate, ips []netip.Addr, dns []string, now time.Time) bool {
	if c == nil || now.Before(c.NotBefore) || now.Add(30*24*time.Hour).After(c.NotAfter) {
		return false
	}
	for _, a := range ips {
		if c.VerifyHostname(a.String()) != nil {
			return false
		}
	}
	for _, n := range dns {
		if c.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// validity is how long a generated certificate lasts: 825 days, the
// longest some platforms (macOS, iOS) accept for a server certificate.
const validity = 825 * 24 * time.Hour

// generate makes an ECDSA P-256 key and a certificate for the names,
// signed by itself. It is its own CA (so that clients can trust it as a
// root through SSL_CERT_FILE or a cert pool) and a server certificate.
func generate(ips []netip.Addr, dns []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Palisade local API", Organization: []string{"Palisade (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              dns,
	}
	for _, a := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// Loopback reports whether a listen host only takes connections from this
// machine (as does a peer's URL host: host names are case-insensitive).
func Loopback(listenHost string) bool {
	if strings.EqualFold(listenHost, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(listenHost)
	return err == nil && a.Unmap().IsLoopback()
}
