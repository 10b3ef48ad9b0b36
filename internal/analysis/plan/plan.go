// Package plan previews a change: it diffs the reachability of a cloud
// before and after it (reach results) and lists the flows the change opens
// and closes, by instance pair (and the internet), address family, protocol
// and port range.
//
// The usual way to get the "after" result is to clone the "before" one and
// Update it with the pending change: only the classes the change touches
// are rebuilt, and Diff then walks only the links of affected instances.
// Results computed from scratch work too.
package plan

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
)

// Kind says which way a change moves one link.
type Kind string

const (
	Widen  Kind = "widen"  // only opens flows
	Narrow Kind = "narrow" // only closes flows
	Mixed  Kind = "mixed"  // opens some, closes others
)

// Change is what a pending change does to one link and address family.
type Change struct {
	From      string `json:"from"` // instance ID or reach.Internet
	To        string `json:"to"`
	IPVersion int    `json:"ipVersion"`
	// For a link with the internet: the outside addresses concerned.
	First netip.Addr `json:"first,omitzero"`
	Last  netip.Addr `json:"last,omitzero"`
	Kind  Kind       `json:"kind"`
	// Opened passes after the change and did not before; Closed the reverse.
	Opened reach.Ports `json:"opened,omitzero"`
	Closed reach.Ports `json:"closed,omitzero"`
}

// Diff returns the changes between two results, sorted by source,
// destination, family and outside range.
func Diff(before, after *reach.Result) []Change { return DiffAmong(before, after, nil) }

// DiffAmong is Diff limited to the links between the instances among
// accepts (and the internet), at the cost of those links only (see
// reach.DeltasAmong).
func DiffAmong(before, after *reach.Result, among func(id string) bool) []Change {
	ds := reach.DeltasAmong(before, after, among)
	out := make([]Change, 0, len(ds))
	for _, d := range ds {
		c := Change{From: d.From, To: d.To, IPVersion: d.IPVersion, First: d.First, Last: d.Last,
			Opened: d.After.Minus(d.Before), Closed: d.Before.Minus(d.After)}
		switch {
		case c.Closed.Empty():
			c.Kind = Widen
		case c.Opened.Empty():
			c.Kind = Narrow
		default:
			c.Kind = Mixed
		}
		out = append(out, c)
	}
	return out
}

// Summary counts changes by kind.
type Summary struct {
	Links  int  `json:"links"`
	Widen  int  `json:"widen"`
	Narrow int  `json:"narrow"`
	Mixed  int  `json:"mixed"`
	Kind   Kind `json:"kind,omitempty"` // of the change as a whole; "" if it changes nothing
}

// Summarize counts a diff.
func Summarize(cs []Change) Summary {
	var s Summary
	for _, c := range cs {
		s.Links++
		switch c.Kind {
		case Widen:
			s.Widen++
		case Narrow:
			s.Narrow++
		default:
			s.Mixed++
		}
	}
	switch {
	case s.Links == 0:
	case s.Mixed > 0 || s.Widen > 0 && s.Narrow > 0:
		s.Kind = Mixed
	case s.Widen > 0:
		s.Kind = Widen
	default:
		s.Kind = Narrow
	}
	return s
}

// String renders a change on one line.
func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s IPv%d", c.From, c.To, c.IPVersion)
	if c.First.IsValid() {
		if c.First == c.Last {
			fmt.Fprintf(&b, " [%s]", c.First)
		} else {
			fmt.Fprintf(&b, " [%s-%s]", c.First, c.Last)
		}
	}
	if !c.Opened.Empty() {
		fmt.Fprintf(&b, " opens %s", c.Opened)
	}
	if !c.Closed.Empty() {
		if !c.Opened.Empty() {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " closes %s", c.Closed)
	}
	return b.String()
}
