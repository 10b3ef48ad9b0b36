package ops

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) ruleActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"AuthorizeSecurityGroup":        s.authorize(model.Ingress),
		"AuthorizeSecurityGroupEgress":  s.authorize(model.Egress),
		"RevokeSecurityGroup":           s.revoke(model.Ingress),
		"RevokeSecurityGroupEgress":     s.revoke(model.Egress),
		"ModifySecurityGroupRule":       s.modifyRule(model.Ingress),
		"ModifySecurityGroupEgressRule": s.modifyRule(model.Egress),
	}
}

// ruleFields are the Permission fields, as both the Permissions.N.* array
// and the legacy flat form name them.
var ruleFields = []string{"Policy", "Priority", "IpProtocol", "PortRange", "SourcePortRange", "NicType", "Description",
	"SourceCidrIp", "Ipv6SourceCidrIp", "SourceGroupId", "SourceGroupOwnerAccount", "SourceGroupOwnerId", "SourcePrefixListId",
	"DestCidrIp", "Ipv6DestCidrIp", "DestGroupId", "DestGroupOwnerAccount", "DestGroupOwnerId", "DestPrefixListId"}

func inputOf(p rpc.Params) model.RuleInput {
	return model.RuleInput{Policy: p.Get("Policy"), Priority: p.Get("Priority"), IpProtocol: p.Get("IpProtocol"),
		PortRange: p.Get("PortRange"), SourcePortRange: p.Get("SourcePortRange"), NicType: p.Get("NicType"), Description: p.Get("Description"),
		SourceCidrIp: p.Get("SourceCidrIp"), Ipv6SourceCidrIp: p.Get("Ipv6SourceCidrIp"), SourceGroupId: p.Get("SourceGroupId"),
		SourceGroupOwnerAccount: p.Get("SourceGroupOwnerAccount"), SourceGroupOwnerId: p.Get("SourceGroupOwnerId"),
		SourcePrefixListId: p.Get("SourcePrefixListId"),
		DestCidrIp:         p.Get("DestCidrIp"), Ipv6DestCidrIp: p.Get("Ipv6DestCidrIp"), DestGroupId: p.Get("DestGroupId"),
		DestGroupOwnerAccount: p.Get("DestGroupOwnerAccount"), DestGroupOwnerId: p.Get("DestGroupOwnerId"),
		DestPrefixListId: p.Get("DestPrefixListId")}
}

// ruleInputs reads the rules of a request: Permissions.N.* or the legacy
// flat form, never both. With allowNone, no rule at all is not an error.
func ruleInputs(p rpc.Params, allowNone bool) ([]model.RuleInput, error) {
	perms := p.Structs("Permissions")
	flat := slices.ContainsFunc(ruleFields, func(f string) bool { return f != "Description" && p.Has(f) })
	switch {
	case len(perms) > 0 && flat:
		return nil, ecserr.BadRequest("InvalidParam.Permissions", "Permissions cannot coexist with other parameters: give rules either as Permissions.N.* or in the legacy flat form.")
	case len(perms) > model.MaxPermissionsPerAPI:
		return nil, ecserr.BadRequest("InvalidParam.Permissions", "At most %d Permissions per call; %d were given.", model.MaxPermissionsPerAPI, len(perms))
	case flat:
		return []model.RuleInput{inputOf(p)}, nil
	case len(perms) == 0 && !allowNone:
		return nil, ecserr.MissingParameter("Permissions")
	}
	out := make([]model.RuleInput, len(perms))
	for i, q := range perms {
		out[i] = inputOf(q)
	}
	return out, nil
}

