// Command fanout measures how fast one Palisade server brings a rule change
// to many host agents, in one run, on loopback only, bounded in time:
//
//   - the server is Palisade (a child process, so that its CPU and memory
//     are its own: durable SQLite store) with a cloud of two instances per
//     host: every instance in sg-base (isolated: members do not reach each
//     other) and in one of 20 team groups (members reach each other);
//   - each simulated agent is one host with its own host key (as `palisade
//     host register` issues): it takes the host-scoped snapshot, then, in
//     mode "stream" (the agent's), opens one PalisadeWatchStream from its
//     revision and reads its frames, reporting the revision it holds as
//     applied (PalisadeReportHostStatus, at most once per -report-every,
//     as the agent does); in mode "poll" (older agents) long polls
//     PalisadeWatchChanges, one signed request per change, reporting its
//     revision in the next poll; it compiles nothing and programs no
//     nftables;
//   - one change at a time, alternating: a rule added to sg-base (every
//     agent needs it) and to a team group (a twentieth of them need it);
//     the time from the API's answer to the last agent that needs the
//     change holding it, p50 and p99 over the changes of each kind, and
//     over every delivery;
//   - the bytes the agents read per change (all agents, and per agent that
//     needed it), the answers that carried records, the server's CPU per
//     change and its memory (RSS with the agents connected, and peak).
//
// The agents run in this process: on a shared machine their CPU competes
// with the server's, so compare sizes within one run.
//
// Usage: go run ./bench/fanout [-quick] [-agents 100,500,1000] [-changes 20] [-modes poll,stream]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
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
	"runtime/pprof"
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
	"github.com/palisade-sg/palisade/internal/testkit/procstat"
	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
)

const (
	tenantKey    = "LTAIfanouttenanttenant01"
	tenantSecret = "fanouttenantsecretfanouttenan"
	opKey        = "LTAIfanoutoperatoroper01"
	opSecret     = "fanoutoperatorsecretfanoutoper"
	region       = "cn-hangzhou"
	version      = "2014-05-26"
	teams        = 20
	baseRules    = 20
	watchWait    = 25 // seconds a watch may be held
)

var (
	quick    = flag.Bool("quick", false, "few agents and changes (a smoke test, not a measurement)")
	sizes    = flag.String("agents", "100,500,1000", "the numbers of agents (hosts) to measure, comma-separated")
	changes  = flag.Int("changes", 20, "changes per size (half to sg-base, half to team groups)")
	timeout  = flag.Duration("timeout", 20*time.Second, "how long to wait for one change to reach every agent")
	modes    = flag.String("modes", "poll,stream", "how the agents follow the server, comma-separated: poll (PalisadeWatchChanges) and/or stream (PalisadeWatchStream)")
	reportEv = flag.Duration("report-every", time.Second, "stream mode: an agent reports its applied revision after a frame at once, or this long after its last report (the agent's)")
	cpuprof  = flag.String("cpuprofile", "", "write the server's CPU profile of the largest size's changes to `file` (`file`.MODE)")
	serve    = flag.String("serve", "", "internal: run the server child")
	db       = flag.String("db", "", "internal: the server child's store")
	hostsN   = flag.Int("hosts", 0, "internal: the child's hosts")
	childCPU = flag.String("child-cpuprofile", "", "internal: the child's CPU profile, from SIGUSR1 to SIGUSR2")
)

// setup is what the child tells the parent: its address and the host keys.
type setup struct {
	Addr string
	Keys []hostKey
}

