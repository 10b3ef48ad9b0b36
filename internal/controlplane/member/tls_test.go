package member

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/tlscert/tlscerttest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// testCA makes a CA and, per name, the member's TLS files signed by it.
func testCA(t *testing.T, dir string, names ...string) (ca string, files map[string]*TLSFiles) {
	ca, pairs := tlscerttest.CA(t, dir, names...)
	files = map[string]*TLSFiles{}
	for n, p := range pairs {
		files[n] = &TLSFiles{CA: ca, Cert: p.Cert, Key: p.Key}
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

// TestTLSJoinFromAnotherAddress: a member whose certificate names the
// address of its URLs but not the one its connections come from (a
// machine's other address; 127.0.0.1 for a member on 127.0.0.2) is
// refused by the others, and its join fails saying what to check (it
// said only that etcd could not fetch the cluster's information), and
// leaves the cluster as it was.
func TestTLSJoinFromAnotherAddress(t *testing.T) {
	dir := t.TempDir()
	_, pairs := tlscerttest.CAFor(t, dir, map[string][]net.IP{"a": {net.ParseIP("127.0.0.1")}, "b": {net.ParseIP("127.0.0.2")}})
	files := func(n string) *TLSFiles {
		return &TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: pairs[n].Cert, Key: pairs[n].Key}
	}
	on2 := func() string {
		l, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skip("no 127.0.0.2 here:", err)
		}
		defer l.Close()
		return "https://" + l.Addr().String()
	}
	a, err := Start(context.Background(), Config{Dir: filepath.Join(dir, "a.etcd"), Name: "a", ClientURL: httpsURL(t), PeerURL: httpsURL(t),
		TLS: files("a"), ReadyTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Start(context.Background(), Config{Dir: filepath.Join(dir, "b.etcd"), Name: "b", ClientURL: on2(), PeerURL: on2(),
		Join: a.ClientURL, TLS: files("b"), ReadyTimeout: 10 * time.Second})
	if err == nil {
		b.Close()
		t.Fatal("a member whose certificate does not name the address its connections come from joined")
	}
	for _, want := range []string{"the address its connections to the others come from", "--etcd-log-level warn"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{a.ClientURL}, TLS: a.ClientTLS, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if resp, err := cli.MemberList(ctx); err != nil || len(resp.Members) != 1 {
		t.Errorf("after the failed join: %v members (%v), want a alone", resp, err)
	}
}
