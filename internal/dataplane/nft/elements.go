package nft

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/palisade-sg/palisade/internal/core/iprange"
)

// This file queues the changes to sets and maps.

// set creates a set or brings its elements up to date. Plain sets change
// element by element; an interval set that changed is flushed and filled
// again (prefix lists change rarely, and the boundaries of merged ranges
// do not diff well).
func (p *planner) set(s *Set) error {
	if isTuple(s.Type) {
		return p.tupleSet(s)
	}
	keys := elemKeys(s)
	p.new.sets[s.Name] = &kset{typ: s.Type, interval: s.Interval, elems: toSet(keys)}
	ns := p.nftSet(s)
	old, ok := p.old.sets[s.Name]
	switch {
	case !ok:
		if err := p.k.conn.AddSet(ns, nil); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		p.stats.SetsAdded++
		return p.addElems(ns, setElements(s), len(keys))
	case old.typ != s.Type || old.interval != s.Interval:
		return fmt.Errorf("set %s in table inet %s%s has another type than Palisade's; delete the table (nft delete table inet %s) and apply again",
			s.Name, p.k.table.Name, p.k.where(), p.k.table.Name)
	case s.Interval:
		if maps.Equal(old.elems, toSet(keys)) {
			return nil
		}
		p.k.conn.FlushSet(ns)
		p.stats.ElementsDeleted += len(old.elems)
		return p.addElems(ns, setElements(s), len(keys))
	}
	var add, del []string
	for _, key := range keys {
		if !old.elems[key] {
			add = append(add, key)
		}
	}
	for key := range old.elems {
		if !p.new.sets[s.Name].elems[key] {
			del = append(del, key)
		}
	}
	slices.Sort(del)
	if len(del) > 0 {
		elems, err := plainElements(s.Type, del)
		if err != nil {
			return err
		}
		for chunk := range slices.Chunk(elems, elemChunk) {
			if err := p.k.conn.SetDeleteElements(ns, chunk); err != nil {
				return fmt.Errorf("set %s: %w", s.Name, err)
			}
		}
		p.stats.ElementsDeleted += len(del)
	}
	elems, err := plainElements(s.Type, add)
	if err != nil {
		return err
	}
	return p.addElems(ns, elems, len(add))
}

// tupleSet creates a tuple set. They are named by their content: one that
// exists is right unless another program added or deleted elements, which
// are then deleted or added again (the others keep their counters). A
// verdict map's elements go to chains, so plan creates those before (see
// vmaps).
func (p *planner) tupleSet(s *Set) error {
	if old, ok := p.old.sets[s.Name]; ok && p.old == p.k.applied {
		// What this Kernel applied, not read from the kernel: a set named
		// by its content holds what it should, no need to encode it.
		p.new.sets[s.Name] = old
		return nil
	}
	ks := &kset{typ: s.Type, interval: true, vmap: s.VMap, elems: make(map[string]bool, len(s.Tuples))}
	p.new.sets[s.Name] = ks
	elems := make([]nftables.SetElement, len(s.Tuples))
	keys := make([]string, len(s.Tuples))
	for i, e := range s.Tuples {
		start, end := tupleKeys(e)
		elems[i] = nftables.SetElement{Key: start, KeyEnd: end, Comment: e.Key.String()}
		var verdict string
		if s.VMap {
			v := &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.Chain}
			elems[i].VerdictData = v
			verdict = elemVerdict(elems[i])
		}
		keys[i] = tupleElemKey(start, end, verdict)
		ks.elems[keys[i]] = true
	}
	ns := p.nftSet(s)
	old, ok := p.old.sets[s.Name]
	if !ok {
		if err := p.k.conn.AddSet(ns, nil); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		p.stats.SetsAdded++
		return p.addElems(ns, elems, len(elems))
	}
	if maps.Equal(old.elems, ks.elems) {
		return nil
	}
	var del []nftables.SetElement
	for _, key := range slices.Sorted(maps.Keys(old.elems)) {
		if ks.elems[key] {
			continue
		}
		start, end, err := parseTupleKey(key)
		if err != nil {
			return fmt.Errorf("set %s: element %q: %w", s.Name, key, err)
		}
		del = append(del, nftables.SetElement{Key: start, KeyEnd: end})
	}
	for chunk := range slices.Chunk(del, elemChunk) {
		if err := p.k.conn.SetDeleteElements(ns, chunk); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
	}
	p.stats.ElementsDeleted += len(del)
	var add []nftables.SetElement
	for i, key := range keys {
		if !old.elems[key] {
			add = append(add, elems[i])
		}
	}
	return p.addElems(ns, add, len(add))
}

func (p *planner) addElems(s *nftables.Set, elems []nftables.SetElement, n int) error {
	for chunk := range slices.Chunk(elems, elemChunk) {
		if err := p.k.conn.SetAddElements(s, chunk); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
	}
	p.stats.ElementsAdded += n
	return nil
}

