package audit

import (
	"cmp"
	"maps"
	"reflect"
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// A server that audits after every write need not audit the whole cloud
// each time: RunScoped starts from the findings before the write and runs
// the costly checks only where the write can change them; RunWith takes a
// reachability the server keeps anyway instead of computing it again.

// RunWith is Run with the reachability of c given (r must describe c, as
// reach.Compute(c) would; nil: it is computed when a check needs it).
func RunWith(c *policy.Cloud, o Options, r *reach.Result) []Finding {
	in := &Input{Cloud: c, Options: o.withDefaults()}
	in.givenReach(r)
	return run(in)
}

// givenReach makes the Input read r as its reachability.
func (in *Input) givenReach(r *reach.Result) {
	if r != nil {
		in.reachOnce.Do(func() { in.reach = r })
	}
}

// policyChecks are the checks that read the instances' effective policies
// (their spaces, built per policy: the bulk of an audit's time). A finding
// of theirs on a group depends only on the policies of the group's members
// (or, without members, its own), and one on an instance only on the
// instance's policy; RunScoped re-runs them only where those changed.
var policyChecks = map[string]bool{
	"SGA-001": true, "SGA-002": true, "SGA-003": true, "SGA-004": true, "SGA-005": true, "SGA-006": true,
	"SGA-013": true, "SGA-022": true, "SGA-023": true, "SGA-024": true, "SGA-025": true, "SGA-027": true, "SGA-028": true,
}

// RunScoped returns what Run(after, o) returns, given prev, what
// Run(before, o) returned with the same options. The checks that read the
// instances' policies run again only on the part of the cloud whose
// policies the difference between before and after can change (the
// changed groups and instances, the groups whose members changed, the
// groups whose rules name those, their members, those members' other
// groups), and keep prev's findings elsewhere; the other checks, which
// are cheap, run on the whole of after. r is as in RunWith, for after.
// A change of prefix lists or port-range lists runs the whole audit.
func RunScoped(before *policy.Cloud, prev []Finding, after *policy.Cloud, o Options, r *reach.Result) []Finding {
	return RunScopedResult(before, Result{Findings: prev}, after, o, r).Findings
}

// RunScopedResult is RunScoped for a Result: given prev, what
// RunResult(before, o, …) returned, it returns what RunResult(after, o, r)
// returns. The rules of unknown standing are kept from prev, and judged
// again, as the policy checks' findings are (by their group).
func RunScopedResult(before *policy.Cloud, prev Result, after *policy.Cloud, o Options, r *reach.Result) Result {
	o = o.withDefaults()
	sc, ok := scopeOf(before, after)
	if !ok {
		return RunResult(after, o, r)
	}
	var todo []Check
	for _, ch := range Checks() {
		if !slices.Contains(o.Skip, ch.ID) {
			todo = append(todo, ch)
		}
	}
	whole := &Input{Cloud: after, Options: o, once: true}
	whole.givenReach(r)
	var sub *Input
	if len(sc.groups)+len(sc.instances) > 0 {
		sub = &Input{Cloud: sc.cloud(after), Options: o, once: true}
		var mine []Check
		for _, ch := range todo {
			if policyChecks[ch.ID] {
				mine = append(mine, ch)
			}
		}
		sub.prime(mine)
	}
	found := make([][]Finding, len(todo))
	each(o.workers(), len(todo), func(_ *workerScratch, k int) {
		ch := todo[k]
		if !policyChecks[ch.ID] {
			found[k] = ch.Run(whole)
			return
		}
		var fs []Finding
		for _, f := range prev.Findings {
			if f.Check == ch.ID && !sc.touched(after, f.Resource) {
				fs = append(fs, f)
			}
		}
		if sub != nil {
			for _, f := range ch.Run(sub) {
				if sc.groups[f.Resource] || sc.instances[f.Resource] {
					fs = append(fs, f)
				}
			}
		}
		found[k] = fs
	})
	var out []Finding
	for _, f := range found {
		out = append(out, f...)
	}
	// As run orders them: a resource's findings of one check come from
	// prev or from the new run, never both, so ties keep their order.
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Check, b.Check),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.RuleID, b.RuleID))
	})
	var unknown []RuleRef
	if whole.standingsNeeded() {
		for _, u := range prev.Unknown {
			if !sc.touched(after, u.Group) {
				unknown = append(unknown, u)
			}
		}
		if sub != nil {
			for _, u := range sub.unknownRules() {
				if sc.groups[u.Group] {
					unknown = append(unknown, u)
				}
			}
		}
		// By group, as unknownRules gives them: a group's come from prev
		// or from the new run, never both, in its rule order.
		slices.SortStableFunc(unknown, func(a, b RuleRef) int { return cmp.Compare(a.Group, b.Group) })
	}
	return Result{Findings: out, Unknown: unknown}
}

