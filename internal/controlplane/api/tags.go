package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) tagActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"TagResources":     tagTypes(ecsTagTypes, s.tagResources),
		"UntagResources":   tagTypes(ecsTagTypes, s.untagResources),
		"ListTagResources": tagTypes(ecsTagTypes, s.listTagResources),
		// ECS's older tag actions, which many scripts and the aliyun CLI's
		// documentation still use: one ResourceId each, and DescribeTags
		// counts the resources that carry each tag.
		"AddTags":      tagTypes(ecsTagTypes, s.addTags),
		"RemoveTags":   tagTypes(ecsTagTypes, s.removeTags),
		"DescribeTags": tagTypes(ecsTagTypes, s.describeTags),
	}
}

// tagPageSize is the rows of one ListTagResources page.
const tagPageSize = service.TagPageSize

func (s *Service) tagResources(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.TagInput{Caller: c, ResourceType: p.Get("ResourceType"), ResourceIDs: p.List("ResourceId"), Idempotency: idempotency(req)}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	if err := s.TagResources(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

func (s *Service) untagResources(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	all, e := p.Bool("All", false)
	if e != nil {
		return nil, e
	}
	if err := s.UntagResources(ctx, service.UntagInput{Caller: c, ResourceType: p.Get("ResourceType"), ResourceIDs: p.List("ResourceId"),
		TagKeys: p.List("TagKey"), All: all, Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
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

func (s *Service) listTagResources(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ListTagsInput{Caller: c, ResourceType: p.Get("ResourceType"), ResourceIDs: p.List("ResourceId")}
	for _, t := range p.Structs("Tag") {
		if t.Get("Key") == "" {
			return nil, ecserr.BadRequest("InvalidParameter.TagValue", "A Tag.N.Value was given without its Tag.N.Key.")
		}
		in.Tags = append(in.Tags, model.Tag{Key: t.Get("Key"), Value: t.Get("Value")})
	}
	for _, f := range p.Structs("TagFilter") {
		if f.Get("TagKey") == "" {
			return nil, ecserr.MissingParameter("TagFilter.N.TagKey")
		}
		in.Filters = append(in.Filters, service.TagFilter{Key: f.Get("TagKey"), Values: f.List("TagValues")})
	}
	if in.Page, err = tokenPage(rpc.Params{"NextToken": p.Get("NextToken")}, tagPageSize, tagPageSize); err != nil {
		return nil, err
	}
	rows, err := s.ListTagResources(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &listTagResourcesResponse{NextToken: rows.NextToken}
	out.TagResources.TagResource = make([]tagResourceItem, 0, len(rows.Items))
	for _, r := range rows.Items {
		out.TagResources.TagResource = append(out.TagResources.TagResource, tagResourceItem{ResourceId: r.ResourceID, ResourceType: r.ResourceType, TagKey: r.Key, TagValue: r.Value})
	}
	return out, nil
}

// resourceTagsInput reads AddTags' and RemoveTags' parameters.
func resourceTagsInput(c caller, req *rpc.Request) (service.ResourceTagsInput, error) {
	p := req.Params
	in := service.ResourceTagsInput{Caller: c, ResourceType: p.Get("ResourceType"), ResourceID: p.Get("ResourceId"), Idempotency: idempotency(req)}
	var err error
	in.Tags, err = tagParams(p)
	return in, err
}

func (s *Service) addTags(ctx context.Context, req *rpc.Request) (any, error) {
	return s.resourceTags(ctx, req, s.AddTags)
}

func (s *Service) removeTags(ctx context.Context, req *rpc.Request) (any, error) {
	return s.resourceTags(ctx, req, s.RemoveTags)
}

// resourceTags runs AddTags or RemoveTags, which read the same parameters
// and answer nothing but the envelope.
func (s *Service) resourceTags(ctx context.Context, req *rpc.Request, do func(context.Context, service.ResourceTagsInput) error) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := resourceTagsInput(c, req)
	if err != nil {
		return nil, err
	}
	if err := do(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// DescribeTags' page sizes.
const (
	describeTagsPageSize    = 50
	describeTagsMaxPageSize = 100
)

type describeTagsResponse struct {
	rpc.Base
	PageSize   int
	PageNumber int
	TotalCount int
	Tags       describeTagsSet
}

type describeTagsSet struct {
	Tag []describeTagsItem
}

type describeTagsItem struct {
	TagKey            string
	TagValue          string
	ResourceTypeCount resourceTypeCount
}

// resourceTypeCount counts the resources that carry a tag, by type, spelt
// as ECS spells them (Securitygroup). ECS has no field for prefix lists;
// PrefixList is Palisade's, which the SDKs ignore.
type resourceTypeCount struct {
	Instance      int
	Securitygroup int
	Eni           int
	PrefixList    int
}

func (s *Service) describeTags(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.DescribeTagsInput{Caller: c, ResourceTypes: ecsTagTypes, ResourceID: p.Get("ResourceId")}
	if t := p.Get("ResourceType"); t != "" {
		in.ResourceTypes = []string{t}
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	// Category (custom or system tags) is not read: Palisade's tags are all
	// custom, and ECS has deprecated the parameter.
	if in.Page, err = parsePage(rpc.Params{"PageNumber": p.Get("PageNumber"), "PageSize": p.Get("PageSize")},
		describeTagsPageSize, describeTagsMaxPageSize, describeTagsPageSize, describeTagsMaxPageSize); err != nil {
		return nil, err
	}
	rows, err := s.DescribeTags(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeTagsResponse{PageSize: in.Page.Size, PageNumber: in.Page.Number, TotalCount: rows.Total}
	out.Tags.Tag = make([]describeTagsItem, 0, len(rows.Items))
	for _, r := range rows.Items {
		n := r.Resources
		out.Tags.Tag = append(out.Tags.Tag, describeTagsItem{TagKey: r.Key, TagValue: r.Value, ResourceTypeCount: resourceTypeCount{
			Instance: n["instance"], Securitygroup: n["securitygroup"], Eni: n["eni"], PrefixList: n["prefixlist"]}})
	}
	return out, nil
}
