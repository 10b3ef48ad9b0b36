package service

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// PrefixListUses returns the IDs of the groups in a region whose rules use
// prefix list id, in ID order, for DeletePrefixList and the association
// limit (model.MaxPrefixListUses) that rule changes must respect.
func PrefixListUses(tx store.ReadTx, region, id string) (groupIDs []string, err error) {
	return listUses(tx, byPrefixList, region, id)
}

// listUses returns the IDs of the groups in a region whose rules use the
// list id, by the group index of its kind of list.
func listUses(tx store.ReadTx, index, region, id string) ([]string, error) {
	recs, err := indexedList(tx, KindGroup, index, id, Caller{Region: region})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out, nil
}

// Limits of the prefix-list queries.
const MaxDescribePrefixListIDs = 100 // PrefixListId.N of one DescribePrefixLists

// CodePrefixListInUse is the refusal of DeletePrefixList while groups use
// the list; ECS documents 400 NotAllowed.AssociationExist.
const CodePrefixListInUse = "NotAllowed.AssociationExist"

// PrefixEntryInput is an entry as requests give it.
type PrefixEntryInput struct {
	Cidr        string
	Description string
}

// CreatePrefixListInput is a new prefix list with its first entries.
type CreatePrefixListInput struct {
	Caller        Caller
	Name          string // required
	Description   string
	AddressFamily string // IPv4 or IPv6, any case
	// MaxEntries is the list's fixed capacity, 1 to model.MaxPrefixListEntries;
	// nil is a missing parameter.
	MaxEntries      *int
	Entries         []PrefixEntryInput
	ResourceGroupID string `json:",omitempty"` // the account's one group, or none; omitted so a ClientToken kept from before still matches
	Tags            []model.Tag
	Idempotency     `json:"-"`
}

// CreatePrefixListResult names the list made.
type CreatePrefixListResult struct {
	PrefixListId string
}

// CreatePrefixList creates a prefix list with its first entries.
func (s *Service) CreatePrefixList(ctx context.Context, in CreatePrefixListInput) (CreatePrefixListResult, error) {
	c := in.Caller
	if err := CheckResourceGroup(c, in.ResourceGroupID); err != nil {
		return CreatePrefixListResult{}, err
	}
	pl, err := newPrefixList(&in)
	if err != nil {
		return CreatePrefixListResult{}, err
	}
	pl.Created = s.Now()
	return Update(s, ctx, c, "CreatePrefixList", in.Idempotency, in, func(tx store.Tx) (CreatePrefixListResult, error) {
		n, err := ownedBy(KindPrefixList, c).count(tx)
		if err != nil {
			return CreatePrefixListResult{}, err
		}
		q, err := s.quotasOf(tx, c.Account)
		if err != nil {
			return CreatePrefixListResult{}, err
		}
		if n >= q.PrefixLists {
			return CreatePrefixListResult{}, ecserr.Forbidden("QuotaExceed.PrefixList", "This account already has %d prefix lists in %s and may hold %d; delete one first.", n, c.Region, q.PrefixLists)
		}
		if err := store.PutAs(tx, KindPrefixList, pl.ID, pl.Owner, pl.Region, pl); err != nil {
			return CreatePrefixListResult{}, err
		}
		return CreatePrefixListResult{PrefixListId: pl.ID}, nil
	})
}

// newPrefixList builds and checks a new list.
func newPrefixList(in *CreatePrefixListInput) (*model.PrefixList, error) {
	c := in.Caller
	pl := &model.PrefixList{ID: model.NewID("pl"), Region: c.Region, Owner: c.Account,
		Name: in.Name, Description: in.Description, Entries: []model.PrefixEntry{}}
	var e *ecserr.Error
	if pl.AddressFamily, e = model.ParseAddressFamily(in.AddressFamily); e != nil {
		return nil, e
	}
	if in.MaxEntries == nil {
		return nil, ecserr.MissingParameter("MaxEntries")
	}
	pl.MaxEntries = *in.MaxEntries
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
	if e := checkPrefixEntriesPerCall("Entry", len(in.Entries)); e != nil {
		return nil, e
	}
	for _, en := range in.Entries {
		cidr, e := model.ParsePrefixListCIDR(en.Cidr, pl.AddressFamily, "Entry.N.Cidr", true)
		if e != nil {
			return nil, e
		}
		if en.Description != "" {
			if e := model.ValidateEntryDescription(en.Description); e != nil {
				return nil, e
			}
		}
		if e := pl.AddEntry(model.PrefixEntry{CIDR: cidr, Description: en.Description}); e != nil {
			return nil, e
		}
	}
	if e := pl.CheckEntryCount(len(pl.Entries)); e != nil {
		return nil, e
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return nil, e
	}
	pl.Tags = in.Tags
	return pl, nil
}

