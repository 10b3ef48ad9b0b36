package api

import (
	"context"
	"net/netip"
	"strconv"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// The ENI actions (more-apis §6). Response fields follow the classic Go
// SDK's structs (ecs.CreateNetworkInterfaceResponse, ecs.NetworkInterfaceSet,
// ecs.DescribeNetworkInterfaceAttributeResponse): OwnerId is a string there.
// Where the reference says "unconfirmed" Palisade chose what the SDKs
// accept: DescribeNetworkInterfaceAttribute of an unknown ID answers 404
// InvalidEniId.NotFound as the other ENI calls do; Attach, Detach and
// Delete complete before they return (ECS goes through Attaching and
// Detaching), so a client polling for InUse or Available finds it at once;
// Join/LeaveSecurityGroup by NetworkInterfaceId take the ENI's region when
// RegionId is absent (ECS requires it), as they do for an instance.
func (s *Service) eniActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateNetworkInterface":            s.createNetworkInterface,
		"DeleteNetworkInterface":            s.eniRef(s.DeleteNetworkInterface),
		"AttachNetworkInterface":            s.eniRef(s.AttachNetworkInterface),
		"DetachNetworkInterface":            s.eniRef(s.DetachNetworkInterface),
		"DescribeNetworkInterfaces":         s.describeNetworkInterfaces,
		"DescribeNetworkInterfaceAttribute": s.describeNetworkInterfaceAttribute,
		"ModifyNetworkInterfaceAttribute":   s.modifyNetworkInterfaceAttribute,
		"AssignPrivateIpAddresses":          s.assignPrivateIpAddresses,
		"UnassignPrivateIpAddresses":        s.unassignPrivateIpAddresses,
	}
}

type securityGroupIDSet struct{ SecurityGroupId []string }

type eniAttachment struct {
	InstanceId       string
	DeviceIndex      int
	NetworkCardIndex int
}

// eniItem is a NetworkInterfaceSet; Create and DescribeNetworkInterfaceAttribute
// answer with the same fields at the top level.
type eniItem struct {
	NetworkInterfaceId   string
	NetworkInterfaceName string
	Description          string
	Type                 string
	Status               string
	VpcId                string
	VSwitchId            string
	ZoneId               string
	InstanceId           string
	MacAddress           string
	PrivateIpAddress     string
	CreationTime         string
	OwnerId              string
	ResourceGroupId      string
	ServiceID            int64
	ServiceManaged       bool
	DeleteOnRelease      bool
	SourceDestCheck      bool
	SecurityGroupIds     securityGroupIDSet
	Attachment           *eniAttachment `json:",omitempty"`
	PrivateIpSets        struct{ PrivateIpSet []privateIPSetItem }
	Ipv6Sets             struct{ Ipv6Set []ipv6SetItem }
	// Ipv4PrefixSets is always an empty list (Palisade assigns no
	// prefixes): the alicloud provider's read of an ENI asserts it is a
	// list and panics on a missing one.
	Ipv4PrefixSets struct{ Ipv4PrefixSet []ipv4PrefixItem }
	Tags           tagSet
	// AssociatedPublicIp is the ENI's EIP (a primary ENI's, its
	// instance's public address); empty fields when it has none.
	AssociatedPublicIp associatedPublicIP
}

type associatedPublicIP struct {
	PublicIpAddress string
	AllocationId    string
}

type ipv4PrefixItem struct{ Ipv4Prefix string }

// eniResourceGroup is a secondary ENI's resource group as named (none when
// never named: Terraform's alicloud_ecs_network_interface does not compute
// it), a primary ENI's its instance's.
func eniResourceGroup(n *model.NetworkInterface) string {
	if n.Type == model.ENIPrimary {
		return resourceGroupID(n.Owner)
	}
	return n.ResourceGroupID
}

func eniOut(n *model.NetworkInterface) eniItem {
	item := eniItem{NetworkInterfaceId: n.ID, NetworkInterfaceName: n.Name, Description: n.Description, Type: n.Type,
		Status: n.Status, VpcId: n.VpcID, VSwitchId: n.VSwitchID, ZoneId: n.Zone, InstanceId: n.InstanceID, MacAddress: n.MAC,
		PrivateIpAddress: n.PrivateIP.String(), CreationTime: timeText(n.Created), OwnerId: n.Owner,
		ResourceGroupId: eniResourceGroup(n), DeleteOnRelease: n.DeleteOnRelease || n.Type == model.ENIPrimary,
		SecurityGroupIds: securityGroupIDSet{SecurityGroupId: append([]string{}, n.SecurityGroups...)}, Tags: tagsOut(n.Tags)}
	if n.InstanceID != "" {
		item.Attachment = &eniAttachment{InstanceId: n.InstanceID, DeviceIndex: n.DeviceIndex}
	}
	item.PrivateIpSets.PrivateIpSet = privateIPSets(n.PrivateIP, n.SecondaryIPs)
	if n.PublicIP.IsValid() {
		// In NAT mode the EIP stands for the primary private address.
		pub := associatedPublicIP{PublicIpAddress: n.PublicIP.String(), AllocationId: n.EipID}
		item.AssociatedPublicIp, item.PrivateIpSets.PrivateIpSet[0].AssociatedPublicIp = pub, &pub
	}
	item.Ipv6Sets.Ipv6Set = append([]ipv6SetItem{}, ipv6Sets(n.IPv6s())...)
	item.Ipv4PrefixSets.Ipv4PrefixSet = []ipv4PrefixItem{}
	return item
}

