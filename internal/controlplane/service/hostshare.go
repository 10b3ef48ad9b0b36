package service

import (
	"context"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
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
	// is recorded (two servers may hear one host around a failover), while
	// its guard record (the host's key) exists; it returns the hosts whose
	// guard was gone.
	PutHostsApplied(ctx context.Context, applied map[string]store.HostApplied) (unguarded []string, err error)
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
	pending map[string]pendingRev // host → the highest revision reported since the last write
}

// drop forgets what a host's reports queued.
func (q *hostSharing) drop(host string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.pending, host)
}

// pendingRev is a host's revision to write, and whether a key of the host
// reported it (else the operator's, whose agents have no key to guard it).
type pendingRev struct {
	rev   int64
	keyed bool
}

// raised is p with rev, as reported (keyed) or kept, whichever is higher.
func (p pendingRev) raised(rev int64, keyed bool) pendingRev {
	if rev > p.rev {
		return pendingRev{rev, keyed}
	}
	return p
}

// shareApplied queues a host's applied revision for SharedHosts once it
// rose past what this server gave it last (RunSharedHosts writes it);
// keyed: the host's own key reported it.
func (s *Service) shareApplied(host string, rev int64, keyed bool) {
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
	q.pending[host] = q.pending[host].raised(rev, keyed)
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

// writeShared writes the revisions queued, in one SharedHosts call, each
// while its host's key exists: a host deregistered through another server
// after its report was queued is not recorded again. After a failure they
// are queued again (unless a higher one came meanwhile), for the next
// write.
func (s *Service) writeShared(ctx context.Context) {
	if s.SharedHosts == nil {
		return
	}
	q := s.sharing
	q.write.Lock()
	defer q.write.Unlock()
	q.mu.Lock()
	if len(q.pending) == 0 {
		q.mu.Unlock()
		return
	}
	batch := q.pending
	q.pending = map[string]pendingRev{}
	q.mu.Unlock()
	keys, err := s.hostKeyIDs(ctx, batch)
	if err == nil {
		applied := make(map[string]store.HostApplied, len(batch))
		for host, p := range batch {
			switch id, ok := keys[host]; {
			case ok:
				applied[host] = store.HostApplied{Rev: p.rev, Kind: KindAccessKey, ID: id}
			case !p.keyed: // the operator's agent: no key, no deregistration
				applied[host] = store.HostApplied{Rev: p.rev}
			default:
				// Deregistered (through another server: this one's
				// DeregisterHost dropped it from the queue) after its
				// report: forgotten here too, as every server forgets a
				// host whose revision was recorded before.
				s.hosts.forget(host)
			}
		}
		var unguarded []string
		if unguarded, err = s.SharedHosts.PutHostsApplied(ctx, applied); err == nil {
			// The key this server's view named is gone: the host was
			// registered again (a new key) or deregistered through another
			// server, which the view shows soon. The next write decides.
			requeue := map[string]pendingRev{}
			for _, host := range unguarded {
				requeue[host] = batch[host]
				delete(batch, host) // not shared
			}
			s.requeue(requeue)
		}
	}
	if err != nil {
		s.requeue(batch)
		return
	}
	t := s.hosts
	t.mu.RLock()
	defer t.mu.RUnlock()
	for host, p := range batch {
		if h := t.hosts[host]; h != nil {
			raise(&h.shared, p.rev)
		}
	}
}

// requeue queues revisions a write did not record again, for the next
// (unless a higher one came meanwhile).
func (s *Service) requeue(batch map[string]pendingRev) {
	q := s.sharing
	q.mu.Lock()
	defer q.mu.Unlock()
	for host, p := range batch {
		q.pending[host] = q.pending[host].raised(p.rev, p.keyed)
	}
}

// hostKeyIDs returns the key of each of hosts that is registered
// (RegisterHost keeps one).
func (s *Service) hostKeyIDs(ctx context.Context, hosts map[string]pendingRev) (map[string]string, error) {
	ids := map[string]string{}
	err := s.read(ctx, func(tx store.ReadTx) error {
		for host := range hosts {
			recs, err := indexedList(tx, KindAccessKey, byHost, host, Caller{})
			if err != nil {
				return err
			}
			if len(recs) > 0 {
				ids[host] = recs[0].ID
			}
		}
		return nil
	})
	return ids, err
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
	q.drop(host)
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
		s.sharing.drop(host)
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
