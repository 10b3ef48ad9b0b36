package apitest

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// The data sources every Alibaba Cloud instance example starts from:
//
//	data "alicloud_images" "img" { owners = "system"  most_recent = true  name_regex = "^ubuntu_[0-9]+_[0-9]+_x64*" }
//	data "alicloud_instance_types" "t" { availability_zone = ...  cpu_core_count = 2  memory_size = 8 }
//
// replayed as provider 1.240.0 sends them: DescribeImages through the
// classic SDK (PageNumber 1, PageSize 100, then name_regex and most_recent
// on its side); DescribeAvailableResource (DestinationResource
// InstanceType, Cores, Memory as the SDK writes floats) through the
// classic SDK, then DescribeInstanceTypes by RpcPost, kept when the type is
// in the zone and has exactly the cores and memory asked; with image_id,
// DescribeImageSupportInstanceTypes. Without these actions the plan fails
// with InvalidAction.NotFound.

// imagesDataSource is data "alicloud_images"' read: every page, then
// name_regex, then most_recent by CreationTime.
func imagesDataSource(t *testing.T, c *ecs.Client, owners, nameRegex string, mostRecent bool) []ecs.Image {
	t.Helper()
	var all []ecs.Image
	for page := 1; ; page++ {
		r := ecs.CreateDescribeImagesRequest()
		r.RegionId, r.PageNumber, r.PageSize, r.ImageOwnerAlias = region, requests.NewInteger(page), requests.NewInteger(100), owners
		resp := must(c.DescribeImages(r))(t)
		all = append(all, resp.Images.Image...)
		if len(resp.Images.Image) < 50 {
			break
		}
	}
	re := regexp.MustCompile(nameRegex)
	var out []ecs.Image
	for _, im := range all {
		if im.ImageName != "" && re.MatchString(im.ImageName) {
			out = append(out, im)
		}
	}
	if mostRecent && len(out) > 1 {
		sort.Slice(out, func(i, j int) bool {
			a, _ := time.Parse(time.RFC3339, out[i].CreationTime)
			b, _ := time.Parse(time.RFC3339, out[j].CreationTime)
			return a.Before(b)
		})
		out = out[len(out)-1:]
	}
	return out
}

