package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The host side of Palisade: agents (and the lab, or a hypervisor hook) bind
// instances to hosts, follow the change log, and report what they have
// applied and how often each rule matched. The operator (whose key
// `palisade serve` prints) may call these for every host and reads the
// whole cloud; a host key (Caller.Host) only for its own host, and its
// snapshot and watch carry only what that host enforces (hostscope.go).

// hostStatus is what an agent last reported. It is live state, kept in
// memory: agents report again within seconds of a server restart, and
// storing it would advance the revision the agents themselves follow.
// Progress is updated in place, without the table's write lock: every
// host reports after each change it applies, and each stream notes its
// host's progress when a change passes it by.
type hostStatus struct {
	applied atomic.Int64
	seen    atomic.Int64 // Unix nanoseconds; 0: heard only through another server (SharedHosts)
	// shared is the highest applied revision this server gave SharedHosts.
	shared   atomic.Int64
	Counters map[string]RuleCounter // "groupID/ruleID" → counts; under the table's lock
}

// note raises the applied revision to rev (never lowers it) and marks the
// host seen at now.
func (h *hostStatus) note(rev int64, now time.Time) {
	raise(&h.applied, rev)
	h.seen.Store(now.UnixNano())
}

// raise sets v to rev if that is higher.
func raise(v *atomic.Int64, rev int64) {
	for {
		old := v.Load()
		if rev <= old || v.CompareAndSwap(old, rev) {
			return
		}
	}
}

// RuleCounter is how many packets and bytes a rule has decided.
type RuleCounter struct {
	Packets uint64
	Bytes   uint64
}

type hostTable struct {
	mu    sync.RWMutex
	hosts map[string]*hostStatus
	// scopes holds each host key's last scope computed (hostscope.go), at
	// its revision: the next watch of the host starts from it, and finds a
	// change outside it without computing anything.
	scopes map[string]cachedScope
}

type cachedScope struct {
	rev   int64
	scope *hostScope
}

func newHostTable() *hostTable {
	return &hostTable{hosts: map[string]*hostStatus{}, scopes: map[string]cachedScope{}}
}

// scopeAt returns the host's scope at rev if it is the one kept.
func (t *hostTable) scopeAt(host string, rev int64) *hostScope {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if c, ok := t.scopes[host]; ok && c.rev == rev {
		return c.scope
	}
	return nil
}

// scopeNow is a host's scope at snap: the one kept at its revision, else
// made and kept for the next snapshot, watch or report at it.
func (s *Service) scopeNow(host string, snap *view.Snapshot) *hostScope {
	sc := s.hosts.scopeAt(host, snap.Revision())
	if sc == nil {
		sc = scopeOf(nowReader{snap}, host)
		s.hosts.keepScope(host, snap.Revision(), sc)
	}
	return sc
}

// keepScope keeps a host's scope at rev unless a later one is kept.
func (t *hostTable) keepScope(host string, rev int64, sc *hostScope) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.scopes[host]; !ok || c.rev <= rev {
		t.scopes[host] = cachedScope{rev, sc}
	}
}

// forget drops what a host reported and its kept scope (DeregisterHost).
func (t *hostTable) forget(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.hosts, host)
	delete(t.scopes, host)
}

// raiseKnown is note for a host in the table; a host not there is left out.
func (t *hostTable) raiseKnown(host string, rev int64, now time.Time) {
	t.mu.RLock()
	h := t.hosts[host]
	t.mu.RUnlock()
	if h != nil {
		h.note(rev, now)
	}
}

// AppliedRevision returns the revision a host's agent last reported applied.
func (s *Service) AppliedRevision(host string) int64 {
	t := s.hosts
	t.mu.RLock()
	defer t.mu.RUnlock()
	if h := t.hosts[host]; h != nil {
		return h.applied.Load()
	}
	return 0
}

// CheckOperator refuses a caller of a host action other than the operator
// key or a host key (which the host actions scope to its host).
func CheckOperator(c Caller, action string) error {
	if !c.Operator && c.Host == "" {
		return ecserr.Forbidden("Forbidden.Operator", "Only the operator key or a host key (palisade host register) may call %s.", action)
	}
	return nil
}

// CheckHostCaller refuses a caller of a host action that is neither the
// operator nor a host key. A host key must name its own host in host
// (empty: the action names none).
func CheckHostCaller(c Caller, action, host string) error {
	if c.Host == "" {
		if c.Operator {
			return nil
		}
		return CheckOperator(c, action)
	}
	if host != "" && host != c.Host {
		return ecserr.Forbidden("Forbidden.HostMismatch", "This access key belongs to host %s; it may call %s only for that host, not for %s (run the agent with --host %s, or use that host's key).", c.Host, action, host, c.Host)
	}
	return nil
}

