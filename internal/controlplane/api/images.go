package api

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// catalogueActions answer what data "alicloud_images" and data
// "alicloud_instance_types" ask before an instance is planned.
func (s *Service) catalogueActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"DescribeImages":                    s.describeImages,
		"DescribeImageSupportInstanceTypes": s.describeImageSupportInstanceTypes,
		"DescribeInstanceTypes":             s.describeInstanceTypes,
	}
}

type diskDeviceMapping struct {
	Device, Size, SnapshotId, Type, Format, ImportOSSBucket, ImportOSSObject, Progress string
	DiskImageSize, RemainTime                                                          int
}

type imageItem struct {
	ImageId, ImageName, ImageFamily, ImageVersion, Description string
	ImageOwnerAlias, OSName, OSNameEn, OSType, Platform        string
	Architecture, Status, Progress, Usage, CreationTime        string
	BootMode, ProductCode, IsSelfShared, SupplierName          string
	ResourceGroupId                                            string
	Size                                                       int
	IsSupportIoOptimized, IsSupportCloudinit, IsPublic         bool
	IsCopied, IsSubscribed, LoginAsNonRootSupported            bool
	Features                                                   struct{ NvmeSupport, ImdsSupport string }
	Tags                                                       tagSet
	DiskDeviceMappings                                         struct{ DiskDeviceMapping []diskDeviceMapping }
}

func imageOut(im service.Image) imageItem {
	item := imageItem{ImageId: im.ID, ImageName: im.ID, ImageFamily: im.Family, ImageOwnerAlias: "system",
		OSName: im.OSName, OSNameEn: im.OSNameEn, OSType: im.OSType, Platform: im.Platform, Architecture: "x86_64",
		Status: "Available", Progress: "100%", Usage: "instance", CreationTime: im.Created, BootMode: "BIOS",
		Size: im.SizeGiB, IsSupportIoOptimized: true, IsSupportCloudinit: true, IsPublic: true,
		LoginAsNonRootSupported: im.OSType == "linux", Tags: tagsOut(nil)}
	item.Features.NvmeSupport, item.Features.ImdsSupport = "supported", "v2"
	// A system image's one disk, with no snapshot of the caller's.
	item.DiskDeviceMappings.DiskDeviceMapping = []diskDeviceMapping{{Device: "/dev/xvda", Size: strconv.Itoa(im.SizeGiB), Type: "system"}}
	return item
}

type describeImagesResponse struct {
	rpc.Base
	RegionId                         string
	TotalCount, PageNumber, PageSize int
	Images                           struct{ Image []imageItem }
}

func (s *Service) describeImages(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	pg, err := numberPage(p, 100)
	if err != nil {
		return nil, err
	}
	in := service.DescribeImagesInput{Caller: c, OwnerAlias: p.Get("ImageOwnerAlias"), Name: p.Get("ImageName"),
		Family: p.Get("ImageFamily"), OSType: p.Get("OSType"), Architecture: p.Get("Architecture"), Usage: p.Get("Usage"),
		InstanceType: p.Get("InstanceType"), Page: pg,
		OwnImagesOnly: p.Has("SnapshotId") || p.Has("ResourceGroupId") || len(p.Structs("Tag")) > 0}
	in.IDs, in.Statuses = commaIDs(p, "ImageId"), commaIDs(p, "Status")
	var e *ecserr.Error
	if in.IoOptimized, e = p.OptionalBool("IsSupportIoOptimized"); e != nil {
		return nil, e
	}
	if in.CloudInit, e = p.OptionalBool("IsSupportCloudinit"); e != nil {
		return nil, e
	}
	if in.DryRun, e = p.Bool("DryRun", false); e != nil {
		return nil, e
	}
	res, err := s.DescribeImages(in)
	if err != nil {
		return nil, err
	}
	out := &describeImagesResponse{RegionId: c.Region, TotalCount: res.Total, PageNumber: pg.Number, PageSize: pg.Size}
	out.Images.Image = []imageItem{}
	for _, im := range res.Items {
		out.Images.Image = append(out.Images.Image, imageOut(im))
	}
	return out, nil
}

// instanceTypeItem is what DescribeInstanceTypes and
// DescribeImageSupportInstanceTypes say of a type; the ENI quotas are the
// ones Palisade enforces (model.ENIQuota, model.ENIIPv4Quota,
// model.ENIIPv6Quota).
type instanceTypeItem struct {
	InstanceTypeId, InstanceTypeFamily, InstanceFamilyLevel, CpuArchitecture string
	GPUSpec, LocalStorageCategory                                            string
	CpuCoreCount                                                             int
	MemorySize                                                               float64 // GiB
	EniQuantity, EniTotalQuantity, EniPrivateIpAddressQuantity               int
	EniIpv6AddressQuantity, GPUAmount, LocalStorageAmount                    int
	LocalStorageCapacity                                                     int64
}

// instanceTypeFamily is a type's family: ecs.g7 of ecs.g7.large, ecs.t5
// of ecs.t5-lc1m1.small.
func instanceTypeFamily(id string) string {
	f := id[:max(strings.LastIndexByte(id, '.'), 0)]
	f, _, _ = strings.Cut(f, "-")
	return f
}

func instanceTypeOut(id string) instanceTypeItem {
	spec := instanceTypeSpecs[id]
	family := instanceTypeFamily(id)
	level := "EnterpriseLevel"
	switch family {
	case "ecs.t5", "ecs.t6":
		level = "CreditEntryLevel"
	case "ecs.e", "ecs.u1":
		level = "EntryLevel"
	}
	n := model.ENIQuota(id)
	return instanceTypeItem{InstanceTypeId: id, InstanceTypeFamily: family, InstanceFamilyLevel: level, CpuArchitecture: "X86",
		CpuCoreCount: spec.cpu, MemorySize: float64(spec.memory) / 1024, EniQuantity: n, EniTotalQuantity: n,
		EniPrivateIpAddressQuantity: model.ENIIPv4Quota(id), EniIpv6AddressQuantity: model.ENIIPv6Quota(id)}
}

