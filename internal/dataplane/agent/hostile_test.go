package agent

import (
	"testing"
	"testing/synctest"
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
