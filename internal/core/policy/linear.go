package policy

import (
	"sync"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Linear is the reference evaluator: it walks an instance's Program (the
// pooled rules in order) and returns the first that matches. It is
// deliberately plain; tests and benchmarks hold the compiled evaluator
// against it.
type Linear struct {
	c        *Cloud
	programs sync.Map // linearKey → *Program
}

type linearKey struct {
	in  *model.Instance
	dir model.Direction
	nic model.NicType
}

// NewLinear returns a linear evaluator over a snapshot.
func NewLinear(c *Cloud) *Linear { return &Linear{c: c} }

func (l *Linear) Cloud() *Cloud { return l.c }

// Decide implements Decider.
func (l *Linear) Decide(in *model.Instance, dir model.Direction, nic model.NicType, p Packet) Decision {
	return l.c.Run(l.program(in, dir, nic), p)
}

// program caches the Program so that the scan, not the sort, is what a
// decision costs.
func (l *Linear) program(in *model.Instance, dir model.Direction, nic model.NicType) *Program {
	key := linearKey{in, dir, nic}
	if p, ok := l.programs.Load(key); ok {
		return p.(*Program)
	}
	p := l.c.Program(in, dir, nic)
	l.programs.Store(key, &p)
	return &p
}
