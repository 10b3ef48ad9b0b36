package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// EIP states.
const (
	EipAvailable = service.EipAvailable
	EipInUse     = service.EipInUse
)

type allocateEipAddressResponse struct {
	rpc.Base
	AllocationId    string
	EipAddress      string
	OrderId         int64
	ResourceGroupId string
}

func (s *Service) allocateEipAddress(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	if err := service.CheckResourceGroup(c, p.Get("ResourceGroupId")); err != nil {
		return nil, err
	}
	res, err := s.AllocateEipAddress(ctx, service.AllocateEipInput{Caller: c, Bandwidth: p.Get("Bandwidth"), InternetChargeType: p.Get("InternetChargeType"),
		Name: p.Get("Name"), Description: p.Get("Description"), Idempotency: idempotency(req)})
	if err != nil {
		return nil, err
	}
	return &allocateEipAddressResponse{AllocationId: res.AllocationId, EipAddress: res.EipAddress, ResourceGroupId: resourceGroupID(c.Account)}, nil
}

// eip serves Associate (RegionId required), Unassociate and Release
// (RegionId optional) of an EIP.
func (s *Service) eip(act func(context.Context, service.EipInput) error) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, req.Action == "AssociateEipAddress")
		if err != nil {
			return nil, err
		}
		p := req.Params
		if err := act(ctx, service.EipInput{Caller: c, AllocationID: p.Get("AllocationId"), InstanceID: p.Get("InstanceId"),
			InstanceType: p.Get("InstanceType"), Mode: p.Get("Mode"), PrivateIP: p.Get("PrivateIpAddress"), Idempotency: idempotency(req)}); err != nil {
			return nil, err
		}
		return &rpc.Base{}, nil
	}
}

type lockReasonItem struct{ LockReason string }

type eipAddressItem struct {
	AllocationId            string
	IpAddress               string
	Status                  string
	RegionId                string
	InstanceId              string
	InstanceType            string
	InstanceRegionId        string
	PrivateIpAddress        string
	Bandwidth               string
	EipBandwidth            string
	InternetChargeType      string
	ChargeType              string
	AllocationTime          string
	ExpiredTime             string
	Name                    string
	Description             string
	ISP                     string
	Netmode                 string
	Mode                    string
	ResourceGroupId         string
	BusinessStatus          string
	DeletionProtection      bool
	ServiceManaged          int
	OperationLocks          struct{ LockReason []lockReasonItem }
	Tags                    struct{ Tag []vpcTag }
	AvailableRegions        struct{ AvailableRegion []string }
	SecurityProtectionTypes struct{ SecurityProtectionType []string }
}

type describeEipAddressesResponse struct {
	rpc.Base
	TotalCount   int
	PageNumber   int
	PageSize     int
	EipAddresses struct{ EipAddress []eipAddressItem }
}

func (s *Service) describeEipAddresses(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := numberPage(p, 100)
	if err != nil {
		return nil, err
	}
	// Terraform's data "alicloud_eip_addresses" filters by its tags with
	// Tag.N: ignored, every EIP was answered.
	tags, err := tagParams(p)
	if err != nil {
		return nil, err
	}
	eips, err := s.DescribeEipAddresses(ctx, service.DescribeEipsInput{Caller: c, IDs: commaIDs(p, "AllocationId"),
		Addresses: commaIDs(p, "EipAddress"), Status: p.Get("Status"), Name: p.Get("EipName"),
		AssociatedInstanceID: p.Get("AssociatedInstanceId"), AssociatedInstanceType: p.Get("AssociatedInstanceType"), Tags: tags, Page: pg})
	if err != nil {
		return nil, err
	}
	out := &describeEipAddressesResponse{TotalCount: eips.Total, PageNumber: pg.Number, PageSize: pg.Size}
	out.EipAddresses.EipAddress = make([]eipAddressItem, 0, len(eips.Items))
	for _, v := range eips.Items {
		out.EipAddresses.EipAddress = append(out.EipAddresses.EipAddress, eipOut(v))
	}
	return out, nil
}

func eipOut(v service.EipView) eipAddressItem {
	e := v.EIP
	item := eipAddressItem{AllocationId: e.ID, IpAddress: e.Address.String(), Status: e.Status, RegionId: e.Region,
		Bandwidth: e.Bandwidth, EipBandwidth: e.Bandwidth, InternetChargeType: e.ChargeType, ChargeType: "PostPaid",
		AllocationTime: timeText(e.Created), Name: e.Name, Description: e.Description, ISP: "BGP", Netmode: "public",
		ResourceGroupId: resourceGroupID(e.Owner), BusinessStatus: "Normal"}
	item.Tags.Tag = vpcTagsOut(e.Tags).Tag
	if e.InstanceID != "" {
		// PrivateIpAddress only as the association named it: Terraform's
		// alicloud_eip_association reads it into a private_ip_address that
		// forces a new association, so an address it did not write (an
		// instance's, an ENI's primary) replaced the association at every
		// plan.
		item.InstanceId, item.InstanceType, item.InstanceRegionId, item.Mode = e.InstanceID, e.BoundTo(), e.Region, "NAT"
		if e.PrivateIP.IsValid() {
			item.PrivateIpAddress = e.PrivateIP.String()
		}
	}
	return item
}
