package api

import (
	"reflect"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// The VPC product tags VPCs and vSwitches, as the alicloud provider does
// right after creating them; each product keeps to its own types.
func TestVpcTags(t *testing.T) {
	e := newEnv(t)
	v := e.mkVPC(map[string]string{"Tag.1.Key": "env", "Tag.1.Value": "dev"})
	w := e.mkVSwitch(v, "172.16.1.0/24")
	e.vpcAPI("TagResources", map[string]string{"ResourceType": "VPC", "ResourceId.1": v, "Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team", "Tag.2.Value": "net"})
	e.vpcAPI("TagResources", map[string]string{"ResourceType": "VSWITCH", "ResourceId.1": w, "Tag.1.Key": "tier", "Tag.1.Value": "web"})
	got := e.vpcAPI("DescribeVpcAttribute", map[string]string{"VpcId": v}).(*describeVpcAttributeResponse).Tags.Tag
	if want := []vpcTag{{"env", "prod"}, {"team", "net"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("VPC tags %v, want %v", got, want)
	}
	e.vpcAPI("UnTagResources", map[string]string{"ResourceType": "VPC", "ResourceId.1": v, "TagKey.1": "team"})
	list := e.vpcAPI("ListTagResources", map[string]string{"ResourceType": "VPC", "ResourceId.1": v}).(*listTagResourcesResponse)
	if want := []tagResourceItem{{ResourceId: v, ResourceType: "VPC", TagKey: "env", TagValue: "prod"}}; !reflect.DeepEqual(list.TagResources.TagResource, want) {
		t.Errorf("ListTagResources %+v, want %+v", list.TagResources.TagResource, want)
	}
	checkSDKShape(t, "ListTagResources", reflect.TypeOf(vpc.ListTagResourcesResponse{}), list)
	sw := e.vpcAPI("DescribeVSwitchAttributes", map[string]string{"VSwitchId": w}).(*describeVSwitchAttributesResponse).Tags.Tag
	if want := []vpcTag{{"tier", "web"}}; !reflect.DeepEqual(sw, want) {
		t.Errorf("vSwitch tags %v, want %v", sw, want)
	}

	sg := putTestGroup(e, v, model.Normal)
	e.vpcAPIErr("InvalidResourceType.NotFound", 404, "TagResources", map[string]string{"ResourceType": "securitygroup", "ResourceId.1": sg, "Tag.1.Key": "k"})
	e.ecsErr("InvalidResourceType.NotFound", 404, "TagResources", map[string]string{"ResourceType": "vpc", "ResourceId.1": v, "Tag.1.Key": "k"})
	e.vpcAPIErr("InvalidResourceId.NotFound", 404, "TagResources", map[string]string{"ResourceType": "VPC", "ResourceId.1": "vpc-doesnotexist0000000", "Tag.1.Key": "k"})
}
