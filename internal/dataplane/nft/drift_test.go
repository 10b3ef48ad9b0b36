package nft

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestDrifted: a table as applied has not drifted (random clouds, every
// layout, flow-log labels: the shape read back is the shape applied); what
// other programs do to it is seen, and the next Apply writes it whole again.
func TestDrifted(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "drift")
	k := openKernel(t, ns)
	if d, err := k.Drifted(); d || err != nil {
		t.Fatalf("before any Apply: drifted %v, %v", d, err)
	}
	for seed := uint64(1); seed <= 4; seed++ {
		for _, layout := range []string{"vmap", "linear", "merged", "flowlog"} {
			c := genCloud(seed, cloudgen.Small, seed%2 == 0)
			o := Options{InterfacePrefix: "pi-", MergeRuns: layout == "merged", FlowLog: layout == "flowlog"}
			rs := Build(c, "h1", o)
			if layout == "linear" {
				rs = BuildLinear(c, "h1", o)
			}
			t.Run(fmt.Sprintf("seed%d/%s", seed, layout), func(t *testing.T) {
				apply(t, k, rs)
				if d, err := k.Drifted(); d || err != nil {
					t.Errorf("as applied: drifted %v, %v", d, err)
				}
				// Read back from the kernel (as after a restart), the
				// table is what rs wants: nothing to write.
				k.state = nil
				if st := apply(t, k, rs); st != (Stats{}) {
					t.Errorf("the same ruleset again, the table read back: %+v; want no change", st)
				}
			})
		}
	}

	for _, tc := range tamperings(t, ns) {
		t.Run(tc.name, func(t *testing.T) {
			apply(t, k, tc.rs)
			before := listTable(t, ns, DefaultTable)
			nftIn(t, ns, tc.cmd()...)
			if d, err := k.Drifted(); !d || err != nil {
				t.Fatalf("drifted %v, %v; want true", d, err)
			}
			apply(t, k, tc.rs)
			checkRepaired(t, ns, before)
			if d, err := k.Drifted(); d || err != nil {
				t.Errorf("after the next Apply: drifted %v, %v", d, err)
			}
		})
	}
}

// TestApplyAfterTampering: a change of another program that no check saw
// yet is not hidden by the next Apply (the agent applies on every change
// the server sends, the same ruleset too): the Apply reads the table
// again and puts it back, and its generation does not make Drifted
// trust a table it did not compare.
func TestApplyAfterTampering(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "tamperapply")
	k := openKernel(t, ns)
	for _, tc := range tamperings(t, ns) {
		t.Run(tc.name, func(t *testing.T) {
			apply(t, k, tc.rs)
			if d, err := k.Drifted(); d || err != nil {
				t.Fatalf("as applied: drifted %v, %v", d, err)
			}
			before := listTable(t, ns, DefaultTable)
			nftIn(t, ns, tc.cmd()...)
			apply(t, k, tc.rs) // before the guard looks
			checkRepaired(t, ns, before)
			if d, err := k.Drifted(); d || err != nil {
				t.Errorf("after the Apply: drifted %v, %v", d, err)
			}
		})
	}
}

// checkRepaired compares the table nft lists with what it listed before
// another program changed it (counter values left out; the elements of
// sets sorted, as one deleted and added again is listed last).
func checkRepaired(t *testing.T, ns string, before listed) {
	t.Helper()
	after := listTable(t, ns, DefaultTable)
	if !maps.EqualFunc(after.chains, before.chains, slices.Equal) {
		t.Errorf("the chains after the repair:\n%v\nwant:\n%v", after.chains, before.chains)
	}
	if !maps.EqualFunc(after.elems, before.elems, slices.Equal) {
		t.Errorf("the sets after the repair:\n%v\nwant:\n%v", after.elems, before.elems)
	}
}

// tampering is another program's change to a table holding rs: cmd
// returns the nft command's arguments, as the table is then.
type tampering struct {
	name string
	rs   *Ruleset
	cmd  func() []string
}

