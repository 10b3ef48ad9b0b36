package analyze

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Live is the reachability of the whole cloud (every account: a peer group
// of another account must resolve to its members), kept current from the
// in-memory view as its snapshots are published: each new snapshot's
// changed records become a policy.Edit of the cloud and a reach.Change,
// and reach's incremental Update folds them into the result, rebuilding
// only the classes they touch. A request then reads its tenant's part of
// the result (reach.Filter.Among) instead of analysing the cloud.
//
// One result serves every tenant: classes are shared across accounts
// (instances with the same groups and peers have the same policy whoever
// owns them), and a rule change is folded once, not once per tenant.
type Live struct {
	v *view.View

	mu     sync.RWMutex // held for writing only while a change is folded in
	rev    int64        // the view revision the result describes
	cloud  *policy.Cloud
	r      *reach.Result
	vpcs   []*model.VPC
	err    error         // why the follower stopped
	notify chan struct{} // closed and replaced when rev advances
	// demand wakes a follower that lingers: a reader waits for a revision
	// the result does not hold yet.
	demand chan struct{}

	// Folded counts the changes folded in incrementally and Rebuilt the
	// full recomputations (at start, after a VPC change or when the
	// follower fell behind the view's trail), for tests and metrics.
	folded, rebuilt int
	foldTime        time.Duration // spent folding changes in (the lock included)
	sinceRebuild    int           // snapshots folded since the last recomputation

	// owned keeps, for the revision held, what each caller owns (ownedIn
	// walks the whole cloud): readers of one revision share it.
	ownedMu  sync.Mutex
	ownedRev int64
	owned    map[ownerKey]ownedCloud
}

type ownerKey struct{ account, region string }

// maxOwned bounds the callers whose ownership one revision keeps.
const maxOwned = 256

// ownedBy is ownedIn(st.cloud, st.vpcs, c), made once per revision and
// caller; st must be the state a read holds (its revision cannot move).
func (l *Live) ownedBy(st liveState, c service.Caller) ownedCloud {
	k := ownerKey{c.Account, c.Region}
	l.ownedMu.Lock()
	if l.ownedRev != st.rev || len(l.owned) >= maxOwned {
		l.ownedRev, l.owned = st.rev, map[ownerKey]ownedCloud{}
	}
	o, ok := l.owned[k]
	l.ownedMu.Unlock()
	if ok {
		return o
	}
	o = ownedIn(st.cloud, st.vpcs, c)
	l.ownedMu.Lock()
	if l.ownedRev == st.rev {
		l.owned[k] = o
	}
	l.ownedMu.Unlock()
	return o
}

// rebuildEvery bounds the snapshots folded in between recomputations: the
// port sets and meets an incremental result interns are never forgotten,
// so a fresh result, now and then, drops those no class uses any more.
const rebuildEvery = 20000

// foldDelay is how long the follower lets changes gather before folding
// them in when no reader waits for them: under a stream of writes it folds
// a few times a second, each fold taking many changes (a group written
// twice is folded once), instead of once per commit. A reader that needs a
// revision the result does not hold wakes the follower at once, so reads
// never wait for the delay.
const foldDelay = 500 * time.Millisecond

// NewLive starts following a view; Close (or the view's end) stops it.
func NewLive(v *view.View) *Live {
	l := &Live{v: v, notify: make(chan struct{}), demand: make(chan struct{}, 1)}
	go l.follow()
	return l
}

func (l *Live) follow() {
	for {
		l.mu.RLock()
		rev, r := l.rev, l.r
		l.mu.RUnlock()
		want := rev + 1
		if r == nil {
			want = 0
		}
		s, err := l.v.Wait(context.Background(), want)
		if err == nil && r != nil {
			l.linger()
			if cur := l.v.Current(); cur != nil && cur.Revision() > s.Revision() {
				s = cur
			}
		}
		if err != nil {
			l.mu.Lock()
			l.err = err
			close(l.notify)
			l.notify = make(chan struct{})
			l.mu.Unlock()
			return
		}
		if err := l.advance(s); err != nil {
			// A record that does not decode: recompute from the snapshot,
			// and if even that fails, wait for the next one.
			if l.rebuild(s) != nil {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// linger waits for foldDelay or until a reader asks for a newer result.
func (l *Live) linger() {
	t := time.NewTimer(foldDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.demand:
	}
}

// advance folds the changes from the result's revision up to snapshot s.
func (l *Live) advance(s *view.Snapshot) error {
	if l.r == nil { // only the follower writes r: reading it here needs no lock
		return l.rebuild(s)
	}
	start := time.Now()
	refs, ok := l.v.Changed(l.rev, s.Revision())
	if !ok || l.sinceRebuild >= rebuildEvery {
		return l.rebuild(s)
	}
	l.sinceRebuild++
	ed, full, err := editOf(s, l.cloud, refs)
	if err != nil {
		return err
	}
	if full {
		return l.rebuild(s)
	}
	next := l.cloud.Next(ed)
	l.mu.Lock()
	if ch := changeOf(ed); !ch.Empty() {
		l.r.Update(next, ch)
		l.folded++
	}
	l.cloud, l.rev = next, s.Revision()
	l.foldTime += time.Since(start)
	l.publish()
	l.mu.Unlock()
	return nil
}

// rebuild recomputes the result from a snapshot, outside the lock.
func (l *Live) rebuild(s *view.Snapshot) error {
	st, err := computeState(s)
	if err != nil {
		return err
	}
	st.r.Clone() // from now on r writes copy-on-write, so readers may clone it
	l.mu.Lock()
	l.cloud, l.r, l.vpcs, l.rev = st.cloud, st.r, st.vpcs, st.rev
	l.rebuilt++
	l.sinceRebuild = 0
	l.publish()
	l.mu.Unlock()
	return nil
}

func (l *Live) publish() {
	close(l.notify)
	l.notify = make(chan struct{})
}

// Stats reports how many changes were folded in and how many full
// recomputations were made.
func (l *Live) Stats() (folded, rebuilt int) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.folded, l.rebuilt
}

// FoldTime is the time spent folding changes in so far: from reading what
// a snapshot changed to publishing the updated result.
func (l *Live) FoldTime() time.Duration {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.foldTime
}

// liveState is what a reader sees: a result, its cloud and revision, valid
// while the read lasts.
type liveState struct {
	r     *reach.Result
	cloud *policy.Cloud
	vpcs  []*model.VPC
	rev   int64
	live  *Live // nil for a result computed for one request
}

// ownedBy marks the caller's instances and groups in the state's cloud
// (see ownedIn); the maps it returns are shared: read them only.
func (st liveState) ownedBy(c service.Caller) ownedCloud {
	if st.live == nil {
		return ownedIn(st.cloud, st.vpcs, c)
	}
	return st.live.ownedBy(st, c)
}

// Read runs fn on the live result once it holds revision rev or later.
// The result must not be kept after fn returns (Clone it to keep it).
func (l *Live) read(ctx context.Context, rev int64, fn func(liveState) error) error {
	for {
		l.mu.RLock()
		if l.r != nil && l.rev >= rev {
			defer l.mu.RUnlock()
			return fn(liveState{r: l.r, cloud: l.cloud, vpcs: l.vpcs, rev: l.rev, live: l})
		}
		ch, err := l.notify, l.err
		l.mu.RUnlock()
		if err != nil {
			return fmt.Errorf("live reachability stopped: %w", err)
		}
		select { // wake a lingering follower (one token is enough)
		case l.demand <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// editOf turns changed records into an edit of prev, reading their current
// versions in tx. full is set when the change needs a recomputation (a VPC
// or a classic instance's addresses changed: the inside blocks are options
// of the whole result).
func editOf(tx store.ReadTx, prev *policy.Cloud, refs []view.Ref) (ed policy.Edit, full bool, err error) {
	ed = policy.Edit{Groups: map[string]*model.SecurityGroup{}, Instances: map[string]*model.Instance{},
		PrefixLists: map[string]*model.PrefixList{}, PortRangeLists: map[string]*model.PortRangeList{}}
	var toggled []string // instances created or deleted: their ENIs' NICs come or go
	for _, ref := range refs {
		switch ref.Kind {
		case service.KindVPC:
			return ed, true, nil
		case service.KindGroup:
			if ed.Groups[ref.ID], err = objectOf[model.SecurityGroup](tx, ref.Kind, ref.ID); err != nil {
				return ed, false, err
			}
		case service.KindPrefixList:
			if ed.PrefixLists[ref.ID], err = objectOf[model.PrefixList](tx, ref.Kind, ref.ID); err != nil {
				return ed, false, err
			}
		case service.KindPortRangeList:
			if ed.PortRangeLists[ref.ID], err = objectOf[model.PortRangeList](tx, ref.Kind, ref.ID); err != nil {
				return ed, false, err
			}
		case service.KindInstance:
			in, err := objectOf[model.Instance](tx, ref.Kind, ref.ID)
			if err != nil {
				return ed, false, err
			}
			if insideMoved(prev.Instances[ref.ID], in) {
				return ed, true, nil
			}
			ed.Instances[ref.ID] = in
			if (in == nil) != (prev.Instances[ref.ID] == nil) {
				toggled = append(toggled, ref.ID)
			}
		case service.KindENI:
			n, err := objectOf[model.NetworkInterface](tx, ref.Kind, ref.ID)
			if err != nil {
				return ed, false, err
			}
			if err := setNIC(tx, ed, ref.ID, n); err != nil {
				return ed, false, err
			}
		}
	}
	for _, id := range toggled {
		enis, err := service.ENIsOfInstance(tx, id)
		if err != nil {
			return ed, false, err
		}
		for _, n := range enis {
			if err := setNIC(tx, ed, n.ID, n); err != nil {
				return ed, false, err
			}
		}
	}
	return ed, false, nil
}

// insideMoved tells whether an instance's change moves the inside blocks
// (reach.InsideBlocks): a classic instance's addresses are among them.
func insideMoved(before, after *model.Instance) bool {
	key := func(in *model.Instance) (string, []netip.Addr) {
		if in == nil || !in.Classic() {
			return "", nil
		}
		return in.Owner, in.Addresses()
	}
	o1, a1 := key(before)
	o2, a2 := key(after)
	return o1 != o2 || !slices.Equal(a1, a2)
}

// setNIC puts an ENI's NIC into an edit as model.NICs makes it: a NIC when
// it is a secondary ENI attached to an instance that exists, else none.
func setNIC(tx store.ReadTx, ed policy.Edit, id string, n *model.NetworkInterface) error {
	ed.Instances[id] = nil
	if n == nil || !n.SecondaryNIC() {
		return nil
	}
	in, err := objectOf[model.Instance](tx, service.KindInstance, n.InstanceID)
	if err != nil || in == nil {
		return err
	}
	ed.Instances[id] = n.NIC()
	return nil
}

// changeOf names an edit's records for reach's Update.
func changeOf(ed policy.Edit) reach.Change {
	ch := reach.Change{}
	for id := range ed.Groups {
		ch.Groups = append(ch.Groups, id)
	}
	for id := range ed.Instances {
		ch.Instances = append(ch.Instances, id)
	}
	for id := range ed.PrefixLists {
		ch.PrefixLists = append(ch.PrefixLists, id)
	}
	for id := range ed.PortRangeLists {
		ch.PortRangeLists = append(ch.PortRangeLists, id)
	}
	for _, s := range [][]string{ch.Groups, ch.Instances, ch.PrefixLists, ch.PortRangeLists} {
		slices.Sort(s)
	}
	return ch
}

// objectOf reads one record as its model value (nil when it does not
// exist): the view's decoded object, shared, or the store's JSON.
func objectOf[T any](tx store.ReadTx, kind store.Kind, id string) (*T, error) {
	r, ok, err := tx.Get(kind, id)
	if err != nil || !ok {
		return nil, err
	}
	if o, isT := r.Object.(*T); isT {
		return o, nil
	}
	v := new(T)
	if err := json.Unmarshal(r.Data, v); err != nil {
		return nil, fmt.Errorf("decode %s/%s: %w", kind, id, err)
	}
	return v, nil
}
