package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/tlscert/tlscerttest"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestServeClusterTLS: "serve --cluster-init" with the member's
// certificates serves the API on a member that speaks only mutual TLS;
// "db backup --etcd" snapshots it with the certificate and is refused
// without.
func TestServeClusterTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("short: starts an embedded etcd member")
	}
	dir := t.TempDir()
	ca, pairs := tlscerttest.CA(t, dir, "member")
	cert, key := pairs["member"].Cert, pairs["member"].Key
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
