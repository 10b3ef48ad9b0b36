package reach

import (
	"cmp"
	"slices"
	"sync"

	"github.com/palisade-sg/palisade/internal/analysis/space"
)

// Walking many pairs pair by pair costs two binary searches each. A walk
// instead cuts the pairs into blocks of one family and path (the members
// of one VPC over IPv4, the public addresses across VPCs, IPv6 inside and
// across VPCs), sorts each block's endpoints by the address the other side
// sees, and sweeps every side along the sorted addresses: each pair then
// costs two array reads and a cached meet.

// block is a set of pairs of one family and path.
type block struct {
	rows, cols []int32
	six        bool
	path       int  // intra or public
	cross      bool // pairs in the same network belong to another block
}

// visitor receives the pairs of a walk with something open, row by row.
type visitor interface {
	pair(i, j int32, six bool, id uint32)
	rowEnd(i int32)
}

// addr is the address a node shows the other side of a block.
func (r *Result) addr(i int32, b *block) space.Key {
	switch {
	case b.six:
		return r.nodes[i].addr[ipv6Addr]
	case b.path == public:
		return r.nodes[i].addr[publicAddr]
	}
	return r.nodes[i].addr[privateAddr]
}

// blocks cuts rows × cols into blocks.
func (r *Result) blocks(rows, cols []int) []block {
	type net struct{ r4, c4, r6, c6 []int32 }
	nets := map[string]*net{}
	var pub, six block
	pub.path, pub.cross = public, true
	six.six, six.path, six.cross = true, public, true
	get := func(i int) *net {
		v := r.nodes[i].inst.VpcID
		n := nets[v]
		if n == nil {
			n = &net{}
			nets[v] = n
		}
		return n
	}
	for _, i := range rows {
		in := r.nodes[i].inst
		n := get(i)
		n.r4 = append(n.r4, int32(i))
		if in.PublicIP.IsValid() {
			pub.rows = append(pub.rows, int32(i))
		}
		if in.IPv6.IsValid() {
			n.r6 = append(n.r6, int32(i))
			six.rows = append(six.rows, int32(i))
		}
	}
	for _, j := range cols {
		in := r.nodes[j].inst
		n := get(j)
		n.c4 = append(n.c4, int32(j))
		if in.PublicIP.IsValid() {
			pub.cols = append(pub.cols, int32(j))
		}
		if in.IPv6.IsValid() {
			n.c6 = append(n.c6, int32(j))
			six.cols = append(six.cols, int32(j))
		}
	}
	var out []block
	ids := make([]string, 0, len(nets))
	for v := range nets {
		ids = append(ids, v)
	}
	slices.Sort(ids)
	for _, v := range ids {
		n := nets[v]
		out = append(out, block{rows: n.r4, cols: n.c4, path: intra}, block{rows: n.r6, cols: n.c6, six: true, path: intra})
	}
	out = append(out, pub, six)
	return slices.DeleteFunc(out, func(b block) bool { return len(b.rows) == 0 || len(b.cols) == 0 })
}

// chunkRows bounds the memory of a walk: chunkRows × columns IDs per side.
const chunkRows = 128

// walk visits every pair of rows × cols with something open, spreading the
// work over the visitors (one goroutine each).
func (r *Result) walk(rows, cols []int, vs []visitor) {
	type task struct {
		b      *block
		lo, hi int
	}
	bs := r.blocks(rows, cols)
	var tasks []task
	for k := range bs {
		b := &bs[k]
		// Sort both sides by the address the other side sees.
		for _, s := range [][]int32{b.rows, b.cols} {
			slices.SortFunc(s, func(x, y int32) int {
				return cmp.Or(r.addr(x, b).Compare(r.addr(y, b)), cmp.Compare(x, y))
			})
		}
		for lo := 0; lo < len(b.rows); lo += chunkRows {
			tasks = append(tasks, task{b, lo, min(lo+chunkRows, len(b.rows))})
		}
	}
	var wg sync.WaitGroup
	for w, v := range vs {
		wg.Go(func() {
			m := r.tab.local()
			var eg, ig, tmp []uint32
			var rowKeys, colKeys []space.Key
			for t := w; t < len(tasks); t += len(vs) {
				b, rows := tasks[t].b, tasks[t].b.rows[tasks[t].lo:tasks[t].hi]
				nc := len(b.cols)
				f := b2i(b.six)
				colKeys = colKeys[:0]
				for _, j := range b.cols {
					colKeys = append(colKeys, r.addr(j, b))
				}
				rowKeys = rowKeys[:0]
				for _, i := range rows {
					rowKeys = append(rowKeys, r.addr(i, b))
				}
				eg = slices.Grow(eg[:0], len(rows)*nc)[:len(rows)*nc]
				ig = slices.Grow(ig[:0], len(rows)*nc)[:len(rows)*nc]
				for k, i := range rows {
					sweep(&r.nodes[i].cls[egress][b.path].sides[f], colKeys, eg[k*nc:(k+1)*nc])
				}
				tmp = slices.Grow(tmp[:0], len(rows))[:len(rows)]
				for c, j := range b.cols {
					sweep(&r.nodes[j].cls[ingress][b.path].sides[f], rowKeys, tmp)
					for k := range rows {
						ig[k*nc+c] = tmp[k]
					}
				}
				for k, i := range rows {
					net := r.nodes[i].net
					for c, j := range b.cols {
						e := eg[k*nc+c]
						if e == 0 || i == j || b.cross && r.nodes[j].net == net {
							continue
						}
						if id := m.meet(e, ig[k*nc+c]); id != 0 {
							v.pair(i, j, b.six, id)
						}
					}
					v.rowEnd(i)
				}
			}
		})
	}
	wg.Wait()
}

// sweep looks up sorted keys in a side: out[k] is the set at keys[k].
func sweep(s *side, keys []space.Key, out []uint32) {
	p := 0
	for k, key := range keys {
		for p+1 < len(s.starts) && !key.Less(s.starts[p+1]) {
			p++
		}
		out[k] = s.ids[p]
	}
}
