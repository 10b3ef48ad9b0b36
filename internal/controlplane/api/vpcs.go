package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// The VPC product (2016-04-28): VPCs (this file), vSwitches and EIPs, as
// much of it as security-group work needs.

func (s *Service) vpcActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateVpc":             s.createVpc,
		"DescribeVpcs":          s.describeVpcs,
		"DeleteVpc":             s.deleteVpc,
		"CreateVSwitch":         s.createVSwitch,
		"DescribeVSwitches":     s.describeVSwitches,
		"DeleteVSwitch":         s.deleteVSwitch,
		"AllocateEipAddress":    s.allocateEipAddress,
		"AssociateEipAddress":   s.eip(s.AssociateEipAddress),
		"UnassociateEipAddress": s.eip(s.UnassociateEipAddress),
		"ReleaseEipAddress":     s.eip(s.ReleaseEipAddress),
		"DescribeEipAddresses":  s.describeEipAddresses,
	}
}

// The address pool and check of package service that tests use.
var (
	publicPool = service.PublicPool
	assignable = service.Assignable
)

// idSuffix is an ID without its prefix, for IDs derived from it.
func idSuffix(id string) string {
	_, body, _ := strings.Cut(id, "-")
	return body
}

// vRouterID and routeTableID are derived from the VPC ID: Palisade has no
// routers, but clients expect stable IDs for them.
func vRouterID(vpcID string) string    { return "vrt-" + idSuffix(vpcID) }
func routeTableID(vpcID string) string { return "vtb-" + idSuffix(vpcID) }

// resourceGroupID is the account's default resource group, derived from the
// account so it is the same in every response.
func resourceGroupID(account string) string {
	h := sha256.Sum256([]byte("rg:" + account))
	return "rg-acfm" + hex.EncodeToString(h[:])[:11]
}

func ownerID(account string) int64 {
	n, _ := strconv.ParseInt(account, 10, 64)
	return n
}

// commaIDs reads a comma-separated ID filter such as VpcId=vpc-a,vpc-b.
func commaIDs(p rpc.Params, name string) []string { return service.CommaIDs(p.Get(name)) }

// numberPage reads PageNumber/PageSize (default 10), the only paging of the
// VPC API.
func numberPage(p rpc.Params, maxSize int) (page, error) {
	return parsePage(rpc.Params{"PageNumber": p.Get("PageNumber"), "PageSize": p.Get("PageSize")}, 10, maxSize, 10, maxSize)
}

type createVpcResponse struct {
	rpc.Base
	VpcId           string
	VRouterId       string
	RouteTableId    string
	ResourceGroupId string
}

func (s *Service) createVpc(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.CreateVpcInput{Caller: c, CidrBlock: p.Get("CidrBlock"), Name: p.Get("VpcName"), Description: p.Get("Description"),
		IPv6CidrBlock: p.Get("Ipv6CidrBlock"), Idempotency: idempotency(req)}
	var e *ecserr.Error
	if in.EnableIPv6, e = p.Bool("EnableIpv6", false); e != nil {
		return nil, e
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	res, err := s.CreateVpc(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createVpcResponse{VpcId: res.VpcId, VRouterId: vRouterID(res.VpcId), RouteTableId: routeTableID(res.VpcId),
		ResourceGroupId: resourceGroupID(c.Account)}, nil
}

type vpcTag struct {
	Key   string
	Value string
}

type ipv6CidrBlockItem struct {
	Ipv6CidrBlock string
	Ipv6Isp       string
}

type vpcItem struct {
	VpcId                  string
	RegionId               string
	Status                 string
	VpcName                string
	Description            string
	CidrBlock              string
	Ipv6CidrBlock          string
	EnabledIpv6            bool
	IsDefault              bool
	VRouterId              string
	CreationTime           string
	ResourceGroupId        string
	OwnerId                int64
	CenStatus              string
	DhcpOptionsSetStatus   string
	DnsHostnameStatus      string
	NetworkAclNum          string
	AdvancedResource       bool
	SupportAdvancedFeature bool
	VSwitchIds             struct{ VSwitchId []string }
	RouterTableIds         struct{ RouterTableIds []string }
	NatGatewayIds          struct{ NatGatewayIds []string }
	SecondaryCidrBlocks    struct{ SecondaryCidrBlock []string }
	UserCidrs              struct{ UserCidr []string }
	Ipv6CidrBlocks         struct{ Ipv6CidrBlock []ipv6CidrBlockItem }
	Tags                   struct{ Tag []vpcTag }
}

type describeVpcsResponse struct {
	rpc.Base
	TotalCount int
	PageNumber int
	PageSize   int
	Vpcs       struct{ Vpc []vpcItem }
}

func (s *Service) describeVpcs(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := numberPage(p, 50)
	if err != nil {
		return nil, err
	}
	in := service.DescribeVpcsInput{Caller: c, IDs: commaIDs(p, "VpcId"), Name: p.Get("VpcName"), Page: pg}
	var e *ecserr.Error
	if in.IsDefault, e = p.Bool("IsDefault", false); e != nil {
		return nil, e
	}
	vpcs, err := s.DescribeVpcs(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeVpcsResponse{TotalCount: vpcs.Total, PageNumber: pg.Number, PageSize: pg.Size}
	out.Vpcs.Vpc = make([]vpcItem, 0, len(vpcs.Items))
	for _, v := range vpcs.Items {
		out.Vpcs.Vpc = append(out.Vpcs.Vpc, vpcOut(v))
	}
	return out, nil
}

func vpcOut(view service.VpcView) vpcItem {
	v := view.VPC
	item := vpcItem{VpcId: v.ID, RegionId: v.Region, Status: "Available", VpcName: v.Name, Description: v.Description,
		CidrBlock: v.CIDR.String(), VRouterId: vRouterID(v.ID), CreationTime: timeText(v.Created),
		ResourceGroupId: resourceGroupID(v.Owner), OwnerId: ownerID(v.Owner), CenStatus: "Detached",
		DnsHostnameStatus: "DISABLED", NetworkAclNum: "0"}
	if v.IPv6CIDR.IsValid() {
		item.Ipv6CidrBlock, item.EnabledIpv6 = v.IPv6CIDR.String(), true
		item.Ipv6CidrBlocks.Ipv6CidrBlock = []ipv6CidrBlockItem{{Ipv6CidrBlock: v.IPv6CIDR.String(), Ipv6Isp: "BGP"}}
	}
	item.VSwitchIds.VSwitchId = view.VSwitchIDs
	item.RouterTableIds.RouterTableIds = []string{routeTableID(v.ID)}
	return item
}

func (s *Service) deleteVpc(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	if err := s.DeleteVpc(ctx, service.VpcRef{Caller: c, VpcID: req.Params.Get("VpcId"), Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}
