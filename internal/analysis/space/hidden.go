package space

import (
	"maps"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Hidden tells which groups' members an analysis may not read: for a
// tenant, those of every other account's groups, which its rules may name
// as peers. To such a reader a hidden group stands for an unknown set of
// addresses within its scope (see ScopeOf), empty or not.
type Hidden func(groupID string) bool

// HiddenFrom hides, from the owner of the analysed resources, the groups
// of every other account (nil for "": the operator's and an offline
// analysis's exact view).
func HiddenFrom(c *policy.Cloud, owner string) Hidden {
	if owner == "" {
		return nil
	}
	return func(id string) bool {
		g := c.Groups[id]
		return g != nil && g.Owner != owner
	}
}

// ScopeOf returns where the members of a group may have addresses, per
// family, as far as one who may not read them knows: a classic group's in
// the classic network's block (model.ClassicNetwork, no IPv6), a VPC
// group's anywhere (its VPC's blocks are not in the snapshot, and the
// whole family holds them).
func ScopeOf(c *policy.Cloud, id string) [2][]iprange.Range {
	if g := c.Groups[id]; g != nil && g.Classic() {
		return [2][]iprange.Range{{iprange.FromPrefix(model.ClassicNetwork)}, nil}
	}
	return [2][]iprange.Range{{iprange.All(false)}, {iprange.All(true)}}
}

// ForInstanceHiding is ForInstance as BuildHiding sees it.
func ForInstanceHiding(res *Resolver, in *model.Instance, dir model.Direction, nic model.NicType, o Options, hidden Hidden) *Space {
	p := res.Cloud.Program(in, dir, nic)
	o.Local4, o.Local6 = in.PrivateIP, in.IPv6
	return BuildHiding(res, &p, o, hidden)
}

// maxWholeBuilds bounds the builds BuildHiding makes per hidden group.
const maxWholeBuilds = 4

// BuildHiding is Build for a reader who may not know the members of the
// hidden groups the program's rules name. Nothing it returns depends on
// those members: the decisions are those with every hidden group empty,
// and each standing holds whatever members the hidden groups have within
// their scopes, or is Unknown:
//
//   - a rule naming a hidden group is Shadowed if it would be even were
//     the group to hold its whole scope (and no other hidden group any
//     address), else Unknown: empty, the group makes it decide nothing
//     (and Unknown when the program names over maxWholeBuilds hidden
//     groups, which would take a build each to tell);
//   - a rule whose packets no rule naming a hidden group can match (over
//     its scope) stands as it does with the hidden groups empty, which is
//     how it stands with any members;
//   - another rule is Live if it is needed for a packet no such rule can
//     match, Shadowed if it is so with the hidden groups empty (members
//     only hide it more), Redundant if it is so with them empty, decides
//     some packet no such rule can match and no later such rule of the
//     other policy can match its packets; else Unknown.
//
// The default is Shadowed if it is so with the hidden groups empty, live
// if it decides somewhere with them holding their whole scopes, else
// DefaultUnknown. Intra-group grants are the instance's own groups'.
// Blockers of a shadowed rule naming a hidden group are those that hide
// it from the whole scope; a redundant rule's Takeover leaves out the
// rules naming hidden groups; Correlations leave them out too (their
// overlap depends on the members).
//
// Without a hidden group among the program's peers it is Build.
func BuildHiding(res *Resolver, p *policy.Program, o Options, hidden Hidden) *Space {
	var named []string // the hidden groups the rules name, in order
	if hidden != nil {
		// The program's own groups (their rules or grants are in it)
		// are the reader's, whoever owns them.
		own := slices.Clone(p.Intra)
		for _, r := range p.Rules {
			own = append(own, r.Group.ID)
		}
		h := hidden
		hidden = func(g string) bool { return !slices.Contains(own, g) && h(g) }
		for _, r := range p.Rules {
			if g := r.Peer.GroupID; g != "" && !slices.Contains(named, g) && hidden(g) {
				named = append(named, g)
			}
		}
	}
	if len(named) == 0 {
		return Build(res, p, o)
	}
	empty := map[string][2][]iprange.Range{}
	scope := map[string][2][]iprange.Range{}
	for _, g := range named {
		empty[g] = [2][]iprange.Range{}
		scope[g] = ScopeOf(res.Cloud, g)
	}
	base := Build(res.with(empty), p, o)
	if o.PartitionOnly {
		return base
	}
	// The other builds live as long as base (its Blockers may read one):
	// their memory is their own.
	x := o
	x.Scratch, x.Lazy, x.Index = nil, false, nil
	// whole has each hidden group at its whole scope, the others empty: a
	// build per group, to tell a rule naming it that is shadowed whatever
	// its members. Past maxWholeBuilds groups (a policy may name some
	// hundred), such rules are Unknown instead: a tenant whose policies
	// name many other accounts' groups must not multiply every audit's
	// work by as many.
	whole := map[string]*Space{}
	if len(named) <= maxWholeBuilds {
		for _, g := range named {
			sets := maps.Clone(empty)
			sets[g] = scope[g]
			whole[g] = Build(res.with(sets), p, x)
		}
	}
	full := whole[named[0]] // every hidden group at its whole scope
	if len(named) > 1 {
		full = Build(res.with(scope), p, x)
	}
	// free is the program with the rules naming hidden groups, over their
	// whole scopes, put before every rule: a rule decides in free only
	// packets no rule naming a hidden group can match, as it does there
	// whatever the members. (Each copy names a group of its own, which no
	// group of the snapshot is.) Rule i of p is rule len(hid)+i of free.
	var hid []int // the rules naming hidden groups
	fp := *p
	fp.Rules = nil
	sets := maps.Clone(empty)
	for i, r := range p.Rules {
		if g := r.Peer.GroupID; g != "" && hidden(g) {
			cp := *r.Rule
			cp.Peer = model.Peer{GroupID: "hidden:" + strconv.Itoa(len(hid))}
			sets[cp.Peer.GroupID] = scope[g]
			fp.Rules = append(fp.Rules, policy.ProgramRule{Rule: &cp, Group: r.Group})
			hid = append(hid, i)
		}
	}
	fp.Rules = append(fp.Rules, p.Rules...)
	free := Build(res.with(sets), &fp, x)
	// may[k] is rule hid[k] as it may match: over its whole scope.
	may := free.rules[:len(hid)]
	base.via = make([]*Space, len(p.Rules))
	for i, r := range p.Rules {
		st := &base.Rules[i]
		if g := r.Peer.GroupID; g != "" && hidden(g) {
			if w := whole[g]; w == nil || w.Rules[i].Hit {
				*st = RuleStat{Unknown: true}
			} else {
				*st = RuleStat{}
				base.via[i] = w
			}
			continue
		}
		meets, opposite := false, false // a rule naming a hidden group may match its packets; a later one of the other policy
		for k, j := range hid {
			if base.meet(&base.rules[i], &may[k]) {
				meets = true
				opposite = opposite || j > i && may[k].accept != base.rules[i].accept
			}
		}
		if !meets {
			continue // exact
		}
		switch f := free.Rules[len(hid)+i]; {
		case f.Hit && !f.Redundant:
			*st = RuleStat{Hit: true}
		case !st.Hit: // shadowed with the hidden groups empty
		case f.Hit && st.Redundant && !opposite:
			// As base has it: a later rule naming a hidden group that
			// may take over has the same policy.
		default:
			*st = RuleStat{Unknown: true}
		}
	}
	if base.DefaultHit && !full.DefaultHit {
		base.DefaultUnknown = true
	}
	return base
}
