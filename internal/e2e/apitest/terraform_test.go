package apitest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// The alicloud Terraform provider's own calls, replayed as it sends them.
// Its generated resources call client.RpcPost, a Tea RPC client: POST, the
// parameters (already flattened: ResourceId.1, Tag.1.Key, TagKey.1) as a
// form body, Format=json, a V1 (HMAC-SHA1) signature over query and form
// together; darabonba's DoRPCRequest (SignatureAlgorithm "v2") sends the
// same. The provider reads the answers as generic JSON through jsonpath,
// and asserts some types without checking (an ENI's Ipv4PrefixSets, a
// private IP's Primary): a missing list there panics the provider, so each
// step states the kinds of what it reads, not only the values.

// tfClient sends an action as the provider's RpcPost does.
type tfClient struct{ c *openapi.Client }

func (p tfClient) do(version, action string, body map[string]any) (map[string]any, error) {
	ps := &openapi.Params{Action: dara.String(action), Version: dara.String(version), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
	res, err := p.c.CallApi(ps, &openapi.OpenApiRequest{Body: body}, &dara.RuntimeOptions{})
	if err != nil {
		return nil, err
	}
	out, _ := res["body"].(map[string]any)
	if out == nil {
		return nil, fmt.Errorf("%s: no JSON body in %v", action, res)
	}
	return out, nil
}

// tfStep is one call of the provider and what it reads of the answer.
type tfStep struct {
	name    string // the resource (or data source) and its phase
	version string
	action  string
	body    map[string]any // "{x}" in a string value is the value saved as x
	want    map[string]string
	kinds   map[string]string // path → list, bool, object, string, number: the type the provider asserts
	save    map[string]string // name → path of a value later steps use
	err     string            // the error code wanted instead of an answer ("" : success)
	status  int               // with err, its HTTP status
	as      *tfClient         // another account's client (nil: the run's)
}

// kindOf names a decoded JSON value's type.
func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case map[string]any:
		return "object"
	case bool:
		return "bool"
	case string:
		return "string"
	case nil:
		return "null"
	default:
		return "number"
	}
}