type hostKey struct{ Host, ID, Secret string }

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *serve != "" {
		serveChild()
		return
	}
	if *quick {
		*sizes, *changes = "20,60", 4
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < teams {
			log.Fatalf("fanout: -agents wants numbers of at least %d, got %q", teams, s)
		}
		ns = append(ns, n)
	}
	if *changes < 2 {
		log.Fatal("fanout: -changes must be at least 2")
	}
	if *reportEv <= 0 {
		log.Fatal("fanout: -report-every must be positive")
	}
	dir, err := os.MkdirTemp("", "palisade-bench-fanout-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var modeList []string
	for _, m := range strings.Split(*modes, ",") {
		m = strings.TrimSpace(m)
		if m != "poll" && m != "stream" {
			log.Fatalf("fanout: -modes wants poll and/or stream, got %q", m)
		}
		modeList = append(modeList, m)
	}
	fmt.Printf("%d changes per size, alternating sg-base (every agent) and a team group (1/%d of them); times from the API's answer\n\n", *changes, teams)
	fmt.Printf("%6s %-6s %-5s | %8s %8s | %8s %8s | %10s %9s %8s | %9s %8s %9s %9s | %9s %8s\n",
		"agents", "mode", "group", "last p50", "last p99", "any p50", "any p99", "bytes/chg", "B/agent", "answers", "CPU/chg", "CPU s", "RSS", "peak RSS", "agents'", "reports")
	var results []result
	for i, n := range ns {
		for _, m := range modeList {
			prof := ""
			if i == len(ns)-1 && *cpuprof != "" {
				prof = *cpuprof + "." + m
			}
			results = append(results, run(filepath.Join(dir, fmt.Sprintf("fanout-%d-%s.db", n, m)), n, m, prof))
		}
	}
	if len(modeList) == 2 {
		// The machine may be shared: ratios within one run say more than
		// the times themselves.
		fmt.Printf("\nstream / poll, per size (below 1: the stream is better)\n")
		fmt.Printf("%6s | %13s %13s | %9s %9s | %9s %9s\n", "agents", "last p50 base", "last p99 base", "bytes/chg", "CPU/chg", "RSS", "peak RSS")
		for i := 0; i+1 < len(results); i += 2 {
			p, st := results[i], results[i+1]
			ratio := func(a, b float64) string { return fmt.Sprintf("%.2f", a/max(b, 1e-9)) }
			fmt.Printf("%6d | %13s %13s | %9s %9s | %9s %9s\n", p.n,
				ratio(float64(st.p50), float64(p.p50)), ratio(float64(st.p99), float64(p.p99)),
				ratio(float64(st.bytes), float64(p.bytes)), ratio(float64(st.cpu), float64(p.cpu)),
				ratio(float64(st.rss), float64(p.rss)), ratio(float64(st.hwm), float64(p.hwm)))
		}
	}
}

// result is what the ratios compare: base changes' times to the last
// agent, bytes and CPU per change (both kinds), memory.
type result struct {
	n        int
	p50, p99 time.Duration
	bytes    int64
	cpu      time.Duration
	rss, hwm int64
}

// agent is one simulated host agent.
type agent struct {
	host string
	key  hostKey
	rev  atomic.Int64
	// reporting says a report of the applied revision is due (stream mode).
	reporting  atomic.Bool
	lastReport atomic.Int64  // when the last report was sent, in Unix nanoseconds
	reports    *atomic.Int64 // the reports all agents sent (stream mode)
}

// delivery is when each agent first held the change being measured.
type delivery struct {
	mark     []byte
	need     []bool
	got      []time.Time
	pending  atomic.Int64
	done     chan struct{}
	answers  atomic.Int64
	mu       sync.Mutex
	finished bool
}

