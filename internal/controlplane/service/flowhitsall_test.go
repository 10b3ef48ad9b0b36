package service

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// TestMergeHits: the servers' parts add up per entry (flows, packets,
// bytes), the last hit is the latest of any part, and the merged
// completeness is the latest of the parts' (the whole is complete only
// where every part is; zero, complete since the first, weighs nothing).
func TestMergeHits(t *testing.T) {
	t1, t2, t3 := time.Unix(1_700_000_000, 0), time.Unix(1_700_000_600, 0), time.Unix(1_700_001_200, 0)
	for _, tc := range []struct {
		name  string
		parts []HitsPart
		want  map[string]RuleHit
		since time.Time
	}{
		{"none", nil, map[string]RuleHit{}, time.Time{}},
		{"one part", []HitsPart{{Hits: map[string]RuleHit{"sg-1/sgr-1": {2, 5, 300, t1.Unix()}}, CompleteSince: t1}},
			map[string]RuleHit{"sg-1/sgr-1": {2, 5, 300, t1.Unix()}}, t1},
		{"same entry on two servers", []HitsPart{
			{Hits: map[string]RuleHit{"sg-1/sgr-1": {2, 5, 300, t2.Unix()}}, CompleteSince: t3},
			{Hits: map[string]RuleHit{"sg-1/sgr-1": {1, 4, 100, t3.Unix()}, "in|default inbound drop|": {1, 1, 60, t1.Unix()}}, CompleteSince: t1},
			{Hits: map[string]RuleHit{"sg-1/sgr-1": {3, 3, 3, t1.Unix()}}},
		}, map[string]RuleHit{"sg-1/sgr-1": {6, 12, 403, t3.Unix()}, "in|default inbound drop|": {1, 1, 60, t1.Unix()}}, t3},
		{"sums saturate", []HitsPart{
			{Hits: map[string]RuleHit{"sg-1/sgr-1": {math.MaxInt - 1, math.MaxUint64 - 1, 7, t1.Unix()}}},
			{Hits: map[string]RuleHit{"sg-1/sgr-1": {5, 5, math.MaxUint64, t1.Unix()}}},
		}, map[string]RuleHit{"sg-1/sgr-1": {math.MaxInt, math.MaxUint64, math.MaxUint64, t1.Unix()}}, time.Time{}},
		{"an entry only elsewhere", []HitsPart{
			{Hits: map[string]RuleHit{}, CompleteSince: t2},
			{Hits: map[string]RuleHit{"sg-1/sgr-2": {1, 1, 60, t1.Unix()}}, CompleteSince: t1},
		}, map[string]RuleHit{"sg-1/sgr-2": {1, 1, 60, t1.Unix()}}, t2},
	} {
		got := MergeHits(tc.parts)
		if !reflect.DeepEqual(got.ByEntry, tc.want) || !got.CompleteSince.Equal(tc.since) {
			t.Errorf("%s: %+v since %v, want %+v since %v", tc.name, got.ByEntry, got.CompleteSince, tc.want, tc.since)
		}
	}
}

