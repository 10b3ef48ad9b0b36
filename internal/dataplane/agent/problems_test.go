package agent

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
)

// An instance the compiler leaves out (its interface cannot be programmed)
// is not enforced: the agent must say so, once, not apply silently.
func TestAgentLogsInstancesLeftOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		iface string // i-1's interface
		want  []string
	}{
		{"every instance programmed", "pi-1", nil},
		{"an interface name too long for the kernel", "pi-0123456789abc", []string{"instance i-1", "longer than 15"}},
		{"an interface two instances claim", "pi-2", []string{"instance i-1", "also claimed by i-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, log := runLogged(t, nil)

				groups, ins := records(80)
				ins[0].Interface = tc.iface
				e.expect(t, "snapshot").answer(reply{snap: snapshotOf(5, groups, ins)})
				e.waitApplied(t, 5)
				// The same records again: nothing new to say.
				e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 6, Groups: groups}}})
				e.waitApplied(t, 6)
				e.expect(t, "watch")
				got := log.String()
				for _, w := range tc.want {
					if n := strings.Count(got, w); n != 1 {
						t.Errorf("the log says %q %d times, want once:\n%s", w, n, got)
					}
				}
				if tc.want == nil && strings.Contains(got, "level=ERROR") {
					t.Errorf("an error logged with every instance programmed:\n%s", got)
				}
			})
		})
	}
}

// runLogged runs an agent on a fake source and kernel, as newEnv does,
// with its log kept for the test to read; tweak, if set, changes its
// configuration first.
func runLogged(t *testing.T, tweak func(*Config)) (*env, *logbuf.Buffer) {
	log := &logbuf.Buffer{}
	e := &env{src: &fakeSource{calls: make(chan *call), reported: make(chan reportAt, 1000)},
		kernel: nft.NewFake(opts), applied: make(chan int64, 100), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	cfg := Config{Host: host, NFT: opts, Log: slog.New(slog.NewTextHandler(log, nil)), Source: e.src,
		OpenTable: func() (nft.Table, error) { return e.kernel, nil },
		OnApplied: func(rev int64, _ nft.Stats) { e.applied <- rev }}
	if tweak != nil {
		tweak(&cfg)
	}
	go func() { e.done <- Run(ctx, cfg) }()
	t.Cleanup(func() { e.stop(t) })
	return e, log
}

// After the server was unreachable, its first answer is logged: the
// agent's log must not end on "server unreachable" once it caught up.
func TestAgentLogsTheServerBack(t *testing.T) {
	const back = "the server answers again"
	for _, tc := range []struct {
		name     string
		run      func(t *testing.T, e *env)
		wantBack int // times the log says the server is back
	}{
		{"never unreachable", func(t *testing.T, e *env) {
			e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
			e.waitApplied(t, 5)
			e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 5}}})
		}, 0},
		{"unreachable before the snapshot", func(t *testing.T, e *env) {
			for range 3 {
				e.expect(t, "snapshot").answer(reply{err: errServer})
			}
			e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
			e.waitApplied(t, 5)
		}, 1},
		{"unreachable while following, then a poll with nothing new", func(t *testing.T, e *env) {
			e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
			e.waitApplied(t, 5)
			for range 3 {
				e.expect(t, "watch").answer(reply{err: errServer})
			}
			e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 5}}})
			e.expect(t, "watch").answer(reply{err: errServer})
			groups, _ := records(8080)
			e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 7, Groups: groups}}})
			e.waitApplied(t, 7)
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, log := runLogged(t, nil)
				tc.run(t, e)
				e.expect(t, "watch")
				if n := strings.Count(log.String(), back); n != tc.wantBack {
					t.Errorf("the log says %q %d times, want %d:\n%s", back, n, tc.wantBack, log.String())
				}
			})
		})
	}
}

// An agent whose host has no NIC bound (a --host naming another host, or
// none yet) drops the traffic of every instance interface: it says so, once
// while it lasts.
func TestAgentLogsHostWithoutNICs(t *testing.T) {
	const warning = "no instance or network interface is bound to this host"
	for _, tc := range []struct {
		name  string
		hosts []string // the hosts i-1 is bound to, one revision each
		want  int
	}{
		{"bound", []string{host, host}, 0},
		{"bound elsewhere", []string{"h2", "h2"}, 1},
		{"unbound, bound, unbound", []string{"h2", host, "h2"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, log := runLogged(t, nil)
				for i, h := range tc.hosts {
					groups, ins := records(80)
					ins = ins[:1] // i-1 only
					ins[0].Host = h
					rev := int64(5 + i)
					if i == 0 {
						e.expect(t, "snapshot").answer(reply{snap: snapshotOf(rev, groups, ins)})
					} else {
						e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: rev, Instances: ins}}})
					}
					e.waitApplied(t, rev)
				}
				e.expect(t, "watch")
				if n := strings.Count(log.String(), warning); n != tc.want {
					t.Errorf("the log says %q %d times, want %d:\n%s", warning, n, tc.want, log.String())
				}
			})
		})
	}
}
