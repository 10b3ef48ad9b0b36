package reach

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/iprange"
)

// Graph is reachability between security groups: an edge from group g to
// group h holds every flow that passes from some member of g to some other
// member of h. The internet is a node of its own.
type Graph struct {
	Nodes []GraphNode `json:"nodes"`
	Edges []Edge      `json:"edges"`
}

// GraphNode is a group (or the internet).
type GraphNode struct {
	ID      string `json:"id"`
	Members int    `json:"members"`
}

// Edge is what passes from the members of one group to those of another.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	IPv4 Ports  `json:"ipv4,omitzero"`
	IPv6 Ports  `json:"ipv6,omitzero"`
	// Pairs4 and Pairs6 count the ordered instance pairs (or instances, for
	// the internet) with something open over each family.
	Pairs4 int `json:"pairs4"`
	Pairs6 int `json:"pairs6"`
}

// edgeAcc accumulates one edge as interned IDs, per family.
type edgeAcc struct {
	ids   [2]uint32
	pairs [2]int32
}

type edgeKey struct{ from, to int32 } // group indexes; -1 is the internet

// Graph aggregates the links a filter selects by group. It walks every
// selected pair (see walk), spread over the available cores.
func (r *Result) Graph(f Filter) (*Graph, error) {
	from, fromNet, to, toNet, err := r.ends(f)
	if err != nil {
		return nil, err
	}
	gids, groupsOf := r.groupIndex()
	vs := r.graphVisitors(f, len(gids), groupsOf, max(1, min(r.workers(), len(from)/64)))
	visitors := make([]visitor, len(vs))
	for w, v := range vs {
		visitors[w] = v
	}
	r.walk(from, to, visitors)
	inside := r.insideFor(f)
	if toNet {
		vs[0].addInternet(from, egress, inside)
	}
	if fromNet {
		vs[0].addInternet(to, ingress, inside)
	}
	total, dense := r.mergeEdges(vs)
	keys := edgeOrder(gids, total, dense)
	return r.graphOf(gids, keys, total, dense), nil
}

// groupIndex numbers the groups by ID and lists each node's groups by number.
func (r *Result) groupIndex() (gids []string, groupsOf [][]int32) {
	gids = make([]string, 0, len(r.cloud.Groups))
	for id := range r.cloud.Groups {
		gids = append(gids, id)
	}
	slices.Sort(gids)
	gidx := make(map[string]int32, len(gids))
	for i, id := range gids {
		gidx[id] = int32(i)
	}
	groupsOf = make([][]int32, len(r.nodes))
	for i := range r.nodes {
		for _, g := range r.nodes[i].inst.SecurityGroups {
			if k, ok := gidx[g]; ok {
				groupsOf[i] = append(groupsOf[i], k)
			}
		}
	}
	return gids, groupsOf
}

// graphVisitors returns one visitor per worker over ng groups.
func (r *Result) graphVisitors(f Filter, ng int, groupsOf [][]int32, workers int) []*graphVisitor {
	vs := make([]*graphVisitor, workers)
	for w := range vs {
		vs[w] = &graphVisitor{r: r, m: r.tab.local(), f: f, groupsOf: groupsOf, edges: map[edgeKey]*edgeAcc{},
			restricted: map[[2]uint32]uint32{}, ng: ng}
		if ng*ng <= denseEdges {
			vs[w].dense = make([]edgeAcc, ng*ng)
		}
		for fam := range 2 {
			vs[w].row[fam] = make([]idList, ng)
			vs[w].count[fam] = make([]int32, ng)
		}
	}
	return vs
}

// addInternet adds the links of the nodes with the internet, one per
// instance: to it (d egress) or from it (d ingress).
func (v *graphVisitor) addInternet(nodes []int, d int, inside [2][]iprange.Range) {
	r := v.r
	for _, i := range nodes {
		l := r.internetLink(&r.nodes[i], d, inside)
		for fam, p := range []Ports{l.IPv4, l.IPv6} {
			if id := v.restrict(r.tab.intern(p), fam == 1); id != 0 {
				for _, g := range v.groupsOf[i] {
					k := edgeKey{g, -1}
					if d == ingress {
						k = edgeKey{-1, g}
					}
					v.add(k, fam, id, 1)
				}
			}
		}
	}
}

