package apply

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/ecsimport"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

func scenarios(t *testing.T) []*scenario.Scenario {
	t.Helper()
	files, _ := filepath.Glob("../../../testdata/scenarios/*.yaml")
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	var out []*scenario.Scenario
	for _, f := range files {
		sc, err := scenario.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

func emptyState() *State { return &State{Account: &ecsimport.Account{}} }

// accountOf is the account as apply would leave it for sc: every resource
// under an ID of the API's ("acct-" + the file ID) with its marker and the
// file's tags.
func accountOf(sc *scenario.Scenario) *State {
	real := func(id string) string {
		if id == "" {
			return ""
		}
		return "acct-" + id
	}
	st := emptyState()
	for _, v := range sc.VPCs {
		six, err := (&builder{sc: sc}).vpcIPv6(v) // the /56 apply gives it
		if err != nil {
			panic(err)
		}
		st.VPCs = append(st.VPCs, VPC{ID: real(v.ID), FileID: v.ID, CIDR: v.CIDR, IPv6CIDR: six, Tags: v.Tags})
	}
	for _, pl := range sc.PrefixLists {
		c := *pl
		c.ID, c.Description = real(pl.ID), markerDesc(pl.ID)
		st.Account.PrefixLists = append(st.Account.PrefixLists, &c)
	}
	for _, l := range sc.PortRangeLists {
		c := *l
		c.ID, c.Description = real(l.ID), markerDesc(l.ID)
		st.Account.PortRangeLists = append(st.Account.PortRangeLists, &c)
	}
	for _, g := range sc.Groups {
		c := *g
		c.ID, c.VpcID, c.Tags = real(g.ID), real(g.VpcID), append([]model.Tag{{Key: Marker, Value: g.ID}}, g.Tags...)
		c.Rules = slices.Clone(g.Rules)
		for i := range c.Rules {
			c.Rules[i].ID = "sgr-" + real(g.ID)
			c.Rules[i].Peer.GroupID = real(c.Rules[i].Peer.GroupID)
			c.Rules[i].Peer.PrefixListID = real(c.Rules[i].Peer.PrefixListID)
			c.Rules[i].PortRangeListID = real(c.Rules[i].PortRangeListID)
		}
		st.Account.Groups = append(st.Account.Groups, &c)
	}
	for _, in := range sc.Instances {
		c := *in
		c.ID, c.VpcID, c.Tags = real(in.ID), real(in.VpcID), append([]model.Tag{{Key: Marker, Value: in.ID}}, in.Tags...)
		c.SecurityGroups = nil
		for _, g := range in.SecurityGroups {
			c.SecurityGroups = append(c.SecurityGroups, real(g))
		}
		st.Account.Instances = append(st.Account.Instances, &c)
	}
	for _, n := range sc.ENIs {
		c := *n
		c.ID, c.VpcID, c.InstanceID, c.Tags = real(n.ID), real(n.VpcID), real(n.InstanceID), []model.Tag{{Key: Marker, Value: n.ID}}
		c.SecurityGroups = nil
		for _, g := range n.SecurityGroups {
			c.SecurityGroups = append(c.SecurityGroups, real(g))
		}
		st.Account.ENIs = append(st.Account.ENIs, &c)
	}
	for _, w := range sc.ENIs { // the ENIs' vSwitches, which apply made
		st.VSwitches = append(st.VSwitches, VSwitch{ID: real("vsw-" + w.ID), VpcID: real(w.VpcID), FileVPC: w.VpcID,
			CIDR: netip.PrefixFrom(w.PrivateIP, 24).Masked(), IPv6CIDR: v6Block(w.IPv6)})
	}
	return st
}

// Every placeholder a step uses was created by an earlier step, and the
// steps come in dependency order.
func TestBuildOrderAndReferences(t *testing.T) {
	rank := map[string]int{"CreateVpc": 0, "CreatePrefixList": 1, "CreatePortRangeList": 1, "CreateSecurityGroup": 2, "ModifySecurityGroupPolicy": 2,
		"AuthorizeSecurityGroup": 3, "AuthorizeSecurityGroupEgress": 3, "CreateVSwitch": 4, "RunInstances": 4,
		"CreateNetworkInterface": 5, "AttachNetworkInterface": 5}
	for _, sc := range scenarios(t) {
		p, err := Build(sc, emptyState(), Options{Region: "cn-hangzhou"})
		if err != nil {
			t.Fatalf("%s: %v", sc.File, err)
		}
		made := map[string]bool{}
		last := 0
		for _, s := range p.Steps {
			for k, v := range s.Params {
				if isRef(v) && !made[v] {
					t.Errorf("%s: %s %s uses %s=%s before it is created", sc.File, s.Action, s.Resource, k, v)
				}
			}
			if s.creates != "" {
				made[s.creates] = true
			}
			r, ok := rank[s.Action]
			if !ok {
				t.Errorf("%s: unexpected %s on an empty account", sc.File, s.Action)
			}
			if r < last {
				t.Errorf("%s: %s comes after a later kind of step", sc.File, s.Action)
			}
			last = r
		}
		if len(p.Changes) == 0 {
			t.Errorf("%s: creating the whole cloud changes no flow", sc.File)
		}
	}
}

// An account that already is the file needs no call, and opens or closes
// no flow.
func TestBuildMatchingAccountIsEmpty(t *testing.T) {
	for _, sc := range scenarios(t) {
		p, err := Build(sc, accountOf(sc), Options{Region: "cn-hangzhou", Prune: true})
		if err != nil {
			t.Fatalf("%s: %v", sc.File, err)
		}
		var steps []string
		for _, s := range p.Steps {
			steps = append(steps, s.String())
		}
		if !p.Empty() || len(p.Changes) != 0 {
			t.Errorf("%s: plan against its own account:\n%s\nflows: %v", sc.File, strings.Join(steps, "\n"), p.Changes)
		}
	}
}

func TestIDIn(t *testing.T) {
	for _, tc := range []struct{ body, path, want string }{
		{`{"SecurityGroupId":"sg-1","RequestId":"x"}`, "SecurityGroupId", "sg-1"},
		{`{"InstanceIdSets":{"InstanceIdSet":["i-1"]}}`, "InstanceIdSets.InstanceIdSet", "i-1"},
		{`{"InstanceIdSets":{"InstanceIdSet":[]}}`, "InstanceIdSets.InstanceIdSet", ""},
		{`{}`, "VpcId", ""},
	} {
		got, err := idIn([]byte(tc.body), tc.path)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("idIn(%s, %s) = %q, %v; want %q", tc.body, tc.path, got, err, tc.want)
		}
	}
}

// v6Block is the /64 of an address, or no prefix.
func v6Block(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a, 64).Masked()
}

