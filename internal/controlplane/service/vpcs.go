package service

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Limits of the VPC product's queries (IDs per filter).
const (
	MaxDescribeVpcIDs      = 20
	MaxDescribeVSwitchIDs  = 20
	MaxDescribeEipIDs      = 50
	MaxDescribeEipAddrs    = 50
	DefaultVpcCIDR         = "172.16.0.0/12"
	vpcMinBits, vpcMaxBits = model.VPCMinBits, model.VPCMaxBits
)

// checkIDCount bounds an ID filter as the VPC API does.
func checkIDCount(ids []string, param string, max int) error {
	if len(ids) > max {
		return ecserr.InvalidParameter(param, "it takes at most "+strconv.Itoa(max)+" comma-separated IDs")
	}
	return nil
}

// CreateVpcInput is a new VPC.
type CreateVpcInput struct {
	Caller      Caller
	CidrBlock   string // a private IPv4 block, /8 to /28; "" is DefaultVpcCIDR
	Name        string
	Description string
	// EnableIPv6 gives the VPC a /56 of the IPv6 pool; IPv6CidrBlock names
	// the /56 instead.
	EnableIPv6    bool
	IPv6CidrBlock string
	Tags          []model.Tag
	Idempotency   `json:"-"`
}

// CreateVpcResult names the VPC made, with its vRouter and system route
// table (empty in results stored for a ClientToken before they were kept:
// model.VPC's Router and SystemRouteTable derive them).
type CreateVpcResult struct {
	VpcId        string
	VRouterId    string `json:",omitempty"`
	RouteTableId string `json:",omitempty"`
}

// CreateVpc creates a VPC; with an IPv6 block unique in the store if asked.
func (s *Service) CreateVpc(ctx context.Context, in CreateVpcInput) (CreateVpcResult, error) {
	c := in.Caller
	text := in.CidrBlock
	if text == "" {
		text = DefaultVpcCIDR
	}
	cidr, e := model.ParsePrivateCIDR(text, vpcMinBits, vpcMaxBits)
	if e != nil {
		return CreateVpcResult{}, e
	}
	if err := cmp.Or(checkName("InvalidVpcName.Malformed", "VpcName", in.Name), checkDescription("InvalidVpcDiscription.Malformed", in.Description)); err != nil {
		return CreateVpcResult{}, err
	}
	var six netip.Prefix
	if in.IPv6CidrBlock != "" {
		var err error
		six, err = netip.ParsePrefix(in.IPv6CidrBlock)
		// Global unicast: a block of loopback (::/56 holds ::1), link-local
		// or multicast addresses would give instances addresses no NIC
		// may hold (as scenario files refuse them).
		if err != nil || !six.Addr().Is6() || six.Addr().Is4In6() || six.Bits() != 56 || six != six.Masked() || !six.Addr().IsGlobalUnicast() {
			return CreateVpcResult{}, ecserr.BadRequest("InvalidIpv6CidrBlock.Malformed", "Ipv6CidrBlock %q must be an IPv6 /56 network of global unicast addresses such as 2408:4000:0:100::/56; or leave it out and set EnableIpv6=true to get one.", in.IPv6CidrBlock)
		}
	}
	if e := model.ValidateTags(in.Tags); e != nil {
		return CreateVpcResult{}, e
	}
	v := &model.VPC{ID: model.NewID("vpc"), Region: c.Region, Owner: c.Account, Name: in.Name,
		Description: in.Description, CIDR: cidr, Created: s.Now(), Tags: in.Tags}
	// The router and route table IDs follow the VPC's, as Palisade reported
	// them before it stored them, so old and new VPCs read alike.
	v.VRouterID, v.RouteTableID = v.Router(), v.SystemRouteTable()
	return Update(s, ctx, c, "CreateVpc", in.Idempotency, in, func(tx store.Tx) (CreateVpcResult, error) {
		n, err := ownedBy(KindVPC, c).count(tx)
		if err != nil {
			return CreateVpcResult{}, err
		}
		qs, err := s.quotasOf(tx, c.Account)
		if err != nil {
			return CreateVpcResult{}, err
		}
		if q := qs.VPCs; n >= q {
			return CreateVpcResult{}, ecserr.BadRequest("QuotaExceeded.Vpc", "VPC quota exceeded: the account has %d VPCs in %s and may hold %d. Delete a VPC it no longer needs first.", n, c.Region, q)
		}
		if six.IsValid() || in.EnableIPv6 {
			used, err := vpcIPv6Blocks(tx)
			if err != nil {
				return CreateVpcResult{}, err
			}
			if six.IsValid() {
				if slices.ContainsFunc(used, six.Overlaps) {
					return CreateVpcResult{}, ecserr.BadRequest("InvalidCidrBlock.Overlapped", "Ipv6CidrBlock %s is already used by another VPC.", six)
				}
				v.IPv6CIDR = six
			} else if b, ok := freeIPv6Block(used); ok {
				v.IPv6CIDR = b
			} else {
				return CreateVpcResult{}, ecserr.BadRequest("QuotaExceeded.Ipv6CidrBlock", "The IPv6 pool %s is exhausted; delete VPCs with IPv6 blocks.", ipv6Pool)
			}
		}
		return CreateVpcResult{VpcId: v.ID, VRouterId: v.VRouterID, RouteTableId: v.RouteTableID}, putVPC(tx, v)
	})
}

