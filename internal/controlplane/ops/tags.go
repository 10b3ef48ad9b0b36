package ops

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) tagActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"TagResources":     s.TagResources,
		"UntagResources":   s.UntagResources,
		"ListTagResources": s.ListTagResources,
	}
}

// Limits of the tag actions.
const (
	maxTagResourceIDs = 50 // ResourceId.N per call
	maxTagFilters     = 5  // TagFilter.N per ListTagResources
	tagPageSize       = 50 // TagResource rows per ListTagResources page
)

// tagged is one resource's tags, loaded for reading or changing.
type tagged struct {
	ID   string
	Tags []model.Tag
	save func(tx store.Tx, tags []model.Tag) error
}

// taggable is a ResourceType the tag actions serve.
type taggable struct {
	Name string // the ResourceType as ECS spells it (lower case)
	Kind store.Kind
	load func(rec store.Record) (*tagged, error)
}

// taggables are the resource types that carry tags, keyed by lower-case name.
var taggables = map[string]taggable{
	"securitygroup": {"securitygroup", KindGroup, loadTagged(KindGroup, func(g *model.SecurityGroup) *[]model.Tag { return &g.Tags })},
	"instance":      {"instance", KindInstance, loadTagged(KindInstance, func(i *model.Instance) *[]model.Tag { return &i.Tags })},
	"prefixlist":    {"prefixlist", KindPrefixList, loadTagged(KindPrefixList, func(p *model.PrefixList) *[]model.Tag { return &p.Tags })},
}

// loadTagged decodes a record of type T and gives access to its tags; save
// writes the record back under its owner and region.
func loadTagged[T any](kind store.Kind, tags func(*T) *[]model.Tag) func(store.Record) (*tagged, error) {
	return func(rec store.Record) (*tagged, error) {
		v := new(T)
		if err := json.Unmarshal(rec.Data, v); err != nil {
			return nil, err
		}
		return &tagged{ID: rec.ID, Tags: *tags(v), save: func(tx store.Tx, t []model.Tag) error {
			*tags(v) = t
			return store.PutAs(tx, kind, rec.ID, rec.Account, rec.Region, v)
		}}, nil
	}
}

// resourceTypeOf reads ResourceType, matched case-insensitively.
func resourceTypeOf(p rpc.Params) (taggable, error) {
	s := p.Get("ResourceType")
	if s == "" {
		return taggable{}, ecserr.New(http.StatusNotFound, "MissingParameter.ResourceType", "ResourceType is required: give securitygroup, instance or prefixlist.")
	}
	t, ok := taggables[strings.ToLower(s)]
	if !ok {
		return taggable{}, ecserr.New(http.StatusNotFound, "InvalidResourceType.NotFound", "ResourceType %q is not supported; use securitygroup, instance or prefixlist.", s)
	}
	return t, nil
}

// resourceIDsOf reads ResourceId.N (at most 50, repeats dropped); required
// says whether at least one must be given.
func resourceIDsOf(p rpc.Params, required bool) ([]string, error) {
	var ids []string
	for _, id := range p.List("ResourceId") {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) > maxTagResourceIDs {
		return nil, ecserr.BadRequest("NumberExceed.ResourceIds", "At most %d ResourceId.N are allowed in one call; %d were given.", maxTagResourceIDs, len(ids))
	}
	if required && len(ids) == 0 {
		return nil, ecserr.MissingParameter("ResourceId.1")
	}
	return ids, nil
}

// loadResource loads one resource of the caller's account and region; any
// other is reported as not found.
func loadResource(tx store.ReadTx, c caller, t taggable, id string) (*tagged, error) {
	rec, ok, err := tx.Get(t.Kind, id)
	if err != nil {
		return nil, err
	}
	if !ok || rec.Account != c.Account || rec.Region != c.Region {
		return nil, ecserr.New(http.StatusNotFound, "InvalidResourceId.NotFound", "The %s %q does not exist in this account and region.", t.Name, id)
	}
	return t.load(rec)
}

// TagResources adds tags to resources, replacing the values of keys they
// already have. Every resource must exist; otherwise nothing changes.
func (s *Service) TagResources(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	t, err := resourceTypeOf(p)
	if err != nil {
		return nil, err
	}
	ids, err := resourceIDsOf(p, true)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFromParams(p)
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, ecserr.New(http.StatusNotFound, "MissingParameter.Tags", "Give at least one tag as Tag.N.Key (and Tag.N.Value).")
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		for _, id := range ids {
			r, err := loadResource(tx, c, t, id)
			if err != nil {
				return nil, err
			}
			merged := model.MergeTags(r.Tags, tags)
			if len(merged) > model.MaxTags {
				return nil, ecserr.BadRequest("OperationDenied.QuotaExceed", "The %s %s would carry %d tags; a resource carries at most %d. Remove tags with UntagResources first.", t.Name, id, len(merged), model.MaxTags)
			}
			if err := r.save(tx, merged); err != nil {
				return nil, err
			}
		}
		return &rpc.Base{}, nil
	})
}

