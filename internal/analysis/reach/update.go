package reach

import (
	"maps"
	"net/netip"
	"runtime"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Change names what differs between the snapshot a Result describes and a
// newer one. Naming too much costs time, never correctness; naming too
// little leaves the result stale (Changes finds the exact list).
type Change struct {
	// Groups whose rules or attributes (type, InnerAccessPolicy) changed,
	// or that were created or deleted.
	Groups []string `json:"groups,omitempty"`
	// Instances whose groups or addresses changed, or that were created or
	// deleted.
	Instances []string `json:"instances,omitempty"`
	// PrefixLists whose entries changed, or that were created or deleted.
	PrefixLists []string `json:"prefixLists,omitempty"`
	// PortRangeLists whose entries changed, or that were created or deleted.
	PortRangeLists []string `json:"portRangeLists,omitempty"`
}

// Empty reports whether the change names nothing.
func (ch Change) Empty() bool {
	return len(ch.Groups) == 0 && len(ch.Instances) == 0 && len(ch.PrefixLists) == 0 && len(ch.PortRangeLists) == 0
}

// Clone returns an independent copy that Update can move forward while the
// original stays as it is (for a preview). It copies indexes, not classes.
func (r *Result) Clone() *Result {
	c := *r
	c.nodes = slices.Clone(r.nodes)
	c.classes = maps.Clone(r.classes)
	c.users = maps.Clone(r.users)
	c.byMember, c.byRef, c.byList = maps.Clone(r.byMember), maps.Clone(r.byRef), maps.Clone(r.byList)
	c.nets = maps.Clone(r.nets)
	if !r.shared { // written only once: clones of a live result may run at once
		r.shared = true
	}
	c.shared = true
	return &c
}

// WithInside is r with other inside blocks (see Filter.Inside: its internet
// ranges, and those of the deltas against it, leave them out), sharing
// everything with r: no copy is made, so it is valid only while r is not
// updated, for reading or for a Clone (a preview's "before", taken while
// the live result is held still).
func (r *Result) WithInside(inside []netip.Prefix) *Result {
	c := *r
	c.opts.Inside, c.inside = inside, insideRanges(inside)
	return &c
}

// WithWorkers is r with another bound on the goroutines its steps run
// (Options.Workers: the classes an Update builds, a Graph's walk, the
// deltas against it), sharing everything with r as WithInside does.
func (r *Result) WithWorkers(n int) *Result {
	c := *r
	c.opts.Workers = n
	return &c
}

// workers is how many goroutines a step may run: Options.Workers, or
// every core.
func (r *Result) workers() int {
	if r.opts.Workers > 0 {
		return r.opts.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Update moves the result to a newer snapshot c that differs from the
// current one as ch says. It analyses only the classes the change touches:
// it rebuilds those holding a changed group's rules (in the changed
// direction), those naming a changed prefix or port range list and those of instances
// whose groups or addresses changed; a class that merely names a group
// whose members changed is patched at the addresses of the instances that
// changed, the only places where it can differ; and a change of rules
// alone is folded into the classes holding them (see foldClass): only the
// flows the changed rules match are analysed again.
func (r *Result) Update(c *policy.Cloud, ch Change) {
	r.shared = true
	prev, oldRes := r.cloud, r.res
	r.cloud = c

	dirty, whole, rekey, pure := r.groupChanges(prev, c, ch.Groups)
	members, added := r.instanceChanges(c, ch.Instances, rekey)
	// A class that only names a group whose members changed differs only
	// at the addresses of the instances that changed: patch it there.
	patch := map[policy.Key]bool{}
	for g := range members {
		for _, k := range r.byRef[g] {
			patch[k] = true
		}
	}
	points := r.changedPoints(c, ch.Instances)
	// Keep the resolved peer sets the change leaves alone.
	r.res = r.res.Next(c, slices.Concat(slices.Collect(maps.Keys(members)), ch.Groups, ch.PrefixLists))
	listed := map[policy.Key]bool{}
	for _, l := range slices.Concat(ch.PrefixLists, ch.PortRangeLists) {
		for _, k := range r.byList[l] {
			dirty[k], listed[k] = true, true
		}
	}
	touched, stale := r.rekey(c, rekey, added)
	// A class dirtied only by changes of rules, and by nothing else
	// (patches, lists), takes them in by a fold.
	r.folds = nil
	if len(pure) > 0 {
		regions := ruleRegions(prev, c, oldRes, r.res, pure)
		r.folds = map[policy.Key]*region{}
		for k := range dirty {
			if reg := regions[dirIndex(k.Direction())]; reg != nil && !whole[k] && !patch[k] && !listed[k] {
				r.folds[k] = reg
			}
		}
	}
	touched = r.rebuild(dirty, touched)
	r.folds = nil
	touched = r.patch(patch, dirty, points, touched)
	for _, i := range touched {
		n := &r.nodes[i]
		for d := range 2 {
			for p := range 2 {
				n.cls[d][p] = r.classes[n.keys[d][p]]
			}
		}
	}
	// Forget classes nobody uses any more.
	for _, k := range stale {
		if len(r.users[k]) == 0 {
			delete(r.classes, k)
			delete(r.users, k)
		}
	}
}

// groupChanges finds the classes a change of groups dirties (those holding
// a changed group's rules in a changed direction, and those naming a group
// created or deleted) and the instances it may move between classes.
//
// pure lists the groups whose rules alone changed (see pureChange); whole
// holds the classes dirtied otherwise, which a fold cannot take in.
func (r *Result) groupChanges(prev, c *policy.Cloud, groups []string) (dirty, whole map[policy.Key]bool, rekey map[string]bool, pure []string) {
	dirty, whole, rekey = map[policy.Key]bool{}, map[policy.Key]bool{}, map[string]bool{}
	for _, g := range groups {
		a, b := prev.Groups[g], c.Groups[g]
		d := changedDirections(a, b)
		isPure := pureChange(a, b)
		if isPure && (d[0] || d[1]) {
			pure = append(pure, g)
		}
		for _, k := range r.byMember[g] {
			if d[dirIndex(k.Direction())] {
				dirty[k] = true
				whole[k] = whole[k] || !isPure
			}
		}
		// Class keys hold the groups and the answers to local CIDRs: a
		// group created, deleted or with local CIDRs (before or after) can
		// move its members, old and new, between classes.
		if a == nil || b == nil {
			// Created or deleted: peers naming it now stand for other
			// addresses (no members until instances join).
			for _, k := range r.byRef[g] {
				dirty[k], whole[k] = true, true
			}
		}
		if a == nil || b == nil || !slices.Equal(localRules(a), localRules(b)) {
			for _, m := range c.Members(g) {
				rekey[m.ID] = true
			}
			for _, k := range r.byMember[g] {
				for _, i := range r.users[k] {
					rekey[r.nodes[i].inst.ID] = true
				}
			}
		}
	}
	return dirty, whole, rekey, pure
}

// instanceChanges marks changed instances for rekeying and returns the
// groups whose member addresses changed and whether an instance was added
// or removed.
func (r *Result) instanceChanges(c *policy.Cloud, ids []string, rekey map[string]bool) (members map[string]bool, added bool) {
	members = map[string]bool{}
	for _, id := range ids {
		rekey[id] = true
		if i, ok := r.index[id]; ok {
			for _, g := range r.nodes[i].inst.SecurityGroups {
				members[g] = true
			}
		}
		if inst, ok := c.Instances[id]; ok {
			for _, g := range inst.SecurityGroups {
				members[g] = true
			}
		}
		_, was := r.index[id]
		_, is := c.Instances[id]
		added = added || was != is
	}
	return members, added
}

// changedPoints returns, per family, the addresses of the changed
// instances, old and new, sorted: where a patched class can differ.
func (r *Result) changedPoints(c *policy.Cloud, ids []string) [2][]iprange.Key {
	var points [2][]iprange.Key
	for _, id := range ids {
		var versions []*model.Instance
		if i, ok := r.index[id]; ok {
			versions = append(versions, r.nodes[i].inst)
		}
		if inst, ok := c.Instances[id]; ok {
			versions = append(versions, inst)
		}
		for _, v := range versions {
			for _, a := range v.Addresses() { // secondary addresses too: group peers stand for them
				f := 0
				if a.Is6() {
					f = 1
				}
				points[f] = append(points[f], iprange.KeyOf(a))
			}
		}
	}
	for f := range points {
		slices.SortFunc(points[f], iprange.Key.Compare)
		points[f] = slices.Compact(points[f])
	}
	return points
}

// rekey points the nodes at the new versions of their instances and gives
// the rekeyed ones their class keys. It returns the nodes whose classes
// must be looked up again and the keys that may have lost their last user.
func (r *Result) rekey(c *policy.Cloud, rekey map[string]bool, added bool) (touched []int32, stale []policy.Key) {
	if added {
		r.setNodes()
	} else {
		for id := range rekey {
			if i, ok := r.index[id]; ok {
				r.setInst(&r.nodes[i], c.Instances[id])
			}
		}
	}
	for id := range rekey {
		i, ok := r.index[id]
		if !ok {
			continue
		}
		n := &r.nodes[i]
		stale = append(stale, keySet(n.keys)...)
		keys := r.keysOf(n.inst)
		if keys != n.keys && !added {
			r.moveUsers(int32(i), n.keys, keys)
		}
		n.keys = keys
		touched = append(touched, int32(i))
	}
	if added {
		r.link() // indexes shifted: rebuild the users lists
		stale = slices.Collect(maps.Keys(r.classes))
	}
	return touched, stale
}

// rebuild drops the dirty classes and builds every key a touched node
// names without a class.
func (r *Result) rebuild(dirty map[policy.Key]bool, touched []int32) []int32 {
	old := map[policy.Key]*class{}
	for k := range dirty {
		if cl, ok := r.classes[k]; ok {
			old[k] = cl
		}
		touched = append(touched, r.users[k]...)
		delete(r.classes, k)
	}
	todo := map[policy.Key]*model.Instance{}
	for _, i := range touched {
		n := &r.nodes[i]
		for d := range 2 {
			for p := range 2 {
				if k := n.keys[d][p]; r.classes[k] == nil && todo[k] == nil {
					todo[k] = n.inst
				}
			}
		}
	}
	r.build(todo, old)
	return touched
}

// patch patches the classes that only name changed members at the changed
// addresses (points), skipping those rebuilt or gone.
func (r *Result) patch(patch, dirty map[policy.Key]bool, points [2][]iprange.Key, touched []int32) []int32 {
	var keys []policy.Key
	for k := range patch {
		if !dirty[k] && r.classes[k] != nil && len(r.users[k]) > 0 {
			keys = append(keys, k) // not rebuilt, nor gone
		}
	}
	patched := make([]*class, len(keys))
	r.parallel(len(keys), func(sc *scratch, i int) {
		k := keys[i]
		patched[i] = r.patchClass(sc, r.classes[k], r.nodes[r.users[k][0]].inst, points)
	})
	for i, k := range keys {
		r.classes[k] = patched[i]
		touched = append(touched, r.users[k]...)
		r.built++
	}
	return touched
}

// localRules lists what class keys read from a group: its rules with a
// local CIDR, in order.
func localRules(g *model.SecurityGroup) []string {
	var out []string
	for i := range g.Rules {
		if r := &g.Rules[i]; r.Local.IsValid() {
			out = append(out, string(r.Direction)+" "+string(r.NicType)+" "+r.Local.Masked().String())
		}
	}
	return out
}

// keySet lists a node's distinct class keys.
func keySet(k [2][2]policy.Key) []policy.Key {
	out := []policy.Key{k[0][0], k[1][0]}
	for d := range 2 {
		if k[d][1] != k[d][0] {
			out = append(out, k[d][1])
		}
	}
	return out
}

// moveUsers moves node i from the users lists of its old keys to its new
// ones, copying the lists it changes.
func (r *Result) moveUsers(i int32, from, to [2][2]policy.Key) {
	a, b := keySet(from), keySet(to)
	for _, k := range a {
		if !slices.Contains(b, k) {
			list := r.users[k]
			if j := slices.Index(list, i); j >= 0 {
				r.users[k] = slices.Concat(list[:j], list[j+1:])
			}
		}
	}
	for _, k := range b {
		if !slices.Contains(a, k) {
			r.users[k] = append(slices.Clip(r.users[k]), i)
		}
	}
}

// changedDirections reports which directions of a group's policy differ
// between two versions (both, if the group appeared, vanished or changed
// type or intra-group policy).
func changedDirections(a, b *model.SecurityGroup) [2]bool {
	if a == nil || b == nil || a.Type != b.Type || a.InnerAccessPolicy != b.InnerAccessPolicy || a.VpcID != b.VpcID {
		return [2]bool{true, true}
	}
	var out [2]bool
	for d, dir := range dirs {
		out[d] = !sameRules(a, b, dir)
	}
	return out
}

// sameRules reports whether two versions of a group hold the same rules in
// a direction, in the same order: the same IDs (which name rules in
// decisions) and keys (what they do). Rules equal as values are the same
// without building their keys, which a change's unchanged direction and
// every group it leaves alone would otherwise pay for.
func sameRules(a, b *model.SecurityGroup, dir model.Direction) bool {
	return sameRulesWhere(a, b, dir, func(*model.Rule) bool { return true })
}

// sameRulesWhere is sameRules over the rules that pass a test.
func sameRulesWhere(a, b *model.SecurityGroup, dir model.Direction, test func(*model.Rule) bool) bool {
	i, j := 0, 0
	for {
		for i < len(a.Rules) && (a.Rules[i].Direction != dir || !test(&a.Rules[i])) {
			i++
		}
		for j < len(b.Rules) && (b.Rules[j].Direction != dir || !test(&b.Rules[j])) {
			j++
		}
		if i == len(a.Rules) || j == len(b.Rules) {
			return i == len(a.Rules) && j == len(b.Rules)
		}
		ra, rb := &a.Rules[i], &b.Rules[j]
		if !sameRule(ra, rb) && (ra.ID != rb.ID || ra.Key() != rb.Key()) {
			return false
		}
		i++
		j++
	}
}

// sameRule compares the fields Key reads, and the ID, without allocating.
func sameRule(a, b *model.Rule) bool {
	return a.ID == b.ID && a.Direction == b.Direction && a.Policy == b.Policy && a.Priority == b.Priority &&
		a.Protocol == b.Protocol && a.PortRange == b.PortRange && a.PortRangeListID == b.PortRangeListID &&
		a.SourcePortRange == b.SourcePortRange && a.Peer == b.Peer && a.Local == b.Local && a.NicType == b.NicType
}

// Changes compares two snapshots and returns what differs, for Update.
func Changes(before, after *policy.Cloud) Change {
	var ch Change
	for id, g := range after.Groups {
		if d := changedDirections(before.Groups[id], g); d[0] || d[1] {
			ch.Groups = append(ch.Groups, id)
		}
	}
	for id := range before.Groups {
		if after.Groups[id] == nil {
			ch.Groups = append(ch.Groups, id)
		}
	}
	for id, in := range after.Instances {
		if b := before.Instances[id]; b == nil || !sameInstance(b, in) {
			ch.Instances = append(ch.Instances, id)
		}
	}
	for id := range before.Instances {
		if after.Instances[id] == nil {
			ch.Instances = append(ch.Instances, id)
		}
	}
	for id, pl := range after.PrefixLists {
		if b := before.PrefixLists[id]; b == nil || !slices.EqualFunc(b.Entries, pl.Entries, func(x, y model.PrefixEntry) bool { return x.CIDR == y.CIDR }) {
			ch.PrefixLists = append(ch.PrefixLists, id)
		}
	}
	for id := range before.PrefixLists {
		if after.PrefixLists[id] == nil {
			ch.PrefixLists = append(ch.PrefixLists, id)
		}
	}
	for id, l := range after.PortRangeLists {
		if b := before.PortRangeLists[id]; b == nil || !slices.Equal(b.Ranges(), l.Ranges()) {
			ch.PortRangeLists = append(ch.PortRangeLists, id)
		}
	}
	for id := range before.PortRangeLists {
		if after.PortRangeLists[id] == nil {
			ch.PortRangeLists = append(ch.PortRangeLists, id)
		}
	}
	for _, s := range [][]string{ch.Groups, ch.Instances, ch.PrefixLists, ch.PortRangeLists} {
		slices.Sort(s)
	}
	return ch
}

// sameInstance reports whether two versions of an instance are alike for
// reachability: network, addresses and groups.
func sameInstance(a, b *model.Instance) bool {
	return a.VpcID == b.VpcID && a.PrivateIP == b.PrivateIP && a.PublicIP == b.PublicIP && a.IPv6 == b.IPv6 &&
		slices.Equal(a.SecondaryIPs, b.SecondaryIPs) && slices.Equal(a.MoreIPv6, b.MoreIPv6) && slices.Equal(a.SecurityGroups, b.SecurityGroups)
}

// Affected returns the instances whose links may differ between two
// results: present in only one, with other addresses, or with a policy
// whose flows differ somewhere. A link between two instances not listed is
// the same in both results.
func Affected(before, after *Result) []string {
	var out []string
	for id := range changes(before, after) {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
