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
	fs := flag.NewFlagSet("palisade check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: palisade check FILE...\n\n"+
			"Evaluate the flows of scenario files (testdata/scenarios/FORMAT.md) with the policy engine,\n"+
			"naming for each side the rule, or the implicit reason, that decided it.\n\n"+
			"Exit status: 0 every flow got its expected verdict, 1 a flow got another,\n"+
			"2 a file is invalid (its file, line and field are named).\n")
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "palisade check: give one or more scenario files, e.g. palisade check testdata/scenarios/*.yaml")
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
