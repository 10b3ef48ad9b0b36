package service

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Limits of the group queries.
const (
	MaxDescribeGroupIDs   = 100 // SecurityGroupIds of one DescribeSecurityGroups
	MaxReferenceQueries   = 10  // groups of one DescribeSecurityGroupReferences
	MaxReferencingRecords = 100 // referencing groups it returns in all
)

// GroupRef names a group of the caller, for the actions that take nothing
// else.
type GroupRef struct {
	Caller          Caller
	SecurityGroupID string
	Idempotency     `json:"-"`
}

// CreateGroupInput is a new security group.
type CreateGroupInput struct {
	Caller          Caller
	Name            string          // optional
	Description     string          // optional
	Type            model.GroupType // normal (default) or enterprise, any case
	VpcID           string          // required for enterprise; "" is the classic network
	ResourceGroupID string
	Tags            []model.Tag
	Idempotency     `json:"-"`
}

// CreateGroupResult names the group made.
type CreateGroupResult struct {
	SecurityGroupId string
}

// CreateSecurityGroup creates an empty group with its type's defaults
// (model.NewGroup): basic groups let their members reach each other,
// enterprise groups isolate them.
func (s *Service) CreateSecurityGroup(ctx context.Context, in CreateGroupInput) (CreateGroupResult, error) {
	c := in.Caller
	spec := model.GroupSpec{ID: model.NewID("sg"), Region: c.Region, Owner: c.Account, Name: in.Name,
		Description: in.Description, VpcID: in.VpcID, ResourceGroupID: in.ResourceGroupID, Created: s.Now()}
	if spec.Name != "" {
		if e := model.ValidateGroupName(spec.Name); e != nil {
			return CreateGroupResult{}, e
		}
	}
	if spec.Description != "" {
		if e := model.ValidateGroupDescription(spec.Description); e != nil {
			return CreateGroupResult{}, e
		}
	}
	if err := CheckResourceGroup(c, spec.ResourceGroupID); err != nil {
		return CreateGroupResult{}, err
	}
	var e *ecserr.Error
	if spec.Type, e = model.ParseGroupType(string(in.Type)); e != nil {
		return CreateGroupResult{}, e
	}
	g, e := model.NewGroup(spec)
	if e != nil {
		return CreateGroupResult{}, e
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return CreateGroupResult{}, e
	}
	g.Tags = in.Tags
	return Update(s, ctx, c, "CreateSecurityGroup", in.Idempotency, in, func(tx store.Tx) (CreateGroupResult, error) {
		if g.VpcID != "" {
			if _, err := getVPC(tx, c, g.VpcID); err != nil {
				return CreateGroupResult{}, err
			}
		}
		n, err := ownedBy(KindGroup, c).count(tx)
		if err != nil {
			return CreateGroupResult{}, err
		}
		q, err := s.quotasOf(tx, c.Account)
		if err != nil {
			return CreateGroupResult{}, err
		}
		if n >= q.SecurityGroups {
			return CreateGroupResult{}, ecserr.Forbidden("QuotaExceed.SecurityGroup", "The account already has %d security groups in %s and may hold %d. Delete unused groups first.", n, c.Region, q.SecurityGroups)
		}
		return CreateGroupResult{SecurityGroupId: g.ID}, PutGroup(tx, g)
	})
}

// DeleteSecurityGroup deletes a group and its rules, unless instances are
// still in it or another group's rule names it.
func (s *Service) DeleteSecurityGroup(ctx context.Context, in GroupRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DeleteSecurityGroup", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		g, err := GetGroup(tx, c, in.SecurityGroupID)
		if err != nil {
			return struct{}{}, err
		}
		ms, err := members(tx, c, g.ID)
		if err != nil {
			return struct{}{}, err
		}
		if len(ms) > 0 {
			return struct{}{}, ecserr.Forbidden("DependencyViolation", "There is still instance(s) in the specified security group: %s is used by %s. Move the instances to other groups first.", g.ID, ms[0].ID)
		}
		refs, err := referencing(tx, g.Region, g.ID)
		if err != nil {
			return struct{}{}, err
		}
		for _, r := range refs {
			if r.ID != g.ID {
				return struct{}{}, ecserr.Forbidden("DependencyViolation", "The specified security group has been authorized in another one: a rule of %s names %s. Revoke that rule first (DescribeSecurityGroupReferences lists them).", r.ID, g.ID)
			}
		}
		return struct{}{}, tx.Delete(KindGroup, g.ID)
	})
	return err
}

