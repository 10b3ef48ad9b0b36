package nft

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

func openKernel(t *testing.T, ns string) *Kernel {
	t.Helper()
	k, err := Open(ns, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func apply(t *testing.T, k *Kernel, rs *Ruleset) Stats {
	t.Helper()
	st, err := k.Apply(rs)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return st
}

// TestKernelListsRandomClouds applies rulesets of random clouds, one after
// the other on the same table (so each Apply is a diff against a very
// different table), and checks after each that nft lists exactly the
// ruleset.
func TestKernelListsRandomClouds(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "rand")
	k := openKernel(t, ns)
	for seed := uint64(1); seed <= 6; seed++ {
		for _, layout := range []string{"vmap", "linear", "merged"} {
			c := genCloud(seed, cloudgen.Small, seed%2 == 0)
			o := Options{InterfacePrefix: "pi-", MergeRuns: layout == "merged"}
			rs := Build(c, "h1", o)
			if layout == "linear" {
				rs = BuildLinear(c, "h1", o)
			}
			t.Run(fmt.Sprintf("seed%d/%s", seed, layout), func(t *testing.T) {
				apply(t, k, rs)
				checkListed(t, ns, rs)
			})
		}
	}
}

// TestKernelDiffs applies changes one after the other and checks what each
// Apply did, and that the table then lists as built.
func TestKernelDiffs(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "diff")
	k := openKernel(t, ns)
	o := Options{InterfacePrefix: "pi-"}
	c, groups, ins := webCloud()
	rs := Build(c, "h1", o)
	first := apply(t, k, rs)
	if first.ChainsAdded != len(rs.Chains) || first.SetsAdded != len(rs.Sets)+len(rs.Maps) || first.ChainsDeleted != 0 {
		t.Errorf("first Apply: %+v; want %d chains and %d sets and maps added", first, len(rs.Chains), len(rs.Sets)+len(rs.Maps))
	}
	checkListed(t, ns, rs)

	steps := []struct {
		name   string
		change func() // changes groups or ins
		want   Stats
	}{
		{"same ruleset again", func() {}, Stats{}},
		{"a rule of sg-web changes: its chain is replaced, web1 and web2's map elements re-pointed",
			func() { groups[0].Rules[0].PortRange = model.PortRange{Start: 8080, End: 8080} },
			Stats{ChainsAdded: 1, ChainsDeleted: 1, RulesAdded: 8, ElementsAdded: 2, ElementsDeleted: 2}},
		{"an instance of another host joins sg-app: one set element",
			func() {
				ins = append(ins, &model.Instance{ID: "i-new", VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.5.10"),
					IPv6: netip.MustParseAddr("2001:db8::5:10"), SecurityGroups: []string{"sg-app"}, Host: "h2", Interface: "pi-new"})
			},
			Stats{ElementsAdded: 2}},
		{"it leaves again",
			func() { ins = ins[:len(ins)-1] },
			Stats{ElementsDeleted: 2}},
		{"an instance on this host joins sg-web: a map element each way and an address",
			func() {
				ins = append(ins, inst("i-web3", "vpc-a", "10.0.1.12", "pi-web3", "sg-web"))
			},
			Stats{ElementsAdded: 4}}, // egress, ingress, ifaces, g_sg-web_4
		{"i-app is removed: its map elements go, and its egress chain no one else uses",
			func() { ins = slices.DeleteFunc(ins, func(in *model.Instance) bool { return in.ID == "i-app" }) },
			Stats{ChainsDeleted: 1, ElementsDeleted: 4}}, // egress, ingress, ifaces, g_sg-app_4 (i-far stays)
	}
	for _, s := range steps {
		s.change()
		c = policy.NewCloud(groups, ins, nil)
		rs = Build(c, "h1", o)
		if got := apply(t, k, rs); got != s.want {
			t.Errorf("%s: %+v, want %+v", s.name, got, s.want)
		}
		checkListed(t, ns, rs)
	}

	// A new Kernel reads the table and finds nothing to do.
	k2 := openKernel(t, ns)
	if got := apply(t, k2, rs); !got.IsZero() {
		t.Errorf("reconcile of an up-to-date table: %+v, want nothing", got)
	}
	// ... and repairs what was changed behind its back.
	nftIn(t, ns, "delete", "element", "inet", "palisade", "g_sg-web_4", "{ 10.0.1.11 }")
	nftIn(t, ns, "add", "element", "inet", "palisade", "g_sg-web_4", "{ 10.99.0.1 }")
	nftIn(t, ns, "add", "chain", "inet", "palisade", "stray")
	nftIn(t, ns, "flush", "chain", "inet", "palisade", "forward")
	nftIn(t, ns, "delete", "chain", "inet", "palisade", "forward")
	nftIn(t, ns, "add", "chain", "inet", "palisade", "forward", "{ type filter hook forward priority 10; policy drop; }")
	k3 := openKernel(t, ns)
	// The stray chain goes; the base chain, with the wrong hook, is replaced.
	want := Stats{ElementsAdded: 1, ElementsDeleted: 1, ChainsDeleted: 2, ChainsAdded: 1, RulesAdded: len(rs.Chains[0].Rules)}
	if got := apply(t, k3, rs); got != want {
		t.Errorf("reconcile of a tampered table: %+v, want %+v", got, want)
	}
	checkListed(t, ns, rs)
}

