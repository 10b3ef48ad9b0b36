package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
)

// TestRefusedKeyIsNotUnreachable: a server that answers and refuses the
// agent's key (one it never made, as after "palisade host register" made
// a new one) is logged as a refusal with what to do, not as "server
// unreachable", which it was; a server that does not answer still is.
func TestRefusedKeyIsNotUnreachable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const opID, opSecret = "LTAIagentrefusedop00", "agent-refused-op-secret"
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		OperatorKeyID: opID, OperatorKeySecret: opSecret, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	for _, tc := range []struct {
		name, server, keyID, want, wantNot string
	}{
		{"unknown key", srv.Addr, "LTAInosuchkey0000000", "the server refuses the agent's requests", "server unreachable"},
		{"wrong secret", srv.Addr, opID, "palisade host register NAME", "server unreachable"},
		{"nothing listens", "127.0.0.1:1", opID, "server unreachable", "the server refuses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logbuf.Buffer
			actx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				Run(actx, Config{Server: tc.server, AccessKeyID: tc.keyID, Secret: "not-" + opSecret, Host: host, NFT: opts,
					Log:       slog.New(slog.NewTextHandler(&logs, nil)),
					OpenTable: func() (nft.Table, error) { return nft.NewFake(opts), nil }})
			}()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), tc.want) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			<-done
			out := logs.String()
			if !strings.Contains(out, tc.want) || strings.Contains(out, tc.wantNot) {
				t.Errorf("log holds %q: %v, %q: %v; want it, and not the other:\n%s", tc.want, strings.Contains(out, tc.want), tc.wantNot, strings.Contains(out, tc.wantNot), out)
			}
		})
	}
}
