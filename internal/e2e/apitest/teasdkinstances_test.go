package apitest

import (
	"reflect"
	"testing"

	ecs3 "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/dara"
	vpc3 "github.com/alibabacloud-go/vpc-20160428/v6/client"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// instanceLeftOut are the fields of DescribeInstances' instance that
// Palisade does not send: ECS leaves them out too for an instance like
// Palisade's (KeyPairName without a key pair; the hop limit, not public;
// local disks, RDMA, HPC, spot and NVS settings it does not have; a
// private DNS name it writes as an empty object), or Palisade cannot know
// them (DeviceAvailable; the CPU's turbo, topology and VISST/VRDT settings; the
// image's NVMe support and non-root login).
var instanceLeftOut = []string{"AdditionalInfo", "ClockOptions", "CpuOptions.EnableVISST", "CpuOptions.EnableVRDT",
	"CpuOptions.TopologyType", "CpuOptions.TurboMode", "DeploymentSetGroupNo", "DeviceAvailable",
	"EnableNVS", "HpcClusterId", "ISP", "ImageOptions.CurrentOSNVMeSupported", "ImageOptions.LoginAsNonRoot", "KeyPairName",
	"LocalStorageAmount", "LocalStorageCapacity", "MetadataOptions.HttpPutResponseHopLimit",
	"NetworkInterfaces.NetworkInterface[0].Ipv4PrefixSets", "NetworkInterfaces.NetworkInterface[0].Ipv6PrefixSets",
	"NetworkInterfaces.NetworkInterface[0].PrivateIpSets.PrivateIpSet[0].PrivateDnsName",
	"PrivateDnsNameOptions.EnableInstanceIdDnsAAAARecord", "PrivateDnsNameOptions.EnableInstanceIdDnsARecord",
	"PrivateDnsNameOptions.EnableIpDnsARecord", "PrivateDnsNameOptions.EnableIpDnsPtrRecord", "PrivateDnsNameOptions.HostnameType",
	"RdmaIpAddress", "SpotDuration", "SpotInterruptionBehavior"}

// TestTeaSDKInstanceFields: the fields ECS writes for every VPC instance
// decode non-nil in the typed client (they were nil, and code that
// dereferences *inst.OSName, as it may against ECS, panicked), with the
// values ECS gives an instance like Palisade's; the image's system from
// the catalogue, the CPU from the catalogue's instance types. What
// Palisade does not know of an image or type not catalogued is left out.
func TestTeaSDKInstanceFields(t *testing.T) {
	e := newEnv(t)
	c, vc := teaClients(t, e.addr, e.ak, e.secret)
	vpcID := dara.StringValue(must(vc.CreateVpc(&vpc3.CreateVpcRequest{RegionId: str(region), CidrBlock: str("10.0.0.0/16")}))(t).Body.VpcId)
	vsw := dara.StringValue(must(vc.CreateVSwitch(&vpc3.CreateVSwitchRequest{RegionId: str(region), VpcId: str(vpcID),
		CidrBlock: str("10.0.1.0/24"), ZoneId: str(zone)}))(t).Body.VSwitchId)
	sg := dara.StringValue(must(c.CreateSecurityGroup(&ecs3.CreateSecurityGroupRequest{RegionId: str(region), VpcId: str(vpcID)}))(t).Body.SecurityGroupId)
	count := func() int32 {
		t.Helper()
		return dara.Int32Value(must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region)}))(t).Body.TotalCount)
	}

	type system struct{ name, nameEn, typ string }
	for _, tc := range []struct {
		name, image, typ, family string
		os                       system
		cores, threads           int32 // 0: CpuOptions left out
		unknown                  []string
	}{
		{name: "linux image, two vCPUs", image: "aliyun_3_x64_20G_alibase_20240819.vhd", typ: "ecs.g7.large", family: "ecs.g7",
			os: system{"Alibaba Cloud Linux  3.2104 LTS 64位", "Alibaba Cloud Linux  3.2104 LTS 64 bit", "linux"}, cores: 1, threads: 2},
		{name: "four vCPUs", image: "ubuntu_22_04_x64_20G_alibase_20240926.vhd", typ: "ecs.g7.xlarge", family: "ecs.g7",
			os: system{"Ubuntu  22.04 64位", "Ubuntu  22.04 64 bit", "linux"}, cores: 2, threads: 2},
		{name: "windows image, one vCPU", image: "win2022_21H2_x64_dtc_en-us_40G_alibase_20240919.vhd", typ: "ecs.t5-lc1m1.small", family: "ecs.t5",
			os: system{"Windows Server  2022 数据中心版 64位英文版", "Windows Server  2022 Data Center Edition 64bit English Edition", "windows"}, cores: 1, threads: 1},
		{name: "image and type not catalogued", image: imageID, typ: "ecs.hfg8i.large", family: "ecs.hfg8i",
			os: system{typ: "linux"}, unknown: []string{"CpuOptions", "GPUAmount", "GPUSpec", "OSName", "OSNameEn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The default metadata options, given, are taken.
			id := must(c.RunInstances(&ecs3.RunInstancesRequest{RegionId: str(region), ImageId: str(tc.image), InstanceType: str(tc.typ),
				VSwitchId: str(vsw), SecurityGroupId: str(sg), HttpEndpoint: str("enabled"), HttpTokens: str("optional")}))(t).Body.InstanceIdSets.InstanceIdSet[0]
			b := must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region), InstanceIds: str(`["` + dara.StringValue(id) + `"]`)}))(t).Body
			if len(b.Instances.Instance) != 1 {
				t.Fatalf("DescribeInstances: %v", b)
			}
			in := b.Instances.Instance[0]
			if u := unset(in, instanceLeftOut...); !reflect.DeepEqual(u, tc.unknown) {
				t.Fatalf("DescribeInstances leaves unset %q; want %q", u, tc.unknown) // what follows reads them
			}
			if got := (system{dara.StringValue(in.OSName), dara.StringValue(in.OSNameEn), dara.StringValue(in.OSType)}); got != tc.os {
				t.Errorf("system %q; want %q", got, tc.os)
			}
			if f := dara.StringValue(in.InstanceTypeFamily); f != tc.family {
				t.Errorf("InstanceTypeFamily %q; want %q", f, tc.family)
			}
			if tc.cores != 0 {
				if o := in.CpuOptions; dara.Int32Value(o.CoreCount) != tc.cores || dara.Int32Value(o.ThreadsPerCore) != tc.threads ||
					dara.StringValue(o.Numa) != "" || dara.Int32Value(in.GPUAmount) != 0 || dara.StringValue(in.GPUSpec) != "" {
					t.Errorf("CpuOptions %v, GPUAmount %v, GPUSpec %v; want %d cores of %d threads, no GPU", o, in.GPUAmount, in.GPUSpec, tc.cores, tc.threads)
				}
			}
			// ECS's defaults, and nothing of what Palisade has none of.
			m := in.MetadataOptions
			if dara.StringValue(m.HttpEndpoint) != "enabled" || dara.StringValue(m.HttpTokens) != "optional" {
				t.Errorf("MetadataOptions %v", m)
			}
			for name, v := range map[string]*string{"DeploymentSetId": in.DeploymentSetId, "VlanId": in.VlanId, "ClusterId": in.ClusterId,
				"AutoReleaseTime": in.AutoReleaseTime, "SaleCycle": in.SaleCycle,
				"DedicatedHostAttribute.DedicatedHostId":        in.DedicatedHostAttribute.DedicatedHostId,
				"DedicatedHostAttribute.DedicatedHostName":      in.DedicatedHostAttribute.DedicatedHostName,
				"DedicatedHostAttribute.DedicatedHostClusterId": in.DedicatedHostAttribute.DedicatedHostClusterId,
				"DedicatedInstanceAttribute.Tenancy":            in.DedicatedInstanceAttribute.Tenancy, "DedicatedInstanceAttribute.Affinity": in.DedicatedInstanceAttribute.Affinity,
				"EcsCapacityReservationAttr.CapacityReservationId":         in.EcsCapacityReservationAttr.CapacityReservationId,
				"EcsCapacityReservationAttr.CapacityReservationPreference": in.EcsCapacityReservationAttr.CapacityReservationPreference} {
				if s := dara.StringValue(v); s != "" {
					t.Errorf("%s %q; want empty", name, s)
				}
			}
			if dara.BoolValue(in.HibernationOptions.Configured) || dara.BoolValue(in.Recyclable) || dara.Float32Value(in.SpotPriceLimit) != 0 {
				t.Errorf("HibernationOptions %v, Recyclable %v, SpotPriceLimit %v", in.HibernationOptions, in.Recyclable, in.SpotPriceLimit)
			}

			// The same in XML, through the classic SDK.
			xr := ecs.CreateDescribeInstancesRequest()
			xr.AcceptFormat, xr.InstanceIds = "XML", `["`+dara.StringValue(id)+`"]`
			xb := must(e.ecs.DescribeInstances(xr))(t)
			if l := xb.Instances.Instance; len(l) != 1 || (system{l[0].OSName, l[0].OSNameEn, l[0].OSType}) != tc.os ||
				l[0].InstanceTypeFamily != tc.family || int32(l[0].CpuOptions.CoreCount) != tc.cores ||
				int32(l[0].CpuOptions.ThreadsPerCore) != tc.threads || l[0].MetadataOptions.HttpTokens != "optional" {
				t.Errorf("in XML: %+v\n%s", l, xb.GetHttpContentString())
			}

			a := must(c.DescribeInstanceAttribute(&ecs3.DescribeInstanceAttributeRequest{InstanceId: id}))(t).Body
			// BandwidthWeighting only some (newer) types take.
			if u := unset(a, "NetworkOptions.BandwidthWeighting"); len(u) > 0 {
				t.Fatalf("DescribeInstanceAttribute leaves unset %q", u)
			}
			if dara.BoolValue(a.EnableNetworkEncryption) || dara.BoolValue(a.NetworkOptions.EnableNetworkEncryption) ||
				dara.BoolValue(a.NetworkOptions.EnableJumboFrame) || dara.StringValue(a.DedicatedHostAttribute.DedicatedHostId) != "" ||
				dara.StringValue(a.DedicatedHostAttribute.DedicatedHostName) != "" {
				t.Errorf("DescribeInstanceAttribute: EnableNetworkEncryption %v, NetworkOptions %v, DedicatedHostAttribute %v",
					a.EnableNetworkEncryption, a.NetworkOptions, a.DedicatedHostAttribute)
			}
		})
	}

	// Metadata options are kept as a launch gives them, and as
	// ModifyInstanceMetadataOptions changes them (Terraform's http_tokens,
	// http_endpoint and http_put_response_hop_limit read them back); a bad
	// one is refused and creates nothing.
	meta := func(t *testing.T, id *string) (string, string, int32) {
		t.Helper()
		b := must(c.DescribeInstances(&ecs3.DescribeInstancesRequest{RegionId: str(region), InstanceIds: str(`["` + dara.StringValue(id) + `"]`)}))(t).Body
		m := b.Instances.Instance[0].MetadataOptions
		return dara.StringValue(m.HttpEndpoint), dara.StringValue(m.HttpTokens), dara.Int32Value(m.HttpPutResponseHopLimit)
	}
	id := must(c.RunInstances(&ecs3.RunInstancesRequest{RegionId: str(region), ImageId: str(imageID), InstanceType: str(instanceType),
		VSwitchId: str(vsw), SecurityGroupId: str(sg), HttpTokens: str("required"), HttpPutResponseHopLimit: dara.Int32(3)}))(t).Body.InstanceIdSets.InstanceIdSet[0]
	if e, tok, hop := meta(t, id); e != "enabled" || tok != "required" || hop != 3 {
		t.Errorf("launched with HttpTokens required, hop limit 3: MetadataOptions %s %s %d", e, tok, hop)
	}
	must(c.ModifyInstanceMetadataOptions(&ecs3.ModifyInstanceMetadataOptionsRequest{RegionId: str(region), InstanceId: id, HttpEndpoint: str("disabled")}))(t)
	if e, tok, hop := meta(t, id); e != "disabled" || tok != "required" || hop != 3 {
		t.Errorf("after HttpEndpoint disabled: MetadataOptions %s %s %d, want the rest kept", e, tok, hop)
	}
	before := count()
	for _, r := range []*ecs3.RunInstancesRequest{{HttpTokens: str("mandatory")}, {HttpEndpoint: str("off")}, {HttpPutResponseHopLimit: dara.Int32(65)}} {
		r.RegionId, r.ImageId, r.InstanceType, r.VSwitchId, r.SecurityGroupId = str(region), str(imageID), str(instanceType), str(vsw), str(sg)
		_, err := c.RunInstances(r)
		wantTeaErr(t, err, 400, "InvalidParameter")
	}
	if n := count(); n != before {
		t.Errorf("%d instances after the refused launches; want %d", n, before)
	}
	_, err := c.ModifyInstanceMetadataOptions(&ecs3.ModifyInstanceMetadataOptionsRequest{RegionId: str(region), InstanceId: id, HttpTokens: str("maybe")})
	wantTeaErr(t, err, 400, "InvalidParameter")
	// Tags in the metadata are not kept: refused, not ignored.
	_, err = c.ModifyInstanceMetadataOptions(&ecs3.ModifyInstanceMetadataOptionsRequest{RegionId: str(region), InstanceId: id, HttpEndpoint: str("enabled"), InstanceMetadataTags: str("enabled")})
	wantTeaErr(t, err, 400, "OperationUnsupported.InstanceMetadataTags")
	_, err = c.ModifyInstanceMetadataOptions(&ecs3.ModifyInstanceMetadataOptionsRequest{RegionId: str(region), InstanceId: str("i-notmine00000000001"), HttpTokens: str("required")})
	wantTeaErr(t, err, 404, "InvalidInstanceId.NotFound")
	if e, tok, hop := meta(t, id); e != "disabled" || tok != "required" || hop != 3 {
		t.Errorf("after refused changes: MetadataOptions %s %s %d", e, tok, hop)
	}
}