var (
	hostNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
)

// checkHost checks a host name; required says whether it may be empty.
func checkHost(h string, required bool) error {
	switch {
	case h == "" && required:
		return ecserr.MissingParameter("HostName")
	case h != "" && !hostNamePattern.MatchString(h):
		return ecserr.InvalidParameter("HostName", "use 1 to 63 letters, digits, '.', '_' or '-'")
	}
	return nil
}

// BindInput places an instance on a host behind a host-side interface;
// HostName and Interface both empty unbind it.
type BindInput struct {
	Caller     Caller
	InstanceID string // of any account
	// NetworkInterfaceID binds a secondary ENI instead (its own interface on
	// the host); an instance's primary ENI ID binds the instance.
	NetworkInterfaceID string
	HostName           string
	Interface          string // a Linux interface name
}

// BindInstance places an instance on a host (PalisadeBindInstance). Users
// never call it; the host side does, when it plugs the instance in.
func (s *Service) BindInstance(ctx context.Context, in BindInput) error {
	if err := CheckHostCaller(in.Caller, "PalisadeBindInstance", in.HostName); err != nil {
		return err
	}
	id, host, iface := in.InstanceID, in.HostName, in.Interface
	if in.NetworkInterfaceID != "" && id != "" {
		return ecserr.Forbidden("InvalidParam.EniIdAndInstanceId.Conflict", "Give InstanceId or NetworkInterfaceId, not both.")
	}
	if id == "" && in.NetworkInterfaceID == "" {
		return ecserr.MissingParameter("InstanceId")
	}
	if err := checkHost(host, false); err != nil {
		return err
	}
	switch {
	case iface != "" && !model.ValidInterfaceName(iface):
		return ecserr.InvalidParameter("Interface", "an interface name has 1 to 15 letters, digits, '.', '_', '@' or '-'")
	case (host == "") != (iface == ""):
		return ecserr.InvalidParameter("Interface", "give HostName and Interface together (both empty unbinds)")
	}
	if in.NetworkInterfaceID != "" {
		return s.bindENI(ctx, in)
	}
	_, err := s.commit(ctx, func(tx store.Tx) error {
		inst, ok, err := store.GetAs[model.Instance](tx, KindInstance, id)
		if err != nil {
			return err
		}
		// A host key sees only what is placed on its host: anything else
		// is as absent (placing an instance is the operator's).
		if !ok || in.Caller.Host != "" && inst.Host != in.Caller.Host {
			return ecserr.New(http.StatusNotFound, "InvalidInstanceId.NotFound", "The specified InstanceId %q does not exist.", id)
		}
		if inst.Host == host && inst.Interface == iface {
			return nil
		}
		if err := interfaceFree(tx, id, host, iface); err != nil {
			return err
		}
		inst.Host, inst.Interface = host, iface
		return PutInstance(tx, &inst)
	})
	return err
}

// Snapshot is everything an agent needs to compile policies, at one revision.
type Snapshot struct {
	Revision       int64
	Groups         []*model.SecurityGroup
	Instances      []*model.Instance
	PrefixLists    []*model.PrefixList
	PortRangeLists []*model.PortRangeList    `json:",omitempty"`
	ENIs           []*model.NetworkInterface // secondary ENIs: NICs with their own groups and interfaces
	// FlowLogs are the flow logs that cover the host's NICs (the
	// operator's: every flow log).
	FlowLogs []*model.FlowLog `json:",omitempty"`
}

// GetSnapshot returns what the caller's agent needs (PalisadeGetSnapshot):
// every account's groups, instances and lists for the operator; for a host
// key, only what its host enforces (hostscope.go).
func (s *Service) GetSnapshot(ctx context.Context, c Caller) (Snapshot, error) {
	var out Snapshot
	if err := CheckHostCaller(c, "PalisadeGetSnapshot", ""); err != nil {
		return out, err
	}
	if c.Host != "" {
		if s.view == nil {
			return out, errNoView
		}
		if err := s.chargeScope(c.Host, "PalisadeGetSnapshot"); err != nil {
			return out, err
		}
		snap, err := s.view.Snapshot(ctx)
		if err != nil {
			return out, err
		}
		if !s.view.Linearizable() {
			// A store shared by several servers: this server's view may be
			// a little behind the store, and an agent that comes from
			// another server must not get an older state than it held.
			rev, err := s.Store.Revision(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				return out, errStoreSilent // the view may be older than what the agent holds
			}
			if rev > snap.Revision() {
				caught, err := s.catchUp(ctx, rev)
				if err != nil {
					return out, err
				}
				if caught == nil {
					// Never an older state than the store holds: the agent
					// may have applied a newer one elsewhere (a rule
					// revoked since would come back). A 5xx moves it on.
					return out, ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable",
						"This server has not caught up with revision %d of the store yet; retry, or ask another server.", rev)
				}
				snap = caught
			}
		}
		return s.scopeNow(c.Host, snap).snapshot(snap.Revision()), nil
	}
	err := s.read(ctx, func(tx store.ReadTx) error {
		out.Revision = tx.Revision()
		var err error
		if out.Groups, err = ListAll[model.SecurityGroup](tx, KindGroup); err != nil {
			return err
		}
		if out.Instances, err = ListAll[model.Instance](tx, KindInstance); err != nil {
			return err
		}
		for i, in := range out.Instances {
			out.Instances[i] = forAgents(in)
		}
		if out.ENIs, err = ListAll[model.NetworkInterface](tx, KindENI); err != nil {
			return err
		}
		if out.PrefixLists, err = ListAll[model.PrefixList](tx, KindPrefixList); err != nil {
			return err
		}
		if out.FlowLogs, err = ListAll[model.FlowLog](tx, KindFlowLog); err != nil {
			return err
		}
		out.PortRangeLists, err = ListAll[model.PortRangeList](tx, KindPortRangeList)
		return err
	})
	return out, err
}

