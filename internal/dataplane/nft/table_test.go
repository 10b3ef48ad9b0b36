package nft

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// tableStep is one call on a Table: apply rs, or Delete when rs is nil.
type tableStep struct {
	name    string
	rs      *Ruleset
	want    *Stats // nil: whatever the kernel does (compared when it runs)
	refused bool   // Apply must fail and leave the table as it was
}

type tableCase struct {
	name  string
	steps []tableStep
}

// fresh is what applying rs to an empty table changes.
func fresh(rs *Ruleset) *Stats {
	st := Stats{ChainsAdded: len(rs.Chains), SetsAdded: len(rs.Sets) + len(rs.Maps)}
	for _, c := range rs.Chains {
		st.RulesAdded += len(c.Rules)
	}
	for _, s := range rs.Sets {
		st.ElementsAdded += len(elemKeys(&s)) + len(s.Tuples)
	}
	for _, m := range rs.Maps {
		st.ElementsAdded += len(m.Elems)
	}
	return &st
}

// refusedBy returns rs with a rule that refers to a set that does not
// exist: the kernel refuses the batch after accepting its other messages.
func refusedBy(rs *Ruleset) *Ruleset {
	bad := rs.clone()
	for i := range bad.Chains {
		if strings.HasPrefix(bad.Chains[i].Name, "in-") {
			bad.Chains[i].Rules = append([]Rule{{Family: IPv4, Addrs: []AddrMatch{{Set: "no-such-set"}}, Verdict: Verdict{Kind: Drop}}}, bad.Chains[i].Rules...)
		}
	}
	return bad
}

func tableCases() []tableCase {
	o := Options{InterfacePrefix: "pi-"}
	_, groups, ins := webCloud()
	build := func() *Ruleset { return Build(policy.NewCloud(groups, ins, nil), "h1", o) }
	web := build()
	groups[0].Rules[0].PortRange = model.PortRange{Start: 8080, End: 8080}
	ruleChanged := build()
	ins = append(ins, &model.Instance{ID: "i-new", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.5.10"),
		IPv6: netip.MustParseAddr("2001:db8::5:10"), SecurityGroups: []string{"sg-app"}, Host: "h2", Interface: "pi-new"})
	joined := build()
	ins = ins[:len(ins)-1]
	left := build()
	ins = append(ins, inst("i-web3", "vpc-a", "10.0.1.12", "pi-web3", "sg-web"))
	local := build()
	ins = slices.DeleteFunc(ins, func(in *model.Instance) bool { return in.ID == "i-app" })
	removed := build()

	pls := []*model.PrefixList{
		{ID: "pl-a", AddressFamily: "IPv4", Entries: []model.PrefixEntry{{CIDR: netip.MustParsePrefix("10.0.0.0/9")}, {CIDR: netip.MustParsePrefix("10.128.0.0/9")}, {CIDR: netip.MustParsePrefix("255.255.255.255/32")}}},
		{ID: "pl-6", AddressFamily: "IPv6", Entries: []model.PrefixEntry{{CIDR: netip.MustParsePrefix("2001:db8::/32")}}},
	}
	var rules []model.Rule
	for _, pl := range pls {
		rules = append(rules, rule("r-"+pl.ID, model.Ingress, model.Accept, 1, model.TCP, "443/443", pl.ID))
	}
	plGroups := []*model.SecurityGroup{group("sg-pl", "vpc-a", model.Normal, model.InnerDrop, rules...)}
	plIns := []*model.Instance{inst("i-1", "vpc-a", "10.0.1.1", "pi-1", "sg-pl")}
	plBefore := Build(policy.NewCloud(plGroups, plIns, pls), "h1", Options{})
	pls[0].Entries = pls[0].Entries[:1]
	plAfter := Build(policy.NewCloud(plGroups, plIns, pls), "h1", Options{})

	var random []tableStep
	for seed := uint64(1); seed <= 4; seed++ {
		c := genCloud(seed, cloudgen.Small, seed%2 == 0)
		random = append(random,
			tableStep{name: fmt.Sprintf("seed %d vmap", seed), rs: Build(c, "h1", o)},
			tableStep{name: fmt.Sprintf("seed %d linear", seed), rs: BuildLinear(c, "h1", o)},
			tableStep{name: fmt.Sprintf("seed %d merged", seed), rs: Build(c, "h1", Options{InterfacePrefix: "pi-", MergeRuns: true})})
	}
	merged := Build(overlapCloud(4, 40), "h1", Options{MergeRuns: true})

	return []tableCase{
		{"diffs", []tableStep{
			{name: "first apply", rs: web, want: fresh(web)},
			{name: "the same again", rs: web, want: &Stats{}},
			{name: "a rule of sg-web changes", rs: ruleChanged, want: &Stats{ChainsAdded: 1, ChainsDeleted: 1, RulesAdded: 8, ElementsAdded: 2, ElementsDeleted: 2}},
			{name: "an instance of another host joins sg-app", rs: joined, want: &Stats{ElementsAdded: 2}},
			{name: "it leaves again", rs: left, want: &Stats{ElementsDeleted: 2}},
			{name: "an instance on this host joins sg-web", rs: local, want: &Stats{ElementsAdded: 4}},
			{name: "i-app is removed", rs: removed, want: &Stats{ChainsDeleted: 1, ElementsDeleted: 4}},
		}},
		{"refused", []tableStep{
			{name: "good", rs: web, want: fresh(web)},
			{name: "refused", rs: refusedBy(ruleChanged), refused: true},
			{name: "good again changes nothing", rs: web, want: &Stats{}},
			{name: "then the change", rs: ruleChanged, want: &Stats{ChainsAdded: 1, ChainsDeleted: 1, RulesAdded: 8, ElementsAdded: 2, ElementsDeleted: 2}},
		}},
		{"delete", []tableStep{
			{name: "apply", rs: web, want: fresh(web)},
			{name: "delete", rs: nil},
			{name: "delete a missing table", rs: nil},
			{name: "apply starts from scratch", rs: web, want: fresh(web)},
		}},
		{"prefix lists", []tableStep{
			{name: "apply", rs: plBefore, want: fresh(plBefore)},
			{name: "a list shrinks: its interval set is refilled", rs: plAfter, want: &Stats{ElementsDeleted: 2, ElementsAdded: 1}},
		}},
		{"tuple sets", []tableStep{
			{name: "apply", rs: merged, want: fresh(merged)},
			{name: "the same again", rs: merged, want: &Stats{}},
		}},
		{"random clouds and layouts", random},
	}
}

