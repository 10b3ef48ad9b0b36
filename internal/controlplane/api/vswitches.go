package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

type createVSwitchResponse struct {
	rpc.Base
	VSwitchId string
}

func (s *Service) createVSwitch(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.CreateVSwitchInput{Caller: c, VpcID: p.Get("VpcId"), ZoneID: p.Get("ZoneId"), CidrBlock: p.Get("CidrBlock"),
		Name: p.Get("VSwitchName"), Description: p.Get("Description"), Idempotency: idempotency(req)}
	if p.Has("Ipv6CidrBlock") {
		n, e := p.Int("Ipv6CidrBlock", -1)
		if e != nil {
			return nil, ecserr.InvalidParameter("Ipv6CidrBlock", "it is the last 8 bits of the vSwitch's IPv6 /64, from 0 to 255")
		}
		in.IPv6Block = &n
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	res, err := s.CreateVSwitch(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createVSwitchResponse{VSwitchId: res.VSwitchId}, nil
}

type routeTableItem struct {
	RouteTableId   string
	RouteTableType string
}

type vswitchItem struct {
	VSwitchId               string
	VpcId                   string
	Status                  string
	CidrBlock               string
	Ipv6CidrBlock           string
	EnabledIpv6             bool
	ZoneId                  string
	AvailableIpAddressCount int64
	Description             string
	VSwitchName             string
	CreationTime            string
	IsDefault               bool
	ResourceGroupId         string
	NetworkAclId            string
	OwnerId                 int64
	// ShareType is empty for a vSwitch that is not shared (all of ours):
	// "Sharing" would say it is being shared, "Shared" that it is.
	ShareType  string
	RouteTable routeTableItem
	Tags       vpcTags
}

type describeVSwitchesResponse struct {
	rpc.Base
	TotalCount int
	PageNumber int
	PageSize   int
	VSwitches  struct{ VSwitch []vswitchItem }
}

// describeVSwitches takes no RegionId when VpcId is given.
func (s *Service) describeVSwitches(ctx context.Context, req *rpc.Request) (any, error) {
	p := req.Params
	c, err := s.callerOf(ctx, req, !p.Has("VpcId"))
	if err != nil {
		return nil, err
	}
	pg, err := numberPage(p, 50)
	if err != nil {
		return nil, err
	}
	in := service.DescribeVSwitchesInput{Caller: c, IDs: commaIDs(p, "VSwitchId"), VpcID: p.Get("VpcId"), ZoneID: p.Get("ZoneId"),
		Name: p.Get("VSwitchName"), ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	var e *ecserr.Error
	if in.IsDefault, e = p.Bool("IsDefault", false); e != nil {
		return nil, e
	}
	vsws, err := s.DescribeVSwitches(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeVSwitchesResponse{TotalCount: vsws.Total, PageNumber: pg.Number, PageSize: pg.Size}
	out.VSwitches.VSwitch = make([]vswitchItem, 0, len(vsws.Items))
	for _, v := range vsws.Items {
		out.VSwitches.VSwitch = append(out.VSwitches.VSwitch, vswitchOut(v))
	}
	return out, nil
}

func vswitchOut(v service.VSwitchView) vswitchItem {
	w := v.VSwitch
	item := vswitchItem{VSwitchId: w.ID, VpcId: w.VpcID, Status: "Available", CidrBlock: w.CIDR.String(), ZoneId: w.Zone,
		AvailableIpAddressCount: v.AvailableIPs, Description: w.Description, VSwitchName: w.Name, CreationTime: timeText(w.Created),
		ResourceGroupId: resourceGroupID(w.Owner), OwnerId: ownerID(w.Owner),
		RouteTable: routeTableItem{RouteTableId: routeTableID(w.VpcID), RouteTableType: "System"}}
	if w.IPv6CIDR.IsValid() {
		item.Ipv6CidrBlock, item.EnabledIpv6 = w.IPv6CIDR.String(), true
	}
	item.Tags = vpcTagsOut(w.Tags)
	return item
}

func (s *Service) deleteVSwitch(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	if err := s.DeleteVSwitch(ctx, service.VSwitchRef{Caller: c, VSwitchID: req.Params.Get("VSwitchId"), Idempotency: idempotency(req)}); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}