type eniResponse struct {
	rpc.Base
	eniItem
}

func (s *Service) createNetworkInterface(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	// IPv4 prefixes are not modelled: refused rather than dropped, so the
	// ENI is not made without them.
	if e := p.CheckList("PrivateIpAddress", false, true); e != nil {
		return nil, e
	}
	if n, e := p.Int("Ipv4PrefixCount", 0); e != nil {
		return nil, e
	} else if n > 0 || len(p.List("Ipv4Prefix")) > 0 {
		return nil, ecserr.BadRequest("OperationUnsupported.Ipv4Prefix", "Palisade assigns no IPv4 prefixes to ENIs; leave Ipv4Prefix.N and Ipv4PrefixCount out.")
	}
	groups := p.List("SecurityGroupIds")
	switch {
	case p.Has("SecurityGroupId") && len(groups) > 0:
		return nil, ecserr.BadRequest("InvalidParameter.Conflict", "Give SecurityGroupId or SecurityGroupIds.N, not both.")
	case p.Has("SecurityGroupId"):
		groups = []string{p.Get("SecurityGroupId")}
	}
	in := service.CreateENIInput{Caller: c, VSwitchID: p.Get("VSwitchId"), SecurityGroupIDs: groups, PrimaryIP: p.Get("PrimaryIpAddress"),
		IPv6: p.List("Ipv6Address"), Name: p.Get("NetworkInterfaceName"), Description: p.Get("Description"),
		Type: p.Get("InstanceType"), ResourceGroupID: p.Get("ResourceGroupId"), Idempotency: idempotency(req)}
	var e *ecserr.Error // p.Int and p.Bool return *ecserr.Error: keep it out of err
	if in.IPv6Count, e = p.Int("Ipv6AddressCount", 0); e != nil {
		return nil, e
	}
	if in.SecondaryCount, e = p.Int("SecondaryPrivateIpAddressCount", 0); e != nil {
		return nil, e
	}
	in.SecondaryIPs = p.List("PrivateIpAddress")
	if in.DeleteOnRelease, e = p.Bool("DeleteOnRelease", false); e != nil {
		return nil, e
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	n, err := s.CreateNetworkInterface(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &eniResponse{eniItem: eniOut(n)}
	out.Attachment = nil // the create response has no attachment
	return out, nil
}

// eniRef serves Delete, Attach and Detach, which answer with RequestId only.
func (s *Service) eniRef(act func(context.Context, service.ENIRef) error) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, true)
		if err != nil {
			return nil, err
		}
		p := req.Params
		if req.Action != "DeleteNetworkInterface" && !p.Has("InstanceId") {
			return nil, ecserr.MissingParameter("InstanceId")
		}
		if err := act(ctx, service.ENIRef{Caller: c, NetworkInterfaceID: p.Get("NetworkInterfaceId"), InstanceID: p.Get("InstanceId"),
			Idempotency: idempotency(req)}); err != nil {
			return nil, err
		}
		return &rpc.Base{}, nil
	}
}

type describeNetworkInterfacesResponse struct {
	rpc.Base
	TotalCount           int
	PageNumber           int
	PageSize             int
	NextToken            string
	NetworkInterfaceSets struct{ NetworkInterfaceSet []eniItem }
}

