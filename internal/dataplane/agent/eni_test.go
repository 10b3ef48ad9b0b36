package agent

import (
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// TestAgentENIs checks that the agent enforces a secondary ENI on its own
// interface with its own groups, from the snapshot and from a watch, and
// drops it when it is deleted.
func TestAgentENIs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := start(t, 0)
		groups, ins := records(80)
		mgmt := &model.SecurityGroup{ID: "sg-mgmt", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop}
		groups = append(groups, mgmt)
		eni := &model.NetworkInterface{ID: "eni-m", Type: model.ENISecondary, Status: model.ENIInUse, InstanceID: "i-1", DeviceIndex: 1,
			VpcID: "vpc-a", PrivateIP: netip.MustParseAddr("10.0.1.1"), SecurityGroups: []string{"sg-mgmt"}, Host: host, Interface: "pi-m"}
		snap := snapshotOf(5, groups, ins)
		snap.ENIs = []*model.NetworkInterface{eni}
		e.expect(t, "snapshot").answer(reply{snap: snap})
		e.waitApplied(t, 5)
		wantENI := nft.Build(policy.NewCloud(groups, model.NICs(ins, snap.ENIs), nil), host, opts).String()
		e.holds(t, wantENI)
		chains := map[string]string{}
		for _, m := range e.kernel.Applied().Maps {
			for _, el := range m.Elems {
				chains[m.Name+":"+el.Interface] = el.Chain
			}
		}
		if c := chains["ingress:pi-m"]; c == "" || c == chains["ingress:pi-1"] {
			t.Errorf("the ENI's interface has chain %q, its instance's %q: want a chain of its own", c, chains["ingress:pi-1"])
		}
		// The ENI is deleted: its interface leaves the table.
		w := e.expect(t, "watch")
		w.answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 6}, Deleted: []Deleted{{Kind: "networkinterface", ID: "eni-m"}}}})
		e.waitApplied(t, 6)
		e.holds(t, want(groups, ins))
		var ifaces []string
		for _, m := range e.kernel.Applied().Maps {
			for _, el := range m.Elems {
				ifaces = append(ifaces, el.Interface)
			}
		}
		if slices.Contains(ifaces, "pi-m") {
			t.Errorf("the deleted ENI's interface is still programmed: %v", ifaces)
		}
		// A watch brings it back.
		w = e.expect(t, "watch")
		w.answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 7, ENIs: []*model.NetworkInterface{eni}}}})
		e.waitApplied(t, 7)
		e.holds(t, wantENI)
	})
}
