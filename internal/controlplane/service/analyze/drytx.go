package analyze

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
)

// errNotInView stops a dry run over the view that needs what the view does
// not hold (a kind it does not keep, a snapshot that moved on under the
// write): the plan runs the change in a rolled-back store transaction
// instead.
var errNotInView = errors.New("analyze: the dry run needs the store")

// viewDryStore runs a change's Updates over a snapshot of the in-memory
// view instead of the store: each Update's writes go to an overlay that is
// dropped afterwards (as the rolled-back transaction of dryStore would
// be), so a plan never waits for the store's writer nor reads SQLite.
// The service's writes read the view already (its indexes plus the
// changes since, which here are the overlay's own writes), so they run
// the same checks and write the same records as on the store.
type viewDryStore struct {
	store.Store // tokens are read from the store; nothing else is
	v           *view.View
	capture     func(store.ReadTx, *wrote) error
}

func (d *viewDryStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	snap := d.v.Current()
	if snap == nil {
		return 0, errNotInView
	}
	tx := &overlayTx{snap: snap, st: d.Store, ctx: ctx, w: map[view.Ref]*store.Record{}}
	if err := fn(tx); err != nil {
		return 0, err
	}
	if len(tx.wr.refs) > 0 {
		if err := d.capture(tx, &tx.wr); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// overlayTx is a store.Tx over a view snapshot whose writes stay in memory:
// w holds each written record (nil: deleted), wr the write order.
type overlayTx struct {
	snap *view.Snapshot
	st   store.Store
	ctx  context.Context
	w    map[view.Ref]*store.Record
	wr   wrote
}

var _ store.Tx = (*overlayTx)(nil)

func (t *overlayTx) Revision() int64 { return t.snap.Revision() }

func (t *overlayTx) Get(kind store.Kind, id string) (store.Record, bool, error) {
	if r, ok := t.w[view.Ref{Kind: kind, ID: id}]; ok {
		if r == nil {
			return store.Record{}, false, nil
		}
		// As the store's transactions do: a reader decodes its own copy,
		// never the object this run wrote (which the encoders may keep).
		c := *r
		c.Object = nil
		return c, true, nil
	}
	r, ok, err := t.snap.Get(kind, id)
	if err != nil {
		return r, ok, fmt.Errorf("%w: %v", errNotInView, err)
	}
	return r, ok, nil
}

func (t *overlayTx) List(kind store.Kind, q store.Query) ([]store.Record, error) {
	out, err := t.snap.List(kind, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotInView, err)
	}
	touched := false
	for ref := range t.w {
		if ref.Kind == kind {
			touched = true
			break
		}
	}
	if !touched {
		return out, nil
	}
	out = slices.DeleteFunc(out, func(r store.Record) bool {
		_, ok := t.w[view.Ref{Kind: kind, ID: r.ID}]
		return ok
	})
	for ref, r := range t.w {
		if ref.Kind == kind && r != nil && (q.Account == "" || r.Account == q.Account) && (q.Region == "" || r.Region == q.Region) {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b store.Record) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out, nil
}

// Token reads the store: ClientTokens are not in the view.
func (t *overlayTx) Token(account, token string) (tok store.Token, ok bool, err error) {
	err = t.st.View(t.ctx, func(tx store.ReadTx) error {
		tok, ok, err = tx.Token(account, token)
		return err
	})
	return tok, ok, err
}

func (t *overlayTx) note(ref view.Ref) error {
	if _, ok := t.w[ref]; !ok {
		return t.wr.note(t, ref) // before the write: t reads the snapshot's
	}
	return nil
}

func (t *overlayTx) Put(r store.Record) error {
	if r.Kind == "" || r.ID == "" {
		return fmt.Errorf("%w: empty kind or ID", store.ErrInvalid)
	}
	dec := service.Kinds[r.Kind]
	if dec == nil {
		return fmt.Errorf("%w: kind %q", errNotInView, r.Kind)
	}
	if r.Object == nil { // readers of the view expect the decoded value
		o, err := dec(r.Data)
		if err != nil {
			return err
		}
		r.Object = o
	}
	ref := view.Ref{Kind: r.Kind, ID: r.ID}
	if err := t.note(ref); err != nil {
		return err
	}
	r.Revision = t.snap.Revision() + 1
	t.w[ref] = &r
	return nil
}

func (t *overlayTx) Delete(kind store.Kind, id string) error {
	if kind == "" || id == "" {
		return fmt.Errorf("%w: empty kind or ID", store.ErrInvalid)
	}
	ref := view.Ref{Kind: kind, ID: id}
	if _, ok := t.w[ref]; !ok {
		if _, found, err := t.Get(kind, id); err != nil || !found {
			return err // deleting a missing record records no change
		}
	}
	if err := t.note(ref); err != nil {
		return err
	}
	t.w[ref] = nil
	return nil
}

// Expect holds by construction: the overlay's base is the snapshot the
// write reads.
func (t *overlayTx) Expect(kind store.Kind, id string, rev int64) error {
	if _, ok := t.w[view.Ref{Kind: kind, ID: id}]; ok {
		return fmt.Errorf("%w: Expect of %s/%s after writing it", store.ErrInvalid, kind, id)
	}
	var have int64
	if r := t.snap.Record(kind, id); r != nil {
		have = r.Revision
	}
	if have != rev {
		return fmt.Errorf("%w: %s/%s", store.ErrConflict, kind, id)
	}
	return nil
}

func (t *overlayTx) PutToken(store.Token) error { return nil }

// ChangesSince lists what the transaction sees changed after the view's
// revision (the service's writes ask, to read the view's indexes exactly):
// its own writes. Asked about another revision, the view moved on under
// the write: errNotInView.
func (t *overlayTx) ChangesSince(after int64) ([]store.Change, error) {
	if after != t.snap.Revision() {
		return nil, errNotInView
	}
	out := make([]store.Change, 0, len(t.wr.refs))
	for _, ref := range t.wr.refs {
		c := store.Change{Revision: after + 1, Kind: ref.Kind, ID: ref.ID, Op: store.OpPut}
		if r := t.w[ref]; r != nil {
			c.Account, c.Region = r.Account, r.Region
		} else {
			c.Op = store.OpDelete
		}
		out = append(out, c)
	}
	return out, nil
}