// tableImpl opens an empty Table and checks that it holds rs (nil: no
// table).
type tableImpl struct {
	name string
	open func(t *testing.T) (tbl Table, holds func(t *testing.T, rs *Ruleset))
}

var tableImpls = []tableImpl{
	{"fake", func(t *testing.T) (Table, func(*testing.T, *Ruleset)) {
		f := NewFake(Options{})
		return f, func(t *testing.T, rs *Ruleset) {
			t.Helper()
			got := f.Applied()
			switch {
			case rs == nil && got != nil:
				t.Errorf("the fake still holds a table:\n%s", got)
			case rs != nil && got == nil:
				t.Errorf("the fake holds no table, want\n%s", rs)
			case rs != nil && got.String() != rs.String():
				t.Errorf("the fake holds\n%s\nwant\n%s", got, rs)
			}
		}
	}},
	{"kernel", func(t *testing.T) (Table, func(*testing.T, *Ruleset)) {
		needKernel(t)
		ns := newNetns(t, "tbl")
		return openKernel(t, ns), func(t *testing.T, rs *Ruleset) {
			t.Helper()
			if rs != nil {
				checkListed(t, ns, rs)
			} else if out := nftIn(t, ns, "list", "tables"); strings.Contains(out, DefaultTable) {
				t.Errorf("table still there after Delete:\n%s", out)
			}
		}
	}},
}

// TestTableContract runs the same calls on the Fake and, as root, on the
// Kernel: each must hold what was applied, report the Stats the kernel
// reports, keep the table as it was when a batch is refused, count every
// rule it holds, and delete. As root, the Fake's Stats must equal the
// Kernel's at every step.
func TestTableContract(t *testing.T) {
	got := map[string][]Stats{} // impl → the stats of every step, in order
	for _, impl := range tableImpls {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range tableCases() {
				t.Run(tc.name, func(t *testing.T) {
					tbl, holds := impl.open(t)
					var cur *Ruleset
					for _, s := range tc.steps {
						var st Stats
						var err error
						if s.rs == nil {
							err = tbl.Delete()
							cur = nil
						} else {
							st, err = tbl.Apply(s.rs)
						}
						got[impl.name] = append(got[impl.name], st)
						switch {
						case s.refused && err == nil:
							t.Fatalf("%s: Apply succeeded, want it refused", s.name)
						case !s.refused && err != nil:
							t.Fatalf("%s: %v", s.name, err)
						case err == nil && s.rs != nil:
							cur = s.rs
						}
						if s.want != nil && st != *s.want {
							t.Errorf("%s: %+v, want %+v", s.name, st, *s.want)
						}
						holds(t, cur)
						checkCounted(t, tbl, cur)
					}
				})
			}
		})
	}
	if k, f := got["kernel"], got["fake"]; len(k) > 0 {
		if len(k) != len(f) {
			t.Fatalf("the kernel ran %d steps, the fake %d", len(k), len(f))
		}
		for i := range k {
			if k[i] != f[i] {
				t.Errorf("step %d: the fake reports %+v, the kernel %+v", i+1, f[i], k[i])
			}
		}
	}
}

// checkCounted checks that the table counts every rule of rs, at zero as
// no traffic passed.
func checkCounted(t *testing.T, tbl Table, rs *Ruleset) {
	t.Helper()
	cs, err := tbl.Counters()
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	want := map[RuleKey]bool{}
	if rs != nil {
		want = rs.ruleKeys()
	}
	if !maps.Equal(cs, keysAtZero(want)) {
		t.Errorf("Counters: %d rules %v, want %d at zero", len(cs), slices.Collect(maps.Keys(cs))[:min(len(cs), 3)], len(want))
	}
}