// referencing returns the groups of any account in the region with a rule
// whose peer is the group.
func referencing(tx store.ReadTx, region, id string) ([]*model.SecurityGroup, error) {
	all, err := list[model.SecurityGroup](tx, KindGroup, Caller{Region: region})
	if err != nil {
		return nil, err
	}
	var out []*model.SecurityGroup
	for _, g := range all {
		if slices.ContainsFunc(g.Rules, func(r model.Rule) bool { return r.Peer.GroupID == id }) {
			out = append(out, g)
		}
	}
	return out, nil
}

// DescribeGroupsInput filters the caller's groups; zero fields do not filter.
type DescribeGroupsInput struct {
	Caller          Caller
	IDs             []string // at most MaxDescribeGroupIDs
	Name            string
	Type            model.GroupType // any case
	VpcID           string
	NetworkType     string // vpc or classic, any case
	ResourceGroupID string
	ServiceManaged  bool // Palisade has no service-managed groups: matches none
	Tags            []model.Tag
	DryRun          bool // validate only: answers DryRunOperation
	Page            Page
}

// GroupSummary is a group as listed, with its counts.
type GroupSummary struct {
	// Group may be the view's shared value: read only.
	Group     *model.SecurityGroup
	Members   int // instances in the group
	RuleCount int // its weight against the rule quota
	PeerRules int // its rules whose peer is a group (GroupPeerRules)
	// AvailableInstanceAmount is how many more instances may join.
	AvailableInstanceAmount int
	// Memo is the group record's (nil when it was not read from the
	// view): an adapter memoises there what it derives from Group alone,
	// such as its answer's item, once per revision of the group.
	Memo *store.Memo
}

// groupCounts are the counts of a group that depend on it alone.
type groupCounts struct {
	peers int  // GroupPeerRules
	lists bool // a rule names a list: its weight is the list's, read per call
}

// groupCountsKey memoises groupCounts on a group's record.
type groupCountsKey struct{}

// summarize is a group's listing entry with n members; what depends on the
// group alone is counted once per revision of its record (memo, which may
// be nil: counted now).
func summarize(g *model.SecurityGroup, memo *store.Memo, n int, pls model.Lists) GroupSummary {
	c := memo.Get(groupCountsKey{}, func() any {
		c := groupCounts{peers: g.GroupPeerRules()}
		for i := range g.Rules {
			c.lists = c.lists || g.Rules[i].NamesList()
		}
		return c
	}).(groupCounts)
	rules := len(g.Rules) // each weighs 1 (model.Weight)
	if c.lists {
		rules = model.RuleCount(g, pls)
	}
	return GroupSummary{Group: g, Members: n, RuleCount: rules, PeerRules: c.peers,
		AvailableInstanceAmount: model.MemberLimit(g.Type) - n, Memo: memo}
}

// DescribeSecurityGroups returns one page of the caller's groups, newest ID
// first as ECS lists them.
func (s *Service) DescribeSecurityGroups(ctx context.Context, in DescribeGroupsInput) (Listing[GroupSummary], error) {
	c := in.Caller
	if len(in.IDs) > MaxDescribeGroupIDs {
		return Listing[GroupSummary]{}, ecserr.BadRequest("InvalidSecurityGroupIds.Malformed", "SecurityGroupIds takes at most %d IDs.", MaxDescribeGroupIDs)
	}
	var typ model.GroupType
	if in.Type != "" {
		var e *ecserr.Error
		if typ, e = model.ParseGroupType(string(in.Type)); e != nil {
			return Listing[GroupSummary]{}, e
		}
	}
	network := strings.ToLower(in.NetworkType)
	if network != "" && network != "vpc" && network != "classic" {
		return Listing[GroupSummary]{}, ecserr.BadRequest("InvalidNetworkType.ValueNotSupported", "NetworkType must be vpc or classic.")
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return Listing[GroupSummary]{}, e
	}
	if in.DryRun {
		return Listing[GroupSummary]{}, ecserr.BadRequest("DryRunOperation", "Request validation has been passed with DryRun flag set.")
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[GroupSummary], error) {
		unfiltered := len(in.IDs) == 0 && in.Name == "" && typ == "" && in.VpcID == "" && network == "" &&
			in.ResourceGroupID == "" && !in.ServiceManaged && len(in.Tags) == 0
		if snap, ok := tx.(*view.Snapshot); ok {
			if unfiltered {
				return groupPage(snap, c, in.Page), nil
			}
			if c.Region != "" { // the scoped indexes name a region
				return groupsIndexed(snap, c, in, typ, network), nil
			}
		}
		all, err := list[model.SecurityGroup](tx, KindGroup, c)
		if err != nil {
			return Listing[GroupSummary]{}, err
		}
		insts, err := list[model.Instance](tx, KindInstance, c)
		if err != nil {
			return Listing[GroupSummary]{}, err
		}
		count := map[string]int{}
		if err := countENIMembers(tx, c, count); err != nil { // secondary ENIs are members too
			return Listing[GroupSummary]{}, err
		}
		for _, inst := range insts {
			for _, id := range inst.SecurityGroups {
				count[id]++
			}
		}
		pls := listsOf(tx)
		var items []GroupSummary
		for _, g := range all {
			if !in.matches(g, typ, network) {
				continue
			}
			items = append(items, summarize(g, nil, count[g.ID], pls))
		}
		slices.SortFunc(items, func(a, b GroupSummary) int { return cmp.Compare(b.Group.ID, a.Group.ID) })
		return pageBy(items, in.Page, func(g GroupSummary) string { return groupKey(g.Group.ID) }), nil
	})
}

