package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
)

// members runs an etcd cluster of n members in the test's process, on
// loopback: stop and start one by its index (started again, it keeps its
// data and rejoins).
type members struct {
	t    *testing.T
	cfgs []*embed.Config
	run  []*embed.Etcd
}

func startMembers(t *testing.T, n int) *members {
	m := &members{t: t, run: make([]*embed.Etcd, n)}
	var initial []string
	for i := range n {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = filepath.Join(t.TempDir(), "etcd")
		cfg.Logger, cfg.LogLevel = "zap", "fatal"
		cfg.TickMs, cfg.ElectionMs = 50, 500 // a quick election
		cu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", etcdtest.FreePort(t))}
		pu := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", etcdtest.FreePort(t))}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		initial = append(initial, cfg.Name+"="+pu.String())
		m.cfgs = append(m.cfgs, cfg)
	}
	for _, cfg := range m.cfgs {
		cfg.InitialCluster = strings.Join(initial, ",")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { m.start(i) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for i := range n {
			m.stop(i)
		}
	})
	return m
}

func (m *members) start(i int) {
	e, err := embed.StartEtcd(m.cfgs[i])
	if err != nil {
		m.t.Errorf("start etcd member %d: %v", i, err)
		return
	}
	m.run[i] = e
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		m.t.Errorf("etcd member %d not ready after 30s", i)
	}
}

func (m *members) stop(i int) {
	if m.run[i] != nil {
		m.run[i].Close()
		m.run[i] = nil
	}
}

func (m *members) clientURL(i int) string { return m.cfgs[i].ListenClientUrls[0].String() }

// healthLog keeps the messages logged.
type healthLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *healthLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *healthLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *healthLog) WithGroup(string) slog.Handler            { return l }
func (l *healthLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

// count is how many messages begin with prefix.
func (l *healthLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func (l *healthLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.msgs, "\n")
}

// TestEtcdLeaderBackLogged: three members; two stop, the cluster loses
// its leader and a check logs it; one starts again. The leader's return
// is in the log by the time the first write that needs it returns (a
// commit tells the health watch, before the next check, which came up to
// a period later: the log said "no leader" for seconds while writes
// succeeded), once, and the next check logs nothing more.
func TestEtcdLeaderBackLogged(t *testing.T) {
	const (
		lost = "etcd has no leader"
		back = "etcd has a leader again"
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := startMembers(t, 3)
	st, err := etcd.Dial(ctx, []string{m.clientURL(0)}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := &healthLog{}
	w := newEtcdHealth(st, slog.New(log))
	put := func(id string) error {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := st.Update(wctx, func(tx store.Tx) error {
			return tx.Put(store.Record{Kind: "probe", ID: id, Data: []byte(`{}`)})
		})
		return err
	}

	for _, step := range []struct {
		name       string
		do         func(t *testing.T)
		lost, back int // the times each is logged by the end of the step
	}{
		{"all three run", func(t *testing.T) {
			w.check(ctx)
			if err := put("a"); err != nil {
				t.Fatal(err)
			}
		}, 0, 0},
		{"two stop", func(t *testing.T) {
			m.stop(1)
			m.stop(2)
			for deadline := time.Now().Add(30 * time.Second); w.metrics().HasLeader; {
				if time.Now().After(deadline) {
					t.Fatalf("the leader not lost 30 s after two of three members stopped")
				}
				w.check(ctx)
			}
		}, 1, 0},
		{"one starts again: the first write", func(t *testing.T) {
			m.start(1)
			for i := 0; ; i++ {
				err := put(fmt.Sprintf("b%d", i))
				if err == nil {
					break
				}
				if i == 10 {
					t.Fatalf("no write succeeded after the member started again: %v", err)
				}
			}
		}, 1, 1},
		{"the next check", func(t *testing.T) { w.check(ctx) }, 1, 1},
	} {
		step.do(t)
		if t.Failed() {
			t.FailNow()
		}
		if n, b := log.count(lost), log.count(back); n != step.lost || b != step.back {
			t.Fatalf("%s: the log says %q %d times and %q %d times, want %d and %d; the log:\n%s",
				step.name, lost, n, back, b, step.lost, step.back, log)
		}
		if step.back == step.lost && !w.metrics().HasLeader {
			t.Errorf("%s: /metrics says no leader", step.name)
		}
	}
}
