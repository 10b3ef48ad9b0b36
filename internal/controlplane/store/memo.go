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
	m atomic.Pointer[sync.Map] // made on the first Get: most records are never asked
}

// Get returns the value memoised under key, computing it with f the first
// time (two readers may both run f; one result is kept and returned to
// both). A nil Memo memoises nothing: f runs on every call. Keys are
// values of a type private to the package that derives (as context keys
// are), so that packages cannot collide.
func (m *Memo) Get(key any, f func() any) any {
	if m == nil {
		return f()
	}
	sm := m.m.Load()
	if sm == nil {
		m.m.CompareAndSwap(nil, new(sync.Map))
		sm = m.m.Load()
	}
	if v, ok := sm.Load(key); ok {
		return v
	}
	v, _ := sm.LoadOrStore(key, f())
	return v
}
