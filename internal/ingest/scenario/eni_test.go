package scenario_test

import (
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
