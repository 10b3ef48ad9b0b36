package cli

import (
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/lab/play"
)

// TestPrintPlay: a flow no lab could play is printed as such and counted
// apart, neither passed nor failed; a file played in several labs says so.
func TestPrintPlay(t *testing.T) {
	ok := play.Row{Line: 1, Flow: "a -> b TCP 22", Expect: policy.Accept, Kernel: policy.Accept, Engine: policy.Accept}
	bad := play.Row{Line: 2, Flow: "a -> c TCP 22", Expect: policy.Drop, Kernel: policy.Accept, Engine: policy.Accept}
	later := ok
	later.Lab = 1
	unplayed := play.Row{Line: 3, Flow: "a -> d TCP 22", Expect: policy.Accept, Engine: policy.Accept, NotPlayed: "a and d share the private address 10.0.0.1"}
	for _, tc := range []struct {
		name                              string
		rows                              []play.Row
		passed, failed, disagree, unplays int
		has, hasNot                       []string
	}{
		{"one lab", []play.Row{ok, bad}, 1, 1, 0, 0, []string{"FAIL"}, []string{"labs", "NOT PLAYED", "(lab"}},
		{"two labs", []play.Row{ok, later}, 2, 0, 0, 0, []string{"played in 2 labs", "ok (lab 1)", "ok (lab 2)"}, []string{"NOT PLAYED"}},
		{"not played", []play.Row{ok, unplayed}, 1, 0, 0, 1, []string{"NOT PLAYED", "share the private address"}, []string{"labs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			p, f, d, n := printPlay(&out, &scenario.Scenario{File: "x.yaml"}, tc.rows)
			if p != tc.passed || f != tc.failed || d != tc.disagree || n != tc.unplays {
				t.Errorf("counted %d passed, %d failed, %d disagree, %d not played; want %d, %d, %d, %d", p, f, d, n, tc.passed, tc.failed, tc.disagree, tc.unplays)
			}
			for _, s := range tc.has {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(out.String(), s) {
					t.Errorf("output has %q:\n%s", s, out.String())
				}
			}
		})
	}
}
