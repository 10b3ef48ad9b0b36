// Command cluster measures a Palisade cluster of three servers, each with
// an embedded etcd member (palisade serve --cluster-init / --join), against
// one server on SQLite, in one run, on loopback:
//
//   - write throughput: -writers clients, each adding and removing a rule
//     of its own group (AuthorizeSecurityGroup / RevokeSecurityGroup),
//     spread over the servers; writes answered OperationConflict (409, a
//     conflict with another server's write) are sent again and counted;
//   - Describe latency: -readers clients reading a group of 20 rules
//     (DescribeSecurityGroupAttribute), spread over the servers;
//   - server CPU per request (all server processes together);
//   - failover (the cluster only): writes stream through all servers; the
//     server whose member leads etcd is killed (SIGKILL); the time from the
//     kill to the first acknowledged write sent after it; the killed server
//     is restarted between rounds (-failovers).
//
// The clients use the official SDK (the same for both setups, so the
// ratios hold); servers are this program run again as "palisade serve".
// On a loaded machine compare the ratios, not the absolute figures.
//
// Usage: go run ./bench/cluster [-quick] [-dur 3s] [-writers 8] [-readers 8] [-failovers 3]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/cli"
	"github.com/palisade-sg/palisade/internal/controlplane/member"
	"github.com/palisade-sg/palisade/internal/testkit/procstat"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

var (
	quick     = flag.Bool("quick", false, "short measurements (1s each, one failover)")
	dur       = flag.Duration("dur", 3*time.Second, "length of each measurement")
	writers   = flag.Int("writers", 8, "concurrent writing clients")
	readers   = flag.Int("readers", 8, "concurrent reading clients")
	failovers = flag.Int("failovers", 3, "rounds of killing the leader's server")
)

var env = testenv.NewProgram()

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve-child" {
		os.Exit(cli.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	flag.Parse()
	if *quick {
		*dur, *failovers = time.Second, 1
	}
	dir, err := os.MkdirTemp("", "palisade-bench-cluster-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	fmt.Printf("Palisade: three servers with embedded etcd members vs one server on SQLite (loopback, %v per measurement, %d writers, %d readers)\n\n",
		*dur, *writers, *readers)
	one := startSQLite(filepath.Join(dir, "sqlite"))
	sw, sr := measureAll("one server, SQLite", []*server{one})
	one.stop()

	a := startMember(filepath.Join(dir, "a"), "a", "")
	b := startMember(filepath.Join(dir, "b"), "b", a.clientURL)
	c := startMember(filepath.Join(dir, "c"), "c", a.clientURL)
	three := []*server{a, b, c}
	for _, s := range three {
		s.waitReady()
	}
	cw, cr := measureAll("three servers, embedded etcd", three)

	fmt.Printf("\nratios, three servers / one on SQLite:\n")
	fmt.Printf("  write throughput  %.2f×   write p50 %.2f×   server CPU per write %.2f×\n",
		cw.rate/sw.rate, ratio(cw.p50, sw.p50), ratio(cw.cpu, sw.cpu))
	fmt.Printf("  Describe rate     %.2f×   Describe p50 %.2f×, p99 %.2f×   server CPU per Describe %.2f×\n",
		cr.rate/sr.rate, ratio(cr.p50, sr.p50), ratio(cr.p99, sr.p99), ratio(cr.cpu, sr.cpu))

	fmt.Printf("\nfailover (kill -9 of the server holding the etcd leader → next acknowledged write):\n")
	var times []time.Duration
	for round := 1; round <= *failovers; round++ {
		d, killed := failover(three)
		times = append(times, d)
		fmt.Printf("  round %d: killed server %s, next write acknowledged after %v\n", round, killed.name, d.Round(time.Millisecond))
		killed.restart()
		killed.waitReady()
	}
	slices.Sort(times)
	fmt.Printf("  median %v, max %v over %d rounds\n", times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond), len(times))
	for _, s := range three {
		s.stop()
	}
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// server is one "palisade serve" child.
type server struct {
	name      string
	args      []string
	addr      string
	clientURL string // its member's, "" on SQLite
	cmd       *exec.Cmd
	done      chan struct{}
}

var servingRE = regexp.MustCompile(`serving the ECS API .* on https?://([0-9.:]+)/`)

func freeURL() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

func startSQLite(dir string) *server {
	s := &server{name: "sqlite", args: []string{"serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "p.db"), "--log-level", "error",
		"--rate-action", "-1", "--rate-account", "-1"}}
	os.MkdirAll(dir, 0o700)
	s.run()
	return s
}

