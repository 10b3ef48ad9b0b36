package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// RulesInput names rules of one direction of a group: the rules to add
// (Authorize) or, by their fields or IDs, to remove (Revoke).
type RulesInput struct {
	Caller          Caller
	SecurityGroupID string
	Direction       model.Direction
	// Permissions are rules as ECS requests give them, at most
	// model.MaxPermissionsPerAPI.
	Permissions []model.RuleInput
	// Numbers are the N of each of Permissions as the request named it
	// (Permissions.N.*), 0 for the legacy flat form, which names none;
	// nil numbers them 1, 2, …. Messages only: not part of the request.
	Numbers []int `json:"-"`
	// RuleIDs name rules to revoke (Revoke only; instead of Permissions).
	RuleIDs     []string
	Idempotency `json:"-"`
}

// number is the N by which messages name Permissions[i] (0: no N).
func (in *RulesInput) number(i int) int {
	if i < len(in.Numbers) {
		return in.Numbers[i]
	}
	return i + 1
}

// permissionName names Permissions[i] in a message.
func (in *RulesInput) permissionName(i int) string {
	if n := in.number(i); n > 0 {
		return fmt.Sprintf("Permissions.%d", n)
	}
	return "the rule"
}

// ruleAction is the ECS action of a rule change in a direction.
func ruleAction(verb string, dir model.Direction) string {
	if dir == model.Egress {
		return verb + "SecurityGroupEgress"
	}
	return verb + "SecurityGroup"
}

// checkPermissionCount bounds the rules of one call.
func checkPermissionCount(in *RulesInput, allowNone bool) error {
	switch {
	case len(in.Permissions) > model.MaxPermissionsPerAPI:
		return ecserr.BadRequest("InvalidParam.Permissions", "At most %d Permissions per call; %d were given.", model.MaxPermissionsPerAPI, len(in.Permissions))
	case len(in.Permissions) == 0 && !allowNone:
		return ecserr.MissingParameter("Permissions")
	}
	return nil
}

// resolveRule validates a rule input for group g and resolves its peer: a
// peer group must exist in the region and be owned by the named account (the
// caller's when none is named); a prefix list must be the caller's. n is the
// input's place in Permissions.N, 0 when it stands alone; a refusal names it,
// that of a peer or port range list too (a form of several rules said which
// group was not found, not in which row).
func resolveRule(tx store.ReadTx, c Caller, g *model.SecurityGroup, dir model.Direction, in model.RuleInput, n int) (model.Rule, error) {
	r, err := resolveRuleInput(tx, c, g, dir, in)
	var e *ecserr.Error
	if n > 0 && errors.As(err, &e) && e.Status < http.StatusInternalServerError {
		named := *e
		named.Message = fmt.Sprintf("Permissions.%d: %s", n, e.Message)
		err = &named
	}
	return r, err
}