// runTF runs the steps in order; a failed call stops the run, as it stops
// an apply. It returns the values saved.
func runTF(t *testing.T, c tfClient, steps []tfStep) map[string]string {
	t.Helper()
	vars := map[string]string{}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	for _, st := range steps {
		body := map[string]any{"RegionId": region}
		for k, v := range st.body {
			if s, ok := v.(string); ok {
				v = subst(s)
			}
			body[k] = v
		}
		cl := c
		if st.as != nil {
			cl = *st.as
		}
		out, err := cl.do(st.version, st.action, body)
		if st.err != "" {
			if err == nil {
				t.Fatalf("%s: %s %v succeeded; want %d %s", st.name, st.action, body, st.status, st.err)
			}
			if code, status, _ := apiError(err); code != st.err || status != st.status {
				t.Fatalf("%s: %s: %d %s, want %d %s (%v)", st.name, st.action, status, code, st.status, st.err, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %s %v: %v", st.name, st.action, body, err)
		}
		for _, p := range slices.Sorted(maps.Keys(st.want)) {
			if got, ok := at(out, subst(p)); !ok || text(got) != subst(st.want[p]) {
				t.Errorf("%s: %s: %s = %q (present %v), want %q", st.name, st.action, p, text(got), ok, subst(st.want[p]))
			}
		}
		for _, p := range slices.Sorted(maps.Keys(st.kinds)) {
			got, ok := at(out, p)
			if k := kindOf(got); !ok || k != st.kinds[p] {
				t.Errorf("%s: %s: %s is %s (present %v), the provider asserts %s", st.name, st.action, p, k, ok, st.kinds[p])
			}
		}
		for name, p := range st.save {
			v, ok := at(out, p)
			if !ok || text(v) == "" {
				t.Fatalf("%s: %s: no %s in %v", st.name, st.action, p, out)
			}
			vars[name] = text(v)
		}
	}
	return vars
}

// TestTerraformProvider replays the alicloud provider's create, read,
// update, import and delete of alicloud_vpc, alicloud_vswitch,
// alicloud_security_group(_rule), alicloud_ecs_prefix_list and
// alicloud_ecs_network_interface(_attachment), and the data sources'
// lists, in the order an apply and a destroy make them.
func TestTerraformProvider(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	ecsV, vpcV := ecsVersion, vpcVersion
	list, str, boolean, num := "list", "string", "bool", "number"
	runTF(t, tf, []tfStep{
		// alicloud_vpc: create, wait for Available, the update run at the
		// end of create (system route table, tags), then a rename.
		{name: "vpc create", version: vpcV, action: "CreateVpc", body: map[string]any{"ClientToken": "tf-vpc-token", "CidrBlock": "10.0.0.0/16",
			"VpcName": "tf-vpc", "Description": "terraform vpc", "Tag.1.Key": "env", "Tag.1.Value": "tf"}, save: map[string]string{"vpc": "VpcId"}},
		{name: "vpc wait", version: vpcV, action: "DescribeVpcAttribute", body: map[string]any{"VpcId": "{vpc}"},
			want:  map[string]string{"VpcId": "{vpc}", "Status": "Available", "VpcName": "tf-vpc", "CidrBlock": "10.0.0.0/16", "Tags.Tag.0.Key": "env"},
			kinds: map[string]string{"ClassicLinkEnabled": boolean, "EnabledIpv6": boolean, "CreationTime": str, "Ipv6CidrBlocks.Ipv6CidrBlock": list, "SecondaryCidrBlocks.SecondaryCidrBlock": list, "UserCidrs.UserCidr": list, "Tags.Tag": list},
			save:  map[string]string{"rg": "ResourceGroupId"}},
		{name: "vpc system route table", version: vpcV, action: "DescribeRouteTableList", body: map[string]any{"VpcId": "{vpc}"},
			// data "alicloud_vpcs" fails an answer whose Code is not "200".
			want: map[string]string{"Code": "200", "Success": "true", "RouterTableList.RouterTableListType.0.RouteTableType": "System",
				"RouterTableList.RouterTableListType.0.VpcId": "{vpc}"},
			kinds: map[string]string{"RouterTableList.RouterTableListType.0.RoutePropagationEnable": boolean, "RouterTableList.RouterTableListType.0.RouteTableName": str},
			save:  map[string]string{"vtb": "RouterTableList.RouterTableListType.0.RouteTableId"}},
		// system_route_table_name and _description.
		{name: "vpc system route table name", version: vpcV, action: "ModifyRouteTableAttributes", body: map[string]any{"RouteTableId": "{vtb}",
			"RouteTableName": "tf-rt", "Description": "main table"}},
		{name: "vpc system route table read", version: vpcV, action: "DescribeRouteTableList", body: map[string]any{"RouteTableName": "tf-rt"},
			want: map[string]string{"TotalCount": "1", "RouterTableList.RouterTableListType.0.RouteTableId": "{vtb}",
				"RouterTableList.RouterTableListType.0.RouteTableName": "tf-rt", "RouterTableList.RouterTableListType.0.Description": "main table"}},
		{name: "vpc system route table without propagation", version: vpcV, action: "ModifyRouteTableAttributes", body: map[string]any{"RouteTableId": "{vtb}",
			"RoutePropagationEnable": false}, err: "OperationUnsupported.RoutePropagation", status: 400},
		{name: "vpc unknown route table", version: vpcV, action: "ModifyRouteTableAttributes", body: map[string]any{"RouteTableId": "vtb-nothere", "RouteTableName": "abc"},
			err: "InvalidRouteTableId.NotFound", status: 404},
		{name: "vpc tags", version: vpcV, action: "TagResources", body: map[string]any{"ResourceType": "VPC", "ResourceId.1": "{vpc}", "Tag.1.Key": "owner", "Tag.1.Value": "net"}},
		{name: "vpc rename", version: vpcV, action: "ModifyVpcAttribute", body: map[string]any{"VpcId": "{vpc}", "VpcName": "tf-vpc-2", "Description": "renamed vpc"}},
		{name: "vpc read", version: vpcV, action: "DescribeVpcAttribute", body: map[string]any{"VpcId": "{vpc}"},
			want: map[string]string{"VpcName": "tf-vpc-2", "Description": "renamed vpc", "Status": "Available", "CidrBlock": "10.0.0.0/16"}},
		{name: "vpc bad rename", version: vpcV, action: "ModifyVpcAttribute", body: map[string]any{"VpcId": "{vpc}", "VpcName": "http://x"},
			err: "InvalidVpcName.Malformed", status: 400},
		{name: "vpc resource group unchanged", version: vpcV, action: "MoveResourceGroup",
			body: map[string]any{"ResourceId": "{vpc}", "NewResourceGroupId": "{rg}", "ResourceType": "VPC"}},
		{name: "vpc unknown resource group", version: vpcV, action: "MoveResourceGroup",
			body: map[string]any{"ResourceId": "{vpc}", "NewResourceGroupId": "rg-elsewhere", "ResourceType": "VPC"},
			err:  "InvalidResourceGroup.NotFound", status: 404},

		// alicloud_vswitch.
		{name: "vswitch create", version: vpcV, action: "CreateVSwitch", body: map[string]any{"ClientToken": "tf-vsw-token", "CidrBlock": "10.0.1.0/24",
			"VpcId": "{vpc}", "VSwitchName": "tf-vsw", "Description": "terraform vswitch", "ZoneId": zone}, save: map[string]string{"vsw": "VSwitchId"}},
		{name: "vswitch wait", version: vpcV, action: "DescribeVSwitchAttributes", body: map[string]any{"VSwitchId": "{vsw}"},
			want: map[string]string{"Status": "Available", "VpcId": "{vpc}", "ZoneId": zone}, kinds: map[string]string{"Tags.Tag": list, "CreationTime": str}},
		{name: "vswitch tags", version: vpcV, action: "TagResources", body: map[string]any{"ResourceType": "VSWITCH", "ResourceId.1": "{vsw}", "Tag.1.Key": "env", "Tag.1.Value": "tf"}},
		{name: "vswitch rename", version: vpcV, action: "ModifyVSwitchAttribute", body: map[string]any{"VSwitchId": "{vsw}", "VSwitchName": "tf-vsw-2", "Description": "renamed vswitch"}},
		{name: "vswitch read", version: vpcV, action: "DescribeVSwitchAttributes", body: map[string]any{"VSwitchId": "{vsw}"},
			want: map[string]string{"VSwitchName": "tf-vsw-2", "Description": "renamed vswitch", "Status": "Available", "Tags.Tag.0.Key": "env"}},
		{name: "vswitch bad rename", version: vpcV, action: "ModifyVSwitchAttribute", body: map[string]any{"VSwitchId": "{vsw}", "Description": "x"},
			err: "InvalidVSwitchDiscription.Malformed", status: 400},
		{name: "vswitch unknown", version: vpcV, action: "ModifyVSwitchAttribute", body: map[string]any{"VSwitchId": "vsw-nothere", "VSwitchName": "abc"},
			err: "InvalidVSwitchId.NotFound", status: 404},

		// alicloud_security_group: create with tags and resource group,
		// then its update: ModifySecurityGroupPolicy, and the read
		// (DescribeSecurityGroups by SecurityGroupId, then the attribute).
		{name: "group create", version: ecsV, action: "CreateSecurityGroup", body: map[string]any{"ClientToken": "tf-sg-token", "SecurityGroupType": "normal",
			"Tag.1.Key": "env", "Tag.1.Value": "tf", "Description": "terraform group", "VpcId": "{vpc}", "SecurityGroupName": "tf-sg", "ResourceGroupId": "{rg}"},
			save: map[string]string{"sg": "SecurityGroupId"}},
		{name: "group policy", version: ecsV, action: "ModifySecurityGroupPolicy", body: map[string]any{"SecurityGroupId": "{sg}", "ClientToken": "tf-pol-token", "InnerAccessPolicy": "Drop"}},
		{name: "group read", version: ecsV, action: "DescribeSecurityGroups", body: map[string]any{"SecurityGroupId": "{sg}"},
			want: map[string]string{"SecurityGroups.SecurityGroup.0.SecurityGroupId": "{sg}", "SecurityGroups.SecurityGroup.0.ResourceGroupId": "{rg}",
				"SecurityGroups.SecurityGroup.0.SecurityGroupType": "normal", "SecurityGroups.SecurityGroup.0.VpcId": "{vpc}",
				"SecurityGroups.SecurityGroup.0.Tags.Tag.0.TagKey": "env"},
			kinds: map[string]string{"SecurityGroups.SecurityGroup": list, "SecurityGroups.SecurityGroup.0.CreationTime": str}},
		{name: "group read attribute", version: ecsV, action: "DescribeSecurityGroupAttribute", body: map[string]any{"SecurityGroupId": "{sg}"},
			want: map[string]string{"InnerAccessPolicy": "Drop", "SecurityGroupId": "{sg}"}},
		{name: "group rename", version: ecsV, action: "ModifySecurityGroupAttribute", body: map[string]any{"SecurityGroupId": "{sg}", "SecurityGroupName": "tf-sg-2", "Description": "renamed group"}},
		{name: "group resource group unchanged", version: ecsV, action: "JoinResourceGroup",
			body: map[string]any{"ResourceId": "{sg}", "ResourceType": "securitygroup", "ResourceGroupId": "{rg}"}},
		{name: "group unknown resource group", version: ecsV, action: "JoinResourceGroup",
			body: map[string]any{"ResourceId": "{sg}", "ResourceType": "securitygroup", "ResourceGroupId": "rg-elsewhere"},
			err:  "InvalidResourceGroup.NotFound", status: 404},
		{name: "group resource group of nothing", version: ecsV, action: "JoinResourceGroup",
			body: map[string]any{"ResourceId": "sg-nothere", "ResourceType": "securitygroup", "ResourceGroupId": "{rg}"},
			err:  "InvalidSecurityGroupId.NotFound", status: 404},
		{name: "group untag", version: ecsV, action: "UntagResources", body: map[string]any{"ResourceId.1": "{sg}", "TagKey.1": "env", "ResourceType": "securitygroup"}},
		{name: "group tag", version: ecsV, action: "TagResources", body: map[string]any{"ResourceId.1": "{sg}", "Tag.1.Key": "owner", "Tag.1.Value": "sec", "ResourceType": "securitygroup"}},
		{name: "group read again", version: ecsV, action: "DescribeSecurityGroups", body: map[string]any{"SecurityGroupId": "{sg}"},
			want: map[string]string{"SecurityGroups.SecurityGroup.0.SecurityGroupName": "tf-sg-2", "SecurityGroups.SecurityGroup.0.Description": "renamed group",
				"SecurityGroups.SecurityGroup.0.Tags.Tag.0.TagKey": "owner"}},

		// alicloud_security_group_rule: authorize (Permissions.1.*), the
		// read by Direction and NicType, a description update
		// (ModifySecurityGroupRule, flat), and the revoke.
		{name: "rule create", version: ecsV, action: "AuthorizeSecurityGroup", body: map[string]any{"SecurityGroupId": "{sg}",
			"Permissions.1.Priority": "1", "Permissions.1.Policy": "accept", "Permissions.1.SourceCidrIp": "10.1.0.0/16", "Permissions.1.IpProtocol": "tcp",
			"Permissions.1.PortRange": "22/22", "Permissions.1.NicType": "intranet", "Permissions.1.Description": "ssh"}},
		{name: "rule read", version: ecsV, action: "DescribeSecurityGroupAttribute", body: map[string]any{"SecurityGroupId": "{sg}", "Direction": "ingress", "NicType": "intranet"},
			want: map[string]string{"Permissions.Permission.0.IpProtocol": "TCP", "Permissions.Permission.0.PortRange": "22/22", "Permissions.Permission.0.Priority": "1",
				"Permissions.Permission.0.Policy": "Accept", "Permissions.Permission.0.SourceCidrIp": "10.1.0.0/16", "Permissions.Permission.0.Description": "ssh",
				"Permissions.Permission.0.Direction": "ingress", "Permissions.Permission.0.NicType": "intranet"},
			kinds: map[string]string{"Permissions.Permission": list, "Permissions.Permission.0.SecurityGroupRuleId": str}},
		// Without nic_type in the configuration the rule's ID holds Go's
		// %v of the absent value, and the read sends it as the NicType
		// (provider 1.240.0, run against Palisade): no NicType to ECS; a
		// VPC group's rules are intranet.
		{name: "rule read, no nic_type", version: ecsV, action: "DescribeSecurityGroupAttribute", body: map[string]any{"SecurityGroupId": "{sg}", "Direction": "ingress", "NicType": "<nil>"},
			want: map[string]string{"Permissions.Permission.0.PortRange": "22/22", "Permissions.Permission.0.NicType": "intranet"}},
		{name: "rule update", version: ecsV, action: "ModifySecurityGroupRule", body: map[string]any{"SecurityGroupId": "{sg}", "IpProtocol": "tcp", "PortRange": "22/22",
			"SourceCidrIp": "10.1.0.0/16", "Policy": "accept", "Priority": "1", "NicType": "intranet", "Description": "ssh from office"}},
		{name: "rule read again", version: ecsV, action: "DescribeSecurityGroupAttribute", body: map[string]any{"SecurityGroupId": "{sg}", "Direction": "ingress", "NicType": "intranet"},
			want: map[string]string{"Permissions.Permission.0.Description": "ssh from office"}},
		{name: "rules data source", version: ecsV, action: "DescribeSecurityGroupAttribute", body: map[string]any{"SecurityGroupId": "{sg}", "Direction": "egress", "NicType": "intranet"},
			kinds: map[string]string{"Permissions.Permission": list}},
		{name: "rule delete", version: ecsV, action: "RevokeSecurityGroup", body: map[string]any{"SecurityGroupId": "{sg}", "IpProtocol": "tcp", "PortRange": "22/22",
			"SourceCidrIp": "10.1.0.0/16", "Policy": "accept", "Priority": "1", "NicType": "intranet"}},

		// alicloud_ecs_prefix_list: entries without a description are sent
		// with an empty one.
		{name: "prefix list create", version: ecsV, action: "CreatePrefixList", body: map[string]any{"AddressFamily": "IPv4", "MaxEntries": 10, "PrefixListName": "tf-pl",
			"ClientToken": "tf-pl-token", "Entry.1.Cidr": "192.168.0.0/16", "Entry.1.Description": ""}, save: map[string]string{"pl": "PrefixListId"}},
		{name: "prefix list read", version: ecsV, action: "DescribePrefixListAttributes", body: map[string]any{"PrefixListId": "{pl}"},
			want:  map[string]string{"PrefixListName": "tf-pl", "AddressFamily": "IPv4", "Entries.Entry.0.Cidr": "192.168.0.0/16"},
			kinds: map[string]string{"Entries": "object", "Entries.Entry": list, "MaxEntries": num}},
		{name: "prefix list update", version: ecsV, action: "ModifyPrefixList", body: map[string]any{"PrefixListId": "{pl}", "PrefixListName": "tf-pl-2",
			"RemoveEntry.1.Cidr": "192.168.0.0/16", "AddEntry.1.Cidr": "172.16.0.0/12", "AddEntry.1.Description": ""}},
		{name: "prefix list read again", version: ecsV, action: "DescribePrefixListAttributes", body: map[string]any{"PrefixListId": "{pl}"},
			want: map[string]string{"PrefixListName": "tf-pl-2", "Entries.Entry.0.Cidr": "172.16.0.0/12"}},
		{name: "prefix list delete", version: ecsV, action: "DeletePrefixList", body: map[string]any{"PrefixListId": "{pl}"}},

		// alicloud_ecs_network_interface: its read asserts the types of
		// PrivateIpSets, Ipv6Sets, Ipv4PrefixSets and SecurityGroupIds, and
		// lists its tags as ResourceType "eni".
		{name: "eni create", version: ecsV, action: "CreateNetworkInterface", body: map[string]any{"VSwitchId": "{vsw}", "SecurityGroupIds.1": "{sg}",
			"NetworkInterfaceName": "tf-eni", "Description": "terraform eni", "Tag.1.Key": "env", "Tag.1.Value": "tf"}, save: map[string]string{"eni": "NetworkInterfaceId"}},
		// private_ips and private_ips_count: secondary addresses at the
		// create, read back as PrivateIpSets after the primary, changed by
		// Assign/UnassignPrivateIpAddresses.
		{name: "eni create, secondary IPs", version: ecsV, action: "CreateNetworkInterface", body: map[string]any{"VSwitchId": "{vsw}", "SecurityGroupIds.1": "{sg}",
			"PrivateIpAddress.1": "10.0.1.77"}, save: map[string]string{"eni2": "NetworkInterfaceId"}},
		{name: "eni read, secondary IPs", version: ecsV, action: "DescribeNetworkInterfaces", body: map[string]any{"NetworkInterfaceId.1": "{eni2}"},
			want: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet.0.PrivateIpSets.PrivateIpSet.0.Primary": "true",
				"NetworkInterfaceSets.NetworkInterfaceSet.0.PrivateIpSets.PrivateIpSet.1.PrivateIpAddress": "10.0.1.77",
				"NetworkInterfaceSets.NetworkInterfaceSet.0.PrivateIpSets.PrivateIpSet.1.Primary":          "false"}},
		{name: "eni update, private_ips", version: ecsV, action: "UnassignPrivateIpAddresses", body: map[string]any{"NetworkInterfaceId": "{eni2}",
			"PrivateIpAddress.1": "10.0.1.77", "ClientToken": "tf-unassign-token"}},
		{name: "eni update, private_ips_count", version: ecsV, action: "AssignPrivateIpAddresses", body: map[string]any{"NetworkInterfaceId": "{eni2}",
			"SecondaryPrivateIpAddressCount": 2, "ClientToken": "tf-assign-token"},
			want:  map[string]string{"AssignedPrivateIpAddressesSet.NetworkInterfaceId": "{eni2}"},
			kinds: map[string]string{"AssignedPrivateIpAddressesSet.PrivateIpSet.PrivateIpAddress": list}},
		{name: "eni read, changed secondary IPs", version: ecsV, action: "DescribeNetworkInterfaces", body: map[string]any{"NetworkInterfaceId.1": "{eni2}"},
			want: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet.0.PrivateIpSets.PrivateIpSet.2.Primary": "false"}},
		{name: "eni delete, secondary IPs", version: ecsV, action: "DeleteNetworkInterface", body: map[string]any{"NetworkInterfaceId": "{eni2}"}},
		{name: "eni create, secondary IP count", version: ecsV, action: "CreateNetworkInterface", body: map[string]any{"VSwitchId": "{vsw}", "SecurityGroupIds.1": "{sg}",
			"SecondaryPrivateIpAddressCount": 2}, save: map[string]string{"eni3": "NetworkInterfaceId"}},
		{name: "eni delete, secondary IP count", version: ecsV, action: "DeleteNetworkInterface", body: map[string]any{"NetworkInterfaceId": "{eni3}"}},
		{name: "eni create, both secondary IP forms", version: ecsV, action: "CreateNetworkInterface", body: map[string]any{"VSwitchId": "{vsw}", "SecurityGroupIds.1": "{sg}",
			"PrivateIpAddress.1": "10.0.1.78", "SecondaryPrivateIpAddressCount": 2}, err: "InvalidParameter.Conflict", status: 400},
		// ipv4_prefixes asks for what Palisade does not model: refused, not
		// dropped (the ENI would be made without them and every plan would
		// show a change).
		{name: "eni create, IPv4 prefixes", version: ecsV, action: "CreateNetworkInterface", body: map[string]any{"VSwitchId": "{vsw}", "SecurityGroupIds.1": "{sg}",
			"Ipv4PrefixCount": 1}, err: "OperationUnsupported.Ipv4Prefix", status: 400},
		{name: "eni create, nothing made", version: ecsV, action: "DescribeNetworkInterfaces", body: map[string]any{"VSwitchId": "{vsw}"},
			want: map[string]string{"TotalCount": "1"}},
		{name: "eni read", version: ecsV, action: "DescribeNetworkInterfaces", body: map[string]any{"NetworkInterfaceId.1": "{eni}"},
			want: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet.0.Status": "Available", "NetworkInterfaceSets.NetworkInterfaceSet.0.NetworkInterfaceName": "tf-eni",
				"NetworkInterfaceSets.NetworkInterfaceSet.0.SecurityGroupIds.SecurityGroupId.0": "{sg}"},
			kinds: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet.0.PrivateIpSets.PrivateIpSet": list,
				"NetworkInterfaceSets.NetworkInterfaceSet.0.PrivateIpSets.PrivateIpSet.0.Primary": boolean,
				"NetworkInterfaceSets.NetworkInterfaceSet.0.Ipv6Sets.Ipv6Set":                     list,
				"NetworkInterfaceSets.NetworkInterfaceSet.0.Ipv4PrefixSets.Ipv4PrefixSet":         list,
				"NetworkInterfaceSets.NetworkInterfaceSet.0.SecurityGroupIds.SecurityGroupId":     list}},
		{name: "eni tags", version: ecsV, action: "ListTagResources", body: map[string]any{"ResourceType": "eni", "ResourceId.1": "{eni}"},
			want: map[string]string{"TagResources.TagResource.0.TagKey": "env", "TagResources.TagResource.0.TagValue": "tf", "TagResources.TagResource.0.ResourceId": "{eni}"}},
		{name: "eni untag", version: ecsV, action: "UntagResources", body: map[string]any{"ResourceType": "eni", "ResourceId.1": "{eni}", "TagKey.1": "env"}},
		{name: "eni tag", version: ecsV, action: "TagResources", body: map[string]any{"ResourceType": "eni", "ResourceId.1": "{eni}", "Tag.1.Key": "owner", "Tag.1.Value": "net"}},
		{name: "eni tags again", version: ecsV, action: "ListTagResources", body: map[string]any{"ResourceType": "eni", "ResourceId.1": "{eni}"},
			want: map[string]string{"TagResources.TagResource.0.TagKey": "owner"}},
		{name: "eni update", version: ecsV, action: "ModifyNetworkInterfaceAttribute", body: map[string]any{"NetworkInterfaceId": "{eni}", "NetworkInterfaceName": "tf-eni-2",
			"SecurityGroupId.1": "{sg}"}},

		// alicloud_ecs_network_interface_attachment, to an instance.
		{name: "instance", version: ecsV, action: "RunInstances", body: map[string]any{"ImageId": imageID, "InstanceType": instanceType, "VSwitchId": "{vsw}",
			"SecurityGroupIds.1": "{sg}"}, save: map[string]string{"inst": "InstanceIdSets.InstanceIdSet.0"}},
		{name: "attachment create", version: ecsV, action: "AttachNetworkInterface", body: map[string]any{"InstanceId": "{inst}", "NetworkInterfaceId": "{eni}",
			"WaitForNetworkConfigurationReady": true}},
		{name: "attachment read", version: ecsV, action: "DescribeNetworkInterfaces", body: map[string]any{"NetworkInterfaceId.1": "{eni}", "InstanceId": "{inst}"},
			want: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet.0.Status": "InUse", "NetworkInterfaceSets.NetworkInterfaceSet.0.InstanceId": "{inst}"}},
		{name: "attachment delete", version: ecsV, action: "DetachNetworkInterface", body: map[string]any{"InstanceId": "{inst}", "NetworkInterfaceId": "{eni}"}},
		{name: "attachment gone", version: ecsV, action: "DescribeNetworkInterfaces", body: map[string]any{"NetworkInterfaceId.1": "{eni}"},
			want: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet.0.Status": "Available"}},

		// The data sources' lists, by the provider's page size.
		{name: "security groups data source", version: ecsV, action: "DescribeSecurityGroups", body: map[string]any{"PageSize": 50, "PageNumber": 1, "VpcId": "{vpc}"},
			want: map[string]string{"SecurityGroups.SecurityGroup.0.SecurityGroupId": "{sg}", "TotalCount": "1"}},
		// It asks for the next page while a page is full: past the end is an
		// empty list, not an error.
		{name: "security groups data source, past the end", version: ecsV, action: "DescribeSecurityGroups", body: map[string]any{"PageSize": 1, "PageNumber": 2, "VpcId": "{vpc}"},
			want: map[string]string{"TotalCount": "1"}, kinds: map[string]string{"SecurityGroups.SecurityGroup": list}},
		{name: "vpcs data source", version: vpcV, action: "DescribeVpcs", body: map[string]any{"PageSize": 50, "PageNumber": 1, "VpcName": "tf-vpc-2"},
			want: map[string]string{"Vpcs.Vpc.0.VpcId": "{vpc}", "Vpcs.Vpc.0.VSwitchIds.VSwitchId.0": "{vsw}", "TotalCount": "1"},
			kinds: map[string]string{"Vpcs.Vpc.0.SecondaryCidrBlocks": "object", "Vpcs.Vpc.0.UserCidrs": "object", "Vpcs.Vpc.0.VSwitchIds": "object",
				"Vpcs.Vpc.0.CidrBlock": str, "Vpcs.Vpc.0.Status": str, "Vpcs.Vpc.0.Tags.Tag.0.Key": str, "Vpcs.Vpc.0.Tags.Tag.0.Value": str}},
		// Their filters narrow the list (a filter ignored answers every VPC,
		// and the data source picks a wrong one).
		{name: "vpcs data source by tag", version: vpcV, action: "DescribeVpcs", body: map[string]any{"PageSize": 50, "PageNumber": 1, "Tag.1.Key": "env", "Tag.1.Value": "tf"},
			want: map[string]string{"Vpcs.Vpc.0.VpcId": "{vpc}", "TotalCount": "1"}},
		{name: "vpcs data source by another tag", version: vpcV, action: "DescribeVpcs", body: map[string]any{"PageSize": 50, "PageNumber": 1, "Tag.1.Key": "env", "Tag.1.Value": "prod"},
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"Vpcs.Vpc": list}},
		{name: "vpcs data source by resource group", version: vpcV, action: "DescribeVpcs", body: map[string]any{"PageSize": 50, "PageNumber": 1, "ResourceGroupId": "{rg}"},
			want: map[string]string{"TotalCount": "1"}},
		{name: "vpcs data source by another resource group", version: vpcV, action: "DescribeVpcs", body: map[string]any{"PageSize": 50, "PageNumber": 1, "ResourceGroupId": "rg-elsewhere"},
			want: map[string]string{"TotalCount": "0"}},
		{name: "vswitches data source by tag", version: vpcV, action: "DescribeVSwitches", body: map[string]any{"PageSize": 50, "PageNumber": 1, "Tag.1.Key": "env", "Tag.1.Value": "tf"},
			want: map[string]string{"VSwitches.VSwitch.0.VSwitchId": "{vsw}", "TotalCount": "1"}},
		{name: "vswitches data source by another tag", version: vpcV, action: "DescribeVSwitches", body: map[string]any{"PageSize": 50, "PageNumber": 1, "Tag.1.Key": "env", "Tag.1.Value": "prod"},
			want: map[string]string{"TotalCount": "0"}},
		{name: "vswitches data source by another resource group", version: vpcV, action: "DescribeVSwitches", body: map[string]any{"PageSize": 50, "PageNumber": 1, "ResourceGroupId": "rg-elsewhere"},
			want: map[string]string{"TotalCount": "0"}},
		{name: "vswitches data source", version: vpcV, action: "DescribeVSwitches", body: map[string]any{"PageSize": 50, "PageNumber": 1, "VpcId": "{vpc}", "ZoneId": zone},
			want:  map[string]string{"VSwitches.VSwitch.0.VSwitchId": "{vsw}", "TotalCount": "1"},
			kinds: map[string]string{"VSwitches.VSwitch.0.AvailableIpAddressCount": num, "VSwitches.VSwitch.0.RouteTable": "object", "VSwitches.VSwitch.0.Status": str}},

		// Destroy, newest first, each followed by the read that must find
		// it gone (a 404, or an empty list where the provider reads one).
		{name: "group in use", version: ecsV, action: "DeleteSecurityGroup", body: map[string]any{"SecurityGroupId": "{sg}"}, err: "DependencyViolation", status: 403},
		{name: "instance delete", version: ecsV, action: "DeleteInstance", body: map[string]any{"InstanceId": "{inst}", "Force": true}},
		{name: "eni delete", version: ecsV, action: "DeleteNetworkInterface", body: map[string]any{"NetworkInterfaceId": "{eni}"}},
		{name: "eni gone", version: ecsV, action: "DescribeNetworkInterfaces", body: map[string]any{"NetworkInterfaceId.1": "{eni}"},
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet": list}},
		// A second delete (a destroy retried after a timeout) must say
		// not found with the code the provider takes for done.
		{name: "eni delete again", version: ecsV, action: "DeleteNetworkInterface", body: map[string]any{"NetworkInterfaceId": "{eni}"}, err: "InvalidEniId.NotFound", status: 404},
		{name: "group delete", version: ecsV, action: "DeleteSecurityGroup", body: map[string]any{"SecurityGroupId": "{sg}"}},
		{name: "group gone", version: ecsV, action: "DescribeSecurityGroupAttribute", body: map[string]any{"SecurityGroupId": "{sg}"},
			err: "InvalidSecurityGroupId.NotFound", status: 404},
		{name: "group delete again", version: ecsV, action: "DeleteSecurityGroup", body: map[string]any{"SecurityGroupId": "{sg}"}, err: "InvalidSecurityGroupId.NotFound", status: 404},
		{name: "rule delete, group gone", version: ecsV, action: "RevokeSecurityGroup", body: map[string]any{"SecurityGroupId": "{sg}", "IpProtocol": "tcp", "PortRange": "22/22",
			"SourceCidrIp": "10.1.0.0/16", "Policy": "accept", "Priority": "1", "NicType": "intranet"}, err: "InvalidSecurityGroupId.NotFound", status: 404},
		{name: "vpc in use", version: vpcV, action: "DeleteVpc", body: map[string]any{"VpcId": "{vpc}", "ClientToken": "tf-vpc-del-1"}, err: "DependencyViolation.VSwitch", status: 400},
		{name: "vpc create, dry run", version: vpcV, action: "CreateVpc", body: map[string]any{"CidrBlock": "10.9.0.0/16", "VpcName": "tf-dry", "DryRun": true},
			err: "OperationUnsupported.DryRun", status: 400},
		{name: "vpc create, dry run, nothing made", version: vpcV, action: "DescribeVpcs", body: map[string]any{"VpcName": "tf-dry"}, want: map[string]string{"TotalCount": "0"}},
		{name: "vswitch delete", version: vpcV, action: "DeleteVSwitch", body: map[string]any{"VSwitchId": "{vsw}"}},
		{name: "vswitch gone", version: vpcV, action: "DescribeVSwitchAttributes", body: map[string]any{"VSwitchId": "{vsw}"}, err: "InvalidVSwitchId.NotFound", status: 404},
		// dry_run = true: refused, and the VPC is still there to delete.
		{name: "vswitch delete again", version: vpcV, action: "DeleteVSwitch", body: map[string]any{"VSwitchId": "{vsw}"}, err: "InvalidVSwitchId.NotFound", status: 404},
		{name: "vpc delete, dry run", version: vpcV, action: "DeleteVpc", body: map[string]any{"VpcId": "{vpc}", "DryRun": true}, err: "OperationUnsupported.DryRun", status: 400},
		{name: "vpc delete", version: vpcV, action: "DeleteVpc", body: map[string]any{"VpcId": "{vpc}", "ClientToken": "tf-vpc-del-2"}},
		{name: "vpc gone", version: vpcV, action: "DescribeVpcAttribute", body: map[string]any{"VpcId": "{vpc}"}, err: "InvalidVpcId.NotFound", status: 404},
		{name: "vpc delete again", version: vpcV, action: "DeleteVpc", body: map[string]any{"VpcId": "{vpc}", "ClientToken": "tf-vpc-del-3"}, err: "InvalidVpcId.NotFound", status: 404},
	})
}

// TestTerraformRuleOwner replays alicloud_security_group_rule with
// source_group_owner_account set to the caller's own account (a module that
// always names the owner, e.g. from data "alicloud_account"). The attribute
// forces a new rule and the read sets it from SourceGroupOwnerAccount: read
// back empty, every plan replaced the rule (provider 1.240.0, run against
// Palisade). A rule that named no owner still reads back none, also after a
// change by its ID.
func TestTerraformRuleOwner(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	ecsV, uid := ecsVersion, srv.UID
	ingress := map[string]any{"SecurityGroupId": "{db}", "Direction": "ingress", "NicType": "<nil>"}
	egress := map[string]any{"SecurityGroupId": "{web}", "Direction": "egress", "NicType": "<nil>"}
	runTF(t, tf, []tfStep{
		{name: "vpc", version: vpcVersion, action: "CreateVpc", body: map[string]any{"CidrBlock": "10.0.0.0/16"}, save: map[string]string{"vpc": "VpcId"}},
		{name: "web", version: ecsV, action: "CreateSecurityGroup", body: map[string]any{"VpcId": "{vpc}", "SecurityGroupName": "web"}, save: map[string]string{"web": "SecurityGroupId"}},
		{name: "db", version: ecsV, action: "CreateSecurityGroup", body: map[string]any{"VpcId": "{vpc}", "SecurityGroupName": "db"}, save: map[string]string{"db": "SecurityGroupId"}},
		{name: "rule create, owner named", version: ecsV, action: "AuthorizeSecurityGroup", body: map[string]any{"SecurityGroupId": "{db}",
			"Permissions.1.IpProtocol": "tcp", "Permissions.1.PortRange": "3306/3306", "Permissions.1.SourceGroupId": "{web}",
			"Permissions.1.SourceGroupOwnerAccount": uid, "Permissions.1.Policy": "accept", "Permissions.1.Priority": "1"}},
		{name: "rule read, owner named", version: ecsV, action: "DescribeSecurityGroupAttribute", body: ingress,
			want: map[string]string{"Permissions.Permission.0.SourceGroupId": "{web}", "Permissions.Permission.0.SourceGroupOwnerAccount": uid}},
		{name: "rule create, no owner", version: ecsV, action: "AuthorizeSecurityGroupEgress", body: map[string]any{"SecurityGroupId": "{web}",
			"Permissions.1.IpProtocol": "tcp", "Permissions.1.PortRange": "3306/3306", "Permissions.1.DestGroupId": "{db}",
			"Permissions.1.Policy": "accept", "Permissions.1.Priority": "1"}},
		{name: "rule read, no owner", version: ecsV, action: "DescribeSecurityGroupAttribute", body: egress,
			want: map[string]string{"Permissions.Permission.0.DestGroupId": "{db}", "Permissions.Permission.0.DestGroupOwnerAccount": ""},
			save: map[string]string{"out": "Permissions.Permission.0.SecurityGroupRuleId"}},
		// The description update (flat, sent twice by the provider's Update).
		{name: "rule update", version: ecsV, action: "ModifySecurityGroupRule", body: map[string]any{"SecurityGroupId": "{db}", "IpProtocol": "tcp",
			"PortRange": "3306/3306", "SourceGroupId": "{web}", "SourceGroupOwnerAccount": uid, "Policy": "accept", "Priority": "1", "Description": "mysql"}},
		{name: "rule update again", version: ecsV, action: "ModifySecurityGroupRule", body: map[string]any{"SecurityGroupId": "{db}", "IpProtocol": "tcp",
			"PortRange": "3306/3306", "SourceGroupId": "{web}", "SourceGroupOwnerAccount": uid, "Policy": "accept", "Priority": "1", "Description": "mysql"}},
		{name: "rule read after update", version: ecsV, action: "DescribeSecurityGroupAttribute", body: ingress,
			want: map[string]string{"Permissions.Permission.0.Description": "mysql", "Permissions.Permission.0.SourceGroupOwnerAccount": uid}},
		// A change by rule ID keeps an unnamed owner unnamed.
		{name: "rule change by ID", version: ecsV, action: "ModifySecurityGroupEgressRule", body: map[string]any{"SecurityGroupId": "{web}",
			"SecurityGroupRuleId": "{out}", "Priority": "2"}},
		{name: "rule read after change by ID", version: ecsV, action: "DescribeSecurityGroupAttribute", body: egress,
			want: map[string]string{"Permissions.Permission.0.Priority": "2", "Permissions.Permission.0.DestGroupOwnerAccount": ""}},
		{name: "rule delete", version: ecsV, action: "RevokeSecurityGroup", body: map[string]any{"SecurityGroupId": "{db}", "IpProtocol": "tcp",
			"PortRange": "3306/3306", "SourceGroupId": "{web}", "SourceGroupOwnerAccount": uid, "Policy": "accept", "Priority": "1", "Description": "mysql"}},
		// Made again without the owner (the attribute removed), it reads
		// back none: the named rule is gone, not kept as a duplicate.
		{name: "rule create, owner removed", version: ecsV, action: "AuthorizeSecurityGroup", body: map[string]any{"SecurityGroupId": "{db}",
			"Permissions.1.IpProtocol": "tcp", "Permissions.1.PortRange": "3306/3306", "Permissions.1.SourceGroupId": "{web}",
			"Permissions.1.Policy": "accept", "Permissions.1.Priority": "1"}},
		{name: "rule read, owner removed", version: ecsV, action: "DescribeSecurityGroupAttribute", body: ingress,
			want: map[string]string{"Permissions.Permission.0.SourceGroupId": "{web}", "Permissions.Permission.0.SourceGroupOwnerAccount": "",
				"Permissions.Permission.0.Description": ""}},
	})
}

// TestTerraformZones replays data "alicloud_zones" (the zone a vSwitch is
// put in, usually available_resource_creation = "VSwitch"): the classic
// SDK's DescribeAvailableResource (DestinationResource=Zone) names the
// zones not sold out, then DescribeZones keeps those with at least one
// instance type and one disk category. A zone missing from either leaves
// the data source empty and the configuration's zones[0] fails.
func TestTerraformZones(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	c := srv.ECS(t)
	for _, charge := range []string{"PostPaid", "PrePaid"} {
		ar := ecs.CreateDescribeAvailableResourceRequest()
		ar.RegionId, ar.DestinationResource, ar.IoOptimized, ar.InstanceChargeType = region, "Zone", "optimized", charge
		avail, err := c.DescribeAvailableResource(ar)
		if err != nil {
			t.Fatalf("DescribeAvailableResource %s: %v", charge, err)
		}
		valid := map[string]bool{}
		for _, z := range avail.AvailableZones.AvailableZone {
			if z.Status != "SoldOut" && z.RegionId == region {
				valid[z.ZoneId] = true
			}
		}
		zr := ecs.CreateDescribeZonesRequest()
		zr.RegionId, zr.InstanceChargeType = region, charge
		zones, err := c.DescribeZones(zr)
		if err != nil {
			t.Fatalf("DescribeZones %s: %v", charge, err)
		}
		var ids []string
		for _, z := range zones.Zones.Zone {
			if valid[z.ZoneId] && len(z.AvailableInstanceTypes.InstanceTypes) > 0 && len(z.AvailableDiskCategories.DiskCategories) > 0 &&
				slices.Contains(z.AvailableResourceCreation.ResourceTypes, "VSwitch") {
				ids = append(ids, z.ZoneId)
			}
		}
		if !slices.Contains(ids, zone) {
			t.Errorf("%s: the data source finds zones %v, not %s (available %v)", charge, ids, zone, valid)
		}
	}
	// The VPC product's DescribeZones, which other tools use for a
	// vSwitch's zone.
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	out, err := tf.do(vpcVersion, "DescribeZones", map[string]any{"RegionId": region})
	if err != nil {
		t.Fatalf("VPC DescribeZones: %v", err)
	}
	var got []string
	if zs, ok := at(out, "Zones.Zone"); ok {
		for _, z := range zs.([]any) {
			got = append(got, text(z.(map[string]any)["ZoneId"]))
		}
	}
	if !slices.Contains(got, zone) {
		t.Errorf("VPC DescribeZones: zones %v, want %s among them (%v)", got, zone, out)
	}
}
