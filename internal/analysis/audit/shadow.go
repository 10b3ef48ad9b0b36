package audit

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// The rule-anomaly checks read each rule's standing in the programs it
// takes part in: the pooled policies of its group's members (one per
// distinct class), or, for a group without members, the group's own
// policy. A rule is shadowed or redundant only if it is so in all of them,
// since removing it from the group changes all of them. Standings hold for
// every source port.

func init() {
	register(
		Check{ID: "SGA-022", Title: "Shadowed rule", Severity: Medium, Run: shadowedCheck},
		Check{ID: "SGA-023", Title: "Redundant rule", Severity: Low, Run: redundantCheck},
		Check{ID: "SGA-024", Title: "Drop and accept of the same priority overlap", Severity: Info, Run: conflictCheck},
		Check{ID: "SGA-025", Title: "A deny meant to hide a port from the internet is defeated by an earlier allow", Severity: High, Run: defeatedDenyCheck},
	)
}

// ruleUse is one rule's standing in one program.
type ruleUse struct {
	sum   *summary
	index int
}

// uses returns, per rule, its standings in the programs it is part of,
// and keeps the summaries of the instances' programs by policy (e.sums).
func (e *engine) uses() map[*model.Rule][]ruleUse {
	c := e.in.Cloud
	type task struct {
		inst *model.Instance
		dir  model.Direction
		nic  model.NicType
	}
	var tasks []task
	for _, nicInst := range e.in.instancesByID() {
		// Every address a local CIDR tells apart: a rule may decide
		// only at a secondary one.
		for _, inst := range space.AddressViews(c, nicInst) {
			nics := policy.RuleSets(c.GroupsOf(inst))
			for _, dir := range []model.Direction{model.Ingress, model.Egress} {
				for _, nic := range nics {
					tasks = append(tasks, task{inst, dir, nic})
				}
			}
		}
	}
	// A group without members still says something on its own.
	var alone []*policy.Program
	var aloneOwner []string // the owner of each
	for _, g := range groupsByID(c) {
		if len(c.Members(g.ID)) > 0 {
			continue
		}
		inst := &model.Instance{ID: "", VpcID: g.VpcID, SecurityGroups: []string{g.ID}}
		nics := policy.RuleSets([]*model.SecurityGroup{g})
		for _, dir := range []model.Direction{model.Ingress, model.Egress} {
			for _, nic := range nics {
				p := c.Program(inst, dir, nic)
				alone = append(alone, &p)
				aloneOwner = append(aloneOwner, g.Owner)
			}
		}
	}
	// sums are in task order, then the lone groups' programs; a policy
	// several tasks share is summarised once, at its first task.
	var sums []*summary
	e.sums = map[policy.Key]*summary{}
	if e.in.reference {
		// The reference builds per task, on every worker, and lets the
		// cache catch what it can, and keeps every space.
		built := make([]*space.Space, len(tasks))
		each(e.in.Options.workers(), len(tasks), func(_ *workerScratch, k int) {
			t := tasks[k]
			if h := e.hidden(t.inst.Owner); h != nil {
				built[k] = space.ForInstanceHiding(e.res, t.inst, t.dir, t.nic, allSources, h)
				return
			}
			built[k] = e.spaceOf(t.inst, t.dir, t.nic, allSources)
		})
		// One summary per policy: two workers may both miss the cache
		// and build the same policy twice.
		for k, s := range built {
			pk := policy.InstanceKey(c, tasks[k].inst, tasks[k].dir, tasks[k].nic)
			if e.sums[pk] == nil {
				e.sums[pk] = summarise(s, tasks[k].dir, tasks[k].nic, true, nil)
				sums = append(sums, e.sums[pk])
			}
		}
		for k, p := range alone {
			sums = append(sums, summarise(space.BuildHiding(e.res, p, allSources, e.hidden(aloneOwner[k])), p.Direction, p.NIC, true, nil))
		}
	} else {
		// Build each distinct policy once, on every worker, summarise it
		// and drop it (the build's memory is the worker's, reused).
		// The builds cut their pieces from one index of the cloud's
		// ranges, made meanwhile on a goroutine of its own (it would
		// otherwise be the longest step with one core idle).
		ixc := make(chan *space.Index, 1)
		go func() { ixc <- space.NewIndex(e.res) }()
		var distinct []int
		var keys []policy.Key // of the distinct tasks
		// The keys, and below the space classes, are found on every
		// worker too: ten thousand instances take a while.
		pks := make([]policy.Key, len(tasks))
		each(e.in.Options.workers(), len(tasks), func(_ *workerScratch, k int) {
			t := tasks[k]
			pks[k] = policy.InstanceKey(c, t.inst, t.dir, t.nic)
		})
		e.keys = make(map[taskKey]policy.Key, len(tasks))
		for k, t := range tasks {
			e.keys[taskKey{t.inst, t.dir, t.nic}] = pks[k]
		}
		for k, pk := range pks {
			if _, ok := e.sums[pk]; !ok {
				e.sums[pk] = nil
				distinct = append(distinct, k)
				keys = append(keys, pk)
			}
		}
		// SGA-022 reads the blockers of a rule shadowed everywhere, from
		// its first two uses (in order) that have any. They are found only
		// for rules no summary has seen hit yet (a rule hit anywhere is
		// not reported), at uses before the second use known to have some.
		var rules []*model.Rule // by number
		eachGroupRule(c, func(_ *model.SecurityGroup, r *model.Rule) { rules = append(rules, r) })
		hit := make([]atomic.Bool, len(rules))
		named := make([][2]int32, len(rules)) // the first two uses known to have blockers
		for i := range named {
			named[i] = [2]int32{math.MaxInt32, math.MaxInt32}
		}
		var namedMu [64]sync.Mutex
		// Policies that differ only in whether the instance has an IPv6
		// address have one space (policy.Key.WithoutV6): built once, its
		// summary serves each (in its place in the order).
		var builds []int              // the distinct policies built, one per space
		cls := make([]int, len(keys)) // the build of each distinct policy
		byClass := map[policy.Key]int{}
		for j, k := range keys {
			sc := k.WithoutV6()
			b, ok := byClass[sc]
			if !ok {
				b = len(builds)
				byClass[sc] = b
				builds = append(builds, j)
			}
			cls[j] = b
		}
		// SGA-013 reads the packets of egress policies only of instances
		// the internet can reach (the internet-facing ones): the others'
		// are not kept (most of a summary's memory).
		pkts := make([]bool, len(builds)) // by build
		for k, t := range tasks {
			if t.dir == model.Ingress || reachable(t.inst) {
				pkts[byClass[pks[k].WithoutV6()]] = true
			}
		}
		ix := <-ixc
		// The index numbers the rules as rules does (groups by ID, then
		// rule order): the builds then give their rules' numbers, without
		// a map lookup per rule of every program. Checked, not assumed.
		sameNumbers := slices.Equal(ix.Rules(), rules)
		// The numbers by rule, made only if a build's differ.
		indexOf := sync.OnceValue(func() map[*model.Rule]int32 {
			index := make(map[*model.Rule]int32, len(rules))
			for id, r := range rules {
				index[r] = int32(id)
			}
			return index
		})
		built := make([]*summary, len(builds)+len(alone))
		each(e.in.Options.workers(), len(built), func(sc *workerScratch, j int) {
			var s *space.Space
			o := allSources
			o.Scratch = &sc.space
			o.Lazy = true // few of its tables are read
			o.Index = ix
			if j < len(builds) {
				t := tasks[distinct[builds[j]]]
				s = space.ForInstanceHiding(e.res, t.inst, t.dir, t.nic, o, e.hidden(t.inst.Owner))
			} else {
				k := j - len(builds)
				s = space.BuildHiding(e.res, alone[k], o, e.hidden(aloneOwner[k]))
			}
			rules := s.Program.Rules
			ids := sc.ids[:0]
			if nums := s.RuleNumbers(); sameNumbers && nums != nil {
				ids = append(ids, nums...)
			} else {
				index := indexOf()
				for i := range rules {
					ids = append(ids, index[rules[i].Rule])
				}
			}
			for i, id := range ids {
				if s.Status(i) != space.Shadowed {
					hit[id].Store(true)
				}
			}
			sc.ids = ids
			blockersOf := func(i int) bool {
				id := ids[i]
				if hit[id].Load() {
					return false
				}
				mu := &namedMu[id%int32(len(namedMu))]
				mu.Lock()
				defer mu.Unlock()
				return int32(j) < named[id][1]
			}
			built[j] = summarise(s, s.Program.Direction, s.Program.NIC, j < len(builds) && pkts[j], blockersOf)
			built[j].ids = slices.Clone(ids)
			for i := range rules {
				if len(built[j].blockers.of(i)) == 0 {
					continue
				}
				id := ids[i]
				mu := &namedMu[id%int32(len(namedMu))]
				mu.Lock()
				switch n := &named[id]; {
				case int32(j) < n[0]:
					n[0], n[1] = int32(j), n[0]
				case int32(j) < n[1]:
					n[1] = int32(j)
				}
				mu.Unlock()
			}
		})
		sums = make([]*summary, len(distinct)+len(alone))
		for j, pk := range keys {
			sums[j] = built[cls[j]]
			e.sums[pk] = sums[j]
		}
		copy(sums[len(distinct):], built[len(builds):])
		// The uses by rule index, in one array: a big cloud has about a
		// million.
		at := make([]int32, len(rules)+1)
		for _, sm := range sums {
			for _, id := range sm.ids {
				at[id+1]++
			}
		}
		for id := range len(rules) {
			at[id+1] += at[id]
		}
		all := make([]ruleUse, at[len(rules)])
		next := slices.Clone(at[:len(rules)])
		for j, sm := range sums {
			sm.pos = j
			for i, id := range sm.ids {
				all[next[id]] = ruleUse{sm, i}
				next[id]++
			}
		}
		out := make(map[*model.Rule][]ruleUse, len(rules))
		for id, r := range rules {
			if at[id] < at[id+1] {
				out[r] = all[at[id]:at[id+1]:at[id+1]]
			}
		}
		return out
	}
	out := map[*model.Rule][]ruleUse{}
	for j, sm := range sums {
		sm.pos = j
		for i, pr := range sm.prog.Rules {
			out[pr.Rule] = append(out[pr.Rule], ruleUse{sm, i})
		}
	}
	return out
}

