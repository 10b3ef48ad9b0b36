package service

import (
	"net/http"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Image is a system image as ECS describes it. Palisade boots nothing:
// RunInstances takes any well-formed ImageId, and these are the public
// images data "alicloud_images" and tools that look an image up by name
// find, so a configuration written for Alibaba Cloud plans unchanged.
type Image struct {
	ID       string // also its ImageName, as ECS names system images
	Family   string
	OSName   string // as the console shows it in Chinese
	OSNameEn string
	OSType   string // linux or windows
	Platform string
	Created  string // CreationTime, RFC 3339
	SizeGiB  int
}

// Architecture is every catalogue image's: the catalogue's instance types
// are all x86.
const imageArchitecture = "x86_64"

// systemImages is the catalogue, oldest first.
var systemImages = []Image{
	{"centos_7_9_x64_20G_alibase_20240628.vhd", "acs:centos_7_9_x64", "CentOS  7.9 64位", "CentOS  7.9 64 bit", "linux", "CentOS", "2024-06-28T07:41:13Z", 20},
	{"aliyun_3_x64_20G_alibase_20240819.vhd", "acs:alibaba_cloud_linux_3_2104_lts_x64", "Alibaba Cloud Linux  3.2104 LTS 64位", "Alibaba Cloud Linux  3.2104 LTS 64 bit", "linux", "Aliyun", "2024-08-19T09:12:40Z", 40},
	{"win2022_21H2_x64_dtc_en-us_40G_alibase_20240919.vhd", "acs:windows_server_2022_datacenter_en", "Windows Server  2022 数据中心版 64位英文版", "Windows Server  2022 Data Center Edition 64bit English Edition", "windows", "Windows Server 2022", "2024-09-19T02:30:05Z", 40},
	{"ubuntu_20_04_x64_20G_alibase_20240926.vhd", "acs:ubuntu_20_04_x64", "Ubuntu  20.04 64位", "Ubuntu  20.04 64 bit", "linux", "Ubuntu", "2024-09-26T10:05:21Z", 20},
	{"ubuntu_22_04_x64_20G_alibase_20240926.vhd", "acs:ubuntu_22_04_x64", "Ubuntu  22.04 64位", "Ubuntu  22.04 64 bit", "linux", "Ubuntu", "2024-09-26T10:07:48Z", 20},
	{"ubuntu_24_04_x64_20G_alibase_20240926.vhd", "acs:ubuntu_24_04_x64", "Ubuntu  24.04 64位", "Ubuntu  24.04 64 bit", "linux", "Ubuntu", "2024-09-26T10:11:02Z", 20},
	{"debian_12_7_x64_20G_alibase_20240927.vhd", "acs:debian_12_x64", "Debian  12.7 64位", "Debian  12.7 64 bit", "linux", "Debian", "2024-09-27T03:22:54Z", 20},
}

// imageStatuses are the values DescribeImages' Status takes; the
// catalogue's images are all Available.
var imageStatuses = []string{"Creating", "Waiting", "Available", "UnAvailable", "CreateFailed", "Deprecated"}

// DescribeImagesInput is DescribeImages' filters; an empty one does not
// filter.
type DescribeImagesInput struct {
	Caller
	OwnerAlias   string   // system, self, others or marketplace
	IDs          []string // ImageId, comma-separated in the request
	Name         string   // a part of ImageName
	Family       string
	Statuses     []string // Status, comma-separated; Available when empty
	OSType       string
	Architecture string
	Usage        string // instance or none
	InstanceType string
	IoOptimized  *bool
	CloudInit    *bool
	// OwnImagesOnly is set when the request names what only the caller's
	// own images have (SnapshotId, ResourceGroupId, Tag.N): no system
	// image matches it.
	OwnImagesOnly bool
	DryRun        bool
	Page          Page
}

// oneOf checks an enumerated parameter.
func oneOf(name, v string, values ...string) *ecserr.Error {
	if v == "" || slices.Contains(values, v) {
		return nil
	}
	return ecserr.InvalidParameter(name, "it is one of "+strings.Join(values, ", ")+", got "+model.Clip(v))
}

// DescribeImages lists the catalogue images that match every filter.
func (s *Service) DescribeImages(in DescribeImagesInput) (Listing[Image], error) {
	for _, e := range []*ecserr.Error{
		oneOf("ImageOwnerAlias", in.OwnerAlias, "system", "self", "others", "marketplace"),
		oneOf("OSType", in.OSType, "linux", "windows"),
		oneOf("Architecture", in.Architecture, "i386", "x86_64", "arm64"),
		oneOf("Usage", in.Usage, "instance", "none"),
	} {
		if e != nil {
			return Listing[Image]{}, e
		}
	}
	if len(in.IDs) > 100 {
		return Listing[Image]{}, ecserr.InvalidParameter("ImageId", "it names at most 100 images, separated by commas")
	}
	for _, id := range in.IDs {
		if e := model.ValidateImageID(id); e != nil {
			return Listing[Image]{}, e
		}
	}
	statuses := in.Statuses
	if len(statuses) == 0 {
		statuses = []string{"Available"}
	}
	for _, st := range statuses {
		if e := oneOf("Status", st, imageStatuses...); e != nil {
			return Listing[Image]{}, e
		}
	}
	if in.InstanceType != "" {
		if e := model.ValidateInstanceType(in.InstanceType); e != nil {
			return Listing[Image]{}, e
		}
	}
	if in.DryRun {
		return Listing[Image]{}, dryRunPassed()
	}
	// What only an account's own images have matches no system image;
	// so does an image that is not Available or not x86_64 (the catalogue
	// has none), and Usage none (every system image makes instances).
	if in.OwnImagesOnly || (in.OwnerAlias != "" && in.OwnerAlias != "system") || !slices.Contains(statuses, "Available") ||
		(in.Architecture != "" && in.Architecture != imageArchitecture) || in.Usage == "none" ||
		(in.IoOptimized != nil && !*in.IoOptimized) || (in.CloudInit != nil && !*in.CloudInit) {
		return pageOf([]Image{}, in.Page), nil
	}
	// Newest first, as ECS lists them. Every image takes every instance
	// type the zones list (they are all x86), so InstanceType narrows
	// nothing once it is well formed.
	var out []Image
	for _, im := range slices.Backward(systemImages) {
		if (len(in.IDs) > 0 && !slices.Contains(in.IDs, im.ID)) || !strings.Contains(im.ID, in.Name) ||
			(in.Family != "" && in.Family != im.Family) || (in.OSType != "" && in.OSType != im.OSType) {
			continue
		}
		out = append(out, im)
	}
	return pageOf(out, in.Page), nil
}

// CatalogueImage is the catalogue's image of this ID; false for any other
// (RunInstances takes any well-formed ImageId).
func CatalogueImage(id string) (Image, bool) {
	for _, im := range systemImages {
		if im.ID == id {
			return im, true
		}
	}
	return Image{}, false
}

// GetImage returns one catalogue image, or InvalidImageId.NotFound.
func (s *Service) GetImage(id string) (Image, error) {
	if e := model.ValidateImageID(id); e != nil {
		return Image{}, e
	}
	if im, ok := CatalogueImage(id); ok {
		return im, nil
	}
	return Image{}, ecserr.New(http.StatusNotFound, "InvalidImageId.NotFound", "Image %q is not one of this region's images; DescribeImages lists them.", model.Clip(id))
}
