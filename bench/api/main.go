// Command api measures Palisade's API server against a no-op server on the
// same machine, in one run, on loopback:
//
//   - the server under test is Palisade (a child process: durable SQLite
//     store, a write answered once fsynced) seeded with one VPC, 50 groups
//     of 20 rules and 200 instances;
//   - the baseline is a no-op server (also a child process) that parses the
//     request as Palisade does, verifies the same V1 signature (with its
//     nonce cache) and replays Palisade's own answer bytes for the action;
//   - reads: DescribeSecurityGroups (a page of 50) and
//     DescribeSecurityGroupAttribute, as a share of the no-op's rate;
//   - writes: AuthorizeSecurityGroup/RevokeSecurityGroup pairs, as a
//     multiple of this disk's single-writer fsync rate measured in the run
//     (again around each write row, the mean of one just before and one
//     just after: other load moves it), with the store's serialized section
//     per write and writes per commit (from the server's /metrics);
//   - server CPU per request, p50/p99 latency and the server's RSS.
//
// Every run is bounded (-dur per measurement) and the clients are light
// (V1 signing by hand, no SDK; each on its own keep-alive connection,
// writing the request bytes itself), so that they leave the server the
// cores: the report gives their CPU per write beside the server's.
//
// Usage: go run ./bench/api [-quick] [-dur 3s] [-clients 16,32]
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
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
)

const (
	// maxNonces is both servers' bound on the nonces one key may have
	// live: every request of a run is signed with the one key, more than
	// the default bound lets a key send in the half hour a nonce is kept.
	maxNonces = 1 << 23
	keyID     = "LTAIbenchbenchbenchbench"
	secret    = "benchsecretbenchsecretbenchse"
	region    = "cn-hangzhou"
	version   = "2014-05-26"
	groups    = 50
	rules     = 20
	members   = 200
)