// hidden returns the groups whose members the standings of an owner's
// policies may not read: with Options.PerAccount every other account's
// (a tenant sees a rule naming one as space.BuildHiding does), else none.
func (e *engine) hidden(owner string) space.Hidden {
	if !e.in.Options.PerAccount {
		return nil
	}
	return space.HiddenFrom(e.in.Cloud, owner)
}

// workerScratch is the memory one worker of the standings pass reuses.
type workerScratch struct {
	space space.Scratch
	ids   []int32 // the program's rules, as indexes of the cloud's rules
}

// allSources are the options of the spaces the standings read.
var allSources = space.Options{AllSourcePorts: true}

// standingsNeeded reports whether a check that reads the rules' standings
// (SGA-022, -023, -024) runs.
func (in *Input) standingsNeeded() bool {
	for _, id := range []string{"SGA-022", "SGA-023", "SGA-024"} {
		if !slices.Contains(in.Options.Skip, id) {
			return true
		}
	}
	return false
}

// ruleUses is uses, computed once per Input.
func (e *engine) ruleUses() map[*model.Rule][]ruleUse {
	e.useOnce.Do(func() { e.useCache = e.uses() })
	return e.useCache
}

// unknownRules lists the rules whose standing is unknown in some of the
// programs they take part in and live in none (Result.Unknown), in group
// and rule order; nil when no check reads the standings (they are not
// computed for it).
func (in *Input) unknownRules() []RuleRef {
	if !in.standingsNeeded() {
		return nil
	}
	uses := engineFor(in).ruleUses()
	var out []RuleRef
	eachGroupRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		unknown := false
		for _, u := range uses[r] {
			switch u.sum.status[u.index] {
			case isLive:
				return // it decides somewhere, whatever the members
			case isUnknown:
				unknown = true
			}
		}
		if unknown {
			out = append(out, RuleRef{Group: g.ID, RuleID: r.ID})
		}
	})
	return out
}

