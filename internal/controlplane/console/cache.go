package console

import (
	"context"
	"fmt"
	"sync"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
)

// resultCache keeps whole-cloud analyses (the audit, the reachability
// graph) per store revision, account, region and question: pages that ask
// again before the next write are answered from memory. An entry is keyed
// by a revision the answer is at least as new as, so a reader never gets
// an answer older than its own writes.
type resultCache struct {
	mu  sync.Mutex
	max int
	m   map[string]any
}

func newResultCache(max int) *resultCache { return &resultCache{max: max, m: map[string]any{}} }

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

// cached returns the answer of compute for key at the current revision.
func cached[T any](c *Console, ctx context.Context, key string, compute func() (T, error)) (T, error) {
	rev := c.revision(ctx)
	if rev == 0 {
		return compute()
	}
	k := fmt.Sprintf("%d|%s", rev, key)
	c.cache.mu.Lock()
	v, ok := c.cache.m[k]
	c.cache.mu.Unlock()
	if ok {
		return v.(T), nil
	}
	out, err := compute()
	if err != nil {
		return out, err
	}
	c.cache.mu.Lock()
	if len(c.cache.m) >= c.cache.max {
		clear(c.cache.m) // older revisions are of no use once a write passed
	}
	c.cache.m[k] = out
	c.cache.mu.Unlock()
	return out, nil
}

// auditOf is the audit of the caller's resources in its region.
func (c *Console) auditOf(ctx context.Context, cl service.Caller) (analyze.Audit, error) {
	return cached(c, ctx, "audit|"+cl.Account+"|"+cl.Region, func() (analyze.Audit, error) {
		return c.analysis.Audit(ctx, cl, audit.Options{})
	})
}

// graphOf is the reachability graph between the caller's groups.
func (c *Console) graphOf(ctx context.Context, cl service.Caller, protocol, port string) (analyze.Reachability, error) {
	return cached(c, ctx, "graph|"+cl.Account+"|"+cl.Region+"|"+protocol+"|"+port, func() (analyze.Reachability, error) {
		return c.analysis.Reachability(ctx, analyze.ReachInput{Caller: cl, View: "graph", Protocol: protocol, Port: port})
	})
}
