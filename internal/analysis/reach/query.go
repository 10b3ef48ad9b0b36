package reach

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Link is what passes from one endpoint (an instance ID or Internet) to another.
type Link struct {
	From string `json:"from"`
	To   string `json:"to"`
	IPv4 Ports  `json:"ipv4,omitzero"`
	IPv6 Ports  `json:"ipv6,omitzero"`
	// Outside breaks a link with the internet down by outside address range
	// (IPv4 ranges first); IPv4 and IPv6 are then the unions.
	Outside []Outside `json:"outside,omitempty"`
}

// Empty reports whether nothing passes.
func (l Link) Empty() bool { return l.IPv4.Empty() && l.IPv6.Empty() }

// Filter selects links. Endpoints are an instance ID, a group ID (its
// members) or Internet; "" is any endpoint.
type Filter struct {
	From      string         `json:"from,omitempty"`
	To        string         `json:"to,omitempty"`
	Protocol  model.Protocol `json:"protocol,omitempty"` // "" or ALL: any
	Port      uint16         `json:"port,omitempty"`     // 0: any
	IPVersion int            `json:"ipVersion,omitempty"`
	// Among, when not nil, limits the instances at either end to these
	// (the internet stays an endpoint): one tenant's part of a result
	// computed over a shared cloud, at the cost of its own pairs only.
	Among []string `json:"-"`
	// Limit, when positive, makes Matrix stop after that many links (the
	// first ones in its order): a page costs the pairs up to its end, not
	// all of them.
	Limit int `json:"-"`
	// Inside, when not nil, are the blocks that are not the internet for
	// this question instead of the result's Options.Inside (a tenant's own
	// networks: another tenant's are the internet to it, and must not show
	// as gaps in its outside ranges).
	Inside []netip.Prefix `json:"-"`
}

// insideFor is the inside blocks of a question.
func (r *Result) insideFor(f Filter) [2][]iprange.Range {
	if f.Inside == nil {
		return r.inside
	}
	return insideRanges(f.Inside)
}

// restrict keeps the flows a filter asks for.
func (f Filter) restrict(l Link) Link {
	l.IPv4 = l.IPv4.Only(f.Protocol, f.Port)
	l.IPv6 = l.IPv6.Only(f.Protocol, f.Port)
	switch f.IPVersion {
	case 4:
		l.IPv6 = Ports{}
	case 6:
		l.IPv4 = Ports{}
	}
	if l.Outside != nil {
		var keep []Outside
		for _, o := range l.Outside {
			six := o.First.Is6()
			if f.IPVersion == 4 && six || f.IPVersion == 6 && !six {
				continue
			}
			if o.Ports = o.Ports.Only(f.Protocol, f.Port); !o.Ports.Empty() {
				keep = append(keep, o)
			}
		}
		l.Outside = keep
	}
	return l
}

// Between returns what passes from one endpoint to another (instance IDs or
// Internet).
func (r *Result) Between(from, to string) (Link, error) {
	switch {
	case from == Internet && to == Internet:
		return Link{}, fmt.Errorf("a link needs an instance at one end at least")
	case from == Internet || to == Internet:
		id, d := to, ingress
		if to == Internet {
			id, d = from, egress
		}
		i, ok := r.index[id]
		if !ok {
			return Link{}, fmt.Errorf("no instance %q in this snapshot", id)
		}
		return r.internetLink(&r.nodes[i], d, r.inside), nil
	}
	a, b, err := r.nodePair(from, to)
	if err != nil {
		return Link{}, err
	}
	v4, v6 := r.pair(a, b, r.tab.direct())
	return Link{From: from, To: to, IPv4: r.tab.get(v4), IPv6: r.tab.get(v6)}, nil
}

func (r *Result) internetLink(n *node, d int, inside [2][]iprange.Range) Link {
	l := Link{From: Internet, To: n.inst.ID}
	if d == egress {
		l.From, l.To = n.inst.ID, Internet
	}
	o4, p4 := r.internet(n, d, false, inside)
	o6, p6 := r.internet(n, d, true, inside)
	l.IPv4, l.IPv6, l.Outside = p4, p6, append(o4, o6...)
	return l
}

