package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// The VPC product's reads of one VPC or vSwitch and of route tables, in the
// shapes of the classic SDK's DescribeVpcAttributeResponse,
// DescribeVSwitchAttributesResponse and DescribeRouteTableListResponse.

type cloudResource struct {
	ResourceType  string
	ResourceCount int
}

type associatedCen struct {
	CenId      string
	CenOwnerId int64
	CenStatus  string
}

type propagationSource struct {
	SourceType       string
	SourceOwnerId    int64
	SourceInstanceId string
	Status           string
	RoutePropagated  bool
}

type describeVpcAttributeResponse struct {
	rpc.Base
	VpcId                        string
	RegionId                     string
	Status                       string
	VpcName                      string
	Description                  string
	CidrBlock                    string
	Ipv6CidrBlock                string
	EnabledIpv6                  bool
	IsDefault                    bool
	ClassicLinkEnabled           bool
	OwnerId                      int64
	VRouterId                    string
	CreationTime                 string
	ResourceGroupId              string
	DhcpOptionsSetId             string
	DhcpOptionsSetStatus         string
	DnsHostnameStatus            string
	NetworkAclNum                string
	SupportIpv4Gateway           bool
	Ipv4GatewayId                string
	VSwitchIds                   struct{ VSwitchId []string }
	UserCidrs                    struct{ UserCidr []string }
	SecondaryCidrBlocks          struct{ SecondaryCidrBlock []string }
	Ipv6CidrBlocks               struct{ Ipv6CidrBlock []ipv6CidrBlockItem }
	AssociatedCens               struct{ AssociatedCen []associatedCen }
	CloudResources               struct{ CloudResourceSetType []cloudResource }
	AssociatedPropagationSources struct{ AssociatedPropagationSources []propagationSource }
	Tags                         vpcTags
}

// describeVpcAttribute answers what DescribeVpcs says of the VPC, plus the
// fields only this action has.
func (s *Service) describeVpcAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.VpcAttributeInput{Caller: c, VpcID: p.Get("VpcId")}
	var e *ecserr.Error
	if in.IsDefault, e = p.Bool("IsDefault", false); e != nil {
		return nil, e
	}
	if in.DryRun, e = p.Bool("DryRun", false); e != nil {
		return nil, e
	}
	view, err := s.DescribeVpcAttribute(ctx, in)
	if err != nil {
		return nil, err
	}
	it := vpcOut(view)
	out := &describeVpcAttributeResponse{VpcId: it.VpcId, RegionId: it.RegionId, Status: it.Status, VpcName: it.VpcName,
		Description: it.Description, CidrBlock: it.CidrBlock, Ipv6CidrBlock: it.Ipv6CidrBlock, EnabledIpv6: it.EnabledIpv6,
		IsDefault: it.IsDefault, OwnerId: it.OwnerId, VRouterId: it.VRouterId, CreationTime: it.CreationTime,
		ResourceGroupId: it.ResourceGroupId, DhcpOptionsSetStatus: it.DhcpOptionsSetStatus, DnsHostnameStatus: it.DnsHostnameStatus,
		NetworkAclNum: it.NetworkAclNum, Tags: it.Tags}
	out.VSwitchIds.VSwitchId = it.VSwitchIds.VSwitchId
	out.UserCidrs.UserCidr = it.UserCidrs.UserCidr
	out.SecondaryCidrBlocks.SecondaryCidrBlock = it.SecondaryCidrBlocks.SecondaryCidrBlock
	out.Ipv6CidrBlocks.Ipv6CidrBlock = it.Ipv6CidrBlocks.Ipv6CidrBlock
	// What the VPC holds, as the console counts it: its vSwitches, its one
	// vRouter and its one (system) route table.
	out.CloudResources.CloudResourceSetType = []cloudResource{
		{ResourceType: "VSwitch", ResourceCount: len(view.VSwitchIDs)},
		{ResourceType: "VRouter", ResourceCount: 1},
		{ResourceType: "RouteTable", ResourceCount: 1},
	}
	return out, nil
}

// describeVSwitchAttributesResponse is a DescribeVSwitches item with the
// vSwitch's cloud resources. RouteTable has only its two keys there,
// though the classic SDK decodes it into a larger struct (more-apis §4.3).
type describeVSwitchAttributesResponse struct {
	rpc.Base
	vswitchItem
	CloudResources struct{ CloudResourceSetType []cloudResource }
}

