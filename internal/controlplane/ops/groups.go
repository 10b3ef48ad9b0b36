package ops

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

func (s *Service) groupActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateSecurityGroup":             s.CreateSecurityGroup,
		"DeleteSecurityGroup":             s.DeleteSecurityGroup,
		"DescribeSecurityGroups":          s.DescribeSecurityGroups,
		"DescribeSecurityGroupAttribute":  s.DescribeSecurityGroupAttribute,
		"ModifySecurityGroupAttribute":    s.ModifySecurityGroupAttribute,
		"ModifySecurityGroupPolicy":       s.ModifySecurityGroupPolicy,
		"DescribeSecurityGroupReferences": s.DescribeSecurityGroupReferences,
	}
}

type createSecurityGroupResponse struct {
	rpc.Base
	SecurityGroupId string
}

// CreateSecurityGroup creates an empty group: basic groups let their members
// reach each other, enterprise groups isolate them.
func (s *Service) CreateSecurityGroup(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	spec := model.GroupSpec{ID: model.NewID("sg"), Region: c.Region, Owner: c.Account, Name: p.Get("SecurityGroupName"),
		Description: p.Get("Description"), VpcID: p.Get("VpcId"), ResourceGroupID: p.Get("ResourceGroupId"), Created: s.Now()}
	if spec.Name != "" {
		if e := model.ValidateGroupName(spec.Name); e != nil {
			return nil, e
		}
	}
	if spec.Description != "" {
		if e := model.ValidateGroupDescription(spec.Description); e != nil {
			return nil, e
		}
	}
	var e *ecserr.Error
	if spec.Type, e = model.ParseGroupType(p.Get("SecurityGroupType")); e != nil {
		return nil, e
	}
	g, e := model.NewGroup(spec)
	if e != nil {
		return nil, e
	}
	if g.Tags, err = tagsFromParams(p); err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*createSecurityGroupResponse, error) {
		if g.VpcID != "" {
			if _, err := getVPC(tx, c, g.VpcID); err != nil {
				return nil, err
			}
		}
		existing, err := tx.List(KindGroup, store.Query{Account: c.Account, Region: c.Region})
		if err != nil {
			return nil, err
		}
		if len(existing) >= model.MaxGroupsPerRegion {
			return nil, ecserr.Forbidden("QuotaExceed.SecurityGroup", "The account already has %d security groups in %s, the quota. Delete unused groups first.", len(existing), c.Region)
		}
		return &createSecurityGroupResponse{SecurityGroupId: g.ID}, putGroup(tx, g)
	})
}

// DeleteSecurityGroup deletes a group and its rules, unless instances are
// still in it or another group's rule names it.
func (s *Service) DeleteSecurityGroup(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		g, err := getGroup(tx, c, req.Params.Get("SecurityGroupId"))
		if err != nil {
			return nil, err
		}
		ms, err := members(tx, c, g.ID)
		if err != nil {
			return nil, err
		}
		if len(ms) > 0 {
			return nil, ecserr.Forbidden("DependencyViolation", "There is still instance(s) in the specified security group: %s is used by %s. Move the instances to other groups first.", g.ID, ms[0].ID)
		}
		refs, err := referencing(tx, g.Region, g.ID)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if r.ID != g.ID {
				return nil, ecserr.Forbidden("DependencyViolation", "The specified security group has been authorized in another one: a rule of %s names %s. Revoke that rule first (DescribeSecurityGroupReferences lists them).", r.ID, g.ID)
			}
		}
		return &rpc.Base{}, tx.Delete(KindGroup, g.ID)
	})
}

