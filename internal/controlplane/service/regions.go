package service

import (
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Zone is an availability zone as ECS lists it.
type Zone struct {
	ID        string
	LocalName string // e.g. "华东1（杭州） 可用区H"
}

// DescribeRegions lists the regions Palisade serves.
func (s *Service) DescribeRegions() []model.Region { return model.Regions }

// DescribeZones lists the zones of the caller's region.
func (s *Service) DescribeZones(c Caller) []Zone {
	r, _ := model.LookupRegion(c.Region)
	out := make([]Zone, 0, len(r.Zones))
	for _, z := range r.Zones {
		out = append(out, Zone{ID: z, LocalName: zoneLocalName(r, z)})
	}
	return out
}

// zoneLocalName names a zone the way ECS does: the region's name and the
// zone letter.
func zoneLocalName(r model.Region, zone string) string {
	letter := strings.TrimPrefix(strings.TrimPrefix(zone, r.ID), "-")
	return r.LocalName + " 可用区" + strings.ToUpper(letter)
}