// ModifyPrefixListInput changes a list: nil fields stay, RemoveEntries
// (CIDR blocks) go before AddEntries come. AddressFamily and MaxEntries are
// fixed.
type ModifyPrefixListInput struct {
	Caller        Caller
	PrefixListID  string
	Name          *string
	Description   *string
	AddEntries    []PrefixEntryInput // a block already listed gets the new description
	RemoveEntries []string
	Idempotency   `json:"-"`
}

// ModifyPrefixList renames a list, changes its description, and adds,
// re-describes or removes entries.
func (s *Service) ModifyPrefixList(ctx context.Context, in ModifyPrefixListInput) error {
	c := in.Caller
	if e := checkPrefixEntriesPerCall("AddEntry", len(in.AddEntries)); e != nil {
		return e
	}
	if e := checkPrefixEntriesPerCall("RemoveEntry", len(in.RemoveEntries)); e != nil {
		return e
	}
	_, err := Update(s, ctx, c, "ModifyPrefixList", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		pl, err := getPrefixList(tx, c, in.PrefixListID)
		if err != nil {
			return struct{}{}, err
		}
		if in.Name != nil {
			if e := model.ValidatePrefixListName(*in.Name); e != nil {
				return struct{}{}, e
			}
			pl.Name = *in.Name
		}
		if in.Description != nil {
			if e := model.ValidatePrefixListDescription(*in.Description); e != nil {
				return struct{}{}, e
			}
			pl.Description = *in.Description
		}
		if e := modifyEntries(pl, &in); e != nil {
			return struct{}{}, e
		}
		return struct{}{}, store.PutAs(tx, KindPrefixList, pl.ID, pl.Owner, pl.Region, pl)
	})
	return err
}

// checkPrefixEntriesPerCall bounds Entry.N, AddEntry.N and RemoveEntry.N
// as ECS does (a list holds at most that many): each entry is compared
// with those before it, so the bound comes before any is looked at.
func checkPrefixEntriesPerCall(param string, n int) *ecserr.Error {
	if n > model.MaxPrefixListEntries {
		return ecserr.BadRequest("InvalidParameter."+param, "%s.N takes at most %d entries per call; %d were given.", param, model.MaxPrefixListEntries, n).At(param)
	}
	return nil
}

// modifyEntries applies the removals then the additions to pl.
func modifyEntries(pl *model.PrefixList, in *ModifyPrefixListInput) *ecserr.Error {
	adds := make([]entryInput, len(in.AddEntries))
	for i, a := range in.AddEntries {
		adds[i] = entryInput{a.Cidr, a.Description}
	}
	entries, e := editEntries(entryEdit[netip.Prefix, model.PrefixEntry]{
		parse: func(s, param string) (netip.Prefix, *ecserr.Error) {
			return model.ParsePrefixListCIDR(s, pl.AddressFamily, param, true)
		},
		param: "Cidr", dup: model.CodePrefixListDuplicate, conflict: "InvalidParam.CidrConflict",
		list: "Prefix list " + pl.ID, describe: "DescribePrefixListAttributes",
		key:   func(e model.PrefixEntry) netip.Prefix { return e.CIDR },
		entry: func(p netip.Prefix, d string) model.PrefixEntry { return model.PrefixEntry{CIDR: p, Description: d} },
	}, pl.Entries, in.RemoveEntries, adds)
	if e != nil {
		return e
	}
	if e := pl.CheckEntryCount(len(entries)); e != nil {
		return e
	}
	pl.Entries = entries
	return nil
}

// PrefixListRef names a prefix list of the caller.
type PrefixListRef struct {
	Caller       Caller
	PrefixListID string
	Idempotency  `json:"-"`
}