// TestKernelApplyIsAtomic makes the kernel refuse a batch and checks that
// nothing changed, and that the next Apply starts again from the kernel.
func TestKernelApplyIsAtomic(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "atomic")
	k := openKernel(t, ns)
	c, groups, ins := webCloud()
	good := Build(c, "h1", Options{})
	apply(t, k, good)
	before := nftIn(t, ns, "list", "ruleset")

	groups[0].Rules[0].PortRange = model.PortRange{Start: 8080, End: 8080}
	bad := Build(policy.NewCloud(groups, ins, nil), "h1", Options{})
	// A rule that refers to a set that does not exist fails in the kernel,
	// after the other messages of the batch were accepted.
	for i := range bad.Chains {
		if strings.HasPrefix(bad.Chains[i].Name, "in-") {
			bad.Chains[i].Rules = append([]Rule{{Family: IPv4, Addrs: []AddrMatch{{Set: "no-such-set"}}, Verdict: Verdict{Kind: Drop}}}, bad.Chains[i].Rules...)
		}
	}
	if _, err := k.Apply(bad); err == nil {
		t.Fatal("Apply of a ruleset the kernel refuses succeeded")
	}
	if after := nftIn(t, ns, "list", "ruleset"); after != before {
		t.Errorf("a refused Apply changed the table:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := apply(t, k, good); !got.IsZero() {
		t.Errorf("Apply after the error: %+v, want nothing (the kernel still holds the good ruleset)", got)
	}
}

func TestKernelLayoutSwitchAndDelete(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "switch")
	k := openKernel(t, ns)
	c := genCloud(3, cloudgen.Small, true)
	o := Options{InterfacePrefix: "pi-"}
	for _, rs := range []*Ruleset{Build(c, "h1", o), BuildLinear(c, "h1", o), Build(c, "h1", Options{})} {
		apply(t, k, rs)
		checkListed(t, ns, rs)
	}
	if err := k.Delete(); err != nil {
		t.Fatal(err)
	}
	if out := nftIn(t, ns, "list", "tables"); strings.Contains(out, "palisade") {
		t.Errorf("table still there after Delete:\n%s", out)
	}
	if err := k.Delete(); err != nil {
		t.Errorf("Delete of a missing table: %v", err)
	}
	// Apply after Delete starts from scratch.
	rs := Build(c, "h1", o)
	if got := apply(t, k, rs); got.ChainsAdded != len(rs.Chains) {
		t.Errorf("Apply after Delete: %+v", got)
	}
	checkListed(t, ns, rs)
}

func TestOpenMissingNetns(t *testing.T) {
	needKernel(t)
	_, err := Open("pnft-does-not-exist", Options{})
	if err == nil || !strings.Contains(err.Error(), "ip netns add") {
		t.Errorf("Open of a missing namespace: %v; want an error saying how to create it", err)
	}
}