// TestFlowHitsAnswer: a server's hits go through FlowHitsAnswer and back
// unchanged; a malformed part is refused.
func TestFlowHitsAnswer(t *testing.T) {
	h := Hits{ByEntry: map[string]RuleHit{"sg-1/sgr-1": {2, 5, 300, 1_700_000_000}, "out|intra-group access|sg-1": {1, 1, 60, 1_700_000_060}},
		CompleteSince: time.Unix(1_699_000_000, 0)}
	b, err := json.Marshal(h.Answer())
	if err != nil {
		t.Fatal(err)
	}
	var a FlowHitsAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	p, err := a.Part("s2")
	if err != nil || p.Server != "s2" || !reflect.DeepEqual(p.Hits, h.ByEntry) || !p.CompleteSince.Equal(h.CompleteSince) {
		t.Errorf("round trip: %+v (%v), want %+v since %v", p, err, h.ByEntry, h.CompleteSince)
	}
	for name, bad := range map[string]FlowHitsAnswer{
		"bad time":       {Hits: []FlowHit{{Entry: "sg-1/sgr-1", Flows: 1, LastHitTime: "yesterday"}}},
		"bad complete":   {CompleteSinceTime: "soon"},
		"no entry":       {Hits: []FlowHit{{Flows: 1}}},
		"negative flows": {Hits: []FlowHit{{Entry: "sg-1/sgr-1", Flows: -1}}},
		"twice":          {Hits: []FlowHit{{Entry: "sg-1/sgr-1", Flows: 1}, {Entry: "sg-1/sgr-1", Flows: 1}}},
		"last hit ahead": {Hits: []FlowHit{{Entry: "sg-1/sgr-1", Flows: 1, LastHitTime: ecsTime(time.Now().Add(time.Hour))}}},
		"complete ahead": {CompleteSinceTime: ecsTime(time.Now().Add(time.Hour))},
	} {
		if _, err := bad.Part("s2"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type fakePeers struct {
	parts   []HitsPart
	missing []string
	asked   []HitsFilter
}

func (f *fakePeers) FlowHitParts(_ context.Context, hf HitsFilter) ([]HitsPart, []string) {
	f.asked = append(f.asked, hf)
	return f.parts, f.missing
}

// TestFlowHitsAll: this server's hits and the peers' add up, with the
// caller's filter passed on; a peer missing makes the answer partial and
// names it; without peers, the answer is partial when records are kept
// elsewhere too.
func TestFlowHitsAll(t *testing.T) {
	now := time.Now()
	st := flowstore.Memory()
	s := &Service{flows: st, Now: func() time.Time { return now }}
	t1, t2 := now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	if err := st.Append([]FlowRecord{{AccountId: "a", EniId: "eni-1", Direction: "in", Packets: 2, Bytes: 100, End: t1, Reason: "rule",
		SecurityGroupId: "sg-1", SecurityGroupRuleId: "sgr-1"}}, now); err != nil {
		t.Fatal(err)
	}
	c := Caller{Account: "a"}
	f := HitsFilter{ENI: "eni-1", Since: now.Add(-3 * time.Hour)}
	if got := s.FlowHitsAll(context.Background(), c, f); got.Partial || len(got.ByEntry) != 1 {
		t.Errorf("one server alone: %+v", got)
	}
	s.FlowRecordsElsewhere = true
	if got := s.FlowHitsAll(context.Background(), c, f); !got.Partial {
		t.Errorf("records elsewhere, no peers to ask: %+v, want partial", got)
	}
	later := now.Add(time.Hour) // a peer whose records are complete only since later
	p := &fakePeers{parts: []HitsPart{{Server: "s2", Hits: map[string]RuleHit{"sg-1/sgr-1": {1, 1, 60, t2}, "sg-1/sgr-2": {1, 1, 60, t1}}, CompleteSince: later}}}
	s.PeerHits = p
	got := s.FlowHitsAll(context.Background(), c, f)
	want := map[string]RuleHit{"sg-1/sgr-1": {2, 3, 160, t2}, "sg-1/sgr-2": {1, 1, 60, t1}}
	if got.Partial || !reflect.DeepEqual(got.ByEntry, want) || !got.CompleteSince.Equal(later) || !slices.Equal(p.asked, []HitsFilter{f}) {
		t.Errorf("with a peer: %+v (asked %v), want %+v complete since %v, asked %v", got, p.asked, want, later, f)
	}
	p.missing = []string{"s3"}
	if got := s.FlowHitsAll(context.Background(), c, f); !got.Partial || !slices.Equal(got.Missing, []string{"s3"}) {
		t.Errorf("a peer missing: %+v, want partial, missing [s3]", got)
	}
}

// TestWithPeerHits: hits the peers gave before an analysis was admitted
// serve FlowHitsAll with the same filter, which asks no peer again (an
// analysis must not wait for peers holding its share of the CPU); another
// filter asks.
func TestWithPeerHits(t *testing.T) {
	now := time.Now()
	s := &Service{flows: flowstore.Memory(), Now: func() time.Time { return now }}
	p := &fakePeers{parts: []HitsPart{{Server: "s2", Hits: map[string]RuleHit{"sg-1/sgr-1": {1, 1, 60, now.Unix()}}}}, missing: []string{"s3"}}
	s.PeerHits = p
	c := Caller{Account: "a"}
	f := HitsFilter{ENI: "eni-1"}
	ctx := s.WithPeerHits(context.Background(), "a", f)
	for _, tc := range []struct {
		name  string
		f     HitsFilter
		asked int
	}{
		{"same filter", f, 1},
		{"same filter again", HitsFilter{ENI: "eni-1"}, 1},
		{"another filter", HitsFilter{ENI: "eni-2"}, 2},
	} {
		got := s.FlowHitsAll(ctx, c, tc.f)
		if len(p.asked) != tc.asked || got.ByEntry["sg-1/sgr-1"].Flows != 1 || !slices.Equal(got.Missing, []string{"s3"}) {
			t.Errorf("%s: %+v, peers asked %d times, want %d", tc.name, got, len(p.asked), tc.asked)
		}
	}
}

// keyRecorder is a PeerHits that records the key it was asked with.
type keyRecorder struct{ keys []string }

func (k *keyRecorder) FlowHitParts(ctx context.Context, _ HitsFilter) ([]HitsPart, []string) {
	k.keys = append(k.keys, rpc.AccessKeyID(ctx))
	return nil, nil
}

// TestFlowHitsAllKeyOfCaller: the peers count the records of the key they
// are asked with, so FlowHitsAll asks them only with a key of the caller's
// account; with another account's (or an unknown) key it asks with none
// (every server missing), and hits prefetched for another account are
// not used.
func TestFlowHitsAllKeyOfCaller(t *testing.T) {
	e := newEnv(t)
	_, mine, err := e.s.NewTenant(e.ctx, "mine")
	if err != nil {
		t.Fatal(err)
	}
	_, theirs, err := e.s.NewTenant(e.ctx, "theirs")
	if err != nil {
		t.Fatal(err)
	}
	rec := &keyRecorder{}
	e.s.PeerHits = rec
	c := Caller{Account: mine.Account}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"the caller's key", rpc.WithAccessKeyID(e.ctx, mine.ID), mine.ID},
		{"another account's key", rpc.WithAccessKeyID(e.ctx, theirs.ID), ""},
		{"an unknown key", rpc.WithAccessKeyID(e.ctx, "LTAInosuchkey"), ""},
		{"prefetched for another account", e.s.WithPeerHits(rpc.WithAccessKeyID(e.ctx, mine.ID), theirs.Account, HitsFilter{}), mine.ID},
	} {
		rec.keys = nil
		e.s.FlowHitsAll(tc.ctx, c, HitsFilter{})
		if len(rec.keys) == 0 || rec.keys[len(rec.keys)-1] != tc.want {
			t.Errorf("%s: peers asked with keys %q, want last %q", tc.name, rec.keys, tc.want)
		}
	}
	// The analysis gate looked the key's account up to admit the
	// analysis: WithKeyPeerHits does not look it up again (this key is
	// unknown to the store, and still asked with), and asks with no key
	// when the account is another's.
	for _, tc := range []struct {
		name, key, keyAccount, want string
	}{
		{"the key's account", "LTAIgatekey", mine.Account, "LTAIgatekey"},
		{"another account's", theirs.ID, theirs.Account, ""},
	} {
		rec.keys = nil
		ctx := e.s.WithKeyPeerHits(rpc.WithAccessKeyID(e.ctx, tc.key), mine.Account, tc.keyAccount, HitsFilter{})
		e.s.FlowHitsAll(ctx, c, HitsFilter{})
		if !slices.Equal(rec.keys, []string{tc.want}) {
			t.Errorf("prefetched with %s: peers asked with keys %q, want once with %q", tc.name, rec.keys, tc.want)
		}
	}
}