func startMember(dir, name, join string) *server {
	s := &server{name: name, clientURL: freeURL()}
	s.args = []string{"serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "p.db"), "--log-level", "error",
		"--rate-action", "-1", "--rate-account", "-1",
		"--etcd-client-url", s.clientURL, "--etcd-peer-url", freeURL(), "--etcd-name", name}
	if join == "" {
		s.args = append(s.args, "--cluster-init")
	} else {
		s.args = append(s.args, "--join", join)
	}
	os.MkdirAll(dir, 0o700)
	s.run()
	return s
}

func (s *server) run() {
	s.cmd = exec.Command(os.Args[0], append([]string{"serve-child"}, s.args...)...)
	s.cmd.Env = append(os.Environ(),
		"PALISADE_ACCESS_KEY_ID="+testenv.KeyID, "PALISADE_ACCESS_KEY_SECRET="+testenv.Secret,
		"PALISADE_OPERATOR_KEY_ID="+testenv.OperatorKeyID, "PALISADE_OPERATOR_KEY_SECRET="+testenv.OperatorSecret)
	s.cmd.Stderr = os.Stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		log.Fatal(err)
	}
	s.done = make(chan struct{})
	done, cmd := s.done, s.cmd
	go func() { cmd.Wait(); close(done) }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case s.addr = <-addr:
	case <-done:
		log.Fatalf("server %s exited while starting", s.name)
	case <-time.After(60 * time.Second):
		log.Fatalf("server %s not serving after 60s", s.name)
	}
}

func (s *server) restart() { s.run() }

func (s *server) waitReady() {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("server %s not ready after 60s", s.name)
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

func (s *server) cpu() time.Duration { return procstat.CPU(s.cmd.Process.Pid) }

func (s *server) ecs() *ecs.Client {
	return testenv.ECSClient(env, s.addr, testenv.KeyID, testenv.Secret)
}

type result struct {
	rate      float64
	p50, p99  time.Duration
	cpu       time.Duration // server CPU per request
	conflicts int
}

func (r result) String() string {
	return fmt.Sprintf("%7.0f/s   p50 %-9v p99 %-9v server CPU %v/request", r.rate, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.cpu.Round(time.Microsecond))
}

func cpuOf(ss []*server) time.Duration {
	var t time.Duration
	for _, s := range ss {
		t += s.cpu()
	}
	return t
}

func apiCode(err error) string {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return ""
}

func createGroup(c *ecs.Client, name string) string {
	r := ecs.CreateCreateSecurityGroupRequest()
	r.SecurityGroupName = name
	resp, err := c.CreateSecurityGroup(r)
	if err != nil {
		log.Fatalf("CreateSecurityGroup: %v", err)
	}
	return resp.SecurityGroupId
}

func perm(port int) *[]ecs.AuthorizeSecurityGroupPermissions {
	return &[]ecs.AuthorizeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: fmt.Sprintf("%d/%d", port, port), SourceCidrIp: "10.0.0.0/8"}}
}

func authorize(c *ecs.Client, sg string, port int) error {
	r := ecs.CreateAuthorizeSecurityGroupRequest()
	r.SecurityGroupId, r.Permissions = sg, perm(port)
	_, err := c.AuthorizeSecurityGroup(r)
	return err
}

func revoke(c *ecs.Client, sg string, port int) error {
	r := ecs.CreateRevokeSecurityGroupRequest()
	r.SecurityGroupId = sg
	p := (*perm(port))[0]
	r.Permissions = &[]ecs.RevokeSecurityGroupPermissions{{IpProtocol: p.IpProtocol, PortRange: p.PortRange, SourceCidrIp: p.SourceCidrIp}}
	_, err := c.RevokeSecurityGroup(r)
	return err
}

