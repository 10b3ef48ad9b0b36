package nft

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestBuildFlowLog checks the flow-log layout against the plain one: the
// same rules with the same verdicts, every accepting instance-chain rule
// labelled with its side's entry, every dropping one going to a chain that
// logs, naming a dropping entry of its side, and drops.
func TestBuildFlowLog(t *testing.T) {
	c, _, _ := webCloud()
	plain := Build(c, "h1", Options{})
	if plain.Entries != nil {
		t.Fatalf("flow logging off, the ruleset has entries")
	}
	rs := Build(c, "h1", Options{FlowLog: true})
	if len(rs.Entries) == 0 {
		t.Fatal("flow logging on, the ruleset has no entries")
	}
	if _, err := NewFake(Options{FlowLog: true}).Apply(rs); err != nil {
		t.Fatalf("the fake refuses the flow-log ruleset: %v", err)
	}
	logs, labels := 0, 0
	e := &encoder{table: &nftables.Table{Name: rs.Table, Family: nftables.TableFamilyINet}}
	for _, in := range []string{"i-web1", "i-app", "i-ent"} {
		inst := c.Instances[in]
		for _, dir := range []model.Direction{model.Ingress, model.Egress} {
			m := map[model.Direction]string{model.Ingress: IngressMap, model.Egress: EgressMap}[dir]
			got, want := chainOf(t, rs, m, inst.Interface).Rules, chainOf(t, plain, m, inst.Interface).Rules
			var kept []Rule
			for _, r := range got {
				if _, err := e.rule(r, Counter{}); err != nil {
					t.Fatalf("%s %s rule %q: %v", in, dir, r, err)
				}
				if r.Verdict.Kind == Goto && strings.HasPrefix(r.Verdict.Chain, LogChainPrefix+"-") {
					logs++
					ld := rs.chain(r.Verdict.Chain)
					if ld == nil || len(ld.Rules) != 2 || ld.Rules[0].Over == nil || !ld.Rules[0].Counter || ld.Rules[0].Verdict.Kind != Drop ||
						ld.Rules[1].Log == nil || ld.Rules[1].Verdict.Kind != Drop || ld.Rules[1].Over != nil {
						t.Fatalf("%s %s: rule %q goes to %+v, want a counted drop over the limit, then a log and drop", in, dir, r, ld)
					}
					l := ld.Rules[1].Log
					id, ok := EntryOfPrefix(l.Prefix)
					ent, known := rs.Entries[id]
					switch {
					case !ok || !known:
						t.Errorf("%s %s: log rule %q names no entry", in, dir, ld.Rules[1])
					case ent.Side != dir || ent.Verdict != policy.Drop:
						t.Errorf("%s %s: log rule %q names %+v, want a drop of this side", in, dir, ld.Rules[1], ent)
					case ent.Reason == policy.ByRule && (RuleKey{ent.GroupID, ent.RuleID}) != r.Key:
						t.Errorf("%s %s: rule %q logs as %s/%s", in, dir, r, ent.GroupID, ent.RuleID)
					case l.Egress != (dir == model.Ingress):
						t.Errorf("%s %s: log rule %q: copies the egress entry %v", in, dir, ld.Rules[1], l.Egress)
					}
					for _, lr := range ld.Rules {
						if _, err := e.rule(lr, Counter{}); err != nil {
							t.Fatalf("%s %s rule %q: %v", in, dir, lr, err)
						}
					}
					r.Verdict = Verdict{Kind: Drop}
				}
				if r.Verdict.Kind == Return {
					labels++
					ent, ok := rs.Entries[r.Label.ID]
					if !ok || ent.Side != dir || ent.Verdict != policy.Accept || r.Label.Ingress != (dir == model.Ingress) {
						t.Errorf("%s %s: accepting rule %q: label %+v names %+v, want an accept of this side", in, dir, r, r.Label, ent)
					}
					if ent.Reason == policy.ByRule && (RuleKey{ent.GroupID, ent.RuleID}) != r.Key {
						t.Errorf("%s %s: rule %q labelled with %s/%s", in, dir, r, ent.GroupID, ent.RuleID)
					}
				}
				r.Label = Label{}
				kept = append(kept, r)
			}
			if len(kept) != len(want) {
				t.Fatalf("%s %s: %d rules besides logs, want the plain layout's %d", in, dir, len(kept), len(want))
			}
			for i := range kept {
				if kept[i].String() != want[i].String() {
					t.Errorf("%s %s rule %d: %q, want %q", in, dir, i, kept[i], want[i])
				}
			}
		}
	}
	if logs == 0 || labels == 0 {
		t.Errorf("%d log rules, %d labelled rules: the cloud exercises too little", logs, labels)
	}
}

