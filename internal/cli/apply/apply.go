// Package apply converges an account, through the ECS and VPC APIs, to a
// scenario file (testdata/scenarios/FORMAT.md): it reads the account,
// compares it with the file, plans the API calls that close the gap with
// the flows they open and close, and runs them in dependency order.
//
// The file's IDs are local names: the API makes its own. A resource apply
// creates carries the file ID it was made for (Marker: a tag on groups and
// instances, the description of VPCs, vSwitches and prefix lists), and the
// next apply matches by that marker, so applying the same file twice makes
// no call. Resources without the marker are never changed or removed.
//
// Adding a resource kind (ENIs, port range lists) means: read it in Read,
// match it by marker in Build (one diff function per kind, called in
// dependency order), and give its create step the ID field to remember.
package apply

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/analysis/plan"
)

// API versions of the two products apply calls.
const (
	ECSVersion = "2014-05-26"
	VPCVersion = "2016-04-28"
)

// Step is one API call of a plan.
type Step struct {
	Product  string // "Ecs" or "Vpc"
	Action   string
	Resource string // the file ID of what the step changes (or the account's ID of what it removes)
	// Params are sent as they are, except that a value "{kind:id}" stands
	// for the ID the API gives a resource created earlier in the same run.
	Params map[string]string
	Note   string `json:",omitempty"` // what changes, for the reader
	// creates is the reference ("{kind:id}") of what the step creates, and
	// idField where the answer carries its ID.
	creates, idField string
}

// Plan is what apply would do: the calls and the flows they change.
type Plan struct {
	File     string
	Region   string
	Steps    []Step
	Summary  plan.Summary
	Changes  []plan.Change
	Warnings []string `json:",omitempty"` // what the account read could not take over, and what apply leaves
}

// Empty reports whether the account already matches the file.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 }

// ref is the placeholder of a resource created in the run.
func ref(kind, id string) string { return "{" + kind + ":" + id + "}" }

// isRef reports whether a parameter value is a placeholder.
func isRef(v string) bool {
	return strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") && strings.Contains(v, ":")
}

// String is the step in one line: the action, the resource and the
// parameters in name order.
func (s Step) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-32s %s", s.Action, s.Resource)
	for _, k := range slices.Sorted(maps.Keys(s.Params)) {
		if k == "RegionId" {
			continue
		}
		fmt.Fprintf(&b, " %s=%s", k, s.Params[k])
	}
	if s.Note != "" {
		fmt.Fprintf(&b, "  (%s)", s.Note)
	}
	return b.String()
}

// ConflictError is a difference the API cannot make in place (a group's
// type or VPC, a VPC's block, a prefix list's address family).
type ConflictError struct {
	Resource, FileID, Field, Have, Want string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s (%s in the account): %s is %s, the file says %s, and the API cannot change it in place; "+
		"delete %s (or remove its %s marker so apply leaves it alone) and apply again", e.FileID, e.Resource, e.Field, e.Have, e.Want, e.Resource, Marker)
}
