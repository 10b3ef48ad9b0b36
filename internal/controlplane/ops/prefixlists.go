package ops

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) prefixListActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreatePrefixList":               s.CreatePrefixList,
		"ModifyPrefixList":               s.ModifyPrefixList,
		"DeletePrefixList":               s.DeletePrefixList,
		"DescribePrefixLists":            s.DescribePrefixLists,
		"DescribePrefixListAttributes":   s.DescribePrefixListAttributes,
		"DescribePrefixListAssociations": s.DescribePrefixListAssociations,
	}
}

// codePLInUse is the refusal of DeletePrefixList while groups use the list;
// ECS documents 400 NotAllowed.AssociationExist.
const codePLInUse = "NotAllowed.AssociationExist"

type createPrefixListResponse struct {
	rpc.Base
	PrefixListId string
}

// CreatePrefixList creates a prefix list with its first entries.
func (s *Service) CreatePrefixList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	pl, err := newPrefixList(req.Params, c)
	if err != nil {
		return nil, err
	}
	pl.Created = s.Now()
	return update(s, ctx, c, req, func(tx store.Tx) (*createPrefixListResponse, error) {
		recs, err := tx.List(KindPrefixList, store.Query{Account: c.Account, Region: c.Region})
		if err != nil {
			return nil, err
		}
		if len(recs) >= model.MaxPrefixListsRegion {
			return nil, ecserr.Forbidden("QuotaExceed.PrefixList", "This account already has %d prefix lists in %s, the limit; delete one first.", len(recs), c.Region)
		}
		if err := store.PutAs(tx, KindPrefixList, pl.ID, pl.Owner, pl.Region, pl); err != nil {
			return nil, err
		}
		return &createPrefixListResponse{PrefixListId: pl.ID}, nil
	})
}

// newPrefixList builds a list from CreatePrefixList parameters.
func newPrefixList(p rpc.Params, c caller) (*model.PrefixList, error) {
	pl := &model.PrefixList{ID: model.NewID("pl"), Region: c.Region, Owner: c.Account,
		Name: p.Get("PrefixListName"), Description: p.Get("Description"), Entries: []model.PrefixEntry{}}
	var e *ecserr.Error
	if pl.AddressFamily, e = model.ParseAddressFamily(p.Get("AddressFamily")); e != nil {
		return nil, e
	}
	if !p.Has("MaxEntries") {
		return nil, ecserr.MissingParameter("MaxEntries")
	}
	if pl.MaxEntries, e = p.Int("MaxEntries", 0); e != nil {
		return nil, e
	}
	if e := model.ValidateMaxEntries(pl.MaxEntries); e != nil {
		return nil, e
	}
	if pl.Name == "" {
		return nil, ecserr.MissingParameter("PrefixListName")
	}
	if e := model.ValidatePrefixListName(pl.Name); e != nil {
		return nil, e
	}
	if pl.Description != "" {
		if e := model.ValidatePrefixListDescription(pl.Description); e != nil {
			return nil, e
		}
	}
	for _, en := range p.Structs("Entry") {
		cidr, e := model.ParsePrefixListCIDR(en.Get("Cidr"), pl.AddressFamily, "Entry.N.Cidr", false)
		if e != nil {
			return nil, e
		}
		if en.Has("Description") {
			if e := model.ValidateEntryDescription(en.Get("Description")); e != nil {
				return nil, e
			}
		}
		if e := pl.AddEntry(model.PrefixEntry{CIDR: cidr, Description: en.Get("Description")}); e != nil {
			return nil, e
		}
	}
	if e := pl.CheckEntryCount(len(pl.Entries)); e != nil {
		return nil, e
	}
	tags, err := tagsFromParams(p)
	if err != nil {
		return nil, err
	}
	pl.Tags = tags
	return pl, nil
}

// ModifyPrefixList renames a list, changes its description, and adds,
// re-describes or removes entries. AddressFamily and MaxEntries are fixed.
func (s *Service) ModifyPrefixList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		pl, err := getPrefixList(tx, c, p.Get("PrefixListId"))
		if err != nil {
			return nil, err
		}
		if p.Has("PrefixListName") {
			if e := model.ValidatePrefixListName(p.Get("PrefixListName")); e != nil {
				return nil, e
			}
			pl.Name = p.Get("PrefixListName")
		}
		if p.Has("Description") {
			if e := model.ValidatePrefixListDescription(p.Get("Description")); e != nil {
				return nil, e
			}
			pl.Description = p.Get("Description")
		}
		if err := modifyEntries(pl, p); err != nil {
			return nil, err
		}
		return &rpc.Base{}, store.PutAs(tx, KindPrefixList, pl.ID, pl.Owner, pl.Region, pl)
	})
}