// TestBuildFlowLogMerged: with MergeRuns, merged rules are looked up in
// verdict maps whose elements go to their entry's chain: a label chain
// labelling the element's rule on its side and returning, or the log chain
// of the element's rule. TestMergeRunsEquivalent holds the verdicts, counted
// rules and entries of packets against the plain flow-log layout.
func TestBuildFlowLogMerged(t *testing.T) {
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{FlowLog: true, MergeRuns: true})
	if _, err := NewFake(Options{FlowLog: true}).Apply(rs); err != nil {
		t.Fatalf("the fake refuses the merged flow-log ruleset: %v", err)
	}
	e := &encoder{table: &nftables.Table{Name: rs.Table, Family: nftables.TableFamilyINet}}
	lookups, elems := 0, 0
	for _, ch := range rs.Chains {
		for _, r := range ch.Rules {
			if _, err := e.rule(r, Counter{}); err != nil {
				t.Fatalf("chain %s rule %q: %v", ch.Name, r, err)
			}
			if r.Tuple.Set == "" {
				continue
			}
			lookups++
			set := rs.set(r.Tuple.Set)
			if !r.Tuple.VMap || set == nil || !set.VMap || r.Verdict.Kind != "" {
				t.Fatalf("chain %s rule %q: want a lookup in a verdict map, and no verdict of its own", ch.Name, r)
			}
			for _, el := range set.Tuples {
				elems++
				target := rs.chain(el.Chain)
				if target == nil {
					t.Fatalf("map %s element %s: no chain", set.Name, el)
				}
				var ent Entry
				var ok bool
				switch {
				case strings.HasPrefix(el.Chain, LabelChainPrefix+"-"):
					lr := target.Rules
					if len(lr) != 1 || lr[0].Verdict.Kind != Return || lr[0].Label.ID == 0 {
						t.Fatalf("map %s element %s: chain %+v, want a label and a return", set.Name, el, target)
					}
					ent, ok = rs.Entries[lr[0].Label.ID]
					ok = ok && ent.Verdict == policy.Accept && lr[0].Label.Ingress == (ent.Side == model.Ingress)
				case strings.HasPrefix(el.Chain, LogChainPrefix+"-") && len(target.Rules) == 2 && target.Rules[1].Log != nil:
					var id EntryID
					if id, ok = EntryOfPrefix(target.Rules[1].Log.Prefix); ok {
						ent, ok = rs.Entries[id]
					}
					ok = ok && ent.Verdict == policy.Drop
				}
				if !ok || ent.Reason != policy.ByRule || (RuleKey{ent.GroupID, ent.RuleID}) != el.Key {
					t.Errorf("map %s element %s goes to %s, naming %+v", set.Name, el, el.Chain, ent)
				}
			}
		}
	}
	if lookups == 0 || elems < 2 {
		t.Errorf("%d merged lookups, %d elements: nothing was merged", lookups, elems)
	}
}

func TestEntryIDs(t *testing.T) {
	a := Entry{Side: model.Ingress, Reason: policy.ByRule, GroupID: "sg-1", RuleID: "sgr-1", Priority: 1, Policy: model.Accept, Verdict: policy.Accept}
	a2, b := a, a
	b.Side = model.Egress
	if a.ID() == b.ID() || a.ID() != a2.ID() {
		t.Fatalf("IDs: %s %s", a.ID(), b.ID())
	}
	if id, ok := EntryOfPrefix(LogPrefix + a.ID().String() + "\x00"); !ok || id != a.ID() {
		t.Errorf("prefix round trip: %s %v", id, ok)
	}
	eg, in := LabelIDs(Label{ID: a.ID(), Ingress: true}.Bytes())
	if eg != 0 || in != a.ID() {
		t.Errorf("label halves: %s %s", eg, in)
	}
	if d := a.Decision(); d.Rule == nil || d.Rule.RuleID != "sgr-1" || d.Verdict != policy.Accept {
		t.Errorf("decision %+v", d)
	}
}

// TestKernelFlowLogChanges applies flow-log rulesets to the kernel through
// a policy change that drops a dropping rule (its log chain goes stale with
// the chain that went to it), then back to the plain layout, and checks the
// kernel holds what was asked each time.
func TestKernelFlowLogChanges(t *testing.T) {
	if !kernelOK() {
		t.Skip("needs root, nft and ip")
	}
	ns := newNetns(t, "flc")
	o := Options{InterfacePrefix: "pi-", FlowLog: true}
	k, err := Open(ns, o)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c, groups, ins := webCloud()
	less := *groups[0]
	less.Rules = slices.DeleteFunc(slices.Clone(less.Rules), func(r model.Rule) bool { return r.Policy == model.Drop })
	changed := policy.NewCloud([]*model.SecurityGroup{&less, groups[1], groups[2]}, ins, nil)
	m := o
	m.MergeRuns = true
	// Plain and merged flow-log layouts, changes of each, and back to no
	// flow log: merged ones hold verdict maps going to entry chains, which
	// must be created before and deleted after the maps.
	for i, rs := range []*Ruleset{Build(c, "h1", o), Build(changed, "h1", o), Build(c, "h1", m), Build(changed, "h1", m),
		Build(c, "h1", m), Build(c, "h1", o), Build(changed, "h1", m), Build(c, "h1", Options{InterfacePrefix: "pi-", MergeRuns: true}),
		Build(c, "h1", m), Build(c, "h1", Options{InterfacePrefix: "pi-"})} {
		if _, err := k.Apply(rs); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		// A fresh agent reads the same table back: nothing to change.
		k2, err := Open(ns, o)
		if err != nil {
			t.Fatal(err)
		}
		st, err := k2.Apply(rs)
		k2.Close()
		if err != nil || !st.IsZero() {
			t.Fatalf("apply %d: reconcile by a fresh Kernel: %+v, %v; want nothing", i, st, err)
		}
		if _, err := k.Counters(); err != nil {
			t.Fatalf("apply %d: counters: %v", i, err)
		}
		got := listTable(t, ns, rs.Table)
		var want []string
		for _, ch := range rs.Chains {
			want = append(want, ch.Name)
		}
		if len(got.chains) != len(want) {
			t.Fatalf("apply %d: the kernel holds %d chains, want %d", i, len(got.chains), len(want))
		}
		for _, name := range want {
			if _, ok := got.chains[name]; !ok {
				t.Fatalf("apply %d: the kernel lacks chain %s", i, name)
			}
		}
	}
}
