package audit

import (
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestSameAsReference holds the audit's faster engine (shared and
// deduplicated spaces, partition-only and TCP-only spaces where only
// decisions are read, memoised rule liveness) to the reference paths it
// replaced: on random clouds both give the same findings, in the same order
// (every third with its /0 blocks split in halves).
func TestSameAsReference(t *testing.T) {
	mid := cloudgen.Config{VPCs: 2, Groups: 12, Instances: 40, RulesPerGroup: 20, PrefixLists: 3, PortRangeLists: 2,
		MaxGroups: 3, PublicShare: 0.4, IPv6Share: 0.4, Enterprise: 0.3, MoreIPv6Share: 0.5}
	cases := []struct {
		cfg        cloudgen.Config
		seeds      int
		skip       []string
		perAccount bool
	}{
		{cloudgen.Small, 40, nil, false},
		{mid, 12, nil, false},
		// Without the standings checks, SGA-013 builds its own narrow spaces.
		{mid, 4, []string{"SGA-022", "SGA-023", "SGA-024"}, false},
		// As a server audits for tenants: another account's groups hidden.
		{cloudgen.Full, 12, nil, true},
	}
	for _, tc := range cases {
		for seed := range uint64(tc.seeds) {
			gen := cloudgen.Generate(seed+1, tc.cfg)
			if seed%3 == 1 {
				splitWorld(gen, false) // no address left that no rule names
			}
			c := gen.Snapshot()
			o := Options{Skip: tc.skip, PerAccount: tc.perAccount}.withDefaults()
			ref, fast := &Input{Cloud: c, Options: o, reference: true}, &Input{Cloud: c, Options: o}
			want := run(ref)
			got := run(fast)
			if u, v := fast.unknownRules(), ref.unknownRules(); !slices.Equal(u, v) {
				t.Errorf("seed %d: rules of unknown standing %v, reference %v", seed+1, u, v)
			}
			if len(got) != len(want) {
				t.Errorf("seed %d: %d findings, reference %d", seed+1, len(got), len(want))
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("seed %d, finding %d:\n got %+v\nwant %+v", seed+1, i, got[i], want[i])
					break
				}
			}
		}
	}
}
