package reach

import (
	"cmp"
	"slices"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Walking many pairs pair by pair costs two binary searches each. A walk
// instead cuts the pairs into blocks of one family and route of
// policy.Path (inside each VPC, and across VPCs), sorts each block's
// endpoints by the address the other side sees, and sweeps every side along the sorted addresses: each pair then
// costs two array reads and a cached meet.

// block is a set of pairs of one family and path.
type block struct {
	rows, cols []int32
	six        bool
	path       int  // intra or public
	cross      bool // pairs in the same network belong to another block
	// The address of a row its column's ingress sees, and of a column its
	// row's egress sees (policy.Route.Ingress.Src, Egress.Dst).
	rowAddr, colAddr policy.AddrKind
}

// visitor receives the pairs of a walk with something open, row by row.
type visitor interface {
	pair(i, j int32, six bool, id uint32)
	rowEnd(i int32)
}

// addr is an address of a node as a key.
func (r *Result) addr(i int32, k policy.AddrKind) iprange.Key { return r.nodes[i].addr[k] }

// anyEnd is an instance with every address: the end a row or column is
// paired with when asking whether it has a path at all.
var anyEnd = policy.End{Public: true, IPv6: true}

// blocks cuts rows × cols into blocks: per VPC and family, the pairs inside
// it; per family, the pairs across VPCs. Each block is one route of
// policy.Path: its members are the instances with the addresses the route
// needs, and every pair in it meets on the same path and kinds of address.
func (r *Result) blocks(rows, cols []int) []block {
	type kind struct {
		same, six bool
		rt        policy.Route
	}
	var kinds [2][2]kind // [same][six]
	for _, same := range []bool{true, false} {
		for _, six := range []bool{false, true} {
			kinds[b2i(same)][b2i(six)] = kind{same, six, policy.Path(anyEnd, anyEnd, same, six)}
		}
	}
	newBlock := func(k kind) *block {
		return &block{six: k.six, path: pathIndex(k.rt.NIC), cross: !k.same, rowAddr: k.rt.Ingress.Src, colAddr: k.rt.Egress.Dst}
	}
	// Blocks inside each VPC, [six], and across VPCs.
	nets := map[string]*[2]*block{}
	var across [2]*block
	for six := range 2 {
		across[six] = newBlock(kinds[0][six])
	}
	get := func(i int) *[2]*block {
		v := r.nodes[i].inst.VpcID
		n := nets[v]
		if n == nil {
			n = &[2]*block{newBlock(kinds[1][0]), newBlock(kinds[1][1])}
			nets[v] = n
		}
		return n
	}
	for _, i := range rows {
		n, e := get(i), r.nodes[i].end
		for six := range 2 {
			if policy.Path(e, anyEnd, true, six == 1).NoPath == "" {
				n[six].rows = append(n[six].rows, int32(i))
			}
			if policy.Path(e, anyEnd, false, six == 1).NoPath == "" {
				across[six].rows = append(across[six].rows, int32(i))
			}
		}
	}
	for _, j := range cols {
		n, e := get(j), r.nodes[j].end
		for six := range 2 {
			if policy.Path(anyEnd, e, true, six == 1).NoPath == "" {
				n[six].cols = append(n[six].cols, int32(j))
			}
			if policy.Path(anyEnd, e, false, six == 1).NoPath == "" {
				across[six].cols = append(across[six].cols, int32(j))
			}
		}
	}
	var out []block
	ids := make([]string, 0, len(nets))
	for v := range nets {
		ids = append(ids, v)
	}
	slices.Sort(ids)
	for _, v := range ids {
		out = append(out, *nets[v][0], *nets[v][1])
	}
	out = append(out, *across[0], *across[1])
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
		for _, s := range []struct {
			ids []int32
			k   policy.AddrKind
		}{{b.rows, b.rowAddr}, {b.cols, b.colAddr}} {
			slices.SortFunc(s.ids, func(x, y int32) int {
				return cmp.Or(r.addr(x, s.k).Compare(r.addr(y, s.k)), cmp.Compare(x, y))
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
			defer m.release()
			var eg, ig, tmp []uint32
			var rowKeys, colKeys []iprange.Key
			for t := w; t < len(tasks); t += len(vs) {
				b, rows := tasks[t].b, tasks[t].b.rows[tasks[t].lo:tasks[t].hi]
				nc := len(b.cols)
				f := b2i(b.six)
				colKeys = colKeys[:0]
				for _, j := range b.cols {
					colKeys = append(colKeys, r.addr(j, b.colAddr))
				}
				rowKeys = rowKeys[:0]
				for _, i := range rows {
					rowKeys = append(rowKeys, r.addr(i, b.rowAddr))
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
func sweep(s *side, keys []iprange.Key, out []uint32) {
	p := 0
	for k, key := range keys {
		for p+1 < len(s.starts) && !key.Less(s.starts[p+1]) {
			p++
		}
		out[k] = s.ids[p]
	}
}
