// Command dataplane measures Palisade's data plane in a network-namespace lab
// (root only) and reports ratios against baselines measured in the same run:
//
//   - throughput and new-connection rate between two instances with 0, 100
//     and 1,000 rules on the destination, for no filter, Palisade's ruleset
//     and a linear chain (one nftables rule per security-group rule, as
//     iptables-based firewalls do it), and with flow logs on against off
//     (conn/s and, steadier on a loaded machine, the CPU this process
//     spends per connection);
//   - convergence: from the API's answer to the first packet that sees the
//     new verdict, for one rule change and for one membership change, with
//     1,000 instances on the host (p50, p99), and the chains each change
//     rebuilt;
//   - time and memory to compile and apply a host's ruleset for 1,000
//     instances.
//
// With -only records: flow-log records per second an agent emits before
// a window says SKIPDATA (records.go).
//
// Usage: go run ./bench/dataplane [-quick] [-only parts] [-rules n,...] [-modes m,...] [-rounds n] [-window d] [-cpuprofile file]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
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
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/flowlog"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

var (
	quick    = flag.Bool("quick", false, "short runs (a smoke test, not a measurement)")
	only     = flag.String("only", "throughput,convergence,apply", "the parts to run, comma-separated: throughput, convergence, apply, records (flow-log records per second before SKIPDATA; not run by default)")
	ruleCnts = flag.String("rules", "0,100,1000", "throughput: the numbers of rules ahead of the accepting one, comma-separated")
	modeList = flag.String("modes", "none,palisade,merged,linear,flowlog", "throughput: the filter modes, comma-separated (see setFilter); "+
		"flow-log parts in isolation: fl-rules (flow-log ruleset only), fl-acct (and conntrack accounting), merged-acct (accounting only)")
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the benchmark process to this file")
	window   = flag.Duration("window", time.Minute, "flowlog modes: the collectors' capture window (ECS: 1, 5 or 10 minutes; each window ends with a dump of the host's conntrack table)")
	rounds   = flag.Int("rounds", 5, "throughput: rounds of the modes taking turns; each reports its median")
	duration = time.Second
)

func parts(s string) []string { return strings.Split(s, ",") }

func main() {
	flag.Parse()
	if os.Geteuid() != 0 {
		log.Fatal("the data-plane benchmark needs root (network namespaces and nftables)")
	}
	if *quick {
		duration = 200 * time.Millisecond
	}
	// Labs left by an interrupted run.
	for _, name := range []string{"bench0", "bench100", "bench1000", "benchconv", "benchapply", "benchrec"} {
		lab.Remove(name)
	}
	defer run.Close()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	for _, p := range parts(*only) {
		switch p {
		case "throughput":
			throughput()
		case "convergence":
			convergence()
		case "apply":
			compileApply()
		case "records":
			records()
		default:
			run.Fatalf("-only: unknown part %q", p)
		}
	}
}

// run holds what the benchmark started; check stops it all before exiting.
var run = testenv.NewProgram()

// ---- throughput and connection rate ----

var vpcID = "vpc-bench"

// pairCloud is a client A and a server B (on different hosts) where B's
// group has n rules that never match the benchmark's traffic ahead of the
// one that accepts it, so the first packet of a connection walks them all.
func pairCloud(n int) *policy.Cloud {
	var rules []model.Rule
	for i := range n {
		rules = append(rules, modeltest.Rule(fmt.Sprintf("sgr-x-%d", i),
			fmt.Sprintf("in accept %d TCP %d/%d 172.16.%d.%d/32", 1+i%99, 20000+i, 20000+i, byte(i>>8), byte(i))))
	}
	rules = append(rules, modeltest.Rule("sgr-x-allow", "in accept 100 TCP 5001/5001 10.30.0.0/16"))
	groups := []*model.SecurityGroup{
		modeltest.Group("sg-client", vpcID, "basic"),
		modeltest.Group("sg-server", vpcID, "basic", rules...),
	}
	ins := []*model.Instance{
		modeltest.Instance("i-a", vpcID, "10.30.0.10", "sg-client"),
		modeltest.Instance("i-b", vpcID, "10.30.0.20", "sg-server"),
	}
	return policy.NewCloud(groups, ins, nil)
}