var (
	quick   = flag.Bool("quick", false, "short runs (a smoke test, not a measurement)")
	dur     = flag.Duration("dur", 3*time.Second, "length of each measurement")
	clients = flag.String("clients", "16,32", "client counts, comma-separated")
	rounds  = flag.Int("rounds", 1, "write measurements per client count (the disk's fsync rate moves between runs: more rounds give a median)")
	serve   = flag.String("serve", "", "internal: run a server child (palisade or noop)")
	db      = flag.String("db", "", "internal: the palisade child's store")
	replay  = flag.String("replay", "", "internal: the no-op child's answers (JSON: action → body)")
	profile = flag.String("cpuprofile", "", "write the Palisade server's CPU profile to this file")
	memprof = flag.String("memprofile", "", "write the Palisade server's allocation profile (after the seed) to this file at its end")
	only    = flag.String("only", "", "measure only the requests whose name contains this (AuthorizeSecurityGroup or write: the writes)")
	memory  = flag.Bool("memory", false, "report the in-memory view's size on the 10k-instance benchmark cloud, and exit")
	soak    = flag.Duration("soak", 0, "after the measurements, run reads and writes for this long, sampling the server's RSS")
	window  = flag.Duration("soak-window", 0, "the Palisade server's --max-clock-skew (0: its default, 15m): it keeps each request's nonce that long,\n"+
		"so with -soak a window shorter than half the soak shows its memory level off")
	skew = flag.Duration("skew", 0, "internal: the palisade child's MaxClockSkew")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	switch *serve {
	case "palisade":
		servePalisade()
		return
	case "noop":
		serveNoop()
		return
	}
	if *memory {
		viewSize()
		return
	}
	if *quick {
		*dur, *clients = 300*time.Millisecond, "8"
	}
	var counts []int
	for _, f := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("-clients %q: want counts like 16,32", *clients)
		}
		counts = append(counts, n)
	}
	dir, err := os.MkdirTemp("", "palisade-bench-api-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	fsyncs := fsyncRate(dir, min(*dur, time.Second))
	fmt.Printf("machine: single-writer fsync rate %.0f/s (%s)\n\n", fsyncs, dir)

	pal := startChild("palisade", "-db", filepath.Join(dir, "palisade.db"), "-cpuprofile", *profile, "-memprofile", *memprof, "-skew", window.String())
	defer pal.stop()
	answers := map[string]string{}
	for _, a := range readActions {
		body, err := call(http.DefaultClient, pal.addr, a.params(0))
		if err != nil {
			log.Fatalf("%s: %v", a.name, err)
		}
		answers[a.params(0)["Action"]] = string(body)
	}
	wbody, err := call(http.DefaultClient, pal.addr, writeParamsN(0, 0))
	if err != nil {
		log.Fatalf("AuthorizeSecurityGroup: %v", err)
	}
	answers["AuthorizeSecurityGroup"], answers["RevokeSecurityGroup"] = string(wbody), string(wbody)
	if _, err := call(http.DefaultClient, pal.addr, writeParamsN(0, 1)); err != nil {
		log.Fatalf("RevokeSecurityGroup: %v", err)
	}
	rf := filepath.Join(dir, "replay.json")
	b, _ := json.Marshal(answers)
	if err := os.WriteFile(rf, b, 0o600); err != nil {
		log.Fatal(err)
	}
	noop := startChild("noop", "-replay", rf)
	defer noop.stop()
	fmt.Printf("answer sizes: DescribeSecurityGroups %d B, DescribeSecurityGroupAttribute %d B\n\n",
		len(answers["DescribeSecurityGroups"]), len(answers["DescribeSecurityGroupAttribute"]))

	fmt.Printf("%-32s %7s | %9s %9s %6s | %8s %8s | %8s %8s | %7s\n",
		"request", "clients", "pal req/s", "noop req/s", "share", "pal CPU", "noop CPU", "pal p50", "pal p99", "pal RSS")
	for _, a := range readActions {
		if !strings.Contains(a.name, *only) {
			continue
		}
		for _, n := range counts {
			p := measure(pal, n, a.params)
			o := measure(noop, n, a.params)
			fmt.Printf("%-32s %7d | %9.0f %9.0f %5.1f%% | %8s %8s | %8s %8s | %5dMiB\n",
				a.name, n, p.rate, o.rate, 100*p.rate/o.rate, p.cpu, o.cpu, p.p50, p.p99, pal.rss()>>20)
		}
	}
	fmt.Println()
	fmt.Printf("%-32s %7s | %9s %9s %7s %6s | %8s %8s %8s | %8s %7s %8s %7s %8s %7s %5s | %8s %8s | %7s\n",
		"write (Authorize/Revoke)", "clients", "pal w/s", "noop w/s", "fsync/s", "×fsync", "pal CPU", "noop CPU", "cli CPU", "serial/w", "w/batch", "commit", "w/fsync", "fsync", "B/w", "wr/w", "pal p50", "pal p99", "pal RSS")
	ratios, shares := map[int][]float64{}, map[int][]float64{}
	for k := 0; k < *rounds && (strings.Contains("AuthorizeSecurityGroup", *only) || strings.Contains("writes", *only)); k++ {
		for _, n := range counts {
			ratio, share := writeRow(dir, pal, noop, n)
			ratios[n], shares[n] = append(ratios[n], ratio), append(shares[n], share)
		}
	}
	fmt.Println("(cli CPU: this program's own CPU per write against Palisade, on the same cores; serial/w: the store's serialized section per write, before the commit; w/batch: writes per commit; commit: writing one commit's log; w/fsync: writes per fsync, while the next batch runs; fsync: one such fsync; B/w and wr/w: bytes and write calls of the server per write, to files and sockets, the store's and the event trail's)")
	if *rounds > 1 {
		for _, n := range counts {
			r := ratios[n]
			if len(r) == 0 {
				continue // -only left the writes out
			}
			sh := shares[n]
			slices.Sort(r)
			slices.Sort(sh)
			fmt.Printf("%d clients: ×fsync over %d rounds: median %.2fx (%.2f–%.2f); share of the no-op's writes: median %.0f%% (%.0f–%.0f%%)\n",
				n, len(r), median(r), r[0], r[len(r)-1], 100*median(sh), 100*sh[0], 100*sh[len(sh)-1])
		}
	}
	fmt.Printf("\nPalisade server: RSS %d MiB, peak %d MiB\n", pal.rss()>>20, pal.hwm()>>20)
	if *soak > 0 {
		soakRun(pal, *soak)
	}
}

// median is the median of sorted xs: with an even count, the mean of the
// two middle values (the upper one alone would favour Palisade with two
// rounds).
func median(xs []float64) float64 {
	m := len(xs) / 2
	if len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[m]
}

