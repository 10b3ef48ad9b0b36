package apitest

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestTerraformEipTags replays an alicloud_eip_address's tags (TagResources
// and UnTagResources, ResourceType EIP, at the VPC endpoint; the read takes
// them from DescribeEipAddresses' Tags.Tag) and data
// "alicloud_eip_addresses", which with its default enable_details asks
// ListTagResources for each EIP's tags: a refused ResourceType EIP failed
// the data source for every account holding an EIP.
func TestTerraformEipTags(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	o := srv.NewAccount(t, "other")
	other := &tfClient{testenv.V3Client(t, srv.Addr, o.KeyID, o.Secret, "v2")}
	vpcV := vpcVersion
	eip := "EipAddresses.EipAddress.0."
	row := "TagResources.TagResource."
	runTF(t, tf, []tfStep{
		{name: "create", version: vpcV, action: "AllocateEipAddress", body: map[string]any{"Bandwidth": "5", "InternetChargeType": "PayByTraffic"},
			save: map[string]string{"eip": "AllocationId"}},
		{name: "untagged read", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"AllocationId": "{eip}"},
			want: map[string]string{eip + "Tags.Tag": "[]"}, save: map[string]string{"rg": eip + "ResourceGroupId"}},
		{name: "data source: no tags", version: vpcV, action: "ListTagResources", body: map[string]any{"ResourceType": "EIP", "ResourceId.1": "{eip}"},
			want: map[string]string{"TagResources.TagResource": "[]"}},
		{name: "tags", version: vpcV, action: "TagResources", body: map[string]any{"ResourceType": "EIP", "ResourceId.1": "{eip}",
			"Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team", "Tag.2.Value": "net"}},
		{name: "read", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"AllocationId": "{eip}"},
			want: map[string]string{eip + "Tags.Tag.0.Key": "env", eip + "Tags.Tag.0.Value": "prod", eip + "Tags.Tag.1.Key": "team"}},
		// The data source's tags filter (Tag.N).
		{name: "filter: other value", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"Tag.1.Key": "env", "Tag.1.Value": "dev"},
			want: map[string]string{"EipAddresses.EipAddress": "[]", "TotalCount": "0"}},
		{name: "filter: not all on it", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"Tag.1.Key": "env", "Tag.1.Value": "prod",
			"Tag.2.Key": "owner", "Tag.2.Value": "x"}, want: map[string]string{"EipAddresses.EipAddress": "[]"}},
		{name: "filter: match", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team"},
			want: map[string]string{eip + "AllocationId": "{eip}", "TotalCount": "1"}},
		{name: "data source", version: vpcV, action: "ListTagResources", body: map[string]any{"ResourceType": "EIP", "ResourceId.1": "{eip}"},
			want: map[string]string{row + "0.ResourceId": "{eip}", row + "0.ResourceType": "EIP", row + "0.TagKey": "env", row + "0.TagValue": "prod",
				row + "1.TagKey": "team"}},
		{name: "tags removed", version: vpcV, action: "UnTagResources", body: map[string]any{"ResourceType": "EIP", "ResourceId.1": "{eip}", "TagKey.1": "team"}},
		{name: "read after removal", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"AllocationId": "{eip}"},
			want: map[string]string{eip + "Tags.Tag": "[map[Key:env Value:prod]]"}},
		// Another account neither sees nor tags it.
		{name: "other: list", as: other, version: vpcV, action: "ListTagResources", body: map[string]any{"ResourceType": "EIP", "ResourceId.1": "{eip}"},
			want: map[string]string{"TagResources.TagResource": "[]"}},
		{name: "other: tag", as: other, version: vpcV, action: "TagResources", body: map[string]any{"ResourceType": "EIP", "ResourceId.1": "{eip}",
			"Tag.1.Key": "x", "Tag.1.Value": "y"}, err: "InvalidResourceId.NotFound", status: 404},
		// ECS's tag actions do not serve the VPC product's EIPs.
		{name: "ECS: tag", version: ecsVersion, action: "TagResources", body: map[string]any{"ResourceType": "eip", "ResourceId.1": "{eip}",
			"Tag.1.Key": "x", "Tag.1.Value": "y"}, err: "InvalidResourceType.NotFound", status: 404},
		{name: "unchanged", version: vpcV, action: "ListTagResources", body: map[string]any{"ResourceType": "EIP", "ResourceId.1": "{eip}"},
			want: map[string]string{row + "0.TagKey": "env", row + "0.TagValue": "prod"}},
		// The VPC product's MoveResourceGroup takes the EIP its tag actions
		// take (the refusal named eip as one it takes).
		{name: "resource group unchanged", version: vpcV, action: "MoveResourceGroup",
			body: map[string]any{"ResourceId": "{eip}", "NewResourceGroupId": "{rg}", "ResourceType": "EIP"}},
		{name: "unknown resource group", version: vpcV, action: "MoveResourceGroup",
			body: map[string]any{"ResourceId": "{eip}", "NewResourceGroupId": "rg-elsewhere", "ResourceType": "EIP"},
			err:  "InvalidResourceGroup.NotFound", status: 404},
		{name: "other: resource group", as: other, version: vpcV, action: "MoveResourceGroup",
			body: map[string]any{"ResourceId": "{eip}", "NewResourceGroupId": "{rg}", "ResourceType": "EIP"},
			err:  "InvalidAllocationId.NotFound", status: 404},
		{name: "release", version: vpcV, action: "ReleaseEipAddress", body: map[string]any{"AllocationId": "{eip}"}},
	})
}

