package policy

import (
	"net/netip"
	"sync"

	"github.com/palisade-sg/palisade/model"
)

// Linear is the reference evaluator: it walks an instance's pooled rules in
// order and returns the first that matches. It is deliberately plain; tests
// and benchmarks hold the compiled evaluator against it.
type Linear struct {
	c     *Cloud
	pools sync.Map // linearKey → []pooled
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
	local, remote := sides(dir, p)
	if g, ok := l.intra(in, remote); ok {
		return Decision{Verdict: Accept, Reason: IntraGroup, Group: g}
	}
	for _, pr := range l.rules(in, dir, nic) {
		r := pr.rule
		if protoMatches(r.Protocol, p.Proto) && portsMatch(r, p) && localMatches(r, local) && l.c.peerContains(&r.Peer, remote) {
			return Decision{Verdict: verdictOf(r.Policy), Reason: ByRule, Rule: ref(pr)}
		}
	}
	return l.c.fallback(in, dir)
}

// rules caches the ordered pool so that the scan, not the sort, is what a
// decision costs.
func (l *Linear) rules(in *model.Instance, dir model.Direction, nic model.NicType) []pooled {
	key := linearKey{in, dir, nic}
	if ps, ok := l.pools.Load(key); ok {
		return ps.([]pooled)
	}
	ps := pool(l.c.groupsOf(in), dir, nic)
	l.pools.Store(key, ps)
	return ps
}

// intra is the plain intra-group check: does the instance share a basic
// group with InnerAccessPolicy Accept with the owner of the remote address?
func (l *Linear) intra(in *model.Instance, remote netip.Addr) (string, bool) {
	for _, g := range l.c.groupsOf(in) {
		if g.InnerAccept() && l.c.memberAddrs[g.ID][remote] {
			return g.ID, true
		}
	}
	return "", false
}
