package apitest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// handlerSources are the packages whose handlers read the served actions'
// parameters (relative to this package).
var handlerSources = []string{"../../controlplane/api", "../../controlplane/api/analysisapi", "../../controlplane/trail"}

// paramName is what a parameter name looks like in the handlers' string
// literals (Name, Name.Field, Tag.1.Key).
var paramName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(\.[A-Z0-9][A-Za-z0-9]*)*$`)

// handlerParams reads the handlers' source and returns, for each action
// named in a route table there, the parameter names its handler may read:
// the string literals that look like one in the functions it reaches
// (by name, so an over-approximation), and all of them under "" for an
// action whose handler it cannot find. Learning them from the source
// rather than from a list keeps a new action or parameter covered.
func handlerParams(t *testing.T) map[string][]string {
	t.Helper()
	type fn struct {
		lits  []string
		names []string // identifiers it uses, some of them functions
	}
	funcs := map[string]*fn{}
	routes := map[string]*fn{} // action → its table entry's value
	gather := func(n ast.Node) *fn {
		f := &fn{}
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
					f.lits = append(f.lits, s)
				}
			case *ast.Ident:
				f.names = append(f.names, n.Name)
			}
			return true
		})
		return f
	}
	// actionKey is the action a route table's key names: "Name", or
	// RouteKey{…, Action: "Name"}.
	actionKey := func(k ast.Expr) string {
		switch k := k.(type) {
		case *ast.BasicLit:
			s, _ := strconv.Unquote(k.Value)
			return s
		case *ast.CompositeLit:
			for _, e := range k.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Action" {
						if l, ok := kv.Value.(*ast.BasicLit); ok {
							s, _ := strconv.Unquote(l.Value)
							return s
						}
					}
				}
			}
		}
		return ""
	}
	isHandlerMap := func(c *ast.CompositeLit) bool {
		m, ok := c.Type.(*ast.MapType)
		if !ok {
			return false
		}
		sel, ok := m.Value.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "Handler"
	}
	fset := token.NewFileSet()
	for _, dir := range handlerSources {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range file.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
					g := gather(fd.Body)
					if old := funcs[fd.Name.Name]; old != nil { // same name, another receiver: both
						g.lits, g.names = append(g.lits, old.lits...), append(g.names, old.names...)
					}
					funcs[fd.Name.Name] = g
				}
			}
			ast.Inspect(file, func(n ast.Node) bool {
				c, ok := n.(*ast.CompositeLit)
				if !ok || !isHandlerMap(c) {
					return true
				}
				for _, e := range c.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						if a := actionKey(kv.Key); a != "" {
							routes[a] = gather(kv.Value)
						}
					}
				}
				return true
			})
		}
	}
	names := func(lits []string) []string {
		var out []string
		for _, s := range lits {
			if len(s) <= 64 && paramName.MatchString(s) {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	out := map[string][]string{}
	var all []string
	for _, f := range funcs {
		all = append(all, f.lits...)
	}
	out[""] = names(all)
	for action, r := range routes {
		seen := map[string]bool{}
		lits := slices.Clone(r.lits)
		queue := slices.Clone(r.names)
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			f := funcs[n]
			if f == nil || seen[n] {
				continue
			}
			seen[n] = true
			lits = append(lits, f.lits...)
			queue = append(queue, f.names...)
		}
		out[action] = names(lits)
	}
	return out
}
