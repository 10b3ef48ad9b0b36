package apitest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/dataplane/agent"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// strictHosts are host limits a test can reach: three snapshots per host,
// none more for the test's length, and two watches open at once.
func strictHosts(c *server.Config) {
	c.HostLimits = service.HostLimits{SnapshotRate: 0.0001, SnapshotBurst: 3, MaxWatches: 2}
}

// isThrottled reports whether err is the ECS throttling refusal
// (Throttling.User, HTTP 400); another error fails the test.
func isThrottled(t *testing.T, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	if e, ok := errors.AsType[*apiclient.Error](err); ok && e.Code == "Throttling.User" && e.Status == 400 {
		return true
	}
	t.Fatalf("%v, want success or Throttling.User with HTTP 400", err)
	return false
}

// snapshotRevision is a host's snapshot's revision.
func snapshotRevision(t *testing.T, c *apiclient.Client, host string) int64 {
	t.Helper()
	var snap struct{ Revision int64 }
	if err := c.Call(context.Background(), "PalisadeGetSnapshot", map[string]string{"HostName": host}, &snap, 0); err != nil {
		t.Fatalf("%s's snapshot: %v", host, err)
	}
	return snap.Revision
}

// TestHostSnapshotsBounded: a host key's snapshots, and its watches from
// a revision it was not last answered at (each makes the server compute
// its scope), are limited per host: a flooding host is throttled with
// Throttling.User (and counted in /metrics) while another host's calls go
// on, and its own watches from its last answer, which cost no
// computation, go on too, and so do the operator's. They were unlimited: a hostile host could make
// the server compute its scope without end.
func TestHostSnapshotsBounded(t *testing.T) {
	srv, good, bad := twoHostTenant(t, strictHosts)
	ctx := context.Background()
	rev := snapshotRevision(t, bad, "bad") // the first of bad's three
	snapshot := func(c *apiclient.Client, host string) func() error {
		return func() error { return c.Call(ctx, "PalisadeGetSnapshot", map[string]string{"HostName": host}, nil, 0) }
	}
	poll := func(c *apiclient.Client, host string, after int64) func() error {
		return func() error {
			return c.Call(ctx, "PalisadeWatchChanges", map[string]string{"HostName": host, "AfterRevision": strconv.FormatInt(after, 10), "WaitSeconds": "0"}, nil, 0)
		}
	}
	for _, tc := range []struct {
		name          string
		call          func() error
		calls, refuse int
	}{
		{"a flooding host's snapshots", snapshot(bad, "bad"), 6, 4},
		{"its polls from a revision it was not answered at", poll(bad, "bad", 1), 3, 3},
		{"its polls from its last answer", poll(bad, "bad", rev), 6, 0},
		{"another host's snapshots", snapshot(good, "good"), 3, 0},
		{"another host's poll from elsewhere, its own burst spent", poll(good, "good", 1), 1, 1},
		{"the operator's snapshots", snapshot(srv.Operator(t), "bad"), 6, 0},
		{"the operator's polls from elsewhere", poll(srv.Operator(t), "bad", 1), 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			throttled := 0
			for range tc.calls {
				if isThrottled(t, tc.call()) {
					throttled++
				}
			}
			if throttled != tc.refuse {
				t.Errorf("%d of %d calls throttled, want %d", throttled, tc.calls, tc.refuse)
			}
		})
	}
	resp, err := http.Get("http://" + srv.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`palisade_api_throttled_requests_total{action="PalisadeGetSnapshot"} 4`, `palisade_api_throttled_requests_total{action="PalisadeWatchChanges"} 4`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestHostWatchesBounded: a host key holds at most its number of long
// polls and streams open at once (two here): a third stream, or a long
// poll, is throttled, another host's go on, a host's polls one after
// another never are, and a stream ended makes room. They were unbounded:
// a hostile host could hold any number, each woken by every change.
func TestHostWatchesBounded(t *testing.T) {
	_, good, bad := twoHostTenant(t, strictHosts)
	ctx := context.Background()
	rev := snapshotRevision(t, bad, "bad")
	revGood := snapshotRevision(t, good, "good")
	stream := func(c *apiclient.Client, host string, after int64) (func(), error) {
		sctx, cancel := context.WithCancel(ctx)
		body, err := c.Stream(sctx, "PalisadeWatchStream", map[string]string{"HostName": host, "AfterRevision": strconv.FormatInt(after, 10)})
		if err != nil {
			cancel()
			return nil, err
		}
		var once sync.Once
		end := func() { once.Do(func() { cancel(); body.Close() }) }
		t.Cleanup(end)
		return end, nil
	}
	var held []func()
	for i := range 2 {
		end, err := stream(bad, "bad", rev)
		if err != nil {
			t.Fatalf("bad's stream %d: %v", i, err)
		}
		held = append(held, end)
	}
	pollAt := func(c *apiclient.Client, host string, after int64) error {
		return c.Call(ctx, "PalisadeWatchChanges", map[string]string{"HostName": host, "AfterRevision": strconv.FormatInt(after, 10), "WaitSeconds": "0"}, nil, 0)
	}
	for _, tc := range []struct {
		name      string
		call      func() error
		throttled bool
	}{
		{"a third stream", func() error { _, err := stream(bad, "bad", rev); return err }, true},
		{"a long poll beside two streams", func() error { return pollAt(bad, "bad", rev) }, true},
		{"another host's stream", func() error { _, err := stream(good, "good", revGood); return err }, false},
		{"another host's poll", func() error { return pollAt(good, "good", revGood) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isThrottled(t, tc.call()); got != tc.throttled {
				t.Errorf("throttled: %v, want %v", got, tc.throttled)
			}
		})
	}
	// The server notices an ended stream when its connection closes: room
	// comes back, soon but not at once.
	held[0]()
	held[1]()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err = pollAt(bad, "bad", rev); err == nil {
			break
		}
		isThrottled(t, err)
	}
	if err != nil {
		t.Fatalf("a poll after bad's streams ended: %v", err)
	}
	for i := range 6 { // one after another: each ends before the next
		if err := pollAt(bad, "bad", rev); err != nil {
			t.Fatalf("bad's poll %d, one after another: %v", i, err)
		}
	}
}

