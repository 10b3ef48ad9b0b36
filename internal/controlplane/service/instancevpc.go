package service

import (
	"context"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// InstanceVpcInput is a ModifyInstanceVpcAttribute request: a stopped VPC
// instance moves to VSwitchID (in its zone), at PrivateIP or a free
// address there; with VpcID, to another VPC of the caller, with the groups
// SecurityGroupIDs of that VPC.
type InstanceVpcInput struct {
	Caller           Caller
	InstanceID       string
	VSwitchID        string // required
	PrivateIP        string // optional: a free address of the vSwitch
	VpcID            string // optional: the VPC to move to
	SecurityGroupIDs []string
	Idempotency      `json:"-"`
}

// ModifyInstanceVpcAttribute changes a stopped VPC instance's vSwitch,
// private address, VPC or groups, as ECS documents it. The new address is
// the instance's (its primary ENI's): the agents and the group-membership
// sets follow it from the instance's record, as for any address change.
// Secondary addresses and an IPv6 address belong to the old vSwitch's
// blocks, and a secondary ENI to the old VPC: the instance must have none
// to move to another vSwitch (ECS refuses the same to a VPC change).
func (s *Service) ModifyInstanceVpcAttribute(ctx context.Context, in InstanceVpcInput) error {
	c := in.Caller
	if in.VSwitchID == "" {
		return ecserr.MissingParameter("VSwitchId")
	}
	var pinned netip.Addr
	if in.PrivateIP != "" {
		var err error
		if pinned, err = parsePinnedIP(in.PrivateIP); err != nil {
			return err
		}
	}
	if in.VpcID != "" && len(in.SecurityGroupIDs) == 0 {
		return ecserr.MissingParameter("SecurityGroupId.N")
	}
	if err := checkRepeats(in.SecurityGroupIDs); err != nil {
		return err
	}
	if len(in.SecurityGroupIDs) > model.MaxGroupsPerInstance {
		return ecserr.BadRequest("JoinedGroupLimitExceed", "SecurityGroupId.N names %d security groups; an instance is in at most %d.", len(in.SecurityGroupIDs), model.MaxGroupsPerInstance)
	}
	_, err := Update(s, ctx, c, "ModifyInstanceVpcAttribute", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		inst, err := GetInstance(tx, c, in.InstanceID)
		if err != nil {
			return struct{}{}, err
		}
		if inst.Classic() {
			return struct{}{}, ecserr.BadRequest("OperationDenied", "Instance %s is on the classic network; ModifyInstanceVpcAttribute changes VPC instances only.", inst.ID)
		}
		if inst.Status != model.StatusStopped {
			return struct{}{}, ecserr.Forbidden("IncorrectInstanceStatus", "Instance %s is %s; stop it first (StopInstance), then change its VPC attributes.", inst.ID, inst.Status)
		}
		w, err := getVSwitch(tx, c, in.VSwitchID)
		if err != nil {
			return struct{}{}, err
		}
		vpcID := inst.VpcID
		if in.VpcID != "" {
			v, err := getVPC(tx, c, in.VpcID)
			if err != nil {
				return struct{}{}, err
			}
			vpcID = v.ID
		}
		switch {
		case w.VpcID != vpcID:
			return struct{}{}, ecserr.NotFound("InvalidVSwitchId.NotFound", "vSwitch "+w.ID+" in VPC "+vpcID).At("VSwitchId")
		case w.Zone != inst.Zone:
			return struct{}{}, ecserr.BadRequest("InvalidVSwitchId.Mismatch", "vSwitch %s is in zone %s and instance %s in %s; give a vSwitch of the instance's zone.", w.ID, w.Zone, inst.ID, inst.Zone)
		}
		moving := w.ID != inst.VSwitchID
		if moving {
			enis, err := enisOf(tx, c, inst.ID)
			if err != nil {
				return struct{}{}, err
			}
			switch {
			case len(enis) > 0:
				return struct{}{}, ecserr.Forbidden("InvalidOperation.EniAttached", "Instance %s has secondary network interfaces attached (%s); detach them before moving it to another vSwitch.", inst.ID, enis[0].ID)
			case len(inst.SecondaryIPs) > 0:
				return struct{}{}, ecserr.Forbidden("InvalidOperation.HasSecondaryIp", "Instance %s has secondary private addresses; unassign them (UnassignPrivateIpAddresses) before moving it to another vSwitch.", inst.ID)
			case inst.IPv6.IsValid():
				return struct{}{}, ecserr.Forbidden("InvalidOperation.HasIpv6", "Instance %s has IPv6 addresses; unassign them (UnassignIpv6Addresses) before moving it to another vSwitch.", inst.ID)
			}
		}
		var taken map[netip.Addr]bool
		if moving || pinned.IsValid() { // else it keeps its own address: nothing to check
			if taken, _, err = vswitchTaken(tx, c, w.ID); err != nil {
				return struct{}{}, err
			}
		}
		addr := pinned
		switch {
		case addr.IsValid():
			// Its own address is not taken from it when it stays.
			if err := checkPinnedIP(addr, w.CIDR, "vSwitch "+w.ID, taken[addr] && (moving || addr != inst.PrivateIP)); err != nil {
				return struct{}{}, err
			}
		case moving:
			var ok bool
			if addr, ok = allocateAddr(w.CIDR, taken); !ok {
				return struct{}{}, ecserr.BadRequest("InvalidVSwitchId.IpNotEnough", "vSwitch %s has no free private address left; use another vSwitch.", w.ID)
			}
		default:
			addr = inst.PrivateIP // the same vSwitch, no address: it keeps its own
		}
		inst.VpcID, inst.VSwitchID, inst.PrivateIP = vpcID, w.ID, addr
		if len(in.SecurityGroupIDs) > 0 { // checked against the new VPC
			if err := setGroups(tx, c, inst, slices.Clone(in.SecurityGroupIDs), 1, modifyFull); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, PutInstance(tx, inst)
	})
	return err
}
