package audit

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/palisade-sg/palisade/internal/analysis/space"
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
	space *space.Space
	index int
}

// uses returns, per rule, its standings in the programs it is part of.
func (e *engine) uses() map[*model.Rule][]ruleUse {
	c := e.in.Cloud
	out := map[*model.Rule][]ruleUse{}
	seen := map[*space.Space]bool{}
	add := func(s *space.Space) {
		if seen[s] {
			return
		}
		seen[s] = true
		for i, pr := range s.Program.Rules {
			out[pr.Rule] = append(out[pr.Rule], ruleUse{s, i})
		}
	}
	all := allSources
	type task struct {
		inst *model.Instance
		dir  model.Direction
		nic  model.NicType
	}
	var tasks []task
	for _, inst := range sortedInstances(c) {
		nics := policy.RuleSets(c.GroupsOf(inst))
		for _, dir := range []model.Direction{model.Ingress, model.Egress} {
			for _, nic := range nics {
				tasks = append(tasks, task{inst, dir, nic})
			}
		}
	}
	// Build each distinct policy once, on every core, then index them in
	// task order. (The reference builds per task and lets the cache catch
	// what it can.)
	built := make([]*space.Space, len(tasks))
	if e.in.reference {
		var wg sync.WaitGroup
		workers := e.in.Options.workers()
		for w := range workers {
			wg.Go(func() {
				for k := w; k < len(tasks); k += workers {
					built[k] = e.spaceOf(tasks[k].inst, tasks[k].dir, tasks[k].nic, all)
				}
			})
		}
		wg.Wait()
	} else {
		first := map[policy.Key]int{} // policy → its first task
		of := make([]int, len(tasks))
		var distinct []int
		for k, t := range tasks {
			pk := policy.InstanceKey(c, t.inst, t.dir, t.nic)
			i, ok := first[pk]
			if !ok {
				i = k
				first[pk] = k
				distinct = append(distinct, k)
			}
			of[k] = i
		}
		e.parallel(len(distinct), func(j int) {
			t := tasks[distinct[j]]
			built[distinct[j]] = e.spaceOf(t.inst, t.dir, t.nic, all)
		})
		for k := range tasks {
			built[k] = built[of[k]]
		}
	}
	for _, s := range built {
		add(s)
	}
	// A group without members still says something on its own.
	for _, g := range groupsByID(c) {
		if len(c.Members(g.ID)) > 0 {
			continue
		}
		alone := &model.Instance{ID: "", VpcID: g.VpcID, SecurityGroups: []string{g.ID}}
		nics := policy.RuleSets([]*model.SecurityGroup{g})
		for _, dir := range []model.Direction{model.Ingress, model.Egress} {
			for _, nic := range nics {
				p := c.Program(alone, dir, nic)
				add(space.Build(e.res, &p, all))
			}
		}
	}
	return out
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

// eachGroupRule visits every rule in group and rule order.
func eachGroupRule(c *policy.Cloud, fn func(g *model.SecurityGroup, r *model.Rule)) {
	for _, g := range groupsByID(c) {
		for i := range g.Rules {
			fn(g, &g.Rules[i])
		}
	}
}

// entryName names a blocking entry for a message.
func entryName(s *space.Space, d space.Decider) string {
	switch {
	case d >= 0:
		r := s.Program.Rules[d]
		return fmt.Sprintf("%s of %s (priority %d, %s)", r.ID, r.Group.ID, r.Priority, r.Policy.Display())
	case d.Intra() >= 0:
		return "intra-group access in " + s.Program.Intra[d.Intra()]
	}
	return "the default " + strings.ToLower(string(s.Program.Default.Verdict))
}

// SGA-022: a rule that decides nothing anywhere because earlier entries
// decide all it matches. High when one of them has the other policy: the
// rule's intent (an allow, or a deny) is defeated, not merely repeated.
func shadowedCheck(in *Input) []Finding {
	uses := engineFor(in).ruleUses()
	var out []Finding
	eachGroupRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		us := uses[r]
		if len(us) == 0 {
			return
		}
		for _, u := range us {
			if u.space.Status(u.index) != space.Shadowed {
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
			bs := u.space.Blockers(u.index)
			if len(bs) > 0 {
				named++
			}
			for _, b := range bs {
				n := entryName(u.space, b.By)
				if !slices.Contains(blockers, n) {
					blockers = append(blockers, n)
				}
				opposite = opposite || u.space.Accepts(b.By) != (r.Policy != model.Drop)
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
			Message: fmt.Sprintf("Rule %s of %s never decides anything: %s decide%s all it matches first, %s.",
				r.ID, g.ID, list(blockers, "entries"), plural(len(blockers)), how),
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
	var out []Finding
	eachGroupRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		us := uses[r]
		var takers []string
		some := false
		for _, u := range us {
			switch u.space.Status(u.index) {
			case space.Live:
				return
			case space.Redundant:
				some = true
				for _, d := range u.space.Rules[u.index].Takeover {
					if n := entryName(u.space, d); !slices.Contains(takers, n) {
						takers = append(takers, n)
					}
				}
			}
		}
		if !some {
			return
		}
		out = append(out, Finding{Check: "SGA-023", Severity: Low, Resource: g.ID, RuleID: r.ID,
			Message: fmt.Sprintf("Rule %s of %s is redundant: where it decides, %s would decide the same without it.", r.ID, g.ID, list(takers, "entries")),
			Fix:     "Delete the rule to keep the group short, unless it documents an intent worth keeping (then say so in its description)."})
	})
	return out
}

// SGA-024: a drop and an accept of the same priority whose traffic
// overlaps; where it does the drop wins silently. Reported on the accept.
func conflictCheck(in *Input) []Finding {
	uses := engineFor(in).ruleUses()
	type pair struct{ drop, accept *model.Rule }
	seen := map[pair]bool{}
	var out []Finding
	spaces := map[*space.Space]bool{}
	var order []*space.Space
	eachGroupRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		for _, u := range uses[r] {
			if !spaces[u.space] {
				spaces[u.space] = true
				order = append(order, u.space)
			}
		}
	})
	// A pair's overlap depends on the space only through the instance's
	// addresses, which only rules with a local CIDR test: a pair without
	// one that does not overlap in one space overlaps in none.
	apart := map[pair]bool{}
	for _, s := range order {
		rules := s.Program.Rules
		skip := func(di, ai int) bool {
			p := pair{rules[di].Rule, rules[ai].Rule}
			if seen[p] || apart[p] {
				return true
			}
			if !p.drop.Local.IsValid() && !p.accept.Local.IsValid() {
				apart[p] = true // unless overlap finds it overlaps: then seen, below
			}
			return false
		}
		for _, c := range s.CorrelationsExcept(skip) {
			d, a := rules[c.Drop], rules[c.Accept]
			p := pair{d.Rule, a.Rule}
			delete(apart, p)
			if seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, Finding{Check: "SGA-024", Severity: Info, Resource: a.Group.ID, RuleID: a.ID,
				Message: fmt.Sprintf("Rule %s of %s (accept) and rule %s of %s (drop) share priority %d and overlap, so the drop silently wins where they do.",
					a.ID, a.Group.ID, d.ID, d.Group.ID, a.Priority),
				Fix: "Give the rule meant to win a higher priority (a lower number), or narrow one of the two so they no longer overlap."})
		}
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
		s := x.space
		for di, dr := range s.Program.Rules {
			if dr.Policy != model.Drop || !s.Covers(di, x.six, x.anon) {
				continue
			}
			for _, o := range x.open {
				if o.rule >= di || !dropMatches(dr.Rule, o.proto) {
					continue
				}
				lo, hi := o.lo, o.hi
				if o.proto.Ports() && dr.Protocol.HasPorts() {
					var ok bool
					if lo, hi, ok = clipPorts(in.Cloud, dr.Rule, lo, hi); !ok {
						continue
					}
				}
				if dr.Protocol.HasPorts() && dr.SourcePortRange.IsSet() && !dr.SourcePortRange.Contains(policy.DefaultSourcePort) {
					continue
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
				allow := x.rule(o.rule).ID + " of " + x.rule(o.rule).Group.ID
				for _, s := range []struct {
					list *[]string
					v    string
				}{{&a.instances, x.inst.ID}, {&a.ports, port}, {&a.allows, allow}} {
					if !slices.Contains(*s.list, s.v) {
						*s.list = append(*s.list, s.v)
					}
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

// dropMatches reports whether a rule of some protocol matches a slot.
func dropMatches(r *model.Rule, p space.Proto) bool {
	return r.Protocol == model.ALL || space.SlotOf(r.Protocol) == p
}
