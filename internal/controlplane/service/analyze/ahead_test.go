package analyze

import (
	"context"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// TestAheadHasItsOwnSlot: while an account's work ahead of requests runs,
// an analysis the account asks for is not queued behind it; a second
// piece of work ahead waits for the first; both count against the server's
// bound.
func TestAheadHasItsOwnSlot(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	a := NewWith(n.svc, Options{MaxConcurrent: 2, MaxPerAccount: 1, Queue: -1, CPU: 4})
	_, hold, err := a.enter(Ahead(ctx), n.c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reachability(ctx, ReachInput{Caller: n.c}); err != nil {
		t.Fatalf("an analysis asked while work ahead runs: %v", err)
	}
	short, cancel := context.WithTimeout(Ahead(ctx), 50*time.Millisecond)
	defer cancel()
	if _, err := a.Reachability(short, ReachInput{Caller: n.c}); !ecserr.Is(err, "Throttling.User") {
		t.Fatalf("a second piece of work ahead while the first runs: %v, want it to wait (Throttling.User once its context ended)", err)
	}
	_, held, err := a.enter(ctx, n.c)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.enter(ctx, service.Caller{Account: "1000000000000003", Region: "cn-hangzhou"}); !ecserr.Is(err, "Throttling") {
		t.Fatalf("beyond the server's bound, with work ahead counted: %v, want Throttling", err)
	}
	held()
	hold()
	if a.gate.total != 0 || len(a.gate.byAccount) != 0 {
		t.Errorf("gate holds %d analyses, %d accounts after all ended", a.gate.total, len(a.gate.byAccount))
	}
}
