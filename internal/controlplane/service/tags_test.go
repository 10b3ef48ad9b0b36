package service

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestTags(t *testing.T) {
	e := newEnv(t)
	a := e.group(CreateGroupInput{Tags: []model.Tag{{Key: "env", Value: "prod"}}})
	b := e.group(CreateGroupInput{})
	tag := func(in TagInput) error {
		in.Caller, in.ResourceType = e.c, "SecurityGroup"
		return e.s.TagResources(e.ctx, in)
	}
	wantCode(t, tag(TagInput{ResourceIDs: []string{a}}), "MissingParameter.Tags")
	wantCode(t, tag(TagInput{Tags: []model.Tag{{Key: "k"}}}), "MissingParameter")
	wantCode(t, e.s.TagResources(e.ctx, TagInput{Caller: e.c, ResourceType: "disk", ResourceIDs: []string{a}, Tags: []model.Tag{{Key: "k"}}}), "InvalidResourceType.NotFound")
	// Every resource must exist, or nothing changes.
	wantCode(t, tag(TagInput{ResourceIDs: []string{b, "sg-nothere"}, Tags: []model.Tag{{Key: "team", Value: "web"}}}), "InvalidResourceId.NotFound")
	wantCode(t, tag(TagInput{ResourceIDs: []string{a, b}, Tags: []model.Tag{{Key: "team", Value: "web"}}}), "")

	list := func(in ListTagsInput) map[string]int {
		t.Helper()
		in.Caller, in.ResourceType, in.Page = e.c, "securitygroup", Page{Tokens: true, Size: TagPageSize}
		rows, err := e.s.ListTagResources(e.ctx, in)
		wantCode(t, err, "")
		n := map[string]int{}
		for _, r := range rows.Items {
			n[r.ResourceID]++
		}
		return n
	}
	if got := list(ListTagsInput{Tags: []model.Tag{{Key: "env"}}}); len(got) != 1 || got[a] != 2 {
		t.Fatalf("resources tagged env: %v", got)
	}
	if got := list(ListTagsInput{Filters: []TagFilter{{Key: "team", Values: []string{"w"}}}}); len(got) != 2 {
		t.Fatalf("resources with team w*: %v", got)
	}
	_, err := e.s.ListTagResources(e.ctx, ListTagsInput{Caller: e.c, ResourceType: "securitygroup"})
	wantCode(t, err, "MissingParameter")

	wantCode(t, e.s.UntagResources(e.ctx, UntagInput{Caller: e.c, ResourceType: "securitygroup", ResourceIDs: []string{a}, All: true}), "")
	wantCode(t, e.s.UntagResources(e.ctx, UntagInput{Caller: e.c, ResourceType: "securitygroup", ResourceIDs: []string{b}, TagKeys: []string{"team", "none"}}), "")
	if got := list(ListTagsInput{ResourceIDs: []string{a, b}}); len(got) != 0 {
		t.Fatalf("tags left: %v", got)
	}
}