// waitVisible waits until every server lists group sg.
func waitVisible(ss []*server, sg string) {
	for _, s := range ss {
		c := s.ecs()
		for deadline := time.Now().Add(10 * time.Second); ; {
			r := ecs.CreateDescribeSecurityGroupsRequest()
			r.SecurityGroupId = sg
			resp, err := c.DescribeSecurityGroups(r)
			if err == nil && len(resp.SecurityGroups.SecurityGroup) == 1 {
				break
			}
			if time.Now().After(deadline) {
				log.Fatalf("server %s does not list %s", s.name, sg)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// run runs n clients for *dur, client i calling op(i, k) for k = 0, 1, …
// on server ss[i%len(ss)], and returns the rate and latencies of the calls
// that succeeded.
func run(ss []*server, n int, op func(c *ecs.Client, i, k int) error) result {
	clients := make([]*ecs.Client, n)
	for i := range n {
		clients[i] = ss[i%len(ss)].ecs()
	}
	var (
		mu        sync.Mutex
		lat       []time.Duration
		conflicts int
		other     = map[string]int{}
		wg        sync.WaitGroup
	)
	cpu0 := cpuOf(ss)
	start := time.Now()
	end := start.Add(*dur)
	for i := range n {
		wg.Go(func() {
			var mine []time.Duration
			for k := 0; time.Now().Before(end); {
				t := time.Now()
				err := op(clients[i], i, k)
				d := time.Since(t)
				switch code := apiCode(err); {
				case err == nil:
					mine = append(mine, d)
					k++
				case code == "OperationConflict":
					mu.Lock()
					conflicts++
					mu.Unlock()
				default:
					mu.Lock()
					other[fmt.Sprint(err)]++
					mu.Unlock()
					k++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuOf(ss) - cpu0
	for e, k := range other {
		log.Printf("%d× %s", k, e)
	}
	if len(lat) == 0 {
		log.Fatal("no request succeeded")
	}
	slices.Sort(lat)
	return result{rate: float64(len(lat)) / elapsed.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100],
		cpu: cpu / time.Duration(len(lat)), conflicts: conflicts}
}

// measureAll measures writes and Describes on the servers.
func measureAll(name string, ss []*server) (w, r result) {
	c := ss[0].ecs()
	groups := make([]string, *writers)
	for i := range groups {
		groups[i] = createGroup(c, fmt.Sprintf("writer-%d", i))
	}
	read := createGroup(c, "read")
	for p := 1; p <= 20; p++ {
		if err := authorize(c, read, p); err != nil {
			log.Fatal(err)
		}
	}
	waitVisible(ss, read)
	for _, g := range groups {
		waitVisible(ss, g)
	}
	// A write is a rule added or removed, in turn.
	w = run(ss, *writers, func(c *ecs.Client, i, k int) error {
		if k%2 == 0 {
			return authorize(c, groups[i], 1000)
		}
		return revoke(c, groups[i], 1000)
	})
	r = run(ss, *readers, func(c *ecs.Client, i, k int) error {
		req := ecs.CreateDescribeSecurityGroupAttributeRequest()
		req.SecurityGroupId = read
		_, err := c.DescribeSecurityGroupAttribute(req)
		return err
	})
	fmt.Printf("%s:\n  writes     %s (%d OperationConflict, sent again)\n  Describe   %s\n", name, w, w.conflicts, r)
	return w, r
}

// leader returns the server whose member leads etcd.
func leader(ss []*server) *server {
	for range 100 {
		for _, s := range ss {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			leads, _ := member.Leads(ctx, s.clientURL)
			cancel()
			if leads {
				return s
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatal("no member leads")
	return nil
}

// failover streams writes through every server, kills the leader's server
// once writes flow, and returns the time from the kill to the first
// acknowledged write sent after it.
func failover(ss []*server) (time.Duration, *server) {
	sg := createGroup(ss[0].ecs(), "failover")
	waitVisible(ss, sg)
	dead := leader(ss)
	var (
		mu       sync.Mutex
		killedAt time.Time
		first    time.Duration
		acked    int
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		got      = make(chan struct{})
	)
	for w := range 3 {
		wg.Go(func() {
			clients := make([]*ecs.Client, len(ss))
			for i, s := range ss {
				clients[i] = s.ecs()
			}
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (w + k) % len(ss)
				mu.Lock()
				killed := !killedAt.IsZero()
				mu.Unlock()
				if killed && ss[i] == dead {
					continue
				}
				sent := time.Now()
				err := authorize(clients[i], sg, 1+(w*100000+k)%60000)
				if err == nil {
					mu.Lock()
					acked++
					if !killedAt.IsZero() && sent.After(killedAt) && first == 0 {
						first = time.Since(killedAt)
						close(got)
					}
					mu.Unlock()
				}
				// Keep the group under its 200 rules.
				revoke(clients[i], sg, 1+(w*100000+k)%60000)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	dead.kill()
	select {
	case <-got:
	case <-time.After(60 * time.Second):
		log.Fatal("no write acknowledged within 60s of the kill")
	}
	close(stop)
	wg.Wait()
	return first, dead
}

func init() {
	log.SetFlags(0)
	log.SetPrefix("bench/cluster: ")
}
