package agent

import (
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// TestAgentSkipsNullRecords: a null in a list of records (a JSON null, which
// only a faulty or hostile server sends) is no record: the agent neither
// crashes on it, in a snapshot or in changes, nor lets it change the policy
// it applies.
func TestAgentSkipsNullRecords(t *testing.T) {
	nulls := []struct {
		name string
		add  func(*Snapshot)
	}{
		{"group", func(s *Snapshot) { s.Groups = append(s.Groups, nil) }},
		{"instance", func(s *Snapshot) { s.Instances = append(s.Instances, nil) }},
		{"prefix list", func(s *Snapshot) { s.PrefixLists = append(s.PrefixLists, nil) }},
		{"port range list", func(s *Snapshot) { s.PortRangeLists = append(s.PortRangeLists, nil) }},
		{"ENI", func(s *Snapshot) { s.ENIs = append(s.ENIs, nil) }},
		{"flow log", func(s *Snapshot) { s.FlowLogs = append(s.FlowLogs, nil) }},
	}
	for _, tc := range nulls {
		t.Run(tc.name+" in a snapshot", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := start(t, 0)
				snap := snapAt(5, 80)
				tc.add(snap)
				e.expect(t, "snapshot").answer(reply{snap: snap})
				e.waitApplied(t, 5)
				e.holds(t, want(records(80)))
				checkWatch(t, e.expect(t, "watch"), watchFor(5, 5, watchWait))
			})
		})
		t.Run(tc.name+" in changes", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := start(t, 0)
				e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
				e.waitApplied(t, 5)
				groups, _ := records(443)
				ch := &Changes{Snapshot: Snapshot{Revision: 6, Groups: groups}}
				tc.add(&ch.Snapshot)
				e.expect(t, "watch").answer(reply{changes: ch})
				e.waitApplied(t, 6)
				e.holds(t, want(records(443)))
				// Nulls alone are no change.
				only := &Changes{Snapshot: Snapshot{Revision: 7}}
				tc.add(&only.Snapshot)
				e.expect(t, "watch").answer(reply{changes: only})
				e.waitApplied(t, 7)
				e.holds(t, want(records(443)))
				checkWatch(t, e.expect(t, "watch"), watchFor(7, 7, watchWait))
			})
		})
	}
}

// TestAgentLeavesOutMalformedRules: a rule no valid request makes (an
// unknown protocol, ports outside 1-65535 or a range starting after its
// end), which only a faulty or hostile server sends, is left out of the
// policy, as is such an entry of a port range list: nftables read an
// unknown protocol as every protocol and clamped ports above 65535 to
// 65535, where the evaluators (the session cutter's) match no packet.
func TestAgentLeavesOutMalformedRules(t *testing.T) {
	tcp := func(id string, ports, sports model.PortRange) model.Rule {
		return model.Rule{ID: id, Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
			PortRange: ports, SourcePortRange: sports, Peer: model.Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")}, NicType: model.Intranet}
	}
	unknown := tcp("sgr-bad", model.AnyPort, model.PortRange{})
	unknown.Protocol = "FOO"
	listed := tcp("sgr-list", model.PortRange{}, model.PortRange{})
	listed.PortRangeListID = "prl-x"
	list := func(rs ...model.PortRange) *model.PortRangeList {
		l := &model.PortRangeList{ID: "prl-x", MaxEntries: 10}
		for _, r := range rs {
			l.Entries = append(l.Entries, model.PortEntry{Range: r})
		}
		return l
	}
	cases := []struct {
		name     string
		sent     []model.Rule // added to sg-web
		sentList *model.PortRangeList
		kept     []model.Rule // what the policy holds of them
		keptList *model.PortRangeList
	}{
		{"unknown protocol", []model.Rule{unknown}, nil, nil, nil},
		{"ports above 65535", []model.Rule{tcp("sgr-bad", model.PortRange{Start: 70000, End: 80000}, model.PortRange{})}, nil, nil, nil},
		{"ports reaching above 65535", []model.Rule{tcp("sgr-bad", model.PortRange{Start: 60000, End: 70000}, model.PortRange{})}, nil, nil, nil},
		{"port 0", []model.Rule{tcp("sgr-bad", model.PortRange{Start: -5, End: 0}, model.PortRange{})}, nil, nil, nil},
		{"start after end", []model.Rule{tcp("sgr-bad", model.PortRange{Start: 100, End: 50}, model.PortRange{})}, nil, nil, nil},
		{"source ports above 65535", []model.Rule{tcp("sgr-bad", model.AnyPort, model.PortRange{Start: 70000, End: 70000})}, nil, nil, nil},
		{"port range list entries", []model.Rule{listed}, list(model.AnyPort, model.PortRange{Start: 443, End: 443}, model.PortRange{Start: 65000, End: 70000}),
			[]model.Rule{listed}, list(model.PortRange{Start: 443, End: 443})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := start(t, 0)
				groups, ins := records(80)
				groups[0].Rules = append(groups[0].Rules, tc.sent...)
				snap := snapshotOf(5, groups, ins)
				if tc.sentList != nil {
					snap.PortRangeLists = []*model.PortRangeList{tc.sentList}
				}
				e.expect(t, "snapshot").answer(reply{snap: snap})
				e.waitApplied(t, 5)
				groups, ins = records(80)
				groups[0].Rules = append(groups[0].Rules, tc.kept...)
				c := policy.NewCloud(groups, ins, nil)
				if tc.keptList != nil {
					c.WithPortRangeLists([]*model.PortRangeList{tc.keptList})
				}
				e.holds(t, nft.Build(c, host, opts).String())
			})
		})
	}
}