// UntagResources removes the tags TagKey.N from resources, or all their tags
// with All=true. Keys a resource does not carry are ignored.
func (s *Service) UntagResources(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	t, err := resourceTypeOf(p)
	if err != nil {
		return nil, err
	}
	ids, err := resourceIDsOf(p, true)
	if err != nil {
		return nil, err
	}
	keys := p.List("TagKey")
	if len(keys) > model.MaxTags {
		return nil, ecserr.BadRequest("NumberExceed.Tags", "At most %d TagKey.N are allowed; %d were given.", model.MaxTags, len(keys))
	}
	all, e := p.Bool("All", false)
	if e != nil {
		return nil, e
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		for _, id := range ids {
			r, err := loadResource(tx, c, t, id)
			if err != nil {
				return nil, err
			}
			// All only counts when no key is named, as in ECS.
			kept := []model.Tag{}
			if len(keys) > 0 || !all {
				kept = slices.DeleteFunc(slices.Clone(r.Tags), func(tg model.Tag) bool { return slices.Contains(keys, tg.Key) })
			}
			if len(kept) == len(r.Tags) {
				continue
			}
			if err := r.save(tx, kept); err != nil {
				return nil, err
			}
		}
		return &rpc.Base{}, nil
	})
}

// tagFilter is one TagFilter.N: the key, and value prefixes of which one
// must match (none: any value).
type tagFilter struct {
	Key    string
	Values []string
}

func (f tagFilter) match(tags []model.Tag) bool {
	for _, t := range tags {
		if t.Key != f.Key {
			continue
		}
		if len(f.Values) == 0 || slices.ContainsFunc(f.Values, func(v string) bool { return strings.HasPrefix(t.Value, v) }) {
			return true
		}
	}
	return false
}

// listTagQuery is what ListTagResources selects by.
type listTagQuery struct {
	IDs     []string
	Tags    []model.Tag // exact match; an empty value matches any value
	Filters []tagFilter // prefix match on values
}

func parseListTagQuery(p rpc.Params) (listTagQuery, error) {
	var q listTagQuery
	var err error
	if q.IDs, err = resourceIDsOf(p, false); err != nil {
		return q, err
	}
	for _, t := range p.Structs("Tag") {
		if t.Get("Key") == "" {
			return q, ecserr.BadRequest("InvalidParameter.TagValue", "A Tag.N.Value was given without its Tag.N.Key.")
		}
		q.Tags = append(q.Tags, model.Tag{Key: t.Get("Key"), Value: t.Get("Value")})
	}
	if len(q.Tags) > model.MaxTags {
		return q, ecserr.BadRequest("NumberExceed.Tags", "At most %d Tag.N are allowed; %d were given.", model.MaxTags, len(q.Tags))
	}
	for _, f := range p.Structs("TagFilter") {
		if f.Get("TagKey") == "" {
			return q, ecserr.MissingParameter("TagFilter.N.TagKey")
		}
		q.Filters = append(q.Filters, tagFilter{Key: f.Get("TagKey"), Values: f.List("TagValues")})
	}
	if len(q.Filters) > maxTagFilters {
		return q, ecserr.BadRequest("NumberExceed.TagFilters", "At most %d TagFilter.N are allowed; %d were given.", maxTagFilters, len(q.Filters))
	}
	if len(q.Tags) > 0 && len(q.Filters) > 0 {
		return q, ecserr.BadRequest("InvalidParameter.TagFilterConflict", "Tag.N (exact) and TagFilter.N (fuzzy) cannot be combined; use one of them.")
	}
	if len(q.IDs) == 0 && len(q.Tags) == 0 && len(q.Filters) == 0 {
		return q, ecserr.MissingParameter("ResourceId.N, Tag.N or TagFilter.N")
	}
	return q, nil
}

func (q listTagQuery) match(tags []model.Tag) bool {
	if !matchTags(tags, q.Tags) {
		return false
	}
	for _, f := range q.Filters {
		if !f.match(tags) {
			return false
		}
	}
	return true
}

type tagResourceItem struct {
	ResourceId   string
	ResourceType string
	TagKey       string
	TagValue     string
}

type listTagResourcesResponse struct {
	rpc.Base
	NextToken    string
	TagResources tagResourceSet
}

type tagResourceSet struct {
	TagResource []tagResourceItem
}

// ListTagResources lists the tags of the caller's resources of one type, one
// row per tag, selected by ResourceId.N and by Tag.N or TagFilter.N. IDs of
// resources the caller cannot see give no rows.
func (s *Service) ListTagResources(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	t, err := resourceTypeOf(p)
	if err != nil {
		return nil, err
	}
	q, err := parseListTagQuery(p)
	if err != nil {
		return nil, err
	}
	pg, err := tokenPage(rpc.Params{"NextToken": p.Get("NextToken")}, tagPageSize, tagPageSize)
	if err != nil {
		return nil, err
	}
	return view(s, ctx, func(tx store.ReadTx) (*listTagResourcesResponse, error) {
		resources, err := taggedResources(tx, c, t, q.IDs)
		if err != nil {
			return nil, err
		}
		var rows []tagResourceItem
		for _, r := range resources {
			if !q.match(r.Tags) {
				continue
			}
			for _, tg := range r.Tags {
				rows = append(rows, tagResourceItem{ResourceId: r.ID, ResourceType: t.Name, TagKey: tg.Key, TagValue: tg.Value})
			}
		}
		out := &listTagResourcesResponse{}
		out.TagResources.TagResource, out.NextToken = paginate(rows, pg)
		return out, nil
	})
}

// taggedResources loads the named resources of the caller (skipping those it
// cannot see), or with no IDs all its resources of the type in the region.
func taggedResources(tx store.ReadTx, c caller, t taggable, ids []string) ([]*tagged, error) {
	var out []*tagged
	if len(ids) > 0 {
		for _, id := range ids {
			r, err := loadResource(tx, c, t, id)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	recs, err := tx.List(t.Kind, store.Query{Account: c.Account, Region: c.Region})
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		r, err := t.load(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
