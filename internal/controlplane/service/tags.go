package service

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Limits of the tag actions.
const (
	MaxTagResourceIDs = 50 // ResourceId.N per call
	MaxTagFilters     = 5  // TagFilter.N per ListTagResources
	TagPageSize       = 50 // TagResource rows per ListTagResources page
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
	// key is the store key of a ResourceId of the caller; nil: the ID.
	key func(c Caller, id string) string
}

// taggables are the resource types that carry tags, keyed by lower-case name.
var taggables = map[string]taggable{
	"securitygroup": {"securitygroup", KindGroup, loadTagged(KindGroup, func(g *model.SecurityGroup) *[]model.Tag { return &g.Tags }), nil},
	"instance":      {"instance", KindInstance, loadTagged(KindInstance, func(i *model.Instance) *[]model.Tag { return &i.Tags }), nil},
	"prefixlist":    {"prefixlist", KindPrefixList, loadTagged(KindPrefixList, func(p *model.PrefixList) *[]model.Tag { return &p.Tags }), nil},
	// Secondary network interfaces (a primary one is its instance's).
	"eni": {"eni", KindENI, loadTagged(KindENI, func(n *model.NetworkInterface) *[]model.Tag { return &n.Tags }), nil},
	// The VPC product's (its RPC adapter keeps each product to its own).
	"vpc":     {"vpc", KindVPC, loadTagged(KindVPC, func(v *model.VPC) *[]model.Tag { return &v.Tags }), nil},
	"vswitch": {"vswitch", KindVSwitch, loadTagged(KindVSwitch, func(w *model.VSwitch) *[]model.Tag { return &w.Tags }), nil},
	"eip":     {"eip", KindEIP, loadTagged(KindEIP, func(e *model.EIP) *[]model.Tag { return &e.Tags }), nil},
	// Key pairs, whose ResourceId is their name.
	"keypair": {"keypair", KindKeyPair, loadKeyPairTags, keyPairKey},
}

// loadKeyPairTags is loadTagged for key pairs, named by name.
func loadKeyPairTags(rec store.Record) (*tagged, error) {
	k, err := decode[model.KeyPair](rec)
	if err != nil {
		return nil, err
	}
	return &tagged{ID: k.Name, Tags: k.Tags, save: func(tx store.Tx, t []model.Tag) error {
		k.Tags = t
		return store.PutAs(tx, KindKeyPair, rec.ID, rec.Account, rec.Region, k)
	}}, nil
}

// loadTagged decodes a record of type T and gives access to its tags; save
// writes the record back under its owner and region.
func loadTagged[T any](kind store.Kind, tags func(*T) *[]model.Tag) func(store.Record) (*tagged, error) {
	return func(rec store.Record) (*tagged, error) {
		v, err := decode[T](rec)
		if err != nil {
			return nil, err
		}
		return &tagged{ID: rec.ID, Tags: *tags(v), save: func(tx store.Tx, t []model.Tag) error {
			*tags(v) = t
			return store.PutAs(tx, kind, rec.ID, rec.Account, rec.Region, v)
		}}, nil
	}
}

// resourceType looks up a ResourceType, matched case-insensitively.
func resourceType(s string) (taggable, error) {
	if s == "" {
		return taggable{}, ecserr.New(http.StatusNotFound, "MissingParameter.ResourceType", "ResourceType is required: give securitygroup, instance, eni, prefixlist or keypair (ECS), vpc, vswitch or eip (VPC).")
	}
	t, ok := taggables[strings.ToLower(s)]
	if !ok {
		return taggable{}, ecserr.New(http.StatusNotFound, "InvalidResourceType.NotFound", "ResourceType %q is not supported; use securitygroup, instance, eni, prefixlist or keypair (ECS), vpc, vswitch or eip (VPC).", s)
	}
	return t, nil
}