// resolveRule validates a rule input for group g and resolves its peer: a
// peer group must exist in the region and be owned by the named account (the
// caller's when none is named); a prefix list must be the caller's.
func resolveRule(tx store.ReadTx, c caller, g *model.SecurityGroup, dir model.Direction, in model.RuleInput, n int) (model.Rule, error) {
	r, owner, e := model.ParseRule(dir, in, g.Classic())
	if e != nil {
		if n > 0 {
			e = ecserr.New(e.Status, e.Code, "Permissions.%d: %s", n, e.Message).At(e.Field)
		}
		return r, e
	}
	side := "Source"
	if dir == model.Egress {
		side = "Dest"
	}
	if r.Peer.GroupID != "" {
		peer, ok, err := store.GetAs[model.SecurityGroup](tx, KindGroup, r.Peer.GroupID)
		if err != nil {
			return r, err
		}
		want := c.Account
		if owner.ID != "" {
			want = owner.ID
		} else if owner.Account != "" {
			want = accountUID(tx, owner.Account)
		}
		if !ok || peer.Owner != want || peer.Region != g.Region {
			return r, ecserr.New(http.StatusNotFound, "Invalid"+side+"GroupId.NotFound", "The specified %sGroupId %q does not exist in account %s in %s.", side, r.Peer.GroupID, want, g.Region)
		}
		if e := model.CheckGroupPeer(g, &peer, dir); e != nil {
			return r, e
		}
		r.Peer.GroupOwner = peer.Owner
	}
	if r.Peer.PrefixListID != "" {
		pl, err := getPrefixList(tx, caller{Account: c.Account, Region: g.Region}, r.Peer.PrefixListID)
		if err != nil {
			return r, err
		}
		if e := model.CheckPrefixListPeer(&r, pl, dir); e != nil {
			return r, e
		}
	}
	return r, nil
}

// accountUID resolves an account named by UID or by name.
func accountUID(tx store.ReadTx, nameOrUID string) string {
	if _, err := strconv.ParseUint(nameOrUID, 10, 64); err == nil {
		return nameOrUID
	}
	accts, _ := store.ListAs[model.Account](tx, KindAccount, store.Query{})
	for _, a := range accts {
		if a.Name == nameOrUID {
			return a.UID
		}
	}
	return nameOrUID
}

// checkQuotas checks a changed group against its own quotas and, for every
// member, the NIC-wide rule total.
func checkQuotas(tx store.ReadTx, c caller, g *model.SecurityGroup) error {
	pls := prefixListsOf(tx, c)
	if e := model.CheckRuleQuotas(g, pls); e != nil {
		return e
	}
	ms, err := members(tx, caller{Account: g.Owner, Region: g.Region}, g.ID)
	if err != nil {
		return err
	}
	for _, in := range ms {
		var groups []*model.SecurityGroup
		for _, id := range in.SecurityGroups {
			if id == g.ID {
				groups = append(groups, g)
				continue
			}
			other, ok, err := store.GetAs[model.SecurityGroup](tx, KindGroup, id)
			if err != nil {
				return err
			}
			if ok {
				groups = append(groups, &other)
			}
		}
		if e := model.CheckNICRules(in.ID, groups, pls); e != nil {
			return e
		}
	}
	for _, r := range g.Rules {
		if r.Peer.PrefixListID == "" {
			continue
		}
		uses, err := prefixListUses(tx, g.Region, r.Peer.PrefixListID)
		if err != nil {
			return err
		}
		if !slices.Contains(uses, g.ID) && len(uses) >= model.MaxPrefixListUses {
			return ecserr.Forbidden("LimitExceed.PrefixListAssociationResource", "Prefix list %s is already used by %d security groups, the limit.", r.Peer.PrefixListID, len(uses))
		}
	}
	return nil
}

