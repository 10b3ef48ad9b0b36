package console

import (
	"context"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
)

// resultCache keeps the whole-cloud analyses (the audit, the reachability
// graph) per account, region and question, with the store revision each
// answer is at least as new as. A page asked again before the next write
// is answered from memory. Pages that only decorate (the audit badges of
// the group list, a rule's standing) may show the last answer while a
// fresh one is computed in the background, and say so; the others wait
// for an answer at the current revision, so a user always sees their own
// writes there.
type resultCache struct {
	mu       sync.Mutex
	max      int
	m        map[string]cacheEntry
	inflight map[string]bool
}

type cacheEntry struct {
	rev int64
	val any
}

func newResultCache(max int) *resultCache {
	return &resultCache{max: max, m: map[string]cacheEntry{}, inflight: map[string]bool{}}
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

// cached returns compute's answer for key at the current revision. With
// stale, an older answer is returned at once (fresh is false) while a new
// one is computed in the background.
func cached[T any](c *Console, ctx context.Context, key string, stale bool, compute func(context.Context) (T, error)) (val T, fresh bool, err error) {
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
	if ok && stale {
		rc.refreshLocked(ctx, key, rev, func(ctx context.Context) (any, error) { return compute(ctx) })
		rc.mu.Unlock()
		return e.val.(T), false, nil
	}
	rc.mu.Unlock()
	v, err := compute(ctx)
	if err != nil {
		return v, false, err
	}
	rc.put(key, rev, v)
	return v, true, nil
}

// auditOf is the audit of the caller's resources in its region; stale as
// in cached.
func (c *Console) auditOf(ctx context.Context, cl service.Caller, stale bool) (analyze.Audit, bool, error) {
	return cached(c, ctx, "audit|"+cl.Account+"|"+cl.Region, stale, func(ctx context.Context) (analyze.Audit, error) {
		return c.analysis.Audit(analyze.Waiting(ctx), cl, audit.Options{})
	})
}

// graphOf is the reachability graph between the caller's groups, always
// at the current revision.
func (c *Console) graphOf(ctx context.Context, cl service.Caller, protocol, port string) (analyze.Reachability, error) {
	r, _, err := cached(c, ctx, "graph|"+cl.Account+"|"+cl.Region+"|"+protocol+"|"+port, false, func(ctx context.Context) (analyze.Reachability, error) {
		return c.analysis.Reachability(analyze.Waiting(ctx), analyze.ReachInput{Caller: cl, View: "graph", Protocol: protocol, Port: port})
	})
	return r, err
}

// refreshLocked computes key's answer at rev in the background, unless that
// is under way already. rc.mu is held.
func (rc *resultCache) refreshLocked(ctx context.Context, key string, rev int64, compute func(context.Context) (any, error)) {
	if rc.inflight[key] {
		return
	}
	rc.inflight[key] = true
	go func() {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backgroundTimeout)
		defer cancel()
		if v, err := compute(bctx); err == nil {
			rc.put(key, rev, v)
		}
		rc.mu.Lock()
		delete(rc.inflight, key)
		rc.mu.Unlock()
	}()
}

// prefetch starts computing, in the background, the audit and the
// unfiltered map of an account's region after a change the console
// applied, so that the pages that wait for them find them ready.
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
			return c.analysis.Audit(analyze.Waiting(ctx), cl, audit.Options{})
		},
		"graph|" + cl.Account + "|" + cl.Region + "||": func(ctx context.Context) (any, error) {
			return c.analysis.Reachability(analyze.Waiting(ctx), analyze.ReachInput{Caller: cl, View: "graph"})
		},
	} {
		if e, ok := rc.m[key]; !ok || e.rev < rev {
			rc.refreshLocked(ctx, key, rev, compute)
		}
	}
}
