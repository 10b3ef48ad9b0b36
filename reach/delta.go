package reach

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/space"
)

// Delta is a difference between two results for one link and family: what
// passed before and what passes after. For a link with the internet, First
// and Last bound the outside addresses concerned.
type Delta struct {
	From, To      string
	IPVersion     int
	First, Last   netip.Addr
	Before, After Ports
}

// Deltas lists every link and family whose flows differ between two results
// of the same cloud before and after a change. It only walks links of
// affected instances (see Affected): rows of instances whose egress may
// differ, columns of those whose ingress may.
func Deltas(before, after *Result) []Delta {
	ch := changed(before, after)
	ids := after.Instances()
	for i := range before.nodes {
		if _, ok := after.index[before.nodes[i].inst.ID]; !ok {
			ids = append(ids, before.nodes[i].inst.ID)
		}
	}
	slices.Sort(ids)
	mb, ma := before.tab.local(), after.tab.local()
	var out []Delta
	look := func(r *Result, m *memo, from, to string) (v4, v6 uint32, ok bool) {
		i, ok1 := r.index[from]
		j, ok2 := r.index[to]
		if !ok1 || !ok2 {
			return 0, 0, false
		}
		v4, v6 = r.pair(&r.nodes[i], &r.nodes[j], m)
		return v4, v6, true
	}
	differ := func(a, b uint32) bool {
		if before.tab == after.tab {
			return a != b
		}
		return !before.tab.get(a).Equal(after.tab.get(b))
	}
	pair := func(from, to string) {
		b4, b6, _ := look(before, mb, from, to)
		a4, a6, _ := look(after, ma, from, to)
		if differ(b4, a4) {
			out = append(out, Delta{From: from, To: to, IPVersion: 4, Before: before.tab.get(b4), After: after.tab.get(a4)})
		}
		if differ(b6, a6) {
			out = append(out, Delta{From: from, To: to, IPVersion: 6, Before: before.tab.get(b6), After: after.tab.get(a6)})
		}
	}
	for _, x := range ids {
		f, ok := ch[x]
		for _, y := range ids {
			switch {
			case x == y:
			case ok && f[egress]:
				pair(x, y)
			default:
				if g, ok := ch[y]; ok && g[ingress] {
					pair(x, y)
				}
			}
		}
		if ok {
			out = append(out, internetDeltas(before, after, x, ingress, f[ingress])...)
			out = append(out, internetDeltas(before, after, x, egress, f[egress])...)
		}
	}
	slices.SortFunc(out, func(a, b Delta) int {
		return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To), cmp.Compare(a.IPVersion, b.IPVersion), a.First.Compare(b.First))
	})
	return out
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
		last := space.Last(six)
		// Walk the union of both sides' piece starts.
		i, j := 0, 0
		var cur *Delta
		for lo := (space.Key{}); ; {
			for i+1 < len(sb.starts) && !lo.Less(sb.starts[i+1]) {
				i++
			}
			for j+1 < len(sa.starts) && !lo.Less(sa.starts[j+1]) {
				j++
			}
			hi := last
			if i+1 < len(sb.starts) {
				hi = sb.starts[i+1].Prev()
			}
			if j+1 < len(sa.starts) && sa.starts[j+1].Prev().Less(hi) {
				hi = sa.starts[j+1].Prev()
			}
			pb, pa := before.tab.get(sb.ids[i]), after.tab.get(sa.ids[j])
			if !pb.Equal(pa) {
				for _, x := range subtract(space.Range{Lo: lo, Hi: hi}, after.inside[f]) {
					if cur != nil && cur.Last.Next() == x.Lo.Addr(six) && cur.Before.Equal(pb) && cur.After.Equal(pa) {
						cur.Last = x.Hi.Addr(six)
						continue
					}
					from, to := Internet, id
					if d == egress {
						from, to = id, Internet
					}
					out = append(out, Delta{From: from, To: to, IPVersion: 4 + 2*f, First: x.Lo.Addr(six), Last: x.Hi.Addr(six), Before: pb, After: pa})
					cur = &out[len(out)-1]
				}
			}
			if hi == last {
				break
			}
			lo = hi.Next()
		}
	}
	return out
}

// emptySide accepts nothing from anywhere.
var emptySide = side{starts: []space.Key{{}}, ids: []uint32{0}}

// internetSide returns an instance's side towards the internet, if it has
// the address the family needs; ok is false if it has no link at all.
func (r *Result) internetSide(id string, d int, six bool) (*side, bool) {
	i, ok := r.index[id]
	if !ok {
		return &emptySide, false
	}
	n := &r.nodes[i]
	if !six && !n.inst.PublicIP.IsValid() || six && !n.inst.IPv6.IsValid() {
		return &emptySide, false
	}
	return &n.cls[d][public].sides[b2i(six)], true
}