// scope is what the policy checks judge again: groups and instances.
type scope struct {
	groups, instances map[string]bool
}

// touched reports whether findings on a resource are judged again (a
// resource that is neither a group nor an instance of after always is).
func (sc scope) touched(after *policy.Cloud, id string) bool {
	if sc.groups[id] || sc.instances[id] {
		return true
	}
	return after.Groups[id] == nil && after.Instances[id] == nil
}

// scopeOf finds what the difference between two clouds can change in the
// policy checks' findings; false when it cannot tell (lists changed).
func scopeOf(before, after *policy.Cloud) (scope, bool) {
	sc := scope{groups: map[string]bool{}, instances: map[string]bool{}}
	if !reflect.DeepEqual(before.PrefixLists, after.PrefixLists) || !reflect.DeepEqual(before.PortRangeLists, after.PortRangeLists) {
		return sc, false
	}
	// A group's own policy (rules, type, intra-group access) reaches its
	// members; its existence and its members (their addresses) reach,
	// besides, every group whose rules name it as peer.
	ruled, resolved := map[string]bool{}, map[string]bool{}
	for id, g := range after.Groups {
		switch b := before.Groups[id]; {
		case b == nil:
			resolved[id] = true
		case b != g && !samePolicyGroup(b, g):
			ruled[id] = true
		}
	}
	for id := range before.Groups {
		if after.Groups[id] == nil {
			resolved[id] = true
		}
	}
	var moved []string // instances whose policy inputs changed
	for id, in := range after.Instances {
		if b := before.Instances[id]; b != in && (b == nil || !samePolicyInstance(b, in)) {
			moved = append(moved, id)
		}
	}
	for id := range before.Instances {
		if after.Instances[id] == nil {
			moved = append(moved, id)
		}
	}
	for _, id := range moved {
		sc.instances[id] = true
		for _, c := range []*policy.Cloud{before, after} {
			if in := c.Instances[id]; in != nil {
				for _, g := range in.SecurityGroups {
					resolved[g] = true
				}
			}
		}
	}
	if len(ruled) == 0 && len(resolved) == 0 {
		return sc, true
	}
	for _, m := range []map[string]bool{ruled, resolved} {
		for g := range m {
			sc.groups[g] = true
		}
	}
	if len(resolved) > 0 { // in after, or, for a group changed, before
		for _, c := range []*policy.Cloud{before, after} {
			for id, g := range c.Groups {
				if !sc.groups[id] && slices.ContainsFunc(g.Rules, func(r model.Rule) bool { return resolved[r.Peer.GroupID] }) {
					sc.groups[id] = true
				}
			}
		}
	}
	// Every member of those has a new policy; the findings on each of its
	// groups read that policy.
	for _, g := range slices.Collect(maps.Keys(sc.groups)) {
		for _, m := range after.Members(g) {
			sc.instances[m.ID] = true
		}
	}
	for id := range sc.instances {
		for _, c := range []*policy.Cloud{before, after} {
			if in := c.Instances[id]; in != nil {
				for _, g := range in.SecurityGroups {
					sc.groups[g] = true
				}
			}
		}
	}
	return sc, true
}

// samePolicyGroup reports whether two versions of a group differ only in
// what no policy check reads (name, description, tags, resource group,
// creation time).
func samePolicyGroup(a, b *model.SecurityGroup) bool {
	x, y := *a, *b
	x.Name, x.Description, x.Tags, x.ResourceGroupID, x.Created = "", "", nil, "", y.Created
	y.Name, y.Description, y.Tags, y.ResourceGroupID = "", "", nil, ""
	return reflect.DeepEqual(x, y)
}