// DeletePrefixList deletes a list that no security-group rule uses.
func (s *Service) DeletePrefixList(ctx context.Context, in PrefixListRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DeletePrefixList", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		pl, err := getPrefixList(tx, c, in.PrefixListID)
		if err != nil {
			return struct{}{}, err
		}
		uses, err := PrefixListUses(tx, pl.Region, pl.ID)
		if err != nil {
			return struct{}{}, err
		}
		if len(uses) > 0 {
			return struct{}{}, ecserr.BadRequest(CodePrefixListInUse, "Prefix list %s is used by the rules of %d security groups (%s); revoke those rules first (DescribePrefixListAssociations lists the groups).", pl.ID, len(uses), strings.Join(uses, ", "))
		}
		return struct{}{}, tx.Delete(KindPrefixList, pl.ID)
	})
	return err
}

// DescribePrefixListsInput filters the caller's lists; zero fields do not.
type DescribePrefixListsInput struct {
	Caller        Caller
	IDs           []string // at most MaxDescribePrefixListIDs
	AddressFamily string   // IPv4 or IPv6, any case
	Name          string
	// ResourceGroupID and Tags (all must match; a key without a value
	// matches any value) filter as in DescribeVpcsInput.
	ResourceGroupID string
	Tags            []model.Tag // at most model.MaxTags
	Page            Page
}

// PrefixListSummary is a list as listed.
type PrefixListSummary struct {
	List         *model.PrefixList
	Associations int // groups whose rules use it
}

// DescribePrefixLists returns one page of the caller's prefix lists in a
// region; every filter given must match.
func (s *Service) DescribePrefixLists(ctx context.Context, in DescribePrefixListsInput) (Listing[PrefixListSummary], error) {
	c := in.Caller
	if len(in.IDs) > MaxDescribePrefixListIDs {
		return Listing[PrefixListSummary]{}, ecserr.BadRequest("InvalidParameter.PrefixListId", "PrefixListId.N takes at most %d IDs; %d were given.", MaxDescribePrefixListIDs, len(in.IDs))
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return Listing[PrefixListSummary]{}, e
	}
	family := ""
	if in.AddressFamily != "" {
		var e *ecserr.Error
		if family, e = model.ParseAddressFamily(in.AddressFamily); e != nil {
			return Listing[PrefixListSummary]{}, e
		}
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[PrefixListSummary], error) {
		all, err := list[model.PrefixList](tx, KindPrefixList, c)
		if err != nil {
			return Listing[PrefixListSummary]{}, err
		}
		var items []PrefixListSummary
		for _, pl := range all {
			if len(in.IDs) > 0 && !slices.Contains(in.IDs, pl.ID) ||
				family != "" && pl.AddressFamily != family ||
				in.Name != "" && pl.Name != in.Name || !matchTags(pl.Tags, in.Tags) ||
				in.ResourceGroupID != "" && in.ResourceGroupID != ResourceGroupID(pl.Owner) {
				continue
			}
			uses, err := PrefixListUses(tx, c.Region, pl.ID)
			if err != nil {
				return Listing[PrefixListSummary]{}, err
			}
			items = append(items, PrefixListSummary{List: pl, Associations: len(uses)})
		}
		return pageBy(items, in.Page, func(l PrefixListSummary) string { return l.List.ID }), nil
	})
}

// DescribePrefixListAttributes returns one list with its entries.
func (s *Service) DescribePrefixListAttributes(ctx context.Context, c Caller, id string) (*model.PrefixList, error) {
	return View(s, ctx, func(tx store.ReadTx) (*model.PrefixList, error) { return getPrefixList(tx, c, id) })
}

// DescribePrefixListAssociations returns one page of the IDs of the groups
// whose rules use a list.
func (s *Service) DescribePrefixListAssociations(ctx context.Context, c Caller, id string, pg Page) (Listing[string], error) {
	return View(s, ctx, func(tx store.ReadTx) (Listing[string], error) {
		pl, err := getPrefixList(tx, c, id)
		if err != nil {
			return Listing[string]{}, err
		}
		uses, err := PrefixListUses(tx, pl.Region, pl.ID)
		if err != nil {
			return Listing[string]{}, err
		}
		return pageOf(slices.Clone(uses), pg), nil
	})
}
