package store

import (
	"sync"
	"sync/atomic"
)

// Memo holds values derived from one value that never changes (a record's
// Object, a batch of changes), each computed once and shared by every
// reader: a listing that summarises the same group on every page computes
// the summary once per revision of the group, not once per request. A
// changed record is a new record with a new Memo, so what was derived from
// the old value is never served for the new one.
//
// Values must depend on that value alone (not on other records, nor on the
// caller), must not be modified once returned, and should not point back
// at the record (they live as long as it does).
type Memo struct {
	// A record holds a value or two, read on every page that lists it:
	// the first few are kept in a list replaced whole on each addition,
	// whose lookup compares keys (a map's hashes them); the rest (a
	// batch's memo may hold one per pair of records) in a map.
	few  atomic.Pointer[[]memoEntry]
	many atomic.Pointer[sync.Map]
}

type memoEntry struct{ key, value any }

// memoFew is how many values a Memo keeps in its list.
const memoFew = 4

// Get returns the value memoised under key, computing it with f the first
// time (two readers may both run f; one result is kept and returned to
// both). A nil Memo memoises nothing: f runs on every call. Keys are
// comparable values of a type private to the package that derives (as
// context keys are), so that packages cannot collide.
func (m *Memo) Get(key any, f func() any) any {
	if m == nil {
		return f()
	}
	few := m.few.Load()
	if few != nil {
		for _, e := range *few {
			if e.key == key {
				return e.value
			}
		}
	}
	if few == nil || len(*few) < memoFew {
		v := f()
		for {
			if few != nil {
				for _, e := range *few { // added since
					if e.key == key {
						return e.value
					}
				}
				if len(*few) >= memoFew {
					break // full: to the map, with v
				}
			}
			var next []memoEntry
			if few != nil {
				next = append(make([]memoEntry, 0, len(*few)+1), *few...)
			}
			next = append(next, memoEntry{key, v})
			if m.few.CompareAndSwap(few, &next) {
				return v
			}
			few = m.few.Load()
		}
		return m.load(key, v)
	}
	sm := m.many.Load()
	if sm != nil {
		if v, ok := sm.Load(key); ok {
			return v
		}
	}
	return m.load(key, f())
}

// load returns the value the map holds for key, storing v if none.
func (m *Memo) load(key, v any) any {
	sm := m.many.Load()
	if sm == nil {
		m.many.CompareAndSwap(nil, new(sync.Map))
		sm = m.many.Load()
	}
	v, _ = sm.LoadOrStore(key, v)
	return v
}
