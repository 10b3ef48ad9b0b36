package scenario_test

import (
	"os"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestFormatExample: the annotated file in FORMAT.md is a valid scenario
// whose flows pass, so a reader can copy it as a start. It named an ENI
// group, sg-mgmt, that it did not define, and check refused it.
func TestFormatExample(t *testing.T) {
	doc, err := os.ReadFile("../../../testdata/scenarios/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	if !ok {
		t.Fatal("FORMAT.md has no ```yaml block")
	}
	example, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("FORMAT.md's ```yaml block does not end")
	}
	s, err := scenario.Parse("FORMAT.md", []byte(example))
	if err != nil {
		t.Fatalf("FORMAT.md's example: %v", err)
	}
	outs, err := s.Check(policy.Compile(s.Cloud()))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) == 0 {
		t.Fatal("FORMAT.md's example has no flows")
	}
	for _, o := range outs {
		if !o.Pass {
			t.Errorf("FORMAT.md's example, line %d %s: got %s, want %s", o.Flow.Line, scenario.FlowText(o.Flow.Flow), o.Result.Verdict, o.Flow.Expect)
		}
	}
}
