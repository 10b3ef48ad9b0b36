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
// caller stores the instance.
func setGroups(tx store.ReadTx, c Caller, in *model.Instance, ids []string, joining int) error {
	fits := func(groups []*model.SecurityGroup) *ecserr.Error { return model.CheckInstanceGroups(in, groups) }
	over := func(g *model.SecurityGroup, members, limit int) error {
		return ecserr.Forbidden("SecurityGroupInstanceLimitExceeded", "Security group %s has %d members; %d more would exceed its limit of %d.", g.ID, members, joining, limit)
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
	// eniMembership).
	NetworkInterfaceID string
	Idempotency        `json:"-"`
}

// membershipTarget loads the instance of a Join or Leave.
func membershipTarget(tx store.ReadTx, in *MembershipInput) (*model.Instance, error) {
	inst, err := GetInstance(tx, in.Caller, in.InstanceID)
	if err != nil {
		return nil, err
	}
	if inst.Status != model.StatusRunning && inst.Status != model.StatusStopped {
		return nil, ecserr.Forbidden("IncorrectInstanceStatus", "Instance %s is %s; it must be Running or Stopped.", inst.ID, inst.Status)
	}
	return inst, nil
}

// JoinSecurityGroup adds an instance to a group.
func (s *Service) JoinSecurityGroup(ctx context.Context, in MembershipInput) error {
	if in.NetworkInterfaceID != "" {
		return s.eniMembership(ctx, in, true)
	}
	_, err := Update(s, ctx, in.Caller, "JoinSecurityGroup", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := membershipTarget(tx, &in)
		if err != nil {
			return struct{}{}, err
		}
		c := Caller{Account: in.Caller.Account, Region: inst.Region}
		g, err := GetGroup(tx, c, in.SecurityGroupID)
		if err != nil {
			return struct{}{}, err
		}
		if slices.Contains(inst.SecurityGroups, g.ID) {
			return struct{}{}, ecserr.Forbidden("InvalidInstanceId.AlreadyExists", "Instance %s is already in security group %s.", inst.ID, g.ID)
		}
		if len(inst.SecurityGroups) >= model.MaxGroupsPerInstance {
			return struct{}{}, ecserr.BadRequest("InstanceSecurityGroupLimitExceeded", "Instance %s is already in %d security groups, the limit.", inst.ID, len(inst.SecurityGroups))
		}
		if first, err := GetGroup(tx, c, inst.SecurityGroups[0]); err == nil && first.Type != g.Type {
			return struct{}{}, ecserr.BadRequest("InvalidOperation.MultiGroupType", "Instance %s is in %s groups and cannot join %s group %s.", inst.ID, first.Type, g.Type, g.ID)
		}
		if g.VpcID != inst.VpcID {
			return struct{}{}, ecserr.BadRequest("InvalidInstanceId.Mismatch", "Security group %s and instance %s are not in the same VPC or network type.", g.ID, inst.ID)
		}
		if err := setGroups(tx, c, inst, append(slices.Clone(inst.SecurityGroups), g.ID), 1); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}

// LeaveSecurityGroup removes an instance from a group; the last group stays.
func (s *Service) LeaveSecurityGroup(ctx context.Context, in MembershipInput) error {
	if in.NetworkInterfaceID != "" {
		return s.eniMembership(ctx, in, false)
	}
	_, err := Update(s, ctx, in.Caller, "LeaveSecurityGroup", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := membershipTarget(tx, &in)
		if err != nil {
			return struct{}{}, err
		}
		c := Caller{Account: in.Caller.Account, Region: inst.Region}
		g, err := GetGroup(tx, c, in.SecurityGroupID)
		if err != nil {
			return struct{}{}, err
		}
		i := slices.Index(inst.SecurityGroups, g.ID)
		if i < 0 {
			if s.LenientRevoke {
				return struct{}{}, nil
			}
			return struct{}{}, ecserr.BadRequest("InvalidSecurityGroupAssociation.NotFound", "Instance %s is not in security group %s.", inst.ID, g.ID)
		}
		if len(inst.SecurityGroups) == 1 {
			return struct{}{}, ecserr.Forbidden("InstanceLastSecurityGroup", "Security group %s is the last group of instance %s; an instance must stay in at least one group. Join another group first.", g.ID, inst.ID)
		}
		inst.SecurityGroups = slices.Delete(slices.Clone(inst.SecurityGroups), i, i+1)
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}
