package service

import (
	"context"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// setGroups checks and sets an instance's whole group set: the groups exist
// in the caller's account, the set fits the instance (count, type, VPC), the
// rule total of the NIC stays within its quota, and no group overflows its
// member limit when joining instances (like this one) join it at once. The
// caller stores the instance. full is the code of the refusal of a full
// group: the actions spell it differently (ModifyInstanceAttribute without
// the trailing d).
func setGroups(tx store.ReadTx, c Caller, in *model.Instance, ids []string, joining int, full string) error {
	fits := func(groups []*model.SecurityGroup) *ecserr.Error { return model.CheckInstanceGroups(in, groups) }
	over := func(g *model.SecurityGroup, members, limit int) error {
		return ecserr.Forbidden(full, "Security group %s has %d members; %d more would exceed its limit of %d.", g.ID, members, joining, limit)
	}
	if err := checkGroupSet(tx, c, in.ID, in.SecurityGroups, ids, joining, fits, over); err != nil {
		return err
	}
	in.SecurityGroups = ids
	return nil
}

// checkGroupSet holds the checks setGroups and setENIGroups share for the
// group set ids of the NIC nicID, which is now in the groups current: the
// groups exist, fits accepts them, the NIC's rule total stays within its
// quota, and every group it newly joins has room for joining more members
// (over reports one that does not; the two callers word it as ECS does).
func checkGroupSet(tx store.ReadTx, c Caller, nicID string, current, ids []string, joining int,
	fits func([]*model.SecurityGroup) *ecserr.Error, over func(g *model.SecurityGroup, members, limit int) error) error {
	var groups []*model.SecurityGroup
	for _, id := range ids {
		g, err := GetGroup(tx, c, id)
		if err != nil {
			return err
		}
		groups = append(groups, g)
	}
	if e := fits(groups); e != nil {
		return e
	}
	if e := model.CheckNICRules(nicID, groups, listsOf(tx)); e != nil {
		return e
	}
	for _, g := range groups {
		if slices.Contains(current, g.ID) {
			continue
		}
		ms, err := members(tx, c, g.ID)
		if err != nil {
			return err
		}
		if limit := model.MemberLimit(g.Type); len(ms)+joining > limit {
			return over(g, len(ms), limit)
		}
	}
	return nil
}

// MembershipInput names an instance and a group. The region is the
// instance's: the caller's may be empty.
type MembershipInput struct {
	Caller          Caller
	InstanceID      string
	SecurityGroupID string
	// NetworkInterfaceID names an ENI instead of the instance (see
	// membership).
	NetworkInterfaceID string
	Idempotency        `json:"-"`
}

// The codes of a full group: JoinSecurityGroup's (RunInstances answers
// so too), and ModifyInstanceAttribute's, without the trailing d (the
// ENI calls answer so).
const (
	joinFull   = "SecurityGroupInstanceLimitExceeded"
	modifyFull = "SecurityGroupInstanceLimitExceed"
)

// mixedTypes refuses a join that would put a NIC, in groups, into g of
// another type, with JoinSecurityGroup's code (the group-set check names
// the mix with ModifyInstanceAttribute's).
func mixedTypes(tx store.ReadTx, c Caller, nic, id string, groups []string, g *model.SecurityGroup) error {
	if len(groups) == 0 {
		return nil
	}
	if first, err := GetGroup(tx, c, groups[0]); err == nil && first.Type != g.Type {
		return ecserr.BadRequest("InvalidOperation.MultiGroupType", "%s %s is in %s groups and cannot join %s group %s.", nic, id, first.Type, g.Type, g.ID)
	}
	return nil
}

// JoinSecurityGroup adds an instance, or an ENI, to a group.
func (s *Service) JoinSecurityGroup(ctx context.Context, in MembershipInput) error {
	return s.membership(ctx, in, true)
}

// LeaveSecurityGroup removes an instance, or an ENI, from a group; the last
// group stays.
func (s *Service) LeaveSecurityGroup(ctx context.Context, in MembershipInput) error {
	return s.membership(ctx, in, false)
}

// membership runs a Join or a Leave on the instance named or on the ENI
// named. A primary ENI is its instance's NIC: it takes the instance's path,
// with the same checks and the same errors; a secondary ENI its own
// (eniMembership). ECS requires RegionId in the ENI form; Palisade takes the
// ENI's region, as for an instance, so a caller without one is not refused.
func (s *Service) membership(ctx context.Context, in MembershipInput, join bool) error {
	action := "LeaveSecurityGroup"
	if join {
		action = "JoinSecurityGroup"
	}
	if in.InstanceID != "" && in.NetworkInterfaceID != "" {
		return ecserr.Forbidden("InvalidParam.EniIdAndInstanceId.Conflict", "Give InstanceId or NetworkInterfaceId, not both.")
	}
	_, err := Update(s, ctx, in.Caller, action, in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		id := in.InstanceID
		if in.NetworkInterfaceID != "" {
			n, err := GetENI(tx, in.Caller, in.NetworkInterfaceID)
			if err != nil {
				return struct{}{}, err
			}
			if n.Type != model.ENIPrimary {
				return struct{}{}, s.eniMembership(tx, in.Caller, n, in.SecurityGroupID, join)
			}
			id = n.InstanceID
		}
		return struct{}{}, s.instanceMembership(tx, in.Caller, id, in.SecurityGroupID, join)
	})
	return err
}

