package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// The agent's tests run against a fake source and nft.Fake: no root, no
// netlink. Inside a synctest bubble time is virtual, so backoffs and report
// periods pass at once and exactly; the test and the agent hand each call
// over on channels.

const host = "h1"

var (
	opts   = nft.Options{InterfacePrefix: "pi-"}
	quiet  = slog.New(slog.NewTextHandler(io.Discard, nil))
	webKey = nft.RuleKey{GroupID: "sg-web", RuleID: "sgr-web"}
)

// records returns new copies of the records: sg-web admits TCP on port to
// i-1 and i-2 (on this host), i-3 (on another host) and i-4 (bound nowhere).
func records(port int32) ([]*model.SecurityGroup, []*model.Instance) {
	groups := []*model.SecurityGroup{{ID: "sg-web", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop,
		Rules: []model.Rule{{ID: "sgr-web", Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
			PortRange: model.PortRange{Start: port, End: port}, Peer: model.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}, NicType: model.Intranet}}}}
	in := func(id, ip, host, iface string) *model.Instance {
		return &model.Instance{ID: id, VpcID: "vpc-a", PrivateIP: netip.MustParseAddr(ip), SecurityGroups: []string{"sg-web"}, Host: host, Interface: iface}
	}
	return groups, []*model.Instance{in("i-1", "10.0.0.1", host, "pi-1"), in("i-2", "10.0.0.2", host, "pi-2"),
		in("i-3", "10.0.0.3", "h2", "pi-3"), in("i-4", "10.0.0.4", "", "")}
}

func snapshotOf(rev int64, groups []*model.SecurityGroup, ins []*model.Instance) *Snapshot {
	return &Snapshot{Revision: rev, Groups: groups, Instances: ins}
}

// snapAt is a snapshot of records(port) at rev.
func snapAt(rev int64, port int32) *Snapshot {
	groups, ins := records(port)
	return snapshotOf(rev, groups, ins)
}

// want is the table the host's kernel must hold for the records.
func want(groups []*model.SecurityGroup, ins []*model.Instance) string {
	return nft.Build(policy.NewCloud(groups, ins, nil), host, opts).String()
}

// call is one call of the agent on the fake source, waiting for its answer.
type call struct {
	kind  string // "snapshot" or "watch"
	watch WatchRequest
	at    time.Time
	reply chan reply
}

type reply struct {
	snap    *Snapshot
	changes *Changes
	err     error
}

func (c *call) answer(r reply) { c.reply <- r }

// fakeSource hands each Snapshot and Watch to the test and records reports.
type fakeSource struct {
	calls       chan *call
	reportTakes time.Duration // how long a report is on the wire
	reported    chan reportAt // every report, for the test to wait on

	mu        sync.Mutex
	reports   []reportAt
	stopped   bool // Run has returned
	lateCalls int  // reports started or finished after Run returned
}

type reportAt struct {
	Status
	at time.Time
}