// groupPage is DescribeSecurityGroups without filters, from the view's
// indexes: the page is cut from the sorted IDs and only its groups are
// read and counted, so its cost does not grow with the region.
// matches says whether a group passes the filters of a
// DescribeSecurityGroups request (typ and network as parsed from it), on
// the scan and on the index path alike.
func (in DescribeGroupsInput) matches(g *model.SecurityGroup, typ model.GroupType, network string) bool {
	switch {
	case len(in.IDs) > 0 && !slices.Contains(in.IDs, g.ID),
		in.Name != "" && g.Name != in.Name,
		typ != "" && g.Type != typ,
		in.VpcID != "" && g.VpcID != in.VpcID,
		network == "vpc" && g.Classic(), network == "classic" && !g.Classic(),
		// The account's one resource group holds every group (JoinResourceGroup).
		in.ResourceGroupID != "" && in.ResourceGroupID != ResourceGroupID(g.Owner),
		in.ServiceManaged,
		!matchTags(g.Tags, in.Tags):
		return false
	}
	return true
}

func groupPage(snap *view.Snapshot, c Caller, pg Page) Listing[GroupSummary] {
	ids := snap.IDs(KindGroup, store.Query{Account: c.Account, Region: c.Region})
	out := Listing[GroupSummary]{Total: len(ids), Items: []GroupSummary{}}
	start, end := highestFirst(ids, pg, &out.NextToken)
	sum := summarizer(snap)
	out.Items = make([]GroupSummary, 0, end-start)
	for k := start; k < end; k++ {
		out.Items = append(out.Items, sum(snap.Record(KindGroup, ids[len(ids)-1-k]))) // newest ID first
	}
	return out
}

// highestFirst cuts the page pg out of ids (ascending) listed from the
// highest ID down, as groups are: the page runs from start to end in that
// order; next is set to the next page's token. A cursor resumes below its
// ID, found in the index (the cost of a page does not grow with it).
func highestFirst(ids []string, pg Page, next *string) (start, end int) {
	start = pg.Offset
	if pg.Tokens && pg.After != "" {
		if id := ascendingOf(pg.After); id != "" {
			start = len(ids) - sort.SearchStrings(ids, id) // those at or above it were listed
		}
	}
	if start >= len(ids) {
		return 0, 0
	}
	end = min(start+pg.Size, len(ids))
	if pg.Tokens && end < len(ids) {
		*next = cursorToken(end, groupKey(ids[len(ids)-end]))
	}
	return start, end
}

// groupKey is the order key of a group in DescribeSecurityGroups: the
// newest (highest) ID first.
func groupKey(id string) string { return descending(id) }

// summarizer returns the listing entry of a group record of snap.
func summarizer(snap *view.Snapshot) func(r *store.Record) GroupSummary {
	pls := listsOf(snap)
	insts, enis := snap.Index(KindInstance, byGroup), snap.Index(KindENI, byGroup)
	return func(r *store.Record) GroupSummary {
		// An instance or ENI joins only groups of its own account and
		// region (setGroups), so every member counts; a secondary ENI
		// counts whether attached or not (eniMembers).
		return summarize(r.Object.(*model.SecurityGroup), r.Memo, len(insts[r.ID])+len(enis[r.ID]), pls)
	}
}