// members resolves a filter endpoint to node indexes; internet reports
// whether the internet is included.
func (r *Result) members(end string) (idx []int, internet bool, err error) {
	switch {
	case end == "":
		idx = make([]int, len(r.nodes))
		for i := range idx {
			idx[i] = i
		}
		return idx, true, nil
	case end == Internet:
		return nil, true, nil
	}
	if i, ok := r.index[end]; ok {
		return []int{i}, false, nil
	}
	if _, ok := r.cloud.Groups[end]; ok {
		for _, m := range r.cloud.Members(end) {
			idx = append(idx, r.index[m.ID])
		}
		slices.Sort(idx)
		return idx, false, nil
	}
	return nil, false, fmt.Errorf("%q is neither an instance, a group nor %q", end, Internet)
}

// ends resolves a filter's endpoints to node indexes, limited to f.Among.
func (r *Result) ends(f Filter) (from []int, fromNet bool, to []int, toNet bool, err error) {
	if from, fromNet, err = r.members(f.From); err != nil {
		return nil, false, nil, false, fmt.Errorf("from: %w", err)
	}
	if to, toNet, err = r.members(f.To); err != nil {
		return nil, false, nil, false, fmt.Errorf("to: %w", err)
	}
	if f.Among != nil {
		in := make(map[int]bool, len(f.Among))
		for _, id := range f.Among {
			if i, ok := r.index[id]; ok {
				in[i] = true
			}
		}
		only := func(idx []int) []int {
			return slices.DeleteFunc(slices.Clone(idx), func(i int) bool { return !in[i] })
		}
		from, to = only(from), only(to)
	}
	return from, fromNet, to, toNet, nil
}

// ClassesAmong counts the distinct policy classes of some instances (all,
// when ids is nil).
func (r *Result) ClassesAmong(ids []string) int {
	if ids == nil {
		return len(r.classes)
	}
	seen := map[policy.Key]bool{}
	for _, id := range ids {
		if i, ok := r.index[id]; ok {
			for _, k := range keySet(r.nodes[i].keys) {
				seen[k] = true
			}
		}
	}
	return len(seen)
}

// Matrix returns the links with something open that the filter selects,
// ordered by source then destination (the internet first).
func (r *Result) Matrix(f Filter) ([]Link, error) {
	from, fromNet, to, toNet, err := r.ends(f)
	if err != nil {
		return nil, err
	}
	inside := r.insideFor(f)
	var links []Link
	full := func() bool { return f.Limit > 0 && len(links) >= f.Limit }
	keep := func(l Link) {
		if l = f.restrict(l); !l.Empty() && !full() {
			links = append(links, l)
		}
	}
	if fromNet {
		for _, j := range to {
			if full() {
				break
			}
			keep(r.internetLink(&r.nodes[j], ingress, inside))
		}
	}
	m := r.tab.local()
	defer m.release()
	for _, i := range from {
		if full() {
			break
		}
		if toNet {
			keep(r.internetLink(&r.nodes[i], egress, inside))
		}
		a := &r.nodes[i]
		for _, j := range to {
			if i == j {
				continue
			}
			b := &r.nodes[j]
			v4, v6 := r.pair(a, b, m)
			if v4|v6 != 0 {
				keep(Link{From: a.inst.ID, To: b.inst.ID, IPv4: r.tab.get(v4), IPv6: r.tab.get(v6)})
			}
		}
	}
	return links, nil
}

// String renders a link on one line.
func (l Link) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s:", l.From, l.To)
	if !l.IPv4.Empty() {
		fmt.Fprintf(&b, " IPv4 %s", l.IPv4)
	}
	if !l.IPv6.Empty() {
		fmt.Fprintf(&b, " IPv6 %s", l.IPv6)
	}
	if l.Empty() {
		b.WriteString(" nothing")
	}
	return b.String()
}