// resourceIDs drops repeats and checks the count (at most
// MaxTagResourceIDs); required says whether at least one must be given.
// Repeats are found in a set: a scan of those kept for each ID cost a
// form of 10,000 IDs a third of a second of CPU.
func resourceIDs(given []string, required bool) ([]string, error) {
	var ids []string
	seen := make(map[string]struct{}, min(len(given), 2*MaxTagResourceIDs))
	for _, id := range given {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	if len(ids) > MaxTagResourceIDs {
		return nil, ecserr.BadRequest("NumberExceed.ResourceIds", "At most %d ResourceId.N are allowed in one call; %d were given.", MaxTagResourceIDs, len(ids))
	}
	if required && len(ids) == 0 {
		return nil, ecserr.MissingParameter("ResourceId.1")
	}
	return ids, nil
}

// loadResource loads one resource of the caller's account and region; any
// other is reported as not found.
func loadResource(tx store.ReadTx, c Caller, t taggable, id string) (*tagged, error) {
	key := id
	if t.key != nil {
		key = t.key(c, id)
	}
	rec, ok, err := tx.Get(t.Kind, key)
	if err != nil {
		return nil, err
	}
	if !ok || rec.Account != c.Account || rec.Region != c.Region {
		return nil, ecserr.New(http.StatusNotFound, "InvalidResourceId.NotFound", "The %s %q does not exist in this account and region.", t.Name, id)
	}
	return t.load(rec)
}

// TagInput names resources of one type and the tags to add to them.
type TagInput struct {
	Caller       Caller
	ResourceType string // securitygroup, instance, eni, prefixlist, vpc, vswitch or eip, any case
	ResourceIDs  []string
	Tags         []model.Tag
	Idempotency  `json:"-"`
}

// TagResources adds tags to resources, replacing the values of keys they
// already have. Every resource must exist; otherwise nothing changes.
func (s *Service) TagResources(ctx context.Context, in TagInput) error {
	check := func() error {
		if e := model.ValidateTags(in.Tags); e != nil {
			return e
		}
		if len(in.Tags) == 0 {
			return ecserr.New(http.StatusNotFound, "MissingParameter.Tags", "Give at least one tag as Tag.N.Key (and Tag.N.Value).")
		}
		return nil
	}
	return s.retag(ctx, in.Caller, "TagResources", in.ResourceType, in.ResourceIDs, in.Idempotency, in, check, addTags(in.Tags))
}

// addTags is the edit of TagResources and AddTags: tags set on top of a
// resource's own, within the quota of model.MaxTags.
func addTags(tags []model.Tag) func(taggable, *tagged) ([]model.Tag, error) {
	return func(t taggable, r *tagged) ([]model.Tag, error) {
		merged := model.MergeTags(r.Tags, tags)
		if len(merged) > model.MaxTags {
			return nil, ecserr.BadRequest("OperationDenied.QuotaExceed", "The %s %s would carry %d tags; a resource carries at most %d. Remove tags with UntagResources or RemoveTags first.", t.Name, r.ID, len(merged), model.MaxTags)
		}
		return merged, nil
	}
}

// UntagInput names resources of one type and the tag keys to remove.
type UntagInput struct {
	Caller       Caller
	ResourceType string
	ResourceIDs  []string
	TagKeys      []string // at most model.MaxTags
	All          bool     // remove every tag; only counts when TagKeys is empty, as in ECS
	Idempotency  `json:"-"`
}

// UntagResources removes tags from resources. Keys a resource does not
// carry are ignored.
func (s *Service) UntagResources(ctx context.Context, in UntagInput) error {
	keys := in.TagKeys
	check := func() error {
		if len(keys) > model.MaxTags {
			return ecserr.BadRequest("NumberExceed.Tags", "At most %d TagKey.N are allowed; %d were given.", model.MaxTags, len(keys))
		}
		return nil
	}
	all := len(keys) == 0 && in.All
	return s.retag(ctx, in.Caller, "UntagResources", in.ResourceType, in.ResourceIDs, in.Idempotency, in, check,
		removeTags(func(tg model.Tag) bool { return all || slices.Contains(keys, tg.Key) }))
}

// removeTags is the edit of UntagResources and RemoveTags: the tags that
// match taken off (nil, left as it is, when none does).
func removeTags(match func(model.Tag) bool) func(taggable, *tagged) ([]model.Tag, error) {
	return func(_ taggable, r *tagged) ([]model.Tag, error) {
		kept := slices.DeleteFunc(slices.Clone(r.Tags), match)
		if len(kept) == len(r.Tags) {
			return nil, nil // unchanged
		}
		return kept, nil
	}
}

// retag is TagResources and UntagResources: the resource type and IDs
// checked, then check, then in one write every resource loaded (all must
// exist) and given the tags edit returns (nil: left as it is).
func (s *Service) retag(ctx context.Context, c Caller, action, typ string, given []string, idem Idempotency, in any,
	check func() error, edit func(taggable, *tagged) ([]model.Tag, error)) error {
	t, err := resourceType(typ)
	if err != nil {
		return err
	}
	ids, err := resourceIDs(given, true)
	if err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	_, err = Update(s, ctx, c, action, idem, in, func(tx store.Tx) (struct{}, error) {
		for _, id := range ids {
			r, err := loadResource(tx, c, t, id)
			if err != nil {
				return struct{}{}, err
			}
			tags, err := edit(t, r)
			if err != nil {
				return struct{}{}, err
			}
			if tags == nil {
				continue
			}
			if err := r.save(tx, tags); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	return err
}

// ResourceTagsInput names one resource and tags: the input of ECS's older
// tag actions, AddTags and RemoveTags, which take one ResourceId.
type ResourceTagsInput struct {
	Caller       Caller
	ResourceType string // securitygroup, instance, eni, prefixlist, vpc, vswitch or eip, any case
	ResourceID   string
	Tags         []model.Tag // 1 to model.MaxTags for AddTags, at most that for RemoveTags
	Idempotency  `json:"-"`
}

// checkResourceTags checks what AddTags and RemoveTags share: a ResourceId,
// at most model.MaxTags tags (at least one when required), each valid. ECS
// answers a count out of range with InvalidTagCount in these actions.
func checkResourceTags(in ResourceTagsInput, required bool) error {
	if in.ResourceID == "" {
		return ecserr.MissingParameter("ResourceId")
	}
	if n := len(in.Tags); n > model.MaxTags || required && n == 0 {
		return ecserr.BadRequest("InvalidTagCount", "Give 1 to %d tags as Tag.N.Key (and Tag.N.Value); %d were given.", model.MaxTags, n)
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return e
	}
	return nil
}

// AddTags adds tags to one resource, replacing the values of keys it
// already has, as TagResources does.
func (s *Service) AddTags(ctx context.Context, in ResourceTagsInput) error {
	return s.retag(ctx, in.Caller, "AddTags", in.ResourceType, []string{in.ResourceID}, in.Idempotency, in,
		func() error { return checkResourceTags(in, true) }, addTags(in.Tags))
}

// RemoveTags removes from one resource the tags that match one of in.Tags
// (its key, and its value unless that is empty). Tags it does not carry
// are ignored; with no tags given nothing is removed, as UntagResources
// without TagKey.N and All.
func (s *Service) RemoveTags(ctx context.Context, in ResourceTagsInput) error {
	return s.retag(ctx, in.Caller, "RemoveTags", in.ResourceType, []string{in.ResourceID}, in.Idempotency, in,
		func() error { return checkResourceTags(in, false) },
		removeTags(func(tg model.Tag) bool { return tagMatchesAny(tg, in.Tags) }))
}

// TagFilter is a fuzzy tag filter: the key, and value prefixes of which one
// must match (none: any value).
type TagFilter struct {
	Key    string
	Values []string
}

func (f TagFilter) match(tags []model.Tag) bool {
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

// ListTagsInput selects the resources of one type whose tags to list: by
// ID, and by exact Tags or by fuzzy Filters (not both); at least one of the
// three.
type ListTagsInput struct {
	Caller       Caller
	ResourceType string
	ResourceIDs  []string
	Tags         []model.Tag // exact; an empty value matches any value; at most model.MaxTags
	Filters      []TagFilter // at most MaxTagFilters
	Page         Page
}

// TagRow is one tag of one resource.
type TagRow struct {
	ResourceID   string
	ResourceType string
	Key, Value   string
}

func (in *ListTagsInput) match(tags []model.Tag) bool {
	if !matchTags(tags, in.Tags) {
		return false
	}
	for _, f := range in.Filters {
		if !f.match(tags) {
			return false
		}
	}
	return true
}

// ListTagResources returns one page of the tags of the caller's resources
// of one type, one row per tag. IDs of resources the caller cannot
// see give no rows.
func (s *Service) ListTagResources(ctx context.Context, in ListTagsInput) (Listing[TagRow], error) {
	c := in.Caller
	t, err := resourceType(in.ResourceType)
	if err != nil {
		return Listing[TagRow]{}, err
	}
	ids, err := resourceIDs(in.ResourceIDs, false)
	if err != nil {
		return Listing[TagRow]{}, err
	}
	switch {
	case len(in.Tags) > model.MaxTags:
		return Listing[TagRow]{}, ecserr.BadRequest("NumberExceed.Tags", "At most %d Tag.N are allowed; %d were given.", model.MaxTags, len(in.Tags))
	case len(in.Filters) > MaxTagFilters:
		return Listing[TagRow]{}, ecserr.BadRequest("NumberExceed.TagFilters", "At most %d TagFilter.N are allowed; %d were given.", MaxTagFilters, len(in.Filters))
	case len(in.Tags) > 0 && len(in.Filters) > 0:
		return Listing[TagRow]{}, ecserr.BadRequest("InvalidParameter.TagFilterConflict", "Tag.N (exact) and TagFilter.N (fuzzy) cannot be combined; use one of them.")
	case len(ids) == 0 && len(in.Tags) == 0 && len(in.Filters) == 0:
		return Listing[TagRow]{}, ecserr.MissingParameter("ResourceId.N, Tag.N or TagFilter.N")
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[TagRow], error) {
		resources, err := taggedResources(tx, c, t, ids)
		if err != nil {
			return Listing[TagRow]{}, err
		}
		var rows []TagRow
		for _, r := range resources {
			if !in.match(r.Tags) {
				continue
			}
			for _, tg := range r.Tags {
				rows = append(rows, TagRow{ResourceID: r.ID, ResourceType: t.Name, Key: tg.Key, Value: tg.Value})
			}
		}
		return pageOf(rows, in.Page), nil
	})
}

// taggedResources loads the named resources of the caller (skipping those it
// cannot see), or with no IDs all its resources of the type in the region.
func taggedResources(tx store.ReadTx, c Caller, t taggable, ids []string) ([]*tagged, error) {
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

// DescribeTagsInput selects the tags DescribeTags counts: those of the
// caller's resources of the given types (or of the one named by
// ResourceID) that match one of Tags (none: every tag).
type DescribeTagsInput struct {
	Caller        Caller
	ResourceTypes []string    // at least one; as ResourceType, any case
	ResourceID    string      // optional; IDs the caller cannot see give no tags
	Tags          []model.Tag // a tag matches one when its key is the same and, unless empty, its value; at most model.MaxTags
	Page          Page
}

// TagCount is one tag (key and value) and how many resources of each type
// carry it.
type TagCount struct {
	Key, Value string
	Resources  map[string]int // by ResourceType as ECS spells it (lower case)
}

// DescribeTags returns one page of the distinct tags of the caller's
// resources in its region, in key and value order, each with the number of
// resources of each type that carry it.
func (s *Service) DescribeTags(ctx context.Context, in DescribeTagsInput) (Listing[TagCount], error) {
	c := in.Caller
	var types []taggable
	for _, name := range in.ResourceTypes {
		t, err := resourceType(name)
		if err != nil {
			return Listing[TagCount]{}, err
		}
		types = append(types, t)
	}
	if len(in.Tags) > model.MaxTags {
		return Listing[TagCount]{}, ecserr.BadRequest("InvalidTagCount", "At most %d Tag.N are allowed; %d were given.", model.MaxTags, len(in.Tags))
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return Listing[TagCount]{}, e
	}
	var ids []string
	if in.ResourceID != "" {
		ids = []string{in.ResourceID}
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[TagCount], error) {
		counts := map[model.Tag]map[string]int{}
		for _, t := range types {
			resources, err := taggedResources(tx, c, t, ids)
			if err != nil {
				return Listing[TagCount]{}, err
			}
			for _, r := range resources {
				for _, tg := range r.Tags {
					if len(in.Tags) > 0 && !tagMatchesAny(tg, in.Tags) {
						continue
					}
					if counts[tg] == nil {
						counts[tg] = map[string]int{}
					}
					counts[tg][t.Name]++
				}
			}
		}
		rows := make([]TagCount, 0, len(counts))
		for tg, n := range counts {
			rows = append(rows, TagCount{Key: tg.Key, Value: tg.Value, Resources: n})
		}
		slices.SortFunc(rows, func(a, b TagCount) int {
			return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Value, b.Value))
		})
		return pageOf(rows, in.Page), nil
	})
}
