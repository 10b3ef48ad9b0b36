package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is an invalid scenario file: where, which field, and what is wrong.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += fmt.Sprintf(":%d", e.Line)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// Field is a scalar with the line it stands on, so that a value the model
// refuses can be reported where it was written.
type Field struct {
	Value string
	Line  int
}

func (f *Field) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &Error{Line: n.Line, Msg: "expected a single value"}
	}
	f.Value, f.Line = n.Value, n.Line
	return nil
}

// Set reports whether the field was written.
func (f Field) Set() bool { return f.Line > 0 }

// freeText are the fields that hold prose.
var freeText = map[string]bool{"why": true, "description": true, "name": true}

// decodeStrict decodes a mapping into v (a pointer to a struct without its
// own UnmarshalYAML), refusing keys the struct does not know.
func decodeStrict(n *yaml.Node, v any) (line int, err error) {
	if n.Kind != yaml.MappingNode {
		return n.Line, &Error{Line: n.Line, Msg: "expected a mapping of fields (key: value, as FORMAT.md shows), not " + kindOf(n)}
	}
	known := map[string]reflect.Type{}
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		known[name] = t.Field(i).Type
	}
	// In a flow mapping ({a: 1, why: x, y}) an unquoted comma inside free
	// text splits it, and YAML reads the rest as a key without a value. Such
	// a key right after a free-text field is the rest of that text.
	via := map[*yaml.Node]int{}
	pairs, err := mergeKeys(n, map[*yaml.Node][]*yaml.Node{}, via)
	if err != nil {
		return n.Line, err
	}
	content := n.Content[:0:0]
	for i := 0; i+1 < len(pairs); i += 2 {
		k, val := pairs[i], pairs[i+1]
		typ, ok := known[k.Value]
		if !ok {
			if len(content) >= 2 && freeText[content[len(content)-2].Value] && val.Tag == "!!null" && val.Value == "" {
				prev := *content[len(content)-1]
				prev.Value += ", " + k.Value
				content[len(content)-1] = &prev
				continue
			}
			if line, merged := via[k]; merged {
				// At its own line the field is the anchored mapping's,
				// which may well have it: the mistake is the merge.
				return n.Line, &Error{Line: line, Field: "<<", Msg: fmt.Sprintf("it merges %s (line %d), which is not a field here: merge a mapping of this kind's fields (see FORMAT.md for the field names)", k.Value, k.Line)}
			}
			return n.Line, &Error{Line: k.Line, Field: k.Value, Msg: "unknown field (see FORMAT.md for the field names)"}
		}
		// A value of the wrong kind, at its key: the decoder's own error
		// names no field (FORMAT.md: an invalid file is reported with its
		// line and field).
		// An alias is left to the decoder, which resolves it.
		switch {
		case val.Kind == yaml.AliasNode:
		case typ == fieldType && val.Kind != yaml.ScalarNode:
			return n.Line, &Error{Line: val.Line, Field: k.Value, Msg: "expected a single value, not " + kindOf(val)}
		case typ.Kind() == reflect.Slice && val.Kind != yaml.SequenceNode && val.Tag != "!!null":
			return n.Line, &Error{Line: val.Line, Field: k.Value, Msg: "expected a list, not " + kindOf(val)}
		}
		content = append(content, k, val)
	}
	m := *n
	m.Content = content
	return n.Line, m.Decode(v)
}

var fieldType = reflect.TypeOf(Field{})

