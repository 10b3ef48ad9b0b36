package apitest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// startEtcd starts Debian's etcd binary (package etcd-server) on loopback
// ports with its data in a temporary directory, killed when the test ends,
// and returns its client URL and a kill (also run when the test ends); it
// skips the test when there is none.
func startEtcd(t *testing.T) (string, func()) {
	url, kill, _ := startEtcdProcess(t)
	return url, kill
}

// startEtcdProcess is startEtcd, also giving the etcd process (to stop it
// with SIGSTOP, as a partition cuts a server off from its quorum).
func startEtcdProcess(t *testing.T) (string, func(), *os.Process) {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd binary in PATH: install Debian's etcd-server (apt-get install etcd-server) to run the tests of servers on etcd")
	}
	for attempt := 1; ; attempt++ {
		cu, kill, proc, err := etcdProcess(t, bin)
		if err == nil {
			return cu, kill, proc
		}
		if !etcdtest.PortTaken(err.Error()) || attempt == 3 {
			t.Fatal(err)
		}
	}
}

// etcdProcess starts etcd (bin) on two free loopback ports and waits until
// it serves; an etcd that exits or is not ready in 30 s is an error holding
// its log.
func etcdProcess(t *testing.T, bin string) (string, func(), *os.Process, error) {
	cu := fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
	pu := fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
	dir := t.TempDir()
	cmd := exec.Command(bin, "--name", "apitest", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", "apitest="+pu, "--log-level", "error")
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	kill := func() {
		once.Do(func() {
			cmd.Process.Kill()
			<-exited
			logf.Close()
		})
	}
	t.Cleanup(kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := etcd.Dial(ctx, []string{cu}, "/ready/")
		cancel()
		if err == nil {
			s.Close()
			return cu, kill, cmd.Process, nil
		}
		select {
		case <-exited:
			kill()
			b, _ := os.ReadFile(logf.Name())
			return "", nil, nil, fmt.Errorf("etcd exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			kill()
			b, _ := os.ReadFile(logf.Name())
			return "", nil, nil, fmt.Errorf("etcd not ready after 30s: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// etcdServers starts n servers on loopback, all on the etcd at url (each
// with its own event trail in a temporary directory), and returns their
// environments: the same first tenant's key works on every one.
func etcdServers(t *testing.T, url string, n int) []*env {
	var es []*env
	for range n {
		s := testenv.Start(t, testenv.Config{Adjust: func(c *server.Config) { c.Etcd = []string{url} }})
		es = append(es, clients(t, s))
	}
	return es
}

// TestServersOnEtcd: two servers started with --etcd on one external etcd
// (Debian's binary) are one installation. What the SDK creates on one is
// read on the other (after the watch delivers it: the lag is logged); a
// request signed once, sent to one and replayed to the other, is refused
// as a replay; and the 200-rule quota race spread over both servers lands
// exactly 200. With etcd gone, a request is refused (503), not served
// without its replay check.
func TestServersOnEtcd(t *testing.T) {
	url, killEtcd := startEtcd(t)
	es := etcdServers(t, url, 2)
	a, b := es[0], es[1]
	if a.srv.UID != b.srv.UID {
		t.Fatalf("the servers have different first tenants: %s and %s", a.srv.UID, b.srv.UID)
	}

	t.Run("created on A, read on B", func(t *testing.T) {
		sg := createGroup(t, a.ecs, "made-on-a", "", "")
		created := time.Now()
		var seenAfter time.Duration
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			ids := groupIDs(t, b.ecs, nil)
			seenAfter = time.Since(created)
			return slices.Contains(ids, sg), fmt.Sprintf("server B lists %v, without %s made on A", ids, sg)
		})
		// Reads of a server are served from its in-memory view, which
		// follows etcd's watch: another server's write shows up after the
		// watch delivers it (typically milliseconds).
		t.Logf("server B listed the group %v after A answered", seenAfter)
		if got := attr(t, b.ecs, sg, "").SecurityGroupName; got != "made-on-a" {
			t.Errorf("server B reads the group's name as %q", got)
		}
	})

	t.Run("replay to the other server", func(t *testing.T) {
		before := countGroups(t, a.ecs)
		rp := &replayer{}
		c := newECS(t, a.addr, a.ak, a.secret)
		c.SetTransport(rp)
		r := ecs.CreateCreateSecurityGroupRequest()
		r.SecurityGroupName = "once"
		must(c.CreateSecurityGroup(r))(t)
		// V1 signs neither host nor port: the captured request is as
		// valid for B as it was for A.
		rp.mu.Lock()
		rp.armed = true
		rp.url = strings.Replace(rp.url, a.addr, b.addr, 1)
		rp.mu.Unlock()
		_, err := c.CreateSecurityGroup(ecs.CreateCreateSecurityGroupRequest())
		wantErr(t, err, 400, "SignatureNonceUsed")
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			n := countGroups(t, b.ecs)
			return n == before+1, fmt.Sprintf("server B counts %d groups, want %d", n, before+1)
		})
		if n := countGroups(t, a.ecs); n != before+1 {
			t.Errorf("%d groups after a create on A and its replay to B, want %d", n, before+1)
		}
	})

	t.Run("quota race over both servers", func(t *testing.T) {
		quotaRace(t, a, b)
	})

	t.Run("etcd gone", func(t *testing.T) {
		killEtcd()
		// A read needs no store but still its nonce recorded: the server
		// cannot, and says so.
		_, err := b.ecs.DescribeRegions(ecs.CreateDescribeRegionsRequest())
		wantErr(t, err, 503, "ServiceUnavailable")
	})
}

// quotaRace is TestConcurrentAuthorize spread over servers: six clients,
// taking turns among the servers, race 300 distinct rules into one group;
// exactly 200 land. A write that kept conflicting with the other server's
// (OperationConflict, 409, which asks for a retry) is sent again, as a
// client would.
func quotaRace(t *testing.T, es ...*env) {
	first := es[0]
	sg := createGroup(t, first.ecs, "contended", "", "")
	for _, e := range es[1:] {
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			ids := groupIDs(t, e.ecs, nil)
			return slices.Contains(ids, sg), fmt.Sprintf("server %s does not list %s yet", e.addr, sg)
		})
	}
	var clients []*ecs.Client
	var names []string
	for w := range 6 {
		e := es[w%len(es)]
		clients, names = append(clients, newECS(t, e.addr, e.ak, e.secret)), append(names, e.addr)
	}
	ok := testenv.QuotaRace(t, clients, names, 300, 200, func(c *ecs.Client, p int) error {
		return authorize(c, sg, cidrIngress("TCP", fmt.Sprintf("%d/%d", p, p), "10.0.0.0/8"))
	})
	for _, e := range es {
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			n, _ := ruleCount(t, e.ecs, sg)
			return n == 200, fmt.Sprintf("server %s: RuleCount %d, want 200", e.addr, n)
		})
		got := map[string]int{}
		for _, p := range rules(t, e.ecs, sg, "") {
			got[p.PortRange]++
		}
		if len(got) != 200 {
			t.Errorf("server %s: %d distinct rules in the group, want 200", e.addr, len(got))
		}
		for _, p := range ok {
			if k := fmt.Sprintf("%d/%d", p, p); got[k] != 1 {
				t.Errorf("server %s: accepted rule %s is there %d times", e.addr, k, got[k])
			}
		}
		wantErr(t, authorize(e.ecs, sg, cidrIngress("TCP", "40000/40000", "10.0.0.0/8")), 403, "AuthorizationLimitExceed")
	}
}