// groupsIndexed is DescribeSecurityGroups with filters, from the view's
// indexes: the candidates are the narrowest of what the ID, name, VPC and
// tag filters select, so the cost grows with them, not with the region;
// and with one filter an index answers exactly (name, VPC, one tag), the
// page is cut from it directly, as groupPage does.
func groupsIndexed(snap *view.Snapshot, c Caller, in DescribeGroupsInput, typ model.GroupType, network string) Listing[GroupSummary] {
	var cand candidates
	filters := 0
	if len(in.IDs) > 0 {
		filters++
		cand.narrow(uniqSorted(in.IDs))
	}
	if in.Name != "" {
		filters++
		cand.narrow(snap.Indexed(KindGroup, byName, scoped(c.Account, c.Region, in.Name)))
	}
	if in.VpcID != "" {
		filters++
		cand.narrow(snap.Indexed(KindGroup, byVPC, scoped(c.Account, c.Region, in.VpcID)))
	}
	for _, t := range in.Tags {
		filters++
		cand.narrow(snap.Indexed(KindGroup, byTag, tagKey(c.Account, c.Region, t)))
	}
	if typ != "" || network != "" || in.ResourceGroupID != "" || in.ServiceManaged {
		filters++
	}
	ids := cand.ids
	if !cand.set {
		ids = snap.IDs(KindGroup, store.Query{Account: c.Account, Region: c.Region})
	}
	sum := summarizer(snap)
	mine := func(id string) *store.Record {
		r := snap.Record(KindGroup, id)
		if r == nil || r.Account != c.Account || c.Region != "" && r.Region != c.Region {
			return nil
		}
		return r
	}
	if filters == 1 && cand.set && len(in.IDs) == 0 && !(len(in.Tags) == 1 && in.Tags[0].Key == "") {
		// One name, VPC or tag filter: the index lists exactly the
		// matches (of this account and region: the keys are scoped).
		out := Listing[GroupSummary]{Total: len(ids), Items: []GroupSummary{}}
		start, end := highestFirst(ids, in.Page, &out.NextToken)
		out.Items = make([]GroupSummary, 0, end-start)
		for k := start; k < end; k++ {
			if r := mine(ids[len(ids)-1-k]); r != nil {
				out.Items = append(out.Items, sum(r))
			}
		}
		return out
	}
	var matched []*store.Record
	for k := len(ids) - 1; k >= 0; k-- { // newest ID first
		r := mine(ids[k])
		if r == nil || !in.matches(r.Object.(*model.SecurityGroup), typ, network) {
			continue
		}
		matched = append(matched, r)
	}
	page, next := paginateBy(matched, in.Page, func(r *store.Record) string { return groupKey(r.ID) })
	out := Listing[GroupSummary]{Total: len(matched), NextToken: next, Items: make([]GroupSummary, 0, len(page))}
	for _, r := range page {
		out.Items = append(out.Items, sum(r))
	}
	return out
}

// GroupAttributeInput selects a group's rules.
type GroupAttributeInput struct {
	Caller          Caller
	SecurityGroupID string
	Direction       string // ingress, egress or all (""), any case
	// NicType is intranet or internet, any case. A classic group keeps the
	// two apart and shows one set: internet when "". VPC rules are intranet.
	NicType string
	// BothNicTypes shows a classic group's two sets together, NicType
	// aside (the console's pages: each rule names its set).
	BothNicTypes bool
	Page         Page
	// ReadOnly: the caller only reads the answer's Group, which may then
	// be the view's shared value, with its record's Memo.
	ReadOnly bool
}

// RuleView is a rule with the names of what it refers to.
type RuleView struct {
	model.Rule
	Index          int    // the rule's position in its group's Rules
	PeerGroupName  string // the peer group's name, when the peer is a group
	PrefixListName string // the prefix list's name, when the peer is one
	// PortRangeListName is the rule's port range list's name, if it has one.
	PortRangeListName string
}

// GroupAttribute is a group with one page of its rules.
type GroupAttribute struct {
	Group     *model.SecurityGroup
	Rules     []RuleView
	NextToken string
	// Memo is the group record's when Group is the view's shared value
	// (ReadOnly), else nil: an adapter memoises there what it derives from
	// Group alone, once per revision of the group.
	Memo *store.Memo
}