// writeRow measures writes with n clients against Palisade and the no-op,
// prints the row and returns Palisade's writes per second as a multiple of
// the fsync rate, the mean of one measured just before and one just after
// (other load on the machine moves it from one second to the next), and
// as a share of the no-op's (which does not move with the disk).
func writeRow(dir string, pal, noop *child, n int) (ratio, share float64) {
	before := fsyncRate(dir, min(*dur, time.Second))
	c0, io0 := commits(pal.addr), procstat.Written(pal.cmd.Process.Pid)
	p := measure(pal, n, writeParams)
	c1, io1 := commits(pal.addr), procstat.Written(pal.cmd.Process.Pid)
	f := (before + fsyncRate(dir, min(*dur, time.Second))) / 2
	o := measure(noop, n, writeParams)
	var serial, commit, fsync time.Duration
	var perBatch, perSync float64
	var bytes, calls float64 // written per write, files and sockets
	if w := c1.writes - c0.writes; w > 0 {
		bytes, calls = float64(io1.Bytes-io0.Bytes)/float64(w), float64(io1.Calls-io0.Calls)/float64(w)
		b := max(1, c1.batches-c0.batches)
		serial = ((c1.run - c0.run) / time.Duration(w)).Round(time.Microsecond)
		commit = ((c1.commit - c0.commit) / time.Duration(b)).Round(time.Microsecond)
		perBatch = float64(w) / float64(b)
		syncs := max(1, c1.syncs-c0.syncs)
		perSync = float64(w) / float64(syncs)
		fsync = ((c1.fsync - c0.fsync) / time.Duration(syncs)).Round(time.Microsecond)
	}
	fmt.Printf("%-32s %7d | %9.0f %9.0f %7.0f %5.2fx | %8s %8s %8s | %8s %7.1f %8s %7.1f %8s %7.0f %5.1f | %8s %8s | %5dMiB\n",
		"AuthorizeSecurityGroup", n, p.rate, o.rate, f, p.rate/f, p.cpu, o.cpu, p.client, serial, perBatch, commit, perSync, fsync, bytes, calls, p.p50, p.p99, pal.rss()>>20)
	return p.rate / f, p.rate / o.rate
}

// soakRun mixes reads and writes (16 clients) for d and prints the
// server's RSS, its heap in use and the nonces it remembers every tenth of
// it, then how each moved over the second half: level, or growing.
func soakRun(pal *child, d time.Duration) {
	w := *window
	if w == 0 {
		w = signature.DefaultMaxSkew
	}
	fmt.Printf("\nsoak: 16 clients, read and write phases in turn, %s; nonces kept for the %s window past their timestamp\n", d, w)
	step := d / 10
	mix := func(i int) map[string]string {
		return readActions[i%2].params(i)
	}
	saved := *dur
	*dur = step
	defer func() { *dur = saved }()
	type sample struct{ rss, heap, nonces float64 }
	var samples []sample
	for k := range 10 {
		var r result
		if k%2 == 0 {
			r = measure(pal, 16, mix)
		} else {
			r = measure(pal, 16, writeParams)
		}
		m := scrape(pal.addr)
		s := sample{float64(pal.rss()), m["go_memstats_heap_inuse_bytes"], m["palisade_signature_nonces"]}
		samples = append(samples, s)
		fmt.Printf("  t=%-6s RSS %4.0f MiB (peak %4d MiB), heap in use %4.0f MiB, %8.0f nonces, %5.0f req/s\n", (time.Duration(k+1) * step).Round(time.Second),
			s.rss/(1<<20), pal.hwm()>>20, s.heap/(1<<20), s.nonces, r.rate)
	}
	half := samples[len(samples)/2-1:] // from the middle sample on
	span := func(f func(sample) float64, unit float64, what string) string {
		lo, hi := f(half[0]), f(half[0])
		for _, s := range half {
			lo, hi = min(lo, f(s)), max(hi, f(s))
		}
		return fmt.Sprintf("%.0f–%.0f %s", lo/unit, hi/unit, what)
	}
	fmt.Printf("second half: RSS %s (%+.0f%% first to last); heap in use %s; %s (both swing with the phase and the collector)\n",
		span(func(s sample) float64 { return s.rss }, 1<<20, "MiB"), 100*(half[len(half)-1].rss/half[0].rss-1),
		span(func(s sample) float64 { return s.heap }, 1<<20, "MiB"), span(func(s sample) float64 { return s.nonces }, 1, "nonces"))
	if d/2 < w*17/16 {
		fmt.Printf("(a nonce of a current timestamp is kept for the window and a sixteenth: run -soak longer than twice -soak-window and an eighth to see them level off in its second half)\n")
	}
}

