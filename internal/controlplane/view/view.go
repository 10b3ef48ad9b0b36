// Package view keeps the store's resources in memory, decoded and indexed,
// at a known revision, and follows the store's change log to stay current —
// what the Kubernetes API server's watch cache and an informer do.
//
// Readers take a Snapshot: an immutable value at one revision, loaded with
// one atomic read, so a reader never waits for a writer and never sees part
// of a revision (all the changes of the revisions the follower read are
// applied to a new snapshot, which is then published at once). Applying
// copies only what changed: the table of each kind written (its ID map and
// the ID indexes of the scopes written), not the objects of other kinds.
//
// A Snapshot implements store.ReadTx, with each record's Object set to the
// decoded model value and Data nil, so the service's loaders read it as
// they read the store, without JSON.
package view

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// Decoder turns a record's JSON document into the value kept in the view
// (a pointer to a model type), e.g. Decode[model.Instance].
type Decoder func(data []byte) (any, error)

// Index is a secondary index of a kind: the IDs of its records by each key
// Keys gives for a record's decoded value (e.g. instances by group).
type Index struct {
	Kind store.Kind
	Name string
	Keys func(obj any) []string
	// Same, when set, reports whether two values of a record have the
	// same keys without making them: most writes change no key, and each
	// key made is an allocation. Tests (VerifyObjects) check its answer.
	Same func(old, next any) bool
}

// View is the in-memory state of a store, kept current by a follower
// goroutine until the store closes or Close is called.
type View struct {
	st      store.Store
	kinds   map[store.Kind]Decoder
	types   map[store.Kind]reflect.Type // of what each kind's Decoder returns
	indexes map[store.Kind][]Index
	snap    atomic.Pointer[Snapshot]

	mu     sync.Mutex
	notify chan struct{} // closed and replaced when snap advances
	err    error         // why the follower stopped, if it did

	cancel context.CancelFunc
	done   chan struct{}

	// historyLimit and historyBytes bound the changed records kept for
	// watchers, by count and by estimated memory (see history.go).
	historyLimit atomic.Int64
	historyBytes atomic.Int64
	waiting      atomic.Int64 // readers blocked in Wait
}

// Waiting is how many readers wait for a revision the view does not hold
// yet (long polls among them): tests use it to know a watch is waiting.
func (v *View) Waiting() int { return int(v.waiting.Load()) }

// currentRevisioner is a store that knows its last committed revision
// without a query (sqlite.Store); reads then wait for the view to hold it,
// which makes them linearizable: a read sees every write answered before it.
type currentRevisioner interface{ CurrentRevision() int64 }