// errNoView: host scoping reads the view's indexes.
var errNoView = errors.New("service: a host key's snapshot and watch need the in-memory view")

// policyKinds are the kinds whose records change an agent's policies.
var policyKinds = map[store.Kind]bool{KindGroup: true, KindInstance: true, KindPrefixList: true, KindPortRangeList: true, KindENI: true, KindFlowLog: true}

// Deleted names a record removed since the watcher's revision.
type Deleted struct {
	Kind string
	Id   string
}

// HostProgress is what a host reports it has applied.
type HostProgress struct {
	HostName        string
	AppliedRevision int64
}

// MaxWatchWait is the longest a watch waits for a change.
const MaxWatchWait = 60 * time.Second

// WatchInput asks for the changes after a revision.
type WatchInput struct {
	Caller        Caller
	AfterRevision int64
	Wait          time.Duration // 0 to MaxWatchWait
	Progress      HostProgress  // optional: the caller's host and revision
	// KeyID is the access key the poll was signed with: a poll that wakes
	// after that key may no longer call (made Inactive, deleted, replaced
	// by a new registration of its host, its account disabled) answers the
	// key's error instead of the changes. "": not checked.
	KeyID string
}

// Changes are the policy records changed since a revision.
type Changes struct {
	// Revision is the revision the changes bring the watcher to.
	Revision int64
	// The current versions of the records changed since AfterRevision, and
	// the records removed.
	Groups         []*model.SecurityGroup
	Instances      []*model.Instance
	PrefixLists    []*model.PrefixList
	PortRangeLists []*model.PortRangeList `json:",omitempty"`
	ENIs           []*model.NetworkInterface
	FlowLogs       []*model.FlowLog `json:",omitempty"`
	Deleted        []Deleted
	// Resync says the watcher's revision is ahead of the store's (the
	// server's store was replaced), or too old for its stream: start over
	// from a snapshot.
	Resync bool `json:",omitempty"`

	shared *SharedEncoding // set on an answer shared by several watchers
}

// SharedEncoding is the encoding of an answer that several watchers get
// (the operator's, per revision watched from): made once, by the first
// transport that asks, and reused.
type SharedEncoding struct {
	once sync.Once
	b    []byte
	err  error
}

// Encoded returns the answer encoded by encode, once per shared answer
// (every time for one that is not shared). The transport's encoding must
// not depend on the request.
func (c *Changes) Encoded(encode func(*Changes) ([]byte, error)) ([]byte, error) {
	if c.shared == nil {
		return encode(c)
	}
	c.shared.once.Do(func() { c.shared.b, c.shared.err = encode(c) })
	return c.shared.b, c.shared.err
}