// DescribeVpcsInput filters the caller's VPCs; zero fields do not filter.
type DescribeVpcsInput struct {
	Caller    Caller
	IDs       []string // at most MaxDescribeVpcIDs
	Name      string
	IsDefault bool // Palisade has no default VPC: matches none
	// Tags: every one must be on the VPC (a tag without a value matches
	// any value); ResourceGroupID: the account's one group, or nothing
	// matches.
	Tags            []model.Tag
	ResourceGroupID string
	Page            Page // page numbers
}

// VpcView is a VPC with the IDs of its vSwitches.
type VpcView struct {
	VPC        *model.VPC
	VSwitchIDs []string
}

// DescribeVpcs returns one page of the caller's VPCs in a region, newest
// first.
func (s *Service) DescribeVpcs(ctx context.Context, in DescribeVpcsInput) (Listing[VpcView], error) {
	c := in.Caller
	if err := checkIDCount(in.IDs, "VpcId", MaxDescribeVpcIDs); err != nil {
		return Listing[VpcView]{}, err
	}
	return View(s, ctx, func(tx store.ReadTx) (Listing[VpcView], error) {
		vpcs, err := list[model.VPC](tx, KindVPC, c)
		if err != nil {
			return Listing[VpcView]{}, err
		}
		vsws, err := list[model.VSwitch](tx, KindVSwitch, c)
		if err != nil {
			return Listing[VpcView]{}, err
		}
		byCreation(vpcs, func(v *model.VPC) (int64, string) { return v.Created.Unix(), v.ID })
		var items []VpcView
		for _, v := range vpcs {
			if len(in.IDs) > 0 && !slices.Contains(in.IDs, v.ID) || in.Name != "" && v.Name != in.Name || in.IsDefault ||
				!matchTags(v.Tags, in.Tags) || in.ResourceGroupID != "" && in.ResourceGroupID != ResourceGroupID(v.Owner) {
				continue
			}
			view := VpcView{VPC: v}
			for _, w := range vsws {
				if w.VpcID == v.ID {
					view.VSwitchIDs = append(view.VSwitchIDs, w.ID)
				}
			}
			items = append(items, view)
		}
		return pageOf(items, in.Page), nil
	})
}

// VpcRef names a VPC of the caller (in any region when the caller's is "").
type VpcRef struct {
	Caller      Caller
	VpcID       string
	Idempotency `json:"-"`
}

// DeleteVpc deletes a VPC that holds no vSwitches and no security groups.
func (s *Service) DeleteVpc(ctx context.Context, in VpcRef) error {
	c := in.Caller
	_, err := Update(s, ctx, c, "DeleteVpc", in.Idempotency, in, func(tx store.Tx) (struct{}, error) {
		v, err := getVPC(tx, c, in.VpcID)
		if err != nil {
			return struct{}{}, err
		}
		at := Caller{Account: c.Account, Region: v.Region}
		vsws, err := list[model.VSwitch](tx, KindVSwitch, at)
		if err != nil {
			return struct{}{}, err
		}
		for _, w := range vsws {
			if w.VpcID == v.ID {
				return struct{}{}, ecserr.BadRequest("DependencyViolation.VSwitch", "VPC %s still has vSwitch %s; delete its vSwitches first.", v.ID, w.ID)
			}
		}
		groups, err := list[model.SecurityGroup](tx, KindGroup, at)
		if err != nil {
			return struct{}{}, err
		}
		for _, g := range groups {
			if g.VpcID == v.ID {
				return struct{}{}, ecserr.BadRequest("DependencyViolation.SecurityGroup", "VPC %s still has security group %s; delete its security groups first.", v.ID, g.ID)
			}
		}
		return struct{}{}, tx.Delete(KindVPC, v.ID)
	})
	return err
}

// CommaIDs splits a comma-separated ID filter such as VpcId=vpc-a,vpc-b.
func CommaIDs(s string) []string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}
