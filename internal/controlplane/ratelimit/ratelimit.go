// Package ratelimit limits request rates per account and per action with
// token buckets (golang.org/x/time/rate), answering ECS's throttling code
// when a bucket is empty. The buckets live in a bounded map: the least
// recently used are forgotten first, so a flood of accounts or action names
// cannot grow it without bound (a forgotten bucket starts full again, which
// only ever errs towards admitting).
package ratelimit

import (
	"container/list"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Config sets the rates. A rate of zero takes the default; a negative rate
// turns that limit off.
type Config struct {
	// PerAction is the sustained rate of one action for one account, in
	// requests per second, and ActionBurst how many may come at once.
	PerAction   float64
	ActionBurst int
	// PerAccount is the sustained rate of all of an account's actions
	// together, and AccountBurst its burst.
	PerAccount   float64
	AccountBurst int
	// MaxBuckets bounds the buckets kept (default 100,000, a few MiB).
	MaxBuckets int
	// Exempt actions are never limited by this limiter.
	Exempt map[string]bool
}

// Defaults are generous: far above what a person, a script or the test
// suite sends, low enough that one client cannot monopolise the server.
var Defaults = Config{PerAction: 100, ActionBurst: 400, PerAccount: 400, AccountBurst: 1600, MaxBuckets: 100000}

func (c Config) withDefaults() Config {
	d := Defaults
	if c.PerAction != 0 {
		d.PerAction = c.PerAction
	}
	if c.ActionBurst > 0 {
		d.ActionBurst = c.ActionBurst
	}
	if c.PerAccount != 0 {
		d.PerAccount = c.PerAccount
	}
	if c.AccountBurst > 0 {
		d.AccountBurst = c.AccountBurst
	}
	if c.MaxBuckets > 0 {
		d.MaxBuckets = c.MaxBuckets
	}
	d.Exempt = c.Exempt
	return d
}

// Limiter decides whether a request may run now. Safe for concurrent use.
type Limiter struct {
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	buckets map[key]*list.Element // of *entry; front: most recently used
	lru     *list.List
}

type key struct{ account, action string } // action "" is the account's bucket

type entry struct {
	k key
	l *rate.Limiter
}

// New returns a limiter with cfg's rates.
func New(cfg Config) *Limiter {
	return &Limiter{cfg: cfg.withDefaults(), now: time.Now, buckets: map[key]*list.Element{}, lru: list.New()}
}

// CostUnit is the request size one token pays for: every request the
// SDKs send is smaller, and costs one.
const CostUnit = 64 << 10

// Cost is the tokens a request of size bytes (body and query) takes: a
// 1 MiB request costs the server many times a small one to read, parse
// and check, so it takes 17.
func Cost(size int) int { return 1 + max(size, 0)/CostUnit }

// Allow admits one request of an account's action, or returns the ECS
// error Throttling.User (HTTP 400). A refused request takes no token from
// either bucket.
func (l *Limiter) Allow(account, action string) error { return l.AllowN(account, action, 1) }

// AllowN is Allow for a request that costs n tokens (Cost). A cost above
// a bucket's burst takes the whole burst: such a request is admitted from
// a full bucket rather than never.
func (l *Limiter) AllowN(account, action string, n int) error {
	if l == nil || l.cfg.Exempt[action] {
		return nil
	}
	n = max(n, 1)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var act, acct *rate.Reservation
	if l.cfg.PerAction > 0 {
		act = l.bucket(key{account, action}, l.cfg.PerAction, l.cfg.ActionBurst).ReserveN(now, min(n, l.cfg.ActionBurst))
		if !act.OK() || act.DelayFrom(now) > 0 {
			act.CancelAt(now)
			return throttled(action, l.cfg.PerAction)
		}
	}
	if l.cfg.PerAccount > 0 {
		acct = l.bucket(key{account, ""}, l.cfg.PerAccount, l.cfg.AccountBurst).ReserveN(now, min(n, l.cfg.AccountBurst))
		if !acct.OK() || acct.DelayFrom(now) > 0 {
			acct.CancelAt(now)
			if act != nil {
				act.CancelAt(now)
			}
			return throttled("", l.cfg.PerAccount)
		}
	}
	return nil
}

// throttled is the refusal of an action's bucket, or of the account's
// (action "").
func throttled(action string, perSecond float64) error {
	what := "its actions together"
	if action != "" {
		what = action
	}
	return ecserr.New(http.StatusBadRequest, "Throttling.User",
		"Request was denied due to user flow control: this account calls %s more often than %g times per second; retry after a pause.", what, perSecond)
}

// bucket returns the limiter of k, making it (and forgetting the least
// recently used one beyond MaxBuckets) if needed (l.mu held).
func (l *Limiter) bucket(k key, r float64, burst int) *rate.Limiter {
	if e, ok := l.buckets[k]; ok {
		l.lru.MoveToFront(e)
		return e.Value.(*entry).l
	}
	for l.lru.Len() >= l.cfg.MaxBuckets {
		old := l.lru.Back()
		l.lru.Remove(old)
		delete(l.buckets, old.Value.(*entry).k)
	}
	lim := rate.NewLimiter(rate.Limit(r), burst)
	// The strings may point into a whole request body, which a kept key
	// would keep alive.
	k = key{strings.Clone(k.account), strings.Clone(k.action)}
	l.buckets[k] = l.lru.PushFront(&entry{k: k, l: lim})
	return lim
}

// Len is the number of buckets kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