// tamperings are the changes the guard must see: everything another
// program can do to the table that changes what it filters.
func tamperings(t *testing.T, ns string) []tampering {
	t.Helper()
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{InterfacePrefix: "pi-"})
	set, elem := firstElement(t, rs)
	m := rs.Maps[0]
	// Merged runs look rules up in tuple sets (tuple verdict maps with
	// flow logs), named by their content.
	merged := Build(overlapCloud(1, 60), "h1", Options{InterfacePrefix: "pi-", MergeRuns: true})
	mergedLog := Build(overlapCloud(1, 60), "h1", Options{InterfacePrefix: "pi-", MergeRuns: true, FlowLog: true})
	tuples, tuple := firstTuple(t, merged)
	vmap, vtuple := firstTuple(t, mergedLog)
	el := func(s string) string { return "{ " + s + " }" }
	return []tampering{
		// An element taken out of a set (a peer's address), or an
		// interface out of its map (its traffic then not filtered at all).
		{"a set's element deleted", rs, nftCmd("delete", "element", "inet", DefaultTable, set, el(elem))},
		{"an interface out of its map", rs, nftCmd("delete", "element", "inet", DefaultTable, m.Name, el(`"`+m.Elems[0].Interface+`"`))},
		{"flush ruleset", rs, nftCmd("flush", "ruleset")},
		{"table deleted", rs, nftCmd("delete", "table", "inet", DefaultTable)},
		{"table flushed", rs, nftCmd("flush", "table", "inet", DefaultTable)},
		{"a chain added", rs, nftCmd("add", "chain", "inet", DefaultTable, "intruder")},
		{"a set added", rs, nftCmd("add", "set", "inet", DefaultTable, "intruder", "{ type ipv4_addr; }")},
		{"a chain flushed", rs, nftCmd("flush", "chain", "inet", DefaultTable, rs.Chains[1].Name)},
		{"the base chain's policy changed", rs, nftCmd("add", "chain", "inet", DefaultTable, BaseChain, "{ type filter hook forward priority 0; policy drop; }")},
		// In place: the chain keeps its name, its handle and its count.
		{"a rule replaced", rs, func() []string {
			return []string{"replace", "rule", "inet", DefaultTable, rs.Chains[1].Name, "handle", firstHandle(t, ns, rs.Chains[1].Name), "accept"}
		}},
		{"a tuple set's element deleted", merged, nftCmd("delete", "element", "inet", DefaultTable, tuples, el(tuple))},
		{"a tuple set's element added", merged, nftCmd("add", "element", "inet", DefaultTable, tuples, el("132 . 9 . 198.51.100.0/24"))},
		{"a merged map's element deleted", mergedLog, nftCmd("delete", "element", "inet", DefaultTable, vmap, el(vtuple))},
		{"a merged map's element added", mergedLog, nftCmd("add", "element", "inet", DefaultTable, vmap, el("132 . 9 . 198.51.100.0/24 : accept"))},
	}
}

// firstTuple is an IPv4 tuple set of rs (a verdict map if rs has flow
// logs) with its first element as nft writes its key.
func firstTuple(t *testing.T, rs *Ruleset) (set, elem string) {
	t.Helper()
	for _, s := range rs.Sets {
		if s.Type == Tuple4 && len(s.Tuples) > 0 {
			e := s.Tuples[0]
			e.Key, e.Chain = RuleKey{}, ""
			key, _, _ := strings.Cut(e.String(), " comment")
			return s.Name, key
		}
	}
	t.Fatal("the ruleset has no tuple set")
	return "", ""
}

// firstHandle is the handle of the first rule of a chain.
func firstHandle(t *testing.T, ns, chain string) string {
	t.Helper()
	handle := regexp.MustCompile(`# handle (\d+)$`)
	for _, line := range strings.Split(nftIn(t, ns, "-a", "list", "chain", "inet", DefaultTable, chain), "\n") {
		line = strings.TrimSpace(line)
		// The table and the chain list their handles too.
		if m := handle.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, "table ") && !strings.HasPrefix(line, "chain ") {
			return m[1]
		}
	}
	t.Fatalf("chain %s lists no rule handle", chain)
	return ""
}

func nftCmd(args ...string) func() []string { return func() []string { return args } }

// TestDriftedAfterAnError: a Kernel that met an error (its state
// forgotten, to be read again) still sees another program's flush; a
// change to another table moves the kernel's generation but is no drift.
func TestDriftedAfterAnError(t *testing.T) {
	needKernel(t)
	ns := newNetns(t, "drifterr")
	k := openKernel(t, ns)
	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{InterfacePrefix: "pi-"})
	apply(t, k, rs)
	nftIn(t, ns, "add", "table", "inet", "someone-else")
	if d, err := k.Drifted(); d || err != nil {
		t.Errorf("another table added: drifted %v, %v; want false", d, err)
	}
	k.mu.Lock()
	k.redial() // as after a failed Apply
	k.mu.Unlock()
	nftIn(t, ns, "flush", "ruleset")
	if d, err := k.Drifted(); !d || err != nil {
		t.Fatalf("flushed after an error: drifted %v, %v; want true", d, err)
	}
	apply(t, k, rs)
	checkListed(t, ns, rs)
}

// firstElement is a set of rs with an address element, and that element
// as nft writes it.
func firstElement(t *testing.T, rs *Ruleset) (set, elem string) {
	t.Helper()
	for _, s := range rs.Sets {
		switch {
		case len(s.Addrs) > 0:
			return s.Name, s.Addrs[0].String()
		case len(s.Prefixes) > 0:
			return s.Name, s.Prefixes[0].String()
		}
	}
	t.Fatal("the ruleset has no address set")
	return "", ""
}