// mergeEdges merges the workers' edges into the first one's.
func (r *Result) mergeEdges(vs []*graphVisitor) (total map[edgeKey]*edgeAcc, dense []edgeAcc) {
	v := vs[0]
	total, dense = v.edges, v.dense
	for _, w := range vs[1:] {
		for k := range w.dense {
			d, e := &dense[k], &w.dense[k]
			for fam := range 2 {
				d.ids[fam], d.pairs[fam] = v.m.join(d.ids[fam], e.ids[fam]), d.pairs[fam]+e.pairs[fam]
			}
		}
		for k, e := range w.edges {
			t := total[k]
			if t == nil {
				total[k] = e
				continue
			}
			for fam := range 2 {
				t.ids[fam], t.pairs[fam] = r.tab.join(t.ids[fam], e.ids[fam]), t.pairs[fam]+e.pairs[fam]
			}
		}
	}
	return total, dense
}

// edgeOrder lists the edges with something open, nodes ordered by name
// (the internet at its rank among the groups): the dense table's directly,
// the others (all of them without a dense table) from the map.
func edgeOrder(gids []string, total map[edgeKey]*edgeAcc, dense []edgeAcc) []edgeKey {
	inet := sort.SearchStrings(gids, Internet)
	order := make([]int32, 0, len(gids)+1)
	for k := range gids {
		if k == inet {
			order = append(order, -1)
		}
		order = append(order, int32(k))
	}
	if inet == len(gids) {
		order = append(order, -1)
	}
	var keys []edgeKey
	if dense != nil {
		for _, f := range order {
			for _, t := range order {
				k := edgeKey{f, t}
				if f >= 0 && t >= 0 {
					if e := &dense[int(f)*len(gids)+int(t)]; e.pairs[0]+e.pairs[1] > 0 {
						keys = append(keys, k)
					}
				} else if total[k] != nil {
					keys = append(keys, k)
				}
			}
		}
		return keys
	}
	rank := make(map[int32]int, len(order))
	for i, k := range order {
		rank[k] = i
	}
	for k := range total {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b edgeKey) int {
		return cmp.Or(cmp.Compare(rank[a.from], rank[b.from]), cmp.Compare(rank[a.to], rank[b.to]))
	})
	return keys
}

// graphOf renders the edges in order, with the nodes they use.
func (r *Result) graphOf(gids []string, keys []edgeKey, total map[edgeKey]*edgeAcc, dense []edgeAcc) *Graph {
	name := func(k int32) string {
		if k < 0 {
			return Internet
		}
		return gids[k]
	}
	g := &Graph{Edges: make([]Edge, 0, len(keys))}
	used := map[int32]bool{}
	r.tab.mu.RLock()
	for _, k := range keys {
		e := total[k]
		if dense != nil && k.from >= 0 && k.to >= 0 {
			e = &dense[int(k.from)*len(gids)+int(k.to)]
		}
		used[k.from], used[k.to] = true, true
		g.Edges = append(g.Edges, Edge{From: name(k.from), To: name(k.to), IPv4: r.tab.sets[e.ids[0]], IPv6: r.tab.sets[e.ids[1]],
			Pairs4: int(e.pairs[0]), Pairs6: int(e.pairs[1])})
	}
	r.tab.mu.RUnlock()
	for k := range used {
		n := GraphNode{ID: name(k)}
		if k >= 0 {
			n.Members = len(r.cloud.Members(gids[k]))
		}
		g.Nodes = append(g.Nodes, n)
	}
	slices.SortFunc(g.Nodes, func(a, b GraphNode) int { return strings.Compare(a.ID, b.ID) })
	return g
}

// graphVisitor accumulates one worker's edges. A row (one source instance)
// is first gathered per destination group, then added to each of the
// source's groups, so the edge map is touched once per row and group pair.
type graphVisitor struct {
	r          *Result
	m          *memo
	f          Filter
	groupsOf   [][]int32
	row        [2][]idList
	count      [2][]int32
	touched    []int32
	edges      map[edgeKey]*edgeAcc
	restricted map[[2]uint32]uint32
	// dense holds the group-to-group edges while there are few enough
	// groups (ng × ng entries); edges the rest.
	dense []edgeAcc
	ng    int
}

