package rpc

import (
	"context"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLowPriorityBounded: a burst of low-priority calls never has more
// than maxLowWorkers running (each on a worker thread of its own) at once;
// the others wait for a worker and are all answered.
func TestLowPriorityBounded(t *testing.T) {
	s := testServer(t, nil)
	s.Nice = 5
	s.LowPriority = func(action string) bool { return action == "Heavy" }
	bound := maxLowWorkers()
	var running, peak atomic.Int32
	release := make(chan struct{})
	s.Routes[RouteKey{version, "Heavy"}] = func(ctx context.Context, req *Request) (any, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		return &niceResponse{}, nil
	}
	calls := 3 * bound
	codes := make([]int, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("GET", "/?"+signedV1("GET", "Heavy", "testsecret", nil).Encode(), nil))
			codes[i] = w.Code
		})
	}
	// Wait until the workers are all busy, then give the rest a moment
	// to (wrongly) start too.
	for deadline := time.Now().Add(10 * time.Second); running.Load() < int32(bound) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(release)
	wg.Wait()
	if p := peak.Load(); p > int32(bound) {
		t.Errorf("%d low-priority calls ran at once, want at most %d", p, bound)
	}
	for i, c := range codes {
		if c != 200 {
			t.Errorf("call %d: %d, want 200", i, c)
		}
	}
}
