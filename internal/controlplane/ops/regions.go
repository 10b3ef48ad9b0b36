package ops

import (
	"context"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) regionActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"DescribeRegions": s.DescribeRegions,
		"DescribeZones":   s.DescribeZones,
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

// DescribeRegions lists the regions Palisade serves. The endpoint of every
// region is this server as the client addressed it, so clients that resolve
// endpoints from this list keep talking to Palisade.
func (s *Service) DescribeRegions(ctx context.Context, req *rpc.Request) (any, error) {
	if _, err := s.callerOf(ctx, req, false); err != nil {
		return nil, err
	}
	out := &describeRegionsResponse{}
	for _, r := range model.Regions {
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

// DescribeZones lists the zones of a region.
func (s *Service) DescribeZones(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	r, _ := model.LookupRegion(c.Region)
	out := &describeZonesResponse{}
	for _, z := range r.Zones {
		item := zoneItem{ZoneId: z, LocalName: zoneLocalName(r, z), ZoneType: "AvailabilityZone"}
		item.AvailableResourceCreation.ResourceTypes = []string{"VSwitch", "IoOptimized", "Instance", "Disk"}
		out.Zones.Zone = append(out.Zones.Zone, item)
	}
	return out, nil
}

// zoneLocalName names a zone the way ECS does: the region's name and the
// zone letter, e.g. "华东1（杭州） 可用区H".
func zoneLocalName(r model.Region, zone string) string {
	letter := strings.TrimPrefix(strings.TrimPrefix(zone, r.ID), "-")
	return r.LocalName + " 可用区" + strings.ToUpper(letter)
}
