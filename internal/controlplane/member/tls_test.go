package member

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// testCA makes a CA and, per name, a certificate it signs for 127.0.0.1
// (server and client authentication), as PEM files in dir.
func testCA(t *testing.T, dir string, names ...string) (ca string, files map[string]*TLSFiles) {
	t.Helper()
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
	files = map[string]*TLSFiles{}
	for i, n := range names {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: n},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		files[n] = &TLSFiles{CA: ca, Cert: write(n+".pem", "CERTIFICATE", der), Key: write(n+"-key.pem", "EC PRIVATE KEY", kder)}
	}
	return ca, files
}

func httpsURL(t *testing.T) string {
	return strings.Replace(freeURL(t), "http://", "https://", 1)
}

// TestTLS: members with certificates of one CA form a cluster over
// mutual TLS (a second member joins over it); a client with a
// certificate of that CA reads, one without a certificate, or with one of
// another CA, is refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	_, files := testCA(t, dir, "a", "b")
	_, stranger := testCA(t, t.TempDir(), "x")
	cfg := func(name, join string) Config {
		return Config{Dir: filepath.Join(dir, name+".etcd"), Name: name, ClientURL: httpsURL(t), PeerURL: httpsURL(t),
			Join: join, TLS: files[name], ReadyTimeout: 30 * time.Second}
	}
	a, err := Start(context.Background(), cfg("a", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Start(context.Background(), cfg("b", a.ClientURL))
	if err != nil {
		t.Fatalf("join over TLS: %v", err)
	}
	defer b.Close()

	list := func(tlsFiles *TLSFiles) error {
		c := clientv3.Config{Endpoints: []string{b.ClientURL}, DialTimeout: 3 * time.Second, Logger: zap.NewNop()}
		if tlsFiles.Cert != "" {
			var err error
			if c.TLS, err = tlsFiles.ClientConfig(); err != nil {
				t.Fatal(err)
			}
		} else {
			// Trusts the member, presents no certificate.
			pool := x509.NewCertPool()
			b, _ := os.ReadFile(tlsFiles.CA)
			pool.AppendCertsFromPEM(b)
			c.TLS = &tls.Config{RootCAs: pool}
		}
		cli, err := clientv3.New(c)
		if err != nil {
			return err
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		resp, err := cli.MemberList(ctx)
		if err == nil && len(resp.Members) != 2 {
			t.Errorf("%d members, want 2", len(resp.Members))
		}
		return err
	}
	if err := list(files["a"]); err != nil {
		t.Fatalf("a client with a certificate of the CA: %v", err)
	}
	if err := list(stranger["x"]); err == nil {
		t.Error("a client with a certificate of another CA was served")
	}
	noCert := &TLSFiles{CA: files["a"].CA}
	if err := list(noCert); err == nil {
		t.Error("a client without a certificate was served")
	}
	if _, err := noCert.ClientConfig(); err == nil {
		t.Error("a client TLS configuration without a certificate was made")
	}
}
