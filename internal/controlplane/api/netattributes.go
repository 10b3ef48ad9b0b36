package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// The updates the alicloud Terraform provider makes after a create or on
// a change: the VPC product's ModifyVpcAttribute, ModifyVSwitchAttribute
// and MoveResourceGroup, and ECS's JoinResourceGroup.

// vpcAttributeActions are the VPC product's.
func (s *Service) vpcAttributeActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"ModifyVpcAttribute":         s.modifyVpcAttribute,
		"ModifyVSwitchAttribute":     s.modifyVSwitchAttribute,
		"MoveResourceGroup":          s.resourceGroup("NewResourceGroupId", vpcTagTypes),
		"ModifyRouteTableAttributes": s.modifyRouteTableAttributes,
		"DescribeZones":              s.describeZones,
	}
}

// resourceGroupActions are ECS's.
func (s *Service) resourceGroupActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{"JoinResourceGroup": s.resourceGroup("ResourceGroupId", ecsTagTypes)}
}

func (s *Service) modifyVpcAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyVpcInput{Caller: c, VpcID: p.Get("VpcId"), Name: p.Optional("VpcName"), Description: p.Optional("Description"),
		CidrBlock: p.Get("CidrBlock"), Idempotency: idempotency(req)}
	var e *ecserr.Error
	if in.EnableIPv6, e = p.OptionalBool("EnableIPv6"); e != nil {
		return nil, e
	}
	if v, e := p.Bool("EnableDnsHostname", false); e != nil {
		return nil, e
	} else if v {
		return nil, ecserr.BadRequest("OperationUnsupported.EnableDnsHostname", "Palisade has no DNS hostnames; leave EnableDnsHostname out.")
	}
	if in.VpcID == "" {
		return nil, ecserr.MissingParameter("VpcId")
	}
	if err := s.ModifyVpcAttribute(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

func (s *Service) modifyVSwitchAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyVSwitchInput{Caller: c, VSwitchID: p.Get("VSwitchId"), Name: p.Optional("VSwitchName"),
		Description: p.Optional("Description"), Idempotency: idempotency(req)}
	var e *ecserr.Error
	if in.EnableIPv6, e = p.OptionalBool("EnableIPv6"); e != nil {
		return nil, e
	}
	if in.VSwitchID == "" {
		return nil, ecserr.MissingParameter("VSwitchId")
	}
	if err := s.ModifyVSwitchAttribute(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// resourceGroup serves JoinResourceGroup (ECS, group in ResourceGroupId)
// and MoveResourceGroup (VPC, NewResourceGroupId) over the resource types
// of that product.
func (s *Service) resourceGroup(param string, types []string) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		p := req.Params
		in := service.ResourceGroupInput{Caller: c, ResourceType: p.Get("ResourceType"), ResourceID: p.Get("ResourceId"),
			ResourceGroupID: p.Get(param), Param: param}
		if err := s.JoinResourceGroup(ctx, in, types); err != nil {
			return nil, err
		}
		return &rpc.Base{}, nil
	}
}

// dryRunAnswered are the VPC product's actions that answer DryRun=true
// themselves (DryRunOperation, nothing read beyond the check).
var dryRunAnswered = map[string]bool{"DescribeVpcAttribute": true, "DescribeVSwitchAttributes": true}

// refuseDryRun refuses DryRun=true for an action that would otherwise
// ignore it and do the work: the alicloud provider sends DryRun (its
// dry_run argument) with CreateVpc, DeleteVpc and DescribeVpcs, and a
// dry run must change nothing.
func refuseDryRun(action string, h rpc.Handler) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		if v, e := req.Params.Bool("DryRun", false); e != nil {
			return nil, e
		} else if v {
			return nil, ecserr.BadRequest("OperationUnsupported.DryRun", "Palisade does not dry-run %s: leave DryRun out or false. Nothing was changed.", action)
		}
		return h(ctx, req)
	}
}

func (s *Service) modifyRouteTableAttributes(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyRouteTableInput{Caller: c, RouteTableID: p.Get("RouteTableId"), Name: p.Optional("RouteTableName"),
		Description: p.Optional("Description"), Idempotency: idempotency(req)}
	var e *ecserr.Error
	if in.RoutePropagation, e = p.OptionalBool("RoutePropagationEnable"); e != nil {
		return nil, e
	}
	if err := s.ModifyRouteTableAttributes(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}
