package apply

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestBuildENIChanges plans the ENI calls against an account that differs
// from 12-eni-groups-differ: the ENI's groups changed by hand, and a
// managed ENI the file does not name.
func TestBuildENIChanges(t *testing.T) {
	sc, err := scenario.Load("../../../testdata/scenarios/12-eni-groups-differ.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := accountOf(sc)
	st.Account.ENIs[0].SecurityGroups = []string{"acct-sg-app"}
	st.Account.ENIs = append(st.Account.ENIs, &model.NetworkInterface{ID: "acct-eni-old", VpcID: "acct-vpc-l", InstanceID: "acct-i-db",
		SecurityGroups: []string{"acct-sg-db"}, Tags: []model.Tag{{Key: Marker, Value: "eni-old"}}})
	var actions []string
	p, err := Build(sc, st, Options{Region: "cn-hangzhou", Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		actions = append(actions, s.Action+" "+s.Resource)
		if s.Action == "ModifyNetworkInterfaceAttribute" && s.Params["SecurityGroupId.1"] != "acct-sg-monitor" {
			t.Errorf("modify sets %v, want acct-sg-monitor", s.Params)
		}
	}
	want := []string{"ModifyNetworkInterfaceAttribute eni-app-mon", "DetachNetworkInterface eni-old", "DeleteNetworkInterface eni-old"}
	if !slices.Equal(actions, want) {
		t.Errorf("steps %v, want %v", actions, want)
	}
	if len(p.Changes) == 0 {
		t.Error("moving the ENI between groups changes no flow")
	}
}

// TestBuildENIVSwitchesFirst: the vSwitches new ENIs need are all created
// before the first ENI step, as the plan's order is; each ENI in a /24 of
// its own once made its vSwitch on first use, after the previous ENI's
// CreateNetworkInterface and AttachNetworkInterface.
func TestBuildENIVSwitchesFirst(t *testing.T) {
	const head = `
vpcs:
  - {vpcId: vpc-w, cidrBlock: 10.9.0.0/16}
securityGroups:
  - {securityGroupId: sg-w, vpcId: vpc-w}
instances:
  - instanceId: i-w1
    vpcId: vpc-w
    privateIpAddress: 10.9.1.10
    securityGroupIds: [sg-w]
    networkInterfaces:
`
	for _, tc := range []struct {
		name      string
		enis      string
		vSwitches int
	}{
		{"two ENIs, a /24 each", `
      - {networkInterfaceId: eni-a, primaryIpAddress: 10.9.2.10, securityGroupIds: [sg-w]}
      - {networkInterfaceId: eni-b, primaryIpAddress: 10.9.3.10, securityGroupIds: [sg-w]}
`, 3},
		{"three ENIs, two sharing a /24", `
      - {networkInterfaceId: eni-a, primaryIpAddress: 10.9.2.10, securityGroupIds: [sg-w]}
      - {networkInterfaceId: eni-b, primaryIpAddress: 10.9.3.10, securityGroupIds: [sg-w]}
      - {networkInterfaceId: eni-c, primaryIpAddress: 10.9.2.20, securityGroupIds: [sg-w]}
`, 3},
		{"an ENI in the primary's /24", `
      - {networkInterfaceId: eni-a, primaryIpAddress: 10.9.1.20, securityGroupIds: [sg-w]}
`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenario.Parse(tc.name+".yaml", []byte(head+tc.enis[1:]))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Build(sc, emptyState(), Options{Region: "cn-hangzhou"})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			eniStep, vSwitches := false, 0
			for _, s := range p.Steps {
				actions = append(actions, s.Action+" "+s.Resource)
				switch s.Action {
				case "CreateNetworkInterface", "AttachNetworkInterface":
					eniStep = true
				case "CreateVSwitch":
					vSwitches++
					if eniStep {
						t.Errorf("CreateVSwitch after an ENI step: %v", actions)
					}
				}
			}
			if vSwitches != tc.vSwitches {
				t.Errorf("%d CreateVSwitch, want %d: %v", vSwitches, tc.vSwitches, actions)
			}
		})
	}
}

// TestBuildInstanceTypeTakesENIs: FORMAT.md allows an instance 14 secondary
// ENIs, and the default type (ecs.g7.large) takes one. A new instance is
// launched as a type that takes the file's ENIs (apply of a file with two
// stopped at the second AttachNetworkInterface, EniPerInstanceLimitExceeded,
// with the steps before it applied); an existing one too small is refused
// before any step.
func TestBuildInstanceTypeTakesENIs(t *testing.T) {
	const head = `
vpcs:
  - {vpcId: vpc-w, cidrBlock: 10.9.0.0/16}
securityGroups:
  - {securityGroupId: sg-w, vpcId: vpc-w}
instances:
  - instanceId: i-w1
    vpcId: vpc-w
    privateIpAddress: 10.9.1.10
    securityGroupIds: [sg-w]
    networkInterfaces:
`
	file := func(enis int) []byte {
		s := head
		for i := range enis {
			s += fmt.Sprintf("      - {networkInterfaceId: eni-%d, primaryIpAddress: 10.9.%d.10, securityGroupIds: [sg-w]}\n", i, i+2)
		}
		return []byte(s)
	}
	for _, tc := range []struct {
		enis     int
		existing string // the instance's type in the account; "" = a new instance
		want     string // the type RunInstances launches; "" = refused
	}{
		{1, "", DefaultInstanceType},
		{2, "", "ecs.g6.xlarge"},
		{3, "", "ecs.g6.2xlarge"},
		{7, "", "ecs.g6.4xlarge"},
		{14, "", "ecs.g6.26xlarge"},
		{2, "ecs.g6.xlarge", ""},
		{3, "ecs.g6.xlarge", "refused"},
		{2, "ecs.g7.large", "refused"},
	} {
		t.Run(fmt.Sprintf("%d ENIs on %q", tc.enis, tc.existing), func(t *testing.T) {
			sc, err := scenario.Parse("enis.yaml", file(tc.enis))
			if err != nil {
				t.Fatal(err)
			}
			st := emptyState()
			if tc.existing != "" {
				st = accountOf(sc)
				st.Account.ENIs = nil // none attached yet
				st.Account.Instances[0].InstanceType = tc.existing
			}
			p, err := Build(sc, st, Options{Region: "cn-hangzhou"})
			if tc.want == "refused" {
				var fe *FileError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), "DeleteInstance") {
					t.Fatalf("Build: %v, want a FileError saying to delete the instance", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, attaches := "", 0
			for _, s := range p.Steps {
				switch s.Action {
				case "RunInstances":
					got = s.Params["InstanceType"]
				case "AttachNetworkInterface":
					attaches++
				}
			}
			if got != tc.want || attaches != tc.enis {
				t.Errorf("RunInstances as %q and %d attaches, want %q and %d", got, attaches, tc.want, tc.enis)
			}
			if got != "" && model.ENIQuota(got) < tc.enis+1 {
				t.Errorf("%s takes %d ENIs, fewer than %d", got, model.ENIQuota(got), tc.enis+1)
			}
		})
	}
}

// TestFlowsKeepWhatTheFileCannotName: an account matching
// 12-eni-groups-differ whose NICs hold what a file cannot name (the ENI's
// EIP, a further IPv6 address, a secondary IPv4 address): apply leaves
// them, so its plan shows no flow of theirs closing.
func TestFlowsKeepWhatTheFileCannotName(t *testing.T) {
	sc, err := scenario.Load("../../../testdata/scenarios/12-eni-groups-differ.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := accountOf(sc)
	eni := st.Account.ENIs[0]
	eni.PublicIP, eni.EipID = netip.MustParseAddr("47.96.0.200"), "eip-kept"
	eni.SecondaryIPs = []netip.Addr{eni.PrivateIP.Next()}
	p, err := Build(sc, st, Options{Region: "cn-hangzhou"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 0 {
		t.Fatalf("steps %v, want none", p.Steps)
	}
	if len(p.Changes) != 0 {
		t.Errorf("the plan changes %d flows, want none (apply leaves the ENI's EIP and further addresses): %v", len(p.Changes), p.Changes)
	}
}