// WatchChanges waits until a change the caller's agent needs passes
// AfterRevision (at most Wait) and returns the policy records changed since
// then, as of one revision, so applying them in any order brings the
// watcher to exactly Revision (PalisadeWatchChanges). A watcher resumes
// after a restart or a lost connection by passing the last Revision it
// applied. The operator follows every record; a host key what its host
// enforces: its answer is what turns the host's scope at AfterRevision into
// its scope at Revision, and changes outside the scope are not sent (the
// wait goes on; when it ends, Revision is the last revision checked).
//
// Watches are served from the view's history (view.Batch) in memory; a
// revision older than the history is served from the store's change log
// (the operator) or answered with Resync (a host key, whose scope at that
// revision is not known).
func (s *Service) WatchChanges(ctx context.Context, in WatchInput) (Changes, error) {
	c := in.Caller
	if err := CheckHostCaller(c, "PalisadeWatchChanges", in.Progress.HostName); err != nil {
		return Changes{}, err
	}
	after := in.AfterRevision
	if after < 0 || in.Wait < 0 || in.Wait > MaxWatchWait {
		return Changes{}, ecserr.InvalidParameter("WaitSeconds", "AfterRevision must be >= 0 and WaitSeconds between 0 and 60")
	}
	if c.Host != "" && in.Progress.HostName == "" {
		in.Progress.HostName = c.Host
	}
	if err := s.noteProgress(ctx, &in.Progress, false); err != nil {
		return Changes{}, err
	}
	release, err := s.watchStart(c, "PalisadeWatchChanges", after)
	if err != nil {
		return Changes{}, err
	}
	defer release()
	if s.view == nil {
		if c.Host != "" {
			return Changes{}, errNoView
		}
		out, err := s.watchStore(ctx, in)
		if err == nil {
			if err := s.keyStillCalls(ctx, in.KeyID); err != nil {
				return Changes{}, err
			}
		}
		return out, err
	}
	snap, err := s.view.Snapshot(ctx)
	if err != nil {
		return Changes{}, err
	}
	if snap.Revision() < after {
		caught, err := s.catchUp(ctx, after)
		if err != nil {
			return Changes{}, err
		}
		if caught == nil {
			return Changes{Revision: snap.Revision(), Resync: true}, nil
		}
		snap = caught
	}
	wctx, cancel := context.WithTimeout(ctx, in.Wait)
	defer cancel()
	if s.Stopping != nil {
		defer context.AfterFunc(s.Stopping, cancel)()
	}
	out, found, err := s.nextChanges(ctx, wctx, in, snap)
	if err == nil {
		if err := s.keyStillCalls(ctx, in.KeyID); err != nil {
			return Changes{}, err
		}
		if !found {
			// Nothing new vouches for the view: not when the store is
			// silent (liveness.go).
			if err := s.storeAnswers(ctx); err != nil {
				return Changes{}, err
			}
		}
	}
	return out, err
}

// keyStillCalls returns the error of the key a poll was signed with (id;
// "": not checked) if it may no longer call: the key was good when the
// poll began, up to a minute before. As the stream does, it reads the
// view as it is (the poll has just read it), or the store without one.
func (s *Service) keyStillCalls(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	var err error
	if s.view != nil {
		_, err = keyCaller(s.view.Current(), id)
	} else {
		_, err = View(s, ctx, func(tx store.ReadTx) (Caller, error) { return keyCaller(tx, id) })
	}
	return err
}

// nextChanges waits, until wctx ends, for a change the caller needs after
// in.AfterRevision, from snap on, and returns the answer (found, or a
// Resync). When wctx ends first, found is false and the answer is empty at
// the last revision checked: nothing the caller needs changed up to it.
// Both the long poll (WatchChanges) and the stream (ChangeStream.Run) are
// served by it.
func (s *Service) nextChanges(ctx, wctx context.Context, in WatchInput, snap *view.Snapshot) (_ Changes, found bool, _ error) {
	c, after := in.Caller, in.AfterRevision
	checked := after // nothing the watcher needs changed in (after, checked]
	for {
		if snap.Revision() > checked {
			// A host's scope at checked is the one at after (nothing it
			// needs changed between): its answer starts from checked, from
			// the scope kept then.
			from := after
			if c.Host != "" {
				from = checked
			}
			batches, exact, ok := snap.Since(from)
			fromEmpty := c.Host != "" && from == 0
			switch {
			case !ok && c.Host == "":
				out, err := s.watchStore(ctx, in)
				return out, err == nil, err
			case (!ok || !exact) && c.Host != "" && !fromEmpty:
				return Changes{Revision: snap.Revision(), Resync: true}, true, nil
			}
			var out Changes
			var found bool
			switch {
			case c.Host == "":
				out, found = watchAll(snap, batches, after)
			case fromEmpty:
				// Nothing existed at revision 0, so a host's scope then was
				// empty and the answer is its whole scope now, however
				// little history the view keeps (it may have loaded after
				// the first writes).
				out, found = scopeChanges(&hostScope{}, s.scopeNow(c.Host, snap), snap.Revision())
			default:
				out, found = s.watchHost(c.Host, snap, batches, from)
			}
			if found {
				return out, true, nil
			}
			checked = snap.Revision()
			if in.Progress.HostName != "" && in.Progress.AppliedRevision >= after {
				// The host enforces after, and nothing it needs changed
				// since: it enforces checked as well. Only a host still in
				// the table: one deregistered meanwhile (forgotten) would
				// come back, at the very revision that deregistered it.
				s.hosts.raiseKnown(in.Progress.HostName, checked, s.Now())
			}
		}
		next, err := s.view.Wait(wctx, checked+1)
		if err != nil {
			if ctx.Err() != nil {
				return Changes{}, false, ctx.Err()
			}
			if wctx.Err() != nil {
				return Changes{Revision: checked}, false, nil
			}
			return Changes{}, false, err
		}
		snap = next
	}
}

