package service

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The view's secondary indexes, by name. One mechanism serves them all
// (view.Index): each maps a record to its keys; reads look a key up
// (Snapshot.Indexed), writes through lookup, which adds what the write
// changed. Keys of values that are not unique across tenants (names, tags,
// addresses) are scoped to the account and region (scoped), so a lookup
// never walks another tenant's records.
const (
	byGroup      = "group"      // instances and secondary ENIs, by the groups they are in
	byName       = "name"       // groups by name (scoped)
	byVPC        = "vpc"        // groups (scoped), instances and vSwitches by VPC
	byTag        = "tag"        // groups and instances by tag (scoped): key=value, and key alone
	byPrefixList = "prefixlist" // groups by the prefix lists their rules use
	byPortList   = "portlist"   // groups by the port range lists their rules use
	byVSwitch    = "vswitch"    // instances and ENIs by vSwitch
	byInstance   = "instance"   // secondary ENIs by the instance they are attached to
	byHost       = "host"       // instances and ENIs by the host that enforces them
	byClassic    = "classic"    // classic-network NICs, under classicKey (for a host's scope)
	byAddr       = "addr"       // instances by private, IPv6 and public address (scoped)
	byKeyPair    = "keypair"    // instances by the key pair they hold (its store key)
	// The public pool is shared by every account: its addresses are not
	// scoped.
	byPublic      = "public"      // instances and EIPs by public address
	byPlainPublic = "plainpublic" // instances with a public IP that is no EIP's, by owner
)

// scoped is an index key of a value unique only within an account and
// region.
func scoped(account, region, v string) string { return account + "\x00" + region + "\x00" + v }

// tagKey is the byTag key of a tag filter: with a value, or any value.
func tagKey(account, region string, t model.Tag) string {
	if t.Value == "" {
		return scoped(account, region, t.Key+"\x00*")
	}
	return scoped(account, region, t.Key+"="+t.Value)
}

// tagKeys are the byTag keys of a resource's tags.
func tagKeys(account, region string, tags []model.Tag) []string {
	out := make([]string, 0, 2*len(tags))
	for _, t := range tags {
		out = append(out, tagKey(account, region, model.Tag{Key: t.Key}))
		if t.Value != "" {
			out = append(out, tagKey(account, region, t))
		}
	}
	return out
}

// classicKey is the one byClassic key.
const classicKey = "classic"

// classic is the byClassic key of a NIC in a VPC (none) or in the classic
// network.
func classic(vpc string) []string {
	if vpc != "" {
		return nil
	}
	return []string{classicKey}
}

// nonEmpty is keys without "".
func nonEmpty(keys ...string) []string {
	return slices.DeleteFunc(keys, func(k string) bool { return k == "" })
}

