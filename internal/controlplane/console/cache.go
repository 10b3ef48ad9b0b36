package console

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// resultCache keeps the whole-cloud analyses (the audit, the reachability
// graph) per account, region and question, with the store revision each
// answer is at least as new as. A page asked again before the next write
// is answered from memory. After a write a page may wait for an answer at
// the current revision (mustWait: a user then always sees their own
// writes), take the last answer at once while a fresh one is computed in
// the background (budget 0: the audit badges of the group list, a rule's
// standing), or wait for the fresh one up to a budget and then take the
// last (the map, the audit page). A page that shows an older answer says
// so, and reloads itself until it is current.
type resultCache struct {
	mu       sync.Mutex
	max      int
	m        map[string]cacheEntry
	inflight map[string]*refresh
	// ahead admits the background computations, one at a time: they take
	// the server's analysis slots (analyze.Ahead), never the account's own.
	ahead chan struct{}
	// base is the newest whole-cloud audit (every account's findings,
	// opaque): each audit starts from it and re-audits only what changed
	// since (analyze.AuditFrom).
	base *analyze.AuditBase
}

// auditBase is the newest audit base kept.
func (rc *resultCache) auditBase() *analyze.AuditBase {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.base
}

// keepBase keeps b if it is newer than the base kept.
func (rc *resultCache) keepBase(b *analyze.AuditBase) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if b != nil && b.Revision() >= rc.base.Revision() {
		rc.base = b
	}
}

// audit is the caller's audit at the current revision, from the newest
// base kept.
func (c *Console) audit(ctx context.Context, cl service.Caller) (analyze.Audit, error) {
	ctx = c.svc.WithPeerHits(ctx, cl.Account, service.HitsFilter{}) // before admission: peers may be slow
	au, base, err := c.analysis.AuditFrom(ctx, cl, c.auditOptions(), c.cache.auditBase())
	c.cache.keepBase(base)
	return au, err
}

// refresh is a computation under way in the background: of the answer
// at rev, then again at want if a later revision was asked meanwhile;
// done is closed when it ends.
type refresh struct {
	rev, want int64
	done      chan struct{}
	// err is the last computation's error, read once done is closed: one
	// the request is at fault for (a filter the analysis refuses) is its
	// answer; dropped, the page said "being computed" and reloaded itself
	// for ever.
	err error
}

type cacheEntry struct {
	rev int64
	val any
}

func newResultCache(max int) *resultCache {
	return &resultCache{max: max, m: map[string]cacheEntry{}, inflight: map[string]*refresh{}, ahead: make(chan struct{}, 1)}
}

// revision is the revision every answer computed from now on reflects at
// least (0: no in-memory view; answers are not cached).
func (c *Console) revision(ctx context.Context) int64 {
	v := c.svc.InMemory()
	if v == nil {
		return 0
	}
	snap, err := v.Snapshot(ctx)
	if err != nil {
		return 0
	}
	return snap.Revision()
}

func (rc *resultCache) put(key string, rev int64, val any) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if e, ok := rc.m[key]; ok && e.rev > rev {
		return
	}
	if _, ok := rc.m[key]; !ok && len(rc.m) >= rc.max {
		for k := range rc.m { // drop one: any will do, the next ask recomputes it
			delete(rc.m, k)
			break
		}
	}
	rc.m[key] = cacheEntry{rev, val}
}

// backgroundTimeout bounds a refresh nobody waits for.
const backgroundTimeout = time.Minute

// mustWait is the budget of a page that shows only current answers.
const mustWait time.Duration = -1

// budgets are how long pages wait for the analyses they show (the
// benchmark compares them with waiting for everything).
type budgets struct{ page, preview time.Duration }

// pageBudget is how long the map and the audit page wait for a fresh
// answer after a write before they show the last one (issue 13 asks for
// pages under 100 ms).
const pageBudget = 50 * time.Millisecond

// errComputing says that no answer is kept yet and the first one is being
// computed: the page says so and reloads itself.
var errComputing = errors.New("the analysis is being computed")

