package apply

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/ecsimport"
)

// Marker is the tag key (on groups and instances) and the description
// prefix (on VPCs, vSwitches and prefix lists, which Palisade's API does not
// tag) that names the file ID a resource was created for.
const Marker = "palisade:id"

// markerDesc is the description of a VPC or prefix list made for file ID id.
func markerDesc(id string) string { return Marker + "=" + id }

// vSwitchDesc marks a vSwitch apply made for the VPC of file ID id.
func vSwitchDesc(id string) string { return Marker + "=" + id + "/vsw" }

// idOfDesc reads the file ID from a marker description.
func idOfDesc(desc string) (string, bool) {
	return strings.CutPrefix(desc, Marker+"=")
}

func idOfTags(tags []model.Tag) (string, bool) {
	for _, t := range tags {
		if t.Key == Marker {
			return t.Value, true
		}
	}
	return "", false
}

// State is the account as read: what the VPC API returns, and what
// ecsimport builds from the ECS Describe* calls.
type State struct {
	VPCs      []VPC
	VSwitches []VSwitch
	Account   *ecsimport.Account
}

// VPC is a VPC as read, with the file ID its marker names ("" if none).
type VPC struct {
	ID, FileID, Name string
	CIDR, IPv6CIDR   netip.Prefix
	Tags             []model.Tag
}

// VSwitch is a vSwitch as read; FileVPC is set on those apply made.
type VSwitch struct {
	ID, VpcID, FileVPC string
	CIDR, IPv6CIDR     netip.Prefix
}

// Read reads one region of the account the clients sign for.
func Read(ctx context.Context, c Clients) (*State, error) {
	st := &State{}
	for page := 1; ; page++ {
		r := vpc.CreateDescribeVpcsRequest()
		r.RegionId, r.PageNumber, r.PageSize = c.Region, requests.NewInteger(page), requests.NewInteger(50)
		resp, err := c.VPC.DescribeVpcs(r)
		if err != nil {
			return nil, fmt.Errorf("DescribeVpcs: %w", err)
		}
		for _, v := range resp.Vpcs.Vpc {
			x := VPC{ID: v.VpcId, Name: v.VpcName}
			x.FileID, _ = idOfDesc(v.Description)
			x.CIDR, _ = netip.ParsePrefix(v.CidrBlock)
			x.IPv6CIDR, _ = netip.ParsePrefix(v.Ipv6CidrBlock)
			for _, t := range v.Tags.Tag {
				x.Tags = append(x.Tags, model.Tag{Key: t.Key, Value: t.Value})
			}
			st.VPCs = append(st.VPCs, x)
		}
		if page*50 >= resp.TotalCount || len(resp.Vpcs.Vpc) == 0 {
			break
		}
	}
	for page := 1; ; page++ {
		r := vpc.CreateDescribeVSwitchesRequest()
		r.RegionId, r.PageNumber, r.PageSize = c.Region, requests.NewInteger(page), requests.NewInteger(50)
		resp, err := c.VPC.DescribeVSwitches(r)
		if err != nil {
			return nil, fmt.Errorf("DescribeVSwitches: %w", err)
		}
		for _, w := range resp.VSwitches.VSwitch {
			x := VSwitch{ID: w.VSwitchId, VpcID: w.VpcId}
			if id, ok := idOfDesc(w.Description); ok {
				x.FileVPC = strings.TrimSuffix(id, "/vsw")
			}
			x.CIDR, _ = netip.ParsePrefix(w.CidrBlock)
			x.IPv6CIDR, _ = netip.ParsePrefix(w.Ipv6CidrBlock)
			st.VSwitches = append(st.VSwitches, x)
		}
		if page*50 >= resp.TotalCount || len(resp.VSwitches.VSwitch) == 0 {
			break
		}
	}
	acct, err := ecsimport.FromECS(ctx, c.ECS, c.Region)
	if err != nil {
		return nil, err
	}
	if err := ecsimport.ReadPortRangeLists(ctx, c.ECS, c.Region, acct); err != nil {
		return nil, err
	}
	st.Account = acct
	return st, nil
}

// Clients are the SDK clients apply reads and writes through, set up for
// the endpoint (Domain, scheme in the config) and the region.
type Clients struct {
	ECS    *ecs.Client
	VPC    *vpc.Client
	Region string
}
