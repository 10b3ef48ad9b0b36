package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/testkit/signedpost"
)

// hungPeers is a service.PeerHits whose first call hangs until released
// (a registered peer that does not answer); the others answer at once.
type hungPeers struct {
	once    sync.Once
	hung    chan struct{} // closed when the first call hangs
	release chan struct{}
}

func (h *hungPeers) FlowHitParts(ctx context.Context, _ service.HitsFilter) ([]service.HitsPart, []string) {
	first := false
	h.once.Do(func() { first = true })
	if first {
		close(h.hung)
		<-h.release
		return nil, []string{"s2"}
	}
	return nil, nil
}

// TestAnalysisWaitsForPeersUnadmitted: an audit waiting for a hung peer's
// rule hits holds no analysis slot: with one slot per account and no queue,
// another audit of the account is answered meanwhile, not refused.
func TestAnalysisWaitsForPeersUnadmitted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Open(ctx, Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Analysis: analyze.Options{MaxPerAccount: 1, Queue: -1}})
	if err != nil {
		t.Fatal(err)
	}
	peers := &hungPeers{hung: make(chan struct{}), release: make(chan struct{})}
	s.Ops.Service.PeerHits = peers
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	audit := func() error {
		_, err := signedpost.Post(context.Background(), http.DefaultClient, s.Addr, s.Key.ID, s.Key.Secret, map[string]string{"Action": "PalisadeAudit"})
		return err
	}
	first := make(chan error, 1)
	go func() { first <- audit() }()
	<-peers.hung
	err = audit()
	close(peers.release)
	if err != nil {
		t.Errorf("an audit while another waits for a peer: %v", err)
	}
	if err := <-first; err != nil {
		t.Errorf("the audit that waited for a peer: %v", err)
	}
}
