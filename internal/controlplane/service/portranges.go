package service

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Port range lists (prl-…): named sets of port ranges that TCP and UDP
// rules may use in place of a PortRange. They work as prefix lists do, with
// the codes the ECS reference gives (NotFound is 400 here, not 404).

// MaxDescribePortRangeListIDs is how many PortRangeListId.N one
// DescribePortRangeLists takes.
const MaxDescribePortRangeListIDs = 100

// getPortRangeList loads a port range list of the caller.
func getPortRangeList(tx store.ReadTx, c Caller, id string) (*model.PortRangeList, error) {
	l, err := get[model.PortRangeList](tx, KindPortRangeList, c, id, "PortRangeListId", "prl", model.CodePortRangeListNotFound)
	var e *ecserr.Error
	if errors.As(err, &e) && e.Code == model.CodePortRangeListNotFound {
		return nil, ecserr.BadRequest(e.Code, "%s", e.Message).At("PortRangeListId")
	}
	return l, err
}

// PortRangeListUses returns the IDs of the groups in a region whose rules
// use port range list id, in group ID order.
func PortRangeListUses(tx store.ReadTx, region, id string) ([]string, error) {
	return listUses(tx, byPortList, region, id)
}

// checkRulePortRangeList checks that a rule's port range list is the
// caller's (in the group's region) and that it may take more users.
func checkRulePortRangeList(tx store.ReadTx, c Caller, g *model.SecurityGroup, r *model.Rule) error {
	if r.PortRangeListID == "" {
		return nil
	}
	if _, err := getPortRangeList(tx, Caller{Account: c.Account, Region: g.Region}, r.PortRangeListID); err != nil {
		return err
	}
	uses, err := PortRangeListUses(tx, g.Region, r.PortRangeListID)
	if err != nil {
		return err
	}
	if !slices.Contains(uses, g.ID) && len(uses) >= model.MaxPortRangeListUses {
		return ecserr.Forbidden("LimitExceed.PortRangeListAssociationResource", "Port range list %s is already used by %d security groups, the limit.", r.PortRangeListID, len(uses))
	}
	return nil
}

// PortEntryInput is an entry as requests give it.
type PortEntryInput struct {
	PortRange   string
	Description string
}

// CreatePortRangeListInput is a new port range list with its first entries.
type CreatePortRangeListInput struct {
	Caller      Caller
	Name        string // required
	Description string
	// MaxEntries is the list's fixed capacity, 1 to
	// model.MaxPortRangeListEntries; nil is a missing parameter.
	MaxEntries      *int
	Entries         []PortEntryInput // at most model.MaxPortEntriesPerCall
	ResourceGroupID string           `json:",omitempty"` // the account's one group, or none; omitted so a ClientToken kept from before still matches
	Tags            []model.Tag
	Idempotency     `json:"-"`
}

// CreatePortRangeListResult names the list made.
type CreatePortRangeListResult struct {
	PortRangeListId string
}

// CreatePortRangeList creates a port range list with its first entries.
func (s *Service) CreatePortRangeList(ctx context.Context, in CreatePortRangeListInput) (CreatePortRangeListResult, error) {
	c := in.Caller
	if err := CheckResourceGroup(c, in.ResourceGroupID); err != nil {
		return CreatePortRangeListResult{}, err
	}
	l, err := newPortRangeList(&in)
	if err != nil {
		return CreatePortRangeListResult{}, err
	}
	l.Created = s.Now()
	return Update(s, ctx, c, "CreatePortRangeList", in.Idempotency, in, func(tx store.Tx) (CreatePortRangeListResult, error) {
		n, err := ownedBy(KindPortRangeList, c).count(tx)
		if err != nil {
			return CreatePortRangeListResult{}, err
		}
		q, err := s.quotasOf(tx, c.Account)
		if err != nil {
			return CreatePortRangeListResult{}, err
		}
		if n >= q.PortRangeLists {
			return CreatePortRangeListResult{}, ecserr.Forbidden("QuotaExceed.PortRangeList", "This account already has %d port range lists in %s and may hold %d; delete one first.", n, c.Region, q.PortRangeLists)
		}
		if err := store.PutAs(tx, KindPortRangeList, l.ID, l.Owner, l.Region, l); err != nil {
			return CreatePortRangeListResult{}, err
		}
		return CreatePortRangeListResult{PortRangeListId: l.ID}, nil
	})
}

