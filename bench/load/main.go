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
//   - the attack's clients run in a process of their own (as an attacker's
//     would, on another machine): they do not share the victim's clients'
//     Go scheduler, and their CPU is shown apart;
//   - the phases (the victim alone, then each attack) run -rounds times,
//     interleaved, so that the machine's drift weighs on all alike;
//   - it reports, per round and for all rounds together, the victim's p99
//     under each attack as a multiple of its p99 alone (goal: under 3×),
//     with the spread of the rounds' own ratios, the p99 of its reads and
//     writes apart, its errors (a Throttling here means the attack reached
//     another tenant), the share of the cores the server, the victim's
//     clients and the attack's clients took (on a machine shared with
//     other work, a victim slowed while the server's share stays low was
//     slowed by the machine, not the attack), and the server's peak RSS
//     during each phase (sampled) and over its life (VmHWM). After each
//     attack the server is let settle (CPU idle) before the next phase,
//     and the time it stayed busy is shown. -profile DIR writes the
//     server's CPU profile of each phase, its allocations so far after
//     each (compare two with go tool pprof -base), and with -trace D the
//     first D of its execution trace (go tool trace: GC pauses, scheduler
//     latency).
//
// Usage: go run ./bench/load [-quick] [-dur 5s] [-rounds 3] [-attacks abc] [-profile DIR [-trace 5s]]
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
	"math"
	"net"
	"net/http"
	_ "net/http/pprof" // the child's profiles, with -profile
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
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
	slow     = flag.Int("slow", 200, "slow-body connections")
	storm    = flag.Int("storm", 8, "concurrent analysis requests")
	flood    = flag.Int("flood", 32, "nonce-flood clients")
	serve    = flag.String("serve", "", "internal: run the server child")
	db       = flag.String("db", "", "internal: the server child's store")
	seedN    = flag.Int("seed-instances", 0, "internal: the child's attacker cloud size")
	attackID = flag.String("attack", "", "internal: run one attack's clients against -addr until signalled")
	addr     = flag.String("addr", "", "internal: the attacked server")
	attacks  = flag.String("attacks", "abc", "the attacks to run: a slow bodies, b analysis storm, c nonce flood")
	rounds   = flag.Int("rounds", 3, "rounds of the phases, interleaved (the victim alone, then each attack); -quick: 1")
	profile  = flag.String("profile", "", "write the server's CPU and allocation profiles of each phase into this directory (pprof)")
	nice     = flag.Int("analysis-nice", 0, "the server's --analysis-nice (0: its default; negative: none), to compare settings")
	gcPct    = flag.Int("gc-percent", 0, "the server child's GOGC, to compare settings; any value but 0 also turns off the server's --gc-headroom tuning (0: Go's default with that tuning)")
	traceDur = flag.Duration("trace", 0, "with -profile, also write the first `D` of the server's execution trace of each phase\n"+
		"(go tool trace: scheduler latency, GC pauses and assists; tracing slows the server a little)")
)