// eachGroupRule visits every rule in group and rule order.
func eachGroupRule(c *policy.Cloud, fn func(g *model.SecurityGroup, r *model.Rule)) {
	for _, g := range groupsByID(c) {
		for i := range g.Rules {
			fn(g, &g.Rules[i])
		}
	}
}

// entryName names a blocking entry for a message.
func entryName(p *policy.Program, d space.Decider) string {
	switch {
	case d >= 0:
		r := p.Rules[d]
		return r.ID + " of " + r.Group.ID + " (priority " + strconv.Itoa(r.Priority) + ", " + r.Policy.Display() + ")"
	case d.Intra() >= 0:
		return "intra-group access in " + p.Intra[d.Intra()]
	}
	switch p.Default.Verdict {
	case policy.Accept:
		return "the default accept"
	case policy.Drop:
		return "the default drop"
	}
	return "the default " + strings.ToLower(string(p.Default.Verdict))
}

// entryNames is entryName remembered by rule (a rule is named in many
// programs): byID[id] names the rule the standings number id ("" until
// named).
type entryNames struct{ byID []string }

func newEntryNames(c *policy.Cloud) *entryNames {
	n := 0
	for _, g := range c.Groups {
		n += len(g.Rules)
	}
	return &entryNames{byID: make([]string, n)}
}

