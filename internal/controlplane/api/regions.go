package api

import (
	"context"
	"math"
	"net/http"
	"slices"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func (s *Service) regionActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"DescribeRegions": s.describeRegions,
		"DescribeZones":   s.describeZones,
		// data "alicloud_zones" asks it which zones are not sold out.
		"DescribeAvailableResource": s.describeAvailableResource,
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
	AvailableInstanceTypes    struct{ InstanceTypes []string }
	AvailableDiskCategories   struct{ DiskCategories []string }
	AvailableVolumeCategories struct{ VolumeCategories []string }
}

// zoneInstanceTypes and zoneDiskCategories are what every zone lists.
// Palisade runs no machines and takes any well-formed InstanceType; data
// "alicloud_zones" keeps only zones that list at least one of each, and
// with available_instance_type or available_disk_category only zones that
// list that one, so these are the common ones.
var (
	zoneInstanceTypes  = []string{"ecs.g7.large", "ecs.g7.xlarge", "ecs.c7.large", "ecs.r7.large", "ecs.g6.large", "ecs.c6.large", "ecs.t6-c1m1.large", "ecs.t5-lc1m1.small", "ecs.e-c1m1.large", "ecs.u1-c1m1.large"}
	zoneDiskCategories = []string{"cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto"}
)

// instanceTypeSpecs are the vCPUs and memory (MiB) of the types the zones
// list, as ECS describes them (Cpu and Memory of DescribeInstances, which
// Terraform reads into cpu and memory); another type reads 0, unknown.
var instanceTypeSpecs = map[string]struct{ cpu, memory int }{
	"ecs.g7.large": {2, 8192}, "ecs.g7.xlarge": {4, 16384}, "ecs.c7.large": {2, 4096}, "ecs.r7.large": {2, 16384},
	"ecs.g6.large": {2, 8192}, "ecs.c6.large": {2, 4096}, "ecs.t6-c1m1.large": {2, 2048}, "ecs.t5-lc1m1.small": {1, 1024},
	"ecs.e-c1m1.large": {2, 2048}, "ecs.u1-c1m1.large": {2, 2048},
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
		item.AvailableInstanceTypes.InstanceTypes = zoneInstanceTypes
		item.AvailableDiskCategories.DiskCategories = zoneDiskCategories
		item.AvailableVolumeCategories.VolumeCategories = []string{}
		out.Zones.Zone = append(out.Zones.Zone, item)
	}
	return out, nil
}

type supportedResource struct {
	Value          string
	Status         string
	StatusCategory string
	Min, Max       int    `json:",omitempty"`
	Unit           string `json:",omitempty"`
}

type availableResource struct {
	Type               string
	SupportedResources struct{ SupportedResource []supportedResource }
}

type availableZone struct {
	RegionId           string
	ZoneId             string
	Status             string
	StatusCategory     string
	AvailableResources struct{ AvailableResource []availableResource }
}

type describeAvailableResourceResponse struct {
	rpc.Base
	AvailableZones struct{ AvailableZone []availableZone }
}

// availableKinds are the DestinationResource values answered, with what
// each lists.
var availableKinds = map[string]func() []string{
	"Zone":         nil, // the zone itself
	"IoOptimized":  func() []string { return []string{"optimized"} },
	"InstanceType": func() []string { return zoneInstanceTypes },
	"SystemDisk":   func() []string { return zoneDiskCategories },
	"DataDisk":     func() []string { return zoneDiskCategories },
	"Network":      func() []string { return []string{"vpc"} },
}

// instanceTypeFilter reads what narrows DestinationResource=InstanceType:
// Cores (vCPUs), Memory (GiB; the SDK writes 8 as "8.000000") and
// InstanceType, as data "alicloud_instance_types" sends the first two.
func instanceTypeFilter(p rpc.Params) (func(string) bool, *ecserr.Error) {
	cores, e := p.Int("Cores", 0)
	if e != nil {
		return nil, e
	}
	if cores < 0 {
		return nil, ecserr.InvalidParameter("Cores", "it is a number of vCPUs, at least 1")
	}
	mem, e := floatParam(p, "Memory")
	if e != nil {
		return nil, e
	}
	typ := p.Get("InstanceType")
	if typ != "" {
		if e := model.ValidateInstanceType(typ); e != nil {
			return nil, e
		}
	}
	return func(t string) bool {
		spec := instanceTypeSpecs[t]
		return (cores == 0 || spec.cpu == cores) && (math.IsNaN(mem) || mem == 0 || float64(spec.memory)/1024 == mem) && (typ == "" || typ == t)
	}, nil
}

// describeAvailableResource says every zone of the region (or ZoneId) is
// available, with the instance types and disk categories DescribeZones
// lists: Palisade has no stock to run out of. Instance types are narrowed
// by Cores, Memory and InstanceType (instanceTypeFilter); the other
// filters the provider sends (IoOptimized, InstanceChargeType,
// SpotStrategy, NetworkCategory, ...) narrow nothing.
func (s *Service) describeAvailableResource(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	dest := p.Get("DestinationResource")
	if dest == "" {
		return nil, ecserr.MissingParameter("DestinationResource")
	}
	values, ok := availableKinds[dest]
	if !ok {
		return nil, ecserr.InvalidParameter("DestinationResource", "it is one of Zone, IoOptimized, InstanceType, SystemDisk, DataDisk or Network")
	}
	var list []string // nil for Zone: each zone lists itself
	if values != nil {
		list = values()
	}
	if dest == "InstanceType" {
		keep, e := instanceTypeFilter(p)
		if e != nil {
			return nil, e
		}
		list = slices.DeleteFunc(slices.Clone(list), func(t string) bool { return !keep(t) })
	}
	out := &describeAvailableResourceResponse{}
	out.AvailableZones.AvailableZone = []availableZone{}
	zones := s.DescribeZones(c)
	if z := p.Get("ZoneId"); z != "" && !slices.ContainsFunc(zones, func(x service.Zone) bool { return x.ID == z }) {
		return nil, ecserr.New(http.StatusNotFound, "InvalidZoneId.NotFound", "Zone %q is not a zone of %s; DescribeZones lists them.", model.Clip(z), c.Region)
	}
	for _, z := range zones {
		if id := p.Get("ZoneId"); id != "" && id != z.ID {
			continue
		}
		az := availableZone{RegionId: c.Region, ZoneId: z.ID, Status: "Available", StatusCategory: "WithStock"}
		r := availableResource{Type: dest}
		r.SupportedResources.SupportedResource = []supportedResource{}
		vs := list
		if values == nil {
			vs = []string{z.ID}
		}
		if len(vs) == 0 {
			continue // ECS leaves out a zone with nothing that matches
		}
		for _, v := range vs {
			r.SupportedResources.SupportedResource = append(r.SupportedResources.SupportedResource,
				supportedResource{Value: v, Status: "Available", StatusCategory: "WithStock"})
		}
		az.AvailableResources.AvailableResource = []availableResource{r}
		out.AvailableZones.AvailableZone = append(out.AvailableZones.AvailableZone, az)
	}
	return out, nil
}
