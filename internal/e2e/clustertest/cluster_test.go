// Package clustertest runs Palisade servers as processes, each with an
// embedded etcd member (palisade serve --cluster-init / --join), on
// loopback, and holds the cluster to what one server promises: exact
// quotas, no acknowledged write lost when a server is killed, the
// official SDK served by any server.
//
// The servers are this test binary run again as "palisade serve" (see
// TestMain), so the test needs no separate build.
package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/cli"
	"github.com/palisade-sg/palisade/internal/controlplane/member"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// serveEnv marks a run of this binary as a server.
const serveEnv = "PALISADE_CLUSTERTEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Server is one "palisade serve" process with its embedded member.
type Server struct {
	Name      string
	Addr      string // the API's HOST:PORT
	ClientURL string // the member's etcd client URL
	args      []string
	cmd       *exec.Cmd
	done      chan struct{}
	mu        sync.Mutex
	out       strings.Builder // its stdout and stderr
}

var servingRE = regexp.MustCompile(`serving the ECS API .* on https?://([0-9.:]+)/`)

// Start runs a server: join "" starts a new cluster (--cluster-init),
// otherwise the server joins the member at that client URL.
func Start(t testing.TB, name, join string) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{Name: name, ClientURL: fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))}
	s.args = []string{"serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "p.db"),
		"--etcd-client-url", s.ClientURL, "--etcd-peer-url", fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t)),
		"--etcd-name", name, "--log-level", "error"}
	if join == "" {
		s.args = append(s.args, "--cluster-init")
	} else {
		s.args = append(s.args, "--join", join)
	}
	s.run(t)
	return s
}

// Restart runs a server that was stopped or killed again, with the same
// flags (and so the same data): its member rejoins its cluster.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	s.out.WriteString("--- restarted ---\n")
	s.mu.Unlock()
	s.run(t)
}

func (s *Server) run(t testing.TB) {
	t.Helper()
	s.done = make(chan struct{})
	cmd := exec.Command(os.Args[0], s.args...)
	s.cmd = cmd
	cmd.Env = append(os.Environ(), serveEnv+"=1",
		"PALISADE_ACCESS_KEY_ID="+testenv.KeyID, "PALISADE_ACCESS_KEY_SECRET="+testenv.Secret,
		"PALISADE_OPERATOR_KEY_ID="+testenv.OperatorKeyID, "PALISADE_OPERATOR_KEY_SECRET="+testenv.OperatorSecret)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.out.Write(b)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.out.WriteString(line + "\n")
			s.mu.Unlock()
			if m := servingRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	done := s.done
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server %s output:\n%s", s.Name, s.Output())
		}
	})
	select {
	case s.Addr = <-addr:
	case <-done:
		t.Fatalf("server %s exited while starting (%v):\n%s", s.Name, cmd.ProcessState, s.Output())
	case <-time.After(60 * time.Second):
		t.Fatalf("server %s not serving after 60s:\n%s", s.Name, s.Output())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// Output is what the server printed so far.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// Kill kills the server with SIGKILL (its member dies with it).
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// ECS is an official-SDK client of the first tenant on this server.
func (s *Server) ECS(t testing.TB) *ecs.Client {
	return testenv.ECSClient(t, s.Addr, testenv.KeyID, testenv.Secret)
}

// leader returns the index of the server whose member leads the cluster.
func leader(t testing.TB, ss []*Server) int {
	t.Helper()
	for range 50 {
		for i, s := range ss {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			leads, _ := member.Leads(ctx, s.ClientURL)
			cancel()
			if leads {
				return i
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no member leads the cluster")
	return -1
}

// ready waits until the server's /readyz answers 200.
func ready(t testing.TB, s *Server) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + s.Addr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, fmt.Sprintf("/readyz of %s answers %d", s.Name, resp.StatusCode)
	})
}

func createGroup(t testing.TB, c *ecs.Client, name string) string {
	t.Helper()
	r := ecs.CreateCreateSecurityGroupRequest()
	r.SecurityGroupName = name
	resp, err := c.CreateSecurityGroup(r)
	if err != nil {
		t.Fatalf("CreateSecurityGroup %s: %v", name, err)
	}
	return resp.SecurityGroupId
}

func authorizePort(c *ecs.Client, sg string, port int) error {
	r := ecs.CreateAuthorizeSecurityGroupRequest()
	r.SecurityGroupId = sg
	r.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: fmt.Sprintf("%d/%d", port, port), SourceCidrIp: "10.0.0.0/8"}}
	_, err := c.AuthorizeSecurityGroup(r)
	return err
}