func throughput() {
	fmt.Println("== throughput and new connections, A -> B on another host (TCP)")
	fmt.Printf("%-8s %-11s %14s %8s %14s %8s %14s %8s\n", "rules", "filter", "throughput", "ratio", "conn/s", "ratio", "CPU µs/conn", "ratio")
	for _, ns := range parts(*ruleCnts) {
		n, err := strconv.Atoi(ns)
		check(err)
		c := pairCloud(n)
		env := testenv.NewProgram()
		l := testenv.UpLab(env, lab.Spec{Name: "bench" + strconv.Itoa(n), Hosts: []string{"h0", "h1"},
			Instances: []lab.Instance{{ID: "i-a", VPC: vpcID, PrivateIP: c.Instances["i-a"].PrivateIP, Host: "h0"},
				{ID: "i-b", VPC: vpcID, PrivateIP: c.Instances["i-b"].PrivateIP, Host: "h1"}}})
		run.Cleanup(env.Close) // if a check fails before the Close below
		bound := lab.Bind(c, l)
		// The modes take turns, several rounds, and each reports its
		// median: the machine's other load then weighs on all alike.
		modes := parts(*modeList)
		bw, cr, cpu := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
		for range *rounds {
			for _, mode := range modes {
				setFilter(l, bound, mode)
				bw[mode] = append(bw[mode], stream(l, "i-a", "i-b", 5001))
				rate, us := connRate(l, "i-a", "i-b", 5001)
				cr[mode], cpu[mode] = append(cr[mode], rate), append(cpu[mode], us)
			}
		}
		setFilter(l, bound, "none") // stops the flow-log collectors
		base := modes[0]            // the ratios' baseline: "none" by default
		for _, mode := range modes {
			b, c, u := median(bw[mode]), median(cr[mode]), median(cpu[mode])
			fmt.Printf("%-8d %-11s %10.2f Gb/s %7.0f%% %14.0f %7.0f%% %14.1f %7.0f%%\n", n, mode, b*8/1e9, 100*b/median(bw[base]), c, 100*c/median(cr[base]),
				u, 100*u/median(cpu[base]))
		}
		// The agent compiles "merged" without a flow log and "flowlog" with
		// one: the cost of recording every flow.
		// On a loaded machine the rate follows the share of CPU the
		// benchmark gets; the CPU it spends per connection (this process:
		// dialing, the kernel's forwarding in its syscalls, the collectors)
		// does not, so "CPU off/on" is the rate ratio a machine with the
		// CPU to itself would see.
		if bw["flowlog"] != nil && bw["merged"] != nil {
			fmt.Printf("%-8d flow log on/off: throughput %.0f%%, conn/s %.0f%%, CPU per connection off/on %.0f%% (records emitted: %d, receive errors: %d)\n", n,
				100*median(bw["flowlog"])/median(bw["merged"]), 100*median(cr["flowlog"])/median(cr["merged"]),
				100*median(cpu["merged"])/median(cpu["flowlog"]), flowRecords.Load(), flowLost.Load())
		}
		env.Close() // takes the lab down
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// Flow-log collectors of the "flowlog" mode, running until the next
// setFilter; flowRecords counts what they emitted.
var (
	collectors  []func()
	flowCols    []*flowlog.Collector // the running ones, for their Stats
	flowRecords atomic.Int64
	flowSkip    atomic.Int64 // records that said SKIPDATA
	flowRejects atomic.Int64 // records of drops
	flowLost    atomic.Int64 // receive errors: conntrack events or NFLOG packets the kernel could not deliver
)

// setFilter loads one filter mode into every host of the lab; "flowlog" is
// "merged" with flow logging on and a collector per host, as an agent runs
// them when a flow log covers the host. Its parts one by one: "fl-rules" is
// its ruleset alone, "fl-acct" that with conntrack accounting on, and
// "merged-acct" accounting alone.
func setFilter(l *lab.Lab, c *policy.Cloud, mode string) {
	for _, stop := range collectors {
		stop()
	}
	collectors, flowCols = nil, nil
	for _, h := range l.Spec.Hosts {
		k, err := nft.Open(l.HostNetns(h), nft.Options{})
		check(err)
		// Accounting stays on in a namespace once a collector turned it on:
		// the modes without it turn it off again.
		acct := mode == "flowlog" || mode == "fl-acct" || mode == "merged-acct"
		check(setAcct(l.HostNetns(h), acct))
		switch mode {
		case "none":
			k.Delete() // no table is fine too
		case "merged-acct":
			_, err = k.Apply(nft.Build(c, h, nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true}))
		case "fl-rules", "fl-acct":
			_, err = k.Apply(nft.Build(c, h, nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true, FlowLog: true}))
		case "palisade":
			_, err = k.Apply(nft.Build(c, h, nft.Options{InterfacePrefix: lab.IfacePrefix}))
		case "merged":
			_, err = k.Apply(nft.Build(c, h, nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true}))
		case "linear":
			_, err = k.Apply(nft.BuildLinear(c, h, nft.Options{InterfacePrefix: lab.IfacePrefix}))
		case "flowlog":
			rs := nft.Build(c, h, nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true, FlowLog: true})
			if _, err = k.Apply(rs); err == nil {
				tables := &flowlog.Tables{}
				tables.Update(h, rs, c)
				var col *flowlog.Collector
				col, err = flowlog.Start(flowlog.Config{Netns: l.HostNetns(h), Window: *window, Resolver: tables.Resolver(),
					Emit: countRecords})
				if err == nil {
					flowCols = append(flowCols, col)
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan struct{})
					go func() { defer close(done); col.Run(ctx); flowLost.Add(int64(col.Stats().Lost)); col.Close() }()
					collectors = append(collectors, func() { cancel(); <-done })
				}
			}
		default:
			run.Fatalf("-modes: unknown mode %q", mode)
		}
		check(err)
		k.Close()
	}
	check(lab.FlushConntrack(l))
}

