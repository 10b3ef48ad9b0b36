package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

func (s *Service) regionActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"DescribeRegions": s.describeRegions,
		"DescribeZones":   s.describeZones,
	}
}

type regionItem struct {
	RegionId       string
	LocalName      string
	RegionEndpoint string
	Status         string
}

type describeRegionsResponse struct {
	rpc.Base
	Regions struct{ Region []regionItem }
}

// describeRegions lists the regions. The endpoint of every region is this
// server as the client addressed it, so clients that resolve endpoints from
// this list keep talking to Palisade.
func (s *Service) describeRegions(ctx context.Context, req *rpc.Request) (any, error) {
	if _, err := s.callerOf(ctx, req, false); err != nil {
		return nil, err
	}
	out := &describeRegionsResponse{}
	for _, r := range s.DescribeRegions() {
		endpoint := req.Host
		if endpoint == "" {
			endpoint = "ecs." + r.ID + ".aliyuncs.com"
		}
		out.Regions.Region = append(out.Regions.Region, regionItem{RegionId: r.ID, LocalName: r.LocalName, RegionEndpoint: endpoint, Status: "available"})
	}
	return out, nil
}

type zoneItem struct {
	ZoneId                    string
	LocalName                 string
	ZoneType                  string
	AvailableResourceCreation struct{ ResourceTypes []string }
}

type describeZonesResponse struct {
	rpc.Base
	Zones struct{ Zone []zoneItem }
}

func (s *Service) describeZones(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	out := &describeZonesResponse{}
	for _, z := range s.DescribeZones(c) {
		item := zoneItem{ZoneId: z.ID, LocalName: z.LocalName, ZoneType: "AvailabilityZone"}
		item.AvailableResourceCreation.ResourceTypes = []string{"VSwitch", "IoOptimized", "Instance", "Disk"}
		out.Zones.Zone = append(out.Zones.Zone, item)
	}
	return out, nil
}