// DescribeSecurityGroupAttribute returns a group with its rules, ordered by
// direction, priority (drop first at a tie) and creation.
func (s *Service) DescribeSecurityGroupAttribute(ctx context.Context, in GroupAttributeInput) (GroupAttribute, error) {
	c := in.Caller
	dir := strings.ToLower(in.Direction)
	if dir != "" && dir != "all" && dir != "ingress" && dir != "egress" {
		return GroupAttribute{}, ecserr.BadRequest("InvalidParamter", "Direction must be ingress, egress or all.")
	}
	nic := strings.ToLower(in.NicType)
	if nic == "<nil>" {
		// Terraform's alicloud_security_group_rule without nic_type
		// reads its rule back with the NicType of its ID, "<nil>" (Go's
		// %v of an absent value): ECS reads that as no NicType, and the
		// provider otherwise waits 10 minutes for a rule it never finds.
		nic = ""
	}
	if nic != "" && nic != "intranet" && nic != "internet" {
		return GroupAttribute{}, ecserr.BadRequest("InvalidNicType.ValueNotSupported", "NicType must be intranet or internet.")
	}
	return View(s, ctx, func(tx store.ReadTx) (GroupAttribute, error) {
		var out GroupAttribute
		if in.ReadOnly {
			if r := sharedGroupRecord(tx, c, in.SecurityGroupID); r != nil {
				out.Group, out.Memo = r.Object.(*model.SecurityGroup), r.Memo
			}
		}
		if out.Group == nil {
			g, err := GetGroup(tx, c, in.SecurityGroupID)
			if err != nil {
				return GroupAttribute{}, err
			}
			out.Group = g
		}
		g := out.Group
		if g.Classic() && nic == "" {
			nic = string(model.Internet)
		}
		// The page is cut from the matching rules as they are found: only
		// its rules are viewed (their names looked up), none is copied
		// twice, and the order is sorted once per revision of the group.
		order := ruleOrder(g, out.Memo)
		out.Rules = make([]RuleView, 0, max(0, min(in.Page.Size, len(order)-in.Page.Offset)))
		names, lists := groupNames(tx, g.Owner), listsOf(tx) // both look up lazily, each ID once
		k, end := 0, in.Page.Offset+in.Page.Size
		for _, i := range order {
			r := &g.Rules[i]
			if dir != "" && dir != "all" && string(r.Direction) != dir || g.Classic() && !in.BothNicTypes && string(r.NicType) != nic {
				continue
			}
			if k == end {
				if in.Page.Tokens { // a match after the page
					out.NextToken = strconv.Itoa(end)
				}
				break
			}
			if k++; k <= in.Page.Offset {
				continue
			}
			v := RuleView{Rule: *r, Index: int(i)}
			// Another account's group is shown by ID and owner only: its
			// name is that tenant's data.
			if r.Peer.GroupID != "" && (r.Peer.GroupOwner == "" || r.Peer.GroupOwner == g.Owner) {
				v.PeerGroupName = names(r.Peer.GroupID)
			}
			if id := r.Peer.PrefixListID; id != "" {
				if pl := lists.Prefix(id); pl != nil {
					v.PrefixListName = pl.Name
				}
			}
			if id := r.PortRangeListID; id != "" {
				if l := lists.Ports(id); l != nil {
					v.PortRangeListName = l.Name
				}
			}
			out.Rules = append(out.Rules, v)
		}
		return out, nil
	})
}

// ruleOrderKey memoises ruleOrder on a group's record.
type ruleOrderKey struct{}

// ruleOrder is the positions of g's rules in compareRules' order, computed
// once per revision of the group's record (memo; nil: now).
func ruleOrder(g *model.SecurityGroup, memo *store.Memo) []int32 {
	return memo.Get(ruleOrderKey{}, func() any {
		order := make([]int32, len(g.Rules))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortStableFunc(order, func(a, b int32) int { return compareRules(&g.Rules[a], &g.Rules[b]) })
		return order
	}).([]int32)
}

// compareRules orders rules as they are evaluated within one group.
func compareRules(a, b *model.Rule) int {
	if a.Direction != b.Direction {
		return strings.Compare(string(b.Direction), string(a.Direction)) // ingress first
	}
	if c := policy.CompareRules(a, b); c != 0 {
		return c
	}
	return a.Created.Compare(b.Created)
}

