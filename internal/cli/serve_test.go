package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	sdkcreds "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/controlplane/tlscert"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

var servingRE = regexp.MustCompile(`on (https?)://([^/]+)/`)

// runServe starts "palisade serve ARGS" in-process and returns the scheme
// and address it reports; it stops at the end of the test.
func runServe(t *testing.T, args ...string) (scheme, addr string, stdout, stderr *logbuf.Buffer) {
	t.Helper()
	t.Setenv("PALISADE_ACCESS_KEY_ID", testenv.KeyID)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", testenv.Secret)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &logbuf.Buffer{}, &logbuf.Buffer{}
	done := make(chan int, 1)
	args = append([]string{"--db", filepath.Join(t.TempDir(), "p.db")}, args...)
	go func() { done <- serveCtx(ctx, args, stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, stderr)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], m[2], stdout, stderr
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited %d early: %s", code, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s / %s", stdout, stderr)
	return
}

// tlsECS is a classic ECS client that verifies the server against roots.
func tlsECS(t *testing.T, addr string, roots *x509.CertPool) *ecs.Client {
	t.Helper()
	cfg := sdk.NewConfig().WithScheme("HTTPS").WithTimeout(10 * time.Second).
		WithHttpTransport(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}})
	c, err := ecs.NewClientWithOptions(testenv.Region, cfg, sdkcreds.NewAccessKeyCredential(testenv.KeyID, testenv.Secret))
	if err != nil {
		t.Fatal(err)
	}
	c.SetHTTPSInsecure(false) // verification stays on
	c.Domain = addr
	return c
}

func describeRegions(c *ecs.Client) error {
	r := ecs.CreateDescribeRegionsRequest()
	r.SetScheme("HTTPS")
	_, err := c.DescribeRegions(r)
	return err
}

func TestServeSelfSignedTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	scheme, addr, stdout, _ := runServe(t, "--listen", "127.0.0.1:0", "--tls-self-signed", dir)
	if scheme != "https" {
		t.Fatalf("startup message says %s://, want https://:\n%s", scheme, stdout)
	}
	if !strings.Contains(stdout.String(), "Created a self-signed certificate") {
		t.Errorf("no word of the new certificate:\n%s", stdout)
	}
	certPath := filepath.Join(dir, tlscert.CertFile)
	fi, err := os.Stat(filepath.Join(dir, tlscert.KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	pemData, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		t.Fatal("cert.pem holds no certificate")
	}

	// The official SDK over HTTPS, verifying the certificate.
	if err := describeRegions(tlsECS(t, addr, roots)); err != nil {
		t.Fatalf("DescribeRegions over HTTPS with the self-signed cert trusted: %v", err)
	}
	// Without the certificate trusted, verification fails.
	if err := describeRegions(tlsECS(t, addr, x509.NewCertPool())); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted certificate was accepted: %v", err)
	}
	if !strings.Contains(stdout.String(), "https://"+addr+"/readyz") {
		t.Errorf("the startup message does not name /readyz: %s", stdout)
	}
	// /healthz is on the same listener, over HTTPS.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 5 * time.Second}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz over HTTPS: %v %v", resp, err)
	}
	resp.Body.Close()
	// Plain HTTP to the TLS port does not get through.
	if err := describeRegions(testenv.ECSClient(t, addr, testenv.KeyID, testenv.Secret)); err == nil {
		t.Error("a plain HTTP request to the TLS port succeeded")
	}

	// A second start reuses the certificate.
	_, addr2, stdout2, _ := runServe(t, "--listen", "127.0.0.1:0", "--tls-self-signed", dir)
	if !strings.Contains(stdout2.String(), "Using the self-signed certificate") {
		t.Errorf("second start did not reuse the certificate:\n%s", stdout2)
	}
	if err := describeRegions(tlsECS(t, addr2, roots)); err != nil {
		t.Fatalf("second start: the first certificate is no longer trusted: %v", err)
	}
}