// TestKernelPrefixLists loads interval sets with edge cases (the whole
// space, the top address) and changes a list: its set is refilled, no chain
// changes.
func TestKernelPrefixLists(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "pl")
	k := openKernel(t, ns)
	pls := []*model.PrefixList{
		{ID: "pl-a", AddressFamily: "IPv4", Entries: []model.PrefixEntry{{CIDR: netip.MustParsePrefix("10.0.0.0/9")}, {CIDR: netip.MustParsePrefix("10.128.0.0/9")}, {CIDR: netip.MustParsePrefix("255.255.255.255/32")}}},
		{ID: "pl-all", AddressFamily: "IPv4", Entries: []model.PrefixEntry{{CIDR: netip.MustParsePrefix("0.0.0.0/0")}}},
		{ID: "pl-6", AddressFamily: "IPv6", Entries: []model.PrefixEntry{{CIDR: netip.MustParsePrefix("2001:db8::/32")}, {CIDR: netip.MustParsePrefix("ffff::/16")}}},
		{ID: "pl-empty", AddressFamily: "IPv6"},
	}
	var rules []model.Rule
	for _, pl := range pls {
		rules = append(rules, rule("r-"+pl.ID, model.Ingress, model.Accept, 1, model.TCP, "443/443", pl.ID))
	}
	groups := []*model.SecurityGroup{group("sg-pl", "vpc-a", model.Normal, model.InnerDrop, rules...)}
	ins := []*model.Instance{inst("i-1", "vpc-a", "10.0.1.1", "pi-1", "sg-pl")}
	rs := Build(policy.NewCloud(groups, ins, pls), "h1", Options{})
	apply(t, k, rs)
	checkListed(t, ns, rs)

	pls[0].Entries = pls[0].Entries[:1] // 10.0.0.0/8 and the top address become 10.0.0.0/9
	rs = Build(policy.NewCloud(groups, ins, pls), "h1", Options{})
	// Two ranges out (10.0.0.0/8, 255.255.255.255), one in.
	if got, want := apply(t, k, rs), (Stats{ElementsDeleted: 2, ElementsAdded: 1}); got != want {
		t.Errorf("prefix-list change: %+v, want %+v", got, want)
	}
	checkListed(t, ns, rs)
}

// TestStringLoads feeds String's output to nft and checks that the table
// nft creates is the one Apply creates.
func TestStringLoads(t *testing.T) {
	needKernel(t)
	_, groups, ins := webCloud()
	cgroups, cins := classicCloud()
	cases := map[string]*Ruleset{
		"web":          Build(policy.NewCloud(groups, ins, nil), "h1", Options{InterfacePrefix: "pi-"}),
		"classic":      Build(policy.NewCloud(cgroups, cins, nil), "h1", Options{}),
		"random":       Build(genCloud(9, cloudgen.Small, true), "h1", Options{InterfacePrefix: "pi-"}),
		"randomLinear": BuildLinear(genCloud(9, cloudgen.Small, true), "h1", Options{InterfacePrefix: "pi-"}),
		"merged":       Build(overlapCloud(4, 40), "h1", Options{MergeRuns: true}),
	}
	for name, rs := range cases {
		t.Run(name, func(t *testing.T) {
			ns := newNetns(t, "str")
			cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
			cmd.Stdin = strings.NewReader(rs.String())
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("nft -f: %v\n%s\n%s", err, out, rs)
			}
			checkListed(t, ns, rs)
		})
	}
}

// TestKernelReconcileEachLayout: a new Kernel applying what an earlier one
// applied changes nothing, whatever the layout.
func TestKernelReconcileEachLayout(t *testing.T) {
	needKernel(t)
	c := overlapCloud(2, 40)
	for name, rs := range map[string]*Ruleset{
		"vmap":   Build(c, "h1", Options{InterfacePrefix: "pi-"}),
		"merged": Build(c, "h1", Options{InterfacePrefix: "pi-", MergeRuns: true}),
		"linear": BuildLinear(c, "h1", Options{InterfacePrefix: "pi-"}),
	} {
		t.Run(name, func(t *testing.T) {
			ns := newNetns(t, "rec")
			apply(t, openKernel(t, ns), rs)
			if got := apply(t, openKernel(t, ns), rs); !got.IsZero() {
				t.Errorf("reconcile: %+v, want nothing", got)
			}
		})
	}
}

