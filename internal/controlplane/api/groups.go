package api

import (
	"bytes"
	"context"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/jsontext"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
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

// securityGroupItem is a group in DescribeSecurityGroups' answer. What
// depends on the group alone (groupHead and Tags) is made once per revision
// of the group and shared by the answers that list it: read only.
type securityGroupItem struct {
	*groupHead              // its fields come first, as ECS orders them
	RuleCount               int
	GroupToGroupRuleCount   int
	EcsCount                int
	AvailableInstanceAmount int
	Tags                    tagSet
}

// groupHead is the first fields of a group's item, and the JSON of the
// item before and after its counts (RawJSON).
type groupHead struct {
	SecurityGroupId   string
	SecurityGroupName string
	Description       string
	SecurityGroupType string
	VpcId             string
	CreationTime      string
	ResourceGroupId   string
	ServiceManaged    bool
	ServiceID         int64

	tags       tagSet // the item's Tags
	head, tail []byte // nil: the item is encoded whole
}

type describeSecurityGroupsResponse struct {
	rpc.Base
	RegionId  string
	NextToken string
	// The page's counts: nil under token paging, which answers none; a
	// listing of none by page number answers TotalCount 0, which a
	// Node.js caller reads as 0 rather than undefined.
	TotalCount     *int `json:",omitempty" xml:",omitempty"`
	PageNumber     *int `json:",omitempty" xml:",omitempty"`
	PageSize       *int `json:",omitempty" xml:",omitempty"`
	SecurityGroups struct{ SecurityGroup []securityGroupItem }
}

// SlicesComplete: the handler makes every list (Tags included) non-nil.
func (*describeSecurityGroupsResponse) SlicesComplete() {}

// RawJSON writes the answer as the rpc encoder would write the struct (its
// XML is still encoded from the struct), each item from its JSON memoised
// with the group (groupHead) and its counts: a page of 50 groups cost
// more to encode by reflection than to find.
func (r *describeSecurityGroupsResponse) RawJSON() ([]byte, error) {
	items := r.SecurityGroups.SecurityGroup
	n := 256 + len(r.RequestId) + len(r.RegionId) + len(r.NextToken) // and the newline rpc adds
	for i := range items {
		n += items[i].jsonSize()
	}
	b := make([]byte, 0, n)
	b = jsontext.AppendString(append(b, `{"RequestId":`...), r.RequestId)
	b = jsontext.AppendString(append(b, `,"RegionId":`...), r.RegionId)
	b = jsontext.AppendString(append(b, `,"NextToken":`...), r.NextToken)
	for _, f := range [...]struct {
		name string
		v    *int
	}{{`,"TotalCount":`, r.TotalCount}, {`,"PageNumber":`, r.PageNumber}, {`,"PageSize":`, r.PageSize}} {
		if f.v != nil { // omitempty
			b = strconv.AppendInt(append(b, f.name...), int64(*f.v), 10)
		}
	}
	b = append(b, `,"SecurityGroups":{"SecurityGroup":[`...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = items[i].appendJSON(b); err != nil {
			return nil, err
		}
	}
	return append(b, "]}}"...), nil
}

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
		out.TotalCount, out.PageNumber, out.PageSize = new(res.Total), new(pg.Number), new(pg.Size)
	}
	return out, nil
}

// groupItem is a group's item: what depends on the group alone is made
// once per revision of the group (groupHead), the counts per call.
func groupItem(s service.GroupSummary) securityGroupItem {
	h := s.Memo.Get(groupHeadKey{}, func() any { return newGroupHead(s.Group) }).(*groupHead)
	return securityGroupItem{groupHead: h, RuleCount: s.RuleCount, GroupToGroupRuleCount: s.PeerRules, EcsCount: s.Members,
		AvailableInstanceAmount: s.AvailableInstanceAmount, Tags: h.tags}
}

// groupHeadKey memoises a group's groupHead on its record.
type groupHeadKey struct{}

// itemCounts is the JSON of an item's counts when zero, between head and
// tail.
const itemCounts = `"RuleCount":0,"GroupToGroupRuleCount":0,"EcsCount":0,"AvailableInstanceAmount":0`

