package space

import (
	"net/netip"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Resolver turns rule peers into address ranges for one cloud snapshot. It
// caches group and prefix-list sets, which many programs share, and is safe
// for concurrent use.
type Resolver struct {
	Cloud *policy.Cloud

	mu     sync.Mutex
	groups map[string]*[2][]iprange.Range
	lists  map[string]*[2][]iprange.Range
	// parent holds sets resolved for an older snapshot; those of the keys
	// in stale (and in the parents' stale sets) are not to be trusted.
	parent *Resolver
	stale  map[string]bool
	depth  int
	// cidrs holds the blocks' arrays.
	cidrMu sync.RWMutex
	cidrs  map[netip.Prefix]*[2][]iprange.Range
	// A resolver made by with: the groups of fixed stand for their sets
	// there, not for their members; everything else is base's (its
	// arrays shared).
	base  *Resolver
	fixed map[string]*[2][]iprange.Range
}

// with returns a resolver over the same snapshot in which each group of
// fixed (an ID no group of the snapshot has, too) stands for its set
// there instead of its members' addresses.
func (r *Resolver) with(fixed map[string][2][]iprange.Range) *Resolver {
	n := NewResolver(r.Cloud)
	n.base, n.fixed = r, make(map[string]*[2][]iprange.Range, len(fixed))
	for id, v := range fixed {
		n.fixed[id] = &v
	}
	return n
}

// NewResolver returns a resolver over a snapshot.
func NewResolver(c *policy.Cloud) *Resolver {
	return &Resolver{Cloud: c, groups: map[string]*[2][]iprange.Range{}, lists: map[string]*[2][]iprange.Range{}}
}

// Next returns a resolver for a newer snapshot that reuses this one's sets,
// except those of the groups whose members changed and of the prefix lists
// that changed (group and list IDs never collide). Resolvers chain; the
// chain is flattened once it gets long.
func (r *Resolver) Next(c *policy.Cloud, changed []string) *Resolver {
	n := NewResolver(c)
	n.parent, n.depth, n.stale = r, r.depth+1, map[string]bool{}
	for _, k := range changed {
		n.stale[k] = true
	}
	if n.depth > 8 {
		// Flatten: copy what is still valid, forget the chain.
		for _, kind := range []bool{false, true} {
			for k, v := range r.cachedAll(kind) {
				if !n.stale[k] {
					n.store(kind, k, v)
				}
			}
		}
		n.parent, n.depth, n.stale = nil, 0, nil
	}
	return n
}

// cached looks a set up in this resolver and its valid ancestry.
func (r *Resolver) cached(list bool, key string) (*[2][]iprange.Range, bool) {
	for x := r; x != nil; x = x.parent {
		x.mu.Lock()
		m := x.groups
		if list {
			m = x.lists
		}
		v, ok := m[key]
		x.mu.Unlock()
		if ok {
			return v, true
		}
		if x.stale[key] {
			return nil, false
		}
	}
	return nil, false
}

// cachedAll returns every valid set of the chain.
func (r *Resolver) cachedAll(list bool) map[string]*[2][]iprange.Range {
	out := map[string]*[2][]iprange.Range{}
	stale := map[string]bool{}
	for x := r; x != nil; x = x.parent {
		x.mu.Lock()
		m := x.groups
		if list {
			m = x.lists
		}
		for k, v := range m {
			if _, seen := out[k]; !seen && !stale[k] {
				out[k] = v
			}
		}
		x.mu.Unlock()
		for k := range x.stale {
			stale[k] = true
		}
	}
	return out
}

func (r *Resolver) store(list bool, key string, v *[2][]iprange.Range) {
	r.mu.Lock()
	if list {
		r.lists[key] = v
	} else {
		r.groups[key] = v
	}
	r.mu.Unlock()
}

// Group returns the addresses a group stands for (as a peer or an
// intra-group grant), per family: its members' private IPv4 and IPv6
// addresses.
func (r *Resolver) Group(id string) [2][]iprange.Range {
	if v, ok := r.fixed[id]; ok {
		return *v
	}
	if r.base != nil {
		return r.base.Group(id)
	}
	if v, ok := r.cached(false, id); ok {
		return *v
	}
	var out [2][]iprange.Range
	for _, a := range r.Cloud.GroupAddrs(id) {
		k := iprange.KeyOf(a)
		out[family(a.Is6())] = append(out[family(a.Is6())], iprange.New(k, k, a.Is6()))
	}
	out[0], out[1] = iprange.Normalize(out[0]), iprange.Normalize(out[1])
	r.store(false, id, &out)
	return out
}

// Peer returns the addresses a rule's peer stands for, per family.
func (r *Resolver) Peer(p *model.Peer) [2][]iprange.Range {
	switch {
	case p.GroupID != "":
		return r.Group(p.GroupID)
	case r.base != nil:
		return r.base.Peer(p)
	case p.CIDR.IsValid():
		// Rules naming one block share its array, as those naming one
		// group do: made once, and counted once where a build meets it.
		r.cidrMu.RLock()
		v, ok := r.cidrs[p.CIDR]
		r.cidrMu.RUnlock()
		if ok {
			return *v
		}
		r.cidrMu.Lock()
		defer r.cidrMu.Unlock()
		if v, ok := r.cidrs[p.CIDR]; ok {
			return *v
		}
		var out [2][]iprange.Range
		out[family(p.CIDR.Addr().Is6())] = []iprange.Range{iprange.FromPrefix(p.CIDR)}
		if r.cidrs == nil {
			r.cidrs = map[netip.Prefix]*[2][]iprange.Range{}
		}
		r.cidrs[p.CIDR] = &out
		return out
	case p.PrefixListID != "":
		if v, ok := r.cached(true, p.PrefixListID); ok {
			return *v
		}
		var out [2][]iprange.Range
		for _, pfx := range r.Cloud.PeerPrefixes(p) {
			f := family(pfx.Addr().Is6())
			out[f] = append(out[f], iprange.FromPrefix(pfx))
		}
		out[0], out[1] = iprange.Normalize(out[0]), iprange.Normalize(out[1])
		r.store(true, p.PrefixListID, &out)
		return out
	}
	return [2][]iprange.Range{}
}

func family(six bool) int {
	if six {
		return 1
	}
	return 0
}