// instanceTypesDataSource is data "alicloud_instance_types"' read: the
// types each zone offers, DescribeInstanceTypes' list, and the provider's
// own filters. It returns the IDs kept.
func instanceTypesDataSource(t *testing.T, c *ecs.Client, tf tfClient, zone string, cores int, memory float64, imageID string) []string {
	t.Helper()
	ar := ecs.CreateDescribeAvailableResourceRequest()
	ar.RegionId, ar.DestinationResource, ar.IoOptimized = region, "InstanceType", "optimized"
	if cores > 0 {
		ar.Cores = requests.NewInteger(cores)
	}
	if memory > 0 {
		ar.Memory = requests.NewFloat(memory)
	}
	avail := must(c.DescribeAvailableResource(ar))(t)
	inZone := map[string]bool{}
	for _, z := range avail.AvailableZones.AvailableZone {
		if z.ZoneId != zone || z.Status == "SoldOut" {
			continue
		}
		for _, r := range z.AvailableResources.AvailableResource {
			for _, s := range r.SupportedResources.SupportedResource {
				if s.Status != "SoldOut" {
					inZone[s.Value] = true
				}
			}
		}
	}
	out, err := tf.do(ecsVersion, "DescribeInstanceTypes", map[string]any{})
	if err != nil {
		t.Fatalf("DescribeInstanceTypes: %v", err)
	}
	list, ok := at(out, "InstanceTypes.InstanceType")
	if !ok || kindOf(list) != "list" {
		t.Fatalf("DescribeInstanceTypes: no InstanceTypes.InstanceType list in %v", out)
	}
	supported := map[string]bool{}
	if imageID != "" {
		r := ecs.CreateDescribeImageSupportInstanceTypesRequest()
		r.RegionId, r.ImageId = region, imageID
		for _, it := range must(c.DescribeImageSupportInstanceTypes(r))(t).InstanceTypes.InstanceType {
			supported[it.InstanceTypeId] = true
		}
	}
	var ids []string
	for _, v := range list.([]any) {
		item := v.(map[string]any)
		// The provider asserts these kinds (formatInt, formatFloat64,
		// and LocalStorageCapacity as a json.Number, which panics on a
		// string).
		for _, f := range []string{"CpuCoreCount", "MemorySize", "EniQuantity", "GPUAmount", "LocalStorageCapacity"} {
			if k := kindOf(item[f]); k != "number" {
				t.Errorf("DescribeInstanceTypes: %s of %v is %s, the provider reads a number", f, item["InstanceTypeId"], k)
			}
		}
		id := text(item["InstanceTypeId"])
		if !inZone[id] || (imageID != "" && !supported[id]) ||
			(cores > 0 && text(item["CpuCoreCount"]) != fmt.Sprint(cores)) || (memory > 0 && text(item["MemorySize"]) != text(memory)) {
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

func TestTerraformImagesAndInstanceTypes(t *testing.T) {
	e := newEnv(t)
	tf := tfClient{e.v3}

	imgs := imagesDataSource(t, e.ecs, "system", "^ubuntu_[0-9]+_[0-9]+_x64*", true)
	if len(imgs) != 1 {
		t.Fatalf("data alicloud_images finds %d images, want the most recent one", len(imgs))
	}
	im := imgs[0]
	if im.ImageId != "ubuntu_24_04_x64_20G_alibase_20240926.vhd" || im.ImageName != im.ImageId || im.ImageOwnerAlias != "system" ||
		im.OSType != "linux" || im.Platform != "Ubuntu" || im.Architecture != "x86_64" || im.Status != "Available" ||
		im.Usage != "instance" || !im.IsSupportIoOptimized || !im.IsSupportCloudinit || im.Size != 20 ||
		len(im.DiskDeviceMappings.DiskDeviceMapping) != 1 || im.DiskDeviceMappings.DiskDeviceMapping[0].Size != "20" {
		t.Errorf("image %+v", im)
	}
	if _, err := time.Parse(time.RFC3339, im.CreationTime); err != nil {
		t.Errorf("CreationTime %q: %v", im.CreationTime, err)
	}
	zone := "cn-hangzhou-h"
	types := instanceTypesDataSource(t, e.ecs, tf, zone, 2, 8, "")
	if !slices.Equal(types, []string{"ecs.g7.large", "ecs.g6.large"}) {
		t.Errorf("data alicloud_instance_types (2 cores, 8 GiB): %v", types)
	}
	if got := instanceTypesDataSource(t, e.ecs, tf, zone, 2, 0, im.ImageId); len(got) != 8 || slices.Contains(got, "ecs.t5-lc1m1.small") {
		t.Errorf("data alicloud_instance_types (2 cores, image_id): %v", got)
	}
	// What the two chose launches.
	n := newNetwork(t, e, "10.61.0.0/16")
	r := ecs.CreateRunInstancesRequest()
	r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupIds = im.ImageId, types[0], n.vsw, &[]string{n.sgA}
	id := must(e.ecs.RunInstances(r))(t).InstanceIdSets.InstanceIdSet[0]
	if a := instance(t, e.ecs, id); a.ImageId != im.ImageId || a.InstanceType != types[0] || a.Cpu != 2 || a.Memory != 8192 {
		t.Errorf("instance from the data sources: %+v", a)
	}

	// The JSON as the provider reads it: empty lists as lists.
	runTF(t, tf, []tfStep{
		{name: "images: kinds", version: ecsVersion, action: "DescribeImages", body: map[string]any{"ImageId": im.ImageId},
			want: map[string]string{"TotalCount": "1", "Images.Image.0.ImageId": im.ImageId, "Images.Image.0.Progress": "100%"},
			kinds: map[string]string{"Images.Image": "list", "Images.Image.0.Tags.Tag": "list", "Images.Image.0.DiskDeviceMappings.DiskDeviceMapping": "list",
				"Images.Image.0.Size": "number", "Images.Image.0.IsSupportIoOptimized": "bool"}},
		{name: "images: none", version: ecsVersion, action: "DescribeImages", body: map[string]any{"ImageOwnerAlias": "self"},
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"Images.Image": "list"}},
		{name: "instance types: kinds", version: ecsVersion, action: "DescribeInstanceTypes", body: map[string]any{"InstanceTypeFamily": "ecs.g7"},
			want: map[string]string{"InstanceTypes.InstanceType.0.InstanceTypeId": "ecs.g7.large", "InstanceTypes.InstanceType.1.InstanceTypeId": "ecs.g7.xlarge",
				"InstanceTypes.InstanceType.0.EniPrivateIpAddressQuantity": "6", "NextToken": ""},
			kinds: map[string]string{"InstanceTypes.InstanceType": "list"}},
	})
}

// TestDescribeImagesFilters: what each filter data "alicloud_images" (and
// DescribeImageById, with its list of statuses) sends selects, and the
// errors of bad values.
func TestDescribeImagesFilters(t *testing.T) {
	e := newEnv(t)
	const ubuntu22 = "ubuntu_22_04_x64_20G_alibase_20240926.vhd"
	const win = "win2022_21H2_x64_dtc_en-us_40G_alibase_20240919.vhd"
	for _, tc := range []struct {
		name   string
		set    func(r *ecs.DescribeImagesRequest)
		want   []string // nil: only the count is checked
		count  int
		status int
		err    string
	}{
		{name: "all system images", set: func(r *ecs.DescribeImagesRequest) { r.ImageOwnerAlias, r.PageSize = "system", "100" }, count: 7},
		{name: "by ID, as DescribeImageById", set: func(r *ecs.DescribeImagesRequest) {
			r.ImageId, r.Status = ubuntu22, "Creating,Waiting,Available,UnAvailable,CreateFailed"
		}, want: []string{ubuntu22}, count: 1},
		{name: "two IDs", set: func(r *ecs.DescribeImagesRequest) { r.ImageId = ubuntu22 + "," + win }, want: []string{ubuntu22, win}, count: 2},
		{name: "an ID not in the catalogue", set: func(r *ecs.DescribeImagesRequest) { r.ImageId = imageID }, want: []string{}},
		{name: "name, in part", set: func(r *ecs.DescribeImagesRequest) { r.ImageName = "ubuntu_22" }, want: []string{ubuntu22}, count: 1},
		{name: "windows", set: func(r *ecs.DescribeImagesRequest) { r.OSType = "windows" }, want: []string{win}, count: 1},
		{name: "family", set: func(r *ecs.DescribeImagesRequest) { r.ImageFamily = "acs:ubuntu_22_04_x64" }, want: []string{ubuntu22}, count: 1},
		{name: "arm64", set: func(r *ecs.DescribeImagesRequest) { r.Architecture = "arm64" }, want: []string{}},
		{name: "own images", set: func(r *ecs.DescribeImagesRequest) { r.ImageOwnerAlias = "self" }, want: []string{}},
		{name: "deprecated only", set: func(r *ecs.DescribeImagesRequest) { r.Status = "Deprecated" }, want: []string{}},
		{name: "by tag", set: func(r *ecs.DescribeImagesRequest) { r.Tag = &[]ecs.DescribeImagesTag{{Key: "k", Value: "v"}} }, want: []string{}},
		{name: "any instance type", set: func(r *ecs.DescribeImagesRequest) { r.InstanceType, r.PageSize = "ecs.g7.large", "100" }, count: 7},
		{name: "cloud-init", set: func(r *ecs.DescribeImagesRequest) { r.IsSupportCloudinit, r.PageSize = "true", "100" }, count: 7},
		{name: "page 2 of 3", set: func(r *ecs.DescribeImagesRequest) { r.PageSize, r.PageNumber = "3", "2" }, count: 3},
		{name: "page 3 of 3", set: func(r *ecs.DescribeImagesRequest) { r.PageSize, r.PageNumber = "3", "3" }, count: 1},
		{name: "an unknown filter", set: func(r *ecs.DescribeImagesRequest) {
			r.Filter = &[]ecs.DescribeImagesFilter{{Key: "CreationStartTime", Value: "2024-01-01T00:00Z"}}
		}, count: 7},
		{name: "bad OSType", set: func(r *ecs.DescribeImagesRequest) { r.OSType = "solaris" }, status: 400, err: "InvalidParameter"},
		{name: "bad owner", set: func(r *ecs.DescribeImagesRequest) { r.ImageOwnerAlias = "anyone" }, status: 400, err: "InvalidParameter"},
		{name: "bad status", set: func(r *ecs.DescribeImagesRequest) { r.Status = "Available,Gone" }, status: 400, err: "InvalidParameter"},
		{name: "bad architecture", set: func(r *ecs.DescribeImagesRequest) { r.Architecture = "sparc" }, status: 400, err: "InvalidParameter"},
		{name: "malformed ID", set: func(r *ecs.DescribeImagesRequest) { r.ImageId = "-ubuntu" }, status: 400, err: "InvalidImageId.Malformed"},
		{name: "malformed type", set: func(r *ecs.DescribeImagesRequest) { r.InstanceType = "ECS G7" }, status: 400, err: "InvalidInstanceType.ValueNotSupported"},
		{name: "page too large", set: func(r *ecs.DescribeImagesRequest) { r.PageSize = "101" }, status: 400, err: "InvalidPageSize.Malformed"},
		{name: "bad boolean", set: func(r *ecs.DescribeImagesRequest) { r.IsSupportIoOptimized = "maybe" }, status: 400, err: "InvalidParameter"},
		{name: "dry run", set: func(r *ecs.DescribeImagesRequest) { r.DryRun = "true" }, status: 400, err: "DryRunOperation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ecs.CreateDescribeImagesRequest()
			r.RegionId = region
			tc.set(r)
			resp, err := e.ecs.DescribeImages(r)
			if tc.err != "" {
				wantErr(t, err, tc.status, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, im := range resp.Images.Image {
				ids = append(ids, im.ImageId)
			}
			if len(ids) != tc.count || (tc.want != nil && !slices.Equal(ids, tc.want)) {
				t.Errorf("images %v (total %d), want %d: %v", ids, resp.TotalCount, tc.count, tc.want)
			}
			if resp.TotalCount < len(ids) || (tc.want != nil && resp.TotalCount != len(tc.want)) {
				t.Errorf("TotalCount %d for %v", resp.TotalCount, ids)
			}
		})
	}
}

// TestInstanceTypeFilters: DescribeAvailableResource narrowed by Cores and
// Memory (a zone with nothing left is left out), DescribeInstanceTypes'
// filters, DescribeImageSupportInstanceTypes' errors.
func TestInstanceTypeFilters(t *testing.T) {
	e := newEnv(t)
	tf := tfClient{e.v3}
	avail := func(cores int, memory string) ([]string, int, error) {
		r := ecs.CreateDescribeAvailableResourceRequest()
		r.RegionId, r.DestinationResource, r.ZoneId = region, "InstanceType", "cn-hangzhou-i"
		if cores > 0 {
			r.Cores = requests.NewInteger(cores)
		}
		r.Memory = requests.Float(memory)
		resp, err := e.ecs.DescribeAvailableResource(r)
		if err != nil {
			return nil, 0, err
		}
		var vals []string
		for _, z := range resp.AvailableZones.AvailableZone {
			for _, ar := range z.AvailableResources.AvailableResource {
				for _, s := range ar.SupportedResources.SupportedResource {
					vals = append(vals, s.Value)
				}
			}
		}
		return vals, len(resp.AvailableZones.AvailableZone), nil
	}
	for _, tc := range []struct {
		cores  int
		memory string
		want   []string
		zones  int
	}{
		{2, "8.000000", []string{"ecs.g7.large", "ecs.g6.large"}, 1},
		{4, "", []string{"ecs.g7.xlarge"}, 1},
		{0, "16", []string{"ecs.g7.xlarge", "ecs.r7.large"}, 1},
		{2, "0.5", nil, 0},
		{3, "", nil, 0},
	} {
		got, zones, err := avail(tc.cores, tc.memory)
		if err != nil || !slices.Equal(got, tc.want) || zones != tc.zones {
			t.Errorf("DescribeAvailableResource Cores %d Memory %q: %v in %d zones (%v), want %v in %d", tc.cores, tc.memory, got, zones, err, tc.want, tc.zones)
		}
	}
	_, _, err := avail(0, "lots")
	wantErr(t, err, 400, "InvalidParameter")
	_, _, err = avail(0, "NaN")
	wantErr(t, err, 400, "InvalidParameter")

	// What no type has: an empty list, which the provider ranges over.
	for _, body := range []map[string]any{{"MinimumEniPrivateIpAddressQuantity": 21}, {"GPUSpec": "NVIDIA T4"}, {"MaximumCpuCoreCount": 0}} {
		out, err := tf.do(ecsVersion, "DescribeInstanceTypes", body)
		if err != nil {
			t.Fatalf("DescribeInstanceTypes %v: %v", body, err)
		}
		if l, ok := at(out, "InstanceTypes.InstanceType"); !ok || kindOf(l) != "list" || len(l.([]any)) != 0 {
			t.Errorf("DescribeInstanceTypes %v: %v, want an empty list", body, l)
		}
	}

	it := "InstanceTypes.InstanceType."
	runTF(t, tf, []tfStep{
		{name: "by family", version: ecsVersion, action: "DescribeInstanceTypes", body: map[string]any{"InstanceTypeFamily": "ecs.t5"},
			want: map[string]string{it + "0.InstanceTypeId": "ecs.t5-lc1m1.small", it + "0.CpuCoreCount": "1", it + "0.MemorySize": "1",
				it + "0.InstanceFamilyLevel": "CreditEntryLevel"}},
		{name: "instance_type", version: ecsVersion, action: "DescribeInstanceTypes", body: map[string]any{"InstanceType": "ecs.c7.large"},
			want: map[string]string{it + "0.InstanceTypeId": "ecs.c7.large", it + "0.MemorySize": "4"}},
		{name: "by cores and memory", version: ecsVersion, action: "DescribeInstanceTypes",
			body: map[string]any{"MinimumCpuCoreCount": 4, "MinimumMemorySize": "16"}, want: map[string]string{it + "0.InstanceTypeId": "ecs.g7.xlarge"}},
		{name: "one a page", version: ecsVersion, action: "DescribeInstanceTypes", body: map[string]any{"MaxResults": 1, "NextToken": "1"},
			want: map[string]string{it + "0.InstanceTypeId": "ecs.g7.xlarge", "NextToken": "2"}},
		{name: "bad architecture", version: ecsVersion, action: "DescribeInstanceTypes", body: map[string]any{"CpuArchitecture": "MIPS"},
			err: "InvalidParameter", status: 400},
		{name: "bad memory", version: ecsVersion, action: "DescribeInstanceTypes", body: map[string]any{"MinimumMemorySize": "-1"},
			err: "InvalidParameter", status: 400},
		{name: "bad token", version: ecsVersion, action: "DescribeInstanceTypes", body: map[string]any{"NextToken": "x"},
			err: "InvalidNextToken.Malformed", status: 400},
		{name: "image support, unknown image", version: ecsVersion, action: "DescribeImageSupportInstanceTypes", body: map[string]any{"ImageId": imageID},
			err: "InvalidImageId.NotFound", status: 404},
		{name: "image support, malformed", version: ecsVersion, action: "DescribeImageSupportInstanceTypes", body: map[string]any{"ImageId": "a b"},
			err: "InvalidImageId.Malformed", status: 400},
		{name: "image support, no image", version: ecsVersion, action: "DescribeImageSupportInstanceTypes", body: map[string]any{},
			err: "MissingParameter", status: 400},
	})
}
