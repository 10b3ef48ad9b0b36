package service

import (
	"math"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestFlowHits: hits are counted per deciding entry (a rule by its ID,
// intra-group access by its group and direction, a default by its reason
// and direction), per account, and filtered by interface and time.
func TestFlowHits(t *testing.T) {
	now := time.Now()
	st := flowstore.Memory()
	s := &Service{flows: st, Now: func() time.Time { return now }}
	t1, t2 := now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	recs := []FlowRecord{
		{AccountId: "a", EniId: "eni-1", Direction: "in", Packets: 2, Bytes: 100, End: t1, Reason: "rule", SecurityGroupId: "sg-1", SecurityGroupRuleId: "sgr-1"},
		{AccountId: "a", EniId: "eni-2", Direction: "in", Packets: 3, Bytes: 200, End: t2, Reason: "rule", SecurityGroupId: "sg-1", SecurityGroupRuleId: "sgr-1"},
		{AccountId: "a", EniId: "eni-1", Direction: "out", Packets: 1, Bytes: 60, End: t2, Reason: "intra-group access", SecurityGroupId: "sg-1"},
		{AccountId: "a", EniId: "eni-1", Direction: "in", Packets: 1, Bytes: 60, End: t1, Reason: "default inbound drop"},
		{AccountId: "b", EniId: "eni-9", Direction: "in", Packets: 7, Bytes: 700, End: t2, Reason: "rule", SecurityGroupId: "sg-1", SecurityGroupRuleId: "sgr-1"},
		// A host's counts are its own to give: two of 2^63 wrapped the
		// sum to 0, a rule in use read as never hit; the sum saturates,
		// as MergeHits' does.
		{AccountId: "d", EniId: "eni-4", Direction: "in", Packets: 1 << 63, Bytes: 1 << 63, End: t2, Reason: "rule", SecurityGroupId: "sg-1", SecurityGroupRuleId: "sgr-1"},
		{AccountId: "d", EniId: "eni-4", Direction: "in", Packets: 1 << 63, Bytes: 1 << 63, End: t2, Reason: "rule", SecurityGroupId: "sg-1", SecurityGroupRuleId: "sgr-1"},
	}
	if err := st.Append(recs, now); err != nil {
		t.Fatal(err)
	}
	rule := HitKey(model.Ingress, "rule", "sg-1", "sgr-1")
	intra := HitKey(model.Egress, "intra-group access", "sg-1", "")
	def := HitKey(model.Ingress, "default inbound drop", "sg-x", "") // a default has no group
	for _, tc := range []struct {
		name string
		f    HitsFilter
		want map[string]RuleHit
	}{
		{"all", HitsFilter{}, map[string]RuleHit{rule: {2, 5, 300, t2}, intra: {1, 1, 60, t2}, def: {1, 1, 60, t1}}},
		{"one interface", HitsFilter{ENI: "eni-1"}, map[string]RuleHit{rule: {1, 2, 100, t1}, intra: {1, 1, 60, t2}, def: {1, 1, 60, t1}}},
		{"since", HitsFilter{Since: time.Unix(t2, 0)}, map[string]RuleHit{rule: {1, 3, 200, t2}, intra: {1, 1, 60, t2}}},
	} {
		got := s.FlowHits("a", tc.f)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		for k, w := range tc.want {
			if got[k] != w {
				t.Errorf("%s: %s = %+v, want %+v", tc.name, k, got[k], w)
			}
		}
	}
	if got := s.FlowHits("d", HitsFilter{})[rule]; got != (RuleHit{2, math.MaxUint64, math.MaxUint64, t2}) {
		t.Errorf("counts past 2^64: %+v, want them saturated", got)
	}
	if got := s.FlowHits("c", HitsFilter{}); len(got) != 0 {
		t.Errorf("an account with no records: %v", got)
	}
}