// describeVSwitchAttributes takes no RegionId (the classic SDK sends one
// anyway); without it the vSwitch is looked up in every region.
func (s *Service) describeVSwitchAttributes(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.VSwitchAttributeInput{Caller: c, VSwitchID: p.Get("VSwitchId")}
	var e *ecserr.Error
	if in.DryRun, e = p.Bool("DryRun", false); e != nil {
		return nil, e
	}
	view, err := s.DescribeVSwitchAttributes(ctx, in)
	if err != nil {
		return nil, err
	}
	it := vswitchOut(view)
	out := &describeVSwitchAttributesResponse{vswitchItem: it}
	// What a vSwitch's CloudResources counts is undocumented (more-apis
	// §4.3, classic SDK only); an empty list is what both SDKs accept.
	out.CloudResources.CloudResourceSetType = []cloudResource{}
	return out, nil
}

type routerTableListType struct {
	RouteTableId           string
	RouteTableName         string
	Description            string
	VpcId                  string
	RouterId               string
	RouterType             string
	RouteTableType         string
	AssociateType          string
	Status                 string
	CreationTime           string
	OwnerId                int64
	ResourceGroupId        string
	RoutePropagationEnable bool
	VSwitchIds             struct{ VSwitchId []string }
	GatewayIds             struct{ GatewayIds []string }
	Tags                   vpcTags
}

type describeRouteTableListResponse struct {
	rpc.Base
	Success    bool
	Code       string
	Message    string
	PageNumber int
	PageSize   int
	TotalCount int
	// RouterTableList, not RouteTableList: the API's own spelling.
	RouterTableList struct{ RouterTableListType []routerTableListType }
}

// describeRouteTableList lists the system route table of each VPC (the
// only route tables Palisade has), with paging by numbers: default 10, at
// most 50 per page.
func (s *Service) describeRouteTableList(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := numberPage(p, 50)
	if err != nil {
		return nil, err
	}
	in := service.RouteTableListInput{Caller: c, RouterType: p.Get("RouterType"), RouterID: p.Get("RouterId"), VpcID: p.Get("VpcId"),
		RouteTableID: p.Get("RouteTableId"), RouteTableName: p.Get("RouteTableName"), RouteTableType: p.Get("RouteTableType"),
		ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	if in.VpcID != "" {
		in.RouterType = "" // a VpcId means VRouter whatever RouterType says
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	tables, err := s.DescribeRouteTableList(ctx, in)
	if err != nil {
		return nil, err
	}
	// Code "200" and Message "successful", as VPC answers them: Terraform's
	// data "alicloud_vpcs" (enable_details, its default) fails any other Code.
	out := &describeRouteTableListResponse{Success: true, Code: "200", Message: "successful", PageNumber: pg.Number, PageSize: pg.Size, TotalCount: tables.Total}
	out.RouterTableList.RouterTableListType = make([]routerTableListType, 0, len(tables.Items))
	for _, t := range tables.Items {
		out.RouterTableList.RouterTableListType = append(out.RouterTableList.RouterTableListType, systemRouteTable(t))
	}
	return out, nil
}

// systemRouteTable is a VPC's system route table. RoutePropagationEnable is
// true: new route tables propagate routes unless told not to (unconfirmed
// for system tables; the SDKs accept either).
func systemRouteTable(t service.RouteTableView) routerTableListType {
	v := t.VPC
	it := routerTableListType{RouteTableId: v.SystemRouteTable(), RouteTableName: v.RouteTableName, Description: v.RouteTableDescription, VpcId: v.ID, RouterId: v.Router(), RouterType: service.RouterTypeVRouter,
		RouteTableType: service.RouteTableSystem, AssociateType: "VSwitch", Status: "Available", CreationTime: timeText(v.Created),
		OwnerId: ownerID(v.Owner), ResourceGroupId: resourceGroupID(v.Owner), RoutePropagationEnable: true,
		Tags: vpcTagsOut(nil)}
	it.VSwitchIds.VSwitchId = t.VSwitchIDs
	it.GatewayIds.GatewayIds = []string{}
	return it
}
