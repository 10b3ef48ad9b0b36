package api

import (
	"context"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) ruleActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"AuthorizeSecurityGroup":        s.rules(model.Ingress, s.Authorize),
		"AuthorizeSecurityGroupEgress":  s.rules(model.Egress, s.Authorize),
		"RevokeSecurityGroup":           s.rules(model.Ingress, s.Revoke),
		"RevokeSecurityGroupEgress":     s.rules(model.Egress, s.Revoke),
		"ModifySecurityGroupRule":       s.modifyRule(model.Ingress),
		"ModifySecurityGroupEgressRule": s.modifyRule(model.Egress),
	}
}

// ruleFields are the Permission fields, as both the Permissions.N.* array
// and the legacy flat form name them.
var ruleFields = []string{"Policy", "Priority", "IpProtocol", "PortRange", "PortRangeListId", "SourcePortRange", "NicType", "Description",
	"SourceCidrIp", "Ipv6SourceCidrIp", "SourceGroupId", "SourceGroupOwnerAccount", "SourceGroupOwnerId", "SourcePrefixListId",
	"DestCidrIp", "Ipv6DestCidrIp", "DestGroupId", "DestGroupOwnerAccount", "DestGroupOwnerId", "DestPrefixListId"}

func inputOf(p rpc.Params) model.RuleInput {
	return model.RuleInput{Policy: p.Get("Policy"), Priority: p.Get("Priority"), IpProtocol: p.Get("IpProtocol"),
		PortRange: p.Get("PortRange"), PortRangeListId: p.Get("PortRangeListId"), SourcePortRange: p.Get("SourcePortRange"), NicType: p.Get("NicType"), Description: p.Get("Description"),
		SourceCidrIp: p.Get("SourceCidrIp"), Ipv6SourceCidrIp: p.Get("Ipv6SourceCidrIp"), SourceGroupId: p.Get("SourceGroupId"),
		SourceGroupOwnerAccount: p.Get("SourceGroupOwnerAccount"), SourceGroupOwnerId: p.Get("SourceGroupOwnerId"),
		SourcePrefixListId: p.Get("SourcePrefixListId"),
		DestCidrIp:         p.Get("DestCidrIp"), Ipv6DestCidrIp: p.Get("Ipv6DestCidrIp"), DestGroupId: p.Get("DestGroupId"),
		DestGroupOwnerAccount: p.Get("DestGroupOwnerAccount"), DestGroupOwnerId: p.Get("DestGroupOwnerId"),
		DestPrefixListId: p.Get("DestPrefixListId")}
}

// ruleInputs reads the rules of a request: Permissions.N.* or the legacy
// flat form, never both; nil when there are none (the service says whether
// that is an error). numbers are the rules' N as the request gave them, 0
// for the flat form, so that messages name what the client sent.
func ruleInputs(p rpc.Params) (ins []model.RuleInput, numbers []int, err error) {
	numbers, perms := p.NumberedStructs("Permissions")
	flat := slices.ContainsFunc(ruleFields, func(f string) bool { return f != "Description" && p.Has(f) })
	switch {
	case len(perms) > 0 && flat:
		return nil, nil, ecserr.BadRequest("InvalidParam.Permissions", "Permissions cannot coexist with other parameters: give rules either as Permissions.N.* or in the legacy flat form.")
	case flat:
		return []model.RuleInput{inputOf(p)}, []int{0}, nil
	case len(perms) == 0:
		return nil, nil, nil
	}
	out := make([]model.RuleInput, len(perms))
	for i, q := range perms {
		out[i] = inputOf(q)
	}
	return out, numbers, nil
}

// rules serves Authorize and Revoke in a direction.
func (s *Service) rules(dir model.Direction, act func(context.Context, service.RulesInput) error) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		in := service.RulesInput{Caller: c, SecurityGroupID: req.Params.Get("SecurityGroupId"), Direction: dir,
			RuleIDs: req.Params.List("SecurityGroupRuleId"), Idempotency: idempotency(req)}
		if in.Permissions, in.Numbers, err = ruleInputs(req.Params); err != nil {
			return nil, err
		}
		if err := act(ctx, in); err != nil {
			return nil, err
		}
		return &rpc.Base{}, nil
	}
}

// modifyRule serves ModifySecurityGroupRule and its Egress twin.
func (s *Service) modifyRule(dir model.Direction) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		p := req.Params
		if err := s.ModifyRule(ctx, service.ModifyRuleInput{Caller: c, SecurityGroupID: p.Get("SecurityGroupId"), Direction: dir,
			RuleID: p.Get("SecurityGroupRuleId"), Changes: inputOf(p), Idempotency: idempotency(req)}); err != nil {
			return nil, err
		}
		return &rpc.Base{}, nil
	}
}

// permissionItem is a rule as DescribeSecurityGroupAttribute returns it.
type permissionItem struct {
	SecurityGroupRuleId     string
	Direction               string
	IpProtocol              string
	PortRange               string
	SourcePortRange         string
	Policy                  string
	Priority                string
	NicType                 string
	SourceCidrIp            string
	Ipv6SourceCidrIp        string
	SourceGroupId           string
	SourceGroupName         string
	SourceGroupOwnerAccount string
	SourcePrefixListId      string
	SourcePrefixListName    string
	DestCidrIp              string
	Ipv6DestCidrIp          string
	DestGroupId             string
	DestGroupName           string
	DestGroupOwnerAccount   string
	DestPrefixListId        string
	DestPrefixListName      string
	PortRangeListId         string
	PortRangeListName       string
	Description             string
	CreateTime              string
}

// permission is rule v of a group of account groupOwner. The peer group's
// owner is shown only when it is another account or the client named it: a
// rule authorized without an owner reads back without one, and one that
// named its own account (Terraform's source_group_owner_account) reads it
// back, so tools comparing what they sent with what they read see no change.
func permission(v *service.RuleView, groupOwner string) permissionItem {
	r := &v.Rule
	in := service.InputOfRule(r)
	if r.Peer.GroupOwner == groupOwner && !r.Peer.OwnerNamed {
		in.SourceGroupOwnerId, in.DestGroupOwnerId = "", ""
	}
	it := permissionItem{SecurityGroupRuleId: r.ID, Direction: string(r.Direction), IpProtocol: string(r.Protocol),
		PortRange: in.PortRange, SourcePortRange: in.SourcePortRange, Policy: r.Policy.Display(), Priority: in.Priority,
		NicType: string(r.NicType), SourceCidrIp: in.SourceCidrIp, Ipv6SourceCidrIp: in.Ipv6SourceCidrIp,
		SourceGroupId: in.SourceGroupId, SourceGroupOwnerAccount: in.SourceGroupOwnerId, SourcePrefixListId: in.SourcePrefixListId,
		DestCidrIp: in.DestCidrIp, Ipv6DestCidrIp: in.Ipv6DestCidrIp, DestGroupId: in.DestGroupId,
		DestGroupOwnerAccount: in.DestGroupOwnerId, DestPrefixListId: in.DestPrefixListId,
		PortRangeListId: r.PortRangeListID, PortRangeListName: v.PortRangeListName,
		Description: r.Description, CreateTime: timeText(r.Created)}
	if it.SourceGroupId != "" {
		it.SourceGroupName = v.PeerGroupName
	}
	if it.DestGroupId != "" {
		it.DestGroupName = v.PeerGroupName
	}
	if r.Peer.PrefixListID != "" {
		if r.Direction == model.Ingress {
			it.SourcePrefixListName = v.PrefixListName
		} else {
			it.DestPrefixListName = v.PrefixListName
		}
	}
	return it
}