// TestRestartedAgentGetsSnapshot: while another host floods its
// snapshots (throttled), an agent (the real one, on a fake kernel) that
// is restarted gets its snapshot and applies it at once, each time: its
// snapshots at its starts fit its host's burst, and its stream from its
// last answer takes nothing from it.
func TestRestartedAgentGetsSnapshot(t *testing.T) {
	srv, _, bad := twoHostTenant(t, strictHosts)
	ctx := context.Background()
	flooding, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(flooding)
		for {
			select {
			case <-stop:
				return
			default:
			}
			bad.Call(ctx, "PalisadeGetSnapshot", map[string]string{"HostName": "bad"}, nil, 0)
		}
	}()
	defer func() { close(stop); <-flooding }()
	id, secret := srv.RegisterHost(t, "good") // its agent's key, anew (twoHostTenant keeps the first)
	for start := range 3 {                    // the host's burst: a start and two restarts
		kernel := nft.NewFake(nft.Options{}) // a stopped agent closes its table
		actx, cancel := context.WithCancel(ctx)
		applied := make(chan int64, 64)
		done := make(chan error, 1)
		go func() {
			done <- agent.Run(actx, agent.Config{Server: srv.Addr, AccessKeyID: id, Secret: secret, Host: "good", CheckEvery: -1, Log: testenv.Quiet(),
				OpenTable: func() (nft.Table, error) { return kernel, nil },
				OnApplied: func(rev int64, _ nft.Stats) { applied <- rev }})
		}()
		select {
		case <-applied:
		case err := <-done:
			t.Fatalf("start %d: the agent ended: %v", start, err)
		case <-time.After(time.Minute):
			t.Fatalf("start %d: the agent applied nothing in a minute", start)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
	}
}

// TestHostReportsBounded: a report with counters filters them by the
// host's scope, which it computed afresh whenever the revision had moved
// since the one kept, uncharged: a host key could have its scope computed
// at the reports' rate (100 a second), past its budget. A report at the
// revision its scope is kept at costs nothing.
func TestHostReportsBounded(t *testing.T) {
	srv, _, bad := twoHostTenant(t, strictHosts)
	ctx := context.Background()
	tenant, err := srv.Ops.CallerOf(ctx, srv.KeyID, testenv.Region, true)
	if err != nil {
		t.Fatal(err)
	}
	applied := int64(1)
	report := func() error {
		return bad.Call(ctx, "PalisadeReportHostStatus", map[string]string{"HostName": "bad", "AppliedRevision": strconv.FormatInt(applied, 10),
			"Counters": `{"sg-web/sgr-http": {"Packets": 1, "Bytes": 60}}`}, nil, 0)
	}
	rev := snapshotRevision(t, bad, "bad") // one of its three
	throttled := 0
	for i := range 4 {
		// Another write moves the revision past the scope kept.
		if _, err := srv.Ops.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: tenant, Name: "g" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
		applied = rev + int64(i) + 1
		if isThrottled(t, report()) {
			throttled++
		}
		// Throttled or not, the report is the host's heartbeat.
		if got := srv.Ops.AppliedRevision("bad"); got != applied {
			t.Errorf("report %d: host's applied revision %d, want the %d it reported", i, got, applied)
		}
	}
	if throttled != 2 {
		t.Errorf("%d of 4 reports after a write throttled, want 2 (the burst of 3, one spent on the snapshot)", throttled)
	}
	// Its poll keeps its scope at the revision it answers: a report there
	// costs nothing, its budget spent or not.
	var ch struct{ Revision int64 }
	if err := bad.Call(ctx, "PalisadeWatchChanges", map[string]string{"HostName": "bad", "AfterRevision": strconv.FormatInt(rev, 10), "WaitSeconds": "0"}, &ch, 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if isThrottled(t, report()) {
			t.Fatalf("a report at the revision its scope is kept at was throttled (poll answered at %d)", ch.Revision)
		}
	}
}