// modifyEntries applies RemoveEntry.N then AddEntry.N to pl. An AddEntry of
// a block already in the list sets that entry's description.
func modifyEntries(pl *model.PrefixList, p rpc.Params) *ecserr.Error {
	var removes []netip.Prefix
	for _, r := range p.Structs("RemoveEntry") {
		cidr, e := model.ParsePrefixListCIDR(r.Get("Cidr"), pl.AddressFamily, "RemoveEntry.N.Cidr", true)
		if e != nil {
			return e
		}
		if slices.Contains(removes, cidr) {
			return ecserr.BadRequest(model.CodePrefixListDuplicate, "RemoveEntry names %s more than once.", cidr)
		}
		removes = append(removes, cidr)
	}
	var adds []model.PrefixEntry
	for _, a := range p.Structs("AddEntry") {
		cidr, e := model.ParsePrefixListCIDR(a.Get("Cidr"), pl.AddressFamily, "AddEntry.N.Cidr", true)
		if e != nil {
			return e
		}
		if a.Has("Description") {
			if e := model.ValidateEntryDescription(a.Get("Description")); e != nil {
				return e
			}
		}
		if model.EntryIndex(adds, cidr) >= 0 {
			return ecserr.BadRequest(model.CodePrefixListDuplicate, "AddEntry names %s more than once.", cidr)
		}
		if slices.Contains(removes, cidr) {
			return ecserr.BadRequest("InvalidParam.CidrConflict", "%s is both added and removed; to change an entry's description, only add it again with the new description.", cidr)
		}
		adds = append(adds, model.PrefixEntry{CIDR: cidr, Description: a.Get("Description")})
	}
	entries := slices.Clone(pl.Entries)
	for _, cidr := range removes {
		i := model.EntryIndex(entries, cidr)
		if i < 0 {
			return ecserr.BadRequest("InvalidParam.EntryNotFound", "Prefix list %s has no entry %s to remove; DescribePrefixListAttributes lists its entries.", pl.ID, cidr)
		}
		entries = slices.Delete(entries, i, i+1)
	}
	for _, a := range adds {
		if i := model.EntryIndex(entries, a.CIDR); i >= 0 {
			entries[i].Description = a.Description
			continue
		}
		entries = append(entries, a)
	}
	if e := pl.CheckEntryCount(len(entries)); e != nil {
		return e
	}
	pl.Entries = entries
	return nil
}

// DeletePrefixList deletes a list that no security-group rule uses.
func (s *Service) DeletePrefixList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		pl, err := getPrefixList(tx, c, req.Params.Get("PrefixListId"))
		if err != nil {
			return nil, err
		}
		uses, err := prefixListUses(tx, pl.Region, pl.ID)
		if err != nil {
			return nil, err
		}
		if len(uses) > 0 {
			return nil, ecserr.BadRequest(codePLInUse, "Prefix list %s is used by the rules of %d security groups (%s); revoke those rules first (DescribePrefixListAssociations lists the groups).", pl.ID, len(uses), strings.Join(uses, ", "))
		}
		return &rpc.Base{}, tx.Delete(KindPrefixList, pl.ID)
	})
}

var (
	prefixListAssociations = service.PrefixListAssociations
	prefixListUses         = service.PrefixListUses
)

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

type prefixListItem struct {
	PrefixListId     string
	PrefixListName   string
	AddressFamily    string
	MaxEntries       int
	Description      string
	CreationTime     string
	AssociationCount int
}

type describePrefixListsResponse struct {
	rpc.Base
	NextToken   string
	PrefixLists prefixListSet
}

type prefixListSet struct {
	PrefixList []prefixListItem
}

// DescribePrefixLists lists the caller's prefix lists in a region. The
// filters PrefixListId.N, AddressFamily and PrefixListName must all match.
func (s *Service) DescribePrefixLists(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := tokenPage(p, 10, 100)
	if err != nil {
		return nil, err
	}
	ids := p.List("PrefixListId")
	if len(ids) > 100 {
		return nil, ecserr.BadRequest("InvalidParameter.PrefixListId", "PrefixListId.N takes at most 100 IDs; %d were given.", len(ids))
	}
	family := ""
	if p.Has("AddressFamily") {
		var e *ecserr.Error
		if family, e = model.ParseAddressFamily(p.Get("AddressFamily")); e != nil {
			return nil, e
		}
	}
	return view(s, ctx, func(tx store.ReadTx) (*describePrefixListsResponse, error) {
		all, err := list[model.PrefixList](tx, KindPrefixList, c)
		if err != nil {
			return nil, err
		}
		uses, err := prefixListAssociations(tx, c.Region)
		if err != nil {
			return nil, err
		}
		var items []prefixListItem
		for _, pl := range all {
			if len(ids) > 0 && !slices.Contains(ids, pl.ID) ||
				family != "" && pl.AddressFamily != family ||
				p.Has("PrefixListName") && pl.Name != p.Get("PrefixListName") {
				continue
			}
			items = append(items, prefixListItem{PrefixListId: pl.ID, PrefixListName: pl.Name, AddressFamily: pl.AddressFamily,
				MaxEntries: pl.MaxEntries, Description: pl.Description, CreationTime: timeText(pl.Created), AssociationCount: len(uses[pl.ID])})
		}
		out := &describePrefixListsResponse{}
		out.PrefixLists.PrefixList, out.NextToken = paginate(items, pg)
		return out, nil
	})
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

// DescribePrefixListAttributes returns one list with its entries.
func (s *Service) DescribePrefixListAttributes(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return view(s, ctx, func(tx store.ReadTx) (*describePrefixListAttributesResponse, error) {
		pl, err := getPrefixList(tx, c, req.Params.Get("PrefixListId"))
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
	})
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

// DescribePrefixListAssociations lists the security groups whose rules use a
// list, one entry per group.
func (s *Service) DescribePrefixListAssociations(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	pg, err := tokenPage(req.Params, 10, 100)
	if err != nil {
		return nil, err
	}
	return view(s, ctx, func(tx store.ReadTx) (*describePrefixListAssociationsResponse, error) {
		pl, err := getPrefixList(tx, c, req.Params.Get("PrefixListId"))
		if err != nil {
			return nil, err
		}
		uses, err := prefixListUses(tx, pl.Region, pl.ID)
		if err != nil {
			return nil, err
		}
		items := make([]prefixListAssociationItem, 0, len(uses))
		for _, id := range uses {
			items = append(items, prefixListAssociationItem{ResourceId: id, ResourceType: "securitygroup"})
		}
		out := &describePrefixListAssociationsResponse{}
		out.PrefixListAssociations.PrefixListAssociation, out.NextToken = paginate(items, pg)
		return out, nil
	})
}