// denseEdges bounds the dense edge table (16 bytes an entry, per worker).
const denseEdges = 1 << 21

func (v *graphVisitor) restrict(id uint32, six bool) uint32 {
	f := v.f
	if id == 0 || f.Protocol == "" && f.Port == 0 && f.IPVersion == 0 {
		return id
	}
	if f.IPVersion == 4 && six || f.IPVersion == 6 && !six {
		return 0
	}
	k := [2]uint32{id, uint32(b2i(six))}
	if x, ok := v.restricted[k]; ok {
		return x
	}
	x := v.r.tab.intern(v.r.tab.get(id).Only(f.Protocol, f.Port))
	v.restricted[k] = x
	return x
}

func (v *graphVisitor) pair(i, j int32, six bool, id uint32) {
	if id = v.restrict(id, six); id == 0 {
		return
	}
	fam := b2i(six)
	for _, h := range v.groupsOf[j] {
		if v.count[0][h] == 0 && v.count[1][h] == 0 {
			v.touched = append(v.touched, h)
		}
		v.row[fam][h].add(v.m, id)
		v.count[fam][h]++
	}
}

func (v *graphVisitor) rowEnd(i int32) {
	for _, h := range v.touched {
		for fam := range 2 {
			if v.count[fam][h] > 0 {
				id := v.row[fam][h].fold(v.m)
				for _, g := range v.groupsOf[i] {
					v.add(edgeKey{g, h}, fam, id, v.count[fam][h])
				}
			}
			v.row[fam][h], v.count[fam][h] = idList{}, 0
		}
	}
	v.touched = v.touched[:0]
}

// idList gathers the distinct sets to join, so that a row's many equal
// sets cost no join at all and the rest are joined once at the end.
type idList struct {
	ids [3]uint32
	n   uint8
}

func (l *idList) add(m *memo, id uint32) {
	for _, x := range l.ids[:l.n] {
		if x == id {
			return
		}
	}
	if l.n == uint8(len(l.ids)) {
		l.ids[0], l.n = l.fold(m), 1
		if l.ids[0] == id {
			return
		}
	}
	l.ids[l.n] = id
	l.n++
}

func (l *idList) fold(m *memo) uint32 {
	id := uint32(0)
	for _, x := range l.ids[:l.n] {
		id = m.join(id, x)
	}
	return id
}

func (v *graphVisitor) add(k edgeKey, fam int, id uint32, n int32) {
	var e *edgeAcc
	if v.dense != nil && k.from >= 0 && k.to >= 0 {
		e = &v.dense[int(k.from)*v.ng+int(k.to)]
	} else {
		e = v.edges[k]
	}
	if e == nil {
		e = &edgeAcc{}
		v.edges[k] = e
	}
	e.ids[fam], e.pairs[fam] = v.m.join(e.ids[fam], id), e.pairs[fam]+n
}

// DOT renders the graph for Graphviz: one node per group, one edge per
// group pair, labelled with what passes (long labels are cut).
func (g *Graph) DOT() string {
	var b strings.Builder
	b.WriteString("digraph reachability {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n")
	for _, n := range g.Nodes {
		if n.ID == Internet {
			fmt.Fprintf(&b, "  %q [shape=ellipse];\n", n.ID)
			continue
		}
		fmt.Fprintf(&b, "  %q [label=%q];\n", n.ID, fmt.Sprintf("%s\n%d members", n.ID, n.Members))
	}
	for _, e := range g.Edges {
		var parts []string
		if !e.IPv4.Empty() {
			parts = append(parts, "v4 "+e.IPv4.String())
		}
		if !e.IPv6.Empty() {
			parts = append(parts, "v6 "+e.IPv6.String())
		}
		label := strings.Join(parts, "\n")
		if len(label) > 80 {
			label = label[:77] + "..."
		}
		fmt.Fprintf(&b, "  %q -> %q [label=%q];\n", e.From, e.To, label)
	}
	b.WriteString("}\n")
	return b.String()
}
