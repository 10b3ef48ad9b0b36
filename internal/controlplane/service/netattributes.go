package service

import (
	"cmp"
	"context"
	"net/http"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The updates the alicloud Terraform provider makes of VPCs and vSwitches
// (ModifyVpcAttribute, ModifyVSwitchAttribute) and of any resource's
// resource group (ECS JoinResourceGroup, VPC MoveResourceGroup).

// checkName refuses a name given ("" is none) that is not valid
// (model.ValidName), with the field's ECS code.
func checkName(code, field, name string) error {
	if name == "" || model.ValidName(name) {
		return nil
	}
	return ecserr.BadRequest(code, "%s %q is not valid: 2 to 128 characters, starting with a letter, then letters, digits, ':', '_', '.' or '-', not starting with http:// or https://.", field, model.Clip(name))
}

// checkDescription refuses a description given ("" is none) that is not
// valid (model.ValidDescription), with the field's ECS code.
func checkDescription(code, desc string) error {
	if desc == "" || model.ValidDescription(desc) {
		return nil
	}
	return ecserr.BadRequest(code, "Description must be 2 to 256 characters and not start with http:// or https://.")
}

// value is *p, or "" for nil.
func value(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ModifyVpcInput changes a VPC's name or description; nil fields are left
// as they are, "" clears.
type ModifyVpcInput struct {
	Caller      Caller
	VpcID       string
	Name        *string
	Description *string
	// CidrBlock, when given, must be the VPC's own block: Palisade does
	// not resize a VPC.
	CidrBlock string
	// EnableIPv6, when given, must say what the VPC has: an IPv6 block is
	// given at creation only.
	EnableIPv6  *bool
	Idempotency `json:"-"`
}

// ModifyVpcAttribute renames or re-describes a VPC.
func (s *Service) ModifyVpcAttribute(ctx context.Context, in ModifyVpcInput) error {
	c := in.Caller
	if err := cmp.Or(checkName("InvalidVpcName.Malformed", "VpcName", value(in.Name)), checkDescription("InvalidVpcDiscription.Malformed", value(in.Description))); err != nil {
		return err
	}
	_, err := Update(s, ctx, c, "ModifyVpcAttribute", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		v, err := getVPC(tx, c, in.VpcID)
		if err != nil {
			return struct{}{}, err
		}
		if in.CidrBlock != "" && in.CidrBlock != v.CIDR.String() {
			return struct{}{}, ecserr.BadRequest("OperationUnsupported.ModifyCidrBlock", "Palisade does not resize a VPC: %s keeps %s. Create a new VPC with CidrBlock %s.", v.ID, v.CIDR, in.CidrBlock)
		}
		if in.EnableIPv6 != nil && *in.EnableIPv6 != v.IPv6CIDR.IsValid() {
			return struct{}{}, ecserr.BadRequest("OperationUnsupported.EnableIPv6", "Palisade gives a VPC its IPv6 block at creation only: create the VPC with EnableIpv6=true, or leave EnableIPv6 out.")
		}
		if in.Name != nil {
			v.Name = *in.Name
		}
		if in.Description != nil {
			v.Description = *in.Description
		}
		return struct{}{}, putVPC(tx, v)
	})
	return err
}

// ModifyVSwitchInput changes a vSwitch's name or description; nil fields
// are left as they are, "" clears.
type ModifyVSwitchInput struct {
	Caller      Caller
	VSwitchID   string
	Name        *string
	Description *string
	// EnableIPv6, when given, must say what the vSwitch has: its IPv6
	// block is given at creation only.
	EnableIPv6  *bool
	Idempotency `json:"-"`
}

// ModifyVSwitchAttribute renames or re-describes a vSwitch.
func (s *Service) ModifyVSwitchAttribute(ctx context.Context, in ModifyVSwitchInput) error {
	c := in.Caller
	if err := cmp.Or(checkName("InvalidVSwitchName.Malformed", "VSwitchName", value(in.Name)), checkDescription("InvalidVSwitchDiscription.Malformed", value(in.Description))); err != nil {
		return err
	}
	_, err := Update(s, ctx, c, "ModifyVSwitchAttribute", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		w, err := getVSwitch(tx, c, in.VSwitchID)
		if err != nil {
			return struct{}{}, err
		}
		if in.EnableIPv6 != nil && *in.EnableIPv6 != w.IPv6CIDR.IsValid() {
			return struct{}{}, ecserr.BadRequest("OperationUnsupported.EnableIPv6", "Palisade gives a vSwitch its IPv6 block at creation only: create it with Ipv6CidrBlock, or leave EnableIPv6 out.")
		}
		if in.Name != nil {
			w.Name = *in.Name
		}
		if in.Description != nil {
			w.Description = *in.Description
		}
		return struct{}{}, putVSwitch(tx, w)
	})
	return err
}

// groupMembers are the resource types JoinResourceGroup and
// MoveResourceGroup take, with the code ECS answers for an unknown ID.
var groupMembers = map[string]string{
	"securitygroup": "InvalidSecurityGroupId.NotFound",
	"instance":      "InvalidInstanceId.NotFound",
	"eni":           "InvalidEniId.NotFound",
	"prefixlist":    "InvalidPrefixListId.NotFound",
	"vpc":           "InvalidVpcId.NotFound",
	"vswitch":       "InvalidVSwitchId.NotFound",
	"eip":           "InvalidAllocationId.NotFound", // the VPC product's, as its tag actions
}