func (e *entryNames) of(sm *summary, d space.Decider) string {
	if d < 0 || sm.ids == nil { // the reference keeps no rule numbers
		return entryName(sm.prog, d)
	}
	id := sm.ids[d]
	if e.byID[id] == "" {
		e.byID[id] = entryName(sm.prog, d)
	}
	return e.byID[id]
}

// SGA-022: a rule that decides nothing anywhere because earlier entries
// decide all it matches. High when one of them has the other policy: the
// rule's intent (an allow, or a deny) is defeated, not merely repeated.
func shadowedCheck(in *Input) []Finding {
	uses := engineFor(in).ruleUses()
	names := newEntryNames(in.Cloud)
	var out []Finding
	eachGroupRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		us := uses[r]
		if len(us) == 0 {
			return
		}
		for _, u := range us {
			if u.sum.status[u.index] != isShadowed {
				return
			}
		}
		// Name the blockers from a couple of the programs where there are
		// any (they are alike in most).
		var blockers []string
		opposite := false
		named := 0
		for _, u := range us {
			if named == 2 {
				break
			}
			bs := u.sum.blockers.of(u.index)
			if len(bs) > 0 {
				named++
			}
			for _, b := range bs {
				n := names.of(u.sum, b)
				if !slices.Contains(blockers, n) {
					blockers = append(blockers, n)
				}
				opposite = opposite || accepts(u.sum.prog, b) != (r.Policy != model.Drop)
			}
		}
		if len(blockers) == 0 {
			return // it can match nothing at all: no shadowing to report
		}
		sev := Medium
		how := "with the same policy, so it only repeats them"
		if opposite {
			sev = High
			how = "one of them with the other policy, so the rule's " + strings.ToLower(r.Policy.Display()) + " never happens"
		}
		out = append(out, Finding{Check: "SGA-022", Severity: sev, Resource: g.ID, RuleID: r.ID,
			Message: ruleTitle(g, r) + " never decides anything: " + list(blockers, "entries") + " decide" + plural(len(blockers)) +
				" all it matches first, " + how + ".",
			Fix: "Delete the rule, or if its verdict is the intended one give it a higher priority (a lower number) than the rules that hide it."})
	})
	return out
}

func plural(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

// SGA-023: a rule that decides somewhere, but wherever it does the entry
// that would decide without it gives the same verdict: removing it changes
// nothing. (Each rule is judged alone: two rules redundant with each other
// are not both removable.)
func redundantCheck(in *Input) []Finding {
	uses := engineFor(in).ruleUses()
	names := newEntryNames(in.Cloud)
	var out []Finding
	eachGroupRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		us := uses[r]
		var takers []string
		some := false
		for _, u := range us {
			switch u.sum.status[u.index] {
			case isLive, isUnknown:
				return
			case isRedundant:
				some = true
				for _, d := range u.sum.takeover.of(u.index) {
					if n := names.of(u.sum, d); !slices.Contains(takers, n) {
						takers = append(takers, n)
					}
				}
			}
		}
		if !some {
			return
		}
		out = append(out, Finding{Check: "SGA-023", Severity: Low, Resource: g.ID, RuleID: r.ID,
			Message: ruleTitle(g, r) + " is redundant: where it decides, " + list(takers, "entries") + " would decide the same without it.",
			Fix:     "Delete the rule to keep the group short, unless it documents an intent worth keeping (then say so in its description)."})
	})
	return out
}

