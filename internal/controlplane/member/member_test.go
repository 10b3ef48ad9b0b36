package member

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
)

func freeURL(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("http://127.0.0.1:%d", etcdtest.FreePort(t))
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url           string
		secure, allow bool
		want          string // "" = accepted; else a part of the error
	}{
		{"http://127.0.0.1:2379", false, false, ""},
		{"http://localhost:2379", false, false, ""},
		{"http://[::1]:2379", false, false, ""},
		{"http://10.0.0.1:2379", false, false, "not on loopback"},
		{"http://10.0.0.1:2379", false, true, ""},
		{"https://10.0.0.1:2379", true, false, ""},
		{"https://127.0.0.1:2379", false, false, "needs the member's certificate"},
		{"http://127.0.0.1:2379", true, false, "give https URLs"},
		{"ftp://127.0.0.1:2379", false, false, "want http(s)://HOST:PORT"},
		{"127.0.0.1:2379", false, false, "want http(s)://HOST:PORT"},
		{"http://127.0.0.1", false, false, "want http(s)://HOST:PORT"},
		{"http://127.0.0.1:2379/x", false, false, "want http(s)://HOST:PORT"},
	}
	for _, tt := range tests {
		_, err := parseURL("client", tt.url, tt.secure, tt.allow)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s (TLS %v, allow %v): %v", tt.url, tt.secure, tt.allow, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s (TLS %v, allow %v): error %v, want one saying %q", tt.url, tt.secure, tt.allow, err, tt.want)
		}
	}
}

func start(t *testing.T, dir, name, join string) (*Member, Config, error) {
	t.Helper()
	cfg := Config{Dir: dir, Name: name, ClientURL: freeURL(t), PeerURL: freeURL(t), Join: join, ReadyTimeout: 30 * time.Second}
	m, err := Start(context.Background(), cfg)
	if err == nil {
		t.Cleanup(m.Close)
	}
	return m, cfg, err
}

func members(t *testing.T, url string) (voters, learners []string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range resp.Members {
		name := m.Name
		if name == "" {
			name = fmt.Sprintf("%x (not started)", m.ID)
		}
		if m.IsLearner {
			learners = append(learners, name)
		} else {
			voters = append(voters, name)
		}
	}
	return voters, learners
}