// TestBuildRefusesTwoMarked: two resources of one kind in the account that
// carry one file ID are refused, naming the kind, the file ID and both
// resources; one of each kind is not.
func TestBuildRefusesTwoMarked(t *testing.T) {
	sc := &scenario.Scenario{File: "f.yaml"}
	tag := []model.Tag{{Key: Marker, Value: "web"}}
	for _, tc := range []struct {
		kind string
		add  func(st *State, id string)
	}{
		{"VPCs", func(st *State, id string) { st.VPCs = append(st.VPCs, VPC{ID: id, FileID: "web"}) }},
		{"security groups", func(st *State, id string) {
			st.Account.Groups = append(st.Account.Groups, &model.SecurityGroup{ID: id, Tags: tag})
		}},
		{"instances", func(st *State, id string) {
			st.Account.Instances = append(st.Account.Instances, &model.Instance{ID: id, Tags: tag})
		}},
		{"prefix lists", func(st *State, id string) {
			st.Account.PrefixLists = append(st.Account.PrefixLists, &model.PrefixList{ID: id, Description: markerDesc("web")})
		}},
		{"port range lists", func(st *State, id string) {
			st.Account.PortRangeLists = append(st.Account.PortRangeLists, &model.PortRangeList{ID: id, Description: markerDesc("web")})
		}},
		{"network interfaces", func(st *State, id string) {
			st.Account.ENIs = append(st.Account.ENIs, &model.NetworkInterface{ID: id, Tags: tag})
		}},
	} {
		st := emptyState()
		tc.add(st, "one")
		if _, err := Build(sc, st, Options{Region: "cn-hangzhou"}); err != nil && strings.Contains(err.Error(), "two") {
			t.Errorf("%s: one marked: %v", tc.kind, err)
		}
		tc.add(st, "other")
		_, err := Build(sc, st, Options{Region: "cn-hangzhou"})
		if err == nil || !strings.Contains(err.Error(), "two "+tc.kind+" marked "+Marker+"=web (one and other)") {
			t.Errorf("%s: two marked: %v", tc.kind, err)
		}
	}
}