// cached returns compute's answer for key at the current revision. With a
// budget of 0 or more, a new one is computed in the background and
// awaited for budget at most; then the older answer kept is returned
// (fresh is false), or errComputing when there is none. With mustWait
// the request waits for a refresh at the current revision under way, or
// runs compute itself.
func cached[T any](c *Console, ctx context.Context, key string, budget time.Duration, compute func(context.Context) (T, error)) (val T, fresh bool, err error) {
	rev := c.revision(ctx)
	if rev == 0 {
		v, err := compute(ctx)
		return v, true, err
	}
	rc := c.cache
	rc.mu.Lock()
	e, ok := rc.m[key]
	if ok && e.rev >= rev {
		rc.mu.Unlock()
		return e.val.(T), true, nil
	}
	if budget >= 0 {
		r := rc.refreshLocked(ctx, key, rev, func(ctx context.Context) (any, error) { return compute(ctx) })
		rc.mu.Unlock()
		if budget > 0 {
			t := time.NewTimer(budget)
			select {
			case <-r.done:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			rc.mu.Lock()
			now, got := rc.m[key]
			var failed *ecserr.Error
			select {
			case <-r.done:
				// Not a throttled analysis: that one is computed again.
				if errors.As(r.err, &failed) && strings.HasPrefix(failed.Code, "Throttling") {
					failed = nil
				}
			default:
			}
			rc.mu.Unlock()
			if got && now.rev >= rev {
				return now.val.(T), true, nil
			}
			if failed != nil {
				return val, false, failed
			}
		}
		if !ok {
			return val, false, errComputing
		}
		return e.val.(T), false, nil
	}
	if r, ok := rc.inflight[key]; ok && r.want >= rev {
		rc.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return val, false, ctx.Err()
		}
		rc.mu.Lock()
		e, ok = rc.m[key]
		if ok && e.rev >= rev {
			rc.mu.Unlock()
			return e.val.(T), true, nil
		}
	}
	rc.mu.Unlock()
	v, err := compute(ctx)
	if err != nil {
		return v, false, err
	}
	rc.put(key, rev, v)
	return v, true, nil
}

// auditOf is the audit of the caller's resources in its region, within a
// budget as in cached.
func (c *Console) auditOf(ctx context.Context, cl service.Caller, budget time.Duration) (analyze.Audit, bool, error) {
	return cached(c, ctx, "audit|"+cl.Account+"|"+cl.Region, budget, func(ctx context.Context) (analyze.Audit, error) {
		return c.audit(analyze.Waiting(ctx), cl)
	})
}

// graphOf is the reachability graph between the caller's groups, within a
// budget as in cached.
func (c *Console) graphOf(ctx context.Context, cl service.Caller, protocol, port string, budget time.Duration) (analyze.Reachability, bool, error) {
	return cached(c, ctx, "graph|"+cl.Account+"|"+cl.Region+"|"+protocol+"|"+port, budget, func(ctx context.Context) (analyze.Reachability, error) {
		return c.analysis.Reachability(analyze.Waiting(ctx), analyze.ReachInput{Caller: cl, View: "graph", Protocol: protocol, Port: port})
	})
}

// refreshLocked computes key's answer at rev in the background, unless that
// is under way already, and returns it (its done is closed when it ends).
// rc.mu is held.
func (rc *resultCache) refreshLocked(ctx context.Context, key string, rev int64, compute func(context.Context) (any, error)) *refresh {
	if r, ok := rc.inflight[key]; ok {
		r.want = max(r.want, rev)
		return r
	}
	r := &refresh{rev: rev, want: rev, done: make(chan struct{})}
	rc.inflight[key] = r
	bg := context.WithoutCancel(ctx)
	go func() {
		for {
			bctx, cancel := context.WithTimeout(analyze.Ahead(bg), backgroundTimeout)
			var err error
			select {
			case rc.ahead <- struct{}{}:
				var v any
				if v, err = compute(bctx); err == nil {
					rc.put(key, r.rev, v)
				}
				<-rc.ahead
			case <-bctx.Done():
				err = bctx.Err()
			}
			cancel()
			rc.mu.Lock()
			r.err = err
			if r.want > r.rev { // a later revision was asked for meanwhile
				r.rev = r.want
				rc.mu.Unlock()
				continue
			}
			delete(rc.inflight, key)
			close(r.done)
			rc.mu.Unlock()
			return
		}
	}()
	return r
}

// prefetch starts computing, in the background, the audit and the
// unfiltered map of an account's region (after a change the console
// applied, and at sign-in), so that the pages that wait for them find
// them ready.
func (c *Console) prefetch(ctx context.Context, cl service.Caller) {
	rev := c.revision(ctx)
	if rev == 0 {
		return
	}
	rc := c.cache
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for key, compute := range map[string]func(context.Context) (any, error){
		"audit|" + cl.Account + "|" + cl.Region: func(ctx context.Context) (any, error) {
			return c.audit(ctx, cl)
		},
		"graph|" + cl.Account + "|" + cl.Region + "||": func(ctx context.Context) (any, error) {
			return c.analysis.Reachability(ctx, analyze.ReachInput{Caller: cl, View: "graph"})
		},
	} {
		if e, ok := rc.m[key]; !ok || e.rev < rev {
			rc.refreshLocked(ctx, key, rev, compute)
		}
	}
}