func run(dbPath string, n int, mode, profile string) result {
	srv, keys := startChild(dbPath, n, profile)
	defer srv.stop()
	var read, reported atomic.Int64
	tr := &http.Transport{MaxIdleConnsPerHost: n + 16, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countConn{Conn: c, read: &read}, nil
		}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: (watchWait + 30) * time.Second}
	if mode == "stream" {
		hc.Timeout = 0 // a stream lasts
	}
	// The agents' reports (stream mode) share a few connections: the
	// streams hold one each, under the server's cap.
	rtr := &http.Transport{MaxConnsPerHost: 32, MaxIdleConnsPerHost: 32, DialContext: tr.DialContext}
	defer rtr.CloseIdleConnections()
	reports := &http.Client{Transport: rtr, Timeout: 30 * time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	var cur atomic.Pointer[delivery]
	agents := make([]*agent, n)
	var started sync.WaitGroup
	var wg sync.WaitGroup
	for i := range n {
		a := &agent{host: keys[i].Host, key: keys[i], reports: &reported}
		agents[i] = a
		started.Add(1)
		if mode == "stream" {
			wg.Go(func() { a.stream(ctx, hc, reports, srv.addr, i, &cur, started.Done) })
		} else {
			wg.Go(func() { a.loop(ctx, hc, srv.addr, i, &cur, started.Done) })
		}
	}
	started.Wait()
	time.Sleep(500 * time.Millisecond) // let the first watches park
	rss := srv.status("VmRSS")

	tenant := &http.Client{Transport: &http.Transport{}}
	var lastBase, lastTeam, anyBase, anyTeam []time.Duration
	var bytesBase, bytesTeam, ansBase, ansTeam int64
	var needBase, needTeam int
	if profile != "" {
		srv.cmd.Process.Signal(syscall.SIGUSR1)
	}
	cpu0, own0, rep0 := srv.cpu(), procstat.CPU(os.Getpid()), reported.Load()
	for c := range *changes {
		base := c%2 == 0
		group := "sg-base"
		if !base {
			group = fmt.Sprintf("sg-team%02d", (c/2)%teams)
		}
		d := &delivery{mark: []byte(fmt.Sprintf("fanout-mark-%d\"", c)), need: make([]bool, n), got: make([]time.Time, n), done: make(chan struct{})}
		for i := range n {
			if base || i%teams == (c/2)%teams {
				d.need[i] = true
				d.pending.Add(1)
			}
		}
		cur.Store(d)
		read0 := read.Load()
		_, err := call(context.Background(), tenant, srv.addr, tenantKey, tenantSecret, map[string]string{
			"Action": "AuthorizeSecurityGroup", "SecurityGroupId": group, "IpProtocol": "tcp",
			"PortRange": fmt.Sprintf("%d/%d", 30000+c, 30000+c), "SourceCidrIp": "192.0.2.0/24",
			"Policy": "accept", "Priority": "50", "Description": fmt.Sprintf("fanout-mark-%d", c)})
		t0 := time.Now()
		if err != nil {
			log.Fatalf("fanout: the change to %s: %v", group, err)
		}
		select {
		case <-d.done:
		case <-time.After(*timeout):
			log.Fatalf("fanout: %d agents of %d did not get change %d within %s", d.pending.Load(), n, c, *timeout)
		}
		d.mu.Lock()
		d.finished = true
		var last time.Duration
		var all []time.Duration
		for i, t := range d.got {
			if d.need[i] {
				l := max(t.Sub(t0), 0)
				all = append(all, l)
				last = max(last, l)
			}
		}
		d.mu.Unlock()
		// Answers of agents that did not need the change would come after
		// it too: let them arrive before counting the bytes.
		time.Sleep(50 * time.Millisecond)
		b := read.Load() - read0
		if base {
			lastBase, anyBase, bytesBase, ansBase, needBase = append(lastBase, last), append(anyBase, all...), bytesBase+b, ansBase+d.answers.Load(), needBase+len(all)
		} else {
			lastTeam, anyTeam, bytesTeam, ansTeam, needTeam = append(lastTeam, last), append(anyTeam, all...), bytesTeam+b, ansTeam+d.answers.Load(), needTeam+len(all)
		}
	}
	cpu, own, reps := srv.cpu()-cpu0, procstat.CPU(os.Getpid())-own0, reported.Load()-rep0
	if profile != "" {
		srv.cmd.Process.Signal(syscall.SIGUSR2)
		time.Sleep(time.Second) // the child writes the profile out before it is killed
	}
	hwm := srv.status("VmHWM")
	nb, nt := len(lastBase), len(lastTeam)
	cpuPer, ownPer := cpu/time.Duration(*changes), own/time.Duration(*changes)
	fmt.Printf("%6d %-6s %-5s | %8s %8s | %8s %8s | %10s %9s %8.0f | %9s %8.2f %9s %9s | %9s %8.0f\n", n, mode, "base",
		ms(pct(lastBase, 50)), ms(pct(lastBase, 99)), ms(pct(anyBase, 50)), ms(pct(anyBase, 99)),
		size(bytesBase/int64(nb)), size(bytesBase/int64(max(needBase, 1))), float64(ansBase)/float64(nb), ms(cpuPer), cpu.Seconds(), size(rss), size(hwm), ms(ownPer), float64(reps)/float64(*changes))
	fmt.Printf("%6s %-6s %-5s | %8s %8s | %8s %8s | %10s %9s %8.0f |\n", "", "", "team",
		ms(pct(lastTeam, 50)), ms(pct(lastTeam, 99)), ms(pct(anyTeam, 50)), ms(pct(anyTeam, 99)),
		size(bytesTeam/int64(nt)), size(bytesTeam/int64(max(needTeam, 1))), float64(ansTeam)/float64(nt))
	if mode == "stream" {
		per := reportCost(ctx, reports, srv, agents)
		fmt.Printf("%6s %-6s %-5s | reports: %.0f per change, %.0fµs of server CPU each (%s a change, %.0f%% of CPU/chg)\n", "", "", "",
			float64(reps)/float64(*changes), float64(per)/float64(time.Microsecond), ms(per*time.Duration(reps)/time.Duration(*changes)),
			100*float64(per*time.Duration(reps))/float64(max(cpu, 1)))
	}
	cancel()
	srv.stop()
	wg.Wait()
	return result{n: n, p50: pct(lastBase, 50), p99: pct(lastBase, 99), bytes: (bytesBase + bytesTeam) / int64(*changes),
		cpu: cpuPer, rss: rss, hwm: hwm}
}

