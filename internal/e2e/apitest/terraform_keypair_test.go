package apitest

import (
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// tfPublicKey is an Ed25519 public key as `file("~/.ssh/id_ed25519.pub")`
// reads it (comment and newline included), and its fingerprint as
// `ssh-keygen -l -E md5` prints it.
const (
	tfPublicKey   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILPipCWY5i8ddMbIApBFJaimr8PkmAPQ8jyDN2XUXGm8 tester@host\n"
	tfFingerprint = "95:20:ac:c6:5d:a6:7b:e5:cb:0a:a1:4a:64:82:c2:b0"
)

// TestTerraformKeyPairs replays alicloud_ecs_key_pair (CreateKeyPair with
// tags, and with public_key ImportKeyPair; the read, DescribeKeyPairs by
// KeyPairName; a tags change; the delete, which retries while an
// instance holds the key pair), data "alicloud_ecs_key_pairs" (both its
// listings) and alicloud_instance's key_name, auto_release_time and
// credit_specification, as provider 1.240.0 sent them against a Palisade
// server (its event trail). What the read sets must come back as written,
// or every plan shows a change.
func TestTerraformKeyPairs(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	o := srv.NewAccount(t, "other")
	other := &tfClient{testenv.V3Client(t, srv.Addr, o.KeyID, o.Secret, "v2")}
	ecsV, vpcV := ecsVersion, vpcVersion
	list, str, object := "list", "string", "object"
	kp := "KeyPairs.KeyPair.0."
	inst := "Instances.Instance.0."
	// auto_release_time as written; the provider reads ECS's minutes back
	// with ":00Z" appended.
	release := time.Now().UTC().AddDate(0, 6, 0).Truncate(time.Hour)
	runTF(t, tf, []tfStep{
		{name: "vpc", version: vpcV, action: "CreateVpc", body: map[string]any{"CidrBlock": "10.0.0.0/16"}, save: map[string]string{"vpc": "VpcId"}},
		{name: "vswitch", version: vpcV, action: "CreateVSwitch", body: map[string]any{"CidrBlock": "10.0.1.0/24", "VpcId": "{vpc}", "ZoneId": zone},
			save: map[string]string{"vsw": "VSwitchId"}},
		{name: "group", version: ecsV, action: "CreateSecurityGroup", body: map[string]any{"VpcId": "{vpc}"}, save: map[string]string{"sg": "SecurityGroupId"}},

		// alicloud_ecs_key_pair without public_key: CreateKeyPair, its
		// tags in the create; the private key goes to key_file.
		{name: "made create", version: ecsV, action: "CreateKeyPair", body: map[string]any{"KeyPairName": "tf-made", "Tag.1.Key": "env", "Tag.1.Value": "test"},
			want:  map[string]string{"KeyPairName": "tf-made"},
			kinds: map[string]string{"PrivateKeyBody": str, "KeyPairFingerPrint": str},
			save:  map[string]string{"fp": "KeyPairFingerPrint"}},
		{name: "made read", version: ecsV, action: "DescribeKeyPairs", body: map[string]any{"KeyPairName": "tf-made"},
			want: map[string]string{kp + "KeyPairName": "tf-made", kp + "KeyPairFingerPrint": "{fp}", kp + "Tags.Tag.0.TagKey": "env",
				kp + "Tags.Tag.0.TagValue": "test"},
			kinds: map[string]string{"KeyPairs.KeyPair": list, kp + "Tags.Tag": list, kp + "CreationTime": str, kp + "ResourceGroupId": str}},
		// With public_key (and alicloud_key_pair): ImportKeyPair of the
		// file as read, comment and newline included.
		{name: "imported create", version: ecsV, action: "ImportKeyPair", body: map[string]any{"KeyPairName": "tf-imported", "PublicKeyBody": tfPublicKey},
			want: map[string]string{"KeyPairName": "tf-imported", "KeyPairFingerPrint": tfFingerprint}},
		{name: "imported read", version: ecsV, action: "DescribeKeyPairs", body: map[string]any{"KeyPairName": "tf-imported"},
			want: map[string]string{"TotalCount": "1", kp + "KeyPairFingerPrint": tfFingerprint}, kinds: map[string]string{kp + "Tags.Tag": list}},
		{name: "imported again", version: ecsV, action: "ImportKeyPair", body: map[string]any{"KeyPairName": "tf-imported", "PublicKeyBody": tfPublicKey},
			err: "KeyPair.AlreadyExist", status: 400},
		// Another account's read of the name finds nothing (the provider
		// takes an empty list as gone).
		{name: "other's read", version: ecsV, action: "DescribeKeyPairs", body: map[string]any{"KeyPairName": "tf-made"}, as: other,
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"KeyPairs.KeyPair": list}},

		// tags = {env = "prod", team = "net"}: the key changed is untagged,
		// then the new set tagged.
		{name: "made untag", version: ecsV, action: "UntagResources", body: map[string]any{"ResourceType": "keypair", "ResourceId.1": "tf-made", "TagKey.1": "env"}},
		{name: "made tag", version: ecsV, action: "TagResources", body: map[string]any{"ResourceType": "keypair", "ResourceId.1": "tf-made",
			"Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team", "Tag.2.Value": "net"}},
		{name: "made read tags", version: ecsV, action: "DescribeKeyPairs", body: map[string]any{"KeyPairName": "tf-made"},
			want: map[string]string{kp + "Tags.Tag.0.TagKey": "env", kp + "Tags.Tag.0.TagValue": "prod", kp + "Tags.Tag.1.TagKey": "team"}},

		// alicloud_instance with key_name, credit_specification and
		// auto_release_time.
		{name: "instance create", version: ecsV, action: "RunInstances", body: map[string]any{"ClientToken": "TF-RunInstances-kp", "AutoReleaseTime": release.Format("2006-01-02T15:04:05Z"),
			"CreditSpecification": "Standard", "DeletionProtection": false, "DryRun": false, "ImageId": imageID, "InstanceChargeType": "PostPaid",
			"InstanceName": "tf-inst", "InstanceType": instanceType, "InternetChargeType": "PayByTraffic", "InternetMaxBandwidthOut": 0,
			"IoOptimized": "optimized", "KeyPairName": "tf-made", "SecurityGroupIds.1": "{sg}", "SystemDisk.Size": 40, "VSwitchId": "{vsw}"},
			save: map[string]string{"inst": "InstanceIdSets.InstanceIdSet.0"}},
		{name: "instance read", version: ecsV, action: "DescribeInstances", body: map[string]any{"InstanceIds": `["{inst}"]`},
			want: map[string]string{inst + "KeyPairName": "tf-made", inst + "CreditSpecification": "Standard",
				inst + "AutoReleaseTime": release.Format("2006-01-02T15:04Z"), inst + "InternetMaxBandwidthIn": "-1", inst + "DeploymentSetId": ""}},
		// data "alicloud_ecs_key_pairs": the key pairs, then the instances
		// (the same request, PageSize 50), of which it reads each one's
		// key pair and addresses.
		{name: "data source key pairs", version: ecsV, action: "DescribeKeyPairs", body: map[string]any{"PageSize": 50, "PageNumber": 1},
			want: map[string]string{"TotalCount": "2", kp + "KeyPairName": "tf-imported"}, kinds: map[string]string{"KeyPairs.KeyPair": list}},
		{name: "data source instances", version: ecsV, action: "DescribeInstances", body: map[string]any{"PageSize": 50, "PageNumber": 1},
			want: map[string]string{inst + "KeyPairName": "tf-made"},
			kinds: map[string]string{inst + "EipAddress": object, inst + "PublicIpAddress.IpAddress": list, inst + "InnerIpAddress.IpAddress": list,
				inst + "VpcAttributes.PrivateIpAddress.IpAddress": list}},

		// destroy: the key pair waits for the instance (the provider
		// retries on this code), then goes; a second delete finds nothing
		// and succeeds, as the provider's retry may send it.
		{name: "made delete in use", version: ecsV, action: "DeleteKeyPairs", body: map[string]any{"KeyPairNames": `["tf-made"]`},
			err: "InvalidParameter.KeypairAlreadyAttachedInstance", status: 400},
		{name: "instance delete", version: ecsV, action: "DeleteInstance", body: map[string]any{"InstanceId": "{inst}", "Force": true}},
		{name: "made delete", version: ecsV, action: "DeleteKeyPairs", body: map[string]any{"KeyPairNames": `["tf-made"]`}},
		{name: "made delete again", version: ecsV, action: "DeleteKeyPairs", body: map[string]any{"KeyPairNames": `["tf-made"]`}},
		{name: "imported delete", version: ecsV, action: "DeleteKeyPairs", body: map[string]any{"KeyPairNames": `["tf-imported"]`}},
		{name: "nothing left", version: ecsV, action: "DescribeKeyPairs", body: map[string]any{},
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"KeyPairs.KeyPair": list}},
	})
}