// ports are the ports of a group's rules, counted.
func ports(t testing.TB, c *ecs.Client, sg string) map[string]int {
	t.Helper()
	r := ecs.CreateDescribeSecurityGroupAttributeRequest()
	r.SecurityGroupId = sg
	resp, err := c.DescribeSecurityGroupAttribute(r)
	if err != nil {
		t.Fatalf("DescribeSecurityGroupAttribute %s: %v", sg, err)
	}
	got := map[string]int{}
	for _, p := range resp.Permissions.Permission {
		got[p.PortRange]++
	}
	return got
}

// waitGroup waits until server s lists group sg (its view follows etcd's
// watch).
func waitGroup(t testing.TB, s *Server, sg string) {
	t.Helper()
	c := s.ECS(t)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		r := ecs.CreateDescribeSecurityGroupsRequest()
		r.SecurityGroupId = sg
		resp, err := c.DescribeSecurityGroups(r)
		return err == nil && len(resp.SecurityGroups.SecurityGroup) == 1, fmt.Sprintf("server %s does not list %s yet (%v)", s.Name, sg, err)
	})
}

// cluster starts three servers: the first starts the cluster, the other
// two join it.
func cluster(t testing.TB) []*Server {
	t.Helper()
	start := time.Now()
	a := Start(t, "a", "")
	b := Start(t, "b", a.ClientURL)
	c := Start(t, "c", b.ClientURL) // any member will do
	ss := []*Server{a, b, c}
	for _, s := range ss {
		ready(t, s)
	}
	t.Logf("three servers serving after %v", time.Since(start).Round(time.Millisecond))
	return ss
}

// TestThreeServers: three servers, each with its embedded member, are one
// installation. The 200-rule quota race spread over all three lands
// exactly 200; the official SDK works against each; and when the server
// holding the etcd leader is killed (SIGKILL) during a stream of writes,
// every acknowledged write is on both survivors and the cluster accepts
// writes again (the time it took is logged: no timing is asserted).
func TestThreeServers(t *testing.T) {
	if testing.Short() {
		t.Skip("short: starts three server processes")
	}
	ss := cluster(t)

	t.Run("SDK on every server", func(t *testing.T) {
		for _, s := range ss {
			c := s.ECS(t)
			sg := createGroup(t, c, "made-on-"+s.Name)
			if _, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest()); err != nil {
				t.Errorf("server %s: DescribeRegions: %v", s.Name, err)
			}
			for _, o := range ss {
				waitGroup(t, o, sg)
			}
		}
	})

	t.Run("quota race over three servers", func(t *testing.T) {
		quotaRace(t, ss)
	})

	t.Run("kill the leader's server", func(t *testing.T) {
		killLeader(t, ss)
	})

	t.Run("quorum lost and back", func(t *testing.T) {
		quorumLost(t, ss)
	})
}

