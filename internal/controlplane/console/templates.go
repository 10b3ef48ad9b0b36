package console

import (
	"html/template"
	"io/fs"
	"strings"
	"time"
)

// parsePages parses each page with the layout it is drawn in.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"lower":     strings.ToLower,
		"join":      strings.Join,
		"hasPrefix": strings.HasPrefix,
		"split":     strings.Split,
		"list":      func(s ...string) []string { return s },
		"time":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"add":       func(a, b int) int { return a + b },
		// dict passes several values to a shared template.
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}
