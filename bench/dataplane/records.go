package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/dataplane/flowlog"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// countRecords is the Emit of the "flowlog" mode's collectors.
func countRecords(rs []flowlog.Record) {
	var skip, rej int64
	for _, r := range rs {
		if r.LogStatus == flowlog.StatusSkip {
			skip++
		}
		if r.Action == flowlog.Reject {
			rej++
		}
	}
	flowRecords.Add(int64(len(rs)))
	flowSkip.Add(skip)
	flowRejects.Add(rej)
}

// flowStats sums the running collectors' Stats.
func flowStats() flowlog.Stats {
	var s flowlog.Stats
	for _, c := range flowCols {
		t := c.Stats()
		s.Connections += t.Connections
		s.Drops += t.Drops
		s.Skipped += t.Skipped
		s.LimitSkipped += t.LimitSkipped
		s.Lost += t.Lost
	}
	return s
}

// records measures the flow-log records per second an agent emits before a
// window says SKIPDATA: new accepted connections from A (host h0) to B
// (host h1) at rising offered rates, each step with fresh collectors and an
// empty conntrack table.
//
// How records arise: each host's collector sees its own conntrack table,
// and a connection between instances of two hosts is labelled on each host
// with that host's side only, so a connection gives one record on h0 (A's
// "out", egress) and one on h1 (B's "in", ingress): two records in all, one
// per agent, in the window the connection was made (its traffic after that
// window, if any, adds records in later windows; these connections are
// reset at once, so none). A record is per (side, 5-tuple), so a source
// port reused within one window folds two connections into one record.
// "records/s per agent" is the total over the two hosts halved.
//
// What makes a window SKIPDATA: a collector follows at most MaxFlows
// (65,536) connections until conntrack destroys them ("skipped" counts
// those it could not follow); and netlink receive errors (conntrack events
// the kernel could not queue: "recv err"). A reset connection stays in
// conntrack (CLOSE) for 10 s, a closed one 120 s (TIME_WAIT), so many
// clients at ~6,500 reset conn/s (or ~550 closed conn/s) would reach the
// bound; one client address to one server port here has at most the
// ephemeral port range (~28,000) of 5-tuples alive (a SYN reusing a tuple
// replaces the old entry), so this bench cannot reach it: it measures
// receive errors and the collector's pace.
func records() {
	win := time.Second
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "window" {
			win = *window
		}
	})
	*window = win
	// A step outlasts the 10 s a reset connection stays in conntrack, so
	// the connections a collector follows reach their steady number.
	step, flood := 12*time.Second, 4*time.Second
	if *quick {
		step, flood = time.Second, time.Second
	}
	fmt.Printf("\n== flow-log records, A -> B on another host (TCP, reset at once), capture window %s, %s per step\n", win, step)
	c := pairCloud(0)
	env := testenv.NewProgram()
	defer env.Close()
	run.Cleanup(env.Close)
	l := testenv.UpLab(env, lab.Spec{Name: "benchrec", Hosts: []string{"h0", "h1"},
		Instances: []lab.Instance{{ID: "i-a", VPC: vpcID, PrivateIP: c.Instances["i-a"].PrivateIP, Host: "h0"},
			{ID: "i-b", VPC: vpcID, PrivateIP: c.Instances["i-b"].PrivateIP, Host: "h1"}}})
	bound := lab.Bind(c, l)
	hosts := float64(len(l.Spec.Hosts))

	// measure runs load with fresh collectors, waits a window and a margin
	// so that its last window is flushed, and returns the counts.
	type counts struct {
		recs, skipRecs, rejects int64
		st                      flowlog.Stats
	}
	measure := func(load func()) counts {
		setFilter(l, bound, "none") // empties conntrack: no connection of the last step lingers
		setFilter(l, bound, "flowlog")
		r0, s0, j0 := flowRecords.Load(), flowSkip.Load(), flowRejects.Load()
		load()
		time.Sleep(win + win/2 + 200*time.Millisecond)
		st := flowStats()
		got := counts{flowRecords.Load() - r0, flowSkip.Load() - s0, flowRejects.Load() - j0, st}
		setFilter(l, bound, "none")
		return got
	}

	fmt.Printf("%10s %10s %16s %10s %10s %8s %8s\n", "offered", "conn/s", "records/s/agent", "SKIPDATA", "skipped", "recv err", "records")
	sustained, best := 0.0, 0.0
	for _, rate := range []int{1000, 2000, 4000, 8000, 0} {
		var n int64
		got := measure(func() { n = dialPaced(l, "i-a", "i-b", 5001, rate, 8, step) })
		perAgent := float64(got.recs) / hosts / step.Seconds()
		offered := "max"
		if rate > 0 {
			offered = fmt.Sprint(rate)
		}
		fmt.Printf("%10s %10.0f %16.0f %10d %10d %8d %8d\n", offered, float64(n)/step.Seconds(), perAgent,
			got.skipRecs, got.st.Skipped, got.st.Lost, got.recs)
		if got.skipRecs == 0 && got.st.Skipped == 0 && got.st.Lost == 0 {
			sustained = max(sustained, perAgent)
		}
		best = max(best, perAgent)
	}
	fmt.Printf("agent sustains %.0f records/s without SKIPDATA on this machine (the highest step with none; highest seen %.0f)\n", sustained, best)

	// Drops: A floods UDP to a port B's group does not open. B's default
	// (drop) entry goes to its log chain, whose limit passes DefaultLogRate
	// packets/s (burst DefaultLogBurst) to NFLOG and counts the rest: those
	// are LimitSkipped, and the window says SKIPDATA. A's side accepts: its
	// collector sees a conntrack entry per socket, an ACCEPT record each.
	const socks = 8
	var sent atomic.Int64
	got := measure(func() {
		li, _ := l.Instance("i-b")
		dst := netip.AddrPortFrom(li.PrivateIP, 5002)
		deadline := time.Now().Add(flood)
		var wg sync.WaitGroup
		for range socks {
			conn, err := lab.DialUDP(l, "i-a", dst)
			check(err)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				b := []byte("x")
				for i := 0; ; i++ {
					if i%64 == 0 && time.Now().After(deadline) {
						return
					}
					if _, err := conn.Write(b); err == nil {
						sent.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	})
	s := flood.Seconds()
	fmt.Printf("UDP drop flood, %d sockets: sent %.0f pkt/s, logged drops %.0f/s (log limit %d/s, burst %d, per log chain), not logged (over the limit) %.0f/s, "+
		"drop records %.0f/s, SKIPDATA records %d, skipped %d, receive errors %d\n",
		socks, float64(sent.Load())/s, float64(got.st.Drops)/s, nft.DefaultLogRate, nft.DefaultLogBurst, float64(got.st.LimitSkipped)/s,
		float64(got.rejects)/s, got.skipRecs, got.st.Skipped, got.st.Lost)
}

// dialPaced opens and resets connections from one instance to another at
// rate per second (0: as fast as it can), from workers goroutines, for d,
// and returns how many it made.
func dialPaced(l *lab.Lab, from, to string, port uint16, rate, workers int, d time.Duration) int64 {
	li, _ := l.Instance(to)
	ln, err := lab.Listen(l, to, port)
	check(err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dst := netip.AddrPortFrom(li.PrivateIP, port)
	var n, slot atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if rate > 0 {
					// The next slot of the schedule; a late worker catches up.
					at := start.Add(time.Duration(slot.Add(1)-1) * time.Second / time.Duration(rate))
					if at.After(deadline) {
						return
					}
					time.Sleep(time.Until(at))
				} else if time.Now().After(deadline) {
					return
				}
				c, err := lab.Dial(context.Background(), l, from, dst)
				if err != nil {
					continue
				}
				c.(*net.TCPConn).SetLinger(0) // reset: no TIME_WAIT piles up
				c.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return n.Load()
}
