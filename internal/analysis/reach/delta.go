package reach

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Delta is a difference between two results for one link and family: what
// passed before and what passes after. For a link with the internet, First
// and Last bound the outside addresses concerned.
type Delta struct {
	From      string     `json:"from"`
	To        string     `json:"to"`
	IPVersion int        `json:"ipVersion"`
	First     netip.Addr `json:"first,omitzero"`
	Last      netip.Addr `json:"last,omitzero"`
	Before    Ports      `json:"before"`
	After     Ports      `json:"after"`
}

// Deltas lists every link and family whose flows differ between two results
// of the same cloud before and after a change. It looks only where a
// difference is possible: for an instance whose egress (ingress) policy
// changed, at the destinations (sources) whose addresses fall where its
// policy's side differs; for an instance added, removed or readdressed, at
// all its links.
func Deltas(before, after *Result) []Delta { return DeltasAmong(before, after, nil) }

// DeltasAmong is Deltas limited to links between the instances among
// accepts (and the internet): one tenant's part, at the cost of its own
// links only. A nil among accepts every instance.
func DeltasAmong(before, after *Result, among func(id string) bool) []Delta {
	ch := changes(before, after)
	ids := after.Instances()
	for i := range before.nodes {
		if _, ok := after.index[before.nodes[i].inst.ID]; !ok {
			ids = append(ids, before.nodes[i].inst.ID)
		}
	}
	if among != nil {
		ids = slices.DeleteFunc(ids, func(id string) bool { return !among(id) })
	}
	slices.Sort(ids)
	// Node indexes of every instance in each result (-1: absent).
	ib, ia := make([]int32, len(ids)), make([]int32, len(ids))
	for k, id := range ids {
		ib[k], ia[k] = -1, -1
		if i, ok := before.index[id]; ok {
			ib[k] = int32(i)
		}
		if i, ok := after.index[id]; ok {
			ia[k] = int32(i)
		}
	}
	// The node that locates an instance (its addresses are the same in
	// both results unless it is a full change).
	where := func(k int) *node {
		if ia[k] >= 0 {
			return &after.nodes[ia[k]]
		}
		return &before.nodes[ib[k]]
	}
	differ := func(a, b uint32) bool {
		if before.tab == after.tab {
			return a != b
		}
		return !before.tab.get(a).Equal(after.tab.get(b))
	}
	var out []Delta
	type line struct {
		k   int
		d   int // egress: a row (links from k); ingress: a column
		sub *sideChange
	}
	var lines []line
	for k, x := range ids {
		c, ok := ch[x]
		if !ok {
			continue
		}
		for d := range 2 {
			if c.full || c.dirs[d] != nil {
				lines = append(lines, line{k, d, c.dirs[d]})
			}
		}
		out = append(out, internetDeltas(before, after, x, ingress, c.full || c.dirs[ingress] != nil)...)
		out = append(out, internetDeltas(before, after, x, egress, c.full || c.dirs[egress] != nil)...)
	}
	rowDone := func(k int) bool { c, ok := ch[ids[k]]; return ok && (c.full || c.dirs[egress] != nil) }
	ingChanged := func(k int) bool { c, ok := ch[ids[k]]; return ok && (c.full || c.dirs[ingress] != nil) }
	workers := max(1, min(before.workers(), len(lines)))
	found := make([][]pairDelta, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			mb := before.tab.local()
			defer mb.release()
			ma := mb // one table (an Update of a Clone): one cache serves both
			if after.tab != before.tab {
				ma = after.tab.local()
				defer ma.release()
			}
			look := func(r *Result, m *memo, i, j int32) (v4, v6 uint32) {
				if i < 0 || j < 0 {
					return 0, 0
				}
				return r.pair(&r.nodes[i], &r.nodes[j], m)
			}
			var ds []pairDelta
			pair := func(x, y int) {
				b4, b6 := look(before, mb, ib[x], ib[y])
				a4, a6 := look(after, ma, ia[x], ia[y])
				if differ(b4, a4) {
					ds = append(ds, pairDelta{int32(x), int32(y), 4, b4, a4})
				}
				if differ(b6, a6) {
					ds = append(ds, pairDelta{int32(x), int32(y), 6, b6, a6})
				}
			}
			for l := w; l < len(lines); l += workers {
				k, sub := lines[l].k, lines[l].sub
				me := where(k)
				for o := range ids {
					if o == k {
						continue
					}
					if lines[l].d == egress {
						// A row: also the pairs towards instances whose
						// ingress changed (their columns skip rows).
						if sub == nil || ingChanged(o) || sub.holds(me, where(o), lines[l].d) {
							pair(k, o)
						}
					} else if !rowDone(o) && (sub == nil || sub.holds(me, where(o), lines[l].d)) {
						pair(o, k)
					}
				}
			}
			found[w] = ds
		})
	}
	wg.Wait()
	// The links with the internet (few) and those between instances
	// (small records, sorted by index: ids are sorted and unique), merged
	// into Deltas once, in order.
	byDelta := func(a, b Delta) int {
		return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To), cmp.Compare(a.IPVersion, b.IPVersion), a.First.Compare(b.First))
	}
	slices.SortFunc(out, byDelta)
	var pds []pairDelta
	for _, ds := range found {
		pds = append(pds, ds...)
	}
	slices.SortFunc(pds, func(a, b pairDelta) int {
		return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(a.y, b.y), cmp.Compare(a.v, b.v))
	})
	if len(pds) == 0 {
		return out
	}
	all := make([]Delta, 0, len(out)+len(pds))
	i := 0
	for _, p := range pds {
		d := Delta{From: ids[p.x], To: ids[p.y], IPVersion: int(p.v), Before: before.tab.get(p.before), After: after.tab.get(p.after)}
		for i < len(out) && byDelta(out[i], d) < 0 {
			all = append(all, out[i])
			i++
		}
		all = append(all, d)
	}
	return append(all, out[i:]...)
}

