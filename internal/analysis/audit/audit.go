// Package audit judges a cloud against the security-group best practices of
// the audit catalogue (checks SGA-001 …). Exposure is judged on the
// effective policy of each instance (all its groups, priorities, intra-group
// access, public address), never rule by rule: a rule that a higher-priority
// drop hides is not an exposure, and a deny that a higher-priority allow
// defeats does not protect.
package audit

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Severity orders findings; higher is worse.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string { return severityNames[s] }

// ParseSeverity reads a severity name (any case).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: use one of %s", s, strings.Join(severityNames[:], ", "))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Finding is one thing wrong.
type Finding struct {
	Check    string   `json:"check"` // SGA-0NN
	Severity Severity `json:"severity"`
	Resource string   `json:"resource"`         // the group or instance at fault
	RuleID   string   `json:"ruleId,omitempty"` // the rule at fault, when one is
	Message  string   `json:"message"`          // what is wrong, one sentence
	Fix      string   `json:"fix"`              // how to fix it
}

// Options tunes the checks; the zero value takes the catalogue's defaults.
type Options struct {
	// AllowedPorts are the ports that may be open to the internet (SGA-006);
	// default 80 and 443.
	AllowedPorts []uint16
	// MaxRules is the rule count above which a group is flagged (SGA-020);
	// default 50.
	MaxRules int
}

func (o Options) withDefaults() Options {
	if o.AllowedPorts == nil {
		o.AllowedPorts = []uint16{80, 443}
	}
	if o.MaxRules == 0 {
		o.MaxRules = 50
	}
	return o
}

// Input is what every check reads.
type Input struct {
	Cloud   *policy.Cloud
	Options Options

	// The engine-based checks share one analysis of the cloud per Input
	// (see engineFor); it goes with the Input.
	engineOnce sync.Once
	engine     *engine
}

// Check is one catalogue entry.
type Check struct {
	ID       string
	Title    string
	Severity Severity // the usual severity; a finding may raise or lower it
	Run      func(*Input) []Finding
}

// checks is filled by the files that implement them (init functions call register).
var checks []Check

func register(c ...Check) { checks = append(checks, c...) }

// Checks lists every check, by ID.
func Checks() []Check {
	out := slices.Clone(checks)
	slices.SortFunc(out, func(a, b Check) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Run runs every check and returns the findings, worst first, then by check,
// resource and rule.
func Run(c *policy.Cloud, o Options) []Finding {
	in := &Input{Cloud: c, Options: o.withDefaults()}
	var out []Finding
	for _, ch := range Checks() {
		out = append(out, ch.Run(in)...)
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Check, b.Check),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.RuleID, b.RuleID))
	})
	return out
}

// Worst returns the highest severity among findings, and false if there are none.
func Worst(fs []Finding) (Severity, bool) {
	if len(fs) == 0 {
		return 0, false
	}
	w := fs[0].Severity
	for _, f := range fs {
		w = max(w, f.Severity)
	}
	return w, true
}