type readAction struct {
	name   string
	params func(i int) map[string]string
}

var readActions = []readAction{
	{"DescribeSecurityGroups (50)", func(int) map[string]string {
		return map[string]string{"Action": "DescribeSecurityGroups", "PageSize": "50", "PageNumber": "1"}
	}},
	{"DescribeSecurityGroupAttribute", func(i int) map[string]string {
		return map[string]string{"Action": "DescribeSecurityGroupAttribute", "SecurityGroupId": groupID(i % groups)}
	}},
}

// writeParams authorizes (even n) or revokes (odd n) client i's own rule in
// a group of its own (clients beyond 50 share groups, on other ports).
func writeParams(i int) map[string]string { return writeParamsN(i, 0) }

func writeParamsN(i, n int) map[string]string {
	action := "AuthorizeSecurityGroup"
	if n%2 == 1 {
		action = "RevokeSecurityGroup"
	}
	port := strconv.Itoa(40000 + i)
	return map[string]string{"Action": action, "SecurityGroupId": groupID(i % groups), "IpProtocol": "TCP",
		"PortRange": port + "/" + port, "SourceCidrIp": "192.0.2.0/24", "Policy": "accept", "Priority": "1"}
}

func groupID(i int) string { return fmt.Sprintf("sg-bench%04d", i) }

// seed is the benchmark's cloud.
func seed() api.Resources {
	vpc := &model.VPC{ID: "vpc-bench", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	r := api.Resources{VPCs: []*model.VPC{vpc}}
	for g := range groups {
		var rs []model.Rule
		for k := range rules {
			rs = append(rs, modeltest.Rule(fmt.Sprintf("sgr-b%d-%d", g, k),
				fmt.Sprintf("in accept %d TCP %d/%d 10.%d.%d.0/24", 1+k%100, 1000+k, 1000+k, g, k)))
		}
		r.Groups = append(r.Groups, modeltest.Group(groupID(g), vpc.ID, "basic", rs...))
	}
	for i := range members {
		ip := fmt.Sprintf("10.0.%d.%d", 1+i/200, 10+i%200)
		r.Instances = append(r.Instances, modeltest.Instance(fmt.Sprintf("i-bench%04d", i), vpc.ID, ip,
			groupID(i%groups), groupID((i+1)%groups)))
	}
	return r
}

// servePalisade runs the real server on a durable store, seeded.
func servePalisade() {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: *db, AccessKeyID: keyID, AccessKeySecret: secret, MaxNonces: maxNonces, MaxClockSkew: *skew,
		Log: quietLog(), RateLimit: ratelimit.Config{PerAction: -1, PerAccount: -1}}) // measured at full rate: no per-account limits
	if err != nil {
		log.Fatal(err)
	}
	if _, err := srv.Ops.Import(ctx, region, seed()); err != nil {
		log.Fatal(err)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *memprof != "" {
		runtime.GC()
		runtime.MemProfileRate = 64 << 10
		defer func() {
			f, err := os.Create(*memprof)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			pprof.Lookup("allocs").WriteTo(f, 0)
		}()
	}
	fmt.Println(srv.Addr)
	if err := srv.Serve(ctx); err != nil {
		log.Fatal(err)
	}
}

