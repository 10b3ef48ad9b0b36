package api

import (
	"context"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The VPC product (2016-04-28): VPCs (this file), vSwitches and EIPs, as
// much of it as security-group work needs.

func (s *Service) vpcActions() map[string]rpc.Handler {
	out := s.vpcTagActions()
	for k, v := range s.flowLogActions() {
		out[k] = v
	}
	for k, v := range s.vpcAttributeActions() {
		out[k] = v
	}
	for k, v := range map[string]rpc.Handler{
		"CreateVpc":                 s.createVpc,
		"DescribeVpcs":              s.describeVpcs,
		"DeleteVpc":                 s.deleteVpc,
		"CreateVSwitch":             s.createVSwitch,
		"DescribeVSwitches":         s.describeVSwitches,
		"DeleteVSwitch":             s.deleteVSwitch,
		"DescribeVpcAttribute":      s.describeVpcAttribute,
		"DescribeVSwitchAttributes": s.describeVSwitchAttributes,
		"DescribeRouteTableList":    s.describeRouteTableList,
		"AllocateEipAddress":        s.allocateEipAddress,
		"AssociateEipAddress":       s.eip(s.AssociateEipAddress),
		"UnassociateEipAddress":     s.eip(s.UnassociateEipAddress),
		"ReleaseEipAddress":         s.eip(s.ReleaseEipAddress),
		"DescribeEipAddresses":      s.describeEipAddresses,
	} {
		out[k] = v
	}
	for k, h := range out {
		if !dryRunAnswered[k] {
			out[k] = refuseDryRun(k, h)
		}
	}
	return out
}

// The address pool and check of package service that tests use.
var (
	publicPool = service.PublicPool
	assignable = model.Assignable
)

// idSuffix is an ID without its prefix, for IDs derived from it.
func idSuffix(id string) string {
	_, body, _ := strings.Cut(id, "-")
	return body
}

// vRouterID is the vRouter of a VPC stored without one (model.VPC.Router).
func vRouterID(vpcID string) string { return model.DerivedID("vrt", vpcID) }

// routeTableID is the system route table of the VPC vpcID, for a vSwitch
// that has only its VPC's ID: the table's ID follows the VPC's (see
// model.VPC.SystemRouteTable).
func routeTableID(vpcID string) string { return model.DerivedID("vtb", vpcID) }

// resourceGroupID is the account's default resource group.
func resourceGroupID(account string) string { return service.ResourceGroupID(account) }

func ownerID(account string) int64 {
	n, _ := strconv.ParseInt(account, 10, 64)
	return n
}

// commaIDs reads a comma-separated ID filter such as VpcId=vpc-a,vpc-b.
func commaIDs(p rpc.Params, name string) []string { return service.CommaIDs(p.Get(name)) }

// numberPage reads PageNumber/PageSize (default 10), the only paging of the
// VPC API and of some ECS listings (DescribeKeyPairs, DescribeImages, …).
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
	if err := service.CheckResourceGroup(c, p.Get("ResourceGroupId")); err != nil {
		return nil, err
	}
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
	// A result stored for a ClientToken before the IDs were kept has none.
	v := model.VPC{ID: res.VpcId, VRouterID: res.VRouterId, RouteTableID: res.RouteTableId}
	return &createVpcResponse{VpcId: res.VpcId, VRouterId: v.Router(), RouteTableId: v.SystemRouteTable(),
		ResourceGroupId: resourceGroupID(c.Account)}, nil
}

// vpcTag is a tag as the VPC product writes it: Key/Value, not ECS's
// TagKey/TagValue.
type vpcTag struct {
	Key   string
	Value string
}

// vpcTags is the VPC product's tag wrapper, {"Tag":[…]}, [] when none.
type vpcTags struct{ Tag []vpcTag }

func vpcTagsOut(tags []model.Tag) vpcTags {
	out := vpcTags{Tag: make([]vpcTag, 0, len(tags))}
	for _, t := range tags {
		out.Tag = append(out.Tag, vpcTag{Key: t.Key, Value: t.Value})
	}
	return out
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
	DhcpOptionsSetId       string // always "" (no DHCP option sets), but sent: the typed VPC client reads it
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
	Tags                   vpcTags
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
	in := service.DescribeVpcsInput{Caller: c, IDs: commaIDs(p, "VpcId"), Name: p.Get("VpcName"), ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
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
		CidrBlock: v.CIDR.String(), VRouterId: v.Router(), CreationTime: timeText(v.Created),
		ResourceGroupId: resourceGroupID(v.Owner), OwnerId: ownerID(v.Owner), CenStatus: "Detached",
		DnsHostnameStatus: "DISABLED", NetworkAclNum: "0"}
	if v.IPv6CIDR.IsValid() {
		item.Ipv6CidrBlock, item.EnabledIpv6 = v.IPv6CIDR.String(), true
		item.Ipv6CidrBlocks.Ipv6CidrBlock = []ipv6CidrBlockItem{{Ipv6CidrBlock: v.IPv6CIDR.String(), Ipv6Isp: "BGP"}}
	}
	item.VSwitchIds.VSwitchId = view.VSwitchIDs
	item.RouterTableIds.RouterTableIds = []string{v.SystemRouteTable()}
	item.Tags = vpcTagsOut(v.Tags)
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