// resolveRuleInput is resolveRule without naming the input's place.
func resolveRuleInput(tx store.ReadTx, c Caller, g *model.SecurityGroup, dir model.Direction, in model.RuleInput) (model.Rule, error) {
	r, owner, e := model.ParseRule(dir, in, g.Classic())
	if e != nil {
		return r, e
	}
	side := "Source"
	if dir == model.Egress {
		side = "Dest"
	}
	if r.Peer.GroupID != "" {
		// Read only: the view's value where tx sees it unchanged (a copy
		// through the store's record would encode and decode the whole
		// peer group).
		snap, dirty, _, err := indexed(tx)
		if err != nil {
			return r, err
		}
		peer, ok, err := peekGroup(tx, snap, dirty[KindGroup], r.Peer.GroupID)
		if err != nil {
			return r, err
		}
		want, named := c.Account, "your account"
		if owner.ID != "" {
			want, named = owner.ID, "account "+owner.ID
		} else if owner.Account != "" {
			// The error names the account as the caller wrote it: the UID
			// an account name resolves to is that tenant's to tell.
			want, named = accountUID(tx, owner.Account), "account "+strconv.Quote(owner.Account)
		}
		if !ok || peer.Owner != want || peer.Region != g.Region {
			return r, ecserr.New(http.StatusNotFound, "Invalid"+side+"GroupId.NotFound", "The specified %sGroupId %q does not exist in %s in %s.", side, r.Peer.GroupID, named, g.Region)
		}
		if e := model.CheckGroupPeer(g, peer, dir); e != nil {
			return r, e
		}
		r.Peer.GroupOwner, r.Peer.OwnerNamed = peer.Owner, owner != model.PeerOwner{}
	}
	if r.Peer.PrefixListID != "" {
		pl, err := getPrefixList(tx, Caller{Account: c.Account, Region: g.Region}, r.Peer.PrefixListID)
		if err != nil {
			return r, err
		}
		if e := model.CheckPrefixListPeer(&r, pl, dir); e != nil {
			return r, e
		}
	}
	return r, checkRulePortRangeList(tx, c, g, &r)
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
func checkQuotas(tx store.ReadTx, c Caller, g *model.SecurityGroup) error {
	lists := listsOf(tx)
	if e := model.CheckRuleQuotas(g, lists); e != nil {
		return e
	}
	ms, err := members(tx, Caller{Account: g.Owner, Region: g.Region}, g.ID)
	if err != nil {
		return err
	}
	snap, dirty, _, err := indexed(tx)
	if err != nil {
		return err
	}
	ot, _ := tx.(*optTx)
	soft := false
	e, err := nicRulesOver(g, ms, lists, func(id string) (*model.SecurityGroup, error) {
		if ot != nil && !dirty[KindGroup][id] {
			// Read softly: another write to a group sharing these members
			// does not conflict with this one unless together they cross
			// the quota (rechecked at commit).
			other, rev := snapGroup(snap, id)
			ot.readSoft(KindGroup, id, rev)
			soft = true
			return other, nil
		}
		other, ok, err := peekGroup(tx, snap, dirty[KindGroup], id)
		if !ok {
			other = nil
		}
		return other, err
	})
	if err != nil {
		return err
	}
	if e != nil {
		return e
	}
	if soft {
		ot.recheck(func(cur store.ReadTx) error { return recheckNICRules(cur, g, ms) })
	}
	seen := map[string]bool{}
	for _, r := range g.Rules {
		id := r.Peer.PrefixListID
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		uses, err := PrefixListUses(tx, g.Region, id)
		if err != nil {
			return err
		}
		if !slices.Contains(uses, g.ID) && len(uses) >= model.MaxPrefixListUses {
			return ecserr.Forbidden("LimitExceed.PrefixListAssociationResource", "Prefix list %s is already used by %d security groups, the limit.", id, len(uses))
		}
	}
	return nil
}

// groupSets are the group sets of the NICs whose rule total a check has
// counted: another NIC with the same set has the same total (members of
// a group mostly share their sets), so the check counts each set once.
type groupSets struct {
	counted map[string]bool // the sets, their IDs joined by NUL
	key     []byte          // scratch: a set's key, made a string only when new
}

// checked reports whether set was counted, and notes it as counted: the
// caller counts it now, and returns at once when it is over the quota.
func (s *groupSets) checked(set []string) bool {
	s.key = s.key[:0]
	for i, id := range set {
		if i > 0 {
			s.key = append(s.key, 0)
		}
		s.key = append(s.key, id...)
	}
	if s.counted[string(s.key)] {
		return true
	}
	if s.counted == nil {
		s.counted = map[string]bool{}
	}
	s.counted[string(s.key)] = true
	return false
}

// recheckNICRules is checkQuotas' NIC-wide rule total of g's members
// again, on the state a commit sees (other groups may have changed since
// the write read them): exceeded, the write conflicts, runs again, and is
// refused by its own check.
func recheckNICRules(cur store.ReadTx, g *model.SecurityGroup, ms []*model.Instance) error {
	e, err := nicRulesOver(g, ms, listsOf(cur), func(id string) (*model.SecurityGroup, error) {
		r, ok, err := cur.Get(KindGroup, id)
		if !ok || err != nil {
			return nil, err
		}
		other, _ := r.Object.(*model.SecurityGroup)
		return other, nil
	})
	if err != nil {
		return err
	}
	if e != nil {
		return fmt.Errorf("service: %s: %w", e.Message, store.ErrConflict)
	}
	return nil
}

// nicRulesOver checks the NIC-wide rule total of each of g's members ms,
// with g as changed and every other group of theirs as get reads it (nil:
// not found; each is read once): why the first over the quota is, or nil.
func nicRulesOver(g *model.SecurityGroup, ms []*model.Instance, lists model.Lists, get func(id string) (*model.SecurityGroup, error)) (*ecserr.Error, error) {
	others := map[string]*model.SecurityGroup{g.ID: g}
	var sets groupSets
	for _, in := range ms {
		if sets.checked(in.SecurityGroups) {
			continue
		}
		var groups []*model.SecurityGroup
		for _, id := range in.SecurityGroups {
			other, seen := others[id]
			if !seen {
				var err error
				if other, err = get(id); err != nil {
					return nil, err
				}
				others[id] = other
			}
			if other != nil {
				groups = append(groups, other)
			}
		}
		if e := model.CheckNICRules(in.ID, groups, lists); e != nil {
			return e, nil
		}
	}
	return nil, nil
}

// Authorize adds rules to a group (AuthorizeSecurityGroup and its Egress
// twin). A rule identical to an existing one adds nothing (its description
// is updated when one is given).
func (s *Service) Authorize(ctx context.Context, in RulesInput) error {
	c, dir := in.Caller, in.Direction
	if err := checkPermissionCount(&in, false); err != nil {
		return err
	}
	_, err := Update(s, ctx, c, ruleAction("Authorize", dir), in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		g, err := GetGroup(tx, c, in.SecurityGroupID)
		if err != nil {
			return struct{}{}, err
		}
		seen := map[string]bool{}
		for i, p := range in.Permissions {
			r, err := resolveRule(tx, c, g, dir, p, in.number(i))
			if err != nil {
				return struct{}{}, err
			}
			key := r.Key()
			if seen[key] {
				return struct{}{}, ecserr.BadRequest("InvalidParam.DuplicatePermissions", "%s repeats an earlier rule of the same request.", in.permissionName(i))
			}
			seen[key] = true
			if j := heldRule(g.Rules, &r, key); j >= 0 {
				if r.Description != "" {
					g.Rules[j].Description = r.Description
				}
				continue
			}
			r.ID, r.Created = model.NewID("sgr"), s.Now()
			g.Rules = append(g.Rules, r)
		}
		if err := checkQuotas(tx, c, g); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, PutGroup(tx, g)
	})
	return err
}

