package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// The port range list actions (prl-…). Unlike the older APIs, their
// answers hold bare JSON arrays (PortRangeLists, Entries,
// PortRangeListAssociations, Tags), as the Tea SDK's models have them.

func (s *Service) portRangeListActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreatePortRangeList":               s.createPortRangeList,
		"ModifyPortRangeList":               s.modifyPortRangeList,
		"DeletePortRangeList":               s.deletePortRangeList,
		"DescribePortRangeLists":            s.describePortRangeLists,
		"DescribePortRangeListEntries":      s.describePortRangeListEntries,
		"DescribePortRangeListAssociations": s.describePortRangeListAssociations,
	}
}

// portEntryParams reads Name.N.PortRange / Name.N.Description.
func portEntryParams(p rpc.Params, name string) []service.PortEntryInput {
	var out []service.PortEntryInput
	for _, en := range p.Structs(name) {
		out = append(out, service.PortEntryInput{PortRange: en.Get("PortRange"), Description: en.Get("Description")})
	}
	return out
}

type createPortRangeListResponse struct {
	rpc.Base
	PortRangeListId string
}

func (s *Service) createPortRangeList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.CreatePortRangeListInput{Caller: c, Name: p.Get("PortRangeListName"), Description: p.Get("Description"),
		Entries: portEntryParams(p, "Entry"), ResourceGroupID: p.Get("ResourceGroupId"), Idempotency: idempotency(req)}
	if p.Has("MaxEntries") {
		n, e := p.Int("MaxEntries", 0)
		if e != nil {
			return nil, e
		}
		in.MaxEntries = &n
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	res, err := s.CreatePortRangeList(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createPortRangeListResponse{PortRangeListId: res.PortRangeListId}, nil
}

func (s *Service) modifyPortRangeList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyPortRangeListInput{Caller: c, PortRangeListID: p.Get("PortRangeListId"),
		AddEntries: portEntryParams(p, "AddEntry"), Idempotency: idempotency(req)}
	for _, r := range p.Structs("RemoveEntry") {
		in.RemoveEntries = append(in.RemoveEntries, r.Get("PortRange"))
	}
	if p.Has("PortRangeListName") {
		in.Name = new(p.Get("PortRangeListName"))
	}
	if p.Has("Description") {
		in.Description = new(p.Get("Description"))
	}
	if err := s.ModifyPortRangeList(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

func (s *Service) deletePortRangeList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if err := s.DeletePortRangeList(ctx, service.PortRangeListRef{Caller: c, PortRangeListID: req.Params.Get("PortRangeListId"), Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

type portRangeListTag struct {
	TagKey   string
	TagValue string
}

type portRangeListItem struct {
	PortRangeListId   string
	PortRangeListName string
	Description       string
	MaxEntries        int
	AssociationCount  int
	CreationTime      string
	ResourceGroupId   string
	Tags              []portRangeListTag
}

type describePortRangeListsResponse struct {
	rpc.Base
	NextToken      string
	PortRangeLists []portRangeListItem
}

func (s *Service) describePortRangeLists(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := tokenPage(p, 10, 100)
	if err != nil {
		return nil, err
	}
	in := service.DescribePortRangeListsInput{Caller: c, IDs: p.List("PortRangeListId"), Name: p.Get("PortRangeListName"),
		ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	lists, err := s.DescribePortRangeLists(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describePortRangeListsResponse{NextToken: lists.NextToken, PortRangeLists: make([]portRangeListItem, 0, len(lists.Items))}
	for _, it := range lists.Items {
		l := it.List
		item := portRangeListItem{PortRangeListId: l.ID, PortRangeListName: l.Name, Description: l.Description,
			MaxEntries: l.MaxEntries, AssociationCount: it.Associations, CreationTime: timeText(l.Created),
			ResourceGroupId: resourceGroupID(l.Owner), Tags: []portRangeListTag{}}
		for _, t := range l.Tags {
			item.Tags = append(item.Tags, portRangeListTag{TagKey: t.Key, TagValue: t.Value})
		}
		out.PortRangeLists = append(out.PortRangeLists, item)
	}
	return out, nil
}

type portRangeListEntryItem struct {
	PortRange   string
	Description string
}

type describePortRangeListEntriesResponse struct {
	rpc.Base
	Entries []portRangeListEntryItem
}

func (s *Service) describePortRangeListEntries(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	l, err := s.DescribePortRangeList(ctx, c, req.Params.Get("PortRangeListId"))
	if err != nil {
		return nil, err
	}
	out := &describePortRangeListEntriesResponse{Entries: make([]portRangeListEntryItem, 0, len(l.Entries))}
	for _, e := range l.Entries {
		out.Entries = append(out.Entries, portRangeListEntryItem{PortRange: e.Range.String(), Description: e.Description})
	}
	return out, nil
}

type portRangeListAssociationItem struct {
	ResourceId   string
	ResourceType string
}

type describePortRangeListAssociationsResponse struct {
	rpc.Base
	NextToken                 string
	PortRangeListAssociations []portRangeListAssociationItem
}

func (s *Service) describePortRangeListAssociations(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	pg, err := tokenPage(req.Params, 10, 100)
	if err != nil {
		return nil, err
	}
	ids, err := s.DescribePortRangeListAssociations(ctx, c, req.Params.Get("PortRangeListId"), pg)
	if err != nil {
		return nil, err
	}
	out := &describePortRangeListAssociationsResponse{NextToken: ids.NextToken,
		PortRangeListAssociations: make([]portRangeListAssociationItem, 0, len(ids.Items))}
	for _, id := range ids.Items {
		out.PortRangeListAssociations = append(out.PortRangeListAssociations, portRangeListAssociationItem{ResourceId: id, ResourceType: "SecurityGroup"})
	}
	return out, nil
}
