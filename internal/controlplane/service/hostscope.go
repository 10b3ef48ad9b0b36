package service

import (
	"cmp"
	"maps"
	"reflect"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// What a host enforces, and nothing else: the scope of a host key's
// snapshot and watch (hosts.go). For host H it is
//
//   - the NICs bound to H: its instances, and its attached secondary ENIs
//     with their instances (model.NICs needs the instance of an ENI);
//   - their groups, with their rules;
//   - the groups those rules name as peers, without their rules, and the
//     members whose addresses a rule stands for: those of the peer groups
//     and of the NICs' own groups that accept traffic between members;
//   - for a NIC in classic-network groups, every NIC of its network (the
//     intranet path is "to an address of the network");
//   - the prefix lists and port range lists the rules name;
//   - the flow logs that cover its NICs (by ENI, vSwitch or VPC), without
//     their names, tags and SLS targets.
//
// A NIC not bound to H is sent as a stub: its ID, network, addresses and
// those of its groups that are in the scope (no name, tags, owner or
// placement), and a peer-only group as its ID and type. The agent compiles
// exactly the ruleset it would from the whole cloud (hosts_test checks it
// with the agent's compiler).

// scopeReader is the state a scope is computed from: a view snapshot, or
// one as it was at an earlier revision (pastReader).
type scopeReader interface {
	record(kind store.Kind, id string) *store.Record
	// indexed lists the IDs under key of a secondary index; name "" lists
	// every ID of the kind.
	indexed(kind store.Kind, name, key string) []string
}

type nowReader struct{ s *view.Snapshot }

func (r nowReader) record(kind store.Kind, id string) *store.Record { return r.s.Record(kind, id) }

func (r nowReader) indexed(kind store.Kind, name, key string) []string {
	if name == "" {
		return r.s.IDs(kind, store.Query{})
	}
	return r.s.Indexed(kind, name, key)
}

// pastReader is a snapshot as it was before the batches that lead to it:
// each record they changed has its value before the first of them.
type pastReader struct {
	s       *view.Snapshot
	old     map[recordKey]*store.Record // nil: absent then
	touched map[store.Kind][]string
}

type recordKey struct {
	kind store.Kind
	id   string
}

func newPastReader(s *view.Snapshot, batches []*view.Batch) *pastReader {
	p := &pastReader{s: s, old: map[recordKey]*store.Record{}, touched: map[store.Kind][]string{}}
	for _, b := range batches {
		for _, c := range b.Changes {
			k := recordKey{c.Kind, c.ID}
			if _, ok := p.old[k]; !ok {
				p.old[k] = c.Old
				p.touched[c.Kind] = append(p.touched[c.Kind], c.ID)
			}
		}
	}
	return p
}

func (r *pastReader) record(kind store.Kind, id string) *store.Record {
	if o, ok := r.old[recordKey{kind, id}]; ok {
		return o
	}
	return r.s.Record(kind, id)
}

func (r *pastReader) indexed(kind store.Kind, name, key string) []string {
	now := nowReader{r.s}.indexed(kind, name, key)
	touched := r.touched[kind]
	if len(touched) == 0 {
		return now
	}
	var keys func(any) []string
	for _, ix := range Indexes {
		if ix.Kind == kind && ix.Name == name {
			keys = ix.Keys
		}
	}
	out := make([]string, 0, len(now))
	for _, id := range now {
		if _, changed := r.old[recordKey{kind, id}]; !changed {
			out = append(out, id)
		}
	}
	for _, id := range touched {
		o := r.old[recordKey{kind, id}]
		if o != nil && (name == "" || keys != nil && slices.Contains(keys(o.Object), key)) {
			out = append(out, id)
		}
	}
	return out
}

// tracker records what a scope computation read, so that a batch of
// changes that touches none of it is known not to change the scope
// without computing it again (the computation is a function of its reads).
type tracker struct {
	r       scopeReader
	reads   map[recordKey]bool
	lookups map[lookupKey]bool
	scans   map[store.Kind]bool
}

type lookupKey struct {
	kind      store.Kind
	name, key string
}

func (t *tracker) record(kind store.Kind, id string) *store.Record {
	t.reads[recordKey{kind, id}] = true
	return t.r.record(kind, id)
}

func (t *tracker) indexed(kind store.Kind, name, key string) []string {
	if name == "" {
		t.scans[kind] = true
	} else {
		t.lookups[lookupKey{kind, name, key}] = true
	}
	return t.r.indexed(kind, name, key)
}

// affectedBy reports whether a change in batches may change the scope: it
// touches a record the scope read (other than in fields its stub leaves
// out), a kind it scanned, or (before or after) falls under an index key it
// looked up.
func (sc *hostScope) affectedBy(batches []*view.Batch) bool {
	for _, b := range batches {
		keys := lookupsOf(b)
		for i, c := range b.Changes {
			if read, other := sc.touches(c, keys[i]); read || other {
				return true
			}
		}
	}
	return false
}

// lookupsMemo memoises lookupsOf per batch.
type lookupsMemo struct{}

// lookupsOf is, for each change of b, the index keys its record falls
// under before and after: the same for every host, so made once per
// batch (a thousand hosts' streams check each change).
func lookupsOf(b *view.Batch) [][]lookupKey {
	return b.Memo(lookupsMemo{}, func() any {
		out := make([][]lookupKey, len(b.Changes))
		for i, c := range b.Changes {
			for _, ix := range Indexes {
				if ix.Kind != c.Kind {
					continue
				}
				for _, r := range []*store.Record{c.Old, c.New} {
					if r == nil {
						continue
					}
					for _, k := range ix.Keys(r.Object) {
						out[i] = append(out[i], lookupKey{c.Kind, ix.Name, k})
					}
				}
			}
		}
		return out
	}).([][]lookupKey)
}

// touches reports how a change may change the scope: read, it changes a
// record the scope read (other than in fields its stub leaves out); other,
// it is of a kind the scope scanned or (before or after) falls under an
// index key it looked up (keys: lookupsOf's for the change).
func (sc *hostScope) touches(c view.Change, keys []lookupKey) (read, other bool) {
	t := sc.deps
	if t.scans[c.Kind] {
		return false, true
	}
	for _, k := range keys {
		if t.lookups[k] {
			return false, true
		}
	}
	return t.reads[recordKey{c.Kind, c.ID}] && !sc.sameStub(c), false
}

// groupEdits recognises the commonest change, rules added to or removed
// from groups the host enforces, without computing the scope again: it
// returns the local groups that batches changed (none: nothing touched the
// scope) when every change that touches the scope is such an edit that leaves what the scope follows
// from the group as it was (its type, network, access between members and
// the peers and lists its rules name). The scope is then the same but for
// those groups' values; ok is false for any other change.
func (sc *hostScope) groupEdits(snap *view.Snapshot, batches []*view.Batch) (keys []recordKey, ok bool) {
	seen := map[recordKey]bool{}
	for _, b := range batches {
		lookups := lookupsOf(b)
		for i, c := range b.Changes {
			k := recordKey{c.Kind, c.ID}
			if seen[k] {
				continue
			}
			read, other := sc.touches(c, lookups[i])
			if other {
				return nil, false
			}
			if !read {
				continue
			}
			e, in := sc.entry(k)
			if c.Kind != KindGroup || !in || !e.local {
				return nil, false
			}
			now := snap.Record(KindGroup, c.ID)
			if now == nil || !sameShapeMemo(b, e.src, now) {
				return nil, false
			}
			seen[k] = true
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)
	return keys, true
}

// shapeMemo memoises sameShape per batch and pair of records.
type shapeMemo struct{ a, b *store.Record }

// sameShapeMemo is sameShape of two records' groups, made once per batch
// for every host that holds the same version.
func sameShapeMemo(batch *view.Batch, a, b *store.Record) bool {
	return batch.Memo(shapeMemo{a, b}, func() any {
		return sameShape(a.Object.(*model.SecurityGroup), b.Object.(*model.SecurityGroup))
	}).(bool)
}

// sameShape reports whether two versions of a group lead scopeOf the same
// way: all it reads of a group besides its rules' values.
func sameShape(a, b *model.SecurityGroup) bool {
	if a.ID != b.ID || a.Type != b.Type || a.VpcID != b.VpcID || a.InnerAccessPolicy != b.InnerAccessPolicy ||
		a.InnerAccept() != b.InnerAccept() || a.Classic() != b.Classic() {
		return false
	}
	return maps.Equal(namedBy(a), namedBy(b))
}

// namedBy is what a group's rules name: peer groups, prefix lists, port
// range lists.
func namedBy(g *model.SecurityGroup) map[recordKey]bool {
	out := map[recordKey]bool{}
	for i := range g.Rules {
		r := &g.Rules[i]
		if r.Peer.GroupID != "" {
			out[recordKey{KindGroup, r.Peer.GroupID}] = true
		}
		if r.Peer.PrefixListID != "" {
			out[recordKey{KindPrefixList, r.Peer.PrefixListID}] = true
		}
		if r.PortRangeListID != "" {
			out[recordKey{KindPortRangeList, r.PortRangeListID}] = true
		}
	}
	return out
}

// withGroups is the scope with the current values of the local groups
// keys, as snap holds them (groupEdits found nothing else changed). It
// shares what it does not change with sc.
// It also returns those of keys whose value sent differs from the one the
// host holds (a change of a field the host is not sent is not sent).
func (sc *hostScope) withGroups(snap *view.Snapshot, batch *view.Batch, keys []recordKey) (*hostScope, []recordKey) {
	n := *sc
	n.over = make(map[recordKey]scopeEntry, len(sc.over)+len(keys))
	maps.Copy(n.over, sc.over)
	var sent []recordKey
	for _, k := range keys {
		rec := snap.Record(k.kind, k.id)
		// A local group's stub is the same for every host: made once per
		// batch (memoised on batch, the snapshot's last).
		e := scopeEntry{rec, true, batch.Memo(localStubMemo{rec}, func() any { return sc.stubOf(rec.Object, true) })}
		if old, _ := sc.entry(k); old.src != rec && !reflect.DeepEqual(e.obj, old.obj) {
			sent = append(sent, k)
		}
		n.over[k] = e
	}
	if len(n.over) > maxOver {
		return n.flat(), sent
	}
	return &n, sent
}

// localStubMemo memoises a local group's stub per record (withGroups).
type localStubMemo struct{ rec *store.Record }

// maxOver is how many edited entries a scope keeps beside the entries it
// shares with the scope it was edited from before it copies them.
const maxOver = 32

// entry is the scope's entry for k.
func (sc *hostScope) entry(k recordKey) (scopeEntry, bool) {
	if e, ok := sc.over[k]; ok {
		return e, true
	}
	e, ok := sc.entries[k]
	return e, ok
}

// flat is sc with its edits merged into its own entries.
func (sc *hostScope) flat() *hostScope {
	if len(sc.over) == 0 {
		return sc
	}
	n := *sc
	n.entries = maps.Clone(sc.entries)
	maps.Copy(n.entries, sc.over)
	n.over = nil
	return &n
}

// scopeEntry is one record of a host's scope: what is sent (a stub or the
// model value) and the record it comes from.
type scopeEntry struct {
	src   *store.Record
	local bool // sent whole (bound to the host, or a group of such a NIC), not as a stub
	obj   any
}

// hostScope is the records host H's agent holds, by kind and ID.
type hostScope struct {
	entries  map[recordKey]scopeEntry
	over     map[recordKey]scopeEntry // edits over entries (withGroups), which other scopes share
	groups   []string                 // the groups in scope, sorted: stubs list only these
	groupSet map[string]bool
	deps     *tracker // what it was computed from
}

// stubOf is what the scope sends of a group, instance or ENI: the fields
// the host's compiler reads; more of what the host itself holds (local).
func (sc *hostScope) stubOf(obj any, local bool) any {
	inScope := func(ids []string) []string {
		out := []string{}
		for _, id := range ids {
			if sc.groupSet[id] {
				out = append(out, id)
			}
		}
		return out
	}
	switch o := obj.(type) {
	case *model.SecurityGroup:
		stub := &model.SecurityGroup{ID: o.ID, Type: o.Type, VpcID: o.VpcID, InnerAccessPolicy: o.InnerAccessPolicy}
		if local {
			stub.Region, stub.Owner, stub.Rules = o.Region, o.Owner, o.Rules
		}
		return stub
	case *model.Instance:
		stub := &model.Instance{ID: o.ID, VpcID: o.VpcID, PrivateIP: o.PrivateIP, SecondaryIPs: o.SecondaryIPs, IPv6: o.IPv6,
			MoreIPv6: o.MoreIPv6, SecurityGroups: inScope(o.SecurityGroups)}
		if local {
			stub.Region, stub.Owner, stub.VSwitchID, stub.Status = o.Region, o.Owner, o.VSwitchID, o.Status
			stub.SecurityGroups, stub.Host, stub.Interface = o.SecurityGroups, o.Host, o.Interface
		}
		return stub
	case *model.NetworkInterface:
		stub := &model.NetworkInterface{ID: o.ID, Type: o.Type, Status: o.Status, InstanceID: o.InstanceID, VpcID: o.VpcID,
			PrivateIP: o.PrivateIP, SecondaryIPs: o.SecondaryIPs, IPv6: o.IPv6, MoreIPv6: o.MoreIPv6, SecurityGroups: inScope(o.SecurityGroups)}
		if local {
			stub.Region, stub.Owner, stub.VSwitchID = o.Region, o.Owner, o.VSwitchID
			stub.SecurityGroups, stub.Host, stub.Interface = o.SecurityGroups, o.Host, o.Interface
		}
		return stub
	case *model.FlowLog:
		// What the agent needs to know what to record, and for whom.
		return &model.FlowLog{ID: o.ID, Region: o.Region, Owner: o.Owner, ResourceType: o.ResourceType, ResourceID: o.ResourceID,
			VpcID: o.VpcID, TrafficType: o.TrafficType, Interval: o.Interval, Status: o.Status}
	}
	return obj
}

// sameStub reports whether a change leaves a record the scope holds as a
// stub (a peer-only group, a NIC of another host) as it was: then the
// record's other fields (a peer group's rules, a name, tags, another
// host's placement) do not concern the host. Index keys are checked apart.
func (sc *hostScope) sameStub(c view.Change) bool {
	e, ok := sc.entry(recordKey{c.Kind, c.ID})
	if !ok || e.local || c.Old == nil || c.New == nil || c.Kind == KindPrefixList || c.Kind == KindPortRangeList {
		return false
	}
	return reflect.DeepEqual(sc.stubOf(c.Old.Object, false), sc.stubOf(c.New.Object, false))
}

// scopeOf computes what host enforces, as r holds it.
func scopeOf(from scopeReader, host string) *hostScope {
	r := &tracker{r: from, reads: map[recordKey]bool{}, lookups: map[lookupKey]bool{}, scans: map[store.Kind]bool{}}
	var (
		localInst = map[string]*model.Instance{}
		localENI  = map[string]*model.NetworkInterface{}
		nics      []*model.Instance // local NICs, as the engine sees them
		instances = map[string]*store.Record{}
		enis      = map[string]*store.Record{}
	)
	instanceOf := func(id string) *model.Instance {
		if rec := r.record(KindInstance, id); rec != nil {
			instances[id] = rec
			return rec.Object.(*model.Instance)
		}
		return nil
	}
	// addENI adds an attached secondary ENI with its instance; it reports
	// whether the ENI is a NIC.
	addENI := func(rec *store.Record) (*model.NetworkInterface, bool) {
		n := rec.Object.(*model.NetworkInterface)
		if !n.SecondaryNIC() {
			return n, false
		}
		enis[n.ID] = rec
		return n, instanceOf(n.InstanceID) != nil
	}
	for _, id := range r.indexed(KindInstance, byHost, host) {
		if in := instanceOf(id); in != nil && in.Host == host {
			localInst[id] = in
			nics = append(nics, in)
		}
	}
	for _, id := range r.indexed(KindENI, byHost, host) {
		rec := r.record(KindENI, id)
		if rec == nil {
			continue
		}
		if n, ok := addENI(rec); ok && n.Host == host {
			localENI[id] = n
			nics = append(nics, n.NIC())
		}
	}
	groups := map[string]*store.Record{}
	local := map[string]bool{}
	for _, nic := range nics {
		for _, gid := range nic.SecurityGroups {
			if rec := r.record(KindGroup, gid); rec != nil {
				groups[gid], local[gid] = rec, true
			}
		}
	}
	memberOf := map[string]bool{}
	lists := map[recordKey]*store.Record{}
	for gid := range local {
		g := groups[gid].Object.(*model.SecurityGroup)
		if g.InnerAccept() {
			memberOf[gid] = true
		}
		for i := range g.Rules {
			rule := &g.Rules[i]
			if p := rule.Peer.GroupID; p != "" {
				if rec := r.record(KindGroup, p); rec != nil {
					groups[p], memberOf[p] = rec, true
				}
			}
			if p := rule.Peer.PrefixListID; p != "" {
				if rec := r.record(KindPrefixList, p); rec != nil {
					lists[recordKey{KindPrefixList, p}] = rec
				}
			}
			if p := rule.PortRangeListID; p != "" {
				if rec := r.record(KindPortRangeList, p); rec != nil {
					lists[recordKey{KindPortRangeList, p}] = rec
				}
			}
		}
	}
	for gid := range memberOf {
		for _, id := range r.indexed(KindInstance, byGroup, gid) {
			instanceOf(id)
		}
		for _, id := range r.indexed(KindENI, byGroup, gid) {
			if rec := r.record(KindENI, id); rec != nil {
				addENI(rec)
			}
		}
	}
	// Classic-network NICs dispatch on "is the remote address one of my
	// network's": every NIC of the network is needed.
	networks := map[string]bool{}
	for _, nic := range nics {
		for _, gid := range nic.SecurityGroups {
			if rec := groups[gid]; rec != nil && rec.Object.(*model.SecurityGroup).Classic() {
				networks[nic.VpcID] = true
			}
		}
	}
	for vpc := range networks {
		name, key := byClassic, classicKey
		if vpc != "" {
			name = "" // not indexed (a VPC NIC in a classic group): scan
		}
		for _, id := range r.indexed(KindInstance, name, key) {
			if rec := r.record(KindInstance, id); rec != nil && rec.Object.(*model.Instance).VpcID == vpc {
				instanceOf(id)
			}
		}
		for _, id := range r.indexed(KindENI, name, key) {
			if rec := r.record(KindENI, id); rec != nil && rec.Object.(*model.NetworkInterface).VpcID == vpc {
				addENI(rec)
			}
		}
	}

	// The flow logs that cover a local NIC (few: scanned).
	if len(nics) > 0 {
		for _, id := range r.indexed(KindFlowLog, "", "") {
			rec := r.record(KindFlowLog, id)
			if rec == nil {
				continue
			}
			f := rec.Object.(*model.FlowLog)
			for _, nic := range nics {
				if f.Owner == nic.Owner && f.Names(model.NICENI(nic), nic.VSwitchID, nic.VpcID) {
					lists[recordKey{KindFlowLog, id}] = rec
					break
				}
			}
		}
	}

	sc := &hostScope{entries: make(map[recordKey]scopeEntry, len(groups)+len(instances)+len(enis)+len(lists)), deps: r}
	for gid := range groups {
		sc.groups = append(sc.groups, gid)
	}
	slices.Sort(sc.groups)
	sc.groupSet = make(map[string]bool, len(groups))
	for gid := range groups {
		sc.groupSet[gid] = true
	}
	for gid, rec := range groups {
		sc.entries[recordKey{KindGroup, gid}] = scopeEntry{rec, local[gid], sc.stubOf(rec.Object, local[gid])}
	}
	for id, rec := range instances {
		sc.entries[recordKey{KindInstance, id}] = scopeEntry{rec, localInst[id] != nil, sc.stubOf(rec.Object, localInst[id] != nil)}
	}
	for id, rec := range enis {
		sc.entries[recordKey{KindENI, id}] = scopeEntry{rec, localENI[id] != nil, sc.stubOf(rec.Object, localENI[id] != nil)}
	}
	for k, rec := range lists {
		sc.entries[k] = scopeEntry{rec, true, sc.stubOf(rec.Object, true)}
	}
	r.r = nil // a kept scope must not pin the view snapshot it was read from
	return sc
}

// snapshot lists the scope as a Snapshot, sorted by ID.
func (sc *hostScope) snapshot(rev int64) Snapshot {
	sc = sc.flat()
	out := Snapshot{Revision: rev}
	for _, k := range sc.keys() {
		out.add(k.kind, sc.entries[k].obj)
	}
	return out
}

func (sc *hostScope) keys() []recordKey {
	keys := make([]recordKey, 0, len(sc.entries))
	for k := range sc.entries {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

// add appends a record's value to the list of its kind.
func (s *Snapshot) add(kind store.Kind, obj any) {
	switch kind {
	case KindGroup:
		s.Groups = append(s.Groups, obj.(*model.SecurityGroup))
	case KindInstance:
		s.Instances = append(s.Instances, forAgents(obj.(*model.Instance)))
	case KindPrefixList:
		s.PrefixLists = append(s.PrefixLists, obj.(*model.PrefixList))
	case KindPortRangeList:
		s.PortRangeLists = append(s.PortRangeLists, obj.(*model.PortRangeList))
	case KindENI:
		s.ENIs = append(s.ENIs, obj.(*model.NetworkInterface))
	case KindFlowLog:
		s.FlowLogs = append(s.FlowLogs, obj.(*model.FlowLog))
	}
}

// scopeChanges is what takes an agent holding scope past to scope now:
// every record new or different in now, and every record of past that now
// lacks, each in ID order. found is false when there is nothing.
func scopeChanges(past, now *hostScope, rev int64) (out Changes, found bool) {
	out.Revision = rev
	past, now = past.flat(), now.flat()
	regrouped := !slices.Equal(past.groups, now.groups) // stubs list the groups in scope
	var put []recordKey
	for k, e := range now.entries {
		p, had := past.entries[k]
		if had && (p.src == e.src && p.local == e.local && !regrouped || reflect.DeepEqual(p.obj, e.obj)) {
			continue
		}
		put = append(put, k)
	}
	var gone []recordKey
	for k := range past.entries {
		if _, ok := now.entries[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(put, compareKeys)
	slices.SortFunc(gone, compareKeys)
	for _, k := range put {
		out.add(k.kind, now.entries[k].obj)
	}
	for _, k := range gone {
		out.Deleted = append(out.Deleted, Deleted{Kind: string(k.kind), Id: k.id})
	}
	return out, len(put)+len(gone) > 0
}

func compareKeys(a, b recordKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.id, b.id))
}

// add appends a record's value to the list of its kind.
func (c *Changes) add(kind store.Kind, obj any) {
	var s Snapshot
	s.Groups, s.Instances, s.PrefixLists, s.PortRangeLists, s.ENIs, s.FlowLogs = c.Groups, c.Instances, c.PrefixLists, c.PortRangeLists, c.ENIs, c.FlowLogs
	s.add(kind, obj)
	c.Groups, c.Instances, c.PrefixLists, c.PortRangeLists, c.ENIs, c.FlowLogs = s.Groups, s.Instances, s.PrefixLists, s.PortRangeLists, s.ENIs, s.FlowLogs
}

// forAgents is an instance as the agents' snapshots and changes carry it:
// without its user data, which the data plane does not use, may hold the
// tenant's secrets (a boot script's passwords) and weighs up to 43 KB.
func forAgents(in *model.Instance) *model.Instance {
	if in.UserData == "" {
		return in
	}
	c := *in
	c.UserData = ""
	return &c
}
