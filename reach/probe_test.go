package reach_test

import (
	"testing"
	"time"

	"github.com/palisade-sg/palisade/reach"
	"github.com/palisade-sg/palisade/reach/reachtest"
)

func TestProbeGraph(t *testing.T) {
	c := reachtest.Big().Snapshot()
	r := reach.Compute(c, reach.Options{})
	start := time.Now()
	g, _ := r.Graph(reach.Filter{})
	t.Logf("graph %v: %d edges", time.Since(start), len(g.Edges))
}
