package reach

import (
	"encoding/binary"
	"slices"

	"github.com/palisade-sg/palisade/model"
	"github.com/palisade-sg/palisade/space"
)

// side is one family of one policy class reduced to what reachability needs:
// the remote-address pieces and, for each, the interned set of flows the
// policy accepts from (or to) there.
type side struct {
	starts []space.Key
	ids    []uint32
}

func (s *side) at(k space.Key) uint32 { return s.ids[space.SearchKey(s.starts, k)] }

// class is the policy of every instance with one space.ClassKey on one
// direction and path. Classes never change once built; Update replaces them.
type class struct {
	key   string
	sides [2]side // IPv4, IPv6
	// What the class depends on besides its own groups' rules: the groups
	// whose members it names (peers, intra-group grants) and prefix lists.
	groups, refs, lists []string
}

// buildClass analyses the program of a representative instance.
func buildClass(res *space.Resolver, tab *table, sc *scratch, key string, in *model.Instance, dir model.Direction, nic model.NicType, sport uint16) *class {
	o := space.Options{SourcePort: sport, IPVersion: 4, PartitionOnly: true, Scratch: &sc.space}
	if in.IPv6.IsValid() {
		o.IPVersion = 0
	}
	sp := space.ForInstance(res, in, dir, nic, o)
	cl := &class{key: key}
	for _, g := range res.Cloud.GroupsOf(in) {
		cl.groups = append(cl.groups, g.ID)
	}
	cl.refs = append(cl.refs, sp.Program.Intra...)
	for _, r := range sp.Program.Rules {
		switch {
		case r.Peer.GroupID != "":
			cl.refs = append(cl.refs, r.Peer.GroupID)
		case r.Peer.PrefixListID != "":
			cl.lists = append(cl.lists, r.Peer.PrefixListID)
		}
	}
	for _, s := range []*[]string{&cl.refs, &cl.lists} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	cl.sides[0] = sideOf(sp, false, tab, sc)
	if sp.Has(true) {
		cl.sides[1] = sideOf(sp, true, tab, sc)
	} else {
		// Never read: pairs and internet links need an IPv6 address.
		cl.sides[1] = side{starts: []space.Key{{}}, ids: []uint32{0}}
	}
	return cl
}

// column is one protocol and destination-port interval of a space.
type column struct {
	proto  space.Proto
	lo, hi uint16
	at     *space.AddrTable
}

// scratch holds a class build's working memory, reused by one goroutine.
type scratch struct {
	space  space.Scratch
	cols   []column
	tables []*space.AddrTable
	accept []bool
	bits   []uint64
	key    []byte
	local  map[string]uint32
}

// sideOf merges the address tables of every protocol and port interval of
// one family into one list of address pieces, each with the flows accepted
// there. A piece's flows are first gathered as a bit set over the columns,
// so pieces alike are converted and interned once.
func sideOf(sp *space.Space, six bool, tab *table, sc *scratch) side {
	part := sp.Parts[0]
	f, icmp := 0, space.ICMP
	if six {
		f, icmp = 1, space.ICMPv6
	}
	cols, tables := sc.cols[:0], sc.tables[:0]
	for _, p := range []space.Proto{space.TCP, space.UDP, icmp, space.GRE} {
		pt := part.Tables[f][p]
		for k, at := range pt.Addrs {
			lo, hi := pt.Starts[k], uint16(65535)
			if k+1 < len(pt.Starts) {
				hi = pt.Starts[k+1] - 1
			}
			if p.Ports() {
				if hi == 0 {
					continue // port 0 is not a destination flows use
				}
				lo = max(lo, 1)
			}
			cols = append(cols, column{p, lo, hi, at})
			if !slices.Contains(tables, at) {
				tables = append(tables, at)
			}
		}
	}
	// Every table's starts are among the space's pieces, already sorted.
	starts := sp.Pieces(six)
	n := len(starts)

	// accept[t*n+j]: table t accepts on piece j.
	accept := slices.Grow(sc.accept[:0], len(tables)*n)[:len(tables)*n]
	for t, at := range tables {
		// Table pieces are runs of the space's pieces: fill run by run.
		acc := accept[t*n : (t+1)*n]
		j := 0
		for k := range at.Starts {
			a := sp.Accepts(at.By[k])
			end := n
			if k+1 < len(at.Starts) {
				end = j
				for starts[end] != at.Starts[k+1] {
					end++
				}
			}
			for ; j < end; j++ {
				acc[j] = a
			}
		}
	}
	words := (len(cols) + 63) / 64
	bits := slices.Grow(sc.bits[:0], n*words)[:n*words]
	clear(bits)
	for c, col := range cols {
		t := slices.Index(tables, col.at)
		acc := accept[t*n : (t+1)*n]
		w, bit := c/64, uint64(1)<<(c%64)
		for j, a := range acc {
			if a {
				bits[j*words+w] |= bit
			}
		}
	}
	if sc.local == nil {
		sc.local = map[string]uint32{}
	}
	clear(sc.local)
	var ids []uint32
	var out []space.Key
	key := sc.key[:0]
	for j := range n {
		w := bits[j*words : (j+1)*words]
		// Neighbouring pieces often agree: no lookup then.
		if j > 0 && slices.Equal(w, bits[(j-1)*words:j*words]) {
			continue
		}
		key = key[:0]
		for _, x := range w {
			key = binary.LittleEndian.AppendUint64(key, x)
		}
		id, ok := sc.local[string(key)]
		if !ok {
			id = tab.intern(portsOf(cols, w))
			sc.local[string(key)] = id
		}
		if m := len(ids); m > 0 && ids[m-1] == id {
			continue
		}
		out = append(out, starts[j])
		ids = append(ids, id)
	}
	sc.cols, sc.tables, sc.accept, sc.bits, sc.key = cols, tables, accept, bits, key
	return side{starts: slices.Clip(out), ids: slices.Clip(ids)}
}

