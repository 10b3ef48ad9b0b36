package apply

import (
	"slices"
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
