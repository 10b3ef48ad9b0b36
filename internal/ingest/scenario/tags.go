package scenario

import (
	"gopkg.in/yaml.v3"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// ReservedTagKey is the tag key `palisade apply` keeps a resource's file ID
// under; a file may not set it itself.
const ReservedTagKey = "palisade:id"

// tagsDoc is a `tags:` mapping, key by key in file order, each with its line.
type tagsDoc struct {
	Line int
	Keys []Field
	Vals []Field
}

func (d *tagsDoc) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &Error{Line: n.Line, Field: "tags", Msg: "expected a mapping of tag keys to values, such as {env: prod, owner: web-team}"}
	}
	d.Line = n.Line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			return &Error{Line: k.Line, Field: "tags", Msg: "a tag is a key and a single value, such as env: prod"}
		}
		val := v.Value
		if v.Tag == "!!null" {
			val = "" // `key:` with nothing after it: a tag without a value
		}
		d.Keys = append(d.Keys, Field{Value: k.Value, Line: k.Line})
		d.Vals = append(d.Vals, Field{Value: val, Line: v.Line})
	}
	return nil
}

// tags validates a `tags:` mapping (nil when the file gives none) with the model's tag rules, as
// TagResources would, and reports a bad key or value at its own line.
func (b *builder) tags(d *tagsDoc) ([]model.Tag, error) {
	if d == nil {
		return nil, nil // the file gives none: apply leaves the resource's alone
	}
	out := []model.Tag{} // `tags: {}`: none, and apply removes what there is
	for i, k := range d.Keys {
		t := model.Tag{Key: k.Value, Value: d.Vals[i].Value}
		if t.Key == ReservedTagKey {
			return nil, b.fail(k.Line, "tags", "tag key %s is reserved: palisade apply keeps the file's ID under it", ReservedTagKey)
		}
		if e := model.ValidateTags(append(out, t)); e != nil {
			return nil, b.fail(k.Line, "tags", "%s (%s)", e.Message, e.Code)
		}
		out = append(out, t)
	}
	return out, nil
}