// reportRounds is how many reports each agent sends to measure their cost
// (-quick: 2): thousands of reports, so that the CPU's clock ticks and a
// busy machine's noise weigh little.
const reportRounds = 10

// reportCost is the server's CPU per status report: once the changes'
// reports are in, every agent reports a few times more (on the
// reporting client, as during the changes), with no change in between,
// and the server's CPU over that is divided by the reports.
func reportCost(ctx context.Context, reports *http.Client, srv *child, agents []*agent) time.Duration {
	time.Sleep(*reportEv + 200*time.Millisecond) // the changes' last reports
	rounds := reportRounds
	if *quick {
		rounds = 2
	}
	cpu0 := srv.cpu()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, a := range agents {
		wg.Go(func() {
			for range rounds {
				sem <- struct{}{}
				_, err := call(ctx, reports, srv.addr, a.key.ID, a.key.Secret, map[string]string{"Action": "PalisadeReportHostStatus",
					"HostName": a.host, "AppliedRevision": strconv.FormatInt(a.rev.Load(), 10)})
				<-sem
				if err != nil {
					log.Fatalf("fanout: agent %s: report: %v", a.host, err)
				}
			}
		})
	}
	wg.Wait()
	return (srv.cpu() - cpu0) / time.Duration(len(agents)*rounds)
}

// loop is the agent: a snapshot, then watches from its revision; an
// answer holding the change being measured marks it delivered.
func (a *agent) loop(ctx context.Context, hc *http.Client, addr string, i int, cur *atomic.Pointer[delivery], started func()) {
	var ans struct {
		Revision int64
		Resync   bool
	}
	snapshot := func() bool { return a.snapshot(ctx, hc, addr) }
	ok := snapshot()
	started()
	if !ok {
		return
	}
	for ctx.Err() == nil {
		rev := a.rev.Load()
		body, err := call(ctx, hc, addr, a.key.ID, a.key.Secret, map[string]string{"Action": "PalisadeWatchChanges",
			"HostName": a.host, "AfterRevision": strconv.FormatInt(rev, 10), "AppliedRevision": strconv.FormatInt(rev, 10),
			"WaitSeconds": strconv.Itoa(watchWait)})
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				log.Printf("fanout: agent %s: watch: %v", a.host, err)
				time.Sleep(time.Second)
			}
			continue
		}
		// The answer is not decoded (only its revision read): the agents
		// share this process's CPU with nothing but the server's, and a
		// real agent runs on its own host.
		ans.Revision, ans.Resync = revisionOf(body), bytes.Contains(body, []byte(`"Resync":true`))
		if ans.Revision < 0 {
			log.Fatalf("fanout: agent %s: no revision in a watch answer: %.300s", a.host, body)
		}
		if ans.Resync {
			snapshot()
			continue
		}
		a.rev.Store(ans.Revision)
		d := cur.Load()
		if d == nil || ans.Revision == rev {
			continue
		}
		d.answers.Add(1)
		if bytes.Contains(body, d.mark) {
			d.mu.Lock()
			if !d.finished && d.need[i] && d.got[i].IsZero() {
				d.got[i] = now
				if d.pending.Add(-1) == 0 {
					close(d.done)
				}
			}
			d.mu.Unlock()
		}
	}
}

// snapshot reads the host's snapshot and takes its revision.
func (a *agent) snapshot(ctx context.Context, hc *http.Client, addr string) bool {
	var ans struct{ Revision int64 }
	for ctx.Err() == nil {
		body, err := call(ctx, hc, addr, a.key.ID, a.key.Secret, map[string]string{"Action": "PalisadeGetSnapshot", "HostName": a.host})
		if err == nil && json.Unmarshal(body, &ans) == nil {
			a.rev.Store(ans.Revision)
			return true
		}
		if ctx.Err() == nil {
			log.Printf("fanout: agent %s: snapshot: %v", a.host, err)
			time.Sleep(time.Second)
		}
	}
	return false
}