// mergeKeys returns a mapping's key/value pairs with YAML merge keys
// (`<<: *base`, `<<: [*a, *b]`) expanded, as the YAML decoder would expand
// them: the mapping's own keys win over merged ones, and an earlier merged
// mapping over a later one. The field check below walks the pairs itself,
// so it must see the merged fields (it once refused `<<` as an unknown
// field, and a file sharing a rule's fields by merge key could not load).
// done holds the mappings already expanded: a chain of mappings each
// merging the one before twice would otherwise be expanded 2^n times.
// via, when not nil, maps each key n takes from a merge key to the line
// of that merge key.
func mergeKeys(n *yaml.Node, done map[*yaml.Node][]*yaml.Node, via map[*yaml.Node]int) ([]*yaml.Node, error) {
	if pairs, ok := done[n]; ok {
		if pairs == nil {
			// Being expanded: an anchor is set before its mapping's
			// content, so `&a {…, <<: *a}` merges itself, without end.
			return nil, &Error{Line: n.Line, Field: "<<", Msg: "a merge key names the mapping it is in (or one that merges this one): merge another mapping"}
		}
		return pairs, nil
	}
	done[n] = nil // in progress
	own := map[string]bool{}
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			hasMerge = true
		} else {
			own[n.Content[i].Value] = true
		}
	}
	if !hasMerge {
		done[n] = nonNil(n.Content)
		return n.Content, nil
	}
	var out, merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMerge(k) {
			out = append(out, k, v)
			continue
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			for src.Kind == yaml.AliasNode {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				return nil, &Error{Line: k.Line, Field: "<<", Msg: "a merge key takes a mapping (<<: *name, the name of an anchored mapping) or a list of them"}
			}
			pairs, err := mergeKeys(src, done, nil)
			if err != nil {
				return nil, err
			}
			for j := 0; j+1 < len(pairs); j += 2 {
				if key := pairs[j].Value; !own[key] {
					own[key] = true
					merged = append(merged, pairs[j], pairs[j+1])
					if via != nil {
						via[pairs[j]] = k.Line
					}
				}
			}
		}
	}
	out = append(out, merged...)
	done[n] = nonNil(out)
	return out, nil
}

// nonNil is pairs, empty rather than nil: nil marks a mapping mergeKeys
// is expanding.
func nonNil(pairs []*yaml.Node) []*yaml.Node {
	if pairs == nil {
		return []*yaml.Node{}
	}
	return pairs
}

// isMerge reports whether a key is the YAML merge key (a plain <<; a quoted
// "<<" is an ordinary key).
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// kindOf names a value of the wrong kind in an error: a scalar as written.
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return "`" + n.Value + "`"
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "an alias"
}

// flowColon is a field inside { } or [ ] whose plain value starts with a
// colon, as an IPv6 block written ::/0 or ::1 does.
var flowColon = regexp.MustCompile(`[{,]\s*([A-Za-z0-9]+):\s+(:[^,}\]]*)`)

// listColon is a list item inside [ ] that starts with a colon, as an entry
// ::/0 of an IPv6 prefix list does.
var listColon = regexp.MustCompile(`([A-Za-z0-9]+):\s*\[(?:[^\]]*,)?\s*(:[^,\]]*)`)

// colonValue explains the one YAML syntax error a scenario meets most: an
// IPv6 value that starts with "::" inside a flow mapping ({…}) or list
// ([…]), which YAML cannot read unquoted there (the decoder says only "did
// not find expected node content", at the line before). It returns nil for
// another error, or when the file has no such value.
func colonValue(file string, data []byte, err error) *Error {
	if !strings.Contains(err.Error(), "did not find expected node content") {
		return nil
	}
	for i, line := range strings.Split(string(data), "\n") {
		code, _, _ := strings.Cut(line, "#")
		for _, re := range []*regexp.Regexp{flowColon, listColon} {
			if m := re.FindStringSubmatch(code); m != nil {
				v := strings.TrimSpace(m[2])
				return &Error{File: file, Line: i + 1, Field: m[1], Msg: fmt.Sprintf("YAML cannot read %s unquoted inside { } or [ ]: a value that starts with a colon is quoted there; write %q", v, v)}
			}
		}
	}
	return nil
}

// yamlLine is the line the YAML decoder names in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlKind is the decoder's message for a value of the wrong kind.
var yamlKind = regexp.MustCompile("^cannot unmarshal !!\\w+ (`.*`) into (\\S+)$")

// yamlError reports an error of the YAML layer (syntax, a key given twice,
// a value of the wrong kind) as an Error at the line the decoder names, so
// that every invalid file is reported as file:line.
func yamlError(file string, err error) *Error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msgs = te.Errors
	}
	e := &Error{File: file, Msg: msgs[0]}
	if m := yamlLine.FindStringSubmatch(msgs[0]); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	// Say what was expected, not which Go type the decoder wanted.
	if m := yamlKind.FindStringSubmatch(e.Msg); m != nil {
		want := "a mapping of fields"
		if strings.HasPrefix(m[2], "[]") {
			want = "a list"
		}
		e.Msg = fmt.Sprintf("expected %s, not %s", want, m[1])
	}
	if len(msgs) > 1 {
		e.Msg += "; also " + strings.Join(msgs[1:], "; ")
	}
	return e
}