// TestServeSelfSignedCertPathAbsolute: the startup message hands clients
// the certificate's path for SSL_CERT_FILE, which they set in shells of
// their own, elsewhere: a --tls-self-signed DIR relative to serve's
// directory is named by its absolute path (it was named as given).
func TestServeSelfSignedCertPathAbsolute(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	for _, tc := range []struct{ name, dir, want string }{
		{"relative", "tls", filepath.Join(wd, "tls", tlscert.CertFile)},
		{"dot relative", "./tls2", filepath.Join(wd, "tls2", tlscert.CertFile)},
		{"absolute", filepath.Join(wd, "abs"), filepath.Join(wd, "abs", tlscert.CertFile)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, stdout, _ := runServe(t, "--listen", "127.0.0.1:0", "--tls-self-signed", tc.dir)
			for _, v := range []string{"SSL_CERT_FILE=", "NODE_EXTRA_CA_CERTS="} {
				if !strings.Contains(stdout.String(), v+tc.want+" ") {
					t.Errorf("startup message does not give %s%s:\n%s", v, tc.want, stdout)
				}
			}
		})
	}
}

// TestServeTLSWithSSLCertFile runs the CLI in a child process with
// SSL_CERT_FILE naming the generated certificate (Go reads it once per
// process, so this process cannot change it): palisade apply and sg list
// over HTTPS, verifying the certificate.
func TestServeTLSWithSSLCertFile(t *testing.T) {
	if args := os.Getenv("PALISADE_TEST_CHILD_ARGS"); args != "" {
		os.Exit(Main(strings.Split(args, "\n"), os.Stdout, os.Stderr))
	}
	dir := t.TempDir()
	_, addr, _, _ := runServe(t, "--listen", "127.0.0.1:0", "--tls-self-signed", dir)
	child := func(args ...string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServeTLSWithSSLCertFile$")
		cmd.Env = append(os.Environ(), "PALISADE_TEST_CHILD_ARGS="+strings.Join(args, "\n"), "SSL_CERT_FILE="+filepath.Join(dir, tlscert.CertFile),
			"PALISADE_ENDPOINT=https://"+addr, "PALISADE_ACCESS_KEY_ID="+testenv.KeyID, "PALISADE_ACCESS_KEY_SECRET="+testenv.Secret)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := child("apply", "../../testdata/scenarios/05-group-to-group.yaml", "--yes"); err != nil || !strings.Contains(out, "Applied") {
		t.Fatalf("palisade apply --endpoint https://%s with SSL_CERT_FILE: %v\n%s", addr, err, out)
	}
	out, err := child("sg", "list")
	if err != nil || !strings.Contains(out, "sg-") {
		t.Fatalf("palisade sg list --endpoint https://%s with SSL_CERT_FILE: %v\n%s", addr, err, out)
	}
	// Without the certificate the same call fails verification.
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeTLSWithSSLCertFile$")
	cmd.Env = append(os.Environ(), "PALISADE_TEST_CHILD_ARGS=sg\nlist", "SSL_CERT_FILE=/dev/null", "SSL_CERT_DIR=/nonexistent",
		"PALISADE_ENDPOINT=https://"+addr, "PALISADE_ACCESS_KEY_ID="+testenv.KeyID, "PALISADE_ACCESS_KEY_SECRET="+testenv.Secret)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "certificate") {
		t.Errorf("an untrusted certificate was accepted: %v\n%s", err, out)
	}
}

func TestServeTLSFlagErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing cert", []string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", junk}, "nope.pem"},
		{"cert without key", []string{"--tls-cert", junk}, "give both --tls-cert and --tls-key"},
		{"not PEM", []string{"--tls-cert", junk, "--tls-key", junk}, "load TLS certificate"},
		{"both kinds", []string{"--tls-cert", junk, "--tls-key", junk, "--tls-self-signed", dir}, "not both"},
		{"no connections", []string{"--max-conns", "0"}, "must be positive"},
		{"no body time", []string{"--body-timeout", "0s"}, "must be positive"},
		{"large bodies below one body", []string{"--max-large-bodies", "1000"}, "--max-large-bodies must be at least --max-body-bytes"},
		{"negative throttled delay", []string{"--throttled-delay", "-1s"}, "--throttled-delay not negative"},
		{"negative analysis queue", []string{"--analysis-queue", "-1"}, "--analysis-queue"},
		{"negative GC headroom", []string{"--gc-headroom", "-1"}, "--gc-headroom"},
		{"clock skew of 0", []string{"--max-clock-skew", "0"}, "from 1s to 24h"},
		{"clock skew of two days", []string{"--max-clock-skew", "48h"}, "from 1s to 24h"},
		{"log format", []string{"--log-format", "xml"}, "use text or json"},
		{"log level", []string{"--log-level", "loud"}, "use debug, info, warn or error"},
		{"no events kept", []string{"--events-max", "0"}, "must be positive"},
		{"webhook scheme", []string{"--webhook-url", "ftp://alerts/"}, "--webhook-url"},
		{"etcd without URLs", []string{"--etcd", " , "}, "give the client URLs of the etcd cluster"},
		{"init and join", []string{"--cluster-init", "--join", "http://127.0.0.1:2379"}, "not both"},
		{"member and external etcd", []string{"--join", "http://127.0.0.1:2379", "--etcd", "http://127.0.0.1:2379"}, "not both"},
		{"member on the network", []string{"--cluster-init", "--etcd-peer-url", "http://192.0.2.1:2380"}, "--etcd-allow-plaintext"},
		{"joined over the network", []string{"--join", "http://192.0.2.1:2379"}, "not on loopback"},
		{"member over TLS without certificates", []string{"--cluster-init", "--etcd-client-url", "https://127.0.0.1:2379"}, "needs the member's certificate"},
		{"etcd TLS without a key", []string{"--cluster-init", "--etcd-ca", junk, "--etcd-cert", junk}, "TLS needs the CA, a certificate and its key"},
		{"no VPCs", []string{"--quota-vpcs", "0"}, "every --quota-* must be positive"},
		{"negative instances", []string{"--quota-instances", "-1"}, "every --quota-* must be positive"},
		{"etcd TLS with a bad certificate", []string{"--etcd", "http://127.0.0.1:2379", "--etcd-ca", junk, "--etcd-cert", junk, "--etcd-key", junk}, "failed to find any PEM data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "p.db")}, tc.args...)
			code := serveCtx(context.Background(), args, &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errb.String(), tc.want)
			}
		})
	}
}

// TestServeQuotaFlags: the operator's --quota-* reach the API: past
// them a request is refused with ECS's code, and the defaults' refusal no
// longer comes where an override moved it.
func TestServeQuotaFlags(t *testing.T) {
	_, addr, _, _ := runServe(t, "--listen", "127.0.0.1:0", "--quota-vpcs", "2", "--quota-vswitches-per-vpc", "1", "--quota-security-groups", "101")
	v := testenv.VPCClient(t, addr, testenv.KeyID, testenv.Secret)
	c := testenv.ECSClient(t, addr, testenv.KeyID, testenv.Secret)
	vpcOf := func() (string, error) {
		r := vpc.CreateCreateVpcRequest()
		r.CidrBlock = "10.0.0.0/16"
		resp, err := v.CreateVpc(r)
		if err != nil {
			return "", err
		}
		return resp.VpcId, nil
	}
	vswOf := func(vpcID, cidr string) error {
		r := vpc.CreateCreateVSwitchRequest()
		r.VpcId, r.CidrBlock, r.ZoneId = vpcID, cidr, "cn-hangzhou-h"
		_, err := v.CreateVSwitch(r)
		return err
	}
	group := func(i int) error {
		r := ecs.CreateCreateSecurityGroupRequest()
		r.SecurityGroupName = fmt.Sprintf("g%d", i)
		_, err := c.CreateSecurityGroup(r)
		return err
	}
	first, err := vpcOf()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vpcOf(); err != nil {
		t.Fatal(err)
	}
	if err := vswOf(first, "10.0.1.0/24"); err != nil {
		t.Fatal(err)
	}
	for i := range 101 {
		if err := group(i); err != nil {
			t.Fatalf("group %d of 101: %v", i+1, err)
		}
	}
	_, errVPC := vpcOf()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"a third VPC", errVPC, 400, "QuotaExceeded.Vpc"},
		{"a second vSwitch", vswOf(first, "10.0.2.0/24"), 400, "QuotaExceeded.VSwitch"},
		{"a 102nd group", group(101), 403, "QuotaExceed.SecurityGroup"},
	} {
		code, status, _ := testenv.APIError(tc.err)
		if code != tc.code || status != tc.status {
			t.Errorf("%s: %v; want %d %s", tc.name, tc.err, tc.status, tc.code)
		}
	}
}

