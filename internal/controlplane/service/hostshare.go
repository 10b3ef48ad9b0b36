package service

import "context"

// On an installation of several servers (etcd) an agent reports to one of
// them, which alone hears it: another server would answer
// PalisadePolicyInForce false and PalisadeListHosts a revision of 0 for
// the same host, and a deregistration through it would leave the host's
// status on the others. SharedHosts carries each host's applied revision
// to every server (and its deregistration); what the agent last reported
// besides (its rule counters, when it was last heard from: the metrics)
// stays with the server it reports to.

// SharedHosts records the revision each host applied where every server
// of the installation sees it (store/etcd's host keys).
type SharedHosts interface {
	PutHostApplied(ctx context.Context, host string, rev int64) error
	DeleteHostApplied(ctx context.Context, host string) error
}

// shareApplied gives SharedHosts a host's applied revision once it rose
// past what this server gave it last. A failure is left for the host's
// next report (every few seconds) to mend: the report itself was noted.
func (s *Service) shareApplied(ctx context.Context, host string, rev int64) {
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
	if s.SharedHosts.PutHostApplied(ctx, host, rev) == nil {
		raise(&h.shared, rev)
	}
}

// unshareHost removes a deregistered host from SharedHosts, so that every
// server forgets it (NoteSharedApplied with -1).
func (s *Service) unshareHost(ctx context.Context, host string) {
	if s.SharedHosts != nil {
		// Best effort: the key is gone already, and with it the host's
		// calls; a status left on another server names no live agent.
		_ = s.SharedHosts.DeleteHostApplied(ctx, host)
	}
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
