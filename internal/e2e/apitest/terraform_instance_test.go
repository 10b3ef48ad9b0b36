package apitest

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestTerraformInstance replays alicloud_instance: RunInstances as the
// provider's create sends it (RpcPost: SystemDisk.*, UserData in Base64,
// its defaults spelled out), the wait for Running, the read (the instance,
// its system disk, user data, primary ENI, maintenance attributes and
// attribute), the refresh a plan makes (the same, plus its RAM role), a
// user_data update and the destroy. Each field the read sets must come
// back as the configuration wrote it, or every plan shows a change (and a
// system disk's category or size replaces the instance). Another account
// sees none of it.
func TestTerraformInstance(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	o := srv.NewAccount(t, "other")
	other := &tfClient{testenv.V3Client(t, srv.Addr, o.KeyID, o.Secret, "v2")}
	ecsV, vpcV := ecsVersion, vpcVersion
	list, boolean, num, object := "list", "bool", "number", "object"
	userData := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho palisade\n"))
	userData2 := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho again\n"))
	tooLarge := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 32<<10+1)))
	// The create's body, with what the provider always sends.
	run := func(extra map[string]any) map[string]any {
		b := map[string]any{"ClientToken": "tf-inst-token", "InstanceType": instanceType, "ImageId": imageID,
			"SystemDisk.Category": "cloud_essd", "SystemDisk.Size": 50, "InstanceName": "tf-inst", "Description": "terraform instance",
			"InternetChargeType": "PayByTraffic", "InternetMaxBandwidthOut": 0, "InstanceChargeType": "PostPaid", "SpotStrategy": "NoSpot",
			"UserData": userData, "DryRun": false, "DeletionProtection": false, "Tag.1.Key": "env", "Tag.1.Value": "tf",
			"VSwitchId": "{vsw}", "SecurityGroupIds.1": "{sg}", "IoOptimized": "optimized"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	inst := "Instances.Instance.0."
	disk := "Disks.Disk.0."
	maint := "MaintenanceAttributes.MaintenanceAttribute.0."
	read := func(phase string) []tfStep {
		return []tfStep{
			{name: phase + ": instance", version: ecsV, action: "DescribeInstances", body: map[string]any{"InstanceIds": `["{inst}"]`},
				want: map[string]string{inst + "InstanceName": "tf-inst", inst + "Description": "terraform instance", inst + "Status": "Running",
					inst + "ImageId": imageID, inst + "InstanceType": instanceType, inst + "InternetMaxBandwidthOut": "0",
					inst + "InternetChargeType": "PayByTraffic", inst + "InstanceChargeType": "PostPaid", inst + "SpotStrategy": "NoSpot",
					inst + "DeletionProtection": "false", inst + "VpcAttributes.VSwitchId": "{vsw}", inst + "VpcAttributes.VpcId": "{vpc}",
					inst + "SecurityGroupIds.SecurityGroupId.0": "{sg}", inst + "Tags.Tag.0.TagKey": "env",
					inst + "NetworkInterfaces.NetworkInterface.0.Type": "Primary"},
				save: map[string]string{"rg": inst + "ResourceGroupId", "eni": inst + "NetworkInterfaces.NetworkInterface.0.NetworkInterfaceId"}},
			// DescribeInstanceSystemDisk: by instance, type and (newer
			// providers) the instance's resource group; it takes the first
			// disk and checks its InstanceId.
			{name: phase + ": system disk", version: ecsV, action: "DescribeDisks", body: map[string]any{"InstanceId": "{inst}", "DiskType": "system", "ResourceGroupId": "{rg}"},
				want: map[string]string{"TotalCount": "1", disk + "InstanceId": "{inst}", disk + "Type": "system", disk + "Category": "cloud_essd",
					disk + "Size": "50", disk + "DiskName": "", disk + "Description": "", disk + "AutoSnapshotPolicyId": "", disk + "PerformanceLevel": "PL1",
					disk + "ResourceGroupId": "{rg}", disk + "Encrypted": "false"},
				kinds: map[string]string{"Disks.Disk": list, disk + "Size": num, disk + "Encrypted": boolean, disk + "Tags.Tag": list},
				save:  map[string]string{"disk": disk + "DiskId"}},
			{name: phase + ": system disk by ID", version: ecsV, action: "DescribeDisks", body: map[string]any{"DiskIds": `["{disk}"]`},
				want: map[string]string{"TotalCount": "1", disk + "DiskId": "{disk}", disk + "InstanceId": "{inst}"}},
			// As ECS reads its filters: Category all is every category, an
			// empty DiskIds array selects no disk.
			{name: phase + ": disks of every category", version: ecsV, action: "DescribeDisks", body: map[string]any{"InstanceId": "{inst}", "Category": "all"},
				want: map[string]string{"TotalCount": "1", disk + "DiskId": "{disk}"}},
			{name: phase + ": no disk IDs", version: ecsV, action: "DescribeDisks", body: map[string]any{"DiskIds": `[]`},
				want: map[string]string{"TotalCount": "0"}},
			// InstanceId is a list (InstanceId.N): one bare value is refused,
			// not read as no filter (which answered every instance).
			{name: phase + ": maintenance, bare InstanceId", version: ecsV, action: "DescribeInstanceMaintenanceAttributes", body: map[string]any{"InstanceId": "{inst}"},
				err: "InvalidParameter", status: 400},
			{name: phase + ": user data", version: ecsV, action: "DescribeUserData", body: map[string]any{"InstanceId": "{inst}"},
				want: map[string]string{"UserData": userData, "InstanceId": "{inst}"}},
			{name: phase + ": primary ENI", version: ecsV, action: "DescribeNetworkInterfaces", body: map[string]any{"NetworkInterfaceId.1": "{eni}"},
				want: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet.0.InstanceId": "{inst}"},
				kinds: map[string]string{"NetworkInterfaceSets.NetworkInterfaceSet.0.PrivateIpSets.PrivateIpSet": list,
					"NetworkInterfaceSets.NetworkInterfaceSet.0.PrivateIpSets.PrivateIpSet.0.Primary": boolean,
					"NetworkInterfaceSets.NetworkInterfaceSet.0.Ipv6Sets.Ipv6Set":                     list}},
			// maintenance_action, maintenance_notify, maintenance_time: the
			// provider asserts ActionOnMaintenance an object and the
			// windows a list.
			{name: phase + ": maintenance", version: ecsV, action: "DescribeInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}"},
				want: map[string]string{maint + "InstanceId": "{inst}", maint + "ActionOnMaintenance.Value": "AutoRecover", maint + "NotifyOnMaintenance": "false"},
				kinds: map[string]string{"MaintenanceAttributes.MaintenanceAttribute": list, maint + "ActionOnMaintenance": object,
					maint + "NotifyOnMaintenance": boolean, maint + "MaintenanceWindows.MaintenanceWindow": list}},
			{name: phase + ": attribute", version: ecsV, action: "DescribeInstanceAttribute", body: map[string]any{"InstanceId": "{inst}"},
				want: map[string]string{"InstanceId": "{inst}"}, kinds: map[string]string{"EnableJumboFrame": boolean}},
		}
	}
	steps := []tfStep{
		{name: "vpc", version: vpcV, action: "CreateVpc", body: map[string]any{"CidrBlock": "10.0.0.0/16"}, save: map[string]string{"vpc": "VpcId"}},
		{name: "vswitch", version: vpcV, action: "CreateVSwitch", body: map[string]any{"CidrBlock": "10.0.1.0/24", "VpcId": "{vpc}", "ZoneId": zone},
			save: map[string]string{"vsw": "VSwitchId"}},
		{name: "group", version: ecsV, action: "CreateSecurityGroup", body: map[string]any{"VpcId": "{vpc}"}, save: map[string]string{"sg": "SecurityGroupId"}},

		// What the create refuses, making nothing.
		{name: "create, unknown disk category", version: ecsV, action: "RunInstances", body: run(map[string]any{"ClientToken": "t1", "SystemDisk.Category": "floppy"}),
			err: "InvalidSystemDiskCategory.ValueNotSupported", status: 400},
		{name: "create, disk too small", version: ecsV, action: "RunInstances", body: run(map[string]any{"ClientToken": "t2", "SystemDisk.Size": 10}),
			err: "InvalidSystemDiskSize.ValueNotSupported", status: 400},
		{name: "create, user data not Base64", version: ecsV, action: "RunInstances", body: run(map[string]any{"ClientToken": "t3", "UserData": "#!/bin/sh"}),
			err: "InvalidUserData.Base64FormatInvalid", status: 400},
		{name: "create, user data too large", version: ecsV, action: "RunInstances", body: run(map[string]any{"ClientToken": "t4", "UserData": tooLarge}),
			err: "InvalidUserData.SizeExceeded", status: 400},
		{name: "create, RAM role", version: ecsV, action: "RunInstances", body: run(map[string]any{"ClientToken": "t5", "RamRoleName": "ecs-role"}),
			err: "OperationUnsupported.RamRole", status: 400},
		{name: "nothing made", version: ecsV, action: "DescribeInstances", body: map[string]any{"VpcId": "{vpc}"}, want: map[string]string{"Instances.Instance": "[]"}},

		{name: "create", version: ecsV, action: "RunInstances", body: run(nil), save: map[string]string{"inst": "InstanceIdSets.InstanceIdSet.0"}},
		{name: "create wait", version: ecsV, action: "DescribeInstances", body: map[string]any{"InstanceIds": `["{inst}"]`},
			want: map[string]string{inst + "Status": "Running"}},
	}
	steps = append(steps, read("read")...)
	steps = append(steps, read("refresh")...)
	steps = append(steps,
		// role_name: read on a refresh of a VPC instance, from the first
		// entry: the instance, with no role.
		tfStep{name: "refresh: RAM role", version: ecsV, action: "DescribeInstanceRamRole", body: map[string]any{"InstanceIds": `["{inst}"]`},
			want: map[string]string{"TotalCount": "1", "InstanceRamRoleSets.InstanceRamRoleSet.0.InstanceId": "{inst}",
				"InstanceRamRoleSets.InstanceRamRoleSet.0.RamRoleName": ""},
			kinds: map[string]string{"InstanceRamRoleSets.InstanceRamRoleSet": list}},
		tfStep{name: "other: RAM role", as: other, version: ecsV, action: "DescribeInstanceRamRole", body: map[string]any{"InstanceIds": `["{inst}"]`},
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"InstanceRamRoleSets.InstanceRamRoleSet": list}},

		// Another account: its filters select nothing, its reads of the
		// instance say it does not exist.
		tfStep{name: "other: disks by instance", as: other, version: ecsV, action: "DescribeDisks", body: map[string]any{"InstanceId": "{inst}"},
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"Disks.Disk": list}},
		tfStep{name: "other: disks by ID", as: other, version: ecsV, action: "DescribeDisks", body: map[string]any{"DiskIds": `["{disk}"]`},
			want: map[string]string{"TotalCount": "0"}},
		tfStep{name: "other: all disks", as: other, version: ecsV, action: "DescribeDisks", body: map[string]any{},
			want: map[string]string{"TotalCount": "0"}},
		tfStep{name: "other: user data", as: other, version: ecsV, action: "DescribeUserData", body: map[string]any{"InstanceId": "{inst}"},
			err: "InvalidInstanceId.NotFound", status: 404},
		tfStep{name: "other: maintenance", as: other, version: ecsV, action: "DescribeInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}"},
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"MaintenanceAttributes.MaintenanceAttribute": list}},
		tfStep{name: "other: user data update", as: other, version: ecsV, action: "ModifyInstanceAttribute", body: map[string]any{"InstanceId": "{inst}", "UserData": userData2},
			err: "InvalidInstanceId.NotFound", status: 404},

		// Bad filters.
		tfStep{name: "disks, unknown type", version: ecsV, action: "DescribeDisks", body: map[string]any{"DiskType": "floppy"},
			err: "InvalidDiskType.ValueNotSupported", status: 400},
		tfStep{name: "disks, data", version: ecsV, action: "DescribeDisks", body: map[string]any{"InstanceId": "{inst}", "DiskType": "data"},
			want: map[string]string{"TotalCount": "0"}},
		tfStep{name: "user data, no instance", version: ecsV, action: "DescribeUserData", body: map[string]any{}, err: "MissingParameter", status: 400},

		// user_data changed: the provider stops the instance, sets it,
		// starts it.
		tfStep{name: "update: stop", version: ecsV, action: "StopInstance", body: map[string]any{"InstanceId": "{inst}"}},
		tfStep{name: "update: bad user data", version: ecsV, action: "ModifyInstanceAttribute", body: map[string]any{"InstanceId": "{inst}", "UserData": "not base64!"},
			err: "InvalidUserData.Base64FormatInvalid", status: 400},
		tfStep{name: "update: user data unchanged", version: ecsV, action: "DescribeUserData", body: map[string]any{"InstanceId": "{inst}"},
			want: map[string]string{"UserData": userData}},
		tfStep{name: "update: user data", version: ecsV, action: "ModifyInstanceAttribute", body: map[string]any{"InstanceId": "{inst}", "UserData": userData2}},
		tfStep{name: "update: start", version: ecsV, action: "StartInstance", body: map[string]any{"InstanceId": "{inst}"}},
		tfStep{name: "update: read", version: ecsV, action: "DescribeUserData", body: map[string]any{"InstanceId": "{inst}"},
			want: map[string]string{"UserData": userData2}},

		// system_disk_size grown: the provider finds the system disk, reads
		// the instance's status (Type online while Running) and resizes;
		// the read after the update must see the new size. A disk only
		// grows, and a refusal changes nothing.
		tfStep{name: "resize: find the disk", version: ecsV, action: "DescribeDisks", body: map[string]any{"InstanceId": "{inst}", "DiskType": "system"},
			want: map[string]string{disk + "DiskId": "{disk}", disk + "Size": "50"}},
		tfStep{name: "resize: shrink", version: ecsV, action: "ResizeDisk", body: map[string]any{"DiskId": "{disk}", "NewSize": 40, "Type": "online"},
			err: "InvalidDiskSize.TooSmall", status: 403},
		tfStep{name: "resize: the same size", version: ecsV, action: "ResizeDisk", body: map[string]any{"DiskId": "{disk}", "NewSize": 50, "Type": "online"},
			err: "InvalidDiskSize.TooSmall", status: 403},
		tfStep{name: "resize: over the bound", version: ecsV, action: "ResizeDisk", body: map[string]any{"DiskId": "{disk}", "NewSize": 4096, "Type": "online"},
			err: "InvalidParameter", status: 403},
		tfStep{name: "resize: unknown type", version: ecsV, action: "ResizeDisk", body: map[string]any{"DiskId": "{disk}", "NewSize": 60, "Type": "hot"},
			err: "InvalidParameter", status: 400},
		tfStep{name: "resize: no size", version: ecsV, action: "ResizeDisk", body: map[string]any{"DiskId": "{disk}"},
			err: "MissingParameter", status: 400},
		tfStep{name: "resize: unknown disk", version: ecsV, action: "ResizeDisk", body: map[string]any{"DiskId": "d-doesnotexist000000", "NewSize": 60},
			err: "InvalidDiskId.NotFound", status: 404},
		tfStep{name: "other: resize", as: other, version: ecsV, action: "ResizeDisk", body: map[string]any{"DiskId": "{disk}", "NewSize": 60, "Type": "online"},
			err: "InvalidDiskId.NotFound", status: 404},
		tfStep{name: "resize: refusals changed nothing", version: ecsV, action: "DescribeDisks", body: map[string]any{"DiskIds": `["{disk}"]`},
			want: map[string]string{disk + "Size": "50"}},
		tfStep{name: "resize", version: ecsV, action: "ResizeDisk", body: map[string]any{"DiskId": "{disk}", "NewSize": 60, "Type": "online"}},
		tfStep{name: "resize: read", version: ecsV, action: "DescribeDisks", body: map[string]any{"InstanceId": "{inst}", "DiskType": "system", "ResourceGroupId": "{rg}"},
			want:  map[string]string{"TotalCount": "1", disk + "DiskId": "{disk}", disk + "Size": "60", disk + "Category": "cloud_essd"},
			kinds: map[string]string{disk + "Size": num}},

		// system_disk_name and system_disk_description changed: one
		// ModifyDiskAttribute with both (an unset one empty).
		tfStep{name: "disk attribute: bad name", version: ecsV, action: "ModifyDiskAttribute", body: map[string]any{"DiskId": "{disk}", "DiskName": "1-starts-with-a-digit",
			"Description": ""}, err: "InvalidDiskName.Malformed", status: 400},
		tfStep{name: "disk attribute: bad description", version: ecsV, action: "ModifyDiskAttribute", body: map[string]any{"DiskId": "{disk}", "DiskName": "tf-sys",
			"Description": "http://x"}, err: "InvalidDescription.Malformed", status: 400},
		tfStep{name: "disk attribute: release setting", version: ecsV, action: "ModifyDiskAttribute", body: map[string]any{"DiskId": "{disk}", "DeleteWithInstance": false},
			err: "OperationUnsupported.DeleteWithInstance", status: 400},
		tfStep{name: "other: disk attribute", as: other, version: ecsV, action: "ModifyDiskAttribute", body: map[string]any{"DiskId": "{disk}", "DiskName": "tf-sys"},
			err: "InvalidDiskId.NotFound", status: 404},
		tfStep{name: "disk attribute", version: ecsV, action: "ModifyDiskAttribute", body: map[string]any{"DiskId": "{disk}", "DiskName": "tf-sys", "Description": "system disk"}},
		tfStep{name: "disk attribute: read", version: ecsV, action: "DescribeDisks", body: map[string]any{"InstanceId": "{inst}", "DiskType": "system"},
			want: map[string]string{disk + "DiskName": "tf-sys", disk + "Description": "system disk", disk + "Size": "60"}},

		// maintenance_action, maintenance_notify, maintenance_time changed:
		// one ModifyInstanceMaintenanceAttributes with InstanceId as a list
		// and the windows as MaintenanceWindow.N; the read sees them.
		tfStep{name: "maintenance: unknown action", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}",
			"ActionOnMaintenance": "Reboot"}, err: "InvalidParameter", status: 400},
		tfStep{name: "maintenance: window not on the hour", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}",
			"MaintenanceWindow.1.StartTime": "02:30:00", "MaintenanceWindow.1.EndTime": "05:00:00"}, err: "InvalidParameter", status: 400},
		tfStep{name: "maintenance: window of no length", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}",
			"MaintenanceWindow.1.StartTime": "02:00:00", "MaintenanceWindow.1.EndTime": "02:00:00"}, err: "InvalidParameter", status: 400},
		tfStep{name: "maintenance: half a window", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}",
			"MaintenanceWindow.1.StartTime": "02:00:00"}, err: "InvalidParameter", status: 400},
		tfStep{name: "maintenance: bare InstanceId", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId": "{inst}",
			"ActionOnMaintenance": "Stop"}, err: "InvalidParameter", status: 400},
		tfStep{name: "maintenance: no instance", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"ActionOnMaintenance": "Stop"},
			err: "MissingParameter", status: 400},
		tfStep{name: "maintenance: mine and an unknown one", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}",
			"InstanceId.2": "i-doesnotexist00000000", "ActionOnMaintenance": "Stop"}, err: "InvalidInstanceId.NotFound", status: 404},
		tfStep{name: "other: maintenance update", as: other, version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}",
			"ActionOnMaintenance": "Stop"}, err: "InvalidInstanceId.NotFound", status: 404},
		tfStep{name: "maintenance: refusals changed nothing", version: ecsV, action: "DescribeInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}"},
			want: map[string]string{maint + "ActionOnMaintenance.Value": "AutoRecover", maint + "NotifyOnMaintenance": "false", maint + "MaintenanceWindows.MaintenanceWindow": "[]"}},
		tfStep{name: "maintenance update", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}",
			"ActionOnMaintenance": "Stop", "NotifyOnMaintenance": true, "MaintenanceWindow.1.StartTime": "22:00:00", "MaintenanceWindow.1.EndTime": "02:00:00"}},
		tfStep{name: "maintenance read", version: ecsV, action: "DescribeInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}"},
			want: map[string]string{maint + "InstanceId": "{inst}", maint + "ActionOnMaintenance.Value": "Stop", maint + "ActionOnMaintenance.DefaultValue": "AutoRecover",
				maint + "NotifyOnMaintenance": "true", maint + "MaintenanceWindows.MaintenanceWindow.0.StartTime": "22:00:00",
				maint + "MaintenanceWindows.MaintenanceWindow.0.EndTime": "02:00:00"},
			kinds: map[string]string{maint + "NotifyOnMaintenance": boolean, maint + "MaintenanceWindows.MaintenanceWindow": list}},
		// Only the action changed: the notice and the window stay.
		tfStep{name: "maintenance update, action only", version: ecsV, action: "ModifyInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}",
			"ActionOnMaintenance": "AutoRecover"}},
		tfStep{name: "maintenance read again", version: ecsV, action: "DescribeInstanceMaintenanceAttributes", body: map[string]any{"InstanceId.1": "{inst}"},
			want: map[string]string{maint + "ActionOnMaintenance.Value": "AutoRecover", maint + "NotifyOnMaintenance": "true",
				maint + "MaintenanceWindows.MaintenanceWindow.0.StartTime": "22:00:00"}},

		// Destroy, and the reads that find it gone.
		tfStep{name: "delete", version: ecsV, action: "DeleteInstance", body: map[string]any{"InstanceId": "{inst}", "Force": true}},
		tfStep{name: "gone", version: ecsV, action: "DescribeInstances", body: map[string]any{"InstanceIds": `["{inst}"]`},
			want: map[string]string{"Instances.Instance": "[]"}},
		tfStep{name: "gone: disk", version: ecsV, action: "DescribeDisks", body: map[string]any{"InstanceId": "{inst}"},
			want: map[string]string{"TotalCount": "0"}},
		tfStep{name: "gone: user data", version: ecsV, action: "DescribeUserData", body: map[string]any{"InstanceId": "{inst}"},
			err: "InvalidInstanceId.NotFound", status: 404},
	)
	runTF(t, tf, steps)
}