// stream is the agent on a stream: a snapshot, then one
// PalisadeWatchStream from its revision (another after a cut or a
// Resync); a frame holding the change being measured marks it delivered.
// It reports the revision it holds at most once per -report-every, on the
// reporting client (as the agent does, after applying).
func (a *agent) stream(ctx context.Context, hc, reports *http.Client, addr string, i int, cur *atomic.Pointer[delivery], started func()) {
	ok := a.snapshot(ctx, hc, addr)
	started()
	if !ok {
		return
	}
	for ctx.Err() == nil {
		rev := a.rev.Load()
		err := a.follow(ctx, hc, reports, addr, i, cur, rev)
		if ctx.Err() != nil {
			return
		}
		if err == errResync {
			a.snapshot(ctx, hc, addr)
			continue
		}
		log.Printf("fanout: agent %s: stream: %v", a.host, err)
		time.Sleep(time.Second)
	}
}

var errResync = errors.New("resync")

// follow reads one stream until it ends.
func (a *agent) follow(ctx context.Context, hc, reports *http.Client, addr string, i int, cur *atomic.Pointer[delivery], rev int64) error {
	req, err := signedpost.Request(ctx, addr, a.key.ID, a.key.Secret, map[string]string{"Action": "PalisadeWatchStream",
		"HostName": a.host, "AfterRevision": strconv.FormatInt(rev, 10), "AppliedRevision": strconv.FormatInt(rev, 10)})
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	rd := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		// As in poll mode, a frame is not decoded, only its revision read.
		line, err := rd.ReadBytes('\n')
		if err != nil {
			return err
		}
		now := time.Now()
		r := revisionOf(line)
		if r < 0 {
			log.Fatalf("fanout: agent %s: no revision in a frame: %.300s", a.host, line)
		}
		if bytes.Contains(line, []byte(`"Resync":true`)) {
			return errResync
		}
		prev := a.rev.Swap(r)
		if r == prev || !bytes.Contains(line, []byte(`"Groups"`)) {
			continue // a heartbeat
		}
		if !a.reporting.Swap(true) {
			// As the agent: at once, or a period after the last report.
			wait := max(time.Until(time.Unix(0, a.lastReport.Load()).Add(*reportEv)), 0)
			time.AfterFunc(wait, func() {
				a.lastReport.Store(time.Now().UnixNano())
				a.reporting.Store(false)
				rev := strconv.FormatInt(a.rev.Load(), 10)
				a.reports.Add(1)
				if _, err := call(ctx, reports, addr, a.key.ID, a.key.Secret, map[string]string{"Action": "PalisadeReportHostStatus",
					"HostName": a.host, "AppliedRevision": rev}); err != nil && ctx.Err() == nil {
					log.Printf("fanout: agent %s: report: %v", a.host, err)
				}
			})
		}
		d := cur.Load()
		if d == nil {
			continue
		}
		d.answers.Add(1)
		if bytes.Contains(line, d.mark) {
			d.mu.Lock()
			if !d.finished && d.need[i] && d.got[i].IsZero() {
				d.got[i] = now
				if d.pending.Add(-1) == 0 {
					close(d.done)
				}
			}
			d.mu.Unlock()
		}
	}
}

