package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

func (s *Service) prefixListActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreatePrefixList":               s.createPrefixList,
		"ModifyPrefixList":               s.modifyPrefixList,
		"DeletePrefixList":               s.deletePrefixList,
		"DescribePrefixLists":            s.describePrefixLists,
		"DescribePrefixListAttributes":   s.describePrefixListAttributes,
		"DescribePrefixListAssociations": s.describePrefixListAssociations,
	}
}

type createPrefixListResponse struct {
	rpc.Base
	PrefixListId string
}

// entryParams reads Name.N.Cidr / Name.N.Description.
func entryParams(p rpc.Params, name string) []service.PrefixEntryInput {
	var out []service.PrefixEntryInput
	for _, en := range p.Structs(name) {
		out = append(out, service.PrefixEntryInput{Cidr: en.Get("Cidr"), Description: en.Get("Description")})
	}
	return out
}

func (s *Service) createPrefixList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.CreatePrefixListInput{Caller: c, Name: p.Get("PrefixListName"), Description: p.Get("Description"),
		AddressFamily: p.Get("AddressFamily"), Entries: entryParams(p, "Entry"), ResourceGroupID: p.Get("ResourceGroupId"), Idempotency: idempotency(req)}
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
	res, err := s.CreatePrefixList(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createPrefixListResponse{PrefixListId: res.PrefixListId}, nil
}

func (s *Service) modifyPrefixList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyPrefixListInput{Caller: c, PrefixListID: p.Get("PrefixListId"), AddEntries: entryParams(p, "AddEntry"), Idempotency: idempotency(req)}
	for _, r := range p.Structs("RemoveEntry") {
		in.RemoveEntries = append(in.RemoveEntries, r.Get("Cidr"))
	}
	if p.Has("PrefixListName") {
		in.Name = new(p.Get("PrefixListName"))
	}
	if p.Has("Description") {
		in.Description = new(p.Get("Description"))
	}
	if err := s.ModifyPrefixList(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

func (s *Service) deletePrefixList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if err := s.DeletePrefixList(ctx, service.PrefixListRef{Caller: c, PrefixListID: req.Params.Get("PrefixListId"), Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// prefixListUses is service.PrefixListUses, for the tests.
var prefixListUses = service.PrefixListUses

// tokenPage reads NextToken/MaxResults paging, the only kind the prefix-list
// and tag actions take; with neither given, the first page of defMax.
func tokenPage(p rpc.Params, defMax, maxResults int) (page, error) {
	pg, err := parsePage(rpc.Params{"NextToken": p.Get("NextToken"), "MaxResults": p.Get("MaxResults")}, defMax, maxResults, defMax, maxResults)
	if err != nil {
		return pg, err
	}
	pg.Tokens = true
	return pg, nil
}

// prefixListItem is one list of DescribePrefixLists, with the ResourceGroupId
// and Tags its filters take, as the Tea SDK's model has them.
type prefixListItem struct {
	PrefixListId     string
	PrefixListName   string
	AddressFamily    string
	MaxEntries       int
	Description      string
	CreationTime     string
	AssociationCount int
	ResourceGroupId  string
	Tags             tagSet
}

type describePrefixListsResponse struct {
	rpc.Base
	NextToken   string
	PrefixLists prefixListSet
}

type prefixListSet struct {
	PrefixList []prefixListItem
}

func (s *Service) describePrefixLists(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := tokenPage(p, 10, 100)
	if err != nil {
		return nil, err
	}
	in := service.DescribePrefixListsInput{Caller: c, IDs: p.List("PrefixListId"), AddressFamily: p.Get("AddressFamily"),
		Name: p.Get("PrefixListName"), ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	lists, err := s.DescribePrefixLists(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describePrefixListsResponse{NextToken: lists.NextToken}
	out.PrefixLists.PrefixList = make([]prefixListItem, 0, len(lists.Items))
	for _, l := range lists.Items {
		pl := l.List
		out.PrefixLists.PrefixList = append(out.PrefixLists.PrefixList, prefixListItem{PrefixListId: pl.ID, PrefixListName: pl.Name, AddressFamily: pl.AddressFamily,
			MaxEntries: pl.MaxEntries, Description: pl.Description, CreationTime: timeText(pl.Created), AssociationCount: l.Associations,
			ResourceGroupId: resourceGroupID(pl.Owner), Tags: tagsOut(pl.Tags)})
	}
	return out, nil
}

type prefixListEntryItem struct {
	Cidr        string
	Description string
}

type describePrefixListAttributesResponse struct {
	rpc.Base
	PrefixListId   string
	PrefixListName string
	AddressFamily  string
	MaxEntries     int
	Description    string
	CreationTime   string
	Entries        prefixListEntrySet
}

type prefixListEntrySet struct {
	Entry []prefixListEntryItem
}

func (s *Service) describePrefixListAttributes(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	pl, err := s.DescribePrefixListAttributes(ctx, c, req.Params.Get("PrefixListId"))
	if err != nil {
		return nil, err
	}
	out := &describePrefixListAttributesResponse{PrefixListId: pl.ID, PrefixListName: pl.Name, AddressFamily: pl.AddressFamily,
		MaxEntries: pl.MaxEntries, Description: pl.Description, CreationTime: timeText(pl.Created)}
	out.Entries.Entry = []prefixListEntryItem{}
	for _, e := range pl.Entries {
		out.Entries.Entry = append(out.Entries.Entry, prefixListEntryItem{Cidr: e.CIDR.String(), Description: e.Description})
	}
	return out, nil
}

type prefixListAssociationItem struct {
	ResourceId   string
	ResourceType string
}

type describePrefixListAssociationsResponse struct {
	rpc.Base
	NextToken              string
	PrefixListAssociations prefixListAssociationSet
}

type prefixListAssociationSet struct {
	PrefixListAssociation []prefixListAssociationItem
}

func (s *Service) describePrefixListAssociations(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	pg, err := tokenPage(req.Params, 10, 100)
	if err != nil {
		return nil, err
	}
	ids, err := s.DescribePrefixListAssociations(ctx, c, req.Params.Get("PrefixListId"), pg)
	if err != nil {
		return nil, err
	}
	out := &describePrefixListAssociationsResponse{NextToken: ids.NextToken}
	out.PrefixListAssociations.PrefixListAssociation = make([]prefixListAssociationItem, 0, len(ids.Items))
	for _, id := range ids.Items {
		out.PrefixListAssociations.PrefixListAssociation = append(out.PrefixListAssociations.PrefixListAssociation, prefixListAssociationItem{ResourceId: id, ResourceType: "securitygroup"})
	}
	return out, nil
}
