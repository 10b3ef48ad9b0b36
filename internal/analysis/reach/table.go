package reach

import (
	"encoding/binary"
	"sync"
)

// table interns port sets, so that sides and pairs hold small integers and
// the meet of two sets is computed once. ID 0 is the empty set. Results
// derived from one another (Clone, Update) share a table, so their IDs
// compare directly. Safe for concurrent use.
type table struct {
	mu   sync.RWMutex
	sets []Ports
	ids  map[string]uint32
	// memo holds the meet (low bit 0) and join (low bit 1) of two IDs, in
	// shards so that workers meeting new pairs do not queue on one lock.
	memo [16]memoShard
}

type memoShard struct {
	mu sync.RWMutex
	m  map[uint64]uint32
}

func newTable() *table {
	t := &table{sets: []Ports{{}}, ids: map[string]uint32{string(encode(nil, Ports{})): 0}}
	for i := range t.memo {
		t.memo[i].m = map[uint64]uint32{}
	}
	return t
}

func encode(b []byte, p Ports) []byte {
	flags := byte(0)
	if p.ICMP {
		flags |= 1
	}
	if p.ICMPv6 {
		flags |= 2
	}
	if p.GRE {
		flags |= 4
	}
	b = append(b, flags)
	for _, rs := range [][]PortRange{p.TCP, p.UDP} {
		b = binary.AppendUvarint(b, uint64(len(rs)))
		for _, r := range rs {
			b = binary.LittleEndian.AppendUint16(b, r.From)
			b = binary.LittleEndian.AppendUint16(b, r.To)
		}
	}
	return b
}

func (t *table) intern(p Ports) uint32 {
	key := encode(make([]byte, 0, 16), p)
	t.mu.RLock()
	id, ok := t.ids[string(key)]
	t.mu.RUnlock()
	if ok {
		return id
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[string(key)]; ok {
		return id
	}
	id = uint32(len(t.sets))
	t.sets = append(t.sets, p)
	t.ids[string(key)] = id
	return id
}

// get returns an interned set; callers must not modify it.
func (t *table) get(id uint32) Ports {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.sets[id]
}

func (t *table) meet(a, b uint32) uint32 {
	switch {
	case a == 0 || b == 0:
		return 0
	case a == b:
		return a
	}
	return t.combine(min(a, b), max(a, b), 0)
}

func (t *table) join(a, b uint32) uint32 {
	switch {
	case a == 0 || a == b:
		return b
	case b == 0:
		return a
	}
	return t.combine(min(a, b), max(a, b), 1)
}

func (t *table) combine(a, b uint32, op uint64) uint32 {
	key := uint64(a)<<33 | uint64(b)<<1 | op
	sh := &t.memo[(key*0x9e3779b97f4a7c15)>>60]
	sh.mu.RLock()
	id, ok := sh.m[key]
	sh.mu.RUnlock()
	if ok {
		return id
	}
	pa, pb := t.get(a), t.get(b)
	if op == 0 {
		id = t.intern(pa.Intersect(pb))
	} else {
		id = t.intern(pa.Union(pb))
	}
	sh.mu.Lock()
	sh.m[key] = id
	sh.mu.Unlock()
	return id
}

// memo is a per-goroutine cache in front of a table, for hot loops: a
// direct-mapped array, which beats a map by several times.
type memo struct {
	t      *table
	slot   []memoSlot // empty: no cache (single lookups)
	pooled *[]memoSlot
}

type memoSlot struct {
	key uint64
	id  uint32
	set bool
}

func (t *table) local() *memo {
	p := slotPool.Get().(*[]memoSlot)
	clear(*p)
	return &memo{t: t, slot: *p, pooled: p}
}

// slotPool keeps memos' caches (half a megabyte each) between requests:
// a fresh one per plan or query cost more in allocating (and handing
// memory back to the system) than its lookups.
var slotPool = sync.Pool{New: func() any { s := make([]memoSlot, 1<<15); return &s }}

// release gives a local memo's cache back; the memo must not be used
// afterwards.
func (m *memo) release() {
	if m.pooled != nil {
		slotPool.Put(m.pooled)
		m.pooled, m.slot = nil, nil
	}
}

// direct returns a memo without a cache of its own, for a few lookups.
func (t *table) direct() *memo { return &memo{t: t} }

func (m *memo) lookup(key uint64, op func(a, b uint32) uint32, a, b uint32) uint32 {
	if len(m.slot) == 0 {
		return op(a, b)
	}
	s := &m.slot[(key*0x9e3779b97f4a7c15)>>49]
	if s.set && s.key == key {
		return s.id
	}
	id := op(a, b)
	*s = memoSlot{key, id, true}
	return id
}

func (m *memo) meet(a, b uint32) uint32 {
	switch {
	case a == 0 || b == 0:
		return 0
	case a == b:
		return a
	}
	return m.lookup(uint64(min(a, b))<<32|uint64(max(a, b)), m.t.meet, a, b)
}

func (m *memo) join(a, b uint32) uint32 {
	switch {
	case a == 0 || a == b:
		return b
	case b == 0:
		return a
	}
	return m.lookup(uint64(min(a, b))<<32|uint64(max(a, b))|1<<63, m.t.join, a, b)
}
