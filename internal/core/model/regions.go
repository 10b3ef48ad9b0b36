package model

// Region is an ECS region as DescribeRegions reports it.
type Region struct {
	ID        string
	LocalName string
	Zones     []string
}

// Regions are the regions Palisade serves. Resources live in one region;
// IDs of other regions are refused with InvalidRegionId.NotFound.
var Regions = []Region{
	{"cn-hangzhou", "华东1（杭州）", []string{"cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"}},
	{"cn-shanghai", "华东2（上海）", []string{"cn-shanghai-e", "cn-shanghai-f", "cn-shanghai-g", "cn-shanghai-l"}},
	{"cn-beijing", "华北2（北京）", []string{"cn-beijing-g", "cn-beijing-h", "cn-beijing-i", "cn-beijing-k"}},
	{"cn-shenzhen", "华南1（深圳）", []string{"cn-shenzhen-c", "cn-shenzhen-d", "cn-shenzhen-e", "cn-shenzhen-f"}},
	{"cn-qingdao", "华北1（青岛）", []string{"cn-qingdao-b", "cn-qingdao-c"}},
	{"cn-zhangjiakou", "华北3（张家口）", []string{"cn-zhangjiakou-a", "cn-zhangjiakou-b", "cn-zhangjiakou-c"}},
	{"cn-hongkong", "中国香港", []string{"cn-hongkong-b", "cn-hongkong-c", "cn-hongkong-d"}},
	{"ap-southeast-1", "新加坡", []string{"ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"}},
	{"ap-northeast-1", "日本（东京）", []string{"ap-northeast-1a", "ap-northeast-1b"}},
	{"us-west-1", "美国（硅谷）", []string{"us-west-1a", "us-west-1b"}},
	{"us-east-1", "美国（弗吉尼亚）", []string{"us-east-1a", "us-east-1b"}},
	{"eu-central-1", "德国（法兰克福）", []string{"eu-central-1a", "eu-central-1b"}},
	{"eu-west-1", "英国（伦敦）", []string{"eu-west-1a", "eu-west-1b"}},
}

// LookupRegion returns the region with the given ID.
func LookupRegion(id string) (Region, bool) {
	for _, r := range Regions {
		if r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}

// HasZone reports whether the region has the zone.
func (r Region) HasZone(zone string) bool {
	for _, z := range r.Zones {
		if z == zone {
			return true
		}
	}
	return false
}