func TestServePlainHTTPWarning(t *testing.T) {
	_, _, _, stderr := runServe(t, "--listen", "127.0.0.1:0")
	if strings.Contains(stderr.String(), "warning") {
		t.Errorf("warning on loopback: %s", stderr)
	}
	_, _, _, stderr = runServe(t, "--listen", "0.0.0.0:0")
	if !strings.Contains(stderr.String(), "not a loopback address") {
		t.Errorf("no warning for plain HTTP on 0.0.0.0: %q", stderr)
	}
}

// TestGCHeadroomFor: GOGC in the environment, to any value (100, Go's
// default, too), turns the server's GC headroom off, as --gc-headroom 0
// does; otherwise the flag stands.
func TestGCHeadroomFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		flag int64
		env  map[string]string
		want int64
	}{
		{"default", 64 << 20, nil, 64 << 20},
		{"flag 0", 0, nil, -1},
		{"GOGC=100", 64 << 20, map[string]string{"GOGC": "100"}, -1},
		{"GOGC=200", 1 << 20, map[string]string{"GOGC": "200"}, -1},
		{"GOGC empty", 64 << 20, map[string]string{"GOGC": ""}, -1},
		{"other variable", 64 << 20, map[string]string{"GOMEMLIMIT": "1GiB"}, 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			if got := gcHeadroomFor(tc.flag, lookup); got != tc.want {
				t.Errorf("gcHeadroomFor(%d) = %d, want %d", tc.flag, got, tc.want)
			}
		})
	}
}

