package scenario_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
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

// TestFormatDefaults: the defaults FORMAT.md's example states are the ones
// check and lab play apply. The default source port read "an ephemeral port
// (>= 32768)", so a file whose sourcePortRange split that range (32768/39999)
// had a verdict the spec did not settle; both use policy.DefaultSourcePort.
func TestFormatDefaults(t *testing.T) {
	doc, err := os.ReadFile("../../../testdata/scenarios/FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ field, want string }{
		{"sourcePort:", fmt.Sprintf("default %d", policy.DefaultSourcePort)},
		{"priority:", fmt.Sprintf("default %d", model.DefaultPriority)},
	} {
		var line string
		for l := range strings.Lines(string(doc)) {
			if strings.HasPrefix(strings.TrimSpace(l), tc.field) {
				line = l
				break
			}
		}
		if _, comment, _ := strings.Cut(line, "#"); !strings.Contains(comment, tc.want) {
			t.Errorf("FORMAT.md's %s line %q does not say %q", tc.field, strings.TrimSpace(line), tc.want)
		}
	}
}