// TestTerraformInstanceDefaults: an alicloud_instance without
// system_disk_* or user_data (the provider still sends SystemDisk.Size 40)
// reads ECS's defaults back, typed as the classic SDK the provider reads
// them with decodes them.
func TestTerraformInstanceDefaults(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	vars := runTF(t, tf, []tfStep{
		{name: "vpc", version: vpcVersion, action: "CreateVpc", body: map[string]any{"CidrBlock": "10.0.0.0/16"}, save: map[string]string{"vpc": "VpcId"}},
		{name: "vswitch", version: vpcVersion, action: "CreateVSwitch", body: map[string]any{"CidrBlock": "10.0.1.0/24", "VpcId": "{vpc}", "ZoneId": zone},
			save: map[string]string{"vsw": "VSwitchId"}},
		{name: "group", version: ecsVersion, action: "CreateSecurityGroup", body: map[string]any{"VpcId": "{vpc}"}, save: map[string]string{"sg": "SecurityGroupId"}},
		{name: "sized", version: ecsVersion, action: "RunInstances", body: map[string]any{"InstanceType": instanceType, "ImageId": imageID,
			"SystemDisk.Size": 40, "VSwitchId": "{vsw}", "SecurityGroupIds.1": "{sg}"}, save: map[string]string{"sized": "InstanceIdSets.InstanceIdSet.0"}},
		{name: "bare", version: ecsVersion, action: "CreateInstance", body: map[string]any{"InstanceType": instanceType, "ImageId": imageID,
			"VSwitchId": "{vsw}", "SecurityGroupId": "{sg}"}, save: map[string]string{"bare": "InstanceId"}},
	})
	c := srv.ECS(t)
	for _, id := range []string{vars["sized"], vars["bare"]} {
		r := ecs.CreateDescribeDisksRequest()
		r.RegionId, r.InstanceId, r.DiskType = region, id, "system"
		res, err := c.DescribeDisks(r)
		if err != nil {
			t.Fatalf("DescribeDisks %s: %v", id, err)
		}
		if len(res.Disks.Disk) != 1 {
			t.Fatalf("DescribeDisks %s: %+v", id, res.Disks)
		}
		d := res.Disks.Disk[0]
		if d.InstanceId != id || d.Category != "cloud_efficiency" || d.Size != 40 || d.Type != "system" || !strings.HasPrefix(d.DiskId, "d-") || d.PerformanceLevel != "" {
			t.Errorf("system disk of %s decoded as %+v; want cloud_efficiency, 40 GiB", id, d)
		}
		u := ecs.CreateDescribeUserDataRequest()
		u.RegionId, u.InstanceId = region, id
		ud, err := c.DescribeUserData(u)
		if err != nil || ud.UserData != "" || ud.InstanceId != id {
			t.Errorf("DescribeUserData %s: %+v, %v; want no user data", id, ud, err)
		}
	}
}

