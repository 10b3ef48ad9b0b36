package reach_test

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestReachPerENI checks that reachability is per NIC: in 12-eni-groups-differ
// only the secondary ENI of i-app is in sg-monitor and only its primary in
// sg-app, so each reaches i-db on its own port and not on the other's.
func TestReachPerENI(t *testing.T) {
	s, err := scenario.Load("../../../testdata/scenarios/12-eni-groups-differ.yaml")
	if err != nil {
		t.Fatal(err)
	}
	links, err := reach.Compute(s.Cloud(), reach.Options{}).Matrix(reach.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	open := map[[2]string]reach.Ports{}
	for _, l := range links {
		open[[2]string{l.From, l.To}] = l.IPv4
	}
	for _, tt := range []struct {
		from, to string
		port     uint16
		want     bool
	}{
		{"eni-app-mon", "i-db", 9187, true},
		{"eni-app-mon", "i-db", 5432, false},
		{"i-app", "i-db", 5432, true},
		{"i-app", "i-db", 9187, false},
		{"i-db", "i-app", 8080, true},
		{"i-db", "eni-app-mon", 8080, false},
	} {
		if got := open[[2]string{tt.from, tt.to}].Allows(model.TCP, tt.port); got != tt.want {
			t.Errorf("%s -> %s TCP %d: open %v, want %v", tt.from, tt.to, tt.port, got, tt.want)
		}
	}
}
