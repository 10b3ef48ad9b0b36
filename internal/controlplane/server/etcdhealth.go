package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/metrics"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd"
)

// etcdHealthEvery is how often a server on etcd checks its cluster: a
// status of each member, which needs no quorum. While the cluster has no
// leader it checks every leaderlessEvery: the leader's return, after an
// election, is logged when it comes, not up to a period later (and a
// commit, which needs the leader, says it at once: committed).
const (
	etcdHealthEvery = 3 * time.Second
	leaderlessEvery = 200 * time.Millisecond
)

// etcdHealth follows the health of the etcd cluster for the operator: it
// logs a lost leader (no quorum: every request fails) and a member that
// stops answering, and their return, and keeps the last check for
// /metrics. Without it a member's death showed nowhere until the quorum
// went too.
type etcdHealth struct {
	st  *etcd.Store
	log *slog.Logger

	mu  sync.Mutex
	cur metrics.EtcdHealth

	known []etcd.Member // the members last listed (run's goroutine only)

	// commits counts the store's commits (committed), so that a check
	// that began before one does not take the leader for lost.
	commits atomic.Int64
}

// newEtcdHealth follows st's cluster, and st's commits (committed).
func newEtcdHealth(st *etcd.Store, log *slog.Logger) *etcdHealth {
	// Open has just read the store: it had a leader.
	w := &etcdHealth{st: st, log: log, cur: metrics.EtcdHealth{HasLeader: true, Members: map[string]bool{}}}
	st.OnCommit(w.committed)
	return w
}

// committed is told of each commit of the store. A commit needs a leader:
// the first after the leader was lost logs its return, before the writes
// return, where the next check logged it seconds after they succeeded.
func (w *etcdHealth) committed() {
	w.mu.Lock()
	w.commits.Add(1) // under mu: check compares it under mu too
	if w.cur.HasLeader {
		// The usual case, on every write: nothing more to do.
		w.mu.Unlock()
		return
	}
	w.cur.HasLeader = true
	up, all := 0, len(w.cur.Members)
	for _, ok := range w.cur.Members {
		if ok {
			up++
		}
	}
	w.mu.Unlock()
	w.logBack(fmt.Sprintf("%d of %d", up, all))
}

func (w *etcdHealth) logBack(answering string) {
	w.log.Info("etcd has a leader again: requests are served", "members_answering", answering)
}

// metrics is the last check, for /metrics.
func (w *etcdHealth) metrics() metrics.EtcdHealth {
	w.mu.Lock()
	defer w.mu.Unlock()
	return metrics.EtcdHealth{HasLeader: w.cur.HasLeader, Members: maps.Clone(w.cur.Members)}
}

// run checks the cluster until ctx ends.
func (w *etcdHealth) run(ctx context.Context) {
	for {
		start := time.Now()
		w.check(ctx)
		every := etcdHealthEvery
		if !w.metrics().HasLeader {
			every = leaderlessEvery
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(every))):
		}
	}
}

func (w *etcdHealth) check(ctx context.Context) {
	commits := w.commits.Load()
	cctx, cancel := context.WithTimeout(ctx, etcdHealthEvery)
	h, err := w.st.Health(cctx, w.known)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if len(h.Members) > 0 {
		w.known = h.Members
	}
	next := metrics.EtcdHealth{HasLeader: err == nil && h.Leader != 0, Members: map[string]bool{}}
	up := 0
	for _, m := range h.Members {
		next.Members[memberName(m)] = m.Up
		if m.Up {
			up++
		}
	}
	w.mu.Lock()
	// A commit during the check had a leader, which the check may not
	// have seen yet (compared under mu: one after it logs for itself).
	next.HasLeader = next.HasLeader || w.commits.Load() != commits
	prev := w.cur
	w.cur = next
	w.mu.Unlock()

	answering := fmt.Sprintf("%d of %d", up, len(h.Members))
	switch {
	case prev.HasLeader && !next.HasLeader:
		args := []any{"members_answering", answering}
		if err != nil {
			args = append(args, "err", err)
		}
		w.log.Error("etcd has no leader: the cluster has lost its quorum (a majority of its members is down or cut off), "+
			"so requests fail with ServiceUnavailable; start the members that are down (with embedded members: their servers, with the same flags)", args...)
	case !prev.HasLeader && next.HasLeader:
		w.logBack(answering)
	}
	for _, m := range h.Members {
		name := memberName(m)
		was, seen := prev.Members[name]
		switch {
		case !m.Up && (was || !seen):
			w.log.Warn("an etcd member does not answer: the cluster serves while a majority of its members runs; "+
				"start it again (with an embedded member: its server, with the same flags)",
				"member", name, "url", m.URL, "members_answering", answering, "err", m.Err)
		case m.Up && seen && !was:
			w.log.Info("an etcd member answers again", "member", name, "members_answering", answering)
		}
	}
}

// memberName is a member's name, or its ID for one added that has not
// started yet (it has no name until then).
func memberName(m etcd.Member) string {
	if m.Name == "" {
		return fmt.Sprintf("%x", m.ID)
	}
	return m.Name
}