// victim is what the child tells the parent about the second tenant.
type victim struct {
	Addr, KeyID, Secret, Account string
	Pprof                        string // the child's net/http/pprof listener, with -profile
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *victimRPS <= 0 || *victims <= 0 || *rounds <= 0 {
		log.Fatal("load: -victim-rate, -victims and -rounds must be positive")
	}
	if *serve != "" {
		serveChild()
		return
	}
	if *attackID != "" {
		attackChild()
		return
	}
	if *quick {
		*dur, *instances, *slow, *storm, *flood, *rounds = 1500*time.Millisecond, 120, 50, 4, 16, 1
	}
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			log.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp("", "palisade-bench-load-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, v := startChild(filepath.Join(dir, "palisade.db"), *instances)
	defer srv.stop()
	fmt.Printf("server: attacker cloud of %d instances; victim account %s; %d victim clients at %g requests/s; "+
		"%d rounds of phases of %s; %d cores\n\n", *instances, v.Account, *victims, *victimRPS, *rounds, *dur, runtime.NumCPU())

	// Warm up: the first requests fill caches and the view.
	victimLoad(srv, v, 300*time.Millisecond, nil)
	srv.settle()
	phases := []struct{ id, name string }{{"0", "none (victim alone)"}}
	for _, id := range "abc" {
		if strings.ContainsRune(*attacks, id) {
			phases = append(phases, struct{ id, name string }{string(id), attackNames[string(id)]})
		}
	}
	// The phases are interleaved round by round, so that the machine's
	// drift over the run weighs on the victim alone as on the attacks.
	results := make([][]phaseResult, len(phases)) // [phase][round]
	fmt.Printf("%-5s %-22s | %8s %8s %7s | %6s %6s | %9s | %s\n", "round", "attack", "p50", "p99", "×p99", "reqs", "errors", "peak RSS", "attack")
	for r := range *rounds {
		for i, p := range phases {
			res := phase(srv, v, fmt.Sprintf("%s-%d", p.id, r+1), p.id, p.name)
			results[i] = append(results[i], res)
			base := results[0][r]
			fmt.Printf("%-5d %-22s | %8s %8s %6.1fx | %6d %6d | %6d MiB | %s\n", r+1, p.name, res.p50, res.p99,
				ratio(res.p99, base.p99), len(res.lat), res.errs, res.peak>>20, res.note)
		}
	}
	// The summary: each phase's latencies of all rounds together, against
	// the victim alone's of all rounds, and the spread of the rounds' own
	// ratios (each against its round's victim alone).
	fmt.Printf("\nall %d rounds together (p99 of every sample of the phase; the spread is the rounds' own ratios):\n", *rounds)
	fmt.Printf("%-22s | %8s %8s %7s %-13s | %6s %6s | %s\n", "attack", "p50", "p99", "×p99", " (spread)", "reqs", "errors",
		"share of the cores: server, victim client, attack client")
	all := func(rs []phaseResult) (lat []time.Duration, errs int, cpu [3]time.Duration, wall time.Duration) {
		for _, r := range rs {
			lat = append(lat, r.lat...)
			errs += r.errs
			cpu[0] += r.serverCPU
			cpu[1] += r.clientCPU
			cpu[2] += r.attackCPU
			wall += r.wall
		}
		slices.Sort(lat)
		return
	}
	baseLat, _, _, _ := all(results[0])
	for i, p := range phases {
		lat, errs, cpu, wall := all(results[i])
		lo, hi := math.Inf(1), 0.0
		for r, res := range results[i] {
			x := ratio(res.p99, results[0][r].p99)
			lo, hi = min(lo, x), max(hi, x)
		}
		share := func(d time.Duration) float64 { return 100 * float64(d) / (float64(wall) * float64(runtime.NumCPU())) }
		fmt.Printf("%-22s | %8s %8s %6.1fx %-13s | %6d %6d | %3.0f%% %3.0f%% %3.0f%%\n", p.name, pct(lat, 50), pct(lat, 99),
			ratio(pct(lat, 99), pct(baseLat, 99)), fmt.Sprintf(" (%.1f–%.1f)", lo, hi), len(lat), errs,
			share(cpu[0]), share(cpu[1]), share(cpu[2]))
	}
	fmt.Printf("\nserver peak RSS over the run (VmHWM): %d MiB\n", srv.status("VmHWM")>>20)
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(max(b, 1)) }

// pct is the p-th percentile of sorted latencies.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[len(sorted)*p/100].Round(10 * time.Microsecond)
}

type phaseResult struct {
	lat      []time.Duration // sorted
	p50, p99 time.Duration
	errs     int
	peak     int64
	note     string
	// CPU time of the server, the victim's clients and the attack's while
	// the victim was measured
	serverCPU, clientCPU, attackCPU time.Duration
	wall                            time.Duration
}