// Indexes are the view's secondary indexes.
var Indexes = []view.Index{
	{Kind: KindInstance, Name: byGroup, Keys: func(o any) []string { return o.(*model.Instance).SecurityGroups }},
	{Kind: KindENI, Name: byGroup, Keys: func(o any) []string { return o.(*model.NetworkInterface).SecurityGroups }},
	// A group's rules change most, and none of these keys with them.
	{Kind: KindGroup, Name: byName, Keys: func(o any) []string {
		g := o.(*model.SecurityGroup)
		return []string{scoped(g.Owner, g.Region, g.Name)}
	}, Same: func(old, next any) bool {
		a, b := old.(*model.SecurityGroup), next.(*model.SecurityGroup)
		return a.Owner == b.Owner && a.Region == b.Region && a.Name == b.Name
	}},
	{Kind: KindGroup, Name: byVPC, Keys: func(o any) []string {
		g := o.(*model.SecurityGroup)
		return []string{scoped(g.Owner, g.Region, g.VpcID)}
	}, Same: func(old, next any) bool {
		a, b := old.(*model.SecurityGroup), next.(*model.SecurityGroup)
		return a.Owner == b.Owner && a.Region == b.Region && a.VpcID == b.VpcID
	}},
	{Kind: KindGroup, Name: byTag, Keys: func(o any) []string {
		g := o.(*model.SecurityGroup)
		return tagKeys(g.Owner, g.Region, g.Tags)
	}, Same: func(old, next any) bool {
		a, b := old.(*model.SecurityGroup), next.(*model.SecurityGroup)
		return a.Owner == b.Owner && a.Region == b.Region && slices.Equal(a.Tags, b.Tags)
	}},
	{Kind: KindGroup, Name: byPrefixList, Keys: func(o any) []string {
		var out []string
		for _, r := range o.(*model.SecurityGroup).Rules {
			if r.Peer.PrefixListID != "" {
				out = append(out, r.Peer.PrefixListID)
			}
		}
		return out
	}},
	{Kind: KindGroup, Name: byPortList, Keys: func(o any) []string {
		var out []string
		for _, r := range o.(*model.SecurityGroup).Rules {
			if r.PortRangeListID != "" {
				out = append(out, r.PortRangeListID)
			}
		}
		return out
	}},
	{Kind: KindInstance, Name: byVPC, Keys: func(o any) []string { return nonEmpty(o.(*model.Instance).VpcID) }},
	// A vSwitch never changes VPC: the vSwitch quota counts them.
	{Kind: KindVSwitch, Name: byVPC, Keys: func(o any) []string { return nonEmpty(o.(*model.VSwitch).VpcID) }, Same: func(old, next any) bool {
		return old.(*model.VSwitch).VpcID == next.(*model.VSwitch).VpcID
	}},
	{Kind: KindInstance, Name: byVSwitch, Keys: func(o any) []string { return nonEmpty(o.(*model.Instance).VSwitchID) }},
	{Kind: KindInstance, Name: byHost, Keys: func(o any) []string { return nonEmpty(o.(*model.Instance).Host) }},
	{Kind: KindInstance, Name: byKeyPair, Keys: func(o any) []string {
		if in := o.(*model.Instance); in.KeyPairName != "" {
			return []string{keyPairKey(Caller{Account: in.Owner, Region: in.Region}, in.KeyPairName)}
		}
		return nil
	}},
	{Kind: KindENI, Name: byHost, Keys: func(o any) []string { return nonEmpty(o.(*model.NetworkInterface).Host) }},
	{Kind: KindAccessKey, Name: byHost, Keys: func(o any) []string { return nonEmpty(o.(*model.AccessKey).Host) }},
	{Kind: KindInstance, Name: byClassic, Keys: func(o any) []string { return classic(o.(*model.Instance).VpcID) }},
	{Kind: KindENI, Name: byClassic, Keys: func(o any) []string { return classic(o.(*model.NetworkInterface).VpcID) }},
	{Kind: KindInstance, Name: byTag, Keys: func(o any) []string {
		in := o.(*model.Instance)
		return tagKeys(in.Owner, in.Region, in.Tags)
	}},
	{Kind: KindInstance, Name: byAddr, Keys: func(o any) []string {
		in := o.(*model.Instance)
		var out []string
		for _, a := range append([]netip.Addr{in.PrivateIP, in.PublicIP}, in.IPv6s()...) {
			if a.IsValid() {
				out = append(out, scoped(in.Owner, in.Region, a.String()))
			}
		}
		return out
	}},
	{Kind: KindENI, Name: byVSwitch, Keys: func(o any) []string { return nonEmpty(o.(*model.NetworkInterface).VSwitchID) }},
	{Kind: KindInstance, Name: byPublic, Keys: func(o any) []string { return publicKey(o.(*model.Instance).PublicIP) }},
	{Kind: KindEIP, Name: byPublic, Keys: func(o any) []string { return publicKey(o.(*model.EIP).Address) }},
	{Kind: KindInstance, Name: byPlainPublic, Keys: func(o any) []string {
		if in := o.(*model.Instance); in.PublicIP.IsValid() && in.EipID == "" {
			return []string{in.Owner}
		}
		return nil
	}},
	{Kind: KindENI, Name: byInstance, Keys: func(o any) []string { return nonEmpty(o.(*model.NetworkInterface).InstanceID) }},
}

// publicKey is the byPublic key of a public address (none when unset).
func publicKey(a netip.Addr) []string {
	if !a.IsValid() {
		return nil
	}
	return []string{a.String()}
}

// indexKeys returns the key function of index name of kind.
func indexKeys(kind store.Kind, name string) func(any) []string {
	for _, ix := range Indexes {
		if ix.Kind == kind && ix.Name == name {
			return ix.Keys
		}
	}
	panic("service: no index " + name + " of " + string(kind))
}