// RuleMatch is how Authorize takes one input: the key (model.Rule.Key) of
// the rule it makes, "" for one it would refuse, and the ID of the group's
// rule it repeats, which Authorize does not add again (it takes only a
// description given), "" for one it adds.
type RuleMatch struct{ Key, Held string }

// RuleMatches resolves ins in the caller's group as Authorize does (a peer
// group's owner too): by them a preview tells which of the rules a dry run
// added came from which input, and a row that adds nothing from one that
// adds a rule.
func (s *Service) RuleMatches(ctx context.Context, c Caller, groupID string, dir model.Direction, ins []model.RuleInput) ([]RuleMatch, error) {
	return View(s, ctx, func(tx store.ReadTx) ([]RuleMatch, error) {
		g, err := GetGroup(tx, c, groupID)
		if err != nil {
			return nil, err
		}
		out := make([]RuleMatch, len(ins))
		for i, in := range ins {
			r, err := resolveRule(tx, c, g, dir, in, i+1)
			if err != nil {
				continue
			}
			out[i].Key = r.Key()
			if j := heldRule(g.Rules, &r, out[i].Key); j >= 0 {
				out[i].Held = g.Rules[j].ID
			}
		}
		return out, nil
	})
}

// Revoke removes rules named by RuleIDs or by their fields (Permissions),
// never both (RevokeSecurityGroup and its Egress twin).
func (s *Service) Revoke(ctx context.Context, in RulesInput) error {
	c, dir := in.Caller, in.Direction
	if err := checkPermissionCount(&in, len(in.RuleIDs) > 0); err != nil {
		return err
	}
	if len(in.RuleIDs) > 0 && len(in.Permissions) > 0 {
		return ecserr.BadRequest("InvalidParam.Permissions", "Give SecurityGroupRuleId.N or Permissions, not both.")
	}
	if len(in.RuleIDs) > model.MaxPermissionsPerAPI {
		return ecserr.BadRequest("InvalidParam.SecurityGroupRuleId", "At most %d SecurityGroupRuleId.N per call.", model.MaxPermissionsPerAPI)
	}
	_, err := Update(s, ctx, c, ruleAction("Revoke", dir), in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		g, err := GetGroup(tx, c, in.SecurityGroupID)
		if err != nil {
			return struct{}{}, err
		}
		drop := map[string]bool{}
		for _, id := range in.RuleIDs {
			if drop[id] {
				return struct{}{}, ecserr.BadRequest("InvalidParam.SecurityGroupRuleIdRepeated", "SecurityGroupRuleId %s is given more than once.", id)
			}
			if !slices.ContainsFunc(g.Rules, func(r model.Rule) bool { return r.ID == id && r.Direction == dir }) && !s.LenientRevoke {
				return struct{}{}, ecserr.New(http.StatusNotFound, "InvalidSecurityGroupRuleId.NotFound", "Security group %s has no %s rule %s.", g.ID, dir, id)
			}
			drop[id] = true
		}
		seen := map[string]bool{}
		for i, p := range in.Permissions {
			r, err := resolveRule(tx, c, g, dir, p, in.number(i))
			if err != nil {
				return struct{}{}, err
			}
			key := r.Key()
			// As in Authorize: ECS refuses a request naming a rule twice.
			if seen[key] {
				return struct{}{}, ecserr.BadRequest("InvalidParam.DuplicatePermissions", "%s repeats an earlier rule of the same request.", in.permissionName(i))
			}
			seen[key] = true
			j := heldRule(g.Rules, &r, key)
			if j < 0 {
				if s.LenientRevoke {
					continue
				}
				return struct{}{}, ecserr.BadRequest("InvalidSecurityGroupRule.RuleNotExist", "Security group %s has no rule matching %s; rules match on protocol, ports, peer, policy and priority (default 1). DescribeSecurityGroupAttribute lists them.", g.ID, describeInput(&in, i))
			}
			drop[g.Rules[j].ID] = true
		}
		g.Rules = slices.DeleteFunc(g.Rules, func(r model.Rule) bool { return drop[r.ID] })
		return struct{}{}, PutGroup(tx, g)
	})
	return err
}