func (s *Service) describeNetworkInterfaces(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	// MaxResults outside 10–500 is clamped, as ECS does.
	if p.Has("MaxResults") {
		n, e := p.Int("MaxResults", 10)
		if e != nil {
			return nil, e
		}
		q := rpc.Params{}
		for k, v := range p {
			q[k] = v
		}
		q["MaxResults"] = strconv.Itoa(min(max(n, 10), 500))
		p = q
	}
	pg, err := parsePage(p, 10, 1000, 10, 500)
	if err != nil {
		return nil, err
	}
	in := service.DescribeENIsInput{Caller: c, IDs: p.List("NetworkInterfaceId"), Name: p.Get("NetworkInterfaceName"),
		VSwitchID: p.Get("VSwitchId"), VpcID: p.Get("VpcId"), InstanceID: p.Get("InstanceId"), PrimaryIP: p.Get("PrimaryIpAddress"),
		PrivateIPs: p.List("PrivateIpAddress"), IPv6s: p.List("Ipv6Address"), SecurityGroupID: p.Get("SecurityGroupId"),
		Type: p.Get("Type"), Status: p.Get("Status"), ResourceGroupID: p.Get("ResourceGroupId"), Page: pg}
	var e *ecserr.Error
	if in.ServiceManaged, e = p.Bool("ServiceManaged", false); e != nil {
		return nil, e
	}
	if in.Tags, err = tagParams(p); err != nil {
		return nil, err
	}
	res, err := s.DescribeNetworkInterfaces(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &describeNetworkInterfacesResponse{TotalCount: res.Total, PageNumber: pg.Number, PageSize: pg.Size, NextToken: res.NextToken}
	out.NetworkInterfaceSets.NetworkInterfaceSet = make([]eniItem, 0, len(res.Items))
	for _, n := range res.Items {
		out.NetworkInterfaceSets.NetworkInterfaceSet = append(out.NetworkInterfaceSets.NetworkInterfaceSet, eniOut(n))
	}
	return out, nil
}

func (s *Service) describeNetworkInterfaceAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	n, err := s.DescribeNetworkInterfaceAttribute(ctx, c, req.Params.Get("NetworkInterfaceId"))
	if err != nil {
		return nil, err
	}
	return &eniResponse{eniItem: eniOut(n)}, nil
}

func (s *Service) modifyNetworkInterfaceAttribute(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	in := service.ModifyENIInput{Caller: c, NetworkInterfaceID: p.Get("NetworkInterfaceId"), SecurityGroupIDs: p.List("SecurityGroupId"),
		Idempotency: idempotency(req)}
	in.Name, in.Description = p.Optional("NetworkInterfaceName"), p.Optional("Description")
	var e *ecserr.Error
	if in.DeleteOnRelease, e = p.OptionalBool("DeleteOnRelease"); e != nil {
		return nil, e
	}
	if err := s.ModifyNetworkInterfaceAttribute(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}

// privateIPSets lists an ENI's private IPv4 addresses as PrivateIpSets do:
// the primary first, then the secondary ones in assignment order.
func privateIPSets(primary netip.Addr, secondary []netip.Addr) []privateIPSetItem {
	out := []privateIPSetItem{{PrivateIpAddress: primary.String(), Primary: true}}
	for _, a := range secondary {
		out = append(out, privateIPSetItem{PrivateIpAddress: a.String()})
	}
	return out
}

// privateIPsIn reads AssignPrivateIpAddresses' and
// UnassignPrivateIpAddresses' parameters. PrivateIpAddress is a list
// (PrivateIpAddress.N): a bare value is refused rather than ignored.
func privateIPsIn(c service.Caller, req *rpc.Request) (service.PrivateIPsInput, error) {
	p := req.Params
	if e := p.CheckList("PrivateIpAddress", false, true); e != nil {
		return service.PrivateIPsInput{}, e
	}
	if p.Has("Ipv4Prefix") || len(p.List("Ipv4Prefix")) > 0 || p.Has("Ipv4PrefixCount") {
		return service.PrivateIPsInput{}, ecserr.BadRequest("OperationUnsupported.Ipv4Prefix", "Palisade assigns no IPv4 prefixes to ENIs; leave Ipv4Prefix.N and Ipv4PrefixCount out.")
	}
	in := service.PrivateIPsInput{Caller: c, NetworkInterfaceID: p.Get("NetworkInterfaceId"), Addresses: p.List("PrivateIpAddress"),
		Idempotency: idempotency(req)}
	return in, nil
}

type assignPrivateIPsResponse struct {
	rpc.Base
	AssignedPrivateIpAddressesSet struct {
		NetworkInterfaceId string
		PrivateIpSet       struct{ PrivateIpAddress []string }
		Ipv4PrefixSet      struct{ Ipv4Prefixes []string }
	}
}

func (s *Service) assignPrivateIpAddresses(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := privateIPsIn(c, req)
	if err != nil {
		return nil, err
	}
	var e *ecserr.Error
	if in.Count, e = req.Params.Int("SecondaryPrivateIpAddressCount", 0); e != nil {
		return nil, e
	}
	res, err := s.AssignPrivateIpAddresses(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &assignPrivateIPsResponse{}
	out.AssignedPrivateIpAddressesSet.NetworkInterfaceId = res.NetworkInterfaceID
	out.AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress = append([]string{}, res.Addresses...)
	out.AssignedPrivateIpAddressesSet.Ipv4PrefixSet.Ipv4Prefixes = []string{}
	return out, nil
}

func (s *Service) unassignPrivateIpAddresses(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := privateIPsIn(c, req)
	if err != nil {
		return nil, err
	}
	if err := s.UnassignPrivateIpAddresses(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}
