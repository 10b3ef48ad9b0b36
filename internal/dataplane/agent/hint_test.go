package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/tlscert"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
)

// TestPlainHTTPToHTTPSHint: an agent given a bare HOST:PORT of a server
// with a certificate (which resets plain HTTP) logs how to name it; one
// given https:// of a server that is down has no such hint.
func TestPlainHTTPToHTTPSHint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const opID, opSecret = "LTAIagenthintop00000", "agent-hint-op-secret"
	tlsCfg, _, _, err := tlscert.SelfSigned(t.TempDir(), "127.0.0.1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		OperatorKeyID: opID, OperatorKeySecret: opSecret, Log: quiet, TLS: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	const hint = "give --server https://HOST:PORT"
	for _, tc := range []struct {
		server string
		hint   bool
	}{
		{srv.Addr, true},
		{"https://127.0.0.1:1", false}, // refused: nothing listens
	} {
		var logs logbuf.Buffer
		actx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			Run(actx, Config{Server: tc.server, AccessKeyID: opID, Secret: opSecret, Host: host, NFT: opts,
				Log:       slog.New(slog.NewTextHandler(&logs, nil)),
				OpenTable: func() (nft.Table, error) { return nft.NewFake(opts), nil }})
		}()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), "server unreachable") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		<-done
		out := logs.String()
		if !strings.Contains(out, "server unreachable") {
			t.Fatalf("--server %s: no warning in 10s:\n%s", tc.server, out)
		}
		if got := strings.Contains(out, hint); got != tc.hint {
			t.Errorf("--server %s: the hint is there: %v, want %v:\n%s", tc.server, got, tc.hint, out)
		}
	}
}
