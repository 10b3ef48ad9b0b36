package scenario_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestENIScenariosNeedOwnGroups checks that the ENI scenarios tell an
// engine that judges a secondary ENI with its own groups from one that
// uses its instance's: with the instance's groups some flows must fail.
func TestENIScenariosNeedOwnGroups(t *testing.T) {
	for _, f := range []string{"11-secondary-eni.yaml", "12-eni-groups-differ.yaml"} {
		s, err := scenario.Load("../../../testdata/scenarios/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.ENIs) == 0 {
			t.Fatalf("%s: no secondary ENIs", f)
		}
		inst := map[string]*model.Instance{}
		for _, in := range s.Instances {
			inst[in.ID] = in
		}
		var wrong []*model.NetworkInterface
		for _, n := range s.ENIs {
			w := *n
			w.SecurityGroups = inst[n.InstanceID].SecurityGroups
			wrong = append(wrong, &w)
		}
		cloud := policy.NewCloud(s.Groups, model.NICs(s.Instances, wrong), s.PrefixLists)
		outs, err := s.Check(policy.Compile(cloud))
		if err != nil {
			t.Fatal(err)
		}
		failed := 0
		for _, o := range outs {
			if !o.Pass {
				failed++
			}
		}
		if failed < 2 {
			t.Errorf("%s: %d flows fail when the ENIs take their instance's groups; want at least 2", f, failed)
		}
	}
}

func TestENIErrors(t *testing.T) {
	base := "vpcs:\n  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}\n  - {vpcId: vpc-b, cidrBlock: 10.1.0.0/16}\nsecurityGroups:\n  - {securityGroupId: sg-a, vpcId: vpc-a}\n  - {securityGroupId: sg-b, vpcId: vpc-b}\ninstances:\n  - instanceId: i-a\n    vpcId: vpc-a\n    privateIpAddress: 10.0.0.1\n    securityGroupIds: [sg-a]\n    networkInterfaces:\n"
	for _, tt := range []struct{ eni, want string }{
		{"      - {networkInterfaceId: eni-x, primaryIpAddress: 10.0.0.2, securityGroupIds: [sg-b]}", "VpcMismatch"},
		{"      - {networkInterfaceId: eni-x, primaryIpAddress: 10.0.0.1, securityGroupIds: [sg-a]}", "already the address of i-a"},
		{"      - {networkInterfaceId: eni-x, primaryIpAddress: 10.1.0.1, securityGroupIds: [sg-a]}", "outside vpc-a"},
		{"      - {networkInterfaceId: eni-x, primaryIpAddress: 10.0.0.2, securityGroupIds: []}", "AtLeastInOneGroup"},
		{"      - {networkInterfaceId: x, primaryIpAddress: 10.0.0.2, securityGroupIds: [sg-a]}", "eni-"},
		{"      - {networkInterfaceId: eni-x, primaryIpAddress: 10.0.255.255, ipv6Address: 'fe80::2', securityGroupIds: [sg-a]}", "fe80::2 is not an address a network interface can hold"},
		{"      - {networkInterfaceId: eni-x, primaryIpAddress: 10.0.0.2, securityGroupIds: [sg-a]}\nflows:\n  - {from: i-a, to: eni-x, ipProtocol: TCP, port: 22, expect: Drop}", "one instance"},
	} {
		_, err := scenario.Parse("t.yaml", []byte(base+tt.eni+"\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.eni, err, tt.want)
		}
	}
}

// TestNICOwners: a NIC is its groups' account's (the file gives instances
// no owner, and ECS lets a NIC join only its own account's groups). An
// instance in another account's group was the default account's, so lab
// play's flow log, the NIC owner's, refused its records and failed a file
// whose every flow passed. Groups of several accounts on one NIC, which
// the format allows, are judged: the NIC is the default account's.
func TestNICOwners(t *testing.T) {
	const text = `vpcs:
  - {vpcId: vpc-x, cidrBlock: 10.0.0.0/16}
securityGroups:
  - {securityGroupId: sg-own, vpcId: vpc-x}
  - {securityGroupId: sg-theirs, vpcId: vpc-x, ownerId: "1000000000000002"}
  - {securityGroupId: sg-theirs2, vpcId: vpc-x, ownerId: "1000000000000002"}
instances:
  - instanceId: i-t
    vpcId: vpc-x
    privateIpAddress: 10.0.0.5
    securityGroupIds: [sg-theirs, sg-theirs2]
    networkInterfaces:
      - {networkInterfaceId: eni-t1, primaryIpAddress: 10.0.0.6, securityGroupIds: [sg-theirs2]}
      - {networkInterfaceId: eni-t2, primaryIpAddress: 10.0.0.8, securityGroupIds: [sg-own]}
  - {instanceId: i-own, vpcId: vpc-x, privateIpAddress: 10.0.0.7, securityGroupIds: [sg-own]}
  - {instanceId: i-mixed, vpcId: vpc-x, privateIpAddress: 10.0.0.9, securityGroupIds: [sg-theirs, sg-own]}
`
	s, err := scenario.Parse("owners.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, n := range s.NICs() {
		owners[n.ID] = n.Owner
	}
	const theirs = "1000000000000002"
	want := map[string]string{"i-t": theirs, "eni-t1": theirs, "eni-t2": theirs, "i-own": scenario.DefaultOwner, "i-mixed": scenario.DefaultOwner}
	if !maps.Equal(owners, want) {
		t.Errorf("owners %v, want %v", owners, want)
	}
}
