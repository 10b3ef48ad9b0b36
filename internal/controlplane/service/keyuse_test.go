package service

import (
	"fmt"
	"testing"
)

// TestKeyUsesBounded: the last-use table keeps the keys in the store and
// drops the others once it grows: keys deleted while requests they signed
// were in flight (noted after the deletion) could otherwise fill it
// without end.
func TestKeyUsesBounded(t *testing.T) {
	e := newEnv(t)
	b, _, ten := boot(t, e)
	e.s.NoteKeyUse(b.Tenant.ID)
	for i := range 3 * minSweep {
		e.s.NoteKeyUse(fmt.Sprintf("LTAIgone%06d", i)) // in no store
	}
	if n := e.s.keyUses.n.Load(); n > minSweep+1 {
		t.Fatalf("%d entries after %d notes of absent keys, want at most %d", n, 3*minSweep, minSweep+1)
	}
	got, err := e.s.GetAccessKeyLastUsed(e.ctx, KeyInput{Caller: ten, KeyID: b.Tenant.ID})
	if err != nil || got.LastUsedDate == "" {
		t.Fatalf("the tenant's key's last use %+v (%v): a sweep dropped a live key", got, err)
	}
	// A deleted key's entry goes with it.
	k, err := e.s.CreateAccessKey(e.ctx, KeyInput{Caller: ten})
	if err != nil {
		t.Fatal(err)
	}
	e.s.NoteKeyUse(k.ID)
	before := e.s.keyUses.n.Load()
	if err := e.s.DeleteAccessKey(e.ctx, KeyInput{Caller: ten, KeyID: k.ID, SigningKey: b.Tenant.ID}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.s.keyUses.m.Load(k.ID); ok || e.s.keyUses.n.Load() != before-1 {
		t.Fatalf("the deleted key's entry stays (%d entries, were %d)", e.s.keyUses.n.Load(), before)
	}
}