// setAcct turns conntrack accounting (packet and byte counts per
// connection) on or off in a namespace.
func setAcct(ns string, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.netfilter.nf_conntrack_acct="+v).CombinedOutput()
	if err != nil {
		return fmt.Errorf("set nf_conntrack_acct in %s: %v: %s", ns, err, out)
	}
	return nil
}

// stream sends bulk data from one instance to another for the duration and
// returns bytes per second.
func stream(l *lab.Lab, from, to string, port uint16) float64 {
	li, _ := l.Instance(to)
	ln, err := lab.Listen(l, to, port)
	check(err)
	defer ln.Close()
	var got atomic.Int64
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1<<20)
		for {
			n, err := conn.Read(buf)
			got.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	conn, err := lab.Dial(context.Background(), l, from, netip.AddrPortFrom(li.PrivateIP, port))
	check(err)
	buf := make([]byte, 1<<20)
	conn.SetWriteDeadline(time.Now().Add(duration + 50*time.Millisecond))
	warm := time.Now().Add(duration / 4)
	var start time.Time
	var base int64
	for {
		if _, err := conn.Write(buf); err != nil {
			break
		}
		if start.IsZero() && time.Now().After(warm) {
			start, base = time.Now(), got.Load()
		}
	}
	conn.Close()
	return float64(got.Load()-base) / time.Since(start).Seconds()
}