// authorize adds rules. A rule identical to an existing one adds nothing
// (its description is updated when one is given).
func (s *Service) authorize(dir model.Direction) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		inputs, err := ruleInputs(req.Params, false)
		if err != nil {
			return nil, err
		}
		return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
			g, err := getGroup(tx, c, req.Params.Get("SecurityGroupId"))
			if err != nil {
				return nil, err
			}
			seen := map[string]bool{}
			for i, in := range inputs {
				r, err := resolveRule(tx, c, g, dir, in, i+1)
				if err != nil {
					return nil, err
				}
				key := r.Key()
				if seen[key] {
					return nil, ecserr.BadRequest("InvalidParam.DuplicatePermissions", "Permissions.%d repeats an earlier rule of the same request.", i+1)
				}
				seen[key] = true
				if j := slices.IndexFunc(g.Rules, func(o model.Rule) bool { return o.Key() == key }); j >= 0 {
					if r.Description != "" {
						g.Rules[j].Description = r.Description
					}
					continue
				}
				r.ID, r.Created = model.NewID("sgr"), s.Now()
				g.Rules = append(g.Rules, r)
			}
			if err := checkQuotas(tx, c, g); err != nil {
				return nil, err
			}
			return &rpc.Base{}, putGroup(tx, g)
		})
	}
}

// revoke removes rules named by SecurityGroupRuleId.N or by their fields.
func (s *Service) revoke(dir model.Direction) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		ids := req.Params.List("SecurityGroupRuleId")
		inputs, err := ruleInputs(req.Params, len(ids) > 0)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 && len(inputs) > 0 {
			return nil, ecserr.BadRequest("InvalidParam.Permissions", "Give SecurityGroupRuleId.N or Permissions, not both.")
		}
		if len(ids) > model.MaxPermissionsPerAPI {
			return nil, ecserr.BadRequest("InvalidParam.SecurityGroupRuleId", "At most %d SecurityGroupRuleId.N per call.", model.MaxPermissionsPerAPI)
		}
		return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
			g, err := getGroup(tx, c, req.Params.Get("SecurityGroupId"))
			if err != nil {
				return nil, err
			}
			drop := map[string]bool{}
			for _, id := range ids {
				if drop[id] {
					return nil, ecserr.BadRequest("InvalidParam.SecurityGroupRuleIdRepeated", "SecurityGroupRuleId %s is given more than once.", id)
				}
				if !slices.ContainsFunc(g.Rules, func(r model.Rule) bool { return r.ID == id && r.Direction == dir }) && !s.LenientRevoke {
					return nil, ecserr.New(http.StatusNotFound, "InvalidSecurityGroupRuleId.NotFound", "Security group %s has no %s rule %s.", g.ID, dir, id)
				}
				drop[id] = true
			}
			for i, in := range inputs {
				r, err := resolveRule(tx, c, g, dir, in, i+1)
				if err != nil {
					return nil, err
				}
				j := slices.IndexFunc(g.Rules, func(o model.Rule) bool { return o.Key() == r.Key() })
				if j < 0 {
					if s.LenientRevoke {
						continue
					}
					return nil, ecserr.BadRequest("InvalidSecurityGroupRule.RuleNotExist", "Security group %s has no rule matching %s; rules match on protocol, ports, peer, policy and priority (default 1). DescribeSecurityGroupAttribute lists them.", g.ID, describeInput(i+1, len(inputs)))
				}
				drop[g.Rules[j].ID] = true
			}
			g.Rules = slices.DeleteFunc(g.Rules, func(r model.Rule) bool { return drop[r.ID] })
			return &rpc.Base{}, putGroup(tx, g)
		})
	}
}

func describeInput(n, of int) string {
	if of == 1 {
		return "the given rule"
	}
	return fmt.Sprintf("Permissions.%d", n)
}

