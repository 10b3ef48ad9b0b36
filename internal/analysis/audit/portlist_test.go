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