// phase runs an attack (id "0": none) while measuring the victim for -dur,
// sampling the server's RSS (and its CPU profile with -profile, as
// file.pprof).
func phase(srv *child, v victim, file, id, name string) phaseResult {
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
	var att *attacker
	if id != "0" {
		att = startAttacker(id, srv.addr)
		time.Sleep(*dur / 5) // let the attack build up before measuring
	}
	var errs atomic.Int64
	var prof sync.WaitGroup
	prof.Go(func() { srv.cpuProfile(file, *dur) })
	if *traceDur > 0 {
		prof.Go(func() { srv.trace(file, min(*traceDur, *dur)) })
	}
	cpu0, self0, att0, t0 := srv.cpu(), selfCPU(), att.cpu(), time.Now()
	lat := victimLoad(srv, v, *dur, &errs)
	r := phaseResult{serverCPU: srv.cpu() - cpu0, clientCPU: selfCPU() - self0, attackCPU: att.cpu() - att0, wall: time.Since(t0)}
	cancel()
	wg.Wait()
	prof.Wait()
	srv.fetch(file+".allocs", "allocs") // cumulative: compare with go tool pprof -base
	r.lat, r.errs, r.peak = append(lat[0], lat[1]...), int(errs.Load()), peak.Load()
	for _, l := range lat {
		slices.Sort(l)
	}
	r.note = fmt.Sprintf("p99 of reads %s, of writes %s; CPU: server %s, victim client %s", pct(lat[0], 99), pct(lat[1], 99), r.serverCPU.Round(10*time.Millisecond), r.clientCPU.Round(10*time.Millisecond))
	if att != nil {
		r.note = fmt.Sprintf("%s; %s, attack client %s", att.stop(), r.note, r.attackCPU.Round(10*time.Millisecond))
		// Work the attack queued (analyses already running) would weigh on
		// the next phase: wait until the server is idle again.
		t := time.Now()
		if !srv.settle() {
			r.note += "; the server was still busy after the wait"
		}
		r.note += fmt.Sprintf("; busy %s after the attack", time.Since(t).Round(100*time.Millisecond))
	}
	slices.Sort(r.lat)
	r.p50, r.p99 = pct(r.lat, 50), pct(r.lat, 99)
	return r
}

