package cli

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
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// memberCerts writes a CA and a certificate it signs for 127.0.0.1
// (server and client authentication) to dir: ca.pem, cert.pem, key.pem.
func memberCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "members' CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "member"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", kder)
}

// TestServeClusterTLS: "serve --cluster-init" with the member's
// certificates serves the API on a member that speaks only mutual TLS;
// "db backup --etcd" snapshots it with the certificate and is refused
// without.
func TestServeClusterTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("short: starts an embedded etcd member")
	}
	dir := t.TempDir()
	ca, cert, key := memberCerts(t, dir)
	tlsFlags := []string{"--etcd-ca", ca, "--etcd-cert", cert, "--etcd-key", key}
	cu := strings.Replace(loopbackURL(t), "http:", "https:", 1)
	pu := strings.Replace(loopbackURL(t), "http:", "https:", 1)
	addr, stop := startServe(t, append([]string{"--db", filepath.Join(dir, "p.db"), "--cluster-init", "--etcd-client-url", cu, "--etcd-peer-url", pu}, tlsFlags...)...)
	c := testenv.ECSClient(t, addr, testenv.KeyID, testenv.Secret)
	if _, err := c.CreateSecurityGroup(ecs.CreateCreateSecurityGroupRequest()); err != nil {
		t.Fatalf("write on a member over TLS: %v", err)
	}
	if code, out, errs := runDB(append([]string{"backup", "--etcd", cu}, append(tlsFlags, filepath.Join(dir, "a.snap"))...)...); code != 0 {
		t.Fatalf("db backup over TLS: exit %d: %s%s", code, out, errs)
	}
	if code, _, _ := runDB("backup", "--etcd", cu, filepath.Join(dir, "b.snap")); code == 0 {
		t.Error("db backup without a certificate succeeded")
	}
	stop()
}
