package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// check evaluates scenario files: exit 0 when every flow gets its expected
// verdict, 1 when one does not, 2 when a file is invalid.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: palisade check FILE...") }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var scenarios []*scenario.Scenario
	for _, f := range fs.Args() {
		s, err := scenario.Load(f)
		if err != nil {
			var e *scenario.Error
			if errors.As(err, &e) {
				fmt.Fprintln(stderr, "invalid scenario:", e)
			} else {
				fmt.Fprintln(stderr, "palisade check:", err)
			}
			return 2
		}
		scenarios = append(scenarios, s)
	}
	passed, failed := 0, 0
	for _, s := range scenarios {
		outcomes, err := s.Check(policy.Compile(s.Cloud()))
		if err != nil {
			fmt.Fprintln(stderr, "invalid scenario:", err)
			return 2
		}
		p, f := s.Report(stdout, outcomes)
		passed += p
		failed += f
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