// TestTerraformKeyPairAttachment replays alicloud_ecs_key_pair_attachment
// (and alicloud_key_pair_attachment, the same resource) as provider
// 1.240.0 sent it against a Palisade server (its event trail and source):
// the create, AttachKeyPair with the instances as a JSON array; the read,
// DescribeKeyPairs by name; the destroy, DetachKeyPair, then
// DescribeInstances by InstanceIds and KeyPairName until none answers, as
// it retries while one does. The counters are strings, as its SDK reads
// them.
func TestTerraformKeyPairAttachment(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{})
	tf := tfClient{testenv.V3Client(t, srv.Addr, srv.KeyID, srv.Secret, "v2")}
	o := srv.NewAccount(t, "other")
	other := &tfClient{testenv.V3Client(t, srv.Addr, o.KeyID, o.Secret, "v2")}
	ecsV, vpcV := ecsVersion, vpcVersion
	list, str := "list", "string"
	res := "Results.Result.0."
	inst := "Instances.Instance.0."
	run := func(n string) tfStep {
		return tfStep{name: "instance " + n, version: ecsV, action: "RunInstances", body: map[string]any{"ClientToken": "TF-RunInstances-att" + n,
			"ImageId": imageID, "InstanceType": instanceType, "InstanceName": "tf-inst-" + n, "SecurityGroupIds.1": "{sg}", "VSwitchId": "{vsw}"},
			save: map[string]string{"i" + n: "InstanceIdSets.InstanceIdSet.0"}}
	}
	ids := `["{i0}","{i1}"]`
	runTF(t, tf, []tfStep{
		{name: "vpc", version: vpcV, action: "CreateVpc", body: map[string]any{"CidrBlock": "10.0.0.0/16"}, save: map[string]string{"vpc": "VpcId"}},
		{name: "vswitch", version: vpcV, action: "CreateVSwitch", body: map[string]any{"CidrBlock": "10.0.1.0/24", "VpcId": "{vpc}", "ZoneId": zone},
			save: map[string]string{"vsw": "VSwitchId"}},
		{name: "group", version: ecsV, action: "CreateSecurityGroup", body: map[string]any{"VpcId": "{vpc}"}, save: map[string]string{"sg": "SecurityGroupId"}},
		{name: "key pair", version: ecsV, action: "ImportKeyPair", body: map[string]any{"KeyPairName": "tf-att", "PublicKeyBody": tfPublicKey}},
		run("0"), run("1"),

		{name: "attachment create", version: ecsV, action: "AttachKeyPair", body: map[string]any{"KeyPairName": "tf-att", "InstanceIds": ids},
			want:  map[string]string{"KeyPairName": "tf-att", "TotalCount": "2", "FailCount": "0", res + "InstanceId": "{i0}", res + "Success": "true", res + "Code": "200"},
			kinds: map[string]string{"TotalCount": str, "FailCount": str, "Results.Result": list, res + "Success": str}},
		{name: "attachment read", version: ecsV, action: "DescribeKeyPairs", body: map[string]any{"KeyPairName": "tf-att"},
			want: map[string]string{"TotalCount": "1", "KeyPairs.KeyPair.0.KeyPairName": "tf-att"}},
		{name: "instances read", version: ecsV, action: "DescribeInstances", body: map[string]any{"InstanceIds": ids, "KeyPairName": "tf-att"},
			want: map[string]string{"TotalCount": "2", inst + "KeyPairName": "tf-att"}},
		// Another account naming the instances changes nothing of them.
		{name: "other's attach", version: ecsV, action: "AttachKeyPair", body: map[string]any{"KeyPairName": "tf-att", "InstanceIds": ids}, as: other,
			err: "InvalidKeyPairName.NotFound", status: 404},
		{name: "key pair delete while attached", version: ecsV, action: "DeleteKeyPairs", body: map[string]any{"KeyPairNames": `["tf-att"]`},
			err: "InvalidParameter.KeypairAlreadyAttachedInstance", status: 400},

		{name: "attachment delete", version: ecsV, action: "DetachKeyPair", body: map[string]any{"KeyPairName": "tf-att", "InstanceIds": ids},
			want:  map[string]string{"KeyPairName": "tf-att", "TotalCount": "2", "FailCount": "0", res + "Success": "true"},
			kinds: map[string]string{"TotalCount": str, "Results.Result": list}},
		{name: "attachment delete check", version: ecsV, action: "DescribeInstances", body: map[string]any{"PageSize": 50, "PageNumber": 1, "InstanceIds": ids, "KeyPairName": "tf-att"},
			want: map[string]string{"TotalCount": "0"}, kinds: map[string]string{"Instances.Instance": list}},
		{name: "key pair delete", version: ecsV, action: "DeleteKeyPairs", body: map[string]any{"KeyPairNames": `["tf-att"]`}},
	})
}