// samePolicyInstance is samePolicyGroup for instances.
func samePolicyInstance(a, b *model.Instance) bool {
	x, y := *a, *b
	x.Name, x.Description, x.Tags, x.Created = "", "", nil, y.Created
	y.Name, y.Description, y.Tags = "", "", nil
	return reflect.DeepEqual(x, y)
}

// cloud is the part of after the policy checks read to judge the scope:
// the scope's groups with all their members, those members' groups with
// all their members (for intra-group access), and the groups those name
// as peers, with their members but without rules (findings on any but
// the scope's are not kept).
func (sc scope) cloud(after *policy.Cloud) *policy.Cloud {
	full := map[string]bool{} // instances whose policy must be exact
	for id := range sc.instances {
		if after.Instances[id] != nil {
			full[id] = true
		}
	}
	for g := range sc.groups {
		for _, m := range after.Members(g) {
			full[m.ID] = true
		}
	}
	groups := map[string]bool{}
	for g := range sc.groups {
		if after.Groups[g] != nil {
			groups[g] = true
		}
	}
	for id := range full {
		for _, g := range after.Instances[id].SecurityGroups {
			if after.Groups[g] != nil {
				groups[g] = true
			}
		}
	}
	// The groups only named as peers stand for their members' addresses
	// alone: without their rules, the members no policy read needs cost
	// little to build (their findings are not kept).
	named := map[string]bool{}
	for id := range groups {
		for _, r := range after.Groups[id].Rules {
			if p := r.Peer.GroupID; p != "" && after.Groups[p] != nil && !groups[p] {
				named[p] = true
			}
		}
	}
	insts := map[string]*model.Instance{}
	for id := range full {
		insts[id] = after.Instances[id]
	}
	gs := make([]*model.SecurityGroup, 0, len(groups)+len(named))
	for _, m := range []map[string]bool{groups, named} {
		for id := range m {
			for _, in := range after.Members(id) {
				insts[in.ID] = in
			}
			g := after.Groups[id]
			if named[id] {
				bare := *g
				bare.Rules = nil
				g = &bare
			}
			gs = append(gs, g)
		}
	}
	// An instance there only for its addresses (a member of a group
	// named as peer, or of another group of the scope's members, for
	// intra-group access) has a policy no finding kept reads: it stands as
	// one copy per group it is in, so that the policies built for it are
	// one per group, not one per combination of groups.
	sub := map[string]bool{}
	for _, g := range gs {
		sub[g.ID] = true
	}
	for id, in := range insts {
		if full[id] {
			continue
		}
		delete(insts, id)
		for _, g := range in.SecurityGroups {
			if sub[g] {
				cp := *in
				cp.ID, cp.SecurityGroups = in.ID+"/"+g, []string{g}
				insts[cp.ID] = &cp
			}
		}
	}
	// In ID order, as the store lists them: members keep the order the
	// checks see in after.
	is := slices.SortedFunc(maps.Values(insts), func(a, b *model.Instance) int { return cmp.Compare(a.ID, b.ID) })
	pls := make([]*model.PrefixList, 0, len(after.PrefixLists))
	for _, p := range after.PrefixLists {
		pls = append(pls, p)
	}
	c := policy.NewCloud(gs, is, pls)
	if after.PortRangeLists != nil {
		prl := make([]*model.PortRangeList, 0, len(after.PortRangeLists))
		for _, p := range after.PortRangeLists {
			prl = append(prl, p)
		}
		c = c.WithPortRangeLists(prl)
	}
	return c
}

// NeedsReach reports whether an audit of c with options o reads the
// reachability (SGA-014 reads it when production and other environments
// are both present), so that a caller who must compute it for RunWith
// or RunScoped can skip it when not. A reachability not given is computed
// when needed all the same: this only saves work.
func NeedsReach(c *policy.Cloud, o Options) bool {
	o = o.withDefaults()
	if slices.Contains(o.Skip, "SGA-014") {
		return false
	}
	var prod, other bool
	for _, in := range c.Instances {
		switch env, p := o.environment(in); {
		case p:
			prod = true
		case env != "":
			other = true
		}
		if prod && other {
			return true
		}
	}
	return false
}