// sameKey reports whether rule o has r's Key, key: it compares the fields
// the key spells as they are (enums and numbers, never holding the key's
// separator; the port range follows three enums in the key, so its text
// and with it the range must be equal) before making o's key, which most
// rules of a group fail.
func sameKey(o, r *model.Rule, key string) bool {
	return o.Direction == r.Direction && o.Protocol == r.Protocol && o.Policy == r.Policy &&
		o.Priority == r.Priority && o.NicType == r.NicType && o.PortRange == r.PortRange && o.Key() == key
}

// heldRule is the index in rules of the rule r (of key key) repeats, -1
// if none.
func heldRule(rules []model.Rule, r *model.Rule, key string) int {
	return slices.IndexFunc(rules, func(o model.Rule) bool { return sameKey(&o, r, key) })
}

// describeInput names Permissions[i] of in for a message.
func describeInput(in *RulesInput, i int) string {
	if len(in.Permissions) == 1 {
		return "the given rule"
	}
	return in.permissionName(i)
}

// ModifyRuleInput changes one rule of a group.
type ModifyRuleInput struct {
	Caller          Caller
	SecurityGroupID string
	Direction       model.Direction
	// RuleID names the rule; Changes are the fields to change (empty ones
	// stay). Without RuleID the rule is the one Changes match, and only its
	// Description changes (the legacy form).
	RuleID      string
	Changes     model.RuleInput
	Idempotency `json:"-"`
}

