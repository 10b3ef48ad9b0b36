package service

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
)

// optTx runs a write outside the store's serialized section: against a
// snapshot of the in-memory view, with its writes kept in memory. What it
// reads becomes the preconditions of the one small store transaction that
// commits it (commit): every record read is at the revision read (an
// absent one still absent), and no record has entered a listing or an
// index key it read. The store's serialized section then only checks
// those and writes — microseconds — instead of running the action; a
// failed precondition is store.ErrConflict, which Update retries.
type optTx struct {
	snap *view.Snapshot
	// w holds the records written (nil: deleted), order their first-write
	// order; dirty the same by kind, as indexed reports it.
	w     map[view.Ref]*store.Record
	order []view.Ref
	dirty map[store.Kind]map[string]bool
	// expects are the revisions read (0: absent), checked at commit.
	expects map[view.Ref]int64
	// soft are revisions read for a check that recheck can redo on the
	// state at commit: when one has moved, the rechecks run instead of a
	// conflict (two writes to groups that share members do not conflict
	// unless their sum crosses the quota).
	soft     map[view.Ref]int64
	rechecks []func(cur store.ReadTx) error
	// preds are the listings and index keys read: no record of theirs
	// may appear at commit that the read did not return.
	preds []readPred
	toks  []store.Token
	// conflict is the first precondition found failed already.
	conflict error

	// checkPreds' scratch, kept with the transaction for reuse: the
	// records put since the snapshot that it looks at, each once, and
	// the function that finds them (a closure made once).
	putRefs []view.Ref
	putSeen map[view.Ref]bool
	notePut func(c *store.Change)
	// cur is commit's reader of the state it commits on.
	cur curTx
}

var _ store.Tx = (*optTx)(nil)

// readPred is a listing (index "") or an index key read.
type readPred struct {
	kind      store.Kind
	q         store.Query
	index     string
	key       string
	indexKeys func(any) []string
	// created: only a record new to the listing or key fails the read (a
	// quota's count, which a change in place or a delete does not raise).
	created bool
}

// matches reports whether a record (with its Object) belongs to the read.
func (p *readPred) matches(r *store.Record) bool {
	if p.index == "" {
		return (p.q.Account == "" || r.Account == p.q.Account) && (p.q.Region == "" || r.Region == p.q.Region)
	}
	return r.Object != nil && slices.Contains(p.indexKeys(r.Object), p.key)
}

// optTxs are transactions for reuse: every write makes one, and its maps
// were a good part of what running a write allocated.
var optTxs = sync.Pool{New: func() any {
	return &optTx{w: map[view.Ref]*store.Record{}, dirty: map[store.Kind]map[string]bool{}, expects: map[view.Ref]int64{}}
}}

// maxPooledRefs bounds the records a transaction kept for reuse read or
// wrote: a map keeps the room it grew to.
const maxPooledRefs = 256

func newOptTx(snap *view.Snapshot) *optTx {
	t := optTxs.Get().(*optTx)
	t.snap = snap
	return t
}

// release hands t back for reuse once its write is over (the store's
// Update has returned: the commit no longer runs). Nothing of t outlives
// it: the store's Put copies the records written, and the maps indexed
// lends serve only the action's run.
func (t *optTx) release() {
	if t.reset() {
		optTxs.Put(t)
	}
}

// reset empties t for reuse, keeping its maps' and lists' room; false
// when they grew too large to keep.
func (t *optTx) reset() bool {
	if len(t.w) > maxPooledRefs || len(t.expects) > maxPooledRefs || len(t.soft) > maxPooledRefs ||
		len(t.preds) > maxPooledRefs || len(t.rechecks) > maxPooledRefs || len(t.toks) > maxPooledRefs || len(t.putSeen) > maxPooledRefs {
		return false
	}
	clear(t.w)
	for _, ids := range t.dirty {
		clear(ids) // an empty set reads as the absent one
	}
	clear(t.expects)
	clear(t.soft)
	clear(t.order)
	clear(t.rechecks)
	clear(t.preds)
	clear(t.toks)
	clear(t.putRefs)
	clear(t.putSeen)
	t.order, t.rechecks, t.preds, t.toks, t.putRefs = t.order[:0], t.rechecks[:0], t.preds[:0], t.toks[:0], t.putRefs[:0]
	t.snap, t.conflict, t.cur = nil, nil, curTx{}
	return true
}

