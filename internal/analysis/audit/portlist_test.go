package audit

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// TestPortListRules: a rule with a port range list admits only the list's
// ports (its zero PortRange is not "every port"), for SGA-017's TCP check,
// SGA-025's port clipping and the findings' wording.
func TestPortListRules(t *testing.T) {
	c := policy.NewCloud(nil, nil, nil).WithPortRangeLists([]*model.PortRangeList{{ID: "prl-a", MaxEntries: 3,
		Entries: []model.PortEntry{{Range: model.PortRange{Start: 80, End: 80}}, {Range: model.PortRange{Start: 3000, End: 3400}}}}})
	r := &model.Rule{Protocol: model.TCP, PortRangeListID: "prl-a"}
	if admitsTCP(c, r, 22) || !admitsTCP(c, r, 3389) || !admitsTCP(c, r, 80) {
		t.Errorf("admitsTCP on a list is wrong")
	}
	if allPorts(r) {
		t.Errorf("a list rule is taken for all ports")
	}
	if lo, hi, ok := clipPorts(c, r, 1, 1000); !ok || lo != 80 || hi != 80 {
		t.Errorf("clipPorts(1-1000) = %d-%d %v", lo, hi, ok)
	}
	if _, _, ok := clipPorts(c, r, 81, 2999); ok {
		t.Errorf("clipPorts in the gap admits ports")
	}
	if got := what(r); got != "TCP on the ports of list prl-a" {
		t.Errorf("what = %q", got)
	}
}

// TestWideListEntry: SGA-021 judges a list rule by the list's widest entry.
func TestWideListEntry(t *testing.T) {
	list := func(end int32) *policy.Cloud {
		g := &model.SecurityGroup{ID: "sg-a", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerAccept,
			Rules: []model.Rule{{ID: "sgr-1", Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
				PortRangeListID: "prl-a", Peer: model.Peer{CIDR: netip.MustParsePrefix("10.0.0.0/8")}}}}
		return policy.NewCloud([]*model.SecurityGroup{g}, nil, nil).WithPortRangeLists([]*model.PortRangeList{{ID: "prl-a", MaxEntries: 3,
			Entries: []model.PortEntry{{Range: model.PortRange{Start: 80, End: 80}}, {Range: model.PortRange{Start: 3000, End: end}}}}})
	}
	if got := runCheck(t, "SGA-021", list(3400), Options{}); len(got) != 1 || got[0].RuleID != "sgr-1" {
		t.Errorf("a list with a 401-port entry: %v, want one SGA-021 on sgr-1", got)
	}
	if got := runCheck(t, "SGA-021", list(3099), Options{}); len(got) != 0 {
		t.Errorf("a list of narrow entries: %v, want none", got)
	}
}

// TestAllPortsList: a port range list whose entries together cover every
// port is "all ports" for the internal-rule checks, as -1/-1 or 1/65535
// is (SGA-010 for a peer group, SGA-012 for the group itself); one that
// leaves ports out is not.
func TestAllPortsList(t *testing.T) {
	lists := []*model.PortRangeList{
		{ID: "prl-all", MaxEntries: 3, Entries: []model.PortEntry{{Range: model.PortRange{Start: 1, End: 30000}}, {Range: model.PortRange{Start: 20000, End: 65535}}}},
		{ID: "prl-most", MaxEntries: 3, Entries: []model.PortEntry{{Range: model.PortRange{Start: 1, End: 30000}}, {Range: model.PortRange{Start: 30002, End: 65535}}}},
	}
	cloud := func(list, peer string) *policy.Cloud {
		r := model.Rule{ID: "sgr-1", Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
			PortRangeListID: list, Peer: model.Peer{GroupID: peer}, Description: "test rule"}
		w := world{groups: []*model.SecurityGroup{grp("sg-a", vpcA, model.Normal, r), grp("sg-b", vpcA, model.Normal)},
			insts: []*model.Instance{vm("i-a", vpcA, "10.0.1.5", "sg-a"), vm("i-b", vpcA, "10.0.1.6", "sg-b")}}
		w.groups[0].InnerAccessPolicy = model.InnerDrop
		return w.cloud().WithPortRangeLists(lists)
	}
	for _, tc := range []struct {
		check, list, peer string
		want              int
	}{
		{"SGA-010", "prl-all", "sg-b", 1},
		{"SGA-010", "prl-most", "sg-b", 0},
		{"SGA-012", "prl-all", "sg-a", 1},
		{"SGA-012", "prl-most", "sg-a", 0},
	} {
		var got []Finding
		for _, f := range runCheck(t, tc.check, cloud(tc.list, tc.peer), Options{}) {
			if f.RuleID == "sgr-1" {
				got = append(got, f)
			}
		}
		if len(got) != tc.want {
			t.Errorf("%s, TCP on %s from %s: %d findings on the rule %v, want %d", tc.check, tc.list, tc.peer, len(got), got, tc.want)
		}
	}
}
