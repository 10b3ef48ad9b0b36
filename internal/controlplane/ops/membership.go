package ops

import (
	"context"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) membershipActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"JoinSecurityGroup":  s.JoinSecurityGroup,
		"LeaveSecurityGroup": s.LeaveSecurityGroup,
	}
}

// setGroups checks and sets an instance's whole group set: the groups exist
// in the caller's account, the set fits the instance (count, type, VPC), the
// rule total of the NIC stays within its quota, and no group overflows its
// member limit when joining instances (like this one) join it at once. The
// caller stores the instance.
func setGroups(tx store.ReadTx, c caller, in *model.Instance, ids []string, joining int) error {
	var groups []*model.SecurityGroup
	for _, id := range ids {
		g, err := getGroup(tx, c, id)
		if err != nil {
			return err
		}
		groups = append(groups, g)
	}
	if e := model.CheckInstanceGroups(in, groups); e != nil {
		return e
	}
	if e := model.CheckNICRules(in.ID, groups, prefixListsOf(tx, c)); e != nil {
		return e
	}
	for _, g := range groups {
		if slices.Contains(in.SecurityGroups, g.ID) {
			continue
		}
		ms, err := members(tx, c, g.ID)
		if err != nil {
			return err
		}
		limit := model.MemberLimit(g.Type)
		if len(ms)+joining > limit {
			return ecserr.Forbidden("SecurityGroupInstanceLimitExceeded", "Security group %s has %d members; %d more would exceed its limit of %d.", g.ID, len(ms), joining, limit)
		}
	}
	in.SecurityGroups = ids
	return nil
}

// membershipTarget reads InstanceId (ENIs are not modelled) for Join/Leave.
func membershipTarget(tx store.ReadTx, c caller, p rpc.Params) (*model.Instance, error) {
	if p.Has("NetworkInterfaceId") {
		if p.Has("InstanceId") {
			return nil, ecserr.Forbidden("InvalidParam.EniIdAndInstanceId.Conflict", "Give InstanceId or NetworkInterfaceId, not both.")
		}
		return nil, ecserr.NotFound("InvalidEniId.NotFound", "NetworkInterfaceId (Palisade models the primary NIC of each instance: use InstanceId)")
	}
	in, err := getInstance(tx, c, p.Get("InstanceId"))
	if err != nil {
		return nil, err
	}
	if in.Status != model.StatusRunning && in.Status != model.StatusStopped {
		return nil, ecserr.Forbidden("IncorrectInstanceStatus", "Instance %s is %s; it must be Running or Stopped.", in.ID, in.Status)
	}
	return in, nil
}

// JoinSecurityGroup adds an instance to a group.
func (s *Service) JoinSecurityGroup(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		in, err := membershipTarget(tx, c, req.Params)
		if err != nil {
			return nil, err
		}
		c := caller{Account: c.Account, Region: in.Region}
		g, err := getGroup(tx, c, req.Params.Get("SecurityGroupId"))
		if err != nil {
			return nil, err
		}
		if slices.Contains(in.SecurityGroups, g.ID) {
			return nil, ecserr.Forbidden("InvalidInstanceId.AlreadyExists", "Instance %s is already in security group %s.", in.ID, g.ID)
		}
		if len(in.SecurityGroups) >= model.MaxGroupsPerInstance {
			return nil, ecserr.BadRequest("InstanceSecurityGroupLimitExceeded", "Instance %s is already in %d security groups, the limit.", in.ID, len(in.SecurityGroups))
		}
		if first, err := getGroup(tx, c, in.SecurityGroups[0]); err == nil && first.Type != g.Type {
			return nil, ecserr.BadRequest("InvalidOperation.MultiGroupType", "Instance %s is in %s groups and cannot join %s group %s.", in.ID, first.Type, g.Type, g.ID)
		}
		if g.VpcID != in.VpcID {
			return nil, ecserr.BadRequest("InvalidInstanceId.Mismatch", "Security group %s and instance %s are not in the same VPC or network type.", g.ID, in.ID)
		}
		if err := setGroups(tx, c, in, append(slices.Clone(in.SecurityGroups), g.ID), 1); err != nil {
			return nil, err
		}
		return &rpc.Base{}, putInstance(tx, in)
	})
}

// LeaveSecurityGroup removes an instance from a group; the last group stays.
func (s *Service) LeaveSecurityGroup(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return update(s, ctx, c, req, func(tx store.Tx) (*rpc.Base, error) {
		in, err := membershipTarget(tx, c, req.Params)
		if err != nil {
			return nil, err
		}
		c := caller{Account: c.Account, Region: in.Region}
		g, err := getGroup(tx, c, req.Params.Get("SecurityGroupId"))
		if err != nil {
			return nil, err
		}
		i := slices.Index(in.SecurityGroups, g.ID)
		if i < 0 {
			if s.LenientRevoke {
				return &rpc.Base{}, nil
			}
			return nil, ecserr.BadRequest("InvalidSecurityGroupAssociation.NotFound", "Instance %s is not in security group %s.", in.ID, g.ID)
		}
		if len(in.SecurityGroups) == 1 {
			return nil, ecserr.Forbidden("InstanceLastSecurityGroup", "Security group %s is the last group of instance %s; an instance must stay in at least one group. Join another group first.", g.ID, in.ID)
		}
		in.SecurityGroups = slices.Delete(slices.Clone(in.SecurityGroups), i, i+1)
		return &rpc.Base{}, putInstance(tx, in)
	})
}
