// Package tiers states the layering of Palisade's packages and checks an
// import graph against it. The tree under internal/ is grouped by tier; a
// package may import its own tier and lower ones, never a higher one or a
// sibling tier at the same height (the control plane and the data plane meet
// only through the public API client).
//
// The test in this package runs `go list` over the module and fails on any
// import that breaks the order, so the layering in docs/architecture.md
// cannot drift from the code.
package tiers

import (
	"fmt"
	"sort"
	"strings"
)

// Module is the module path every checked package starts with.
const Module = "github.com/palisade-sg/palisade"

// Tier is one layer of the tree: the folder that holds it and its height.
type Tier struct {
	Dir    string // relative to the module root, e.g. "internal/core"
	Height int
}

// Order lists the tiers from the bottom up. Packages outside every folder
// listed here (cmd/, bench/, examples/) are entry points: they may import
// anything and nothing imports them.
var Order = []Tier{
	{"internal/core", 0},   // model, policy, ecserr: the one semantics
	{"apiclient", 0},       // the public client of Palisade's own actions
	{"internal/ingest", 1}, // scenario files and real ECS accounts into the model
	{"internal/analysis", 2},
	{"internal/controlplane", 3},
	{"internal/dataplane", 3},
	{"internal/lab", 4},
	{"internal/cli", 5},
	{"internal/testkit", 6}, // test environments and generators
	{"internal/e2e", 7},     // tests of the whole system
	{"internal/tiers", 8},
}

// Of returns the tier a package belongs to, and false for entry points and
// packages outside the module.
func Of(pkg string) (Tier, bool) {
	rel, ok := strings.CutPrefix(pkg, Module+"/")
	if !ok {
		return Tier{}, false
	}
	for _, t := range Order {
		if rel == t.Dir || strings.HasPrefix(rel, t.Dir+"/") {
			return t, true
		}
	}
	return Tier{}, false
}

// testkitHeight is the height of test support: the testkit tier and the
// helper packages beside the packages they test (modeltest, storetest,
// reachtest, as net/http/httptest), which may build on generators there.
const testkitHeight = 6

func isHelper(pkg string) bool {
	base := pkg[strings.LastIndex(pkg, "/")+1:]
	return strings.HasSuffix(base, "test") && base != "test"
}

// Violation is one import that breaks the order.
type Violation struct {
	From, To         string
	FromTier, ToTier Tier
}

func (v Violation) String() string {
	why := "a higher tier"
	if v.ToTier.Height == v.FromTier.Height {
		why = "a sibling tier"
	}
	return fmt.Sprintf("%s (%s) imports %s (%s): %s", v.From, v.FromTier.Dir, v.To, v.ToTier.Dir, why)
}

// Check returns every import in graph (package → its imports) that goes to
// a higher tier or to a sibling tier of the same height.
func Check(graph map[string][]string) []Violation {
	var out []Violation
	for from, imports := range graph {
		ft, ok := Of(from)
		if !ok {
			continue
		}
		if isHelper(from) {
			ft.Height = max(ft.Height, testkitHeight+1)
		}
		for _, to := range imports {
			tt, ok := Of(to)
			if !ok || tt.Dir == ft.Dir {
				continue
			}
			if tt.Height >= ft.Height {
				out = append(out, Violation{From: from, To: to, FromTier: ft, ToTier: tt})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}