// instanceMembership adds an instance to a group, or removes it from one.
func (s *Service) instanceMembership(tx store.Tx, caller Caller, instanceID, groupID string, join bool) error {
	inst, err := GetInstance(tx, caller, instanceID)
	if err != nil {
		return err
	}
	if inst.Status != model.StatusRunning && inst.Status != model.StatusStopped {
		return ecserr.Forbidden("IncorrectInstanceStatus", "Instance %s is %s; it must be Running or Stopped.", inst.ID, inst.Status)
	}
	c := Caller{Account: caller.Account, Region: inst.Region}
	g, err := GetGroup(tx, c, groupID)
	if err != nil {
		return err
	}
	i := slices.Index(inst.SecurityGroups, g.ID)
	switch {
	case join && i >= 0:
		return ecserr.Forbidden("InvalidInstanceId.AlreadyExists", "Instance %s is already in security group %s.", inst.ID, g.ID)
	case join && len(inst.SecurityGroups) >= model.MaxGroupsPerInstance:
		return ecserr.BadRequest("InstanceSecurityGroupLimitExceeded", "Instance %s is already in %d security groups, the limit.", inst.ID, len(inst.SecurityGroups))
	case join:
		if err := mixedTypes(tx, c, "Instance", inst.ID, inst.SecurityGroups, g); err != nil {
			return err
		}
		if g.VpcID != inst.VpcID {
			return ecserr.BadRequest("InvalidInstanceId.Mismatch", "Security group %s and instance %s are not in the same VPC or network type.", g.ID, inst.ID)
		}
		if err := setGroups(tx, c, inst, append(slices.Clone(inst.SecurityGroups), g.ID), 1, joinFull); err != nil {
			return err
		}
	case i < 0 && s.LenientRevoke:
		return nil
	case i < 0:
		return ecserr.BadRequest("InvalidSecurityGroupAssociation.NotFound", "Instance %s is not in security group %s.", inst.ID, g.ID)
	case len(inst.SecurityGroups) == 1:
		return ecserr.Forbidden("InstanceLastSecurityGroup", "Security group %s is the last group of instance %s; an instance must stay in at least one group. Join another group first.", g.ID, inst.ID)
	default:
		inst.SecurityGroups = slices.Delete(slices.Clone(inst.SecurityGroups), i, i+1)
	}
	return PutInstance(tx, inst)
}