// serveNoop parses and verifies as Palisade does, and replays its answers.
func serveNoop() {
	b, err := os.ReadFile(*replay)
	if err != nil {
		log.Fatal(err)
	}
	var answers map[string]string
	if err := json.Unmarshal(b, &answers); err != nil {
		log.Fatal(err)
	}
	v := &signature.Verifier{Lookup: func(id string) (string, bool) { return secret, id == keyID },
		Nonces: signature.NewNonceCache(maxNonces), Now: time.Now}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr())
	log.Fatal(http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		query, _ := url.ParseQuery(r.URL.RawQuery)
		for k, vs := range query {
			form[k] = vs
		}
		if _, e := v.Verify(r, form, body); e != nil {
			http.Error(w, e.Message, e.Status)
			return
		}
		a := answers[form.Get("Action")]
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(a)))
		io.WriteString(w, a)
	})))
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(mode string, args ...string) *child {
	cmd := exec.Command(os.Args[0], append([]string{"-serve", mode}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		log.Fatalf("%s server did not start: %v", mode, err)
	}
	return &child{cmd: cmd, addr: strings.TrimSpace(line)}
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

// cpu is the child's user+system CPU time so far.
func (c *child) cpu() time.Duration { return procstat.CPU(c.cmd.Process.Pid) }

// status reads a field (in kB) of the child's /proc status, in bytes.
func (c *child) status(field string) int64 { return procstat.Status(c.cmd.Process.Pid, field) }

func (c *child) rss() int64 { return c.status("VmRSS") }
func (c *child) hwm() int64 { return c.status("VmHWM") }

type result struct {
	rate     float64
	cpu      time.Duration // server CPU per request
	client   time.Duration // the load generator's own CPU per request (the same cores)
	p50, p99 time.Duration
}

// measure runs n clients against c for -dur; client i's k-th request has
// params(i) (for writes, alternating authorize and revoke).
func measure(c *child, n int, params func(i int) map[string]string) result {
	write := params(0)["Action"] == "AuthorizeSecurityGroup"
	var count, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	cpu0, self0 := c.cpu(), procstat.CPU(os.Getpid())
	start := time.Now()
	deadline := start.Add(*dur)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var conn *signedpost.Conn
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for k := 0; time.Now().Before(deadline); k++ {
				p := params(i)
				if write {
					p = writeParamsN(i, k)
				}
				t := time.Now()
				var err error
				if conn == nil || conn.Dead() {
					conn, err = signedpost.Dial(c.addr)
				}
				if err == nil {
					_, err = conn.Post(keyID, secret, p)
				}
				if err != nil {
					if errs.Add(1) == 1 {
						log.Printf("%s: %v", p["Action"], err)
					}
					continue
				}
				mine = append(mine, time.Since(t))
				count.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu, self := c.cpu()-cpu0, procstat.CPU(os.Getpid())-self0
	slices.Sort(lat)
	r := result{rate: float64(count.Load()) / elapsed.Seconds()}
	if k := count.Load(); k > 0 {
		r.cpu = (cpu / time.Duration(k)).Round(time.Microsecond)
		r.client = (self / time.Duration(k)).Round(time.Microsecond)
		r.p50 = lat[len(lat)/2].Round(10 * time.Microsecond)
		r.p99 = lat[len(lat)*99/100].Round(10 * time.Microsecond)
	}
	return r
}

// call signs params with the bench key and posts them; a non-200 answer is
// an error.
func call(hc *http.Client, addr string, params map[string]string) ([]byte, error) {
	return signedpost.Post(context.Background(), hc, addr, keyID, secret, params)
}

// fsyncRate is how many 512-byte write+fsync pairs one writer does per
// second in dir, for d.
func fsyncRate(dir string, d time.Duration) float64 {
	f, err := os.Create(filepath.Join(dir, "fsync.probe"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 512)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := f.WriteAt(buf, int64(n%64)*512); err != nil {
			log.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			log.Fatal(err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

// commitStats are the store's group-commit counters from /metrics.
type commitStats struct {
	batches, writes, syncs int64
	run, commit, fsync     time.Duration
}

// commits scrapes the server's group-commit counters (zero if it has none).
func commits(addr string) commitStats {
	m := scrape(addr)
	return commitStats{
		batches: int64(m["palisade_store_commits_total"]),
		writes:  int64(m["palisade_store_commit_writes_total"]),
		run:     seconds(m["palisade_store_commit_run_seconds_total"]),
		commit:  seconds(m["palisade_store_commit_sync_seconds_total"]), // writing the log (named before the fsync ran beside it)
		syncs:   int64(m["palisade_store_syncs_total"]),
		fsync:   seconds(m["palisade_store_sync_seconds_total"]),
	}
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// scrape reads the unlabelled metrics of the server's /metrics (an empty
// map when it does not answer).
func scrape(addr string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if f, err := strconv.ParseFloat(v, 64); ok && err == nil {
			out[name] = f
		}
	}
	return out
}

// quietLog is the server's request log, written as a server would write it
// (its cost stays in the measurement) but not shown: one line per request
// would bury the report.
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
