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