// maxCatchUp bounds how long a watch waits for this server's view to reach
// the revision a watcher holds from another server (a variable: tests
// shorten it).
var maxCatchUp = 5 * time.Second

// catchUp waits for the view to hold revision after, which a watcher holds
// from another server of the installation (one store): this server follows
// that store a little behind. It returns nil when the store itself is
// behind after (it was replaced: the watcher must resync) or the view does
// not get there in time, and errStoreSilent when the store does not
// answer: a resync would serve the view, maybe older than what the agent
// holds (a rule revoked since would come back), where a 5xx moves it on.
func (s *Service) catchUp(ctx context.Context, after int64) (*view.Snapshot, error) {
	rev, err := s.Store.Revision(ctx)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, errStoreSilent
	case rev < after:
		return nil, nil
	}
	wctx, cancel := context.WithTimeout(ctx, maxCatchUp)
	defer cancel()
	snap, err := s.view.Wait(wctx, after)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, nil
	}
	return snap, nil
}

// watchHost is a host key's answer: what turns its scope at after into its
// scope at snap. The scope at after is the one kept from the host's last
// snapshot or watch (else computed as it was, from the history's old
// values); when no change of batches touches what it was computed from,
// it is the scope at snap too, and nothing is computed.
func (s *Service) watchHost(host string, snap *view.Snapshot, batches []*view.Batch, after int64) (Changes, bool) {
	rev := snap.Revision()
	past := s.hosts.scopeAt(host, after)
	if past == nil {
		past = scopeOf(newPastReader(snap, batches), host)
	}
	if !past.affectedBy(batches) {
		s.hosts.keepScope(host, rev, past)
		return Changes{Revision: rev}, false
	}
	if keys, ok := past.groupEdits(snap, batches); ok {
		now, sent := past.withGroups(snap, batches[len(batches)-1], keys)
		s.hosts.keepScope(host, rev, now)
		if len(sent) == 0 {
			return Changes{Revision: rev}, false
		}
		return groupEditAnswer(snap, batches, now, sent), true
	}
	now := scopeOf(nowReader{snap}, host)
	s.hosts.keepScope(host, rev, now)
	return scopeChanges(past, now, rev)
}

// editKey memoises the answer of a group edit (groupEdits) per groups
// sent: every host that enforces those groups, and for which nothing else
// changed, gets the same answer (their values at the batch's revision, the
// same from any revision watched from), computed and encoded once.
type editKey struct{ groups string }

// groupEditAnswer is the answer that brings a host's scope past a group
// edit: the local groups' current values (what scopeChanges would find).
func groupEditAnswer(snap *view.Snapshot, batches []*view.Batch, now *hostScope, keys []recordKey) Changes {
	compute := func() Changes {
		out := Changes{Revision: snap.Revision()}
		for _, k := range keys {
			e, _ := now.entry(k)
			out.add(k.kind, e.obj)
		}
		return out
	}
	if len(batches) > maxSharedBatches {
		return compute()
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.id)
		b.WriteByte(0)
	}
	return batches[len(batches)-1].Memo(editKey{b.String()}, func() any {
		ch := compute()
		ch.shared = &SharedEncoding{}
		return ch
	}).(Changes)
}

// allKey memoises the operator's answer per revision watched from.
type allKey struct{ after int64 }

// maxSharedBatches bounds the answers kept for sharing: one that spans
// more batches (a watcher far behind) is computed for its watcher alone,
// so that the history does not keep large answers alive.
const maxSharedBatches = 8