// ResourceGroupInput moves a resource to a resource group.
type ResourceGroupInput struct {
	Caller          Caller
	ResourceType    string // any case; types lists the ones this product takes
	ResourceID      string
	ResourceGroupID string
	Param           string // the group's parameter name, for errors
}

// JoinResourceGroup moves a resource into a resource group. Each account
// has one resource group, ResourceGroupID(account), which holds all its
// resources: moving one into it changes nothing, and any other group is
// not found. types are the resource types the calling product takes.
func (s *Service) JoinResourceGroup(ctx context.Context, in ResourceGroupInput, types []string) error {
	c := in.Caller
	typ := strings.ToLower(in.ResourceType)
	switch {
	case typ == "":
		return ecserr.MissingParameter("ResourceType")
	case in.ResourceID == "":
		return ecserr.MissingParameter("ResourceId")
	case in.ResourceGroupID == "":
		return ecserr.MissingParameter(in.Param)
	}
	notFound, ok := groupMembers[typ]
	if !ok || !containsFold(types, typ) {
		return ecserr.New(http.StatusNotFound, "InvalidResourceType.NotFound", "ResourceType %q is not one this API moves; use one of %s.", in.ResourceType, strings.Join(types, ", "))
	}
	t, err := resourceType(typ)
	if err != nil {
		return err
	}
	_, err = View(s, ctx, func(tx store.ReadTx) (struct{}, error) {
		rec, ok, err := tx.Get(t.Kind, in.ResourceID)
		if err != nil {
			return struct{}{}, err
		}
		if !ok || rec.Account != c.Account || c.Region != "" && rec.Region != c.Region {
			return struct{}{}, ecserr.New(http.StatusNotFound, notFound, "The %s %q does not exist in this account and region.", typ, in.ResourceID)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return err
	}
	if in.ResourceGroupID != ResourceGroupID(c.Account) {
		return ecserr.New(http.StatusNotFound, "InvalidResourceGroup.NotFound", "Resource group %q does not exist: this account has one, %s, which holds all its resources.", model.Clip(in.ResourceGroupID), ResourceGroupID(c.Account))
	}
	// A group and a secondary ENI answer the resource group they were
	// named in (the other resources, and primary ENIs, always answer the
	// account's one group).
	switch typ {
	case "securitygroup":
		_, err = Update(s, ctx, c, "JoinResourceGroup", Idempotency{}, in, func(tx store.Tx) (struct{}, error) {
			g, err := GetGroup(tx, c, in.ResourceID)
			if err != nil || g.ResourceGroupID == in.ResourceGroupID {
				return struct{}{}, err
			}
			g.ResourceGroupID = in.ResourceGroupID
			return struct{}{}, PutGroup(tx, g)
		})
	case "eni":
		_, err = Update(s, ctx, c, "JoinResourceGroup", Idempotency{}, in, func(tx store.Tx) (struct{}, error) {
			n, err := get[model.NetworkInterface](tx, KindENI, c, in.ResourceID, "ResourceId", "eni", notFound)
			if err != nil || n.ResourceGroupID == in.ResourceGroupID {
				return struct{}{}, err
			}
			n.ResourceGroupID = in.ResourceGroupID
			return struct{}{}, putENI(tx, n)
		})
	}
	return err
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// ModifyRouteTableInput changes a VPC's system route table (the only route
// tables Palisade has); nil fields are left as they are.
type ModifyRouteTableInput struct {
	Caller       Caller
	RouteTableID string
	Name         *string
	Description  *string
	// RoutePropagation, when given, must be true: Palisade routes
	// nothing, and a system table propagates.
	RoutePropagation *bool
	Idempotency      `json:"-"`
}

// ModifyRouteTableAttributes names or describes a VPC's system route
// table.
func (s *Service) ModifyRouteTableAttributes(ctx context.Context, in ModifyRouteTableInput) error {
	c := in.Caller
	if in.RouteTableID == "" {
		return ecserr.MissingParameter("RouteTableId")
	}
	if err := cmp.Or(checkName("InvalidRouteTableName.Malformed", "RouteTableName", value(in.Name)), checkDescription("InvalidDescription.Malformed", value(in.Description))); err != nil {
		return err
	}
	if in.RoutePropagation != nil && !*in.RoutePropagation {
		return ecserr.BadRequest("OperationUnsupported.RoutePropagation", "Palisade routes nothing and keeps route propagation on; leave RoutePropagationEnable out or true.")
	}
	_, err := Update(s, ctx, c, "ModifyRouteTableAttributes", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		vpcs, err := list[model.VPC](tx, KindVPC, c)
		if err != nil {
			return struct{}{}, err
		}
		for _, v := range vpcs {
			if v.SystemRouteTable() != in.RouteTableID {
				continue
			}
			if in.Name != nil {
				v.RouteTableName = *in.Name
			}
			if in.Description != nil {
				v.RouteTableDescription = *in.Description
			}
			return struct{}{}, putVPC(tx, v)
		}
		return struct{}{}, ecserr.New(http.StatusNotFound, "InvalidRouteTableId.NotFound", "Route table %q is not the system route table of one of this account's VPCs in %s (DescribeRouteTableList lists them).", model.Clip(in.RouteTableID), c.Region)
	})
	return err
}
