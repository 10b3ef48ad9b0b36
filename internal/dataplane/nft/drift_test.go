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
	for _, tc := range []struct {
		name string
		cmd  []string
	}{
		{"flush ruleset", []string{"flush", "ruleset"}},
		{"table deleted", []string{"delete", "table", "inet", DefaultTable}},
		{"table flushed", []string{"flush", "table", "inet", DefaultTable}},
		{"a chain added", []string{"add", "chain", "inet", DefaultTable, "intruder"}},
		{"a set added", []string{"add", "set", "inet", DefaultTable, "intruder", "{ type ipv4_addr; }"}},
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