// portsOf converts a bit set over columns to a port set.
func portsOf(cols []column, w []uint64) Ports {
	var p Ports
	for c, col := range cols {
		if w[c/64]&(1<<(c%64)) == 0 {
			continue
		}
		r := PortRange{col.lo, col.hi}
		switch col.proto {
		case space.TCP:
			p.TCP = appendMerged(p.TCP, []PortRange{r})
		case space.UDP:
			p.UDP = appendMerged(p.UDP, []PortRange{r})
		case space.ICMP:
			p.ICMP = true
		case space.ICMPv6:
			p.ICMPv6 = true
		case space.GRE:
			p.GRE = true
		}
	}
	return p
}

// set returns a copy of the side where one address gets another set.
func (s side) set(k space.Key, id uint32, six bool) side {
	p := space.SearchKey(s.starts, k)
	if s.ids[p] == id {
		return s
	}
	starts := make([]space.Key, 0, len(s.starts)+2)
	ids := make([]uint32, 0, len(s.ids)+2)
	add := func(start space.Key, id uint32) {
		if n := len(ids); n > 0 && ids[n-1] == id {
			return
		}
		starts, ids = append(starts, start), append(ids, id)
	}
	for q := range s.starts {
		if q != p {
			add(s.starts[q], s.ids[q])
			continue
		}
		// Split piece p around k.
		if s.starts[q].Less(k) {
			add(s.starts[q], s.ids[q])
		}
		add(k, id)
		end := space.Last(six)
		if q+1 < len(s.starts) {
			end = s.starts[q+1].Prev()
		}
		if k.Less(end) {
			add(k.Next(), s.ids[q])
		}
	}
	return side{starts: starts, ids: ids}
}

// patchClass returns a copy of a class whose sides are recomputed at a few
// addresses (those whose group memberships changed), the rest being
// unchanged.
func (r *Result) patchClass(cl *class, rep *model.Instance, dir model.Direction, nic model.NicType, points [2][]space.Key) *class {
	n := *cl
	prog := r.cloud.Program(rep, dir, nic)
	o := space.Options{SourcePort: r.opts.SourcePort, Local4: rep.PrivateIP, Local6: rep.IPv6}
	for f, six := range []bool{false, true} {
		if six && !rep.IPv6.IsValid() {
			continue // this class keeps no IPv6 side
		}
		s := cl.sides[f]
		for _, k := range points[f] {
			s = s.set(k, r.tab.intern(portsOfSegments(space.Point(r.res, &prog, o, six, k), six)), six)
		}
		n.sides[f] = s
	}
	return &n
}

// portsOfSegments gathers the accepted flows of one family from a column.
func portsOfSegments(segs []space.Segment, six bool) Ports {
	var p Ports
	icmp := space.ICMP
	if six {
		icmp = space.ICMPv6
	}
	for _, s := range segs {
		if !s.Accept {
			continue
		}
		switch s.Proto {
		case space.TCP, space.UDP:
			if s.Ports.Hi == 0 {
				continue
			}
			r := PortRange{max(s.Ports.Lo, 1), s.Ports.Hi}
			if s.Proto == space.TCP {
				p.TCP = appendMerged(p.TCP, []PortRange{r})
			} else {
				p.UDP = appendMerged(p.UDP, []PortRange{r})
			}
		case icmp:
			if six {
				p.ICMPv6 = true
			} else {
				p.ICMP = true
			}
		case space.GRE:
			p.GRE = true
		}
	}
	return p
}
