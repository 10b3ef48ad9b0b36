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
		return n.Line, &Error{Line: n.Line, Msg: "expected a mapping of fields"}
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
	content := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		typ, ok := known[k.Value]
		if !ok {
			if len(content) >= 2 && freeText[content[len(content)-2].Value] && val.Tag == "!!null" && val.Value == "" {
				prev := *content[len(content)-1]
				prev.Value += ", " + k.Value
				content[len(content)-1] = &prev
				continue
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