// watchAll is the operator's answer from the view's history: the current
// value of every policy record changed since after. It is computed once per
// (after, revision) and shared by the watchers that ask for it (read-only).
func watchAll(snap *view.Snapshot, batches []*view.Batch, after int64) (Changes, bool) {
	compute := func() (Changes, bool) {
		seen := map[recordKey]bool{}
		var keys []recordKey
		for _, b := range batches {
			for _, ch := range b.Changes {
				k := recordKey{ch.Kind, ch.ID}
				if policyKinds[ch.Kind] && !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
		}
		slices.SortFunc(keys, compareKeys)
		out := Changes{Revision: snap.Revision()}
		for _, k := range keys {
			if r := snap.Record(k.kind, k.id); r != nil {
				out.add(k.kind, r.Object)
			} else {
				out.Deleted = append(out.Deleted, Deleted{Kind: string(k.kind), Id: k.id})
			}
		}
		return out, len(keys) > 0
	}
	if len(batches) > maxSharedBatches {
		return compute()
	}
	type answer struct {
		ch    Changes
		found bool
	}
	a := batches[len(batches)-1].Memo(allKey{after}, func() any {
		ch, found := compute()
		ch.shared = &SharedEncoding{}
		return answer{ch, found}
	}).(answer)
	return a.ch, a.found
}

// watchStore is WatchChanges from the store's change log: for a service
// without a view, or a revision older than the view's history.
func (s *Service) watchStore(ctx context.Context, in WatchInput) (Changes, error) {
	after := in.AfterRevision
	if cur, err := s.Store.Revision(ctx); err != nil {
		return Changes{}, err
	} else if cur < after {
		return Changes{Revision: cur, Resync: true}, nil
	}
	wctx, cancel := context.WithTimeout(ctx, in.Wait)
	defer cancel()
	if s.Stopping != nil {
		defer context.AfterFunc(s.Stopping, cancel)()
	}
	if _, err := s.Store.WaitRevision(wctx, after); err != nil && wctx.Err() == nil {
		return Changes{}, err
	}
	if ctx.Err() != nil {
		return Changes{}, ctx.Err()
	}
	var out Changes
	err := s.Store.View(ctx, func(tx store.ReadTx) error {
		out.Revision = tx.Revision()
		if out.Revision <= after {
			out.Revision = max(out.Revision, after)
			return nil
		}
		changes, err := s.Store.Changes(ctx, after, 0)
		if err != nil {
			return err
		}
		seen := map[store.Change]bool{}
		for _, ch := range changes {
			if ch.Revision > out.Revision || !policyKinds[ch.Kind] {
				continue
			}
			key := store.Change{Kind: ch.Kind, ID: ch.ID}
			if seen[key] {
				continue
			}
			seen[key] = true
			rec, ok, err := tx.Get(ch.Kind, ch.ID)
			if err != nil {
				return err
			}
			if !ok {
				out.Deleted = append(out.Deleted, Deleted{Kind: string(ch.Kind), Id: ch.ID})
				continue
			}
			switch ch.Kind {
			case KindGroup:
				err = appendRecord(&out.Groups, rec)
			case KindInstance:
				var in *model.Instance
				if in, err = decode[model.Instance](rec); err == nil {
					out.Instances = append(out.Instances, forAgents(in))
				}
			case KindPrefixList:
				err = appendRecord(&out.PrefixLists, rec)
			case KindPortRangeList:
				err = appendRecord(&out.PortRangeLists, rec)
			case KindENI:
				err = appendRecord(&out.ENIs, rec)
			case KindFlowLog:
				err = appendRecord(&out.FlowLogs, rec)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func appendRecord[T any](dst *[]*T, rec store.Record) error {
	v, err := decode[T](rec)
	if err != nil {
		return err
	}
	*dst = append(*dst, v)
	return nil
}

// noteHost records a host's reported progress, if there is one.
func (s *Service) noteHost(p HostProgress) error {
	if err := checkHost(p.HostName, false); err != nil || p.HostName == "" {
		return err
	}
	t := s.hosts
	t.mu.RLock()
	h := t.hosts[p.HostName]
	t.mu.RUnlock()
	now := s.Now()
	if h == nil {
		t.mu.Lock()
		if h = t.hosts[p.HostName]; h == nil {
			// Filled in before it is published: a reader never sees a host
			// at revision 0 last seen in 1970.
			h = &hostStatus{}
			h.note(p.AppliedRevision, now)
			t.hosts[p.HostName] = h
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock()
	}
	h.note(p.AppliedRevision, now)
	return nil
}

// noteProgress is noteHost for a host's report (a watch's, a status'),
// whose applied revision must lie between 0 and the store's: the host's
// would stay at one beyond (note never lowers it), so the host read as
// current however far behind it fell. A status report beyond is refused;
// a watch's is taken as 0 (the host is still seen, and the watch does not
// infer from it that the host is current), as an agent ahead of a
// replaced store must get its watch's Resync.
func (s *Service) noteProgress(ctx context.Context, p *HostProgress, refuse bool) error {
	if p.HostName == "" {
		return nil // nothing to note: no store read for it
	}
	if err := s.checkApplied(ctx, p.AppliedRevision); err != nil {
		if refuse || !ecserr.Is(err, "InvalidParameter") {
			return err
		}
		p.AppliedRevision = 0
	}
	return s.noteHost(*p)
}

// checkApplied refuses an applied revision below zero or beyond the
// store's. The view's revision answers for every report of a revision it
// holds; the store is asked only past it.
func (s *Service) checkApplied(ctx context.Context, applied int64) error {
	if applied < 0 {
		return ecserr.InvalidParameter("AppliedRevision", "it must be 0 or more: the store revision the host applied")
	}
	if s.view != nil && applied <= s.view.Revision() {
		return nil
	}
	rev, err := s.Store.Revision(ctx)
	if err != nil {
		return err
	}
	if applied > rev {
		return ecserr.InvalidParameter("AppliedRevision", fmt.Sprintf("it is %d, beyond the store's revision %d: report the revision the host applied", applied, rev))
	}
	return nil
}

// ReportInput is a host's status: its applied revision and, when Counters
// is not nil, its per-rule totals keyed "groupID/ruleID".
type ReportInput struct {
	Caller   Caller
	Progress HostProgress // HostName required
	Counters map[string]RuleCounter
}

// ReportHostStatus records a host's status (PalisadeReportHostStatus); a
// report replaces the host's last counters.
func (s *Service) ReportHostStatus(ctx context.Context, in ReportInput) error {
	if err := CheckHostCaller(in.Caller, "PalisadeReportHostStatus", in.Progress.HostName); err != nil {
		return err
	}
	if err := checkHost(in.Progress.HostName, true); err != nil {
		return err
	}
	var throttled error
	if in.Counters != nil && in.Caller.Host != "" {
		var err error
		if in.Counters, err = s.localCounters(ctx, in.Caller.Host, in.Counters); ecserr.Is(err, "Throttling.User") {
			// The status is still a heartbeat: a host whose counters
			// come too often must not read as silent. Its counters are
			// totals, so the next report brings what this one drops.
			e := *ecserr.As(err)
			e.Message += " The host's status was recorded; its counters were not (they are totals: its next report carries them)."
			throttled, in.Counters = &e, nil
		} else if err != nil {
			return err
		}
	}
	if err := s.noteProgress(ctx, &in.Progress, true); err != nil {
		return err
	}
	s.shareApplied(in.Progress.HostName, in.Progress.AppliedRevision, in.Caller.Host != "")
	if throttled != nil {
		return throttled
	}
	if in.Counters != nil {
		t := s.hosts
		t.mu.Lock()
		// Gone when DeregisterHost forgot the host since its heartbeat:
		// its counters go with it.
		if h := t.hosts[in.Progress.HostName]; h != nil {
			h.Counters = in.Counters
		}
		t.mu.Unlock()
	}
	return nil
}

// localCounters keeps of a host key's counters those of the rules of the
// groups its host enforces (its scope's local groups): a host may not
// count for a rule it does not run (another tenant's, named as a peer's),
// which would make that rule look used, nor keep counts of rules that do
// not exist (a report of 100,000 made-up ones was held in memory).
func (s *Service) localCounters(ctx context.Context, host string, in map[string]RuleCounter) (map[string]RuleCounter, error) {
	if s.view == nil {
		return nil, errNoView
	}
	snap, err := s.view.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	// The host's scope now: the one kept for its watch if it is at this
	// revision, else computed, which takes one of the host's scope
	// computations (hostlimits.go: reports at their own rate would
	// compute it past that budget) and is not kept, so that it does not
	// displace the scope kept at the revision the watch resumes from.
	sc := s.hosts.scopeAt(host, snap.Revision())
	if sc == nil {
		if err := s.chargeScope(host, "PalisadeReportHostStatus"); err != nil {
			return nil, err
		}
		sc = scopeOf(nowReader{snap}, host)
	}
	// The rule IDs of each local group named, read once per group: a
	// report's keys are the host's to choose, so each costs a lookup.
	rulesOf := map[string]map[string]bool{}
	out := make(map[string]RuleCounter, len(in))
	for k, v := range in {
		gid, rid, _ := strings.Cut(k, "/")
		ids, seen := rulesOf[gid]
		if !seen {
			ids = localRuleIDs(sc, snap, gid)
			rulesOf[gid] = ids
		}
		if ids[rid] {
			out[k] = v
		}
	}
	return out, nil
}

// localRuleIDs are the rule IDs of gid when the host's scope enforces it,
// else nil.
func localRuleIDs(sc *hostScope, snap *view.Snapshot, gid string) map[string]bool {
	if e, ok := sc.entry(recordKey{KindGroup, gid}); !ok || !e.local {
		return nil
	}
	r := snap.Record(KindGroup, gid)
	if r == nil {
		return nil
	}
	g, isG := r.Object.(*model.SecurityGroup)
	if !isG {
		return nil
	}
	ids := make(map[string]bool, len(g.Rules))
	for _, r := range g.Rules {
		ids[r.ID] = true
	}
	return ids
}

// RuleCount is a rule with what it decided on every host, and how many
// hosts reported it: a rule at zero that no host reported is unknown, not
// unused. Flow is what the flow records kept say of it (flowhits.go).
type RuleCount struct {
	Rule model.Rule
	RuleCounter
	Hosts int
	Flow  RuleHit
}

// DescribeRuleCounters returns, for each rule of a group of the caller, the
// packets and bytes it decided on every host, as the agents last reported
// (PalisadeDescribeRuleCounters). A rule at zero on hosts that reported it
// is one no traffic has needed since they installed it; Hosts says how many
// did.
func (s *Service) DescribeRuleCounters(ctx context.Context, c Caller, groupID string) (*model.SecurityGroup, []RuleCount, error) {
	g, out, _, err := s.RuleCounters(ctx, c, groupID)
	return g, out, err
}

// HostCounters are one host's rule counters, as the server that heard it
// at Seen has them.
type HostCounters struct {
	Host     string
	Seen     time.Time
	Counters map[string]RuleCounter // "groupID/ruleID"
}

// hostCounters are the counters of g's rules that this server's agents
// reported, per host.
func (s *Service) hostCounters(g *model.SecurityGroup) []HostCounters {
	var out []HostCounters
	t := s.hosts
	t.mu.RLock()
	defer t.mu.RUnlock()
	for name, h := range t.hosts {
		var mine map[string]RuleCounter
		for _, r := range g.Rules {
			k := g.ID + "/" + r.ID
			if v, ok := h.Counters[k]; ok {
				if mine == nil {
					mine = map[string]RuleCounter{}
				}
				mine[k] = v
			}
		}
		if mine != nil {
			out = append(out, HostCounters{Host: name, Seen: time.Unix(0, h.seen.Load()), Counters: mine})
		}
	}
	return out
}

// LocalHostCounters is this server's part of the counters of a group of
// c's (FlowHitsAction's own part asked with PalisadeCountersOf): none for
// a group that is not c's.
func (s *Service) LocalHostCounters(ctx context.Context, c Caller, groupID string) []HostCounters {
	g, err := View(s, ctx, func(tx store.ReadTx) (*model.SecurityGroup, error) { return GetGroup(tx, c, groupID) })
	if err != nil || g.Owner != c.Account {
		return nil
	}
	return s.hostCounters(g)
}

// RuleCounters is DescribeRuleCounters, with the servers of the
// installation that did not give their flow records' hits (FlowHitsAll).
func (s *Service) RuleCounters(ctx context.Context, c Caller, groupID string) (*model.SecurityGroup, []RuleCount, []string, error) {
	g, err := View(s, ctx, func(tx store.ReadTx) (*model.SecurityGroup, error) { return GetGroup(tx, c, groupID) })
	if err != nil {
		return nil, nil, nil, err
	}
	// Every server's hits and agents' counters, where the group is the
	// caller's own (a peer counts the account of the caller's key).
	var hits map[string]RuleHit
	var missing []string
	counters := s.hostCounters(g)
	if g.Owner == c.Account {
		all := s.FlowHitsAll(ctx, c, HitsFilter{CountersOf: g.ID})
		hits, missing = all.ByEntry, all.Missing
		counters = append(counters, all.Counters...)
	} else {
		hits = s.FlowHits(g.Owner, HitsFilter{})
	}
	// A host heard by two servers (its agent moved) counts once, as the
	// one that heard it last has it; heard by both in the same second
	// (the clock's), the larger of each rule's totals, which only grow
	// while the agent runs.
	latest := map[string]HostCounters{}
	for _, hc := range counters {
		l, ok := latest[hc.Host]
		switch {
		case !ok || hc.Seen.After(l.Seen):
			latest[hc.Host] = hc
		case hc.Seen.Equal(l.Seen):
			both := maps.Clone(l.Counters)
			for k, v := range hc.Counters {
				if w, ok := both[k]; !ok || v.Packets > w.Packets || (v.Packets == w.Packets && v.Bytes > w.Bytes) {
					both[k] = v
				}
			}
			l.Counters = both
			latest[hc.Host] = l
		}
	}
	sums, hosts := map[string]RuleCounter{}, map[string]int{}
	for _, hc := range latest {
		for _, r := range g.Rules {
			k := g.ID + "/" + r.ID
			if v, ok := hc.Counters[k]; ok {
				s := sums[k]
				// Saturated: each host's counts are its own to give.
				s.Packets = addSat(s.Packets, v.Packets, math.MaxUint64)
				s.Bytes = addSat(s.Bytes, v.Bytes, math.MaxUint64)
				sums[k] = s
				hosts[k]++
			}
		}
	}
	out := make([]RuleCount, 0, len(g.Rules))
	for _, r := range g.Rules {
		k := g.ID + "/" + r.ID
		out = append(out, RuleCount{Rule: r, RuleCounter: sums[k], Hosts: hosts[k], Flow: hits[k]})
	}
	return g, out, missing, nil
}