// modifyRule changes a rule in place. With SecurityGroupRuleId any field may
// change except the kind of peer and the NicType; without it the rule is
// found by its fields and only its description changes (the legacy form).
func (s *Service) modifyRule(dir model.Direction) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		p := req.Params
		return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
			g, err := getGroup(tx, c, p.Get("SecurityGroupId"))
			if err != nil {
				return nil, err
			}
			if id := p.Get("SecurityGroupRuleId"); id != "" {
				j := slices.IndexFunc(g.Rules, func(r model.Rule) bool { return r.ID == id && r.Direction == dir })
				if j < 0 {
					return nil, ecserr.New(http.StatusNotFound, "InvalidSecurityGroupRuleId.NotFound", "Security group %s has no %s rule %s.", g.ID, dir, id)
				}
				old := g.Rules[j]
				in, err := overlay(old, p)
				if err != nil {
					return nil, err
				}
				r, err := resolveRule(tx, c, g, dir, in, 0)
				if err != nil {
					return nil, err
				}
				if r.NicType != old.NicType {
					return nil, ecserr.BadRequest("InvalidOperation.ModifyNicType", "The NicType of a rule cannot change; revoke it and authorize a new one.")
				}
				for k, o := range g.Rules {
					if k != j && o.Key() == r.Key() {
						return nil, ecserr.BadRequest("InvalidOperation.RuleDuplicate", "The modified rule would duplicate rule %s.", o.ID)
					}
				}
				r.ID, r.Created = old.ID, old.Created
				g.Rules[j] = r
			} else {
				r, err := resolveRule(tx, c, g, dir, inputOf(p), 0)
				if err != nil {
					return nil, err
				}
				j := slices.IndexFunc(g.Rules, func(o model.Rule) bool { return o.Key() == r.Key() })
				if j < 0 {
					return nil, ecserr.New(http.StatusNotFound, "SecurityGroupRule.NotFound", "Security group %s has no rule with these fields; give SecurityGroupRuleId to change other fields than Description.", g.ID)
				}
				g.Rules[j].Description = r.Description
			}
			if err := checkQuotas(tx, c, g); err != nil {
				return nil, err
			}
			return &rpc.Base{}, putGroup(tx, g)
		})
	}
}

// overlay applies the fields of a ModifySecurityGroupRule request to an
// existing rule. The kind of peer may not change.
func overlay(old model.Rule, p rpc.Params) (model.RuleInput, error) {
	in := inputOfRule(&old)
	cur := peerKind(in, old.Direction)
	next := inputOf(p)
	merge := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	merge(&in.Policy, next.Policy)
	merge(&in.Priority, next.Priority)
	merge(&in.IpProtocol, next.IpProtocol)
	merge(&in.PortRange, next.PortRange)
	merge(&in.SourcePortRange, next.SourcePortRange)
	merge(&in.NicType, next.NicType)
	merge(&in.Description, next.Description)
	merge(&in.SourceCidrIp, next.SourceCidrIp)
	merge(&in.Ipv6SourceCidrIp, next.Ipv6SourceCidrIp)
	merge(&in.SourceGroupId, next.SourceGroupId)
	merge(&in.SourceGroupOwnerAccount, next.SourceGroupOwnerAccount)
	merge(&in.SourceGroupOwnerId, next.SourceGroupOwnerId)
	merge(&in.SourcePrefixListId, next.SourcePrefixListId)
	merge(&in.DestCidrIp, next.DestCidrIp)
	merge(&in.Ipv6DestCidrIp, next.Ipv6DestCidrIp)
	merge(&in.DestGroupId, next.DestGroupId)
	merge(&in.DestGroupOwnerAccount, next.DestGroupOwnerAccount)
	merge(&in.DestGroupOwnerId, next.DestGroupOwnerId)
	merge(&in.DestPrefixListId, next.DestPrefixListId)
	if k := peerKind(next, old.Direction); k != "" && k != cur {
		return in, ecserr.BadRequest("InvalidOperation.ModifySgRuleEntityType", "The peer of rule %s is a %s; it cannot become a %s. Revoke it and authorize a new rule.", old.ID, cur, k)
	}
	return in, nil
}

