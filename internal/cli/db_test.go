package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// startServe runs "palisade serve ARGS" in-process until stop, which
// fails the test unless serve exits 0.
func startServe(t *testing.T, args ...string) (addr string, stop func()) {
	t.Helper()
	t.Setenv("PALISADE_ACCESS_KEY_ID", testenv.KeyID)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", testenv.Secret)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &logbuf.Buffer{}, &logbuf.Buffer{}
	done := make(chan int, 1)
	go func() { done <- serveCtx(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), stdout, stderr) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, stderr)
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(stdout.String()); m != nil {
			return m[2], stop
		}
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("serve exited %d early: %s", code, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s / %s", stdout, stderr)
	return
}

func loopbackURL(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
}

func runDB(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(append([]string{"db"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestBackupAndMigrateToCluster: a single-machine installation with a
// group is backed up (the copy serves the group), then moved into a new
// embedded member (db migrate --cluster-init), and "serve --cluster-init"
// on it serves the same group under the same ID to the same key, and
// takes writes; the member is then backed up with a snapshot.
func TestBackupAndMigrateToCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("short: starts an embedded etcd member")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "p.db")
	addr, stop := startServe(t, "--db", db)
	c := testenv.ECSClient(t, addr, testenv.KeyID, testenv.Secret)
	r := ecs.CreateCreateSecurityGroupRequest()
	r.SecurityGroupName = "before-the-move"
	made, err := c.CreateSecurityGroup(r)
	if err != nil {
		t.Fatal(err)
	}
	sg := made.SecurityGroupId
	stop()

	hasGroup := func(t *testing.T, addr string) {
		t.Helper()
		c := testenv.ECSClient(t, addr, testenv.KeyID, testenv.Secret)
		r := ecs.CreateDescribeSecurityGroupAttributeRequest()
		r.SecurityGroupId = sg
		got, err := c.DescribeSecurityGroupAttribute(r)
		if err != nil || got.SecurityGroupName != "before-the-move" {
			t.Fatalf("group %s on %s: %+v, %v", sg, addr, got, err)
		}
	}

	backup := filepath.Join(dir, "backup.db")
	if code, out, errs := runDB("backup", "--db", db, backup); code != 0 || !strings.Contains(out, "at revision") {
		t.Fatalf("db backup: exit %d: %s%s", code, out, errs)
	}
	t.Run("the backup serves", func(t *testing.T) {
		addr, stop := startServe(t, "--db", backup)
		hasGroup(t, addr)
		stop()
	})

	cu, pu := loopbackURL(t), loopbackURL(t)
	member := []string{"--etcd-client-url", cu, "--etcd-peer-url", pu}
	code, out, errs := runDB(append([]string{"migrate", "--from", db, "--cluster-init"}, member...)...)
	if code != 0 {
		t.Fatalf("db migrate: exit %d: %s%s", code, out, errs)
	}
	t.Log(strings.TrimSpace(out))
	if code, _, errs := runDB(append([]string{"migrate", "--from", db, "--cluster-init"}, member...)...); code != 2 || !strings.Contains(errs, "exists") {
		t.Errorf("a second migrate into the same member: exit %d, %s; want 2, refused", code, errs)
	}

	addr, stop = startServe(t, append([]string{"--db", db, "--cluster-init"}, member...)...)
	hasGroup(t, addr)
	c = testenv.ECSClient(t, addr, testenv.KeyID, testenv.Secret)
	r = ecs.CreateCreateSecurityGroupRequest()
	r.SecurityGroupName = "after-the-move"
	if _, err := c.CreateSecurityGroup(r); err != nil {
		t.Fatalf("write on the cluster: %v", err)
	}
	snap := filepath.Join(dir, "etcd.snap")
	if code, out, errs := runDB("backup", "--etcd", cu, snap); code != 0 {
		t.Fatalf("db backup --etcd: exit %d: %s%s", code, out, errs)
	}
	if fi, err := os.Stat(snap); err != nil || fi.Size() == 0 {
		t.Fatalf("snapshot: %v, %v", fi, err)
	}
	stop()
}

func TestDBFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "Usage"},
		{[]string{"restore"}, "unknown command"},
		{[]string{"backup"}, "give the file to write"},
		{[]string{"backup", "--etcd", "http://127.0.0.1:1,http://127.0.0.1:2", "x"}, "one member"},
		{[]string{"migrate", "--from", filepath.Join(dir, "p.db")}, "one of them"},
		{[]string{"migrate", "--from", filepath.Join(dir, "p.db"), "--cluster-init", "--to-etcd", "http://127.0.0.1:1"}, "one of them"},
		{[]string{"migrate", "--from", filepath.Join(dir, "nope.db"), "--to-etcd", "http://127.0.0.1:1"}, "--from: no store at " + filepath.Join(dir, "nope.db") + ": give --from FILE"},
		{[]string{"backup", "--db", filepath.Join(dir, "nope.db"), filepath.Join(dir, "out.db")}, "--db: no store at " + filepath.Join(dir, "nope.db") + ": give --db FILE"},
		{[]string{"migrate", "--cluster-init", "--etcd-peer-url", "http://192.0.2.1:2380"}, "--etcd-allow-plaintext"},
	} {
		t.Run(fmt.Sprint(tc.args), func(t *testing.T) {
			if len(tc.args) > 1 && tc.args[0] == "migrate" && tc.want == "--etcd-allow-plaintext" {
				db := filepath.Join(dir, "exists.db")
				os.WriteFile(db, nil, 0o600)
				tc.args = append(tc.args, "--from", db)
			}
			code, _, errs := runDB(tc.args...)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, tc.want)
			}
		})
	}
}

// TestEtcdScheme: TLS flags with an http member are refused at once (the
// client only timed out); https without them is taken (a member with a
// server certificate alone is reached with the system's roots), and a
// failure to reach it says what an https member may need.
func TestEtcdScheme(t *testing.T) {
	for _, tc := range []struct {
		urls    []string
		tls     bool
		refused bool
		hint    bool
	}{
		{[]string{"http://127.0.0.1:2379"}, false, false, false},
		{[]string{"http://127.0.0.1:2379"}, true, true, false},
		{[]string{"https://127.0.0.1:2379"}, false, false, true},
		{[]string{"https://127.0.0.1:2379"}, true, false, false},
		{[]string{"https://127.0.0.1:2379", "http://127.0.0.1:22379"}, true, true, false},
		{[]string{"http://127.0.0.1:2379", "https://127.0.0.1:22379"}, false, false, true},
	} {
		err := checkEtcdScheme("--etcd", tc.urls, tc.tls)
		hint := etcdTLSHint(tc.urls, tc.tls)
		if (err != nil) != tc.refused || (hint != "") != tc.hint {
			t.Errorf("%v, TLS %v: refused %v, hint %q; want refused %v, a hint %v", tc.urls, tc.tls, err, hint, tc.refused, tc.hint)
		}
	}
}
