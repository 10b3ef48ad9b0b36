package space

import (
	"maps"
	"math/bits"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// Index numbers, once per snapshot, every address where a range of a peer
// of the cloud's rules (or of a group, as an intra-group grant) starts or
// ends, per family and in address order. A build given one
// (Options.Index) cuts its pieces by setting the numbers of its ranges'
// bounds in a bit set and reading them back in order, instead of sorting
// the bounds' addresses and searching for each range's pieces: most of
// the cost of cutting pieces, and builds by the thousand cut them from the
// same ranges. A range the index lacks (a snapshot it was not made for)
// makes the build cut its pieces itself.
//
// It also keeps each rule reduced to what painting needs, once.
type Index struct {
	res   *Resolver
	keys  [2][]iprange.Key // a family's bounds, in order; keys[f][0] is the first address
	ranks map[*iprange.Range][]int32
	// The cloud's rules numbered, groups in ID order and each group's
	// rules in order: num[r] is r's number, rules and preps are by number.
	num   map[*model.Rule]int32
	rules []*model.Rule
	preps []prep
}

// Rules lists the cloud's rules by number (see Space.RuleNumbers):
// groups in ID order, each group's rules in order.
func (ix *Index) Rules() []*model.Rule { return ix.rules }

// NewIndex indexes the peers of every rule of a resolver's cloud, and its
// groups.
func NewIndex(res *Resolver) *Index {
	ix := &Index{res: res, ranks: map[*iprange.Range][]int32{}, num: map[*model.Rule]int32{}}
	var arrays [2][][]iprange.Range
	add := func(sets [2][]iprange.Range) {
		for f, rs := range sets {
			if len(rs) == 0 {
				continue
			}
			if _, ok := ix.ranks[&rs[0]]; ok {
				continue
			}
			ix.ranks[&rs[0]] = nil
			arrays[f] = append(arrays[f], rs)
		}
	}
	n := 0
	for _, g := range res.Cloud.Groups {
		n += len(g.Rules)
	}
	ix.rules, ix.preps = make([]*model.Rule, 0, n), make([]prep, 0, n)
	for _, id := range slices.Sorted(maps.Keys(res.Cloud.Groups)) {
		g := res.Cloud.Groups[id]
		add(res.Group(id))
		for i := range g.Rules {
			rp := prepOf(res, &g.Rules[i])
			ix.num[&g.Rules[i]] = int32(len(ix.rules))
			ix.rules = append(ix.rules, &g.Rules[i])
			ix.preps = append(ix.preps, rp)
			add(rp.ranges)
		}
	}
	for f := range 2 {
		last := iprange.Last(f == 1)
		keys := []iprange.Key{{}}
		for _, rs := range arrays[f] {
			for _, r := range rs {
				keys = append(keys, r.Lo())
				if r.Hi() != last {
					keys = append(keys, r.Hi().Next())
				}
			}
		}
		slices.SortFunc(keys, iprange.Key.Compare)
		keys = slices.Compact(keys)
		ix.keys[f] = keys
		rank := func(k iprange.Key) int32 {
			i, _ := slices.BinarySearchFunc(keys, k, iprange.Key.Compare)
			return int32(i)
		}
		for _, rs := range arrays[f] {
			// Per range: the number of its first address, and of the
			// address after its last (-1: it runs to the family's end).
			rk := make([]int32, 0, 2*len(rs))
			for _, r := range rs {
				hi := int32(-1)
				if r.Hi() != last {
					hi = rank(r.Hi().Next())
				}
				rk = append(rk, rank(r.Lo()), hi)
			}
			ix.ranks[&rs[0]] = rk
		}
	}
	return ix
}

// indexed cuts a family's pieces from the index: the pieces' starts, and
// the spans of the distinct arrays (spans[off[d]:off[d+1]] are those of
// distinct[d]); false if the index lacks an array.
func (b *builder) indexed(f int, distinct [][]iprange.Range, nr int) (starts []iprange.Key, spans []span, off []int32, ok bool) {
	ix := b.s.Options.Index
	keys := ix.keys[f]
	sc := b.tmp.sc
	ranks := sc.rankLists[:0]
	defer func() {
		clear(ranks)
		sc.rankLists = ranks[:0]
	}()
	for _, rs := range distinct {
		rk, ok := ix.ranks[&rs[0]]
		if !ok || len(rk) != 2*len(rs) {
			return nil, nil, nil, false
		}
		ranks = append(ranks, rk)
	}
	words := (len(keys) + 63) / 64
	bits := slices.Grow(sc.bits[:0], words)[:words]
	sc.bits = bits
	clear(bits)
	bits[0] = 1 // the family's first address
	for _, rk := range ranks {
		for _, r := range rk {
			if r >= 0 {
				bits[r>>6] |= 1 << (r & 63)
			}
		}
	}
	np := 0
	for _, x := range bits {
		np += popcount(x)
	}
	starts = b.tmp.keyN(np)
	pos := slices.Grow(sc.pos[:0], len(keys))[:len(keys)] // only the set numbers' are read
	sc.pos = pos
	j := int32(0)
	for w, x := range bits {
		for x != 0 {
			r := w*64 + trailingZeros(x)
			x &= x - 1
			starts[j], pos[r] = keys[r], j
			j++
		}
	}
	spans, off = b.tmp.spanN(nr), b.tmp.int32N(len(distinct)+1)
	off[0] = 0
	for d, rk := range ranks {
		out := spans[off[d] : int(off[d])+len(rk)/2]
		for i := range out {
			hi := int32(np - 1)
			if h := rk[2*i+1]; h >= 0 {
				hi = pos[h] - 1
			}
			out[i] = span{pos[rk[2*i]], hi}
		}
		off[d+1] = off[d] + int32(len(out))
	}
	return starts, spans, off, true
}

func popcount(x uint64) int      { return bits.OnesCount64(x) }
func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }
