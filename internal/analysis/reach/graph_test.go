package reach_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// graphFromLinks aggregates links by group the plain way: every link is
// added to every (source group, destination group) edge.
func graphFromLinks(t *testing.T, r *reach.Result, links []reach.Link) map[[2]string]reach.Edge {
	out := map[[2]string]reach.Edge{}
	groups := func(id string) []string {
		if id == reach.Internet {
			return []string{reach.Internet}
		}
		var gs []string
		for _, g := range r.Cloud().Instances[id].SecurityGroups {
			if _, ok := r.Cloud().Groups[g]; ok {
				gs = append(gs, g)
			}
		}
		return gs
	}
	for _, l := range links {
		for _, g := range groups(l.From) {
			for _, h := range groups(l.To) {
				e := out[[2]string{g, h}]
				e.From, e.To = g, h
				e.IPv4, e.IPv6 = e.IPv4.Union(l.IPv4), e.IPv6.Union(l.IPv6)
				if !l.IPv4.Empty() {
					e.Pairs4++
				}
				if !l.IPv6.Empty() {
					e.Pairs6++
				}
				out[[2]string{g, h}] = e
			}
		}
	}
	return out
}

func TestGraphEqualsLinks(t *testing.T) {
	filters := []reach.Filter{{}, {Protocol: model.TCP, Port: 22}, {IPVersion: 6}, {From: reach.Internet}, {To: "sg-gen0-1"}}
	for v, cfg := range variants {
		for seed := range uint64(10) {
			gen := cloudgen.Generate(seed+77, cfg)
			r := reach.Compute(gen.Snapshot(), reach.Options{})
			for _, f := range filters {
				if f.To != "" && r.Cloud().Groups[f.To] == nil {
					continue
				}
				name := fmt.Sprintf("variant %d seed %d filter %+v", v, seed, f)
				links, err := r.Matrix(f)
				if err != nil {
					t.Fatal(err)
				}
				want := graphFromLinks(t, r, links)
				g, err := r.Graph(f)
				if err != nil {
					t.Fatal(err)
				}
				if len(g.Edges) != len(want) {
					t.Fatalf("%s: %d edges, want %d", name, len(g.Edges), len(want))
				}
				for _, e := range g.Edges {
					w := want[[2]string{e.From, e.To}]
					if !e.IPv4.Equal(w.IPv4) || !e.IPv6.Equal(w.IPv6) || e.Pairs4 != w.Pairs4 || e.Pairs6 != w.Pairs6 {
						t.Fatalf("%s: edge %s -> %s:\n graph %+v\n links %+v", name, e.From, e.To, e, w)
					}
				}
			}
		}
	}
}

// TestGraphOnScenarios runs the same comparison on the scenario files,
// which have classic-network instances and hand-written policies.
func TestGraphOnScenarios(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/scenarios/*.yaml")
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	for _, file := range files {
		s, err := scenario.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		r := reach.Compute(s.Cloud(), reach.Options{})
		links, _ := r.Matrix(reach.Filter{})
		want := graphFromLinks(t, r, links)
		g, err := r.Graph(reach.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Edges) != len(want) {
			t.Fatalf("%s: %d edges, want %d", file, len(g.Edges), len(want))
		}
		for _, e := range g.Edges {
			w := want[[2]string{e.From, e.To}]
			if !e.IPv4.Equal(w.IPv4) || !e.IPv6.Equal(w.IPv6) || e.Pairs4 != w.Pairs4 || e.Pairs6 != w.Pairs6 {
				t.Fatalf("%s: edge %s -> %s:\n graph %+v\n links %+v", file, e.From, e.To, e, w)
			}
		}
	}
}

func TestGraphDOT(t *testing.T) {
	r := reach.Compute(cloudgen.Generate(1, cloudgen.Small).Snapshot(), reach.Options{})
	g, err := r.Graph(reach.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	dot := g.DOT()
	if !strings.HasPrefix(dot, "digraph reachability {") || !strings.HasSuffix(dot, "}\n") {
		t.Fatalf("not a digraph:\n%s", dot)
	}
	for _, e := range g.Edges {
		if !strings.Contains(dot, fmt.Sprintf("%q -> %q", e.From, e.To)) {
			t.Errorf("edge %s -> %s missing from the DOT output", e.From, e.To)
		}
	}
	if slices.IndexFunc(g.Nodes, func(n reach.GraphNode) bool { return n.ID == reach.Internet }) < 0 {
		t.Errorf("no internet node in a cloud with public addresses")
	}
}