// SGA-024: a drop and an accept of the same priority whose traffic
// overlaps; where it does the drop wins silently. Reported on the accept.
func conflictCheck(in *Input) []Finding {
	uses := engineFor(in).ruleUses()
	var listed []bool // by summary pos
	var order []*summary
	// byRank lists the rules as the audit orders findings (group ID,
	// rule ID), with tied[k] true when rule k ties with the one before;
	// id numbers rules in group and rule order.
	id := map[*model.Rule]int32{}
	var byRank []*model.Rule
	var tied []bool
	for _, g := range groupsByID(in.Cloud) {
		from := len(byRank)
		for i := range g.Rules {
			r := &g.Rules[i]
			id[r] = int32(len(id))
			byRank = append(byRank, r)
			for _, u := range uses[r] {
				if u.sum.pos >= len(listed) {
					listed = append(listed, make([]bool, u.sum.pos+1-len(listed))...)
				}
				if !listed[u.sum.pos] {
					listed[u.sum.pos] = true
					order = append(order, u.sum)
				}
			}
		}
		group := byRank[from:]
		slices.SortStableFunc(group, func(a, b *model.Rule) int { return strings.Compare(a.ID, b.ID) })
		for k, r := range group {
			tied = append(tied, k > 0 && r.ID == group[k-1].ID)
		}
	}
	// Each summary lists the pairs that overlap in its program (less
	// some known apart); a pair is reported where it is first found (pos,
	// in the order of the summaries and their lists), the findings in the
	// audit's order: by the accept's rank, then as found. The pairs are
	// put in that order by a counting sort on the accept, which keeps the
	// order found within each accept: a big cloud has some million.
	type hit struct { // no pointer: nothing for the collector to follow
		drop, pos, sm int32 // sm: the summary's index in order
		c             space.Correlation
	}
	// numOf numbers rule i of a summary's program as id does: the
	// standings number the rules in the same order, and their summaries
	// keep the numbers (the reference's do not).
	numOf := func(sm *summary, i int) int32 {
		if sm.ids != nil {
			return sm.ids[i]
		}
		return id[sm.prog.Rules[i].Rule]
	}
	at := make([]int32, len(id)+1)
	for _, sm := range order {
		for _, c := range sm.corr {
			at[numOf(sm, c.Accept)+1]++
		}
	}
	for k := range len(id) {
		at[k+1] += at[k]
	}
	hits := make([]hit, at[len(id)])
	next := slices.Clone(at[:len(id)])
	pos := int32(0)
	for k, sm := range order {
		for _, c := range sm.corr {
			a := numOf(sm, c.Accept)
			hits[next[a]] = hit{numOf(sm, c.Drop), pos, int32(k), c}
			next[a]++
			pos++
		}
	}
	// Each accept's pairs, first found first, without repeats (seen[drop]
	// is the accept it was last seen with, plus one).
	// (first holds indexes of hits: a quarter of the memory.)
	seen := make([]int32, len(id))
	var first []int32
	run := 0 // where the findings of the run of tied rules at hand start
	for k, r := range byRank {
		a := id[r]
		if !tied[k] {
			run = len(first)
		}
		for i := at[a]; i < at[a+1]; i++ {
			if h := &hits[i]; seen[h.drop] != a+1 {
				seen[h.drop] = a + 1
				first = append(first, i)
			}
		}
		if tied[k] { // tied with the rules before: theirs and its, as found
			slices.SortStableFunc(first[run:], func(x, y int32) int { return cmp.Compare(hits[x].pos, hits[y].pos) })
		}
	}
	out := make([]Finding, len(first))
	const fix = "Give the rule meant to win a higher priority (a lower number), or narrow one of the two so they no longer overlap."
	for k, i := range first {
		h := &hits[i]
		rules := order[h.sm].prog.Rules
		d, a := rules[h.c.Drop], rules[h.c.Accept]
		// The message as fmt would write it, without fmt: a big cloud
		// has some hundred thousand of these.
		out[k] = Finding{Check: "SGA-024", Severity: Info, Resource: a.Group.ID, RuleID: a.ID,
			Message: "Rule " + a.ID + " of " + a.Group.ID + " (accept) and rule " + d.ID + " of " + d.Group.ID + " (drop) share priority " +
				strconv.Itoa(a.Priority) + " and overlap, so the drop silently wins where they do.",
			Fix: fix}
	}
	return out
}