// connRate opens and resets connections for the duration and returns
// connections per second (each one's first packet meets the rules) and the
// CPU time this process spent per connection, in µs.
func connRate(l *lab.Lab, from, to string, port uint16) (float64, float64) {
	cpu0 := cpuTime()
	n := dialPaced(l, from, to, port, 0, 4, duration)
	used := cpuTime() - cpu0
	return float64(n) / duration.Seconds(), float64(used.Microseconds()) / float64(max(n, 1))
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ---- convergence ----

// bigCloud is nInst instances on one host: a and b are real lab instances,
// the rest are bound to interfaces that do not exist (the agent compiles and
// installs their policies all the same). 100 groups of 10 rules each.
func bigCloud(nInst int) api.Resources {
	vpc := &model.VPC{ID: vpcID, CIDR: netip.MustParsePrefix("10.30.0.0/16")}
	r := api.Resources{VPCs: []*model.VPC{vpc}}
	for g := range 100 {
		sg := modeltest.Group(fmt.Sprintf("sg-g%d", g), vpcID, "isolated")
		for i := range 10 {
			peer := fmt.Sprintf("172.16.%d.%d/32", g, i)
			if i%3 == 0 {
				peer = fmt.Sprintf("sg-g%d", (g+i)%100)
			}
			sg.Rules = append(sg.Rules, modeltest.Rule(fmt.Sprintf("sgr-g%d-%d", g, i),
				fmt.Sprintf("in accept %d TCP %d/%d %s", 1+i, 1000+i, 1000+i, peer)))
		}
		r.Groups = append(r.Groups, sg)
	}
	r.Groups = append(r.Groups,
		modeltest.Group("sg-client", vpcID, "isolated"),
		modeltest.Group("sg-member", vpcID, "isolated"),
		modeltest.Group("sg-server", vpcID, "isolated", modeltest.Rule("sgr-member", "in accept 1 UDP 9000/9000 sg-member")))
	on := func(in *model.Instance, iface string) *model.Instance {
		in.Host, in.Interface = "h0", iface
		return in
	}
	r.Instances = append(r.Instances,
		on(modeltest.Instance("i-a", vpcID, "10.30.0.10", "sg-client"), "pi-a"),
		on(modeltest.Instance("i-b", vpcID, "10.30.0.20", "sg-server"), "pi-b"))
	for i := range nInst - 2 {
		r.Instances = append(r.Instances, on(modeltest.Instance(fmt.Sprintf("i-v%d", i), vpcID,
			fmt.Sprintf("10.30.%d.%d", 1+i/250, 1+i%250), fmt.Sprintf("sg-g%d", i%100), fmt.Sprintf("sg-g%d", (i*7+3)%100)),
			fmt.Sprintf("pv%d", i)))
	}
	return r
}

func convergence() {
	const nInst = 1000
	reps := 40
	if *quick {
		reps = 3
	}
	fmt.Printf("\n== convergence, %d instances on one host, %d changes of each kind\n", nInst, reps)
	ctx := context.Background()
	env := testenv.NewProgram()
	defer env.Close()
	run.Cleanup(env.Close) // if a check fails first
	srv := testenv.Start(env, testenv.Config{Log: testenv.Quiet()})
	res := bigCloud(nInst)
	_, err := srv.Ops.Import(ctx, "cn-hangzhou", res)
	check(err)
	l := testenv.StartLab(env, srv, lab.Spec{Name: "benchconv", Hosts: []string{"h0"}, Instances: []lab.Instance{
		{ID: "i-a", VPC: vpcID, PrivateIP: netip.MustParseAddr("10.30.0.10"), Host: "h0"},
		{ID: "i-b", VPC: vpcID, PrivateIP: netip.MustParseAddr("10.30.0.20"), Host: "h0"}}})
	call := func(action string, p map[string]string) {
		check(l.API.Call(ctx, action, p, nil, 0))
	}
	// revision is the store's revision: after a change, the change's.
	revision := func() int64 {
		rev, err := srv.Store.Revision(ctx)
		check(err)
		return rev
	}

	var mu sync.Mutex
	var lastStats nft.Stats
	var lastRev int64
	var applyTimes []time.Duration
	applied := make(chan struct{}, 1) // a new apply, for statsAt
	var lastApply time.Time
	cfg := l.AgentConfig("h0")
	cfg.OnApplied = func(rev int64, st nft.Stats) {
		mu.Lock()
		lastStats, lastRev = st, rev
		applyTimes = append(applyTimes, time.Since(lastApply))
		mu.Unlock()
		select {
		case applied <- struct{}{}:
		default:
		}
	}
	l.RunAgent(env, cfg)
	// statsAt waits until the agent has applied rev and returns the stats
	// of that apply (changes are made one at a time, so it is rev's).
	statsAt := func(rev int64) nft.Stats {
		for {
			mu.Lock()
			st, done := lastStats, lastRev >= rev
			mu.Unlock()
			if done {
				return st
			}
			select {
			case <-applied:
			case <-time.After(10 * time.Second):
				run.Fatalf("the agent never applied revision %d", rev)
			}
		}
	}
	statsAt(revision())

	// B listens on UDP ports; A sends to the port under test every 100 µs.
	bIP := netip.MustParseAddr("10.30.0.20")
	measure := func(port uint16, change func()) time.Duration {
		got := make(chan time.Time, 1)
		pc := listenUDP(l.Lab, "i-b", port)
		defer pc.Close()
		go func() {
			buf := make([]byte, 64)
			if _, _, err := pc.ReadFrom(buf); err == nil {
				got <- time.Now()
			}
		}()
		stop := make(chan struct{})
		go sendUDP(l.Lab, "i-a", netip.AddrPortFrom(bIP, port), stop)
		// Real traffic for a while: the flow must be denied so far.
		time.Sleep(20 * time.Millisecond)
		select {
		case <-got:
			run.Fatalf("port %d was open before the change", port)
		default:
		}
		mu.Lock()
		lastApply = time.Now()
		mu.Unlock()
		change()
		t0 := time.Now()
		select {
		case t := <-got:
			close(stop)
			return t.Sub(t0)
		case <-time.After(10 * time.Second):
			run.Fatalf("port %d never opened", port)
		}
		return 0
	}

	var ruleLat, memberLat []time.Duration
	var ruleChains, memberChains, memberElems []int
	for i := range reps {
		port := uint16(10000 + i)
		// Each change's stats are read once the agent has applied it (the
		// first packet may pass before the agent reports the apply).
		ruleLat = append(ruleLat, measure(port, func() {
			call("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": "sg-server", "IpProtocol": "udp",
				"PortRange": fmt.Sprintf("%d/%d", port, port), "SourceCidrIp": "10.30.0.10/32"})
		}))
		ruleChains = append(ruleChains, statsAt(revision()).ChainsAdded)

		memberLat = append(memberLat, measure(9000, func() {
			call("JoinSecurityGroup", map[string]string{"InstanceId": "i-a", "SecurityGroupId": "sg-member"})
		}))
		st := statsAt(revision())
		memberChains, memberElems = append(memberChains, st.ChainsAdded), append(memberElems, st.ElementsAdded)
		// The next join must find port 9000 closed again.
		call("LeaveSecurityGroup", map[string]string{"InstanceId": "i-a", "SecurityGroupId": "sg-member"})
		statsAt(revision())
	}
	fmt.Printf("%-22s %8s %8s %8s   %s\n", "change", "p50", "p99", "max", "chains rebuilt per change")
	fmt.Printf("%-22s %8s %8s %8s   %v\n", "one rule (authorize)", pct(ruleLat, 50), pct(ruleLat, 99), pct(ruleLat, 100), summary(ruleChains))
	fmt.Printf("%-22s %8s %8s %8s   %v (set elements added: %v)\n", "membership (join)", pct(memberLat, 50), pct(memberLat, 99), pct(memberLat, 100), summary(memberChains), summary(memberElems))
	fmt.Println("(a membership change that rebuilds no chain shows chains rebuilt = 0: only set elements change)")
}

