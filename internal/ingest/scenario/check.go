package scenario

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Outcome is one flow's result.
type Outcome struct {
	Flow   Flow
	Result policy.Result
	Pass   bool
}

// Check evaluates every flow of the scenario with the given decider.
func (s *Scenario) Check(d policy.Decider) ([]Outcome, error) {
	var out []Outcome
	for _, f := range s.Flows {
		res, err := policy.Evaluate(d, f.Flow)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", s.File, f.Line, err)
		}
		out = append(out, Outcome{Flow: f, Result: res, Pass: res.Verdict == f.Expect})
	}
	return out, nil
}

// FlowText is a flow in one line: "i-a -> i-b TCP 80".
func FlowText(f policy.Flow) string {
	end := func(id string, a netip.Addr) string {
		if a.IsValid() {
			return fmt.Sprintf("%s (%s)", id, a)
		}
		return id
	}
	s := fmt.Sprintf("%s -> %s %s", end(f.From, f.FromAddr), end(f.To, f.ToAddr), f.Protocol)
	if f.Protocol.HasPorts() {
		s += fmt.Sprintf(" %d", f.Port)
		if f.SourcePort != 0 {
			s += fmt.Sprintf(" (from port %d)", f.SourcePort)
		}
	}
	if f.IPVersion == 6 {
		s += " IPv6"
	}
	return s
}

// Explain says why a result came out as it did, naming the deciding rule of
// each side with its line in the file.
func (s *Scenario) Explain(r policy.Result) string {
	if r.Path != "" {
		return "path: " + string(r.Path)
	}
	var parts []string
	for _, side := range []struct {
		name string
		d    *policy.Decision
	}{{"egress", r.Egress}, {"ingress", r.Ingress}} {
		if side.d == nil {
			continue
		}
		text := side.d.String()
		if side.d.Rule != nil {
			if line, ok := s.RuleLines[side.d.Rule.RuleID]; ok {
				text += fmt.Sprintf(" [line %d]", line)
			}
		}
		parts = append(parts, side.name+": "+text)
	}
	return strings.Join(parts, "; ")
}

// Report prints one line per flow and returns the counts.
func (s *Scenario) Report(w io.Writer, outcomes []Outcome) (passed, failed int) {
	title := s.File
	if s.Name != "" {
		title += ": " + s.Name
	}
	fmt.Fprintln(w, title)
	for _, o := range outcomes {
		mark := "ok  "
		if !o.Pass {
			mark = "FAIL"
			failed++
		} else {
			passed++
		}
		line := fmt.Sprintf("  %s %-44s expected %-6s got %-6s %s", mark, FlowText(o.Flow.Flow), o.Flow.Expect, o.Result.Verdict, s.Explain(o.Result))
		if !o.Pass && o.Flow.Why != "" {
			line += fmt.Sprintf(" (why: %s)", o.Flow.Why)
		}
		fmt.Fprintln(w, line)
	}
	return passed, failed
}
