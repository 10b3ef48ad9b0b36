package model

import (
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Quotas (ECS defaults).
const (
	MaxRulesPerGroup     = 200 // rules of both directions in one group
	MaxRulesPerNIC       = 1000
	MaxGroupsPerInstance = 5
	MaxGroupPeerRules    = 20 // rules of a basic group whose peer is a group
	MaxGroupsPerRegion   = 100
	MaxPermissionsPerAPI = 100
	MaxPrefixListEntries = 200
	MaxPrefixListsRegion = 100
	MaxPrefixListUses    = 1000
	MaxGroupMembers      = 2000 // instances in a basic group
	MaxEnterpriseMembers = 65536
)

// Lists looks up the lists rules may name, for their weight against the
// rule quotas. A nil func, or a list it does not find, weighs 1.
type Lists struct {
	Prefix func(id string) *PrefixList
	Ports  func(id string) *PortRangeList
}

// Weight is what a rule counts against the rule quotas: a rule naming a
// prefix list or a port range list counts as the list's MaxEntries (its
// capacity, not its entries), one naming both as both lists' capacities
// less the one rule they share.
func Weight(r *Rule, lists Lists) int {
	w := 1
	if !r.NamesList() {
		return w
	}
	if id := r.Peer.PrefixListID; id != "" && lists.Prefix != nil {
		if pl := lists.Prefix(id); pl != nil {
			w += pl.MaxEntries - 1
		}
	}
	if id := r.PortRangeListID; id != "" && lists.Ports != nil {
		if l := lists.Ports(id); l != nil {
			w += l.MaxEntries - 1
		}
	}
	return w
}

// NamesList reports whether r names a prefix list or a port range list:
// only such a rule can weigh more than 1 (Weight).
func (r *Rule) NamesList() bool { return r.Peer.PrefixListID != "" || r.PortRangeListID != "" }

// RuleCount is a group's weight against the rule quotas: the sum of its
// rules' Weight.
func RuleCount(g *SecurityGroup, lists Lists) int {
	n := 0
	for i := range g.Rules {
		n += Weight(&g.Rules[i], lists)
	}
	return n
}

// CheckGroupPeer checks that group g may name peer as the peer of a rule in
// direction dir. A group may name itself: under InnerAccessPolicy Drop that
// is how members are let in to each other on chosen ports.
func CheckGroupPeer(g, peer *SecurityGroup, dir Direction) *ecserr.Error {
	side := "Source"
	if dir == Egress {
		side = "Dest"
	}
	field := side + "GroupId"
	switch {
	case g.Type == Enterprise:
		return ecserr.BadRequest("InvalidGroupParameter.OperationDenied", "Enterprise security group %s cannot use security groups as rule peers; use CIDR blocks or prefix lists.", g.ID).At(field)
	case peer.Type == Enterprise:
		return ecserr.BadRequest("InvalidGroupAuthParameter.OperationDenied", "Enterprise security group %s cannot be named as a rule peer.", peer.ID).At(field)
	case g.Classic() != peer.Classic():
		return ecserr.Forbidden("InvalidNetworkType.Mismatch", "Security groups %s and %s are of different network types (classic and VPC); a rule can only name a group of its own network type.", g.ID, peer.ID).At(field)
	case !g.Classic() && g.VpcID != peer.VpcID:
		return ecserr.BadRequest("Invalid"+side+"GroupId.Mismatch", "Security group %s is not in %s: a VPC group can only name groups of the same VPC.", peer.ID, g.VpcID).At(field)
	}
	return nil
}

// CheckPrefixListPeer checks that a rule's address family matches its
// prefix list's.
func CheckPrefixListPeer(r *Rule, pl *PrefixList, dir Direction) *ecserr.Error {
	if r.Local.IsValid() && r.Local.Addr().Is6() != (pl.AddressFamily == "IPv6") ||
		r.Protocol == ICMP && pl.AddressFamily == "IPv6" || r.Protocol == ICMPv6 && pl.AddressFamily == "IPv4" {
		side := "Source"
		if dir == Egress {
			side = "Dest"
		}
		return ecserr.BadRequest("InvalidParam.PrefixListAddressFamilyMismatch", "Prefix list %s is %s and does not match the rule's address family.", pl.ID, pl.AddressFamily).At(side + "PrefixListId")
	}
	return nil
}

// CheckRuleQuotas checks a group's rules after a change against the group's
// quotas.
func CheckRuleQuotas(g *SecurityGroup, lists Lists) *ecserr.Error {
	if n := RuleCount(g, lists); n > MaxRulesPerGroup {
		return ecserr.Forbidden("AuthorizationLimitExceed", "Security group %s would hold %d rules; a group holds at most %d (a rule naming a prefix list or port range list counts as the list's MaxEntries). Revoke rules, use lists with a smaller MaxEntries, or use another group.", g.ID, n, MaxRulesPerGroup)
	}
	if g.Type == Normal && g.GroupPeerRules() > MaxGroupPeerRules {
		return ecserr.BadRequest("AuthorizedGroupRule.LimitExceed", "Security group %s would hold more than %d rules whose peer is a security group, the most a basic group holds. Revoke such rules, or name those peers by CIDR block or prefix list.", g.ID, MaxGroupPeerRules)
	}
	return nil
}

// CheckNICRules checks the rule total of a NIC's groups, each rule at its
// Weight.
func CheckNICRules(inst string, groups []*SecurityGroup, lists Lists) *ecserr.Error {
	n := 0
	for _, g := range groups {
		n += RuleCount(g, lists)
	}
	if n > MaxRulesPerNIC {
		return ecserr.Forbidden("AclLimitExceed", "Instance %s would be governed by %d rules across its groups (a rule naming a list counts as the list's MaxEntries); the limit is %d. Revoke rules in its groups, use lists with a smaller MaxEntries, or put it in fewer groups.", inst, n, MaxRulesPerNIC)
	}
	return nil
}

// CheckInstanceGroups checks a full group set for an instance: 1 to 5 groups,
// no repeats, all of one type, all in the instance's network and VPC.
func CheckInstanceGroups(in *Instance, groups []*SecurityGroup) *ecserr.Error {
	if e := checkGroupSet("Instance", in.ID, MaxGroupsPerInstance, groups); e != nil {
		return e
	}
	for _, g := range groups {
		if g.VpcID != in.VpcID {
			if g.Classic() != in.Classic() {
				return ecserr.BadRequest("InvalidInstanceId.Mismatch", "Security group %s and instance %s are of different network types.", g.ID, in.ID)
			}
			return ecserr.New(404, "InvalidSecurityGroupVpc.NotBelongToOneVpc", "Security group %s is in %s but instance %s is in %s; groups must be in the instance's VPC.", g.ID, g.VpcID, in.ID, in.VpcID)
		}
	}
	return nil
}

// checkGroupSet checks what a NIC's group set must be whatever the NIC:
// 1 to max groups, no repeats, all of one type. what names the NIC in the
// messages ("Instance", "Network interface").
func checkGroupSet(what, id string, max int, groups []*SecurityGroup) *ecserr.Error {
	if len(groups) == 0 {
		return ecserr.Forbidden("InvalidOperation.AtLeastInOneGroup", "%s %s must belong to at least one security group.", what, id)
	}
	if len(groups) > max {
		return ecserr.BadRequest("JoinedGroupLimitExceed", "%s %s would be in %d security groups; the limit is %d.", what, id, len(groups), max)
	}
	seen := map[string]bool{}
	for _, g := range groups {
		if seen[g.ID] {
			return ecserr.New(404, "InvalidParameter.SecurityGroupIdRepeated", "Security group %s is given more than once.", g.ID)
		}
		seen[g.ID] = true
		if g.Type != groups[0].Type {
			return ecserr.Forbidden("EnterpriseGroupLimited.MutliGroupType", "%s %s cannot be in basic and enterprise security groups at once.", what, id)
		}
	}
	return nil
}