func newGroupHead(g *model.SecurityGroup) *groupHead {
	h := &groupHead{SecurityGroupId: g.ID, SecurityGroupName: g.Name, Description: g.Description,
		SecurityGroupType: string(g.Type), VpcId: g.VpcID, CreationTime: timeText(g.Created),
		// As named at its creation or by JoinResourceGroup, none if never:
		// Terraform's alicloud_security_group does not compute it.
		ResourceGroupId: g.ResourceGroupID,
		tags:            tagsOut(g.Tags)}
	b, err := appendJSONValue(nil, &securityGroupItem{groupHead: h, Tags: h.tags})
	// Inside a JSON string a quote is escaped, so the counts' text is found
	// only where the fields are; if the struct changed so that it is not,
	// the item is encoded whole (appendJSON).
	if i := bytes.Index(b, []byte(itemCounts)); err == nil && i >= 0 {
		h.head, h.tail = b[:i+len(`"RuleCount":`)], b[i+len(itemCounts):]
	}
	return h
}

// countsText is the text around an item's counts, after head.
const countsText = `,"GroupToGroupRuleCount":,"EcsCount":,"AvailableInstanceAmount":`

// jsonSize is the length of the item's JSON (appendJSON), when memoised;
// else an estimate.
func (it *securityGroupItem) jsonSize() int {
	m := it.groupHead
	if m == nil || m.head == nil {
		return 512
	}
	return len(m.head) + len(m.tail) + len(countsText) +
		digits(it.RuleCount) + digits(it.GroupToGroupRuleCount) + digits(it.EcsCount) + digits(it.AvailableInstanceAmount)
}

// digits is the length of n in decimal.
func digits(n int) int {
	d := 1
	if n < 0 {
		d, n = 2, -n // a count is not negative; MinInt is not a count either
	}
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// appendJSON appends the item's JSON: the memoised text around its counts.
func (it *securityGroupItem) appendJSON(b []byte) ([]byte, error) {
	m := it.groupHead
	if m == nil || m.head == nil {
		return appendJSONValue(b, it)
	}
	b = strconv.AppendInt(append(b, m.head...), int64(it.RuleCount), 10)
	b = strconv.AppendInt(append(b, `,"GroupToGroupRuleCount":`...), int64(it.GroupToGroupRuleCount), 10)
	b = strconv.AppendInt(append(b, `,"EcsCount":`...), int64(it.EcsCount), 10)
	b = strconv.AppendInt(append(b, `,"AvailableInstanceAmount":`...), int64(it.AvailableInstanceAmount), 10)
	return append(b, m.tail...), nil
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

	// The page's rules, of group (read only: it may be the view's), and
	// its record's memo (nil: none), from which RawJSON writes the JSON
	// answer; Permissions is made only for other formats.
	group *model.SecurityGroup
	rules []service.RuleView
	memo  *store.Memo
}

// SlicesComplete: the handler makes Permission non-nil when it makes it (a
// JSON answer is written by RawJSON); items have no lists.
func (*describeSecurityGroupAttributeResponse) SlicesComplete() {}

func (s *Service) describeSecurityGroupAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg := page{Tokens: true, Size: 500}
	if p.Has("MaxResults") || p.Has("NextToken") {
		pg, err = parsePage(p, 500, 1000, 500, 1000)
		// parsePage's range starts at 1, this action's at 10: one message
		// for both ends.
		if ecserr.Is(err, "InvalidParameter.MaxResults") || err == nil && pg.Size < 10 {
			return nil, ecserr.BadRequest("InvalidParameter.MaxResults", "MaxResults must be from 10 to 1000.")
		}
		if err != nil {
			return nil, err
		}
	}
	res, err := s.DescribeSecurityGroupAttribute(ctx, service.GroupAttributeInput{Caller: c, SecurityGroupID: p.Get("SecurityGroupId"),
		Direction: p.Get("Direction"), NicType: p.Get("NicType"), Page: pg, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	g := res.Group
	out := &describeSecurityGroupAttributeResponse{RegionId: c.Region, SecurityGroupId: g.ID, SecurityGroupName: g.Name,
		Description: g.Description, VpcId: g.VpcID, InnerAccessPolicy: g.InnerAccessPolicy, NextToken: res.NextToken,
		group: g, rules: res.Rules, memo: res.Memo}
	if req.Format != "JSON" { // XML, or a caller other than the server: the struct too
		out.Permissions.Permission = make([]permissionItem, 0, len(res.Rules))
		for i := range res.Rules {
			out.Permissions.Permission = append(out.Permissions.Permission, permission(&res.Rules[i], g.Owner))
		}
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
