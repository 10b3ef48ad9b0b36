package nft

import (
	"fmt"
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

	c, _, _ := webCloud()
	rs := Build(c, "h1", Options{InterfacePrefix: "pi-"})
	set, elem := firstElement(t, rs)
	m := rs.Maps[0]
	for _, tc := range []struct {
		name string
		cmd  []string
	}{
		// An element taken out of a set (a peer's address), or an
		// interface out of its map (its traffic then not filtered at all).
		{"a set's element deleted", []string{"delete", "element", "inet", DefaultTable, set, "{ " + elem + " }"}},
		{"an interface out of its map", []string{"delete", "element", "inet", DefaultTable, m.Name, `{ "` + m.Elems[0].Interface + `" }`}},
		{"flush ruleset", []string{"flush", "ruleset"}},
		{"table deleted", []string{"delete", "table", "inet", DefaultTable}},
		{"table flushed", []string{"flush", "table", "inet", DefaultTable}},
		{"a chain added", []string{"add", "chain", "inet", DefaultTable, "intruder"}},
		{"a set added", []string{"add", "set", "inet", DefaultTable, "intruder", "{ type ipv4_addr; }"}},
		{"a chain flushed", []string{"flush", "chain", "inet", DefaultTable, rs.Chains[1].Name}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply(t, k, rs)
			nftIn(t, ns, tc.cmd...)
			if d, err := k.Drifted(); !d || err != nil {
				t.Fatalf("drifted %v, %v; want true", d, err)
			}
			apply(t, k, rs)
			checkListed(t, ns, rs)
			if d, err := k.Drifted(); d || err != nil {
				t.Errorf("after the next Apply: drifted %v, %v", d, err)
			}
		})
	}
}

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