// ModifyRule changes a rule in place (ModifySecurityGroupRule and
// ModifySecurityGroupEgressRule). With RuleID any field may change except
// the kind of peer and the NicType.
func (s *Service) ModifyRule(ctx context.Context, in ModifyRuleInput) error {
	c, dir := in.Caller, in.Direction
	action := "ModifySecurityGroupRule"
	if dir == model.Egress {
		action = "ModifySecurityGroupEgressRule"
	}
	_, err := Update(s, ctx, c, action, in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		g, err := GetGroup(tx, c, in.SecurityGroupID)
		if err != nil {
			return struct{}{}, err
		}
		if id := in.RuleID; id != "" {
			j := slices.IndexFunc(g.Rules, func(r model.Rule) bool { return r.ID == id && r.Direction == dir })
			if j < 0 {
				return struct{}{}, ecserr.New(http.StatusNotFound, "InvalidSecurityGroupRuleId.NotFound", "Security group %s has no %s rule %s.", g.ID, dir, id)
			}
			old := g.Rules[j]
			merged, err := overlay(old, in.Changes, g.Owner)
			if err != nil {
				return struct{}{}, err
			}
			r, err := resolveRule(tx, c, g, dir, merged, 0)
			if err != nil {
				return struct{}{}, err
			}
			if r.NicType != old.NicType {
				return struct{}{}, ecserr.BadRequest("InvalidOperation.ModifyNicType", "The NicType of a rule cannot change; revoke it and authorize a new one.")
			}
			for k, o := range g.Rules {
				if k != j && o.Key() == r.Key() {
					return struct{}{}, ecserr.BadRequest("InvalidOperation.RuleDuplicate", "The modified rule would duplicate rule %s.", o.ID)
				}
			}
			r.ID, r.Created = old.ID, old.Created
			g.Rules[j] = r
		} else {
			r, err := resolveRule(tx, c, g, dir, in.Changes, 0)
			if err != nil {
				return struct{}{}, err
			}
			j := slices.IndexFunc(g.Rules, func(o model.Rule) bool { return o.Key() == r.Key() })
			if j < 0 {
				return struct{}{}, ecserr.New(http.StatusNotFound, "SecurityGroupRule.NotFound", "Security group %s has no rule with these fields; give SecurityGroupRuleId to change other fields than Description.", g.ID)
			}
			g.Rules[j].Description = r.Description
		}
		if err := checkQuotas(tx, c, g); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, PutGroup(tx, g)
	})
	return err
}

// overlay applies the fields of a rule change to an existing rule of a
// group of account groupOwner. The kind of peer may not change.
func overlay(old model.Rule, next model.RuleInput, groupOwner string) (model.RuleInput, error) {
	in := InputOfRule(&old)
	// A peer of the group's own account that the client did not name stays
	// unnamed (InputOfRule names every owner), so it still reads back without one.
	if !old.Peer.OwnerNamed && old.Peer.GroupOwner == groupOwner {
		in.SourceGroupOwnerId, in.DestGroupOwnerId = "", ""
	}
	// A rule stored before the canonical form was enforced (a CIDR with
	// host bits, a description with control characters) must still be
	// modifiable: its stored fields are brought to that form first.
	model.Canonicalize(&in)
	cur := peerKind(in, old.Direction)
	merge := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	merge(&in.Policy, next.Policy)
	merge(&in.Priority, next.Priority)
	merge(&in.IpProtocol, next.IpProtocol)
	// A rule keeps its kind of ports: a range or a port range list.
	if old.PortRangeListID != "" && next.PortRange != "" || old.PortRangeListID == "" && next.PortRangeListId != "" && next.PortRange == "" {
		return in, ecserr.BadRequest("InvalidOperation.ModifyPortRangeType", "Rule %s cannot switch between PortRange and PortRangeListId; revoke it and authorize a new rule.", old.ID)
	}
	merge(&in.PortRange, next.PortRange)
	merge(&in.PortRangeListId, next.PortRangeListId)
	merge(&in.SourcePortRange, next.SourcePortRange)
	merge(&in.NicType, next.NicType)
	merge(&in.Description, next.Description)
	// The peer group's owner is one value, named by ID or by account: a
	// change that names it replaces the stored one (kept as an ID), which
	// would otherwise win over an account the request gives.
	if next.SourceGroupOwnerAccount != "" || next.SourceGroupOwnerId != "" {
		in.SourceGroupOwnerAccount, in.SourceGroupOwnerId = "", ""
	}
	if next.DestGroupOwnerAccount != "" || next.DestGroupOwnerId != "" {
		in.DestGroupOwnerAccount, in.DestGroupOwnerId = "", ""
	}
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

// InputOfRule turns a stored rule back into the fields ECS requests and
// responses give it.
func InputOfRule(r *model.Rule) model.RuleInput {
	in := model.RuleInput{Policy: string(r.Policy), Priority: strconv.Itoa(r.Priority), IpProtocol: string(r.Protocol),
		PortRange: r.PortRange.String(), PortRangeListId: r.PortRangeListID, SourcePortRange: r.SourcePortRange.String(), NicType: string(r.NicType), Description: r.Description}
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