// SGA-025: a drop that would hide ports from the internet at large, on an
// instance with a public address, where an allow of higher priority lets
// some of those ports in first: the deny does not protect what it was
// written for.
func defeatedDenyCheck(in *Input) []Finding {
	type acc struct {
		group     *model.SecurityGroup
		rule      *model.Rule
		instances []string
		ports     []string
		allows    []string
	}
	var order []*acc
	byRule := map[*model.Rule]*acc{}
	for _, x := range engineFor(in).exposed() {
		together := hidingTogether(in.Cloud, x)
		drops := slices.Concat(x.drops, together)
		slices.Sort(drops)
		for _, di := range drops {
			dr := x.prog.Rules[di]
			for _, o := range x.open {
				// The allows that come first and let in what the drop
				// would hide: for a drop of the whole family, the rule
				// blamed; for one of a few drops that hide the internet
				// together, those of the rules opening the ports whose
				// peer meets its own.
				var allows []int
				if slices.Contains(together, di) {
					for _, r := range o.rules {
						if r < di && peersMeet(in.Cloud, x, r, di) {
							allows = append(allows, r)
						}
					}
				} else if o.rule < di {
					allows = []int{o.rule}
				}
				if len(allows) == 0 || !dropMatches(dr.Rule, o.proto) {
					continue
				}
				lo, hi := o.lo, o.hi
				if o.proto.Ports() && dr.Protocol.HasPorts() {
					var ok bool
					if lo, hi, ok = clipPorts(in.Cloud, dr.Rule, lo, hi); !ok {
						continue
					}
				}
				if dr.Protocol.HasPorts() && dr.SourcePortRange.IsSet() && !dr.SourcePortRange.Contains(max(o.sports.Lo, 1)) {
					continue // the drop does not match the source ports the opening is open from
				}
				if dr.Local.IsValid() && !slices.ContainsFunc(x.inst.Addresses(), dr.Local.Masked().Contains) {
					continue
				}
				a := byRule[dr.Rule]
				if a == nil {
					a = &acc{group: dr.Group, rule: dr.Rule}
					byRule[dr.Rule] = a
					order = append(order, a)
				}
				port := o.proto.String()
				if o.proto.Ports() {
					port += " " + portText(int(lo), int(hi))
				}
				add := func(list *[]string, v string) {
					if !slices.Contains(*list, v) {
						*list = append(*list, v)
					}
				}
				add(&a.instances, x.inst.ID)
				add(&a.ports, port)
				for _, r := range allows {
					add(&a.allows, x.ruleName(r))
				}
			}
		}
	}
	var out []Finding
	for _, a := range order {
		out = append(out, Finding{Check: "SGA-025", Severity: High, Resource: a.group.ID, RuleID: a.rule.ID,
			Message: fmt.Sprintf("Rule %s of %s (drop, priority %d) does not hide %s from the internet on %s, because %s accept%s it first.",
				a.rule.ID, a.group.ID, a.rule.Priority, list(a.ports, "ranges"), list(a.instances, "instances"), list(a.allows, "rules"), plural(len(a.allows))),
			Fix: "Give the drop a higher priority (a lower number) than the allows, or narrow the allows to the addresses that need the port."})
	}
	return out
}

// hidingTogether returns the drops of an exposure's policy, other than
// its drops of the whole family (x.drops), that hide the internet alone
// (2000::/3) or together with the drops matching as they do but for the
// peer: 0.0.0.0/1 and 128.0.0.0/1 of one priority, protocol and ports, or
// a prefix list of both (see internet.go).
func hidingTogether(c *policy.Cloud, x *exposure) []int {
	type match struct {
		priority   int
		protocol   model.Protocol
		ports      model.PortRange
		portList   string
		sourcePort model.PortRange
		local      netip.Prefix
		nic        model.NicType
	}
	f := family(x.six)
	byMatch := map[match][]int{}
	ranges := map[match][]iprange.Range{}
	for di, dr := range x.prog.Rules {
		if dr.Policy != model.Drop || slices.Contains(x.drops, di) {
			continue
		}
		m := match{dr.Priority, dr.Protocol, dr.PortRange, dr.PortRangeListID, dr.SourcePortRange, dr.Local, dr.NicType}
		byMatch[m] = append(byMatch[m], di)
		for _, p := range c.PeerPrefixes(&dr.Peer) {
			if family(p.Addr().Is6()) == f {
				ranges[m] = append(ranges[m], iprange.FromPrefix(p))
			}
		}
	}
	var out []int
	for m, ds := range byMatch {
		if isInternet(iprange.Normalize(ranges[m]), x.six) {
			out = append(out, ds...)
		}
	}
	slices.Sort(out)
	return out
}

// peersMeet reports whether two rules' peers share an address of an
// exposure's family.
func peersMeet(c *policy.Cloud, x *exposure, a, b int) bool {
	for _, p := range c.PeerPrefixes(&x.rule(a).Peer) {
		for _, q := range c.PeerPrefixes(&x.rule(b).Peer) {
			if p.Addr().Is6() == x.six && p.Overlaps(q) {
				return true
			}
		}
	}
	return false
}

// dropMatches reports whether a rule of some protocol matches a slot.
func dropMatches(r *model.Rule, p space.Proto) bool {
	return r.Protocol == model.ALL || space.SlotOf(r.Protocol) == p
}
