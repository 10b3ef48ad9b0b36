package console

import (
	"net/http"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// failures slows down guessing of secrets: an address that fails to sign
// in maxFailures times within failureWindow is refused until the window
// ends. The table is bounded; when full it starts over (an attacker who
// fills it gains at most one more window of guesses per address).
type failures struct {
	mu  sync.Mutex
	m   map[string]*failCount
	now func() time.Time
}

type failCount struct {
	n     int
	start time.Time
}

const (
	maxFailures   = 20
	failureWindow = time.Minute
	maxFailAddrs  = 10000
)

func newFailures(now func() time.Time) *failures {
	if now == nil {
		now = time.Now
	}
	return &failures{m: map[string]*failCount{}, now: now}
}

// clientAddr is the client whose failures count together (an IPv6 /64
// as one: it could otherwise guess from a fresh address of it each time).
func clientAddr(r *http.Request) string { return rpc.ClientShare(r.RemoteAddr) }

// blocked reports whether an address has failed too often lately.
func (f *failures) blocked(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.m[addr]
	return c != nil && f.now().Sub(c.start) < failureWindow && c.n >= maxFailures
}

func (f *failures) fail(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	c := f.m[addr]
	if c == nil || now.Sub(c.start) >= failureWindow {
		if c == nil && len(f.m) >= maxFailAddrs {
			clear(f.m)
		}
		c = &failCount{start: now}
		f.m[addr] = c
	}
	c.n++
}
