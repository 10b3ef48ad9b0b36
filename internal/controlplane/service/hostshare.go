package service

import (
	"context"
	"sync"
	"time"
)

// On an installation of several servers (etcd) an agent reports to one of
// them, which alone hears it: another server would answer
// PalisadePolicyInForce false and PalisadeListHosts a revision of 0 for
// the same host, and a deregistration through it would leave the host's
// status on the others. SharedHosts carries each host's applied revision
// to every server (and its deregistration); what the agent last reported
// besides (its rule counters, when it was last heard from: the metrics)
// stays with the server it reports to.
//
// A server writes the revisions its hosts reported in batches, every
// ShareHostsEvery (RunSharedHosts): one write for all of them, where a
// write per host per report was, at a thousand hosts reporting about once
// a second, a thousand etcd transactions a second.

// SharedHosts records the revision each host applied where every server
// of the installation sees it (store/etcd's host keys).
type SharedHosts interface {
	// PutHostsApplied records each host's revision, unless a higher one
	// is recorded (two servers may hear one host around a failover).
	PutHostsApplied(ctx context.Context, revs map[string]int64) error
	DeleteHostApplied(ctx context.Context, host string) error
}

// ShareHostsEvery is how often RunSharedHosts writes the revisions
// reported since its last write.
const ShareHostsEvery = time.Second

// hostSharing is the revisions reported and not yet written to
// SharedHosts.
type hostSharing struct {
	// write is held by a write of the batch and by a deregistration's
	// delete, so that a batch taken before a host's deregistration does
	// not record it again after its key was deleted.
	write   sync.Mutex
	mu      sync.Mutex
	pending map[string]int64 // host → the highest revision reported since the last write
}

// shareApplied queues a host's applied revision for SharedHosts once it
// rose past what this server gave it last (RunSharedHosts writes it).
func (s *Service) shareApplied(host string, rev int64) {
	if s.SharedHosts == nil || rev <= 0 {
		return
	}
	t := s.hosts
	t.mu.RLock()
	h := t.hosts[host]
	t.mu.RUnlock()
	if h == nil || rev <= h.shared.Load() {
		return
	}
	q := s.sharing
	q.mu.Lock()
	q.pending[host] = max(q.pending[host], rev)
	q.mu.Unlock()
}

// RunSharedHosts writes the revisions queued by the hosts' reports to
// SharedHosts, in one write every `every` (ShareHostsEvery if 0), until
// ctx ends, then once more.
func (s *Service) RunSharedHosts(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = ShareHostsEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// The last reports: best effort, the store may be closing.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			s.writeShared(fctx)
			cancel()
			return
		case <-t.C:
			wctx, cancel := context.WithTimeout(ctx, every+10*time.Second)
			s.writeShared(wctx)
			cancel()
		}
	}
}

// writeShared writes the revisions queued, in one SharedHosts call. After
// a failure they are queued again (unless a higher one came meanwhile),
// for the next write.
func (s *Service) writeShared(ctx context.Context) {
	if s.SharedHosts == nil {
		return
	}
	q := s.sharing
	q.write.Lock()
	defer q.write.Unlock()
	q.mu.Lock()
	batch := q.pending
	if len(batch) > 0 {
		q.pending = map[string]int64{}
	}
	q.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := s.SharedHosts.PutHostsApplied(ctx, batch); err != nil {
		q.mu.Lock()
		for host, rev := range batch {
			q.pending[host] = max(q.pending[host], rev)
		}
		q.mu.Unlock()
		return
	}
	t := s.hosts
	t.mu.RLock()
	defer t.mu.RUnlock()
	for host, rev := range batch {
		if h := t.hosts[host]; h != nil {
			raise(&h.shared, rev)
		}
	}
}

// unshareHost removes a deregistered host from SharedHosts, so that every
// server forgets it (NoteSharedApplied with -1), and drops what its
// reports queued.
func (s *Service) unshareHost(ctx context.Context, host string) {
	if s.SharedHosts == nil {
		return
	}
	q := s.sharing
	q.write.Lock() // a batch being written holds the host: after it
	defer q.write.Unlock()
	q.mu.Lock()
	delete(q.pending, host)
	q.mu.Unlock()
	// Best effort: the key is gone already, and with it the host's
	// calls; a status left on another server names no live agent.
	_ = s.SharedHosts.DeleteHostApplied(ctx, host)
}

// NoteSharedApplied takes a host's applied revision that a server
// recorded in SharedHosts (this one's too), or its deregistration (rev
// -1: its status is forgotten). The host is not marked seen: it is not
// this server's agent (the metrics count only those).
func (s *Service) NoteSharedApplied(host string, rev int64) {
	t := s.hosts
	if rev < 0 {
		t.forget(host)
		return
	}
	t.mu.RLock()
	h := t.hosts[host]
	t.mu.RUnlock()
	if h == nil {
		t.mu.Lock()
		if h = t.hosts[host]; h == nil {
			h = &hostStatus{}
			t.hosts[host] = h
		}
		t.mu.Unlock()
	}
	raise(&h.applied, rev)
	raise(&h.shared, rev)
}
