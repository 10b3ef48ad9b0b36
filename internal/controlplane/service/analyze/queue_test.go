package analyze

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// TestAccountQueue: by default an account runs one analysis at a time;
// the next ones it asks for wait in its queue, in turn, and one past the
// queue is refused at once with Throttling.User, while another account's
// analysis is let in.
func TestAccountQueue(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	a := NewWith(n.svc, Options{MaxConcurrent: 4, CPU: 4, Queue: 1})
	if got := newGate(Options{MaxConcurrent: 8}).o; got.MaxPerAccount != 1 || got.Queue != DefaultQueue {
		t.Errorf("defaults: %d per account, queue %d; want 1 and %d", got.MaxPerAccount, got.Queue, DefaultQueue)
	}
	_, hold, err := a.enter(ctx, n.c)
	if err != nil {
		t.Fatal(err)
	}
	queued := make(chan error, 1)
	go func() {
		_, err := a.Reachability(ctx, ReachInput{Caller: n.c})
		queued <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		a.gate.mu.Lock()
		w := a.gate.waiting[n.c.Account]
		a.gate.mu.Unlock()
		if w == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second analysis of the account never queued")
		}
	}
	start := time.Now()
	if _, err := a.Reachability(ctx, ReachInput{Caller: n.c}); !ecserr.Is(err, "Throttling.User") {
		t.Fatalf("past the account's queue: %v, want Throttling.User", err)
	} else if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the refusal past the queue took %v, want it at once", d)
	}
	other := service.Caller{Account: "1000000000000002", Region: "cn-hangzhou"}
	if _, err := a.Reachability(ctx, ReachInput{Caller: other}); err != nil {
		t.Fatalf("another account's analysis while the first's queue is full: %v", err)
	}
	select {
	case err := <-queued:
		t.Fatalf("the queued analysis ran while the account's slot was held: %v", err)
	default:
	}
	hold()
	if err := <-queued; err != nil {
		t.Fatalf("the queued analysis, once the slot was freed: %v", err)
	}
	a.gate.mu.Lock()
	defer a.gate.mu.Unlock()
	if a.gate.total != 0 || len(a.gate.byAccount) != 0 || len(a.gate.waiting) != 0 {
		t.Errorf("gate holds %d analyses, %d accounts, %d queues after all ended", a.gate.total, len(a.gate.byAccount), len(a.gate.waiting))
	}
}

// TestAdmit: a request Admit let in runs its analysis on that admission
// (it is not counted twice, so it is not refused by its own slot), and
// holds the slot until done.
func TestAdmit(t *testing.T) {
	n := newNet(t)
	a := NewWith(n.svc, Options{MaxConcurrent: 2, Queue: -1, CPU: 1})
	ctx, done, err := a.Admit(context.Background(), n.c.Account)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reachability(ctx, ReachInput{Caller: n.c}); err != nil {
		t.Fatalf("the admitted analysis: %v", err)
	}
	if _, err := a.Reachability(context.Background(), ReachInput{Caller: n.c}); !ecserr.Is(err, "Throttling.User") {
		t.Fatalf("another analysis of the account before the admitted one's done: %v, want Throttling.User", err)
	}
	done()
	if _, err := a.Reachability(context.Background(), ReachInput{Caller: n.c}); err != nil {
		t.Fatalf("after done: %v", err)
	}
}

// TestQueueFIFO: a slot freed goes to the oldest waiter it may admit,
// before a new arrival (which is refused, and would otherwise take it
// first), and the next slot to the next waiter in turn; a waiter held by
// its own account's bound lets a later one of another account pass.
func TestQueueFIFO(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         Options
		holders   []string // running before
		waiters   []string // queued in this order
		wait      bool     // the waiters are marked Waiting (no queue bound)
		arrival   string   // comes as the first holder ends
		refusal   string   // its error code
		wantOrder []string // the waiters' admissions, as each ends in turn
	}{
		{"one account", Options{MaxConcurrent: 4, Queue: 2}, []string{"a"}, []string{"a", "a"}, false, "a", "Throttling.User", []string{"a", "a"}},
		{"total bound", Options{MaxConcurrent: 1, Queue: 2}, []string{"b"}, []string{"a", "c"}, false, "d", "Throttling", []string{"a", "c"}},
		{"Waiting callers", Options{MaxConcurrent: 1, Queue: -1}, []string{"b"}, []string{"a", "c", "a"}, true, "d", "Throttling", []string{"a", "c", "a"}},
		{"account bound passes a later one", Options{MaxConcurrent: 2, Queue: 2}, []string{"b", "a"}, []string{"a", "c"}, false, "d", "Throttling", []string{"c", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(tc.o)
			var holds []func()
			for _, acct := range tc.holders {
				done, err := g.enter(acct)
				if err != nil {
					t.Fatal(err)
				}
				holds = append(holds, done)
			}
			ctx := context.Background()
			if tc.wait {
				ctx = Waiting(ctx)
			}
			type admission struct {
				i    int
				done func()
			}
			admitted := make(chan admission, len(tc.waiters))
			for i, acct := range tc.waiters {
				go func() {
					done, err := g.enterCtx(ctx, acct)
					if err != nil {
						t.Errorf("waiter %d (%s): %v", i, acct, err)
						return
					}
					admitted <- admission{i, done}
				}()
				for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
					g.mu.Lock()
					n := g.queue.Len()
					g.mu.Unlock()
					if n == i+1 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("waiter %d never queued", i)
					}
				}
			}
			holds[0]()
			if done, err := g.enter(tc.arrival); !ecserr.Is(err, tc.refusal) {
				if err == nil {
					done()
				}
				t.Fatalf("a new arrival of %s as a slot was freed: %v, want %s (the slot is a waiter's)", tc.arrival, err, tc.refusal)
			}
			// One admission at a time, then one more analysis ends: the
			// holders left first, then the waiters admitted, in turn.
			running := holds[1:]
			var got []string
			for range tc.waiters {
				ad := <-admitted
				got = append(got, tc.waiters[ad.i])
				running = append(running, ad.done)
				running[0]()
				running = running[1:]
			}
			for _, done := range running {
				done()
			}
			if !slices.Equal(got, tc.wantOrder) {
				t.Errorf("admitted %v, want %v", got, tc.wantOrder)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.total != 0 || len(g.byAccount) != 0 || len(g.waiting) != 0 || g.queue.Len() != 0 {
				t.Errorf("gate holds %d analyses, %d accounts, %d queues, %d waiters after all ended", g.total, len(g.byAccount), len(g.waiting), g.queue.Len())
			}
		})
	}
}