// TestInstanceChangesClassicSDK resizes a system disk and sets maintenance
// attributes with the classic SDK's typed requests (ResizeDisk is the one
// the provider sends so), offline while the instance is stopped, and reads
// them back typed.
func TestInstanceChangesClassicSDK(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	v := createVPC(t, e.vpc, "10.0.0.0/16")
	vsw := createVSwitch(t, e.vpc, v, "10.0.1.0/24")
	sg := createGroup(t, c, "gm", v, "")
	run := ecs.CreateRunInstancesRequest()
	run.ImageId, run.InstanceType, run.VSwitchId, run.SecurityGroupIds = imageID, instanceType, vsw, &[]string{sg}
	run.SystemDiskCategory = "cloud"
	inst := must(c.RunInstances(run))(t).InstanceIdSets.InstanceIdSet[0]
	systemDisk := func() ecs.Disk {
		t.Helper()
		r := ecs.CreateDescribeDisksRequest()
		r.InstanceId, r.DiskType = inst, "system"
		ds := must(c.DescribeDisks(r))(t).Disks.Disk
		if len(ds) != 1 {
			t.Fatalf("DescribeDisks: %+v", ds)
		}
		return ds[0]
	}
	d := systemDisk()
	resize := func(size int, typ string) error {
		r := ecs.CreateResizeDiskRequest()
		r.DiskId, r.NewSize, r.Type = d.DiskId, requests.NewInteger(size), typ
		_, err := c.ResizeDisk(r)
		return err
	}
	// A basic disk resizes offline only; the refusal changes nothing.
	wantErr(t, resize(80, "online"), 403, "OperationDenied")
	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = inst
	must(c.StopInstance(stop))(t)
	noErr(t, resize(80, "offline"))
	if got := systemDisk(); got.Size != 80 || got.Category != "cloud" {
		t.Fatalf("after ResizeDisk: %d GiB %s, want 80 GiB cloud", got.Size, got.Category)
	}
	wantErr(t, resize(79, "offline"), 403, "InvalidDiskSize.TooSmall")

	m := ecs.CreateModifyInstanceMaintenanceAttributesRequest()
	m.InstanceId, m.ActionOnMaintenance, m.NotifyOnMaintenance = &[]string{inst}, "Stop", requests.NewBoolean(true)
	m.MaintenanceWindow = &[]ecs.ModifyInstanceMaintenanceAttributesMaintenanceWindow{{StartTime: "01:00:00", EndTime: "03:00:00"}}
	must(c.ModifyInstanceMaintenanceAttributes(m))(t)
	dm := ecs.CreateDescribeInstanceMaintenanceAttributesRequest()
	dm.InstanceId = &[]string{inst}
	as := must(c.DescribeInstanceMaintenanceAttributes(dm))(t).MaintenanceAttributes.MaintenanceAttribute
	if len(as) != 1 || as[0].ActionOnMaintenance.Value != "Stop" || !as[0].NotifyOnMaintenance ||
		len(as[0].MaintenanceWindows.MaintenanceWindow) != 1 || as[0].MaintenanceWindows.MaintenanceWindow[0].StartTime != "01:00:00" ||
		as[0].MaintenanceWindows.MaintenanceWindow[0].EndTime != "03:00:00" {
		t.Fatalf("DescribeInstanceMaintenanceAttributes decoded %+v", as)
	}
}