// peerKind names the kind of peer an input gives: cidr, ipv6, group or prefixlist.
func peerKind(in model.RuleInput, dir model.Direction) string {
	v4, v6, g, pl := in.SourceCidrIp, in.Ipv6SourceCidrIp, in.SourceGroupId, in.SourcePrefixListId
	if dir == model.Egress {
		v4, v6, g, pl = in.DestCidrIp, in.Ipv6DestCidrIp, in.DestGroupId, in.DestPrefixListId
	}
	switch {
	case v4 != "":
		return "IPv4 CIDR block"
	case v6 != "":
		return "IPv6 CIDR block"
	case g != "":
		return "security group"
	case pl != "":
		return "prefix list"
	}
	return ""
}

// inputOfRule turns a stored rule back into request fields.
func inputOfRule(r *model.Rule) model.RuleInput {
	in := model.RuleInput{Policy: string(r.Policy), Priority: strconv.Itoa(r.Priority), IpProtocol: string(r.Protocol),
		PortRange: r.PortRange.String(), SourcePortRange: r.SourcePortRange.String(), NicType: string(r.NicType), Description: r.Description}
	peer4, peer6, local4, local6 := &in.SourceCidrIp, &in.Ipv6SourceCidrIp, &in.DestCidrIp, &in.Ipv6DestCidrIp
	group, owner, pl := &in.SourceGroupId, &in.SourceGroupOwnerId, &in.SourcePrefixListId
	if r.Direction == model.Egress {
		peer4, peer6, local4, local6 = &in.DestCidrIp, &in.Ipv6DestCidrIp, &in.SourceCidrIp, &in.Ipv6SourceCidrIp
		group, owner, pl = &in.DestGroupId, &in.DestGroupOwnerId, &in.DestPrefixListId
	}
	switch {
	case r.Peer.CIDR.IsValid() && r.Peer.CIDR.Addr().Is6():
		*peer6 = r.Peer.CIDRText
	case r.Peer.CIDR.IsValid():
		*peer4 = r.Peer.CIDRText
	case r.Peer.GroupID != "":
		*group, *owner = r.Peer.GroupID, r.Peer.GroupOwner
	default:
		*pl = r.Peer.PrefixListID
	}
	if r.Local.IsValid() && r.Local.Addr().Is6() {
		*local6 = r.LocalText
	} else if r.Local.IsValid() {
		*local4 = r.LocalText
	}
	return in
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

func permission(r *model.Rule, groupName func(string) string, pls func(string) *model.PrefixList) permissionItem {
	in := inputOfRule(r)
	it := permissionItem{SecurityGroupRuleId: r.ID, Direction: string(r.Direction), IpProtocol: string(r.Protocol),
		PortRange: in.PortRange, SourcePortRange: in.SourcePortRange, Policy: r.Policy.Display(), Priority: in.Priority,
		NicType: string(r.NicType), SourceCidrIp: in.SourceCidrIp, Ipv6SourceCidrIp: in.Ipv6SourceCidrIp,
		SourceGroupId: in.SourceGroupId, SourceGroupOwnerAccount: in.SourceGroupOwnerId, SourcePrefixListId: in.SourcePrefixListId,
		DestCidrIp: in.DestCidrIp, Ipv6DestCidrIp: in.Ipv6DestCidrIp, DestGroupId: in.DestGroupId,
		DestGroupOwnerAccount: in.DestGroupOwnerId, DestPrefixListId: in.DestPrefixListId,
		Description: r.Description, CreateTime: timeText(r.Created)}
	if it.SourceGroupId != "" {
		it.SourceGroupName = groupName(it.SourceGroupId)
	}
	if it.DestGroupId != "" {
		it.DestGroupName = groupName(it.DestGroupId)
	}
	if id := r.Peer.PrefixListID; id != "" {
		name := ""
		if pl := pls(id); pl != nil {
			name = pl.Name
		}
		if r.Direction == model.Ingress {
			it.SourcePrefixListName = name
		} else {
			it.DestPrefixListName = name
		}
	}
	return it
}