// referencing returns the groups of any account in the region with a rule
// whose peer is the group.
func referencing(tx store.ReadTx, region, id string) ([]*model.SecurityGroup, error) {
	all, err := list[model.SecurityGroup](tx, KindGroup, caller{Region: region})
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

type securityGroupItem struct {
	SecurityGroupId         string
	SecurityGroupName       string
	Description             string
	SecurityGroupType       string
	VpcId                   string
	CreationTime            string
	ResourceGroupId         string
	ServiceManaged          bool
	ServiceID               int64
	RuleCount               int
	GroupToGroupRuleCount   int
	EcsCount                int
	AvailableInstanceAmount int
	Tags                    tagSet
}

type describeSecurityGroupsResponse struct {
	rpc.Base
	RegionId       string
	NextToken      string
	TotalCount     int `json:",omitempty" xml:",omitempty"`
	PageNumber     int `json:",omitempty" xml:",omitempty"`
	PageSize       int `json:",omitempty" xml:",omitempty"`
	SecurityGroups struct{ SecurityGroup []securityGroupItem }
}

// DescribeSecurityGroups lists groups, newest ID first as ECS does.
func (s *Service) DescribeSecurityGroups(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := parsePage(p, 10, 50, 10, 100)
	if err != nil {
		return nil, err
	}
	ids, e := p.JSONList("SecurityGroupIds")
	if e != nil {
		return nil, e
	}
	if len(ids) > 100 {
		return nil, ecserr.BadRequest("InvalidSecurityGroupIds.Malformed", "SecurityGroupIds takes at most 100 IDs.")
	}
	if id := p.Get("SecurityGroupId"); id != "" {
		ids = append(ids, id)
	}
	var typ model.GroupType
	if p.Has("SecurityGroupType") {
		var e *ecserr.Error
		if typ, e = model.ParseGroupType(p.Get("SecurityGroupType")); e != nil {
			return nil, e
		}
	}
	network := strings.ToLower(p.Get("NetworkType"))
	if network != "" && network != "vpc" && network != "classic" {
		return nil, ecserr.BadRequest("InvalidNetworkType.ValueNotSupported", "NetworkType must be vpc or classic.")
	}
	tags, err := tagsFromParams(p)
	if err != nil {
		return nil, err
	}
	if p.Get("DryRun") == "true" {
		return nil, ecserr.BadRequest("DryRunOperation", "Request validation has been passed with DryRun flag set.")
	}
	return view(s, ctx, func(tx store.ReadTx) (*describeSecurityGroupsResponse, error) {
		all, err := list[model.SecurityGroup](tx, KindGroup, c)
		if err != nil {
			return nil, err
		}
		insts, err := list[model.Instance](tx, KindInstance, c)
		if err != nil {
			return nil, err
		}
		count := map[string]int{}
		for _, in := range insts {
			for _, id := range in.SecurityGroups {
				count[id]++
			}
		}
		pls := prefixListsOf(tx, c)
		var items []securityGroupItem
		for _, g := range all {
			switch {
			case len(ids) > 0 && !slices.Contains(ids, g.ID),
				p.Has("SecurityGroupName") && g.Name != p.Get("SecurityGroupName"),
				typ != "" && g.Type != typ,
				p.Has("VpcId") && g.VpcID != p.Get("VpcId"),
				network == "vpc" && g.Classic(), network == "classic" && !g.Classic(),
				p.Has("ResourceGroupId") && g.ResourceGroupID != p.Get("ResourceGroupId"),
				p.Get("ServiceManaged") == "true",
				!matchTags(g.Tags, tags):
				continue
			}
			items = append(items, groupItem(g, count[g.ID], pls))
		}
		slices.SortFunc(items, func(a, b securityGroupItem) int { return cmp.Compare(b.SecurityGroupId, a.SecurityGroupId) })
		out := &describeSecurityGroupsResponse{RegionId: c.Region}
		out.SecurityGroups.SecurityGroup, out.NextToken = paginate(items, pg)
		if !pg.Tokens {
			out.TotalCount, out.PageNumber, out.PageSize = len(items), pg.Number, pg.Size
		}
		return out, nil
	})
}

func groupItem(g *model.SecurityGroup, n int, pls func(string) *model.PrefixList) securityGroupItem {
	limit := model.MemberLimit(g.Type)
	return securityGroupItem{SecurityGroupId: g.ID, SecurityGroupName: g.Name, Description: g.Description,
		SecurityGroupType: string(g.Type), VpcId: g.VpcID, CreationTime: timeText(g.Created), ResourceGroupId: g.ResourceGroupID,
		RuleCount: model.RuleCount(g, pls), GroupToGroupRuleCount: g.GroupPeerRules(), EcsCount: n,
		AvailableInstanceAmount: limit - n, Tags: tagsOut(g.Tags)}
}

type describeSecurityGroupAttributeResponse struct {
	rpc.Base
	RegionId          string
	SecurityGroupId   string
	SecurityGroupName string
	Description       string
	VpcId             string
	InnerAccessPolicy string
	NextToken         string
	Permissions       struct{ Permission []permissionItem }
}

// DescribeSecurityGroupAttribute returns a group with its rules, ordered by
// direction, priority (drop first at a tie) and creation.
func (s *Service) DescribeSecurityGroupAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	dir := strings.ToLower(p.Get("Direction"))
	if dir != "" && dir != "all" && dir != "ingress" && dir != "egress" {
		return nil, ecserr.BadRequest("InvalidParamter", "Direction must be ingress, egress or all.")
	}
	nic := strings.ToLower(p.Get("NicType"))
	if nic != "" && nic != "intranet" && nic != "internet" {
		return nil, ecserr.BadRequest("InvalidNicType.ValueNotSupported", "NicType must be intranet or internet.")
	}
	pg := page{Tokens: true, Size: 500}
	if p.Has("MaxResults") || p.Has("NextToken") {
		if pg, err = parsePage(p, 500, 1000, 500, 1000); err != nil {
			return nil, err
		}
		if pg.Size < 10 {
			return nil, ecserr.BadRequest("InvalidParameter.MaxResults", "MaxResults must be from 10 to 1000.")
		}
	}
	return view(s, ctx, func(tx store.ReadTx) (*describeSecurityGroupAttributeResponse, error) {
		g, err := getGroup(tx, c, p.Get("SecurityGroupId"))
		if err != nil {
			return nil, err
		}
		// Classic groups keep internet and intranet rules apart; one call
		// shows one set (internet by default). VPC rules are all intranet.
		if g.Classic() && nic == "" {
			nic = string(model.Internet)
		}
		rules := sortedRules(g.Rules)
		var items []permissionItem
		names, pls := groupNames(tx), prefixListsOf(tx, c)
		for i := range rules {
			r := &rules[i]
			if dir != "" && dir != "all" && string(r.Direction) != dir || g.Classic() && string(r.NicType) != nic {
				continue
			}
			items = append(items, permission(r, names, pls))
		}
		out := &describeSecurityGroupAttributeResponse{RegionId: c.Region, SecurityGroupId: g.ID, SecurityGroupName: g.Name,
			Description: g.Description, VpcId: g.VpcID, InnerAccessPolicy: g.InnerAccessPolicy}
		out.Permissions.Permission, out.NextToken = paginate(items, pg)
		return out, nil
	})
}