type describeInstanceTypesResponse struct {
	rpc.Base
	NextToken     string
	InstanceTypes struct{ InstanceType []instanceTypeItem }
}

// floatParam reads a decimal number (the SDK writes 8 as "8.000000");
// absent, it is NaN.
func floatParam(p rpc.Params, name string) (float64, *ecserr.Error) {
	v := p.Get(name)
	if v == "" {
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, ecserr.InvalidParameter(name, "it must be a non-negative decimal number, such as 8 or 0.5")
	}
	return f, nil
}

// describeInstanceTypes lists the types the zones list (zoneInstanceTypes)
// that match the filters data "alicloud_instance_types" and the SDKs send;
// the others (frequencies, bandwidths, PPS, ...) narrow nothing.
func (s *Service) describeInstanceTypes(ctx context.Context, req *rpc.Request) (any, error) {
	if _, err := s.callerOf(ctx, req, false); err != nil {
		return nil, err
	}
	p := req.Params
	// ECS pages these by tokens only, 1600 at most and by default.
	maxResults := p.Get("MaxResults")
	if maxResults == "" {
		maxResults = "1600"
	}
	pg, err := parsePage(rpc.Params{"NextToken": p.Get("NextToken"), "MaxResults": maxResults}, 1600, 1600, 1600, 1600)
	if err != nil {
		return nil, err
	}
	types := p.List("InstanceTypes")
	if v := p.Get("InstanceType"); v != "" { // the provider's instance_type
		types = append(types, v)
	}
	for _, t := range types {
		if e := model.ValidateInstanceType(t); e != nil {
			return nil, e
		}
	}
	families := p.List("InstanceTypeFamilies")
	if v := p.Get("InstanceTypeFamily"); v != "" {
		families = append(families, v)
	}
	arch := p.List("CpuArchitectures")
	if v := p.Get("CpuArchitecture"); v != "" {
		arch = append(arch, v)
	}
	for _, a := range arch {
		if a != "X86" && a != "ARM" {
			return nil, ecserr.InvalidParameter("CpuArchitecture", "it is X86 or ARM, got "+model.Clip(a))
		}
	}
	ints := map[string]int{}
	for _, name := range []string{"MinimumCpuCoreCount", "MaximumCpuCoreCount", "MinimumEniQuantity", "MinimumEniPrivateIpAddressQuantity",
		"MinimumEniIpv6AddressQuantity", "MinimumGPUAmount", "MaximumGPUAmount", "MinimumLocalStorageAmount"} {
		n, e := p.Int(name, -1)
		if e != nil {
			return nil, e
		}
		ints[name] = n
	}
	minMem, e := floatParam(p, "MinimumMemorySize")
	if e != nil {
		return nil, e
	}
	maxMem, e := floatParam(p, "MaximumMemorySize")
	if e != nil {
		return nil, e
	}
	atLeast := func(have int, name string) bool { return ints[name] < 0 || have >= ints[name] }
	atMost := func(have int, name string) bool { return ints[name] < 0 || have <= ints[name] }
	var all []instanceTypeItem
	for _, id := range zoneInstanceTypes {
		t := instanceTypeOut(id)
		if (len(types) > 0 && !slices.Contains(types, id)) || (len(families) > 0 && !slices.Contains(families, t.InstanceTypeFamily)) ||
			(len(arch) > 0 && !slices.Contains(arch, t.CpuArchitecture)) ||
			!atLeast(t.CpuCoreCount, "MinimumCpuCoreCount") || !atMost(t.CpuCoreCount, "MaximumCpuCoreCount") ||
			!atLeast(t.EniQuantity, "MinimumEniQuantity") || !atLeast(t.EniPrivateIpAddressQuantity, "MinimumEniPrivateIpAddressQuantity") ||
			!atLeast(t.EniIpv6AddressQuantity, "MinimumEniIpv6AddressQuantity") || !atLeast(0, "MinimumGPUAmount") ||
			!atLeast(0, "MinimumLocalStorageAmount") || t.MemorySize < minMem || t.MemorySize > maxMem ||
			p.Has("GPUSpec") || p.Has("LocalStorageCategory") || len(p.List("GpuSpecs")) > 0 {
			continue
		}
		all = append(all, t)
	}
	res := service.PageOf(all, pg)
	out := &describeInstanceTypesResponse{NextToken: res.NextToken}
	out.InstanceTypes.InstanceType = res.Items
	return out, nil
}

type describeImageSupportInstanceTypesResponse struct {
	rpc.Base
	RegionId, ImageId string
	InstanceTypes     struct{ InstanceType []instanceTypeItem }
}

// describeImageSupportInstanceTypes lists what an image runs on: every
// catalogue image takes every type the zones list (all x86).
func (s *Service) describeImageSupportInstanceTypes(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	id := req.Params.Get("ImageId")
	if id == "" {
		return nil, ecserr.MissingParameter("ImageId")
	}
	if _, err := s.GetImage(id); err != nil {
		return nil, err
	}
	out := &describeImageSupportInstanceTypesResponse{RegionId: c.Region, ImageId: id}
	out.InstanceTypes.InstanceType = []instanceTypeItem{}
	for _, t := range zoneInstanceTypes {
		out.InstanceTypes.InstanceType = append(out.InstanceTypes.InstanceType, instanceTypeOut(t))
	}
	return out, nil
}