// pairDelta is a Delta between two instances (indexes into the sorted
// IDs) by the flow IDs of its tables, until the Deltas are made.
type pairDelta struct {
	x, y          int32
	v             int8 // IP version
	before, after uint32
}

// sideChange is where one direction of an instance's policy differs
// between two results: remote-address ranges per path and family.
type sideChange struct {
	ranges [2][2][]iprange.Range // [path][family]
}

// holds reports whether the other end of a link from (d egress) or to (d
// ingress) me lies where my policy changed, on the path and family the
// link uses.
func (c *sideChange) holds(me, other *node, d int) bool {
	for f, six := range []bool{false, true} {
		var k policy.AddrKind
		var rt policy.Route
		if d == egress {
			rt = policy.Path(me.end, other.end, me.net == other.net, six)
			k = rt.Egress.Dst
		} else {
			rt = policy.Path(other.end, me.end, me.net == other.net, six)
			k = rt.Ingress.Src
		}
		if rt.NoPath == "" && iprange.Holds(c.ranges[pathIndex(rt.NIC)][f], other.addr[k]) {
			return true
		}
	}
	return false
}

// instChange is how an instance differs between two results: entirely
// (added, removed, readdressed, or results of other options), or per
// direction where its sides differ (nil: unchanged).
type instChange struct {
	full bool
	dirs [2]*sideChange
}

// changes finds the instances whose links may differ between two results.
func changes(before, after *Result) map[string]instChange {
	all := before.opts.SourcePort != after.opts.SourcePort
	diffs := map[[2]*side]*[]iprange.Range{}
	sideDiff := func(a, b *side, six bool) []iprange.Range {
		if a == b {
			return nil
		}
		if d, ok := diffs[[2]*side{a, b}]; ok {
			return *d
		}
		d := diffSides(before.tab, after.tab, a, b, six)
		diffs[[2]*side{a, b}] = &d
		return d
	}
	out := map[string]instChange{}
	for i := range after.nodes {
		n := &after.nodes[i]
		// An Update that adds or removes no instance keeps the nodes in
		// place: look the map up only when it did.
		j, ok := i, i < len(before.nodes) && before.nodes[i].inst.ID == n.inst.ID
		if !ok {
			j, ok = before.index[n.inst.ID]
		}
		if all || !ok || !sameInstance(before.nodes[j].inst, n.inst) {
			out[n.inst.ID] = instChange{full: true}
			continue
		}
		o := &before.nodes[j]
		var c instChange
		for d := range 2 {
			var sc sideChange // on the stack: most nodes change nowhere
			any := false
			for p := range 2 {
				if o.cls[d][p] == n.cls[d][p] {
					continue
				}
				for f, six := range []bool{false, true} {
					r := sideDiff(&o.cls[d][p].sides[f], &n.cls[d][p].sides[f], six)
					sc.ranges[p][f] = r
					any = any || len(r) > 0
				}
			}
			if any {
				c.dirs[d] = new(sideChange)
				*c.dirs[d] = sc
			}
		}
		if c.dirs[0] != nil || c.dirs[1] != nil {
			out[n.inst.ID] = c
		}
	}
	for i := range before.nodes {
		if _, ok := after.index[before.nodes[i].inst.ID]; !ok {
			out[before.nodes[i].inst.ID] = instChange{full: true}
		}
	}
	return out
}