// TestKernelClosed: a closed Kernel refuses every call, as the Fake does. It
// used to dial again, without its namespace: into the caller's, where it
// would apply or delete a table of that name.
func TestKernelClosed(t *testing.T) {
	needKernel(t)
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{})
	for _, tc := range []struct {
		name string
		call func(k *Kernel) error
	}{
		{"Apply", func(k *Kernel) error { _, err := k.Apply(rs); return err }},
		{"Counters", func(k *Kernel) error { _, err := k.Counters(); return err }},
		{"Delete", func(k *Kernel) error { return k.Delete() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, caller := newNetns(t, "closed"), newNetns(t, "caller")
			k := openKernel(t, target)
			apply(t, k, rs)
			nftIn(t, caller, "add", "table", "inet", DefaultTable) // what a wrong Delete would remove
			before := nftIn(t, target, "list", "ruleset")
			k.Close()
			var err error
			inNetns(t, caller, func() { err = tc.call(k) })
			if err == nil {
				t.Errorf("%s after Close succeeded", tc.name)
			}
			if got := nftIn(t, caller, "list", "ruleset"); got != "table inet palisade {\n}\n" {
				t.Errorf("%s after Close changed the caller's namespace:\n%s", tc.name, got)
			}
			if after := nftIn(t, target, "list", "ruleset"); after != before {
				t.Errorf("%s after Close changed the table", tc.name)
			}
		})
	}
}

// TestCarriedCountsBelongToTheNamespace: two Kernels of one table share
// the counts it carries (the agent applies through one and counts through
// the other); a namespace made again under the same name is another (the
// kernel may give it the old one's inode): its first Apply finds no table,
// and so nothing carried.
func TestCarriedCountsBelongToTheNamespace(t *testing.T) {
	needKernel(t)
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{})
	ns := newNetns(t, "carry")
	a, b := openKernel(t, ns), openKernel(t, ns)
	if a.carried != b.carried {
		t.Fatal("two Kernels of one table do not share its carried counts")
	}
	key := RuleKey{GroupID: "sg-web", RuleID: "sgr-http"}
	apply(t, a, rs)
	a.carried.m[key] = Counter{Packets: 7}
	if got, err := b.Counters(); err != nil || got[key].Packets != 7 {
		t.Errorf("the counting Kernel reads %+v, %v; want the 7 packets carried", got[key], err)
	}
	a.Close()
	b.Close()
	run(t, "ip", "netns", "del", ns)
	run(t, "ip", "netns", "add", ns)
	k := openKernel(t, ns)
	apply(t, k, rs)
	if got, err := k.Counters(); err != nil || got[key].Packets != 0 {
		t.Errorf("a namespace made again under the name %s counts %+v, %v; want none of the old one's", ns, got[key], err)
	}
	if other, _ := Open(ns, Options{Table: "other"}); other != nil {
		defer other.Close()
		if other.carried == k.carried {
			t.Error("two tables of one namespace share carried counts")
		}
	}
}

// TestCountersWaitForAnApply: while an Apply commits (and moves the counts
// of the chains it deletes), a read of the counters through another
// Kernel, which could count them twice, is refused rather than answered.
func TestCountersWaitForAnApply(t *testing.T) {
	needKernel(t)
	c, _, _ := webCloud()
	ns := newNetns(t, "seq")
	a, b := openKernel(t, ns), openKernel(t, ns)
	apply(t, a, Build(c, "h1", Options{}))
	a.carried.begin()
	if _, err := b.Counters(); !errors.Is(err, errApplying) {
		t.Errorf("counters read during an Apply's commit: %v; want errApplying", err)
	}
	a.carried.end()
	if _, err := b.Counters(); err != nil {
		t.Errorf("counters read after the commit: %v", err)
	}
}
