package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) groupActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateSecurityGroup":             s.createSecurityGroup,
		"DeleteSecurityGroup":             s.deleteSecurityGroup,
		"DescribeSecurityGroups":          s.describeSecurityGroups,
		"DescribeSecurityGroupAttribute":  s.describeSecurityGroupAttribute,
		"ModifySecurityGroupAttribute":    s.modifySecurityGroupAttribute,
		"ModifySecurityGroupPolicy":       s.modifySecurityGroupPolicy,
		"DescribeSecurityGroupReferences": s.describeSecurityGroupReferences,
	}
}

type createSecurityGroupResponse struct {
	rpc.Base
	SecurityGroupId string
}

func (s *Service) createSecurityGroup(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	tags, err := tagParams(p)
	if err != nil {
		return nil, err
	}
	res, err := s.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: c, Name: p.Get("SecurityGroupName"),
		Description: p.Get("Description"), Type: model.GroupType(p.Get("SecurityGroupType")), VpcID: p.Get("VpcId"),
		ResourceGroupID: p.Get("ResourceGroupId"), Tags: tags, Idempotency: idempotency(req)})
	if err != nil {
		return nil, err
	}
	return &createSecurityGroupResponse{SecurityGroupId: res.SecurityGroupId}, nil
}

func (s *Service) deleteSecurityGroup(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if err := s.DeleteSecurityGroup(ctx, service.GroupRef{Caller: c, SecurityGroupID: req.Params.Get("SecurityGroupId"), Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
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

// SlicesComplete: the handler makes every list (Tags included) non-nil.
func (*describeSecurityGroupsResponse) SlicesComplete() {}

func (s *Service) describeSecurityGroups(ctx context.Context, req *rpc.Request) (any, error) {
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
	if id := p.Get("SecurityGroupId"); id != "" {
		ids = append(ids, id)
	}
	in := service.DescribeGroupsInput{Caller: c, IDs: ids, Name: p.Get("SecurityGroupName"), Type: model.GroupType(p.Get("SecurityGroupType")),
		VpcID: p.Get("VpcId"), NetworkType: p.Get("NetworkType"), ResourceGroupID: p.Get("ResourceGroupId"),
		ServiceManaged: p.Get("ServiceManaged") == "true", DryRun: p.Get("DryRun") == "true", Page: pg}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	res, err := s.DescribeSecurityGroups(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeSecurityGroupsResponse{RegionId: c.Region, NextToken: res.NextToken}
	out.SecurityGroups.SecurityGroup = make([]securityGroupItem, 0, len(res.Items))
	for _, g := range res.Items {
		out.SecurityGroups.SecurityGroup = append(out.SecurityGroups.SecurityGroup, groupItem(g))
	}
	if !pg.Tokens {
		out.TotalCount, out.PageNumber, out.PageSize = res.Total, pg.Number, pg.Size
	}
	return out, nil
}

func groupItem(s service.GroupSummary) securityGroupItem {
	g := s.Group
	return securityGroupItem{SecurityGroupId: g.ID, SecurityGroupName: g.Name, Description: g.Description,
		SecurityGroupType: string(g.Type), VpcId: g.VpcID, CreationTime: timeText(g.Created), ResourceGroupId: g.ResourceGroupID,
		RuleCount: s.RuleCount, GroupToGroupRuleCount: g.GroupPeerRules(), EcsCount: s.Members,
		AvailableInstanceAmount: s.AvailableInstanceAmount, Tags: tagsOut(g.Tags)}
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

// SlicesComplete: the handler makes Permission non-nil; items have no lists.
func (*describeSecurityGroupAttributeResponse) SlicesComplete() {}

func (s *Service) describeSecurityGroupAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg := page{Tokens: true, Size: 500}
	if p.Has("MaxResults") || p.Has("NextToken") {
		if pg, err = parsePage(p, 500, 1000, 500, 1000); err != nil {
			return nil, err
		}
		if pg.Size < 10 {
			return nil, ecserr.BadRequest("InvalidParameter.MaxResults", "MaxResults must be from 10 to 1000.")
		}
	}
	res, err := s.DescribeSecurityGroupAttribute(ctx, service.GroupAttributeInput{Caller: c, SecurityGroupID: p.Get("SecurityGroupId"),
		Direction: p.Get("Direction"), NicType: p.Get("NicType"), Page: pg})
	if err != nil {
		return nil, err
	}
	g := res.Group
	out := &describeSecurityGroupAttributeResponse{RegionId: c.Region, SecurityGroupId: g.ID, SecurityGroupName: g.Name,
		Description: g.Description, VpcId: g.VpcID, InnerAccessPolicy: g.InnerAccessPolicy, NextToken: res.NextToken}
	out.Permissions.Permission = make([]permissionItem, 0, len(res.Rules))
	for i := range res.Rules {
		out.Permissions.Permission = append(out.Permissions.Permission, permission(&res.Rules[i], g.Owner))
	}
	return out, nil
}

func (s *Service) modifySecurityGroupAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyGroupInput{Caller: c, SecurityGroupID: p.Get("SecurityGroupId"), Idempotency: idempotency(req)}
	if p.Has("SecurityGroupName") {
		in.Name = new(p.Get("SecurityGroupName"))
	}
	if p.Has("Description") {
		in.Description = new(p.Get("Description"))
	}
	if err := s.ModifySecurityGroupAttribute(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

func (s *Service) modifySecurityGroupPolicy(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if err := s.ModifySecurityGroupPolicy(ctx, service.GroupPolicyInput{Caller: c, SecurityGroupID: req.Params.Get("SecurityGroupId"),
		InnerAccessPolicy: req.Params.Get("InnerAccessPolicy"), Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
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

func (s *Service) describeSecurityGroupReferences(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	res, err := s.DescribeSecurityGroupReferences(ctx, c, req.Params.List("SecurityGroupId"))
	if err != nil {
		return nil, err
	}
	out := &describeSecurityGroupReferencesResponse{}
	for _, r := range res {
		ref := securityGroupReference{SecurityGroupId: r.SecurityGroupID}
		for _, o := range r.Referencing {
			ref.ReferencingSecurityGroups.ReferencingSecurityGroup = append(ref.ReferencingSecurityGroups.ReferencingSecurityGroup,
				referencingSecurityGroup{SecurityGroupId: o.SecurityGroupID, AliUid: o.Owner})
		}
		out.SecurityGroupReferences.SecurityGroupReference = append(out.SecurityGroupReferences.SecurityGroupReference, ref)
	}
	return out, nil
}