func newPortRangeList(in *CreatePortRangeListInput) (*model.PortRangeList, error) {
	c := in.Caller
	l := &model.PortRangeList{ID: model.NewID("prl"), Region: c.Region, Owner: c.Account,
		Name: in.Name, Description: in.Description, Entries: []model.PortEntry{}}
	if in.MaxEntries == nil {
		return nil, ecserr.MissingParameter("MaxEntries")
	}
	l.MaxEntries = *in.MaxEntries
	if e := model.ValidatePortRangeListMaxEntries(l.MaxEntries); e != nil {
		return nil, e
	}
	if l.Name == "" {
		return nil, ecserr.MissingParameter("PortRangeListName")
	}
	if e := model.ValidatePortRangeListName(l.Name); e != nil {
		return nil, e
	}
	if l.Description != "" {
		if e := model.ValidatePortRangeListDescription(l.Description); e != nil {
			return nil, e
		}
	}
	if e := checkEntriesPerCall("Entry", len(in.Entries)); e != nil {
		return nil, e
	}
	for _, en := range in.Entries {
		r, e := model.ParseListPortRange(en.PortRange, "Entry.N.PortRange")
		if e != nil {
			return nil, e
		}
		if en.Description != "" {
			if e := model.ValidateEntryDescription(en.Description); e != nil {
				return nil, e
			}
		}
		if e := l.AddEntry(model.PortEntry{Range: r, Description: en.Description}); e != nil {
			return nil, e
		}
	}
	if e := l.CheckEntryCount(len(l.Entries)); e != nil {
		return nil, e
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return nil, e
	}
	l.Tags = in.Tags
	return l, nil
}

func checkEntriesPerCall(param string, n int) *ecserr.Error {
	if n > model.MaxPortEntriesPerCall {
		return ecserr.BadRequest("InvalidParameter."+param, "%s.N takes at most %d entries per call; %d were given.", param, model.MaxPortEntriesPerCall, n).At(param)
	}
	return nil
}

// ModifyPortRangeListInput changes a list: nil fields stay, RemoveEntries
// (ranges) go before AddEntries come. MaxEntries is fixed.
type ModifyPortRangeListInput struct {
	Caller          Caller
	PortRangeListID string
	Name            *string
	Description     *string
	AddEntries      []PortEntryInput // a range already listed gets the new description
	RemoveEntries   []string
	Idempotency     `json:"-"`
}

// ModifyPortRangeList renames a list, changes its description, and adds,
// re-describes or removes entries. Every rule naming the list follows.
func (s *Service) ModifyPortRangeList(ctx context.Context, in ModifyPortRangeListInput) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "ModifyPortRangeList", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		l, err := getPortRangeList(tx, c, in.PortRangeListID)
		if err != nil {
			return struct{}{}, err
		}
		if in.Name != nil {
			if e := model.ValidatePortRangeListName(*in.Name); e != nil {
				return struct{}{}, e
			}
			l.Name = *in.Name
		}
		if in.Description != nil {
			if e := model.ValidatePortRangeListDescription(*in.Description); e != nil {
				return struct{}{}, e
			}
			l.Description = *in.Description
		}
		if e := modifyPortEntries(l, &in); e != nil {
			return struct{}{}, e
		}
		return struct{}{}, store.PutAs(tx, KindPortRangeList, l.ID, l.Owner, l.Region, l)
	})
	return err
}

func modifyPortEntries(l *model.PortRangeList, in *ModifyPortRangeListInput) *ecserr.Error {
	if e := checkEntriesPerCall("AddEntry", len(in.AddEntries)); e != nil {
		return e
	}
	if e := checkEntriesPerCall("RemoveEntry", len(in.RemoveEntries)); e != nil {
		return e
	}
	adds := make([]entryInput, len(in.AddEntries))
	for i, a := range in.AddEntries {
		adds[i] = entryInput{a.PortRange, a.Description}
	}
	entries, e := editEntries(entryEdit[model.PortRange, model.PortEntry]{
		parse: model.ParseListPortRange, param: "PortRange",
		dup: model.CodePortRangeDuplicate, conflict: "InvalidParam.PortRangeConflict",
		list: "Port range list " + l.ID, describe: "DescribePortRangeListEntries",
		key:   func(e model.PortEntry) model.PortRange { return e.Range },
		entry: func(r model.PortRange, d string) model.PortEntry { return model.PortEntry{Range: r, Description: d} },
	}, l.Entries, in.RemoveEntries, adds)
	if e != nil {
		return e
	}
	if e := l.CheckEntryCount(len(entries)); e != nil {
		return e
	}
	l.Entries = entries
	return nil
}