// lookup returns the records of kind under key in index name as tx sees
// them, in ID order, each with its decoded value in Object (shared with
// the view when unchanged: read only). ok is false when tx has no view to
// ask (scan instead). In a write, the records the write has changed (or
// an earlier write of its batch) are read from tx and checked against the
// key again, and those read from the view become preconditions.
func lookup(tx store.ReadTx, kind store.Kind, name, key string) (recs []*store.Record, ok bool, err error) {
	snap, dirty, ok, err := indexed(tx)
	if err != nil || !ok {
		return nil, false, err
	}
	if t, isOpt := tx.(*optTx); isOpt {
		t.readIndex(kind, name, key)
	}
	ids := snap.Indexed(kind, name, key)
	changed := dirty[kind]
	if len(changed) > 0 {
		ids = slices.Clone(ids)
		for id := range changed {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	keys := indexKeys(kind, name)
	for _, id := range ids {
		if !changed[id] {
			r := snap.Record(kind, id)
			if r == nil {
				continue
			}
			if err := expectRead(tx, kind, id, r.Revision); err != nil {
				return nil, false, err
			}
			if recs == nil {
				recs = make([]*store.Record, 0, len(ids)) // a group's members: many
			}
			recs = append(recs, r)
			continue
		}
		r, found, err := tx.Get(kind, id)
		if err != nil {
			return nil, false, err
		}
		if !found {
			continue
		}
		if r.Object == nil {
			if r.Object, err = Kinds[kind](r.Data); err != nil {
				return nil, false, fmt.Errorf("service: decode %s/%s: %w", kind, id, err)
			}
		}
		if slices.Contains(keys(r.Object), key) {
			recs = append(recs, &r)
		}
	}
	return recs, true, nil
}

// indexedList returns the records of kind under key in index name that are
// c's (its account and its region, each when c names one), in ID order,
// decoded for reading only: from the view's index (lookup), or from a scan
// of c's records when tx has no view to ask.
func indexedList(tx store.ReadTx, kind store.Kind, name, key string, c Caller) ([]*store.Record, error) {
	recs, ok, err := lookup(tx, kind, name, key)
	if err != nil {
		return nil, err
	}
	if ok {
		return slices.DeleteFunc(recs, func(r *store.Record) bool {
			return c.Account != "" && r.Account != c.Account || c.Region != "" && r.Region != c.Region
		}), nil
	}
	all, err := tx.List(kind, store.Query{Account: c.Account, Region: c.Region})
	if err != nil {
		return nil, err
	}
	keys := indexKeys(kind, name)
	for i := range all {
		r := &all[i]
		if r.Object == nil {
			if r.Object, err = Kinds[kind](r.Data); err != nil {
				return nil, fmt.Errorf("service: decode %s/%s: %w", kind, r.ID, err)
			}
		}
		if slices.Contains(keys(r.Object), key) {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// indexedObjects is indexedList's decoded values, for reading only.
func indexedObjects[T any](tx store.ReadTx, kind store.Kind, name, key string, c Caller) ([]*T, error) {
	recs, err := indexedList(tx, kind, name, key, c)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Object.(*T))
	}
	return out, nil
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
	switch t := tx.(type) {
	case *viewTx:
		return t.Tx.Expect(kind, id, rev)
	case *optTx:
		return t.Expect(kind, id, rev)
	}
	return nil
}

// peeker is a write transaction that lends the values written earlier in
// its batch, for reading only (sqlite's).
type peeker interface {
	Peek(kind store.Kind, id string) (obj any, found, known bool)
}

// recordPeeker is a write transaction that lends the records this
// process wrote lately, as the transaction sees them, for reading only
// (sqlite's): known is false for the others.
type recordPeeker interface {
	PeekRecord(kind store.Kind, id string) (r *store.Record, known bool)
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
	case *optTx:
		return t.snap, t.dirty, true, nil
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

// groupNICs returns c's NICs of kind in a group: instances, or secondary
// ENIs as NICs. They may be the view's shared values: callers only read
// them.
func groupNICs(tx store.ReadTx, kind store.Kind, c Caller, groupID string) ([]*model.Instance, error) {
	recs, err := indexedList(tx, kind, byGroup, groupID, c)
	if err != nil {
		return nil, err
	}
	var out []*model.Instance
	for _, r := range recs {
		if out == nil {
			out = make([]*model.Instance, 0, len(recs))
		}
		switch o := r.Object.(type) {
		case *model.Instance:
			out = append(out, o)
		case *model.NetworkInterface:
			out = append(out, o.NIC())
		}
	}
	return out, nil
}

// peekGroup reads a group for inspection only: the view's shared value
// when tx sees it unchanged (do not modify it), else decoded from tx.
func peekGroup(tx store.ReadTx, snap *view.Snapshot, dirty map[string]bool, id string) (*model.SecurityGroup, bool, error) {
	if snap != nil && !dirty[id] {
		g, rev := snapGroup(snap, id)
		if err := expectRead(tx, KindGroup, id, rev); err != nil {
			return nil, false, err
		}
		return g, g != nil, nil
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

// snapGroup is group id in snap (nil: none) and its revision, which a
// read of it expects (0: none).
func snapGroup(snap *view.Snapshot, id string) (*model.SecurityGroup, int64) {
	return snapObject[model.SecurityGroup](snap, KindGroup, id)
}

// snapObject is record (kind, id) in snap as a *T (nil: none, or not a T)
// and its revision, which a read of it expects (0: none).
func snapObject[T any](snap *view.Snapshot, kind store.Kind, id string) (*T, int64) {
	r := snap.Record(kind, id)
	if r == nil {
		return nil, 0
	}
	v, _ := r.Object.(*T)
	return v, r.Revision
}

// viewGroup is GetGroup in a write from the view, without decoding JSON:
// a deep copy (the write may change it) of the view's group when tx sees it
// unchanged and it is the caller's. nil, nil: read tx (get reports the
// errors).
func viewGroup(tx store.ReadTx, c Caller, id string) (*model.SecurityGroup, error) {
	if ot, ok := tx.(*optTx); ok && id != "" && !ot.dirty[KindGroup][id] {
		r := ot.snap.Record(KindGroup, id)
		if r == nil || r.Account != c.Account || c.Region != "" && r.Region != c.Region {
			return nil, nil
		}
		if err := ot.Expect(KindGroup, id, r.Revision); err != nil {
			return nil, err
		}
		return groupCopy(r)
	}
	vt, ok := tx.(*viewTx)
	if !ok || id == "" {
		return nil, nil
	}
	snap, dirty, ok, err := indexed(vt)
	if err != nil || !ok {
		return nil, err
	}
	var r *store.Record
	if dirty[KindGroup][id] {
		// Written since the view's snapshot: the written value, when the
		// store lends it (the view lags the writer under load, and a
		// client writing one group again would have it decoded from JSON).
		p, isP := vt.Tx.(recordPeeker)
		if !isP {
			return nil, nil
		}
		if r, ok = p.PeekRecord(KindGroup, id); !ok || r == nil {
			return nil, nil
		}
	} else if r = snap.Record(KindGroup, id); r == nil {
		return nil, nil
	}
	if r.Account != c.Account || c.Region != "" && r.Region != c.Region {
		return nil, nil
	}
	if !dirty[KindGroup][id] {
		if err := expectRead(vt, KindGroup, id, r.Revision); err != nil {
			return nil, err
		}
	}
	return groupCopy(r)
}

// sharedGroupRecord is the record of the caller's group id when tx is a
// read's snapshot of the view: shared, read only, with its Memo. nil:
// read the store.
func sharedGroupRecord(tx store.ReadTx, c Caller, id string) *store.Record {
	snap, ok := tx.(*view.Snapshot)
	if !ok || id == "" {
		return nil
	}
	r := snap.Record(KindGroup, id)
	if r == nil || r.Account != c.Account || c.Region != "" && r.Region != c.Region {
		return nil
	}
	if _, isG := r.Object.(*model.SecurityGroup); !isG {
		return nil
	}
	return r
}

// groupCopy is a copy of a record's group that a write may change (nil:
// the record holds no decoded group).
func groupCopy(r *store.Record) (*model.SecurityGroup, error) {
	o, isG := r.Object.(*model.SecurityGroup)
	if !isG {
		return nil, nil
	}
	g := *o
	// Room for a rule more: Authorize appends without copying the rules
	// again (a group of 20 rules fills its allocation exactly).
	g.Rules = append(make([]model.Rule, 0, len(g.Rules)+1), g.Rules...)
	g.Tags = slices.Clone(g.Tags)
	return &g, nil
}

// candidates narrows a listing to the shortest of the sorted ID lists
// that its filters select from the indexes.
type candidates struct {
	ids []string
	set bool // some filter gave a list; else every ID of the scope
}

func (c *candidates) narrow(ids []string) {
	if !c.set || len(ids) < len(c.ids) {
		c.ids, c.set = ids, true
	}
}

// uniqSorted is ids sorted, without repeats (a copy).
func uniqSorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