// Revision implements store.ReadTx: the snapshot's.
func (t *optTx) Revision() int64 { return t.snap.Revision() }

// viewRecordCopy is a view record as a backend's read gives it: its JSON, no
// Object, so the writer may modify what it decodes.
func viewRecordCopy(r *store.Record) (store.Record, error) {
	out := *r
	if out.Object != nil {
		b, err := json.Marshal(out.Object)
		if err != nil {
			return store.Record{}, fmt.Errorf("service: encode %s/%s: %w", r.Kind, r.ID, err)
		}
		out.Data, out.Object = b, nil
	}
	return out, nil
}

// Get implements store.ReadTx: the transaction's own write, else the
// snapshot's record, whose revision (0: absent) becomes a precondition.
func (t *optTx) Get(kind store.Kind, id string) (store.Record, bool, error) {
	ref := view.Ref{Kind: kind, ID: id}
	if r, ok := t.w[ref]; ok {
		if r == nil {
			return store.Record{}, false, nil
		}
		out := *r
		out.Object = nil
		return out, true, nil
	}
	if _, _, err := t.snap.Get(kind, id); err != nil {
		return store.Record{}, false, err // a kind the view does not keep
	}
	r := t.snap.Record(kind, id)
	var rev int64
	if r != nil {
		rev = r.Revision
	}
	if err := t.Expect(kind, id, rev); err != nil {
		return store.Record{}, false, err
	}
	if r == nil {
		return store.Record{}, false, nil
	}
	out, err := viewRecordCopy(r)
	return out, err == nil, err
}