func pct(ds []time.Duration, p int) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return s[i].Round(10 * time.Microsecond).String()
}

func summary(xs []int) string {
	lo, hi := slices.Min(xs), slices.Max(xs)
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d..%d", lo, hi)
}

func listenUDP(l *lab.Lab, id string, port uint16) net.PacketConn {
	pc, err := lab.ListenUDP(l, id, port)
	check(err)
	return pc
}

func sendUDP(l *lab.Lab, from string, dst netip.AddrPort, stop chan struct{}) {
	conn, err := lab.DialUDP(l, from, dst)
	check(err)
	defer conn.Close()
	t := time.NewTicker(100 * time.Microsecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			conn.Write([]byte("x"))
		}
	}
}

// ---- compile and apply ----

func compileApply() {
	fmt.Println("\n== compile and apply a host's ruleset, 1,000 instances (2 groups each, 100 groups of 10 rules)")
	res := bigCloud(1000)
	c := policy.NewCloud(res.Groups, res.Instances, nil)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	rs := nft.Build(c, "h0", nft.Options{InterfacePrefix: lab.IfacePrefix})
	build := time.Since(t0)
	runtime.ReadMemStats(&m1)
	rules := 0
	for _, ch := range rs.Chains {
		rules += len(ch.Rules)
	}
	env := testenv.NewProgram()
	defer env.Close()
	run.Cleanup(env.Close)
	l := testenv.UpLab(env, lab.Spec{Name: "benchapply", Hosts: []string{"h0"}})
	k, err := nft.Open(l.HostNetns("h0"), nft.Options{})
	check(err)
	defer k.Close()
	t0 = time.Now()
	st, err := k.Apply(rs)
	check(err)
	apply := time.Since(t0)
	t0 = time.Now()
	_, err = k.Apply(rs)
	check(err)
	noop := time.Since(t0)
	k2, err := nft.Open(l.HostNetns("h0"), nft.Options{})
	check(err)
	t0 = time.Now()
	_, err = k2.Apply(rs)
	check(err)
	reconcile := time.Since(t0)
	k2.Close()
	fmt.Printf("ruleset: %d chains, %d rules, %d sets\n", len(rs.Chains), rules, len(rs.Sets))
	fmt.Printf("compile %s (%.1f MB allocated), first apply %s (%d chains added), no-op re-apply %s, reconcile by a fresh agent %s\n",
		build.Round(time.Millisecond), float64(m1.TotalAlloc-m0.TotalAlloc)/1e6, apply.Round(time.Millisecond), st.ChainsAdded,
		noop.Round(time.Microsecond), reconcile.Round(time.Millisecond))
}

// check stops the benchmark on err, taking down what it started.
func check(err error) {
	if err != nil {
		run.Fatalf("%v", err)
	}
}
