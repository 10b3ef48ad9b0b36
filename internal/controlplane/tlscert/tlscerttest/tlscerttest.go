// Package tlscerttest makes a certificate authority and certificates it
// signs, as PEM files, for tests of mutual TLS (embedded etcd members and
// the commands that reach them).
package tlscerttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// TB is what CA needs of a test.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// Pair is a certificate and its key, as PEM files.
type Pair struct{ Cert, Key string }

// CA writes to dir a CA (ca.pem) and, per name, a certificate it signs for
// 127.0.0.1, for server and client authentication (NAME.pem,
// NAME-key.pem), valid for an hour either side of now.
func CA(t TB, dir string, names ...string) (ca string, pairs map[string]Pair) {
	t.Helper()
	ips := map[string][]net.IP{}
	for _, n := range names {
		ips[n] = []net.IP{net.ParseIP("127.0.0.1")}
	}
	return CAFor(t, dir, ips)
}

// CAFor is CA with each name's certificate for its addresses.
func CAFor(t TB, dir string, ips map[string][]net.IP) (ca string, pairs map[string]Pair) {
	t.Helper()
	names := make([]string, 0, len(ips))
	for n := range ips {
		names = append(names, n)
	}
	slices.Sort(names) // serial numbers in a stable order
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	ca = write("ca.pem", "CERTIFICATE", caDER)
	pairs = map[string]Pair{}
	for i, n := range names {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: n},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: ips[n], KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		pairs[n] = Pair{Cert: write(n+".pem", "CERTIFICATE", der), Key: write(n+"-key.pem", "EC PRIVATE KEY", kder)}
	}
	return ca, pairs
}