func toSet(keys []string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func (p *planner) nftSet(s *Set) *nftables.Set {
	// The byte order goes into the set's user data, where nft reads how to
	// print the keys: addresses are big endian, names host endian (else nft
	// prints them as "").
	ns := &nftables.Set{Table: p.k.table, Name: s.Name, ID: p.enc.setID(), Interval: s.Interval, KeyByteOrder: binaryutil.BigEndian}
	if s.Type == IfName {
		ns.KeyByteOrder = binaryutil.NativeEndian
	}
	switch s.Type {
	case IPv4Addr:
		ns.KeyType = nftables.TypeIPAddr
	case IPv6Addr:
		ns.KeyType = nftables.TypeIP6Addr
	case IfName:
		ns.KeyType = nftables.TypeIFName
	case PortSet:
		ns.KeyType = nftables.TypeInetService
	case Tuple4:
		ns.KeyType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService, nftables.TypeIPAddr)
		ns.Concatenation, ns.Counter = true, true
	case Tuple6:
		ns.KeyType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService, nftables.TypeIP6Addr)
		ns.Concatenation, ns.Counter = true, true
	}
	if s.VMap {
		ns.IsMap, ns.DataType = true, nftables.TypeVerdict
	}
	return ns
}

func (p *planner) nftMap(name string) *nftables.Set {
	return &nftables.Set{Table: p.k.table, Name: name, ID: p.enc.setID(), IsMap: true,
		KeyType: nftables.TypeIFName, DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}
}

// setElements encodes a set's elements. Interval sets hold each range as a
// start element and an end element one past its last address (none when the
// range runs to the top), after a leading end at zero when the first range
// starts above it, as nft encodes them.
func setElements(s *Set) []nftables.SetElement {
	var out []nftables.SetElement
	switch {
	case s.Type == PortSet:
		be := func(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
		if len(s.Ports) > 0 && s.Ports[0].From > 0 {
			out = append(out, nftables.SetElement{Key: be(0), IntervalEnd: true})
		}
		for _, p := range s.Ports {
			out = append(out, nftables.SetElement{Key: be(int(p.From))})
			if p.To < 65535 {
				out = append(out, nftables.SetElement{Key: be(int(p.To) + 1), IntervalEnd: true})
			}
		}
	case s.Interval:
		rs := iprange.MergePrefixes(s.Prefixes)
		if len(rs) > 0 && !rs[0].First().IsUnspecified() {
			out = append(out, nftables.SetElement{Key: netip.PrefixFrom(rs[0].First(), 0).Masked().Addr().AsSlice(), IntervalEnd: true})
		}
		for _, r := range rs {
			out = append(out, nftables.SetElement{Key: r.First().AsSlice()})
			if next := r.Last().Next(); next.IsValid() {
				out = append(out, nftables.SetElement{Key: next.AsSlice(), IntervalEnd: true})
			}
		}
	case s.Type == IfName:
		for _, n := range s.Names {
			out = append(out, nftables.SetElement{Key: ifname(n)})
		}
	default:
		for _, a := range s.Addrs {
			out = append(out, nftables.SetElement{Key: a.AsSlice()})
		}
	}
	return out
}

// plainElements encodes the keys of a plain set.
func plainElements(typ SetType, keys []string) ([]nftables.SetElement, error) {
	out := make([]nftables.SetElement, 0, len(keys))
	for _, key := range keys {
		if typ == IfName {
			out = append(out, nftables.SetElement{Key: ifname(key)})
			continue
		}
		a, err := netip.ParseAddr(key)
		if err != nil {
			return nil, fmt.Errorf("set element %q: %w", key, err)
		}
		out = append(out, nftables.SetElement{Key: a.AsSlice()})
	}
	return out, nil
}

// mapElems brings a verdict map's elements up to date.
func (p *planner) mapElems(m Map) error {
	old := p.old.maps[m.Name]
	cur := make(map[string]string, len(m.Elems))
	for _, e := range m.Elems {
		cur[e.Interface] = e.Chain
	}
	p.new.maps[m.Name] = cur
	var del, add []nftables.SetElement
	for _, iface := range slices.Sorted(maps.Keys(old)) {
		if ch, ok := cur[iface]; !ok || ch != old[iface] {
			del = append(del, nftables.SetElement{Key: ifname(iface)})
		}
	}
	for _, e := range m.Elems {
		if ch, ok := old[e.Interface]; !ok || ch != e.Chain {
			add = append(add, nftables.SetElement{Key: ifname(e.Interface),
				VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: e.Chain}})
		}
	}
	s := p.nftMap(m.Name)
	for chunk := range slices.Chunk(del, elemChunk) {
		if err := p.k.conn.SetDeleteElements(s, chunk); err != nil {
			return fmt.Errorf("map %s: %w", m.Name, err)
		}
	}
	for chunk := range slices.Chunk(add, elemChunk) {
		if err := p.k.conn.SetAddElements(s, chunk); err != nil {
			return fmt.Errorf("map %s: %w", m.Name, err)
		}
	}
	p.stats.ElementsDeleted += len(del)
	p.stats.ElementsAdded += len(add)
	return nil
}