// New builds a view of the kinds given (others are not kept) and starts
// following the store. The first read waits for the initial load.
func New(st store.Store, kinds map[store.Kind]Decoder, indexes ...Index) *View {
	ctx, cancel := context.WithCancel(context.Background())
	v := &View{st: st, kinds: kinds, indexes: map[store.Kind][]Index{}, notify: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	v.historyLimit.Store(DefaultHistory)
	v.historyBytes.Store(DefaultHistoryBytes)
	for _, ix := range indexes {
		v.indexes[ix.Kind] = append(v.indexes[ix.Kind], ix)
	}
	v.types = map[store.Kind]reflect.Type{}
	for kind, dec := range kinds {
		if o, err := dec([]byte("{}")); err == nil {
			v.types[kind] = reflect.TypeOf(o)
		}
	}
	go v.follow(ctx)
	return v
}

// Close stops the follower.
func (v *View) Close() {
	v.cancel()
	<-v.done
}

// Revision is the revision of the current snapshot (0 before the initial
// load).
func (v *View) Revision() int64 {
	if s := v.snap.Load(); s != nil {
		return s.rev
	}
	return 0
}

// Current returns the latest snapshot without waiting (nil before the
// initial load).
func (v *View) Current() *Snapshot { return v.snap.Load() }

// ErrStopped is returned when the view no longer follows the store.
var ErrStopped = errors.New("view: not following the store")

// Wait returns a snapshot at revision rev or later.
func (v *View) Wait(ctx context.Context, rev int64) (*Snapshot, error) {
	for {
		v.mu.Lock()
		s, ch, err := v.snap.Load(), v.notify, v.err
		v.mu.Unlock()
		if s != nil && s.rev >= rev {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
		v.waiting.Add(1)
		select {
		case <-ch:
			v.waiting.Add(-1)
		case <-ctx.Done():
			v.waiting.Add(-1)
			return nil, ctx.Err()
		}
	}
}

// Linearizable reports whether Snapshot waits for every committed write
// (the store tells its revision): then a writer need not wait for the view
// before answering, since the reads that follow will.
func (v *View) Linearizable() bool {
	_, ok := v.st.(currentRevisioner)
	return ok
}

// Snapshot returns a snapshot holding every write the store has committed
// (when the store can tell its revision cheaply; otherwise the latest).
func (v *View) Snapshot(ctx context.Context) (*Snapshot, error) {
	var want int64
	if c, ok := v.st.(currentRevisioner); ok {
		want = c.CurrentRevision()
	}
	if s := v.snap.Load(); s != nil && s.rev >= want {
		return s, nil
	}
	return v.Wait(ctx, max(want, 0))
}

func (v *View) publish(s *Snapshot) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.snap.Store(s)
	close(v.notify)
	v.notify = make(chan struct{})
}

func (v *View) stop(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.err = fmt.Errorf("%w: %w", ErrStopped, err)
	close(v.notify)
	v.notify = make(chan struct{})
}

// follow loads the store, then applies its change log as it grows.
func (v *View) follow(ctx context.Context) {
	defer close(v.done)
	var s *Snapshot
	for {
		var err error
		if s, err = v.load(ctx); err == nil {
			break
		}
		if ctx.Err() != nil || errors.Is(err, store.ErrClosed) {
			v.stop(err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.publish(s)
	for {
		if _, err := v.st.WaitRevision(ctx, s.rev); err != nil {
			v.stop(err)
			return
		}
		next, err := v.catchUp(ctx, s)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, store.ErrClosed) || errors.Is(err, errModified) || errors.Is(err, errPublishedModified) || errors.Is(err, errSameKeys) {
				v.stop(err)
				return
			}
			time.Sleep(10 * time.Millisecond) // transient (e.g. busy): retry
			continue
		}
		if next != s {
			s = next
			v.publish(s)
		}
	}
}

// load reads every record of the view's kinds in one store snapshot.
func (v *View) load(ctx context.Context) (*Snapshot, error) {
	s := &Snapshot{tables: map[store.Kind]*table{}, kinds: v.kinds}
	err := v.st.View(ctx, func(tx store.ReadTx) error {
		s.rev = tx.Revision()
		for kind, dec := range v.kinds {
			recs, err := tx.List(kind, store.Query{})
			if err != nil {
				return err
			}
			t := &table{byID: make(map[string]*store.Record, len(recs)), idx: map[scope][]string{}, sec: map[string]map[string][]string{}}
			for _, ix := range v.indexes[kind] {
				t.sec[ix.Name] = map[string][]string{}
			}
			memos := make([]store.Memo, len(recs)) // one allocation, as recs
			for i := range recs {
				r := &recs[i]
				r.Memo = &memos[i]
				if r.Object, err = dec(r.Data); err != nil {
					return fmt.Errorf("view: decode %s/%s: %w", kind, r.ID, err)
				}
				r.Data = nil
				t.byID[r.ID] = r
				if VerifyObjects {
					notePublished(r)
				}
				for _, sc := range scopesOf(r) {
					t.idx[sc] = append(t.idx[sc], r.ID) // List is in ID order
				}
				for _, ix := range v.indexes[kind] {
					for _, k := range uniq(ix.Keys(r.Object)) {
						t.sec[ix.Name][k] = append(t.sec[ix.Name][k], r.ID)
					}
				}
			}
			s.tables[kind] = t
		}
		return nil
	})
	return s, err
}

// catchUp applies the changes after s's revision, up to the revision of one
// store snapshot, reading each changed record in that snapshot: the result
// is the store's state at exactly that revision.
func (v *View) catchUp(ctx context.Context, s *Snapshot) (*Snapshot, error) {
	if r, ok := v.st.(store.Recent); ok {
		if ws, rev, ok := r.Recent(s.rev); ok {
			return v.applyWritten(s, ws, rev)
		}
	}
	next := s
	err := v.st.View(ctx, func(tx store.ReadTx) error {
		rev := tx.Revision()
		if rev <= s.rev {
			return nil
		}
		// Changes runs in a later store snapshot than tx, so it holds every
		// entry up to rev; later ones are left for the next round.
		changes, err := v.st.Changes(ctx, s.rev, 0)
		if err != nil {
			return err
		}
		a := newApplier(s, rev, v.indexes)
		seen := map[recordKey]bool{}
		for _, ch := range changes {
			if ch.Revision > rev {
				break
			}
			dec, kept := v.kinds[ch.Kind]
			k := recordKey{ch.Kind, ch.ID}
			if !kept || seen[k] {
				continue
			}
			seen[k] = true
			r, ok, err := tx.Get(ch.Kind, ch.ID)
			if err != nil {
				return err
			}
			if !ok {
				a.remove(ch.Kind, ch.ID)
				continue
			}
			if r.Object, err = dec(r.Data); err != nil {
				return fmt.Errorf("view: decode %s/%s: %w", ch.Kind, ch.ID, err)
			}
			a.put(&r)
		}
		if a.err != nil {
			return a.err
		}
		next = a.done(v)
		return nil
	})
	return next, err
}

// VerifyObjects makes the view check each Object a writer handed over (see
// applyWritten) against the JSON stored with it: a writer that modified
// the value after Put would leave the view unlike the store. Tests set it.
var VerifyObjects = false

var errModified = errors.New("view: the object handed over with a change is not what was stored (modified after Put?)")

// errPublishedModified: a published object changed in place. Readers
// share the view's values; a writer must change a copy (a refused write
// that changed the view's own value left reads unlike the store).
var errPublishedModified = errors.New("view: an object the view published was modified in place (change a copy of what a read returned)")

// published holds, with VerifyObjects, the JSON of each object when the
// view took it, by the record that holds it, to find one modified in place
// when its record is replaced or removed (and by CheckObjects).
var published sync.Map // *store.Record → []byte

// notePublished records r's object as the view takes it.
func notePublished(r *store.Record) {
	if b, err := json.Marshal(r.Object); err == nil {
		published.Store(r, b)
	}
}

// checkPublished reports whether old's object is as the view took it, and
// forgets it (old is leaving the view).
func checkPublished(old *store.Record) error {
	b, ok := published.LoadAndDelete(old)
	if !ok {
		return nil
	}
	return samePublished(old, b.([]byte))
}

// samePublished reports whether r's object still encodes as b, its JSON
// when the view took it.
func samePublished(r *store.Record, b []byte) error {
	if now, err := json.Marshal(r.Object); err != nil || !bytes.Equal(now, b) {
		return fmt.Errorf("%w: %s/%s: %s, published as %s", errPublishedModified, r.Kind, r.ID, now, b)
	}
	return nil
}

// CheckObjects checks, with VerifyObjects, that no object of the latest
// snapshot was modified in place since the view took it; tests call it
// at their end, when refused writes that did so have had no later write to
// be caught at.
func (v *View) CheckObjects() error {
	if !VerifyObjects {
		return nil
	}
	s := v.snap.Load()
	if s == nil {
		return nil
	}
	for _, t := range s.tables {
		for _, r := range t.byID {
			if b, ok := published.Load(r); ok {
				if err := samePublished(r, b.([]byte)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var errSameKeys = errors.New("view: an index's Same said a record kept its keys, but they changed")

// applyWritten applies changes the store handed over in memory, with the
// records as written: their Object when it has the kind's type (the value
// the writer encoded), else their Data decoded.
func (v *View) applyWritten(s *Snapshot, ws []store.Written, rev int64) (*Snapshot, error) {
	if rev <= s.rev {
		return s, nil
	}
	a := newApplier(s, rev, v.indexes)
	for _, w := range ws {
		dec, kept := v.kinds[w.Kind]
		if !kept {
			continue
		}
		if w.Record == nil {
			a.remove(w.Kind, w.ID)
			continue
		}
		r := *w.Record
		if r.Object == nil || reflect.TypeOf(r.Object) != v.types[w.Kind] {
			var err error
			if r.Object, err = dec(r.Data); err != nil {
				return nil, fmt.Errorf("view: decode %s/%s: %w", w.Kind, w.ID, err)
			}
		} else if VerifyObjects {
			if b, err := json.Marshal(r.Object); err != nil || !bytes.Equal(b, r.Data) {
				return nil, fmt.Errorf("%w: %s/%s: %s != %s", errModified, w.Kind, w.ID, b, r.Data)
			}
		}
		a.put(&r)
	}
	if a.err != nil {
		return nil, a.err
	}
	return a.done(v), nil
}

type recordKey struct {
	kind store.Kind
	id   string
}

// scope is an index key: records of an account and region, "" matching
// any (so the four combinations a store.Query can ask for are all indexed).
type scope struct{ account, region string }

// scopesOf lists each scope a record is in once: a global record (no
// account or no region) would otherwise name one scope twice, and a loaded
// view would list it twice.
func scopesOf(r *store.Record) []scope {
	out := make([]scope, 0, 4)
	for _, sc := range [4]scope{{r.Account, r.Region}, {"", r.Region}, {r.Account, ""}, {"", ""}} {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// table holds the records of one kind: by ID, their sorted IDs by scope,
// and by the keys of each secondary index (sec[name][key]).
type table struct {
	byID map[string]*store.Record
	idx  map[scope][]string
	sec  map[string]map[string][]string
}

// applier builds the next snapshot, copying each table and index the first
// time it changes it.
type applier struct {
	snap    *Snapshot
	indexes map[store.Kind][]Index
	tables  map[store.Kind]bool // copied already
	idx     map[store.Kind]map[scope]bool
	sec     map[store.Kind]map[[2]string]bool
	prev    *Snapshot   // the snapshot snap is made from
	batch   *Batch      // what snap changes, for the history
	pos     map[Ref]int // each record's place in batch.Changes
	sizes   []int64     // each change's changeBytes, by place
	err     error       // the first an index's Same was found wrong (VerifyObjects)
}

func newApplier(s *Snapshot, rev int64, indexes map[store.Kind][]Index) *applier {
	return &applier{
		snap:    &Snapshot{rev: rev, tables: maps.Clone(s.tables), kinds: s.kinds},
		indexes: indexes,
		tables:  map[store.Kind]bool{},
		idx:     map[store.Kind]map[scope]bool{},
		sec:     map[store.Kind]map[[2]string]bool{},
		prev:    s,
		batch:   &Batch{From: s.rev, To: rev},
		pos:     map[Ref]int{},
	}
}

// note records that a record becomes next (nil: deleted) in the snapshot
// being built, once per record with its value before: for the watchers'
// history (Snapshot.Since) and View.Changed, whichever path (written values
// or the change log) fed the applier.
// dataLen is the length of next's JSON, for the history's bound.
func (a *applier) note(kind store.Kind, id string, next *store.Record, dataLen int) {
	r := Ref{kind, id}
	if i, ok := a.pos[r]; ok {
		a.batch.Changes[i].New = next
		a.sizes[i] = changeBytes(dataLen)
		return
	}
	a.pos[r] = len(a.batch.Changes)
	a.batch.Changes = append(a.batch.Changes, Change{Kind: kind, ID: id, Old: a.prev.Record(kind, id), New: next})
	a.sizes = append(a.sizes, changeBytes(dataLen))
}

// done returns the snapshot built, its history extended by its batch (a
// record that did not exist before and does not after is no change) within
// v's bounds.
func (a *applier) done(v *View) *Snapshot {
	kept := a.batch.Changes[:0]
	for i, c := range a.batch.Changes {
		if c.Old == nil && c.New == nil {
			continue
		}
		kept = append(kept, c)
		a.batch.bytes += a.sizes[i]
	}
	clear(a.batch.Changes[len(kept):])
	a.batch.Changes = kept
	a.snap.hist = a.prev.hist.appended(a.batch, int(v.historyLimit.Load()), v.historyBytes.Load())
	return a.snap
}

func (a *applier) table(kind store.Kind) *table {
	t := a.snap.tables[kind]
	if !a.tables[kind] {
		a.tables[kind] = true
		var nt *table
		if t != nil {
			nt = &table{byID: maps.Clone(t.byID), idx: maps.Clone(t.idx), sec: make(map[string]map[string][]string, len(t.sec))}
			for name, m := range t.sec {
				nt.sec[name] = maps.Clone(m)
			}
		} else {
			nt = &table{byID: map[string]*store.Record{}, idx: map[scope][]string{}, sec: map[string]map[string][]string{}}
		}
		for _, ix := range a.indexes[kind] {
			if nt.sec[ix.Name] == nil {
				nt.sec[ix.Name] = map[string][]string{}
			}
		}
		a.snap.tables[kind], t = nt, nt
		a.idx[kind] = map[scope]bool{}
		a.sec[kind] = map[[2]string]bool{}
	}
	return t
}

// secIDs returns the IDs under key of a secondary index, ready to be
// modified.
func (a *applier) secIDs(kind store.Kind, t *table, name, key string) []string {
	k := [2]string{name, key}
	if !a.sec[kind][k] {
		a.sec[kind][k] = true
		t.sec[name][key] = slices.Clone(t.sec[name][key])
	}
	return t.sec[name][key]
}

// reindex moves id between the keys of kind's secondary indexes, from
// those of old to those of next (either may be nil).
func (a *applier) reindex(kind store.Kind, t *table, id string, old, next any) {
	for _, ix := range a.indexes[kind] {
		if old != nil && next != nil && ix.Same != nil && ix.Same(old, next) {
			if VerifyObjects && a.err == nil && !slices.Equal(uniq(ix.Keys(old)), uniq(ix.Keys(next))) {
				a.err = fmt.Errorf("%w: index %s of %s, record %s: %q, then %q", errSameKeys, ix.Name, kind, id, ix.Keys(old), ix.Keys(next))
			}
			continue
		}
		var before, after []string
		if old != nil {
			before = uniq(ix.Keys(old))
		}
		if next != nil {
			after = uniq(ix.Keys(next))
		}
		for _, k := range before {
			if slices.Contains(after, k) {
				continue
			}
			ids := a.secIDs(kind, t, ix.Name, k)
			if i, found := slices.BinarySearch(ids, id); found {
				ids = slices.Delete(ids, i, i+1)
				if len(ids) == 0 {
					delete(t.sec[ix.Name], k)
				} else {
					t.sec[ix.Name][k] = ids
				}
			}
		}
		for _, k := range after {
			// Most writes keep their keys: the shared list is not copied then.
			if _, found := slices.BinarySearch(t.sec[ix.Name][k], id); found {
				continue
			}
			ids := a.secIDs(kind, t, ix.Name, k)
			if i, found := slices.BinarySearch(ids, id); !found {
				t.sec[ix.Name][k] = slices.Insert(ids, i, id)
			}
		}
	}
}

// uniq is keys without repeats.
func uniq(keys []string) []string {
	if len(keys) < 2 {
		return keys
	}
	out := slices.Clone(keys)
	slices.Sort(out)
	return slices.Compact(out)
}

// ids returns the index of a scope, ready to be modified.
func (a *applier) ids(kind store.Kind, t *table, sc scope) []string {
	if !a.idx[kind][sc] {
		a.idx[kind][sc] = true
		t.idx[sc] = slices.Clone(t.idx[sc])
	}
	return t.idx[sc]
}

// put keeps r without its Data: the Object serves reads.
func (a *applier) put(r *store.Record) {
	dataLen := len(r.Data)
	r.Data = nil
	r.Memo = new(store.Memo) // a new value: nothing derived from the old one
	t := a.table(r.Kind)
	old := t.byID[r.ID]
	if old != nil && (old.Account != r.Account || old.Region != r.Region) {
		a.remove(r.Kind, r.ID)
		old = nil
	}
	a.note(r.Kind, r.ID, r, dataLen) // after a move's remove, which noted nil
	var oldObj any
	if old != nil {
		oldObj = old.Object
	}
	if VerifyObjects {
		if old != nil && old != r {
			if err := checkPublished(old); err != nil && a.err == nil {
				a.err = err
			}
		}
		notePublished(r)
	}
	a.reindex(r.Kind, t, r.ID, oldObj, r.Object)
	t.byID[r.ID] = r
	if old != nil {
		return // in its scopes already (a move removed it): their lists are not copied
	}
	for _, sc := range scopesOf(r) {
		ids := a.ids(r.Kind, t, sc)
		if i, found := slices.BinarySearch(ids, r.ID); !found {
			t.idx[sc] = slices.Insert(ids, i, r.ID)
		}
	}
}

func (a *applier) remove(kind store.Kind, id string) {
	a.note(kind, id, nil, 0)
	t := a.table(kind)
	old := t.byID[id]
	if old == nil {
		return
	}
	if VerifyObjects {
		if err := checkPublished(old); err != nil && a.err == nil {
			a.err = err
		}
	}
	delete(t.byID, id)
	a.reindex(kind, t, id, old.Object, nil)
	for _, sc := range scopesOf(old) {
		ids := a.ids(kind, t, sc)
		if i, found := slices.BinarySearch(ids, id); found {
			ids = slices.Delete(ids, i, i+1)
			if len(ids) == 0 {
				delete(t.idx, sc)
			} else {
				t.idx[sc] = ids
			}
		}
	}
}
