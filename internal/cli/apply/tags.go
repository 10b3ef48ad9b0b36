package apply

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// The file's tags. A resource is created with them (CreateVpc,
// CreateSecurityGroup, RunInstances: Tag.N, after the marker where it is a
// tag); afterwards, when the file gives `tags:` (even `{}`), the resource's
// tags other than the marker are made the file's with TagResources and
// UntagResources. A file without `tags:` leaves them as they are, as it
// leaves a name it does not give.

// userTags are tags without apply's marker.
func userTags(ts []model.Tag) []model.Tag {
	return slices.DeleteFunc(slices.Clone(ts), func(t model.Tag) bool { return t.Key == Marker })
}

// addTagParams adds tags as Tag.N.Key and Tag.N.Value from N = first.
func addTagParams(p map[string]string, first int, tags []model.Tag) {
	for i, t := range tags {
		p[fmt.Sprintf("Tag.%d.Key", first+i)] = t.Key
		p[fmt.Sprintf("Tag.%d.Value", first+i)] = t.Value
	}
}

// diffTags adds the steps that make an existing resource's tags (cur, the
// marker left out) the file's (want; nil: the file gives none, nothing to
// do). product and resType name the tag actions: "Ecs" with securitygroup
// or instance, "Vpc" with VPC (whose untag action is UnTagResources).
func (b *builder) diffTags(product, resType, fileID, realID string, cur, want []model.Tag) {
	if want == nil {
		return
	}
	cur = userTags(cur)
	var set []model.Tag
	var gone []string
	for _, t := range want {
		if !slices.Contains(cur, t) {
			set = append(set, t)
		}
	}
	for _, t := range cur {
		if !slices.ContainsFunc(want, func(w model.Tag) bool { return w.Key == t.Key }) {
			gone = append(gone, t.Key)
		}
	}
	if len(gone) > 0 {
		untag := "UntagResources"
		if product == "Vpc" {
			untag = "UnTagResources"
		}
		p := map[string]string{"ResourceType": resType, "ResourceId.1": realID}
		for i, k := range gone {
			p[fmt.Sprintf("TagKey.%d", i+1)] = k
		}
		b.add(Step{Product: product, Action: untag, Resource: fileID, Params: p, Note: "remove " + strings.Join(gone, ", ")})
	}
	if len(set) > 0 {
		p := map[string]string{"ResourceType": resType, "ResourceId.1": realID}
		addTagParams(p, 1, set)
		var what []string
		for _, t := range set {
			what = append(what, t.Key+"="+t.Value)
		}
		b.add(Step{Product: product, Action: "TagResources", Resource: fileID, Params: p, Note: "set " + strings.Join(what, ", ")})
	}
}
