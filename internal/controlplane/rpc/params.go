// Package rpc is the HTTP transport of the RPC-style ECS API: it reads the
// parameters of a request (query string and form body), authenticates it
// with package signature, routes it by Version and Action to a Handler, and
// renders the handler's result or error the way Alibaba Cloud does (JSON, or
// XML when the client asks for it).
package rpc

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Params are a request's parameters, one value per name. An empty value is
// treated as absent, as the classic SDK never sends empty parameters and
// tea-rpc sends "Key=" for unset ones.
type Params map[string]string

// Get returns the value of name, "" if absent.
func (p Params) Get(name string) string { return p[name] }

// Has reports whether name has a non-empty value.
func (p Params) Has(name string) bool { return p[name] != "" }

// Int returns name as a decimal integer, or def when absent.
func (p Params) Int(name string, def int) (int, *ecserr.Error) {
	s := p[name]
	if s == "" {
		return def, nil
	}
	// One form only: "+5", " 5" and "05" are refused, and a value that
	// does not fit is an error, not a wrapped number.
	n, err := strconv.Atoi(s)
	if err != nil || strconv.Itoa(n) != s {
		return def, ecserr.InvalidParameter(name, "it must be an integer in plain decimal (no sign, spaces or leading zeros) that fits 64 bits")
	}
	return n, nil
}

// Optional returns name's value when the parameter is given (even
// empty), or nil: for a field that "" clears and absence leaves alone.
func (p Params) Optional(name string) *string {
	v, ok := p[name]
	if !ok {
		return nil
	}
	return &v
}

// OptionalBool returns name as true/false when given (not empty), or nil.
func (p Params) OptionalBool(name string) (*bool, *ecserr.Error) {
	if !p.Has(name) {
		return nil, nil
	}
	v, e := p.Bool(name, false)
	if e != nil {
		return nil, e
	}
	return &v, nil
}

// Bool returns name as true/false (any letter case), or def when absent.
func (p Params) Bool(name string, def bool) (bool, *ecserr.Error) {
	switch s := p[name]; {
	case s == "":
		return def, nil
	case strings.EqualFold(s, "true"):
		return true, nil
	case strings.EqualFold(s, "false"):
		return false, nil
	default:
		return def, ecserr.InvalidParameter(name, "it must be true or false, got "+strconv.Quote(s))
	}
}

// List returns the values of Name.1, Name.2, … ordered by index (as numbers,
// so Name.10 follows Name.9). Gaps and empty values are skipped; indexes
// must be positive decimals without leading zeros, anything else (Name.0,
// Name.01, Name.x, Name.1.Field) is not part of the list.
func (p Params) List(name string) []string {
	type item struct {
		i int
		v string
	}
	var items []item
	prefix := name + "."
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || v == "" {
			continue
		}
		if i, ok := index(rest); ok {
			items = append(items, item{i, v})
		}
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]string, len(items))
	for j, it := range items {
		out[j] = it.v
	}
	return out
}

// Structs returns the elements of Name.N.Field parameters ordered by N, each
// as Params keyed by Field. Field is everything after "Name.N.", so nested
// keys such as TagValues.1 stay whole (read them with the element's List).
// Empty values are skipped, and so are indexes with no non-empty field.
func (p Params) Structs(name string) []Params {
	_, out := p.NumberedStructs(name)
	return out
}

// NumberedStructs is Structs with the N of each element, so that a message
// names the element as the client did (Permissions.3 when 2 was skipped).
func (p Params) NumberedStructs(name string) ([]int, []Params) {
	byIndex := map[int]Params{}
	prefix := name + "."
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || v == "" {
			continue
		}
		n, field, ok := strings.Cut(rest, ".")
		if !ok || field == "" {
			continue
		}
		i, ok := index(n)
		if !ok {
			continue
		}
		if byIndex[i] == nil {
			byIndex[i] = Params{}
		}
		byIndex[i][field] = v
	}
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]Params, len(idx))
	for j, i := range idx {
		out[j] = byIndex[i]
	}
	return idx, out
}

// JSONList returns a parameter holding a JSON array of strings, such as
// SecurityGroupIds=["sg-a","sg-b"]; nil when absent.
func (p Params) JSONList(name string) ([]string, *ecserr.Error) {
	s := p[name]
	if s == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, ecserr.InvalidParameter(name, `it must be a JSON array of strings, e.g. ["sg-a","sg-b"]`)
	}
	return out, nil
}

// index parses a list index: 1-999999999, no sign, no leading zero.
func index(s string) (int, bool) {
	if s == "" || len(s) > 9 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// CheckList checks the form of the list parameter name: name.N (scalars)
// or name.N.Field (objects, when objects is set), N a positive decimal
// without leading zeros. List and Structs skip anything else, which would
// leave a handler to answer MissingParameter for a list the client did
// send in another form; this answers InvalidParameter naming the form
// expected instead. bare refuses name=value too (a list sent as one JSON
// string, as some SDK versions do); leave it unset for names some action
// takes as a single value. An empty value is absent, as everywhere.
func (p Params) CheckList(name string, objects, bare bool) *ecserr.Error {
	// The texts of the errors, made only for one.
	forms := func() (form, example string) {
		if objects {
			return name + ".1.Field, " + name + ".2.Field, …", name + ".1.Field=…"
		}
		return name + ".1, " + name + ".2, …", name + ".1=…"
	}
	if bare && p[name] != "" {
		form, _ := forms()
		return ecserr.InvalidParameter(name, "it is a list: send each item as "+form+" (indexes from 1), not as one value such as a JSON string")
	}
	var keys []string // the list's items: few, and none on most requests
	for k, v := range p {
		if v != "" && len(k) > len(name) && k[len(name)] == '.' && strings.HasPrefix(k, name) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // the same key is named whatever the map order
	for _, k := range keys {
		rest := k[len(name)+1:]
		n, field, hasField := strings.Cut(rest, ".")
		switch _, ok := index(n); {
		case !ok:
			_, example := forms()
			return ecserr.InvalidParameter(k, "the index after "+strconv.Quote(name+".")+" must be a whole number from 1, without leading zeros, as in "+example)
		case objects && (!hasField || field == ""):
			form, _ := forms()
			return ecserr.InvalidParameter(k, "each item of "+name+" is an object: send its fields as "+form)
		case !objects && hasField:
			form, _ := forms()
			return ecserr.InvalidParameter(k, "each item of "+name+" is a single value: send it as "+form)
		}
	}
	return nil
}