// PortRangeListRef names a port range list of the caller.
type PortRangeListRef struct {
	Caller          Caller
	PortRangeListID string
	Idempotency     `json:"-"`
}

// DeletePortRangeList deletes a list that no security-group rule uses; ECS
// refuses while any resource is associated.
func (s *Service) DeletePortRangeList(ctx context.Context, in PortRangeListRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DeletePortRangeList", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		l, err := getPortRangeList(tx, c, in.PortRangeListID)
		if err != nil {
			return struct{}{}, err
		}
		uses, err := PortRangeListUses(tx, l.Region, l.ID)
		if err != nil {
			return struct{}{}, err
		}
		if len(uses) > 0 {
			return struct{}{}, ecserr.BadRequest(model.CodePortRangeListInUse, "Port range list %s is used by the rules of %d security groups (%s); revoke those rules first (DescribePortRangeListAssociations lists the groups).", l.ID, len(uses), strings.Join(uses, ", "))
		}
		return struct{}{}, tx.Delete(KindPortRangeList, l.ID)
	})
	return err
}

// DescribePortRangeListsInput filters the caller's lists; zero fields do not.
type DescribePortRangeListsInput struct {
	Caller Caller
	IDs    []string // at most MaxDescribePortRangeListIDs
	Name   string
	// ResourceGroupID and Tags (all must match; a key without a value
	// matches any value) filter as in DescribeVpcsInput.
	ResourceGroupID string
	Tags            []model.Tag // at most model.MaxTags
	Page            Page
}

// PortRangeListSummary is a list as listed.
type PortRangeListSummary struct {
	List         *model.PortRangeList
	Associations int // groups whose rules use it
}

// DescribePortRangeLists returns one page of the caller's lists in a
// region; every filter given must match.
func (s *Service) DescribePortRangeLists(ctx context.Context, in DescribePortRangeListsInput) (Listing[PortRangeListSummary], error) {
	c := in.Caller
	if len(in.IDs) > MaxDescribePortRangeListIDs {
		return Listing[PortRangeListSummary]{}, ecserr.BadRequest("InvalidParameter.PortRangeListId", "PortRangeListId.N takes at most %d IDs; %d were given.", MaxDescribePortRangeListIDs, len(in.IDs))
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return Listing[PortRangeListSummary]{}, e
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[PortRangeListSummary], error) {
		all, err := list[model.PortRangeList](tx, KindPortRangeList, c)
		if err != nil {
			return Listing[PortRangeListSummary]{}, err
		}
		var items []PortRangeListSummary
		for _, l := range all {
			if len(in.IDs) > 0 && !slices.Contains(in.IDs, l.ID) || in.Name != "" && l.Name != in.Name ||
				in.ResourceGroupID != "" && in.ResourceGroupID != ResourceGroupID(l.Owner) || !matchTags(l.Tags, in.Tags) {
				continue
			}
			uses, err := PortRangeListUses(tx, c.Region, l.ID)
			if err != nil {
				return Listing[PortRangeListSummary]{}, err
			}
			items = append(items, PortRangeListSummary{List: l, Associations: len(uses)})
		}
		return pageBy(items, in.Page, func(l PortRangeListSummary) string { return l.List.ID }), nil
	})
}

// DescribePortRangeList returns one list with its entries
// (DescribePortRangeListEntries).
func (s *Service) DescribePortRangeList(ctx context.Context, c Caller, id string) (*model.PortRangeList, error) {
	return View(s, ctx, func(tx store.ReadTx) (*model.PortRangeList, error) { return getPortRangeList(tx, c, id) })
}

// DescribePortRangeListAssociations returns one page of the IDs of the
// groups whose rules use a list.
func (s *Service) DescribePortRangeListAssociations(ctx context.Context, c Caller, id string, pg Page) (Listing[string], error) {
	return View(s, ctx, func(tx store.ReadTx) (Listing[string], error) {
		l, err := getPortRangeList(tx, c, id)
		if err != nil {
			return Listing[string]{}, err
		}
		uses, err := PortRangeListUses(tx, l.Region, l.ID)
		if err != nil {
			return Listing[string]{}, err
		}
		return pageOf(uses, pg), nil
	})
}
