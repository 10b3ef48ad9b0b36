package service

import (
	"net/http"
	"sync"

	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// What one host key may make the server compute. A host's snapshot, and
// a watch from a revision at which its scope is not kept (hosts.go:
// scopeAt), compute the host's scope (hostscope.go) in time that grows
// with what the host enforces, and a snapshot's answer is encoded whole;
// a host key that asked without bound (a hostile host, or an agent broken
// in a loop) would take the server's CPU from every other host and
// tenant. The tenants' rate limits cannot serve (host keys all belong to
// the operator's account, and a host must never be starved by its
// tenants' traffic), so each host has limits of its own:
//
//   - a budget of scope computations, a token bucket per host: each
//     snapshot takes a token, and so does each long poll or stream that
//     starts from a revision the server did not last answer the host at.
//     An agent asks for a snapshot when it starts and when told to
//     resync, and watches from the revision of its last answer (its scope
//     kept there: no token), so the burst covers its restarts and its
//     reconnects to a restarted server many times over;
//   - at most MaxWatches long polls and streams open at once per host
//     (an agent holds one; each open one is woken by every change).
//
// Beyond them a request is refused with Throttling.User, which the agent
// retries after a pause, as any error. The operator's key is not limited.

// HostLimits bound each host key's scope computations and watches.
type HostLimits struct {
	// SnapshotRate is the sustained rate of a host's scope computations,
	// per second (a negative rate: no limit), and SnapshotBurst how many
	// may come at once.
	SnapshotRate  float64
	SnapshotBurst int
	// MaxWatches bounds a host's long polls and streams open at once (a
	// negative value: no bound).
	MaxWatches int
}

// DefaultHostLimits: an agent asks for one snapshot when it starts and
// holds one watch; ten snapshots at once and one a second after are far
// above that, and keep a host in a loop to a small share of a core.
var DefaultHostLimits = HostLimits{SnapshotRate: 1, SnapshotBurst: 10, MaxWatches: 4}

func (l HostLimits) withDefaults() HostLimits {
	if l.SnapshotRate == 0 {
		l.SnapshotRate = DefaultHostLimits.SnapshotRate
	}
	if l.SnapshotBurst <= 0 {
		l.SnapshotBurst = DefaultHostLimits.SnapshotBurst
	}
	if l.MaxWatches == 0 {
		l.MaxWatches = DefaultHostLimits.MaxWatches
	}
	return l
}

// hostLimiter enforces HostLimits.
type hostLimiter struct {
	l      HostLimits
	scopes *ratelimit.Limiter // per host, action "scope"; nil: no limit

	mu      sync.Mutex
	watches map[string]int // open long polls and streams per host
}

// SetHostLimits bounds each host key's scope computations and watches
// (zero fields take DefaultHostLimits); call it before serving. A Service
// made by New has no such bounds.
func (s *Service) SetHostLimits(l HostLimits) {
	l = l.withDefaults()
	h := &hostLimiter{l: l, watches: map[string]int{}}
	if l.SnapshotRate > 0 {
		// A bucket per host, the least recently used forgotten past the
		// default bound: hosts are the operator's to register, and a
		// forgotten bucket starts full, which only errs towards admitting.
		h.scopes = ratelimit.New(ratelimit.Config{PerAction: l.SnapshotRate, ActionBurst: l.SnapshotBurst, PerAccount: -1})
	}
	s.hostLimits = h
}

// chargeScope takes one of host's scope computations, or refuses the
// request (what: the action, for the message).
func (s *Service) chargeScope(host, what string) error {
	h := s.hostLimits
	if h == nil || h.scopes == nil || host == "" {
		return nil
	}
	if h.scopes.Allow(host, "scope") != nil {
		return ecserr.New(http.StatusBadRequest, "Throttling.User",
			"Request was denied due to user flow control: host %s calls %s more often than its scope may be computed (%g times per second after a burst of %d: each snapshot takes one, and each watch from a revision it was not last answered at); retry after a pause.",
			host, what, h.l.SnapshotRate, h.l.SnapshotBurst)
	}
	return nil
}

// holdWatch takes one of host's watches open at once, or refuses the
// request; release gives it back (once).
func (s *Service) holdWatch(host string) (release func(), err error) {
	h := s.hostLimits
	if h == nil || h.l.MaxWatches < 0 || host == "" {
		return func() {}, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watches[host] >= h.l.MaxWatches {
		return nil, ecserr.New(http.StatusBadRequest, "Throttling.User",
			"Request was denied due to user flow control: host %s holds %d long polls or streams open already, the most one host may (its agent needs one); end one, or retry after a pause.",
			host, h.l.MaxWatches)
	}
	h.watches[host]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.watches[host]--; h.watches[host] <= 0 {
				delete(h.watches, host)
			}
		})
	}, nil
}

// watchStart admits a host key's long poll or stream from revision
// after: a place among its watches open at once, and a scope computation
// unless its scope at after is kept. The operator's are not bounded.
func (s *Service) watchStart(c Caller, action string, after int64) (release func(), err error) {
	if c.Host == "" {
		return func() {}, nil
	}
	release, err = s.holdWatch(c.Host)
	if err != nil {
		return nil, err
	}
	if s.hosts.scopeAt(c.Host, after) == nil {
		if err := s.chargeScope(c.Host, action); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}
