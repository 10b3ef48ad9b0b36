package nft

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// listed is a table as nft lists it: each chain's rules (counter values
// left out) and each set's and map's elements, as canonical strings.
type listed struct {
	chains map[string][]string
	elems  map[string][]string
}

var counterValues = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// listTable reads the table with nft itself, independently of this
// package's decoding.
func listTable(t testing.TB, ns, table string) listed {
	t.Helper()
	l := listed{chains: map[string][]string{}, elems: map[string][]string{}}
	var chain string
	for _, line := range strings.Split(nftIn(t, ns, "list", "table", "inet", table), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "chain "):
			chain = strings.Fields(line)[1]
			l.chains[chain] = []string{}
		case line == "}":
			chain = ""
		case chain != "" && line != "" && !strings.HasPrefix(line, "type filter hook"):
			l.chains[chain] = append(l.chains[chain], counterValues.ReplaceAllString(line, "counter"))
		}
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(nftIn(t, ns, "-j", "list", "table", "inet", table)), &doc); err != nil {
		t.Fatal(err)
	}
	for _, obj := range doc.Nftables {
		for kind, raw := range obj {
			if kind != "set" && kind != "map" {
				continue
			}
			var s struct {
				Name string            `json:"name"`
				Elem []json.RawMessage `json:"elem"`
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			l.elems[s.Name] = []string{}
			for _, e := range s.Elem {
				l.elems[s.Name] = append(l.elems[s.Name], jsonElem(t, e))
			}
			slices.Sort(l.elems[s.Name])
		}
	}
	return l
}

// jsonElem renders an element of nft's JSON output: an address or a name,
// {"prefix": …}, {"range": […]}, or a map element [key, {"jump": …}].
func jsonElem(t testing.TB, raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var pair []json.RawMessage
	if json.Unmarshal(raw, &pair) == nil && len(pair) == 2 {
		var v struct {
			Jump *struct{ Target string } `json:"jump"`
			Goto *struct{ Target string } `json:"goto"`
		}
		if err := json.Unmarshal(pair[1], &v); err != nil {
			t.Fatalf("map element %s: %v", raw, err)
		}
		if v.Goto != nil {
			return jsonElem(t, pair[0]) + " : goto " + v.Goto.Target
		}
		if v.Jump == nil {
			t.Fatalf("map element %s: neither jump nor goto", raw)
		}
		return jsonElem(t, pair[0]) + " : jump " + v.Jump.Target
	}
	var num json.Number
	if json.Unmarshal(raw, &num) == nil {
		return num.String()
	}
	var v struct {
		Prefix *struct {
			Addr string `json:"addr"`
			Len  int    `json:"len"`
		} `json:"prefix"`
		Range  []json.RawMessage `json:"range"`
		Concat []json.RawMessage `json:"concat"`
		Elem   *struct {
			Val     json.RawMessage `json:"val"`
			Comment string          `json:"comment"`
		} `json:"elem"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("element %s: %v", raw, err)
	}
	switch {
	case v.Prefix != nil:
		return fmt.Sprintf("%s/%d", v.Prefix.Addr, v.Prefix.Len)
	case len(v.Range) == 2:
		return jsonElem(t, v.Range[0]) + "-" + jsonElem(t, v.Range[1])
	case v.Concat != nil:
		parts := make([]string, len(v.Concat))
		for i, c := range v.Concat {
			parts[i] = jsonElem(t, c)
		}
		return strings.Join(parts, " . ")
	case v.Elem != nil && v.Elem.Comment != "":
		return jsonElem(t, v.Elem.Val) + ` comment "` + v.Elem.Comment + `"`
	case v.Elem != nil:
		return jsonElem(t, v.Elem.Val)
	}
	t.Fatalf("element %s: unknown form", raw)
	return ""
}

// want is what the kernel should list for a ruleset.
func want(rs *Ruleset) listed {
	l := listed{chains: map[string][]string{}, elems: map[string][]string{}}
	for _, c := range rs.Chains {
		l.chains[c.Name] = []string{}
		for _, r := range c.Rules {
			l.chains[c.Name] = append(l.chains[c.Name], r.String())
		}
	}
	for _, s := range rs.Sets {
		keys := elemKeys(&s)
		for _, e := range s.Tuples {
			keys = append(keys, e.String())
		}
		l.elems[s.Name] = append([]string{}, keys...)
		slices.Sort(l.elems[s.Name])
	}
	for _, m := range rs.Maps {
		l.elems[m.Name] = []string{}
		for _, e := range m.Elems {
			l.elems[m.Name] = append(l.elems[m.Name], e.Interface+" : jump "+e.Chain)
		}
		slices.Sort(l.elems[m.Name])
	}
	return l
}

// checkListed compares the kernel's table with the ruleset.
func checkListed(t testing.TB, ns string, rs *Ruleset) {
	t.Helper()
	got, exp := listTable(t, ns, rs.Table), want(rs)
	for name, rules := range exp.chains {
		if !slices.Equal(got.chains[name], rules) {
			t.Errorf("chain %s:\nkernel:\n  %s\nwant:\n  %s", name, strings.Join(got.chains[name], "\n  "), strings.Join(rules, "\n  "))
		}
	}
	for name := range got.chains {
		if _, ok := exp.chains[name]; !ok {
			t.Errorf("kernel has chain %s the ruleset does not", name)
		}
	}
	for name, elems := range exp.elems {
		g, ok := got.elems[name]
		if !ok {
			t.Errorf("kernel has no set %s", name)
		} else if !slices.Equal(g, elems) {
			t.Errorf("set %s: kernel %q, want %q", name, g, elems)
		}
	}
	for name := range got.elems {
		if _, ok := exp.elems[name]; !ok {
			t.Errorf("kernel has set %s the ruleset does not", name)
		}
	}
}