// diffSides returns the address ranges where two sides give different
// flows (sorted, merged).
func diffSides(ta, tb *table, a, b *side, six bool) []iprange.Range {
	var out []iprange.Range
	pieces(a, b, six, func(lo, hi iprange.Key, ia, ib uint32) {
		same := ia == ib
		if ta != tb {
			same = ta.get(ia).Equal(tb.get(ib))
		}
		if same {
			return
		}
		if n := len(out); n > 0 && out[n-1].Hi().Next() == lo {
			out[n-1] = out[n-1].WithHi(hi)
		} else {
			out = append(out, iprange.New(lo, hi, six))
		}
	})
	return out
}

// pieces walks the union of two sides' piece starts, calling fn in address
// order for each range lo..hi on which both sides keep one flow ID.
func pieces(a, b *side, six bool, fn func(lo, hi iprange.Key, ia, ib uint32)) {
	last := iprange.Last(six)
	i, j := 0, 0
	for lo := (iprange.Key{}); ; {
		for i+1 < len(a.starts) && !lo.Less(a.starts[i+1]) {
			i++
		}
		for j+1 < len(b.starts) && !lo.Less(b.starts[j+1]) {
			j++
		}
		hi := last
		if i+1 < len(a.starts) {
			hi = a.starts[i+1].Prev()
		}
		if j+1 < len(b.starts) && b.starts[j+1].Prev().Less(hi) {
			hi = b.starts[j+1].Prev()
		}
		fn(lo, hi, a.ids[i], b.ids[j])
		if hi == last {
			return
		}
		lo = hi.Next()
	}
}

// internetDeltas compares one instance's links with the internet in one
// direction, range by range.
func internetDeltas(before, after *Result, id string, d int, may bool) []Delta {
	if !may {
		return nil
	}
	var out []Delta
	for f, six := range []bool{false, true} {
		sb, okb := before.internetSide(id, d, six)
		sa, oka := after.internetSide(id, d, six)
		if !okb && !oka {
			continue
		}
		var cur *Delta
		pieces(sb, sa, six, func(lo, hi iprange.Key, ib, ia uint32) {
			pb, pa := before.tab.get(ib), after.tab.get(ia)
			if !pb.Equal(pa) {
				for _, x := range iprange.Subtract(iprange.New(lo, hi, six), after.inside[f]) {
					if cur != nil && cur.Last.Next() == x.First() && cur.Before.Equal(pb) && cur.After.Equal(pa) {
						cur.Last = x.Last()
						continue
					}
					from, to := Internet, id
					if d == egress {
						from, to = id, Internet
					}
					out = append(out, Delta{From: from, To: to, IPVersion: 4 + 2*f, First: x.First(), Last: x.Last(), Before: pb, After: pa})
					cur = &out[len(out)-1]
				}
			}
		})
	}
	return out
}

// emptySide accepts nothing from anywhere.
var emptySide = side{starts: []iprange.Key{{}}, ids: []uint32{0}}

// internetSide returns an instance's side towards the internet, if it has
// the address the family needs; ok is false if it has no link at all.
func (r *Result) internetSide(id string, d int, six bool) (*side, bool) {
	i, ok := r.index[id]
	if !ok {
		return &emptySide, false
	}
	n := &r.nodes[i]
	rt := outsideRoute(n, d, six)
	if rt.NoPath != "" {
		return &emptySide, false
	}
	return &n.cls[d][pathIndex(rt.NIC)].sides[b2i(six)], true
}