// TestInitJoinRestart: a member starts a cluster, a second joins it and
// ends as a voting member; a join whose member cannot start (its peer
// port is taken) leaves the cluster as it was; a stopped member restarts
// from its data.
func TestInitJoinRestart(t *testing.T) {
	a, _, err := start(t, filepath.Join(t.TempDir(), "a"), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	if a.Joined || a.Restarted || !a.IsLeader() {
		t.Fatalf("first member: joined %v, restarted %v, leader %v; want a new cluster it leads", a.Joined, a.Restarted, a.IsLeader())
	}

	// A join that fails after adding its member removes it again:
	// otherwise the cluster would count a member that never runs.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bad := Config{Dir: filepath.Join(t.TempDir(), "bad"), Name: "bad", ClientURL: freeURL(t), PeerURL: "http://" + busy.Addr().String(),
		Join: a.ClientURL, ReadyTimeout: 10 * time.Second}
	if m, err := Start(context.Background(), bad); err == nil {
		m.Close()
		t.Fatal("a member whose peer port is taken started")
	}
	if v, l := members(t, a.ClientURL); len(v) != 1 || len(l) != 0 {
		t.Fatalf("after a failed join: voters %v, learners %v; want only a", v, l)
	}

	bdir := filepath.Join(t.TempDir(), "b")
	b, bcfg, err := start(t, bdir, "b", a.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Joined {
		t.Errorf("second member: joined %v", b.Joined)
	}
	if v, l := members(t, a.ClientURL); len(v) != 2 || len(l) != 0 {
		t.Fatalf("after the join: voters %v, learners %v; want a and b voting", v, l)
	}

	b.Close()
	bcfg.Join = "http://127.0.0.1:1" // ignored: the data says which cluster
	b2, err := Start(context.Background(), bcfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer b2.Close()
	if !b2.Restarted || b2.ID != b.ID {
		t.Errorf("restart: restarted %v, ID %x (was %x)", b2.Restarted, b2.ID, b.ID)
	}
	if v, _ := members(t, b2.ClientURL); len(v) != 2 {
		t.Errorf("after the restart: voters %v", v)
	}
}

// TestRestartWaitsForQuorum: after the whole cluster stopped, a member
// restarted alone waits for its quorum (however long its ReadyTimeout),
// says so, and stops when told to (the server's SIGTERM); once another
// member restarts, it serves. Before, it gave up after ReadyTimeout and
// then hung for good in etcd's Close, which waits for a member that
// never became ready.
func TestRestartWaitsForQuorum(t *testing.T) {
	a, acfg, err := start(t, filepath.Join(t.TempDir(), "a"), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	b, bcfg, err := start(t, filepath.Join(t.TempDir(), "b"), "b", a.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()

	type result struct {
		m   *Member
		err error
	}
	restart := func(ctx context.Context, cfg Config) (waiting <-chan string, done <-chan result) {
		w, d := make(chan string, 1), make(chan result, 1)
		cfg.ReadyTimeout = time.Second // not for a restart's quorum
		cfg.Waiting = func(msg string) { w <- msg }
		go func() {
			m, err := Start(ctx, cfg)
			d <- result{m, err}
		}()
		return w, d
	}
	// hang bounds what must not hang; it is no measure of speed.
	const hang = 60 * time.Second

	for _, tt := range []struct {
		name string
		stop bool // stop the waiting member, else restart the other
	}{
		{"stopped while waiting", true},
		{"the other member restarts", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			waiting, done := restart(ctx, acfg)
			select {
			case msg := <-waiting:
				if !strings.Contains(msg, "start the other servers") {
					t.Errorf("waiting message %q does not say what to do", msg)
				}
			case r := <-done:
				if r.err == nil {
					r.m.Close()
				}
				t.Fatalf("a member restarted alone returned (%v) instead of waiting for its quorum", r.err)
			case <-time.After(hang):
				t.Fatal("no word from a member restarted alone")
			}
			if tt.stop {
				cancel()
			} else {
				b2, err := Start(context.Background(), bcfg)
				if err != nil {
					t.Fatalf("restart of the other member: %v", err)
				}
				defer b2.Close()
			}
			select {
			case r := <-done:
				switch {
				case tt.stop && r.err == nil:
					r.m.Close()
					t.Fatal("a member stopped while waiting started")
				case !tt.stop && r.err != nil:
					t.Fatalf("with its quorum back: %v", r.err)
				case !tt.stop:
					defer r.m.Close()
					if !r.m.Restarted {
						t.Error("not a restart")
					}
				}
			case <-time.After(hang):
				t.Fatal("the restarted member's Start did not return")
			}
		})
	}
}

// TestJoinNobody: a --join URL where no member answers fails the start
// saying what to check (it said only "context deadline exceeded").
func TestJoinNobody(t *testing.T) {
	cfg := Config{Dir: filepath.Join(t.TempDir(), "j"), ClientURL: freeURL(t), PeerURL: freeURL(t), Join: freeURL(t), ReadyTimeout: time.Second}
	m, err := Start(context.Background(), cfg)
	if err == nil {
		m.Close()
		t.Fatal("joined a cluster that is not there")
	}
	for _, want := range []string{cfg.Join, "--etcd-client-url", "running"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestWrongDataDir: a server restarted on a data dir that holds another
// member (another cluster's, or one reached at another peer URL: a dir
// copied or mistyped) is refused with what the dir holds and what to do,
// instead of serving that member's cluster as if it were the one --join
// names; the dir's member still restarts with its own flags.
func TestWrongDataDir(t *testing.T) {
	a, _, err := start(t, filepath.Join(t.TempDir(), "a"), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	xdir := filepath.Join(t.TempDir(), "x")
	x, xcfg, err := start(t, xdir, "x", "") // a cluster of its own
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	for _, tt := range []struct {
		name string
		cfg  Config
		want string // a part of the error
	}{
		{"another cluster's member, told to join", Config{Dir: xdir, Name: "x", ClientURL: freeURL(t), PeerURL: xcfg.PeerURL, Join: a.ClientURL},
			"is a member of another cluster"},
		{"a member reached at another peer URL", Config{Dir: xdir, Name: "c", ClientURL: freeURL(t), PeerURL: freeURL(t)},
			"not at --etcd-peer-url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.ReadyTimeout = 30 * time.Second
			m, err := Start(context.Background(), tt.cfg)
			if err == nil {
				m.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), xdir) {
				t.Errorf("error %q, want one naming %s and saying %q", err, xdir, tt.want)
			}
		})
	}
	x2, err := Start(context.Background(), xcfg)
	if err != nil {
		t.Fatalf("the dir's own member, restarted after the refusals: %v", err)
	}
	x2.Close()
}

// threeStopOne starts members a, b and c, and stops b: the two left keep
// the quorum a member list or a removal needs. It returns a, b and b's
// configuration.
func threeStopOne(t *testing.T) (a, b *Member, bcfg Config) {
	t.Helper()
	a, _, err := start(t, filepath.Join(t.TempDir(), "a"), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	b, bcfg, err = start(t, filepath.Join(t.TempDir(), "b"), "b", a.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := start(t, filepath.Join(t.TempDir(), "c"), "c", a.ClientURL); err != nil {
		t.Fatal(err)
	}
	b.Close()
	return a, b, bcfg
}

// TestLostDataDir: a member whose data dir is lost, started again with
// --join, is refused with the command that removes its old self (it said
// only "remove that member first"); done as it says, the join succeeds.
func TestLostDataDir(t *testing.T) {
	a, b, bcfg := threeStopOne(t)
	if err := os.RemoveAll(bcfg.Dir); err != nil {
		t.Fatal(err)
	}
	m, err := Start(context.Background(), bcfg)
	if err == nil {
		m.Close()
		t.Fatal("a member whose old self is still in the cluster joined again")
	}
	remove := fmt.Sprintf("etcdctl --endpoints %s member remove %x", a.ClientURL, b.ID)
	if !strings.Contains(err.Error(), remove) {
		t.Fatalf("error %q does not say %q", err, remove)
	}

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{a.ClientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.MemberRemove(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	b2, err := Start(context.Background(), bcfg)
	if err != nil {
		t.Fatalf("join after the member remove: %v", err)
	}
	defer b2.Close()
	if v, l := members(t, a.ClientURL); len(v) != 3 || len(l) != 0 {
		t.Errorf("after the join again: voters %v, learners %v; want a, b and c voting", v, l)
	}
}

// TestRestartRemoved: a member removed from its cluster (etcdctl member
// remove) and restarted from its data is stopped by etcd; the error says
// what to do (it said only "server is stopping", etcd's reason being in
// its log, off by default).
func TestRestartRemoved(t *testing.T) {
	a, b, bcfg := threeStopOne(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{a.ClientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.MemberRemove(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	bcfg.ReadyTimeout = 30 * time.Second
	m, err := Start(context.Background(), bcfg)
	if err == nil {
		m.Close()
		t.Fatal("a removed member restarted")
	}
	for _, want := range []string{"removed from its cluster", "delete " + bcfg.Dir, "--join"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
