package reachtest

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// NaiveCost estimates evaluating every pair of a cloud one flow at a time:
// for every ordered pair of instances and family, one policy.Evaluate to
// learn whether a path exists and, where one does, one per destination
// port of TCP and UDP (1-65535) plus ICMP and GRE. Measured on a sample of
// pairs (and of ports) and extrapolated to all pairs.
type NaiveCost struct {
	Pairs, PathPairs float64 // ordered (pair, family) combinations, and those with a path
	PerPath, PerNone float64 // seconds per combination, with and without a path
	// PerPathBounds: seconds per combination with a path when only one port
	// per interval of the rules' port boundaries is tried.
	PerPathBounds float64
}

// Total is the estimated naive run, in seconds.
func (n NaiveCost) Total() float64 {
	return n.PathPairs*n.PerPath + (n.Pairs-n.PathPairs)*n.PerNone
}

// Bounds is the estimated run trying boundary ports only, in seconds.
func (n NaiveCost) Bounds() float64 {
	return n.PathPairs*n.PerPathBounds + (n.Pairs-n.PathPairs)*n.PerNone
}

var (
	naiveMu   sync.Mutex
	naiveMemo = map[*cloudgen.Cloud]NaiveCost{}
)

// Naive measures NaiveCost for a cloud (once per process).
func Naive(gen *cloudgen.Cloud, c *policy.Cloud) NaiveCost {
	naiveMu.Lock()
	defer naiveMu.Unlock()
	if n, ok := naiveMemo[gen]; ok {
		return n
	}
	// Policies compile on first use: the probe before each timing does it.
	eng := policy.Compile(c)
	var n NaiveCost
	ins := gen.Instances
	// Count the (pair, family) combinations that have a path (policy.Path),
	// over instances grouped by network and what the path needs of them.
	type cell struct {
		vpc string
		end policy.End
	}
	cells := map[cell]float64{}
	for _, in := range ins {
		cells[cell{in.VpcID, policy.EndOf(in)}]++
	}
	total := float64(len(ins))
	n.Pairs = 2 * total * (total - 1)
	for a, na := range cells {
		for b, nb := range cells {
			pairs := na * nb
			if a == b {
				pairs = na * (na - 1)
			}
			for _, six := range []bool{false, true} {
				if policy.Path(a.end, b.end, a.vpc == b.vpc, six).NoPath == "" {
					n.PathPairs += pairs
				}
			}
		}
	}

	rng := rand.New(rand.NewPCG(1, 1))
	bounds := Boundaries(c)
	const samples, portSample = 12, 2048
	var tPath, tBounds, tNone time.Duration
	var nPath, nNone int
	for nPath < samples || nNone < samples {
		a, b := ins[rng.IntN(len(ins))], ins[rng.IntN(len(ins))]
		if a == b {
			continue
		}
		six := rng.IntN(2) == 1
		version := 4
		if six {
			version = 6
		}
		probe, _ := policy.Evaluate(eng, policy.Flow{From: a.ID, To: b.ID, Protocol: model.GRE, IPVersion: version})
		if probe.Path != "" {
			if nNone < samples {
				start := time.Now()
				policy.Evaluate(eng, policy.Flow{From: a.ID, To: b.ID, Protocol: model.GRE, IPVersion: version})
				tNone += time.Since(start)
				nNone++
			}
			continue
		}
		if nPath >= samples {
			continue
		}
		start := time.Now()
		for _, proto := range []model.Protocol{model.TCP, model.UDP} {
			for range portSample {
				policy.Evaluate(eng, policy.Flow{From: a.ID, To: b.ID, Protocol: proto, Port: uint16(1 + rng.IntN(65535)), IPVersion: version})
			}
		}
		// Scale the port sample to every port, and add ICMP and GRE.
		tPath += time.Duration(float64(time.Since(start)) * 65535 / portSample)
		start = time.Now()
		Ports(eng, bounds, a.ID, b.ID, six, 0)
		tBounds += time.Since(start)
		nPath++
	}
	n.PerPath = tPath.Seconds() / samples
	n.PerPathBounds = tBounds.Seconds() / samples
	n.PerNone = tNone.Seconds() / samples
	naiveMemo[gen] = n
	return n
}
