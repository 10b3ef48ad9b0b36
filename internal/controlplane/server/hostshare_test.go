package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
)

// etcdProposals is the count of raft proposals the etcd member at
// clientURL committed (each write request, a transaction however many
// keys it writes, is one), from its /metrics.
func etcdProposals(t *testing.T, clientURL string) int64 {
	t.Helper()
	resp, err := http.Get(clientURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "etcd_server_proposals_committed_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int64(f)
		}
	}
	t.Fatalf("no etcd_server_proposals_committed_total in the /metrics of %s (%v)", clientURL, sc.Err())
	return 0
}

// TestHostAppliedBatched: two servers on one etcd. The applied revisions
// of many hosts, reported to one server within a second, reach the other
// through one etcd write (a write per host per report was a thousand a
// second at a thousand hosts); a host deregistered is deleted, and a
// report of it queued before is not written after.
func TestHostAppliedBatched(t *testing.T) {
	const hosts = 50
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const opID, opSecret = "LTAIhostsbatchedop00", "hosts-batched-op-secret"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	etcdURL := etcdtest.Embedded(t)
	open := func() *Server {
		srv, err := Open(ctx, Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), Etcd: []string{etcdURL},
			OperatorKeyID: opID, OperatorKeySecret: opSecret, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- srv.Serve(sctx) }()
		t.Cleanup(func() { stop(); <-served })
		return srv
	}
	a, b := open(), open()
	op, err := a.Ops.KeyCaller(ctx, opID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Ops.RegisterHost(ctx, op, "h-gone"); err != nil {
		t.Fatal(err)
	}
	rev, err := a.Store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	report := func(host string, rev int64) {
		t.Helper()
		if err := a.Ops.ReportHostStatus(ctx, service.ReportInput{Caller: op, Progress: service.HostProgress{HostName: host, AppliedRevision: rev}}); err != nil {
			t.Fatalf("report of %s: %v", host, err)
		}
	}
	// shared waits until b holds each host at rev.
	shared := func(rev int64, hosts ...string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for _, h := range hosts {
			for b.Ops.AppliedRevision(h) != rev {
				if time.Now().After(deadline) {
					t.Fatalf("the other server holds %s at %d, want %d", h, b.Ops.AppliedRevision(h), rev)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	var names []string
	for i := range hosts {
		names = append(names, fmt.Sprintf("h%02d", i))
	}

	for _, step := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{fmt.Sprintf("%d hosts report", hosts), func(t *testing.T) {
			before := etcdProposals(t, etcdURL)
			for _, h := range names {
				report(h, rev)
			}
			shared(rev, names...)
			// Hardly anything else writes meanwhile (no API request: no
			// nonce); one write a host is what the batch ends.
			n := etcdProposals(t, etcdURL) - before
			if n > 3 {
				t.Errorf("%d hosts' reports cost %d etcd writes, want one", hosts, n)
			}
			t.Logf("%d hosts' reports cost %d etcd writes", hosts, n)
		}},
		{"a deregistered host is deleted", func(t *testing.T) {
			report("h-gone", rev)
			shared(rev, "h-gone")
			if err := b.Ops.DeregisterHost(ctx, op, "h-gone"); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(15 * time.Second)
			for a.Ops.AppliedRevision("h-gone") != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the first server holds h-gone at %d after its deregistration through the other", a.Ops.AppliedRevision("h-gone"))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}},
		{"a report queued before the deregistration is not written", func(t *testing.T) {
			if _, err := a.Ops.RegisterHost(ctx, op, "h-gone"); err != nil {
				t.Fatal(err)
			}
			now, err := a.Store.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			report("h-gone", now)
			if err := a.Ops.DeregisterHost(ctx, op, "h-gone"); err != nil {
				t.Fatal(err)
			}
			// A report after it: once b holds it, a batch that held h-gone
			// came before it (the revisions are watched in order).
			report(names[0], now)
			shared(now, names[0])
			if got := b.Ops.AppliedRevision("h-gone"); got != 0 {
				t.Errorf("the other server holds h-gone at %d: a report queued before its deregistration was written after it", got)
			}
		}},
		{"a report queued before a deregistration through the other server is not written", func(t *testing.T) {
			key, err := a.Ops.RegisterHost(ctx, op, "h-gone")
			if err != nil {
				t.Fatal(err)
			}
			now, err := a.Store.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			hc, err := a.Ops.KeyCaller(ctx, key.ID) // its agent's key reports
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Ops.ReportHostStatus(ctx, service.ReportInput{Caller: hc, Progress: service.HostProgress{HostName: "h-gone", AppliedRevision: now}}); err != nil {
				t.Fatal(err) // queued on a
			}
			if err := b.Ops.DeregisterHost(ctx, op, "h-gone"); err != nil {
				t.Fatal(err)
			}
			// Once a refuses the host's key it has the deregistration; a
			// report after a's next batch, once b holds it, comes after it.
			deadline := time.Now().Add(15 * time.Second)
			for {
				if _, err := a.Ops.KeyCaller(ctx, key.ID); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the first server still takes h-gone's key after its deregistration through the other")
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(2 * service.ShareHostsEvery) // a's next batch
			report(names[0], now+1)
			shared(now+1, names[0])
			for _, srv := range []*Server{a, b} {
				if got := srv.Ops.AppliedRevision("h-gone"); got != 0 {
					t.Errorf("a server holds h-gone at %d: a report queued before its deregistration through the other server was written after it", got)
				}
			}
		}},
	} {
		if !t.Run(step.name, step.run) {
			break
		}
	}
}
