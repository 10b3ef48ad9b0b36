package effective_test

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/effective"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestEffectivePerENI checks that a secondary ENI's effective policy is its
// own groups', not its instance's.
func TestEffectivePerENI(t *testing.T) {
	s, err := scenario.Load("../../../testdata/scenarios/11-secondary-eni.yaml")
	if err != nil {
		t.Fatal(err)
	}
	groupsIn := func(id string) map[string]bool {
		pols, err := effective.Of(s.Cloud(), id)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, p := range pols {
			if p.Direction != model.Ingress {
				continue
			}
			for _, e := range p.Entries {
				if e.Group != "" {
					out[e.Group] = true
				}
			}
		}
		return out
	}
	if g := groupsIn("eni-web-mgmt"); !g["sg-mgmt"] || g["sg-web"] {
		t.Errorf("eni-web-mgmt's ingress names groups %v; want sg-mgmt's rules only", g)
	}
	if g := groupsIn("i-web"); g["sg-mgmt"] || !g["sg-web"] {
		t.Errorf("i-web's ingress names groups %v; want sg-web's rules only", g)
	}
}
