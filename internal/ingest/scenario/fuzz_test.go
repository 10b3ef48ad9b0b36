package scenario_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// FuzzParse: whatever a file holds, Parse neither panics nor returns an
// error that names no file (FORMAT.md: an invalid file is reported with the
// file, the line and the field), and a file it accepts is one whose every
// flow both evaluators decide, alike.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../../testdata/scenarios/*.yaml")
	more, _ := filepath.Glob("../../../testdata/scenarios/check-only/*.yaml")
	for _, name := range append(files, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(semBase))
	f.Add([]byte("vpcs:\n  - &a {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, <<: *a}\n")) // merges itself
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := scenario.Parse("f.yaml", data)
		if err != nil {
			var e *scenario.Error
			if !errors.As(err, &e) || e.File != "f.yaml" {
				t.Fatalf("error %v is not a scenario.Error naming the file", err)
			}
			return
		}
		cloud := s.Cloud()
		lin, err := s.Check(policy.NewLinear(cloud))
		if err != nil {
			t.Fatalf("an accepted file's flow is not decided: %v", err)
		}
		comp, err := s.Check(policy.Compile(cloud))
		if err != nil {
			t.Fatalf("an accepted file's flow is not decided by the compiled evaluator: %v", err)
		}
		for i := range lin {
			if lin[i].Result.Verdict != comp[i].Result.Verdict {
				t.Fatalf("line %d: linear %s, compiled %s", lin[i].Flow.Line, lin[i].Result.Verdict, comp[i].Result.Verdict)
			}
		}
	})
}
