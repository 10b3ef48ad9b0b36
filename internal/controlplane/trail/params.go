package trail

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/jsontext"
)

// Param is one request parameter an event keeps.
type Param struct{ Name, Value string }

// Params are an event's requestParameters: a JSON object, kept as a list
// sorted by name with each name once (as EventOf makes it), so that an
// event is made, encoded and stored without a map. It encodes as the map
// of the same names would (sorted; of a name listed twice, the last).
type Params []Param

// ParamsOf lists m's parameters, sorted.
func ParamsOf(m map[string]string) Params {
	if m == nil {
		return nil
	}
	ps := make(Params, 0, len(m))
	for k, v := range m {
		ps = append(ps, Param{k, v})
	}
	slices.SortFunc(ps, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	return ps
}

// Get returns the value of name, "" when absent.
func (ps Params) Get(name string) string {
	v, _ := ps.Lookup(name)
	return v
}

// Lookup returns the value of name and whether it is there.
func (ps Params) Lookup(name string) (string, bool) {
	for i := len(ps) - 1; i >= 0; i-- { // the last of a name listed twice
		if ps[i].Name == name {
			return ps[i].Value, true
		}
	}
	return "", false
}

// Map is ps as a map.
func (ps Params) Map() map[string]string {
	if ps == nil {
		return nil
	}
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.Name] = p.Value
	}
	return m
}

// put sets name to value: in its place if ps has it, else appended (ps
// may then be out of order).
func (ps Params) put(name, value string) Params {
	for i := range ps {
		if ps[i].Name == name {
			ps[i].Value = value
			return ps
		}
	}
	return append(ps, Param{name, value})
}

// set is put keeping ps sorted (ps sorted, each name once).
func (ps Params) set(name, value string) Params {
	i, found := slices.BinarySearchFunc(ps, name, func(p Param, n string) int { return strings.Compare(p.Name, n) })
	if found {
		ps[i].Value = value
		return ps
	}
	return slices.Insert(ps, i, Param{name, value})
}

// canonical reports whether ps is sorted by name with each name once.
func (ps Params) canonical() bool {
	for i := 1; i < len(ps); i++ {
		if ps[i-1].Name >= ps[i].Name {
			return false
		}
	}
	return true
}

// sorted is ps sorted, each name once (the last of a name listed twice):
// ps itself when it is already.
func (ps Params) sorted() Params {
	if ps.canonical() {
		return ps
	}
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	w := 0
	for i := range out {
		if i+1 < len(out) && out[i+1].Name == out[i].Name {
			continue // a later one replaces it
		}
		out[w] = out[i]
		w++
	}
	return out[:w]
}

// appendJSON appends ps as a JSON object (null when ps is nil, as a nil
// map), without the parameters skip reports (nil: none).
func (ps Params) appendJSON(b []byte, skip func(i int) bool) []byte {
	if ps == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	n := 0
	for i, p := range ps {
		if skip != nil && skip(i) {
			continue
		}
		if n++; n > 1 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, p.Name)
		b = append(b, ':')
		b = jsontext.AppendString(b, p.Value)
	}
	return append(b, '}')
}

// MarshalJSON encodes ps as an object, as the map of the same parameters
// encodes.
func (ps Params) MarshalJSON() ([]byte, error) {
	return ps.sorted().appendJSON(nil, nil), nil
}

// UnmarshalJSON decodes an object as a map of it decodes (of a name
// given twice, the last).
func (ps *Params) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*ps = ParamsOf(m)
	return nil
}