// selfCPU is this process's user+system CPU time so far: the victim's
// clients, which share the machine with the server.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// victimLoad runs the victim's clients for d, at -victim-rate requests a
// second in all: each alternates a DescribeSecurityGroupAttribute with an
// Authorize or a Revoke of its own rule. It returns every latency, of the
// reads ([0]) and of the writes ([1]); errors are counted (the first
// printed).
func victimLoad(srv *child, v victim, d time.Duration, errs *atomic.Int64) (all [2][]time.Duration) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *victims}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range *victims {
		wg.Go(func() {
			var mine [2][]time.Duration
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
				mine[k%2] = append(mine[k%2], time.Since(t))
			}
			mu.Lock()
			all[0], all[1] = append(all[0], mine[0]...), append(all[1], mine[1]...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all
}

var attackNames = map[string]string{"a": "(a) slow bodies", "b": "(b) analysis storm", "c": "(c) nonce flood"}

var attackFuncs = map[string]func(context.Context, string) string{"a": slowBodies, "b": analysisStorm, "c": nonceFlood}

// attacker is an attack's clients, in a process of their own as an
// attacker's would be on another machine: they do not share this
// process's scheduler with the victim's clients, and their CPU is counted
// apart.
type attacker struct {
	cmd *exec.Cmd
	out *bufio.Reader
}

func startAttacker(id, addr string) *attacker {
	cmd, out := startSelf("-attack", id, "-addr", addr, "-slow", strconv.Itoa(*slow),
		"-storm", strconv.Itoa(*storm), "-flood", strconv.Itoa(*flood))
	return &attacker{cmd: cmd, out: out}
}

// startSelf runs this program again with args, as a child process whose
// stdout is read.
func startSelf(args ...string) (*exec.Cmd, *bufio.Reader) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	return cmd, bufio.NewReader(out)
}

// cpu is the attack clients' CPU time so far (0 without an attack).
func (a *attacker) cpu() time.Duration {
	if a == nil {
		return 0
	}
	return procstat.CPU(a.cmd.Process.Pid)
}

// stop ends the attack and returns its summary.
func (a *attacker) stop() string {
	a.cmd.Process.Signal(syscall.SIGTERM)
	line, _ := a.out.ReadString('\n')
	a.cmd.Wait()
	return strings.TrimSpace(line)
}

// attackChild runs -attack against -addr until SIGTERM, then prints its
// summary line.
func attackChild() {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	run := attackFuncs[*attackID]
	if run == nil || *addr == "" {
		log.Fatalf("load: unknown attack %q or no -addr", *attackID)
	}
	fmt.Println(run(ctx, *addr))
}

// slowBodies holds -slow connections, each announcing a 1 MiB body and
// sending 4 KiB of it every 50 ms (1 MiB in about 13 s); a connection the
// server closes, or that completes its body, is opened again. It returns
// how many the server closed.
func slowBodies(ctx context.Context, addr string) string {
	var closed, opened atomic.Int64
	var wg sync.WaitGroup
	for range *slow {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				opened.Add(1)
				fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", addr, 1<<20)
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
func analysisStorm(ctx context.Context, addr string) string {
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
				body, err := callCtx(ctx, hc, addr, attackerKey, attackerSecret, requests[k%len(requests)])
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
func nonceFlood(ctx context.Context, addr string) string {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *flood}}
	defer hc.CloseIdleConnections()
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range *flood {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := callCtx(ctx, hc, addr, attackerKey, attackerSecret,
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
	var headroom int64 // the server's default
	if *gcPct != 0 {
		debug.SetGCPercent(*gcPct)
		headroom = -1 // the percent given stands, 100 too
	}
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: *db, AccessKeyID: attackerKey, AccessKeySecret: attackerSecret, AnalysisNice: *nice, GCHeadroom: headroom,
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
	v := victim{Addr: srv.Addr, KeyID: key.ID, Secret: key.Secret, Account: acct.UID}
	if *profile != "" {
		// net/http/pprof on its own listener: the profiles are not the
		// server's API and are not measured with it.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		v.Pprof = ln.Addr().String()
		go http.Serve(ln, nil)
	}
	b, _ := json.Marshal(v)
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
	cmd         *exec.Cmd
	addr, pprof string
}

func startChild(dbPath string, n int) (*child, victim) {
	cmd, out := startSelf("-serve", "palisade", "-db", dbPath, "-seed-instances", strconv.Itoa(n), "-profile", *profile,
		"-analysis-nice", strconv.Itoa(*nice), "-gc-percent", strconv.Itoa(*gcPct))
	line, err := out.ReadString('\n')
	var v victim
	if err == nil {
		err = json.Unmarshal([]byte(line), &v)
	}
	if err != nil {
		cmd.Process.Kill()
		log.Fatalf("server did not start: %v", err)
	}
	return &child{cmd: cmd, addr: v.Addr, pprof: v.Pprof}, v
}

// cpuProfile fetches the child's CPU profile of the next d into
// -profile/name.pprof (nothing without -profile).
func (c *child) cpuProfile(name string, d time.Duration) {
	if c.pprof == "" {
		return
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprof, max(1, int(d.Seconds()))))
	if err != nil {
		log.Printf("profile %s: %v", name, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(*profile, name+".pprof"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	io.Copy(f, resp.Body)
}

// trace fetches the child's execution trace of the next d into
// -profile/name.trace (nothing without -profile).
func (c *child) trace(name string, d time.Duration) {
	c.fetch(name+".trace", fmt.Sprintf("trace?seconds=%g", d.Seconds()))
}

// fetch writes the child's /debug/pprof/what into -profile/file (nothing
// without -profile).
func (c *child) fetch(file, what string) {
	if c.pprof == "" {
		return
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s", c.pprof, what))
	if err != nil {
		log.Printf("profile %s: %v", file, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(*profile, file))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	io.Copy(f, resp.Body)
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