// TestServeStartErrors: the errors a first start meets say what to do, and
// the failed start keeps nothing.
func TestServeStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args func(dir string) []string
		code int
		want []string // substrings of stderr
		env  []string // NAME=VALUE pairs set for the start
	}{
		{"port in use", func(dir string) []string {
			return []string{"--listen", busy.Addr().String(), "--db", filepath.Join(dir, "p.db")}
		}, 1, []string{"address already in use", "give this server another address with --listen"}, nil},
		{"missing --db directory", func(dir string) []string {
			return []string{"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "no", "such", "p.db")}
		}, 2, []string{"does not exist", "mkdir -p " + filepath.Join("DIR", "no", "such")}, nil},
		{"--db directory is a file", func(dir string) []string {
			os.WriteFile(filepath.Join(dir, "f"), nil, 0o600)
			return []string{"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "f", "p.db")}
		}, 2, []string{"is not a directory"}, nil},
		{"short metrics token", func(dir string) []string {
			return []string{"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "p.db")}
		}, 1, []string{"PALISADE_METRICS_TOKEN has 6 characters", "at least 16"}, []string{"PALISADE_METRICS_TOKEN=secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			var out, errb logbuf.Buffer
			code := serveCtx(context.Background(), tt.args(dir), &out, &errb)
			errs := strings.ReplaceAll(errb.String(), dir, "DIR")
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
			if strings.Contains(out.String(), "SECRET") {
				t.Errorf("a failed start printed keys: %q", out.String())
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "p.db*")); len(left) > 0 {
				t.Errorf("a failed start left %v", left)
			}
		})
	}
}

// TestServeStateIsPrivate: the store holds every access key's secret, so
// its files (and the event trail's, and a backup) are readable by their
// owner only, whatever the umask; they were created 0644 under umask 022.
func TestServeStateIsPrivate(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	_, addr, _, _ := runServe(t, "--db", db)
	t.Setenv("PALISADE_ENDPOINT", addr)
	ok(t, "vpc", "create", "--name", "private") // a write: the WAL and the trail fill
	if code, out, errs := palisade("db", "backup", "--db", db, filepath.Join(dir, "backup.db")); code != 0 {
		t.Fatalf("db backup: exit %d\n%s%s", code, out, errs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.db*"))
	var checked int
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || fi.IsDir() {
			continue
		}
		checked++
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: mode %o, want no access for group and others", filepath.Base(f), perm)
		}
	}
	if checked < 4 { // p.db, its -wal, p.db.events, backup.db at least
		t.Errorf("checked only %d files: %v", checked, files)
	}
}

// TestServePrintsClientEndpoint: a server away from the clients' default
// endpoint says how to reach it, in a form the clients take; at the
// default it says nothing more.
func TestServePrintsClientEndpoint(t *testing.T) {
	_, addr, stdout, _ := runServe(t, "--listen", "127.0.0.1:0")
	if want := "export PALISADE_ENDPOINT=" + addr + "\n"; !strings.Contains(stdout.String(), want) {
		t.Errorf("serve output lacks %q:\n%s", want, stdout)
	}
	t.Setenv("PALISADE_ENDPOINT", "")
	for _, tt := range []struct{ scheme, addr, want string }{
		{"http", "127.0.0.1:8080", defaultEndpoint},
		{"http", "0.0.0.0:9000", "127.0.0.1:9000"},
		{"http", "[::]:9000", "127.0.0.1:9000"},
		{"https", "10.0.0.1:8443", "https://10.0.0.1:8443"},
		{"http", "[::1]:9000", "[::1]:9000"},
	} {
		if got := clientEndpoint(tt.scheme, tt.addr); got != tt.want {
			t.Errorf("clientEndpoint(%s, %s) = %s, want %s", tt.scheme, tt.addr, got, tt.want)
		}
	}
}

// TestServeOneServerPerStore: a second server on a --db a server uses is
// refused before it serves (it would serve from a view of its own, blind
// to the first's writes), and so is db migrate of that store; once the
// first has stopped, the store serves again.
func TestServeOneServerPerStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "p.db")
	ctx, cancel := context.WithCancel(context.Background())
	var out1, err1 logbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- serveCtx(ctx, []string{"--listen", "127.0.0.1:0", "--db", db}, &out1, &err1) }()
	for deadline := time.Now().Add(10 * time.Second); !servingRE.MatchString(out1.String()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first server did not start: %s", err1.String())
		}
	}
	var out2, err2 logbuf.Buffer
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second) // a server that started stops
	defer cancel2()
	code := serveCtx(ctx2, []string{"--listen", "127.0.0.1:0", "--db", db}, &out2, &err2)
	if code != 1 || !strings.Contains(err2.String(), "uses the store "+db) || !strings.Contains(err2.String(), "give this one another --db") || out2.String() != "" {
		t.Errorf("second server: exit %d, stdout %q, stderr %q; want exit 1, nothing served, the store named", code, out2.String(), err2.String())
	}
	if code, _, errs := palisade("db", "migrate", "--from", db, "--to-etcd", "http://127.0.0.1:1"); code != 1 || !strings.Contains(errs, "stop it first") {
		t.Errorf("db migrate of a served store: exit %d, stderr %q", code, errs)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("the first server exited %d: %s", code, err1.String())
	}
	runServe(t, "--listen", "127.0.0.1:0", "--db", db) // restarts on the store it left
}