// sortedRules orders rules as they are evaluated within one group.
func sortedRules(rules []model.Rule) []model.Rule {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b model.Rule) int {
		if a.Direction != b.Direction {
			return strings.Compare(string(b.Direction), string(a.Direction)) // ingress first
		}
		if c := policy.CompareRules(&a, &b); c != 0 {
			return c
		}
		return a.Created.Compare(b.Created)
	})
	return out
}

// groupNames looks up group names lazily (peers may be other accounts').
func groupNames(tx store.ReadTx) func(string) string {
	cache := map[string]string{}
	return func(id string) string {
		if n, ok := cache[id]; ok {
			return n
		}
		g, _, _ := store.GetAs[model.SecurityGroup](tx, KindGroup, id)
		cache[id] = g.Name
		return g.Name
	}
}

// ModifySecurityGroupAttribute renames a group or changes its description.
func (s *Service) ModifySecurityGroupAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	if p.Has("SecurityGroupName") {
		if e := model.ValidateGroupName(p.Get("SecurityGroupName")); e != nil {
			return nil, e
		}
	}
	if p.Has("Description") {
		if e := model.ValidateGroupDescription(p.Get("Description")); e != nil {
			return nil, e
		}
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		g, err := getGroup(tx, c, p.Get("SecurityGroupId"))
		if err != nil {
			return nil, err
		}
		if p.Has("SecurityGroupName") {
			g.Name = p.Get("SecurityGroupName")
		}
		if p.Has("Description") {
			g.Description = p.Get("Description")
		}
		return &rpc.Base{}, putGroup(tx, g)
	})
}

// ModifySecurityGroupPolicy sets a basic group's InnerAccessPolicy.
func (s *Service) ModifySecurityGroupPolicy(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if !req.Params.Has("InnerAccessPolicy") {
		return nil, ecserr.MissingParameter("InnerAccessPolicy")
	}
	pol, e := model.ParseInnerAccessPolicy(req.Params.Get("InnerAccessPolicy"))
	if e != nil {
		return nil, e
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		g, err := getGroup(tx, c, req.Params.Get("SecurityGroupId"))
		if err != nil {
			return nil, err
		}
		if e := model.SetInnerAccessPolicy(g, pol); e != nil {
			return nil, e
		}
		return &rpc.Base{}, putGroup(tx, g)
	})
}

type describeSecurityGroupReferencesResponse struct {
	rpc.Base
	SecurityGroupReferences struct {
		SecurityGroupReference []securityGroupReference
	}
}

type securityGroupReference struct {
	SecurityGroupId           string
	ReferencingSecurityGroups struct {
		ReferencingSecurityGroup []referencingSecurityGroup
	}
}

type referencingSecurityGroup struct {
	SecurityGroupId string
	AliUid          string
}

// DescribeSecurityGroupReferences lists, for up to 10 groups, the groups of
// any account whose rules name them.
func (s *Service) DescribeSecurityGroupReferences(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	ids := req.Params.List("SecurityGroupId")
	if len(ids) == 0 || len(ids) > 10 {
		return nil, ecserr.BadRequest("InvalidSecurityGroupId.Malformed", "Give 1 to 10 security group IDs as SecurityGroupId.N.")
	}
	return view(s, ctx, func(tx store.ReadTx) (*describeSecurityGroupReferencesResponse, error) {
		out := &describeSecurityGroupReferencesResponse{}
		records := 0
		for _, id := range ids {
			g, err := getGroup(tx, c, id)
			if err != nil {
				return nil, err
			}
			refs, err := referencing(tx, g.Region, g.ID)
			if err != nil {
				return nil, err
			}
			ref := securityGroupReference{SecurityGroupId: g.ID}
			for _, r := range refs {
				if r.ID != g.ID && records < 100 {
					ref.ReferencingSecurityGroups.ReferencingSecurityGroup = append(ref.ReferencingSecurityGroups.ReferencingSecurityGroup,
						referencingSecurityGroup{SecurityGroupId: r.ID, AliUid: r.Owner})
					records++
				}
			}
			out.SecurityGroupReferences.SecurityGroupReference = append(out.SecurityGroupReferences.SecurityGroupReference, ref)
		}
		return out, nil
	})
}
