package ecsimport

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Secondary ENIs come from DescribeNetworkInterfaces: each is a NIC with
// its own groups and addresses, judged on its own (model.NICs). Primary
// ENIs are the instances themselves and are skipped here.

const enisPageSize = 500

// enisPage is a DescribeNetworkInterfaces response (field names and types
// as ecs.DescribeNetworkInterfacesResponse and ecs.NetworkInterfaceSet).
type enisPage struct {
	NextToken            string
	TotalCount           num
	NetworkInterfaceSets struct{ NetworkInterfaceSet []eniItem }
}

type eniItem struct {
	NetworkInterfaceId   string
	NetworkInterfaceName string
	Description          string
	Type                 string // Primary | Secondary (| Trunk, Member)
	Status               string
	VpcId                string
	VSwitchId            string
	ZoneId               string
	InstanceId           string
	MacAddress           string
	PrivateIpAddress     string
	CreationTime         string
	OwnerId              string
	SecurityGroupIds     struct{ SecurityGroupId []string }
	Attachment           struct {
		InstanceId  string
		DeviceIndex int
	}
	PrivateIpSets struct {
		PrivateIpSet []struct {
			PrivateIpAddress   string
			Primary            bool
			AssociatedPublicIp struct{ PublicIpAddress string }
		}
	}
	Ipv6Sets struct {
		Ipv6Set []struct{ Ipv6Address string }
	}
	// AssociatedPublicIp is the ENI's EIP (NAT mode): its public address
	// for the analyses.
	AssociatedPublicIp struct{ PublicIpAddress, AllocationId string }
	Tags               tagSet
}

// convertENI builds a secondary ENI; nil for a primary ENI (the instance).
func (b *builder) convertENI(s sourced[eniItem]) *model.NetworkInterface {
	it, src := s.v, s.src
	if strings.EqualFold(it.Type, model.ENIPrimary) {
		return nil
	}
	n := &model.NetworkInterface{ID: it.NetworkInterfaceId, Region: b.region, Owner: it.OwnerId, Name: it.NetworkInterfaceName,
		Description: it.Description, Type: model.ENISecondary, Status: it.Status, InstanceID: cmp.Or(it.InstanceId, it.Attachment.InstanceId),
		DeviceIndex: it.Attachment.DeviceIndex, Zone: it.ZoneId, VpcID: it.VpcId, VSwitchID: it.VSwitchId, MAC: it.MacAddress,
		SecurityGroups: slices.Clone(it.SecurityGroupIds.SecurityGroupId), Tags: tags(it.Tags), Created: parseTime(it.CreationTime)}
	warn := func(format string, args ...any) { b.warn(src, n.ID, "", format, args...) }
	if t := it.Type; t != "" && !strings.EqualFold(t, model.ENISecondary) {
		warn("network interface type %s is imported as a secondary ENI", t)
	}
	if n.InstanceID != "" && n.Status == "" {
		n.Status = model.ENIInUse // older responses name no status
	}
	if n.InstanceID != "" && n.DeviceIndex == 0 {
		n.DeviceIndex = 1 // the primary is 0; the Attachment is invitational and often empty
	}
	n.PrivateIP = parseAddr(it.PrivateIpAddress, false)
	var extra []string
	for _, p := range it.PrivateIpSets.PrivateIpSet {
		if !n.PrivateIP.IsValid() && p.Primary {
			n.PrivateIP = parseAddr(p.PrivateIpAddress, false)
		} else if p.PrivateIpAddress != it.PrivateIpAddress && !p.Primary {
			extra = append(extra, p.PrivateIpAddress)
			if pub := p.AssociatedPublicIp.PublicIpAddress; pub != "" {
				warn("the EIP %q bound to its secondary address %s is not modelled (Palisade binds an ENI's EIP to its primary address), so the internet's flows to it are not evaluated", pub, p.PrivateIpAddress)
			}
		}
	}
	if !n.PrivateIP.IsValid() {
		warn("no private IPv4 address could be read (%q), so no flow to or from the network interface can be evaluated", it.PrivateIpAddress)
	}
	n.SecondaryIPs = b.secondaryIPs(extra, warn)
	var six []string
	for _, s := range it.Ipv6Sets.Ipv6Set {
		six = append(six, s.Ipv6Address)
	}
	n.SetIPv6s(b.ipv6s(six, warn))
	if p := it.AssociatedPublicIp; p.PublicIpAddress != "" {
		if n.PublicIP = parseAddr(p.PublicIpAddress, false); n.PublicIP.IsValid() {
			n.EipID = p.AllocationId
		} else {
			warn("its public address %q cannot be read, so the internet's flows to it are not evaluated", p.PublicIpAddress)
		}
	}
	if len(n.SecurityGroups) == 0 {
		warn("the network interface is in no security group, so nothing but the defaults decides its traffic")
	}
	return n
}

// enis reads the region's ENIs (DescribeNetworkInterfaces, every page).
func enis(ctx context.Context, b *builder, client *ecs.Client, regionID string) error {
	return pages(ctx, func(n int, token string) (string, error) {
		r := ecs.CreateDescribeNetworkInterfacesRequest()
		r.RegionId, r.MaxResults, r.NextToken = regionID, requests.NewInteger(enisPageSize), token
		resp, err := client.DescribeNetworkInterfaces(r)
		if err != nil {
			return "", callError("DescribeNetworkInterfaces", regionID, err)
		}
		return resp.NextToken, b.add(fmt.Sprintf("DescribeNetworkInterfaces page %d", n), resp.GetHttpContentBytes())
	})
}