func (s *fakeSource) call(ctx context.Context, c *call) (reply, error) {
	c.at, c.reply = time.Now(), make(chan reply, 1)
	select {
	case s.calls <- c:
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
	select {
	case r := <-c.reply:
		return r, r.err
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

func (s *fakeSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	r, err := s.call(ctx, &call{kind: "snapshot"})
	return r.snap, err
}

func (s *fakeSource) Watch(ctx context.Context, w WatchRequest) (*Changes, error) {
	r, err := s.call(ctx, &call{kind: "watch", watch: w})
	return r.changes, err
}

func (s *fakeSource) Report(ctx context.Context, st Status) error {
	r := reportAt{Status: st, at: time.Now()}
	s.mu.Lock()
	s.reports = append(s.reports, r)
	if s.stopped {
		s.lateCalls++
	}
	s.mu.Unlock()
	s.reported <- r
	var err error
	select {
	case <-time.After(s.reportTakes):
	case <-ctx.Done():
		<-time.After(time.Millisecond) // the call unwinds
		err = ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		s.lateCalls++ // still running after Run returned
	}
	return err
}

// env is an agent running in a bubble against the fakes.
type env struct {
	src     *fakeSource
	kernel  *nft.Fake
	applied chan int64
	cancel  context.CancelFunc
	done    chan error
	ended   bool
}

func start(t *testing.T, reportTakes time.Duration) *env { return startWith(t, reportTakes, nil) }

// startWith is start with a change of the agent's configuration.
func startWith(t *testing.T, reportTakes time.Duration, adjust func(*Config)) *env {
	e := &env{src: &fakeSource{calls: make(chan *call), reportTakes: reportTakes, reported: make(chan reportAt, 1000)},
		kernel: nft.NewFake(opts), applied: make(chan int64, 100), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	cfg := Config{Host: host, NFT: opts, ReportEvery: 10 * time.Second, Log: quiet, Source: e.src,
		OpenTable: func() (nft.Table, error) { return e.kernel, nil },
		OnApplied: func(rev int64, _ nft.Stats) { e.applied <- rev }}
	if adjust != nil {
		adjust(&cfg)
	}
	go func() { e.done <- Run(ctx, cfg) }()
	t.Cleanup(func() { e.stop(t) })
	return e
}

// stop cancels the agent and waits for Run to return.
func (e *env) stop(t *testing.T) {
	t.Helper()
	e.cancel()
	if !e.ended {
		e.ended = true
		if err := <-e.done; err != nil {
			t.Errorf("Run: %v", err)
		}
		e.src.mu.Lock()
		e.src.stopped = true
		e.src.mu.Unlock()
	}
}

// expect takes the agent's next call, which must be of the kind given.
func (e *env) expect(t *testing.T, kind string) *call {
	t.Helper()
	select {
	case c := <-e.src.calls:
		if c.kind != kind {
			t.Fatalf("the agent asked for a %s %+v, want a %s", c.kind, c.watch, kind)
		}
		return c
	case err := <-e.done:
		e.ended = true
		t.Fatalf("Run returned (%v); want a %s", err, kind)
	case <-time.After(time.Hour):
		t.Fatalf("no %s from the agent in an hour", kind)
	}
	return nil
}

// waitApplied waits for the agent's next apply, which must be of rev.
func (e *env) waitApplied(t *testing.T, rev int64) {
	t.Helper()
	select {
	case got := <-e.applied:
		if got != rev {
			t.Fatalf("applied revision %d, want %d", got, rev)
		}
	case err := <-e.done:
		e.ended = true
		t.Fatalf("Run returned (%v) before applying revision %d", err, rev)
	case <-time.After(time.Hour):
		t.Fatalf("revision %d not applied in an hour", rev)
	}
}

func (e *env) noApply(t *testing.T) {
	t.Helper()
	select {
	case rev := <-e.applied:
		t.Fatalf("the agent applied revision %d", rev)
	default:
	}
}

// holds checks the kernel holds the table w (see want).
func (e *env) holds(t *testing.T, w string) {
	t.Helper()
	got := e.kernel.Applied()
	if got == nil || got.String() != w {
		t.Fatalf("the kernel holds\n%v\nwant\n%s", got, w)
	}
}

// nextCounters waits for the next report with counters.
func (e *env) nextCounters(t *testing.T) reportAt {
	t.Helper()
	for {
		select {
		case r := <-e.src.reported:
			if r.Counters != nil {
				return r
			}
		case <-time.After(time.Hour):
			t.Fatal("no counters reported in an hour")
		}
	}
}

func watchFor(after, applied int64, wait time.Duration) WatchRequest {
	return WatchRequest{Host: host, After: after, Applied: applied, Wait: wait}
}

func checkWatch(t *testing.T, c *call, want WatchRequest) {
	t.Helper()
	if c.watch != want {
		t.Fatalf("watch %+v, want %+v", c.watch, want)
	}
}

var errServer = errors.New("connection refused")

func TestAgent(t *testing.T) {
	cases := []struct {
		name        string
		reportTakes time.Duration
		run         func(t *testing.T, e *env)
	}{
		{"the first apply holds the snapshot's policy for the host's bound instances", 0, func(t *testing.T, e *env) {
			e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
			e.waitApplied(t, 5)
			e.holds(t, want(records(80)))
			var ifaces []string
			for _, m := range e.kernel.Applied().Maps {
				for _, el := range m.Elems {
					ifaces = append(ifaces, m.Name+":"+el.Interface)
				}
			}
			if want := []string{"egress:pi-1", "egress:pi-2", "ingress:pi-1", "ingress:pi-2"}; !slices.Equal(ifaces, want) {
				t.Errorf("programmed %v, want %v (only this host's bound instances)", ifaces, want)
			}
			checkWatch(t, e.expect(t, "watch"), watchFor(5, 5, watchWait))
		}},

		{"after watch errors the agent resumes from the revision it holds, without a new snapshot", 0, func(t *testing.T, e *env) {
			e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
			e.waitApplied(t, 5)
			w := e.expect(t, "watch")
			checkWatch(t, w, watchFor(5, 5, watchWait))
			w.answer(reply{err: errServer})
			w = e.expect(t, "watch") // not a snapshot
			checkWatch(t, w, watchFor(5, 5, watchWait))
			groups, _ := records(8080)
			w.answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 7, Groups: groups}}})
			e.waitApplied(t, 7)
			e.holds(t, want(records(8080)))
			w = e.expect(t, "watch")
			checkWatch(t, w, watchFor(7, 7, watchWait))
			w.answer(reply{err: errServer})
			w = e.expect(t, "watch")
			checkWatch(t, w, watchFor(7, 7, watchWait))
			w.answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 7}}}) // the poll timed out
			checkWatch(t, e.expect(t, "watch"), watchFor(7, 7, watchWait))
			e.noApply(t)
		}},

		{"a resync from the server makes the agent read a new snapshot", 0, func(t *testing.T, e *env) {
			e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
			e.waitApplied(t, 5)
			e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 2}, Resync: true}})
			groups, ins := records(443)
			ins = ins[:1] // the replaced store knows i-1 only
			e.expect(t, "snapshot").answer(reply{snap: snapshotOf(2, groups, ins)})
			e.waitApplied(t, 2)
			groups, ins = records(443)
			e.holds(t, want(groups, ins[:1]))
			checkWatch(t, e.expect(t, "watch"), watchFor(2, 2, watchWait))
		}},

		{"server errors are retried with growing delays, from the shortest again after a success", 0, func(t *testing.T, e *env) {
			var at []time.Time
			for range 8 {
				c := e.expect(t, "snapshot")
				at = append(at, c.at)
				c.answer(reply{err: errServer})
			}
			c := e.expect(t, "snapshot")
			at = append(at, c.at)
			c.answer(reply{snap: snapAt(5, 80)})
			e.waitApplied(t, 5)
			ms := time.Millisecond
			if got, want := gaps(at), []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms}; !slices.Equal(got, want) {
				t.Errorf("delays between snapshot attempts %v, want %v", got, want)
			}
			at = nil
			for range 3 {
				w := e.expect(t, "watch")
				at = append(at, w.at)
				w.answer(reply{err: errServer})
			}
			at = append(at, e.expect(t, "watch").at)
			if got, want := gaps(at), []time.Duration{100 * ms, 200 * ms, 400 * ms}; !slices.Equal(got, want) {
				t.Errorf("delays between watches after the snapshot %v, want %v", got, want)
			}
		}},

		{"a kernel error keeps the last policy in force until the kernel takes the new one", 0, func(t *testing.T, e *env) {
			// The first apply fails: the agent catches up and applies again.
			e.kernel.FailNextApply(errors.New("netlink: operation not permitted"))
			e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
			w := e.expect(t, "watch")
			checkWatch(t, w, watchFor(5, 0, 0))
			if e.kernel.Applied() != nil {
				t.Fatalf("a failed apply left a table:\n%s", e.kernel.Applied())
			}
			w.answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 5}}})
			e.waitApplied(t, 5)
			e.holds(t, want(records(80)))
			e.kernel.FailNextApply(errors.New("netlink receive: no buffer space available"))
			groups, _ := records(8080)
			e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 7, Groups: groups}}})

			// The agent catches up without waiting, still reporting 5.
			w = e.expect(t, "watch")
			checkWatch(t, w, watchFor(7, 5, 0))
			e.noApply(t)
			e.holds(t, want(records(80)))
			if r := e.nextCounters(t); r.Applied != 5 {
				t.Errorf("the agent reports revision %d in force, want 5", r.Applied)
			}
			w.answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 7}}})
			e.waitApplied(t, 7)
			e.holds(t, want(records(8080)))
			checkWatch(t, e.expect(t, "watch"), watchFor(7, 7, watchWait))
			if n := e.kernel.Applies(); n != 2 {
				t.Errorf("%d applies went through, want 2", n)
			}
		}},

		{"reports carry the counters, and stop with the agent's context", time.Second, func(t *testing.T, e *env) {
			e.kernel.SetCounters(map[nft.RuleKey]nft.Counter{webKey: {Packets: 3, Bytes: 180}})
			e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
			e.waitApplied(t, 5)
			first, second := e.nextCounters(t), e.nextCounters(t)
			if first.Host != host || first.Applied != 5 || !maps.Equal(first.Counters, map[nft.RuleKey]nft.Counter{webKey: {Packets: 3, Bytes: 180}}) {
				t.Errorf("report %+v, want host %s at revision 5 with %s at 3 packets, 180 bytes", first.Status, host, webKey)
			}
			if gap := second.at.Sub(first.at); gap != 10*time.Second {
				t.Errorf("counters reported %v apart, want every 10s", gap)
			}

			// An apply sends a report at once; cancel while it is on the wire.
			groups, _ := records(8080)
			e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 6, Groups: groups}}})
			e.waitApplied(t, 6)
			synctest.Wait()
			cancelled := time.Now()
			e.stop(t)
			if took := time.Since(cancelled); took > time.Millisecond {
				t.Errorf("Run returned %v after the context was cancelled; the report on the wire must end with it", took)
			}
			e.src.mu.Lock()
			n := len(e.src.reports)
			e.src.mu.Unlock()
			time.Sleep(time.Minute) // virtual: a reporter still running would report 6 times
			e.src.mu.Lock()
			defer e.src.mu.Unlock()
			if e.src.lateCalls > 0 || len(e.src.reports) != n {
				t.Errorf("%d reports made or delivered after Run returned (%d reports before, %d after)", e.src.lateCalls, n, len(e.src.reports))
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { tc.run(t, start(t, tc.reportTakes)) })
		})
	}
}

func gaps(at []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(at); i++ {
		out = append(out, at[i].Sub(at[i-1]))
	}
	return out
}