// get answers a GET of path on server s. Its timeout only tells a hang
// from an answer.
func get(t testing.TB, s *Server, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + s.Addr + path)
	if err != nil {
		t.Fatalf("GET %s of server %s: %v", path, s.Name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// quorumLost kills two of the three servers, one at a time, and holds the
// survivor to what its operator needs: /metrics names the member that
// went (palisade_etcd_member_up) and then the lost leader
// (palisade_etcd_has_leader), the log says so, /readyz answers 503 saying
// why (it hung for as long as the quorum was gone), an SDK call gets
// ServiceUnavailable; once one server is back, the survivor is ready again.
func quorumLost(t *testing.T, ss []*Server) {
	a, b, survivor := ss[0], ss[1], ss[2]
	metric := func(line string) func() (bool, string) {
		return func() (bool, string) {
			_, body := get(t, survivor, "/metrics")
			return slices.Contains(strings.Split(body, "\n"), line), fmt.Sprintf("server %s's /metrics lacks %q", survivor.Name, line)
		}
	}
	a.Kill()
	testenv.Eventually(t, 30*time.Second, metric(`palisade_etcd_member_up{member="`+a.Name+`"} 0`))
	testenv.Eventually(t, 30*time.Second, metric("palisade_etcd_has_leader 1"))

	b.Kill()
	testenv.Eventually(t, 30*time.Second, metric("palisade_etcd_has_leader 0"))
	if out := survivor.Output(); !strings.Contains(out, "etcd has no leader") {
		t.Errorf("server %s's log does not say etcd lost its leader:\n%s", survivor.Name, out)
	}
	code, body := get(t, survivor, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "quorum") {
		t.Errorf("/readyz without a quorum: %d %q, want 503 saying why", code, body)
	}
	_, err := survivor.ECS(t).DescribeRegions(ecs.CreateDescribeRegionsRequest())
	if code, status, _ := testenv.APIError(err); code != "ServiceUnavailable" || status != http.StatusServiceUnavailable {
		t.Errorf("a request without a quorum: %v, want ServiceUnavailable (503)", err)
	}
	// The log says why: the store's own error, which the client is not told.
	// (The request's line is written after its answer: wait for it.)
	cause := regexp.MustCompile(`msg="request failed".*code=ServiceUnavailable.* cause=".*etcd`)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		out := survivor.Output()
		return cause.MatchString(out), fmt.Sprintf("server %s's log does not give the cause of the ServiceUnavailable:\n%s", survivor.Name, out)
	})

	b.Restart(t)
	ready(t, survivor)
	testenv.Eventually(t, 30*time.Second, metric("palisade_etcd_has_leader 1"))
}

// quotaRace: six clients, taking turns among the servers, race 260
// distinct rules into one group; exactly 200 land, and every server lists
// exactly the accepted ones. A write answered OperationConflict (409: it
// kept conflicting with other servers' writes) is sent again, as a client
// would.
func quotaRace(t *testing.T, ss []*Server) {
	sg := createGroup(t, ss[0].ECS(t), "contended")
	for _, s := range ss[1:] {
		waitGroup(t, s, sg)
	}
	var clients []*ecs.Client
	var names []string
	for w := range 6 {
		s := ss[w%len(ss)]
		clients, names = append(clients, s.ECS(t)), append(names, s.Name)
	}
	ok := testenv.QuotaRace(t, clients, names, 260, 200, func(c *ecs.Client, p int) error { return authorizePort(c, sg, p) })
	for _, s := range ss {
		c := s.ECS(t)
		var got map[string]int
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			got = ports(t, c, sg)
			return len(got) == 200, fmt.Sprintf("server %s lists %d rules, want 200", s.Name, len(got))
		})
		for _, p := range ok {
			if k := fmt.Sprintf("%d/%d", p, p); got[k] != 1 {
				t.Errorf("server %s: accepted rule %s is there %d times", s.Name, k, got[k])
			}
		}
	}
}