// TestTerraformEipAssociationENI replays an alicloud_eip_association with
// instance_type = "NetworkInterface" (1.240.0): the create sends
// InstanceType and, when set, Mode and PrivateIpAddress; the read finds
// the EIP by AllocationId and InstanceId and reads instance_type, mode and
// private_ip_address back (the last forces a new association: none is
// answered when none was sent); the delete unassociates with the same
// InstanceType and waits until no EIP of that ID names the ENI.
func TestTerraformEipAssociationENI(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	vpcV, ecsV := vpcVersion, ecsVersion
	eip := "EipAddresses.EipAddress.0."
	runTF(t, tf, []tfStep{
		{name: "vpc", version: vpcV, action: "CreateVpc", body: map[string]any{"CidrBlock": "10.0.0.0/16"}, save: map[string]string{"vpc": "VpcId"}},
		{name: "vswitch", version: vpcV, action: "CreateVSwitch", body: map[string]any{"CidrBlock": "10.0.1.0/24", "VpcId": "{vpc}", "ZoneId": zone},
			save: map[string]string{"vsw": "VSwitchId"}},
		{name: "group", version: ecsV, action: "CreateSecurityGroup", body: map[string]any{"VpcId": "{vpc}"}, save: map[string]string{"sg": "SecurityGroupId"}},
		{name: "eni", version: ecsV, action: "CreateNetworkInterface", body: map[string]any{"VSwitchId": "{vsw}", "SecurityGroupIds.1": "{sg}",
			"PrimaryIpAddress": "10.0.1.50"}, save: map[string]string{"eni": "NetworkInterfaceId"}},
		{name: "eip", version: vpcV, action: "AllocateEipAddress", body: map[string]any{"Bandwidth": "5"}, save: map[string]string{"eip": "AllocationId", "addr": "EipAddress"}},
		{name: "association create", version: vpcV, action: "AssociateEipAddress", body: map[string]any{"AllocationId": "{eip}", "InstanceId": "{eni}",
			"InstanceType": "NetworkInterface", "ClientToken": "tf-assoc-1"}},
		{name: "association read", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"AllocationId": "{eip}"},
			want: map[string]string{eip + "InstanceId": "{eni}", eip + "InstanceType": "NetworkInterface", eip + "Mode": "NAT", eip + "PrivateIpAddress": "",
				eip + "Status": "InUse"},
			kinds: map[string]string{eip + "PrivateIpAddress": "string", eip + "Mode": "string"}},
		{name: "eni read", version: ecsV, action: "DescribeNetworkInterfaceAttribute", body: map[string]any{"NetworkInterfaceId": "{eni}"},
			want: map[string]string{"AssociatedPublicIp.PublicIpAddress": "{addr}", "AssociatedPublicIp.AllocationId": "{eip}"}},
		{name: "association delete", version: vpcV, action: "UnassociateEipAddress", body: map[string]any{"AllocationId": "{eip}", "InstanceId": "{eni}",
			"InstanceType": "NetworkInterface", "ClientToken": "tf-unassoc-1"}},
		{name: "association gone", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"AllocationId": "{eip}"},
			want: map[string]string{eip + "InstanceId": "", eip + "Status": "Available", eip + "InstanceType": ""}},
		// With private_ip_address and mode set, both are read back as written.
		{name: "association create, address and mode", version: vpcV, action: "AssociateEipAddress", body: map[string]any{"AllocationId": "{eip}",
			"InstanceId": "{eni}", "InstanceType": "NetworkInterface", "PrivateIpAddress": "10.0.1.50", "Mode": "NAT", "ClientToken": "tf-assoc-2"}},
		{name: "association read, address", version: vpcV, action: "DescribeEipAddresses", body: map[string]any{"AllocationId": "{eip}"},
			want: map[string]string{eip + "InstanceId": "{eni}", eip + "PrivateIpAddress": "10.0.1.50", eip + "Mode": "NAT"}},
		{name: "association delete, address", version: vpcV, action: "UnassociateEipAddress", body: map[string]any{"AllocationId": "{eip}",
			"InstanceId": "{eni}", "InstanceType": "NetworkInterface", "PrivateIpAddress": "10.0.1.50", "ClientToken": "tf-unassoc-2"}},
		{name: "eip delete", version: vpcV, action: "ReleaseEipAddress", body: map[string]any{"AllocationId": "{eip}"}},
		{name: "eni delete", version: ecsV, action: "DeleteNetworkInterface", body: map[string]any{"NetworkInterfaceId": "{eni}"}},
	})
}