// groupNames looks up the names of account's groups lazily, each once;
// another account's group has none here. A rule that names a group
// without its owner (imported, or stored before owners were) may still
// name another account's: its name is that tenant's data.
func groupNames(tx store.ReadTx, account string) func(string) string {
	groups := lookupOnce[model.SecurityGroup](tx, KindGroup)
	return func(id string) string {
		if g := groups(id); g != nil && g.Owner == account {
			return g.Name
		}
		return ""
	}
}

// ModifyGroupInput changes a group's name or description; nil leaves a
// field as it is.
type ModifyGroupInput struct {
	Caller          Caller
	SecurityGroupID string
	Name            *string
	Description     *string
	Idempotency     `json:"-"`
}

// ModifySecurityGroupAttribute renames a group or changes its description.
func (s *Service) ModifySecurityGroupAttribute(ctx context.Context, in ModifyGroupInput) error {
	c := in.Caller
	if in.Name != nil {
		if e := model.ValidateGroupName(*in.Name); e != nil {
			return e
		}
	}
	if in.Description != nil {
		if e := model.ValidateGroupDescription(*in.Description); e != nil {
			return e
		}
	}
	_, err := Update(s, ctx, c, "ModifySecurityGroupAttribute", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		g, err := GetGroup(tx, c, in.SecurityGroupID)
		if err != nil {
			return struct{}{}, err
		}
		if in.Name != nil {
			g.Name = *in.Name
		}
		if in.Description != nil {
			g.Description = *in.Description
		}
		return struct{}{}, PutGroup(tx, g)
	})
	return err
}

// GroupPolicyInput sets a basic group's InnerAccessPolicy.
type GroupPolicyInput struct {
	Caller            Caller
	SecurityGroupID   string
	InnerAccessPolicy string // Accept or Drop, any case
	Idempotency       `json:"-"`
}

// ModifySecurityGroupPolicy sets a basic group's InnerAccessPolicy
// (model.SetInnerAccessPolicy: an enterprise group's cannot change).
func (s *Service) ModifySecurityGroupPolicy(ctx context.Context, in GroupPolicyInput) error {
	c := in.Caller
	if in.InnerAccessPolicy == "" {
		return ecserr.MissingParameter("InnerAccessPolicy")
	}
	pol, e := model.ParseInnerAccessPolicy(in.InnerAccessPolicy)
	if e != nil {
		return e
	}
	_, err := Update(s, ctx, c, "ModifySecurityGroupPolicy", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		g, err := GetGroup(tx, c, in.SecurityGroupID)
		if err != nil {
			return struct{}{}, err
		}
		if e := model.SetInnerAccessPolicy(g, pol); e != nil {
			return struct{}{}, e
		}
		return struct{}{}, PutGroup(tx, g)
	})
	return err
}

// GroupReferences are the groups whose rules name one group.
type GroupReferences struct {
	SecurityGroupID string
	Referencing     []GroupOwner
}

// GroupOwner is a group of any account.
type GroupOwner struct {
	SecurityGroupID string
	Owner           string // the account UID
}

// DescribeSecurityGroupReferences lists, for 1 to MaxReferenceQueries of
// the caller's groups, the groups of any account whose rules name them
// (MaxReferencingRecords in all).
func (s *Service) DescribeSecurityGroupReferences(ctx context.Context, c Caller, ids []string) ([]GroupReferences, error) {
	if len(ids) == 0 || len(ids) > MaxReferenceQueries {
		return nil, ecserr.BadRequest("InvalidSecurityGroupId.Malformed", "Give 1 to %d security group IDs as SecurityGroupId.N.", MaxReferenceQueries)
	}
	return View(s, ctx, func(tx store.ReadTx) ([]GroupReferences, error) {
		var out []GroupReferences
		records := 0
		for _, id := range ids {
			g, err := GetGroup(tx, c, id)
			if err != nil {
				return nil, err
			}
			refs, err := referencing(tx, g.Region, g.ID)
			if err != nil {
				return nil, err
			}
			ref := GroupReferences{SecurityGroupID: g.ID}
			for _, r := range refs {
				if r.ID != g.ID && records < MaxReferencingRecords {
					ref.Referencing = append(ref.Referencing, GroupOwner{SecurityGroupID: r.ID, Owner: r.Owner})
					records++
				}
			}
			out = append(out, ref)
		}
		return out, nil
	})
}