// TestMetricsWho: serve's Metrics line says whom /metrics answers and, when
// only this machine, what lets others in.
func TestMetricsWho(t *testing.T) {
	for _, c := range []struct {
		public, token bool
		want          []string
	}{
		{false, false, []string{"this machine only", "PALISADE_METRICS_TOKEN", "--metrics-public"}},
		{false, true, []string{"this machine", "bearer token"}},
		{true, false, []string{"every client"}},
		{true, true, []string{"every client"}},
	} {
		got := metricsWho(c.public, c.token)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("metricsWho(public %v, token %v) = %q, lacks %q", c.public, c.token, got, w)
			}
		}
	}
}

// TestServeClusterInitLostMember: a server that ran on etcd before (its ID
// file is beside --db) started with --cluster-init on a dir that holds no
// member (a mistyped --etcd-dir or --db, or lost data) is refused, saying
// what to do, instead of starting a new, empty installation beside the
// one its cluster still serves. Without the ID file it starts a cluster.
func TestServeClusterInitLostMember(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	members := func() []string {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(dir, "*", "member"))
		return m
	}
	// It ran before: its ID is there; its member's data is not (it is in
	// another dir, or lost).
	if err := os.WriteFile(db+".server-id", []byte("5bf994d9eeac16e3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb logbuf.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"--listen", "127.0.0.1:0", "--db", db, "--cluster-init", "--etcd-client-url", loopbackURL(t), "--etcd-peer-url", loopbackURL(t)}
	if code := serveCtx(ctx, args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "holds no etcd member") {
		t.Errorf("--cluster-init of a server that ran before, on an empty dir: exit %d, stderr %q; want 2 saying the dir holds no member", code, errb.String())
	}
	if m := members(); len(m) > 0 {
		t.Errorf("the refused start made a member: %v", m)
	}
	os.Remove(db + ".server-id")
	runServe(t, args[2:]...) // --db given again: the last wins
	if m := members(); len(m) != 1 {
		t.Errorf("a first start with --cluster-init made members %v, want one", m)
	}
}

// TestServeStartNamesAnInactiveKey: a restart with the first tenant's pair
// still set keeps a key disabled through the API disabled, and its startup
// message said so nowhere: it named the key bare, as one to use, and every
// request signed with it then got Forbidden.AccessKeyDisabled.
func TestServeStartNamesAnInactiveKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disable bool
	}{{"active", false}, {"disabled through the API", true}} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "p.db")
			addr, stop := startServe(t, "--db", db)
			t.Setenv("PALISADE_ENDPOINT", addr)
			var k2 struct{ AccessKeyId, AccessKeySecret string }
			if err := json.Unmarshal([]byte(ok(t, "key", "create", "--json")), &k2); err != nil {
				t.Fatal(err)
			}
			if tc.disable {
				t.Setenv("PALISADE_ACCESS_KEY_ID", k2.AccessKeyId)
				t.Setenv("PALISADE_ACCESS_KEY_SECRET", k2.AccessKeySecret)
				ok(t, "key", "disable", testenv.KeyID)
			}
			stop()

			_, _, stdout, _ := runServe(t, "--db", db, "--listen", "127.0.0.1:0")
			line := "First tenant's (account "
			if i := strings.Index(stdout.String(), line); i >= 0 {
				line = stdout.String()[i:]
				line = line[:strings.IndexByte(line, '\n')]
			}
			if got := strings.Contains(line, testenv.KeyID+" (Inactive: "); got != tc.disable {
				t.Errorf("startup message says the key is Inactive: %v, want %v:\n%s", got, tc.disable, stdout)
			}
		})
	}
}