// List implements store.ReadTx: the snapshot's listing with the
// transaction's writes; each record a precondition, and the listing one.
func (t *optTx) List(kind store.Kind, q store.Query) ([]store.Record, error) {
	recs, err := t.snap.List(kind, q)
	if err != nil {
		return nil, err
	}
	t.preds = append(t.preds, readPred{kind: kind, q: q})
	out := make([]store.Record, 0, len(recs))
	for i := range recs {
		r := &recs[i]
		if _, mine := t.w[view.Ref{Kind: kind, ID: r.ID}]; mine {
			continue
		}
		if err := t.Expect(kind, r.ID, r.Revision); err != nil {
			return nil, err
		}
		c, err := viewRecordCopy(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for _, ref := range t.order {
		if r := t.w[ref]; ref.Kind == kind && r != nil && (q.Account == "" || r.Account == q.Account) && (q.Region == "" || r.Region == q.Region) {
			c := *r
			c.Object = nil
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b store.Record) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// errTokenInView: update reads and writes ClientTokens in the store.
var errTokenInView = fmt.Errorf("service: ClientTokens are read in the commit, not by the action: %w", store.ErrInvalid)

// Token implements store.ReadTx; Update checks tokens itself.
func (t *optTx) Token(account, token string) (store.Token, bool, error) {
	return store.Token{}, false, errTokenInView
}

// Put implements store.Tx.
func (t *optTx) Put(r store.Record) error {
	if r.Kind == "" || r.ID == "" {
		return fmt.Errorf("service: put: %w: empty kind or id", store.ErrInvalid)
	}
	t.note(view.Ref{Kind: r.Kind, ID: r.ID}, &r)
	return nil
}

// Delete implements store.Tx. Deleting a record absent from what the
// transaction sees records nothing, as a backend's Delete.
func (t *optTx) Delete(kind store.Kind, id string) error {
	if kind == "" || id == "" {
		return fmt.Errorf("service: delete: %w: empty kind or id", store.ErrInvalid)
	}
	ref := view.Ref{Kind: kind, ID: id}
	if _, mine := t.w[ref]; mine || t.snap.Record(kind, id) != nil {
		t.note(ref, nil)
	}
	return nil
}

func (t *optTx) note(ref view.Ref, r *store.Record) {
	if _, ok := t.w[ref]; !ok {
		t.order = append(t.order, ref)
	}
	t.w[ref] = r
	if t.dirty[ref.Kind] == nil {
		t.dirty[ref.Kind] = map[string]bool{}
	}
	t.dirty[ref.Kind][ref.ID] = true
}

// Expect implements store.Tx: checked against the snapshot now, and
// against the store at commit.
func (t *optTx) Expect(kind store.Kind, id string, rev int64) error {
	if kind == "" || id == "" || rev < 0 {
		return fmt.Errorf("service: expect: %w: empty kind or id, or negative revision", store.ErrInvalid)
	}
	ref := view.Ref{Kind: kind, ID: id}
	if _, mine := t.w[ref]; mine {
		return fmt.Errorf("service: expect %s/%s: %w: the transaction has written it already; state preconditions before writing", kind, id, store.ErrInvalid)
	}
	var have int64
	if r := t.snap.Record(kind, id); r != nil {
		have = r.Revision
	}
	if prev, ok := t.expects[ref]; ok && prev != rev || have != rev {
		err := fmt.Errorf("service: %s/%s is at revision %d, not %d: %w", kind, id, have, rev, store.ErrConflict)
		if t.conflict == nil {
			t.conflict = err
		}
		return err
	}
	t.expects[ref] = rev
	return nil
}

// PutToken implements store.Tx: written at commit.
func (t *optTx) PutToken(tok store.Token) error {
	if tok.Token == "" {
		return fmt.Errorf("service: put token: %w: empty token", store.ErrInvalid)
	}
	t.toks = append(t.toks, tok)
	return nil
}

// readIndex notes an index key read (lookup).
func (t *optTx) readIndex(kind store.Kind, name, key string) {
	t.preds = append(t.preds, readPred{kind: kind, index: name, key: key, indexKeys: indexKeys(kind, name)})
}

// readSoft notes a record read from the snapshot for a check that recheck
// redoes when it has moved by commit.
func (t *optTx) readSoft(kind store.Kind, id string, rev int64) {
	if t.soft == nil {
		t.soft = map[view.Ref]int64{}
	}
	ref := view.Ref{Kind: kind, ID: id}
	if _, ok := t.soft[ref]; !ok {
		t.soft[ref] = rev
	}
}

// recheck adds a check to redo at commit, on the state then, when a soft
// read has moved; it fails with an error wrapping store.ErrConflict (the
// action runs again, and refuses itself).
func (t *optTx) recheck(f func(cur store.ReadTx) error) { t.rechecks = append(t.rechecks, f) }

// revisioner is a write transaction that tells a record's revision without
// failing it as Expect does (sqlite's).
type revisioner interface {
	RevisionOf(kind store.Kind, id string) (int64, error)
}

// commit checks t's preconditions in the store's transaction tx and
// applies its writes and tokens.
func (t *optTx) commit(tx store.Tx) error {
	if t.conflict != nil {
		return t.conflict
	}
	for ref, rev := range t.expects {
		if err := tx.Expect(ref.Kind, ref.ID, rev); err != nil {
			return err
		}
	}
	t.cur = curTx{Tx: tx, snap: t.snap}
	cur := &t.cur
	moved := false
	for ref, rev := range t.soft {
		if _, hard := t.expects[ref]; hard {
			continue
		}
		have, err := cur.revision(ref.Kind, ref.ID)
		if err != nil {
			return err
		}
		if have != rev {
			moved = true
			break
		}
	}
	if moved {
		for _, f := range t.rechecks {
			if err := f(cur); err != nil {
				return err
			}
		}
	}
	if err := t.checkPreds(tx, cur); err != nil {
		return err
	}
	for _, ref := range t.order {
		var err error
		if r := t.w[ref]; r == nil {
			err = tx.Delete(ref.Kind, ref.ID)
		} else {
			err = tx.Put(*r)
		}
		if err != nil {
			return err
		}
	}
	for _, tok := range t.toks {
		if err := tx.PutToken(tok); err != nil {
			return err
		}
	}
	return nil
}

// checkPreds fails when a record not read (so not a precondition) has
// entered a listing or index key the action read, from the changes since
// the snapshot.
func (t *optTx) checkPreds(tx store.Tx, cur *curTx) error {
	if len(t.preds) == 0 {
		return nil
	}
	entered := func(r *store.Record) error {
		for i := range t.preds {
			p := &t.preds[i]
			if p.kind != r.Kind || !p.matches(r) {
				continue
			}
			if old := t.snap.Record(r.Kind, r.ID); p.created && old != nil && p.matches(old) {
				continue // counted already
			}
			return fmt.Errorf("service: %s/%s entered a listing the write read: %w", r.Kind, r.ID, store.ErrConflict)
		}
		return nil
	}
	// The records put since the snapshot, of the kinds read, not read
	// themselves, each once (notePut).
	if t.notePut == nil {
		t.notePut = t.notePutChange
	}
	each := t.notePut
	switch cs := tx.(type) {
	case eachChangeSince:
		if err := cs.EachChangeSince(t.snap.Revision(), each); err != nil {
			return err
		}
	case changesSince:
		changes, err := cs.ChangesSince(t.snap.Revision())
		if err != nil {
			return err
		}
		for i := range changes {
			each(&changes[i])
		}
	default:
		// Not a store optimistic writes run on (see Service.optimistic):
		// the write runs again, in the store's transaction.
		return fmt.Errorf("service: the store lists no changes to check the write's listings against: %w", store.ErrConflict)
	}
	for _, ref := range t.putRefs {
		r, ok, err := cur.object(ref.Kind, ref.ID)
		if err != nil {
			return err
		}
		if ok {
			if err := entered(&r); err != nil {
				return err
			}
		}
	}
	return nil
}

// notePutChange adds to putRefs the record a change puts when checkPreds
// looks at it: of a kind read, not read itself, and not yet added.
func (t *optTx) notePutChange(c *store.Change) {
	if c.Op != store.OpPut || !slices.ContainsFunc(t.preds, func(p readPred) bool { return p.kind == c.Kind }) {
		return
	}
	ref := view.Ref{Kind: c.Kind, ID: c.ID}
	_, read := t.expects[ref]
	_, mine := t.w[ref]
	if read || mine || t.putSeen[ref] {
		return
	}
	if t.putSeen == nil {
		t.putSeen = map[view.Ref]bool{}
	}
	t.putSeen[ref] = true
	t.putRefs = append(t.putRefs, ref)
}

// eachChangeSince is a changesSince that hands out the changes one by one
// (sqlite's): a commit copies none of those it skips.
type eachChangeSince interface {
	EachChangeSince(after int64, f func(c *store.Change)) error
}

// curTx reads the state a commit sees, for rechecks: from memory where the
// store or the view hold it as it is, else from the store. Its records
// carry their decoded Object (read only).
type curTx struct {
	store.Tx
	snap *view.Snapshot
}

// revision is the record's revision in the store's transaction (0: absent).
func (c *curTx) revision(kind store.Kind, id string) (int64, error) {
	if rv, ok := c.Tx.(revisioner); ok {
		return rv.RevisionOf(kind, id)
	}
	r, ok, err := c.Tx.Get(kind, id)
	if err != nil || !ok {
		return 0, err
	}
	return r.Revision, nil
}

// object is the record as the commit sees it, decoded.
func (c *curTx) object(kind store.Kind, id string) (store.Record, bool, error) {
	if p, ok := c.Tx.(recordPeeker); ok {
		if r, known := p.PeekRecord(kind, id); known {
			if r == nil {
				return store.Record{}, false, nil
			}
			if decoded(kind, r.Object) {
				return *r, true, nil
			}
		}
	}
	if _, ok := c.Tx.(revisioner); ok {
		// The view's value, when it is still the record's.
		if v := c.snap.Record(kind, id); v != nil {
			if have, err := c.revision(kind, id); err == nil && have == v.Revision {
				return *v, true, nil
			}
		}
	}
	r, ok, err := c.Tx.Get(kind, id)
	if err != nil || !ok {
		return r, ok, err
	}
	if dec := Kinds[kind]; dec != nil {
		if r.Object, err = dec(r.Data); err != nil {
			return store.Record{}, false, fmt.Errorf("service: decode %s/%s: %w", kind, id, err)
		}
	}
	return r, true, nil
}

// kindTypes are the types of the kinds' decoded values.
var kindTypes = func() map[store.Kind]reflect.Type {
	out := map[store.Kind]reflect.Type{}
	for kind, dec := range Kinds {
		if o, err := dec([]byte("{}")); err == nil {
			out[kind] = reflect.TypeOf(o)
		}
	}
	return out
}()

// decoded reports whether obj is a decoded value of kind (a writer may
// have handed the store another type, or none).
func decoded(kind store.Kind, obj any) bool {
	return obj != nil && reflect.TypeOf(obj) == kindTypes[kind]
}

// Get implements store.ReadTx for the rechecks.
func (c *curTx) Get(kind store.Kind, id string) (store.Record, bool, error) {
	return c.object(kind, id)
}