// TestStreamEndsWhenTheStoreIsSilent: a server cut off from etcd (the
// process stopped, as a partition leaves a member without its quorum)
// keeps its in-memory view, which no longer moves; its stream must not go
// on sending heartbeats from it (they kept the agent on that server,
// blind to every change), but end, so that the agent goes to another
// server. It ends within a heartbeat and the store probe's bound.
func TestStreamEndsWhenTheStoreIsSilent(t *testing.T) {
	url, _, etcdProc := startEtcdProcess(t)
	e := etcdServers(t, url, 1)[0]
	key, secret := e.srv.RegisterHost(t, "h1")
	frames := hostStream(t, e.addr, key, secret, "h1")
	for i := range 2 { // the stream runs: its first frame, then a heartbeat
		if !frames.Scan() {
			t.Fatalf("the stream ended after %d frames before etcd stopped: %v", i, frames.Err())
		}
	}
	if err := etcdProc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer etcdProc.Signal(syscall.SIGCONT)
	stopped := time.Now()
	ended := make(chan int, 1)
	go func() {
		n := 0
		for frames.Scan() {
			n++
		}
		ended <- n
	}()
	select {
	case n := <-ended:
		t.Logf("the stream ended %v after etcd stopped, after %d more frames", time.Since(stopped).Round(100*time.Millisecond), n)
	case <-time.After(15 * time.Second):
		t.Fatal("the stream still sends heartbeats 15 s after etcd stopped: the agent stays on a server that can see no change")
	}

	// A write that no nonce check refuses first (the console's) is refused
	// as the store's silence, not left to wait out the store's own bound
	// (30 s) and fail with its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := e.srv.Ops.Service.CreateSecurityGroup(ctx, service.CreateGroupInput{
		Caller: service.Caller{Account: e.srv.UID, Region: "cn-hangzhou"}, Name: "no-quorum"})
	var ee *ecserr.Error
	if !errors.As(err, &ee) || ee.Code != "ServiceUnavailable" {
		t.Fatalf("a write with etcd stopped: %v; want ServiceUnavailable (the store does not answer)", err)
	}
}
