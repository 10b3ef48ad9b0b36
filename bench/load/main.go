// Command load measures how much one client can hurt another on a
// Palisade server, in one run, on loopback only, bounded in time:
//
//   - the server is Palisade (a child process, so that its memory is its
//     own: durable SQLite store) with two tenants: the attacker, the first
//     account, with a cloud of -instances instances (seeded like the
//     benchmarks' random clouds), and a victim made with
//     service.NewTenant in the server's process, with a small cloud;
//   - the victim's requests (DescribeSecurityGroupAttribute and an
//     AuthorizeSecurityGroup/RevokeSecurityGroup pair in turn, -victims
//     clients) are measured alone, then under each attack:
//     (a) slow bodies: -slow connections each announcing a 1 MiB body and
//     sending it a few bytes at a time, reconnecting when closed;
//     (b) an analysis storm: -storm concurrent PalisadeDescribeReachability,
//     PalisadeAudit and PalisadeVerifyFlow requests from the attacker;
//     (c) a nonce flood: -flood clients signing cheap requests with the
//     attacker's one key, a fresh nonce each, as fast as the server answers;
//   - it reports the victim's p99 under each attack as a multiple of its p99
//     alone (goal: under 3×), the victim's errors (a Throttling here means
//     the attack reached another tenant), and the server's peak RSS during
//     each phase (sampled) and over its life (VmHWM). The victim alone is
//     measured again at the end: the difference between the two is the
//     machine's noise. After each attack the server is let settle (CPU
//     idle) before the next phase, and the time it stayed busy is shown.
//
// Usage: go run ./bench/load [-quick] [-dur 5s] [-attacks abc]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/palisade-sg/palisade/internal/testkit/procstat"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
)

const (
	attackerKey    = "LTAIloadattackerattacker"
	attackerSecret = "loadattackersecretloadattacke"
	region         = "cn-hangzhou"
	version        = "2014-05-26"
	victimGroups   = 5
)

var (
	quick     = flag.Bool("quick", false, "short runs and a small cloud (a smoke test, not a measurement)")
	dur       = flag.Duration("dur", 5*time.Second, "length of each phase")
	instances = flag.Int("instances", 600, "instances in the attacker's cloud")
	victims   = flag.Int("victims", 4, "the victim's concurrent clients")
	victimRPS = flag.Float64("victim-rate", 120, "the victim's requests per second, all clients together (under the server's\n"+
		"default rate limits per account and action, as a tenant that is not attacking keeps)")
	slow    = flag.Int("slow", 200, "slow-body connections")
	storm   = flag.Int("storm", 8, "concurrent analysis requests")
	flood   = flag.Int("flood", 32, "nonce-flood clients")
	serve   = flag.String("serve", "", "internal: run the server child")
	db      = flag.String("db", "", "internal: the server child's store")
	seedN   = flag.Int("seed-instances", 0, "internal: the child's attacker cloud size")
	attacks = flag.String("attacks", "abc", "the attacks to run: a slow bodies, b analysis storm, c nonce flood")
)

