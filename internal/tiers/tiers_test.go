package tiers

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	const m = Module + "/"
	tests := []struct {
		name    string
		graph   map[string][]string
		wantBad int
	}{
		{"down the tiers", map[string][]string{m + "internal/analysis/reach": {m + "internal/core/policy", "fmt"}}, 0},
		{"inside one tier", map[string][]string{m + "internal/core/policy": {m + "internal/core/model"}}, 0},
		{"entry point imports anything", map[string][]string{m + "cmd/palisade": {m + "internal/cli"}}, 0},
		{"core imports analysis", map[string][]string{m + "internal/core/policy": {m + "internal/analysis/space"}}, 1},
		{"core imports the control plane", map[string][]string{m + "internal/core/model": {m + "internal/controlplane/store"}}, 1},
		{"data plane imports the control plane", map[string][]string{m + "internal/dataplane/agent": {m + "internal/controlplane/server"}}, 1},
		{"public client imports internal", map[string][]string{m + "apiclient": {m + "internal/core/model"}}, 1},
		{"a test helper builds on the testkit", map[string][]string{m + "internal/analysis/reach/reachtest": {m + "internal/testkit/cloudgen"}}, 0},
		{"a package imports the testkit", map[string][]string{m + "internal/analysis/reach": {m + "internal/testkit/cloudgen"}}, 1},
		{"analysis imports ingest", map[string][]string{m + "internal/analysis/verify": {m + "internal/ingest/scenario"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Check(tt.graph); len(got) != tt.wantBad {
				t.Fatalf("Check = %v, want %d violations", got, tt.wantBad)
			}
		})
	}
}

// TestTree holds the real tree to the order: every package's non-test imports.
func TestTree(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", Module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			graph[f[0]] = f[1:]
		}
	}
	if len(graph) < 20 {
		t.Fatalf("go list found only %d packages", len(graph))
	}
	for p := range graph {
		if _, ok := Of(p); !ok && strings.HasPrefix(p, Module+"/internal/") {
			t.Errorf("%s is in no tier: add its folder to tiers.Order", p)
		}
	}
	for _, v := range Check(graph) {
		t.Error(v)
	}
}
