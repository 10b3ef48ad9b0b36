package service

import (
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// byGroup indexes instances, and secondary ENIs, by the groups they are in.
const byGroup = "group"

// Indexes are the view's secondary indexes.
var Indexes = []view.Index{
	{Kind: KindInstance, Name: byGroup, Keys: func(o any) []string { return o.(*model.Instance).SecurityGroups }},
	{Kind: KindENI, Name: byGroup, Keys: func(o any) []string { return o.(*model.NetworkInterface).SecurityGroups }},
}

// viewTx is a write transaction that can ask the view what it has not
// changed: see indexed.
type viewTx struct {
	store.Tx
	view *view.View
	// What indexed found at its first call, kept current by Put and Delete.
	snap  *view.Snapshot
	dirty map[store.Kind]map[string]bool
}

// Put implements store.Tx, noting the record as changed since the view.
func (t *viewTx) Put(r store.Record) error {
	t.note(r.Kind, r.ID)
	return t.Tx.Put(r)
}

// Delete implements store.Tx, noting the record as changed since the view.
func (t *viewTx) Delete(kind store.Kind, id string) error {
	t.note(kind, id)
	return t.Tx.Delete(kind, id)
}

func (t *viewTx) note(kind store.Kind, id string) {
	if t.dirty == nil {
		return // indexed has not looked yet; it will see this write
	}
	if t.dirty[kind] == nil {
		t.dirty[kind] = map[string]bool{}
	}
	t.dirty[kind][id] = true
}

// expectRead states, in a write, that what it read from the view is what
// it commits on: the record (kind, id) is still at revision rev (0:
// absent) when the write commits (store.Tx.Expect; a conflict is retried
// by Update). Reads outside a write need none.
func expectRead(tx store.ReadTx, kind store.Kind, id string, rev int64) error {
	if t, ok := tx.(*viewTx); ok {
		return t.Tx.Expect(kind, id, rev)
	}
	return nil
}

// peeker is a write transaction that lends the values written earlier in
// its batch, for reading only (sqlite's).
type peeker interface {
	Peek(kind store.Kind, id string) (obj any, found, known bool)
}

// changesSince is a write transaction that lists what changed after a
// revision as it sees it (sqlite's, batch and own writes included).
type changesSince interface {
	ChangesSince(after int64) ([]store.Change, error)
}

// indexed returns what answers tx's reads from the view's indexes exactly:
// a snapshot, and the records (by kind and ID) tx sees otherwise, which must
// be read from tx. A view snapshot is its own answer. ok is false when tx
// cannot be answered so (no view, or a store without ChangesSince): read
// tx itself.
//
// This is how writes check quotas and invariants against the view: the
// snapshot (committed state, never ahead of tx) plus the changes since it
// is tx's state, and the view's indexes stand for a scan of the region.
// What a write reads from the snapshot it also states as a precondition
// (expectRead): with a serialized writer (sqlite) that holds by
// construction, and a backend whose writes interleave fails the commit
// instead, which Update retries.
func indexed(tx store.ReadTx) (snap *view.Snapshot, dirty map[store.Kind]map[string]bool, ok bool, err error) {
	switch t := tx.(type) {
	case *view.Snapshot:
		return t, nil, true, nil
	case *viewTx:
		if t.dirty != nil {
			return t.snap, t.dirty, true, nil
		}
		cs, isCS := t.Tx.(changesSince)
		snap := t.view.Current()
		if !isCS || snap == nil {
			return nil, nil, false, nil
		}
		// Once per transaction: what the transaction writes afterwards,
		// Put and Delete add.
		changes, err := cs.ChangesSince(snap.Revision())
		if err != nil {
			return nil, nil, false, err
		}
		dirty = map[store.Kind]map[string]bool{}
		for _, c := range changes {
			if dirty[c.Kind] == nil {
				dirty[c.Kind] = map[string]bool{}
			}
			dirty[c.Kind][c.ID] = true
		}
		t.snap, t.dirty = snap, dirty
		return snap, dirty, true, nil
	}
	return nil, nil, false, nil
}

// indexedMembers is members answered from the view's group index. The
// instances may be the view's shared values: callers only read them.
func indexedMembers(tx store.ReadTx, snap *view.Snapshot, dirty map[string]bool, c Caller, groupID string) ([]*model.Instance, error) {
	ids := snap.Indexed(KindInstance, byGroup, groupID)
	if len(dirty) > 0 {
		ids = slices.Clone(ids)
		for id := range dirty {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	var out []*model.Instance
	for _, id := range ids {
		var rec store.Record
		if dirty[id] {
			r, found, err := tx.Get(KindInstance, id)
			if err != nil {
				return nil, err
			}
			if !found {
				continue
			}
			rec = r
		} else if r := snap.Record(KindInstance, id); r != nil {
			if err := expectRead(tx, KindInstance, id, r.Revision); err != nil {
				return nil, err
			}
			rec = *r
		} else {
			continue
		}
		if rec.Account != c.Account || c.Region != "" && rec.Region != c.Region {
			continue
		}
		// The view's own value when unchanged: members are only read.
		in, isIn := rec.Object.(*model.Instance)
		if !isIn {
			var err error
			if in, err = decode[model.Instance](rec); err != nil {
				return nil, err
			}
		}
		if slices.Contains(in.SecurityGroups, groupID) {
			out = append(out, in)
		}
	}
	return out, nil
}

// peekGroup reads a group for inspection only: the view's shared value
// when tx sees it unchanged (do not modify it), else decoded from tx.
func peekGroup(tx store.ReadTx, snap *view.Snapshot, dirty map[string]bool, id string) (*model.SecurityGroup, bool, error) {
	if snap != nil && !dirty[id] {
		var rev int64
		r := snap.Record(KindGroup, id)
		if r != nil {
			rev = r.Revision
		}
		if err := expectRead(tx, KindGroup, id, rev); err != nil {
			return nil, false, err
		}
		if r == nil {
			return nil, false, nil
		}
		g := r.Object.(*model.SecurityGroup)
		return g, true, nil
	}
	if vt, ok := tx.(*viewTx); ok {
		if p, ok := vt.Tx.(peeker); ok {
			if obj, found, known := p.Peek(KindGroup, id); known && !found {
				return nil, false, nil
			} else if g, isG := obj.(*model.SecurityGroup); known && isG {
				return g, true, nil
			}
		}
	}
	g, ok, err := store.GetAs[model.SecurityGroup](tx, KindGroup, id)
	return &g, ok, err
}

// viewGroup is GetGroup in a write from the view, without decoding JSON:
// a deep copy (the write may change it) of the view's group when tx sees it
// unchanged and it is the caller's. nil, nil: read tx (get reports the
// errors).
func viewGroup(tx store.ReadTx, c Caller, id string) (*model.SecurityGroup, error) {
	vt, ok := tx.(*viewTx)
	if !ok || id == "" {
		return nil, nil
	}
	snap, dirty, ok, err := indexed(vt)
	if err != nil || !ok || dirty[KindGroup][id] {
		return nil, err
	}
	r := snap.Record(KindGroup, id)
	if r == nil || r.Account != c.Account || c.Region != "" && r.Region != c.Region {
		return nil, nil
	}
	if err := expectRead(vt, KindGroup, id, r.Revision); err != nil {
		return nil, err
	}
	g := *r.Object.(*model.SecurityGroup)
	g.Rules, g.Tags = slices.Clone(g.Rules), slices.Clone(g.Tags)
	return &g, nil
}