// killLeader streams writes (one rule each, distinct ports) through all
// three servers, kills the server whose member leads etcd, and keeps
// writing through the two others. Every acknowledged rule must be on both
// survivors; the time from the kill to the first acknowledged write sent
// after it is logged. Restarted with the same flags, the killed server
// catches up with what was written while it was away and takes writes.
func killLeader(t *testing.T, ss []*Server) {
	sg := createGroup(t, ss[0].ECS(t), "stream")
	for _, s := range ss[1:] {
		waitGroup(t, s, sg)
	}
	li := leader(t, ss)
	dead := ss[li]
	var survivors []*Server
	for i, s := range ss {
		if i != li {
			survivors = append(survivors, s)
		}
	}
	t.Logf("server %s holds the etcd leader; killing it after 20 acknowledged writes", dead.Name)

	const workers, perWorker = 3, 40 // 120 rules of the 200 a group holds
	var (
		mu        sync.Mutex
		acked     []int
		afterKill int           // acknowledged writes sent after the kill
		killedAt  time.Time     // zero until the kill
		firstAck  time.Duration // kill → first acknowledged write sent after it
		failures  = map[string]int{}
		wg        sync.WaitGroup
		killOnce  sync.Once
		enough    = make(chan struct{})
	)
	clients := make([]*ecs.Client, len(ss))
	for i, s := range ss {
		clients[i] = s.ECS(t)
	}
	for w := range workers {
		wg.Go(func() {
			turn := w
			for i := range perWorker {
				port := 1000 + w*perWorker + i
				for {
					mu.Lock()
					killed := !killedAt.IsZero()
					mu.Unlock()
					s, c := ss[turn%len(ss)], clients[turn%len(ss)]
					turn++
					if killed && s == dead {
						continue
					}
					sent := time.Now()
					err := authorizePort(c, sg, port)
					mu.Lock()
					if err == nil {
						acked = append(acked, port)
						if !killedAt.IsZero() && sent.After(killedAt) {
							if afterKill == 0 {
								firstAck = time.Since(killedAt)
							}
							afterKill++
						}
						if len(acked) == 20 {
							close(enough)
						}
						mu.Unlock()
						break
					}
					code, status, _ := testenv.APIError(err)
					if code == "" {
						code = "transport"
					}
					failures[fmt.Sprintf("%s %d", code, status)]++
					mu.Unlock()
					// A write that failed may have landed or not: the next
					// port, not this one again (it could be a duplicate).
					if code == "InvalidPermission.Duplicate" {
						break
					}
					time.Sleep(20 * time.Millisecond)
					break
				}
			}
		})
	}
	go func() {
		select {
		case <-enough:
		case <-time.After(20 * time.Second):
		}
		killOnce.Do(func() {
			mu.Lock()
			killedAt = time.Now()
			mu.Unlock()
			dead.Kill()
		})
	}()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if killedAt.IsZero() {
		t.Fatal("the stream ended before the kill")
	}
	if afterKill == 0 {
		t.Fatalf("no write sent after the kill was acknowledged; failures: %v", failures)
	}
	t.Logf("failover: the first write sent after the kill of the leader's server was acknowledged %v after the kill "+
		"(%d acknowledged writes in all, %d after the kill; failed attempts by code: %v)",
		firstAck.Round(time.Millisecond), len(acked), afterKill, failures)
	slices.Sort(acked)
	for _, s := range survivors {
		c := s.ECS(t)
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			got := ports(t, c, sg)
			var missing []int
			for _, p := range acked {
				if got[fmt.Sprintf("%d/%d", p, p)] != 1 {
					missing = append(missing, p)
				}
			}
			return len(missing) == 0, fmt.Sprintf("server %s lacks %d acknowledged rules: %v", s.Name, len(missing), missing)
		})
	}
	nl := leader(t, survivors)
	t.Logf("server %s's member leads now", survivors[nl].Name)

	// Writes while it was away, then its restart: it catches up.
	c := survivors[0].ECS(t)
	for p := 2000; p < 2005; p++ {
		if err := authorizePort(c, sg, p); err != nil {
			t.Fatalf("write after the failover: %v", err)
		}
		acked = append(acked, p)
	}
	restarted := time.Now()
	dead.Restart(t)
	ready(t, dead)
	dc := dead.ECS(t)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		got := ports(t, dc, sg)
		var missing []int
		for _, p := range acked {
			if got[fmt.Sprintf("%d/%d", p, p)] != 1 {
				missing = append(missing, p)
			}
		}
		return len(missing) == 0, fmt.Sprintf("restarted server %s lacks %d acknowledged rules: %v", dead.Name, len(missing), missing)
	})
	t.Logf("the killed server, restarted, serves every acknowledged write %v after its restart", time.Since(restarted).Round(time.Millisecond))
	if err := authorizePort(dc, sg, 2100); err != nil {
		t.Errorf("write through the restarted server: %v", err)
	}
}