// revisionOf reads the top-level Revision of a watch answer (the first
// "Revision" key: the answer lists it before the records); -1 if none.
func revisionOf(body []byte) int64 {
	_, rest, ok := bytes.Cut(body, []byte(`"Revision":`))
	if !ok {
		return -1
	}
	end := bytes.IndexAny(rest, ",}")
	if end < 0 {
		return -1
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(rest[:end])), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// countConn counts the bytes read from a connection.
type countConn struct {
	net.Conn
	read *atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func size(b int64) string {
	switch {
	case b >= 10<<20:
		return fmt.Sprintf("%.0fMB", float64(b)/(1<<20))
	case b >= 10<<10:
		return fmt.Sprintf("%.0fKB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%dB", b)
}

// call signs params with V1 and posts them; a non-200 answer is an error.
func call(ctx context.Context, hc *http.Client, addr, key, secret string, params map[string]string) ([]byte, error) {
	return signedpost.Post(ctx, hc, addr, key, secret, params)
}

// cloud is two instances per host, each in sg-base and in its host's team
// group.
func cloud(owner string, hosts int) api.Resources {
	vpc := &model.VPC{ID: "vpc-fanout", Owner: owner, CIDR: netip.MustParsePrefix("10.0.0.0/8")}
	r := api.Resources{VPCs: []*model.VPC{vpc}}
	group := func(id, typ string, rules int) {
		var rs []model.Rule
		for k := range rules {
			rs = append(rs, modeltest.Rule(fmt.Sprintf("sgr-%s-%d", id, k),
				fmt.Sprintf("in accept %d TCP %d/%d 172.16.%d.0/24", 1+k, 1000+k, 1000+k, k)))
		}
		g := modeltest.Group(id, vpc.ID, typ, rs...)
		g.Owner = owner
		r.Groups = append(r.Groups, g)
	}
	group("sg-base", "isolated", baseRules)
	for t := range teams {
		group(fmt.Sprintf("sg-team%02d", t), "basic", 10)
	}
	for h := range hosts {
		for k := range 2 {
			ip := netip.AddrFrom4([4]byte{10, byte(h >> 8), byte(h), byte(10 + k)})
			in := modeltest.Instance(fmt.Sprintf("i-h%04d-%d", h, k), vpc.ID, ip.String(), "sg-base", fmt.Sprintf("sg-team%02d", h%teams))
			in.Owner, in.Host, in.Interface = owner, hostName(h), fmt.Sprintf("pi-%d", k)
			r.Instances = append(r.Instances, in)
		}
	}
	return r
}

func hostName(h int) string { return fmt.Sprintf("host%04d", h) }

// serveChild runs the server, seeds the cloud and the host keys, prints
// them as one JSON line, and serves until signalled.
func serveChild() {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	// The request log is written, a write(2) per line as to stderr (its
	// cost is the server's), but not kept.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: *db, AccessKeyID: tenantKey, AccessKeySecret: tenantSecret,
		OperatorKeyID: opKey, OperatorKeySecret: opSecret, Limits: server.Limits{MaxConns: *hostsN + 64},
		Log: slog.New(slog.NewTextHandler(devNull, nil))})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := srv.Ops.Import(ctx, region, cloud(srv.Key.Account, *hostsN)); err != nil {
		log.Fatalf("seeding the cloud: %v", err)
	}
	op, err := srv.Ops.KeyCaller(ctx, opKey)
	if err != nil {
		log.Fatal(err)
	}
	keys := make([]hostKey, *hostsN)
	var wg sync.WaitGroup
	errs := make(chan error, *hostsN)
	sem := make(chan struct{}, 32) // concurrent writes share commits
	for h := range *hostsN {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			k, err := srv.Ops.RegisterHost(ctx, op, hostName(h))
			if err != nil {
				errs <- err
				return
			}
			keys[h] = hostKey{Host: hostName(h), ID: k.ID, Secret: k.Secret}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		log.Fatalf("registering the hosts: %v", err)
	}
	if *childCPU != "" {
		sig := make(chan os.Signal, 2)
		signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
		go func() {
			var f *os.File
			for s := range sig {
				if s == syscall.SIGUSR1 && f == nil {
					f, _ = os.Create(*childCPU)
					pprof.StartCPUProfile(f)
				} else if s == syscall.SIGUSR2 && f != nil {
					pprof.StopCPUProfile()
					f.Close()
				}
			}
		}()
	}
	b, _ := json.Marshal(setup{Addr: srv.Addr, Keys: keys})
	fmt.Println(string(b))
	if err := srv.Serve(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}

type child struct {
	cmd     *exec.Cmd
	addr    string
	stopped bool
}

func startChild(dbPath string, n int, profile string) (*child, []hostKey) {
	args := []string{"-serve", "palisade", "-db", dbPath, "-hosts", strconv.Itoa(n)}
	if profile != "" {
		args = append(args, "-child-cpuprofile", profile)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	rd := bufio.NewReaderSize(out, 1<<20)
	line, err := rd.ReadString('\n')
	var s setup
	if err == nil {
		err = json.Unmarshal([]byte(line), &s)
	}
	if err != nil {
		cmd.Process.Kill()
		log.Fatalf("fanout: the server did not start: %v", err)
	}
	go io.Copy(io.Discard, rd)
	return &child{cmd: cmd, addr: s.Addr}, s.Keys
}

// stop kills the child: its store is thrown away, and a graceful stop
// (which syncs the store and the nonces) would only make the run longer.
func (c *child) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	c.cmd.Process.Kill()
	c.cmd.Wait()
}

// cpu is the child's user+system CPU time so far.
func (c *child) cpu() time.Duration { return procstat.CPU(c.cmd.Process.Pid) }

// status reads a field (in kB) of the child's /proc status, in bytes.
func (c *child) status(field string) int64 { return procstat.Status(c.cmd.Process.Pid, field) }