// victim is what the child tells the parent about the second tenant.
type victim struct {
	Addr, KeyID, Secret, Account string
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *victimRPS <= 0 || *victims <= 0 {
		log.Fatal("load: -victim-rate and -victims must be positive")
	}
	if *serve != "" {
		serveChild()
		return
	}
	if *quick {
		*dur, *instances, *slow, *storm, *flood = 1500*time.Millisecond, 120, 50, 4, 16
	}
	dir, err := os.MkdirTemp("", "palisade-bench-load-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, v := startChild(filepath.Join(dir, "palisade.db"), *instances)
	defer srv.stop()
	fmt.Printf("server: attacker cloud of %d instances; victim account %s; %d victim clients; phases of %s\n\n",
		*instances, v.Account, *victims, *dur)

	// Warm up: the first requests fill caches and the view.
	victimLoad(srv, v, 300*time.Millisecond, nil)
	srv.settle()
	base := phase(srv, v, "none (victim alone)", nil)
	fmt.Printf("%-34s | %8s %8s %7s | %6s %6s | %9s | %s\n", "attack", "p50", "p99", "×p99", "reqs", "errors", "peak RSS", "attack")
	report := func(p phaseResult) {
		ratio := float64(p.p99) / float64(max(base.p99, 1))
		fmt.Printf("%-34s | %8s %8s %6.1fx | %6d %6d | %6d MiB | %s\n", p.name, p.p50, p.p99, ratio, p.n, p.errs, p.peak>>20, p.note)
	}
	report(base)
	for _, a := range []struct {
		id, name string
		run      func(context.Context, *child) string
	}{{"a", "(a) slow bodies", slowBodies}, {"b", "(b) analysis storm", analysisStorm}, {"c", "(c) nonce flood", nonceFlood}} {
		if strings.Contains(*attacks, a.id) {
			report(phase(srv, v, a.name, a.run))
		}
	}
	report(phase(srv, v, "none, again (the run's noise)", nil))
	fmt.Printf("\nserver peak RSS over the run (VmHWM): %d MiB\n", srv.status("VmHWM")>>20)
}

type phaseResult struct {
	name     string
	p50, p99 time.Duration
	n, errs  int
	peak     int64
	note     string
}

// phase runs an attack (nil: none) while measuring the victim for -dur,
// sampling the server's RSS.
func phase(srv *child, v victim, name string, attack func(ctx context.Context, srv *child) string) phaseResult {
	ctx, cancel := context.WithCancel(context.Background())
	var peak atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := srv.status("VmRSS"); rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	note := make(chan string, 1)
	if attack != nil {
		wg.Go(func() { note <- attack(ctx, srv) })
		time.Sleep(*dur / 5) // let the attack build up before measuring
	} else {
		note <- ""
	}
	var errs atomic.Int64
	cpu0 := srv.cpu()
	lat := victimLoad(srv, v, *dur, &errs)
	cpu := srv.cpu() - cpu0
	cancel()
	wg.Wait()
	r := phaseResult{name: name, n: len(lat), errs: int(errs.Load()), peak: peak.Load(), note: <-note}
	r.note = strings.TrimPrefix(fmt.Sprintf("%s; server CPU %s", r.note, cpu), "; ")
	if attack != nil {
		// Work the attack queued (analyses already running) would weigh on
		// the next phase: wait until the server is idle again.
		t := time.Now()
		if !srv.settle() {
			r.note += "; the server was still busy after the wait"
		}
		r.note += fmt.Sprintf("; busy %s after the attack", time.Since(t).Round(100*time.Millisecond))
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p50 = lat[len(lat)/2].Round(10 * time.Microsecond)
		r.p99 = lat[len(lat)*99/100].Round(10 * time.Microsecond)
	}
	return r
}

// victimLoad runs the victim's clients for d, at -victim-rate requests a
// second in all: each alternates a DescribeSecurityGroupAttribute with an
// Authorize or a Revoke of its own rule. It returns every latency; errors are counted (the first printed).
func victimLoad(srv *child, v victim, d time.Duration, errs *atomic.Int64) []time.Duration {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *victims}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	for i := range *victims {
		wg.Go(func() {
			var mine []time.Duration
			group := fmt.Sprintf("sg-victim%02d", i%victimGroups)
			port := strconv.Itoa(40000 + i)
			pace := time.NewTicker(time.Duration(float64(*victims) / *victimRPS * float64(time.Second)))
			defer pace.Stop()
			for k := 0; time.Now().Before(deadline); k++ {
				<-pace.C
				p := map[string]string{"Action": "DescribeSecurityGroupAttribute", "SecurityGroupId": group}
				if k%2 == 1 {
					action := "AuthorizeSecurityGroup"
					if k%4 == 3 {
						action = "RevokeSecurityGroup"
					}
					p = map[string]string{"Action": action, "SecurityGroupId": group, "IpProtocol": "TCP",
						"PortRange": port + "/" + port, "SourceCidrIp": "192.0.2.0/24", "Policy": "accept", "Priority": "1"}
				}
				t := time.Now()
				_, err := call(hc, srv.addr, v.KeyID, v.Secret, p)
				if err != nil {
					if errs != nil && errs.Add(1) == 1 {
						log.Printf("victim %s: %v", p["Action"], err)
					}
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all
}

// slowBodies holds -slow connections, each announcing a 1 MiB body and
// sending 4 KiB of it every 50 ms (1 MiB in about 13 s); a connection the
// server closes, or that completes its body, is opened again. It returns
// how many the server closed.
func slowBodies(ctx context.Context, srv *child) string {
	var closed, opened atomic.Int64
	var wg sync.WaitGroup
	for range *slow {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := net.DialTimeout("tcp", srv.addr, time.Second)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				opened.Add(1)
				fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", srv.addr, 1<<20)
				chunk := []byte(strings.Repeat("a", 4<<10))
				for sent := 0; ctx.Err() == nil && sent < 1<<20; sent += len(chunk) {
					c.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := c.Write(chunk); err != nil {
						closed.Add(1)
						break
					}
					select {
					case <-ctx.Done():
					case <-time.After(50 * time.Millisecond):
					}
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	return fmt.Sprintf("%d connections opened, %d closed by the server", opened.Load(), closed.Load())
}

// analysisStorm runs -storm concurrent analysis requests of the attacker.
func analysisStorm(ctx context.Context, srv *child) string {
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: *storm}}
	defer hc.CloseIdleConnections()
	requests := []map[string]string{
		{"Action": "PalisadeDescribeReachability"},
		{"Action": "PalisadeAudit"},
		{"Action": "PalisadeVerifyFlow", "From": "i-gen0-0", "To": "i-gen0-1", "Protocol": "tcp", "Port": "22"},
	}
	var done, refused, bytes atomic.Int64
	var wg sync.WaitGroup
	for i := range *storm {
		wg.Go(func() {
			for k := i; ctx.Err() == nil; k++ {
				body, err := callCtx(ctx, hc, srv.addr, attackerKey, attackerSecret, requests[k%len(requests)])
				if err != nil {
					if ctx.Err() == nil {
						refused.Add(1)
					}
					continue
				}
				done.Add(1)
				bytes.Add(int64(len(body)))
			}
		})
	}
	wg.Wait()
	return fmt.Sprintf("%d analyses answered (%d MiB), %d refused", done.Load(), bytes.Load()>>20, refused.Load())
}

// nonceFlood sends cheap requests signed with the attacker's one key, a
// fresh nonce each, from -flood clients as fast as they are answered.
func nonceFlood(ctx context.Context, srv *child) string {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *flood}}
	defer hc.CloseIdleConnections()
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range *flood {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := callCtx(ctx, hc, srv.addr, attackerKey, attackerSecret,
					map[string]string{"Action": "DescribeSecurityGroupAttribute", "SecurityGroupId": "sg-gen0-0"}); err != nil {
					if ctx.Err() == nil {
						refused.Add(1)
					}
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return fmt.Sprintf("%d signed requests answered, %d refused", ok.Load(), refused.Load())
}

func call(hc *http.Client, addr, key, secret string, params map[string]string) ([]byte, error) {
	return callCtx(context.Background(), hc, addr, key, secret, params)
}

// callCtx signs params with V1 and posts them; a non-200 answer is an error.
func callCtx(ctx context.Context, hc *http.Client, addr, key, secret string, params map[string]string) ([]byte, error) {
	return signedpost.Post(ctx, hc, addr, key, secret, params)
}

// serveChild runs the server, seeds both tenants, prints the victim's
// address and key as one JSON line, and serves until signalled.
func serveChild() {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: *db, AccessKeyID: attackerKey, AccessKeySecret: attackerSecret,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}) // as a server writes it, not shown
	if err != nil {
		log.Fatal(err)
	}
	// The attacker is the first account: cloudgen's resources are its own.
	gen := cloudgen.Generate(7, cloudgen.Config{VPCs: 1, Groups: max(*seedN/20, 5), Instances: *seedN, RulesPerGroup: 20,
		PrefixLists: 2, MaxGroups: 3, PublicShare: 0.3, IPv6Share: 0.3, Enterprise: 0.2})
	if _, err := srv.Ops.Import(ctx, region, api.Resources{VPCs: gen.VPCs, Groups: gen.Groups, Instances: gen.Instances,
		PrefixLists: gen.PrefixLists}); err != nil {
		log.Fatalf("seeding the attacker: %v", err)
	}
	acct, key, err := srv.Ops.NewTenant(ctx, "victim")
	if err != nil {
		log.Fatalf("creating the victim: %v", err)
	}
	if _, err := srv.Ops.Import(ctx, region, victimCloud(acct.UID)); err != nil {
		log.Fatalf("seeding the victim: %v", err)
	}
	b, _ := json.Marshal(victim{Addr: srv.Addr, KeyID: key.ID, Secret: key.Secret, Account: acct.UID})
	fmt.Println(string(b))
	if err := srv.Serve(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	} else if err != nil {
		log.Printf("server stop: %v (requests still running)", err)
	}
}

// victimCloud is the second tenant's: one VPC, a few groups of 20 rules, 20
// instances.
func victimCloud(owner string) api.Resources {
	vpc := &model.VPC{ID: "vpc-victim", Owner: owner, CIDR: netip.MustParsePrefix("10.200.0.0/16")}
	r := api.Resources{VPCs: []*model.VPC{vpc}}
	for g := range victimGroups {
		var rs []model.Rule
		for k := range 20 {
			rs = append(rs, modeltest.Rule(fmt.Sprintf("sgr-v%d-%d", g, k),
				fmt.Sprintf("in accept %d TCP %d/%d 10.%d.%d.0/24", 1+k, 1000+k, 1000+k, g, k)))
		}
		sg := modeltest.Group(fmt.Sprintf("sg-victim%02d", g), vpc.ID, "basic", rs...)
		sg.Owner = owner
		r.Groups = append(r.Groups, sg)
	}
	for i := range 20 {
		in := modeltest.Instance(fmt.Sprintf("i-victim%02d", i), vpc.ID, fmt.Sprintf("10.200.0.%d", 10+i),
			fmt.Sprintf("sg-victim%02d", i%victimGroups))
		in.Owner = owner
		r.Instances = append(r.Instances, in)
	}
	return r
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(dbPath string, n int) (*child, victim) {
	cmd := exec.Command(os.Args[0], "-serve", "palisade", "-db", dbPath, "-seed-instances", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	var v victim
	if err == nil {
		err = json.Unmarshal([]byte(line), &v)
	}
	if err != nil {
		cmd.Process.Kill()
		log.Fatalf("server did not start: %v", err)
	}
	return &child{cmd: cmd, addr: v.Addr}, v
}

func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
	}
}

// settle waits until the child uses under a tenth of a core in three
// 300 ms windows in a row, for at most a minute (10 s with -quick); false
// if it never did.
func (c *child) settle() bool {
	limit := time.Minute
	if *quick {
		limit = 10 * time.Second
	}
	for end, idle := time.Now().Add(limit), 0; time.Now().Before(end); {
		before := c.cpu()
		time.Sleep(300 * time.Millisecond)
		if c.cpu()-before >= 30*time.Millisecond {
			idle = 0
		} else if idle++; idle == 3 {
			return true
		}
	}
	return false
}

// cpu is the child's user+system CPU time so far.
func (c *child) cpu() time.Duration { return procstat.CPU(c.cmd.Process.Pid) }

// status reads a field (in kB) of the child's /proc status, in bytes.
func (c *child) status(field string) int64 { return procstat.Status(c.cmd.Process.Pid, field) }