func keysAtZero(keys map[RuleKey]bool) map[RuleKey]Counter {
	out := map[RuleKey]Counter{}
	for k := range keys {
		out[k] = Counter{}
	}
	return out
}

// TestFake covers what only the Fake does: fail on demand, serve the
// counters a test sets, refuse calls once closed, keep its own copy.
func TestFake(t *testing.T) {
	_, groups, ins := webCloud()
	web := Build(policy.NewCloud(groups, ins, nil), "h1", Options{})
	groups[0].Rules[0].PortRange = model.PortRange{Start: 8080, End: 8080}
	changed := Build(policy.NewCloud(groups, ins, nil), "h1", Options{})
	boom := errors.New("netlink: no buffer space available")
	key := RuleKey{GroupID: "sg-web", RuleID: "sgr-ssh"}

	cases := []struct {
		name string
		run  func(t *testing.T, f *Fake)
	}{
		{"a failed apply keeps the previous table, the next one goes through", func(t *testing.T, f *Fake) {
			mustApply(t, f, web)
			f.FailNextApply(boom)
			if _, err := f.Apply(changed); !errors.Is(err, boom) {
				t.Fatalf("Apply after FailNextApply: %v, want %v", err, boom)
			}
			if f.Applied().String() != web.String() || f.Applies() != 1 {
				t.Fatalf("after the failed apply the fake holds\n%s(%d applies), want the first table", f.Applied(), f.Applies())
			}
			if st := mustApply(t, f, changed); st.ChainsAdded != 1 || st.ChainsDeleted != 1 {
				t.Errorf("the retry: %+v, want the diff against the first table", st)
			}
			if f.Applied().String() != changed.String() {
				t.Errorf("after the retry the fake holds\n%s", f.Applied())
			}
		}},
		{"counters set by the test, for rules the table holds only", func(t *testing.T, f *Fake) {
			gone := RuleKey{GroupID: "sg-x", RuleID: "sgr-gone"}
			f.SetCounters(map[RuleKey]Counter{key: {Packets: 3, Bytes: 180}, gone: {Packets: 1, Bytes: 60}})
			if cs, _ := f.Counters(); len(cs) != 0 {
				t.Errorf("counters without a table: %v", cs)
			}
			mustApply(t, f, web)
			cs, err := f.Counters()
			if err != nil {
				t.Fatal(err)
			}
			if cs[key] != (Counter{3, 180}) {
				t.Errorf("counter of %s: %+v, want 3 packets, 180 bytes", key, cs[key])
			}
			if _, ok := cs[gone]; ok {
				t.Errorf("a rule the table does not hold is counted: %v", cs)
			}
			if len(cs) != len(web.ruleKeys()) {
				t.Errorf("%d rules counted, want %d", len(cs), len(web.ruleKeys()))
			}
			if err := f.Delete(); err != nil {
				t.Fatal(err)
			}
			mustApply(t, f, web)
			if cs, _ := f.Counters(); cs[key] != (Counter{}) {
				t.Errorf("counter after Delete and Apply: %+v, want zero", cs[key])
			}
		}},
		{"a ruleset for another table is refused", func(t *testing.T, f *Fake) {
			other := Build(policy.NewCloud(groups, ins, nil), "h1", Options{Table: "other"})
			if _, err := f.Apply(other); err == nil || !strings.Contains(err.Error(), "Options.Table") {
				t.Errorf("Apply of another table's ruleset: %v", err)
			}
		}},
		{"a set whose type changed is refused", func(t *testing.T, f *Fake) {
			mustApply(t, f, web)
			bad := web.clone()
			bad.Sets[0].Type = IfName
			if _, err := f.Apply(bad); err == nil || !strings.Contains(err.Error(), "another type") {
				t.Errorf("Apply with a set of another type: %v", err)
			}
		}},
		{"closed: every call fails", func(t *testing.T, f *Fake) {
			mustApply(t, f, web)
			f.Close()
			if _, err := f.Apply(web); err == nil {
				t.Error("Apply after Close succeeded")
			}
			if _, err := f.Counters(); err == nil {
				t.Error("Counters after Close succeeded")
			}
			if f.Applied() == nil {
				t.Error("the table is gone after Close; it stays in force")
			}
		}},
		{"the fake keeps its own copy", func(t *testing.T, f *Fake) {
			rs := web.clone()
			mustApply(t, f, rs)
			rs.Chains[0].Rules[0].Verdict.Kind = Drop
			rs.Sets[0].Addrs[0] = netip.MustParseAddr("192.0.2.1")
			if f.Applied().String() != web.String() {
				t.Errorf("changing the applied ruleset changed the fake:\n%s", f.Applied())
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, NewFake(Options{})) })
	}
}

func mustApply(t *testing.T, tbl Table, rs *Ruleset) Stats {
	t.Helper()
	st, err := tbl.Apply(rs)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return st
}
