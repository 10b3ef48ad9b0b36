// Package storetest is the conformance suite for store.Store backends. Every
// backend must pass Run unchanged.
//
// The contract holds for a backend shared by several servers (store/etcd)
// as for one process's (store/sqlite): the revision goes up by exactly one
// per Update that writes a record, tokens never move it, a revision's
// changes are never split. Two points are stated so both honour them:
//   - WaitRevision observes at least the Updates made through the same
//     Store value; a shared backend also wakes on other servers' writes.
//   - Updates through one Store value are serialized (fn runs once and
//     never conflicts with another Update of the same value). Between
//     servers a shared backend is optimistic: an Update whose reads through
//     tx (Get, List, Token) or Expect preconditions were changed by another
//     server's commit fails with an error wrapping store.ErrConflict and
//     writes nothing, as a failed Expect does; the caller reads again and
//     retries (service.Update does). Run tests one Store value per store.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; Run closes it when the subtest ends (so Close must be
// idempotent, as the interface requires).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	s := &suite{open: func(t *testing.T) store.Store {
		t.Helper()
		st := open(t)
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return st
	}}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Empty", s.testEmpty},
		{"PutGetDelete", s.testPutGetDelete},
		{"ListFiltersAndOrder", s.testList},
		{"ReadYourWrites", s.testReadYourWrites},
		{"InvalidArguments", s.testInvalid},
		{"LargeDocument", s.testLargeDocument},
		{"RevisionIncrements", s.testRevision},
		{"Rollback", s.testRollback},
		{"RollbackOnPanic", s.testPanic},
		{"CancelledContext", s.testCancelled},
		{"TxAfterCallback", s.testTxAfterCallback},
		{"ChangeLog", s.testChangeLog},
		{"ChangesPaging", s.testChangesPaging},
		{"WaitRevision", s.testWaitRevision},
		{"WaitRevisionClose", s.testWaitRevisionClose},
		{"ClosedStore", s.testClosed},
		{"ViewIsolationUncommitted", s.testViewUncommitted},
		{"ViewSnapshot", s.testViewSnapshot},
		{"Tokens", s.testTokens},
		{"ConcurrentUpdates", s.testConcurrent},
		{"TypedHelpers", s.testTyped},
		{"Preconditions", s.testExpect},
		{"PreconditionsUnderContention", s.testExpectConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open func(t *testing.T) store.Store
}

const (
	kVPC  store.Kind = "vpc"
	kSG   store.Kind = "securitygroup"
	kCtr  store.Kind = "counter"
	waitT            = 5 * time.Second // generous bound so a broken backend fails instead of hanging
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func rec(kind store.Kind, id, account, region, data string) store.Record {
	return store.Record{Kind: kind, ID: id, Account: account, Region: region, Data: []byte(data)}
}

// update runs Update and fails the test on error.
func update(t *testing.T, s store.Store, fn func(store.Tx) error) int64 {
	t.Helper()
	rev, err := s.Update(ctxT(t), fn)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return rev
}

func put(t *testing.T, s store.Store, rs ...store.Record) int64 {
	t.Helper()
	return update(t, s, func(tx store.Tx) error {
		for _, r := range rs {
			if err := tx.Put(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func get(t *testing.T, s store.Store, kind store.Kind, id string) (store.Record, bool) {
	t.Helper()
	var r store.Record
	var ok bool
	err := s.View(ctxT(t), func(tx store.ReadTx) error {
		var err error
		r, ok, err = tx.Get(kind, id)
		return err
	})
	if err != nil {
		t.Fatalf("View/Get: %v", err)
	}
	return r, ok
}

func list(t *testing.T, s store.Store, kind store.Kind, q store.Query) []store.Record {
	t.Helper()
	var rs []store.Record
	err := s.View(ctxT(t), func(tx store.ReadTx) error {
		var err error
		rs, err = tx.List(kind, q)
		return err
	})
	if err != nil {
		t.Fatalf("View/List: %v", err)
	}
	return rs
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	rev, err := s.Revision(ctxT(t))
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

func changes(t *testing.T, s store.Store, after int64, limit int) []store.Change {
	t.Helper()
	cs, err := s.Changes(ctxT(t), after, limit)
	if err != nil {
		t.Fatalf("Changes(%d, %d): %v", after, limit, err)
	}
	return cs
}

func ids(rs []store.Record) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func sameRecord(t *testing.T, got, want store.Record) {
	t.Helper()
	if got.Kind != want.Kind || got.ID != want.ID || got.Account != want.Account ||
		got.Region != want.Region || !bytes.Equal(got.Data, want.Data) || got.Revision != want.Revision {
		t.Errorf("record = %+v (data %q), want %+v (data %q)", got, got.Data, want, want.Data)
	}
}

func (s *suite) testEmpty(t *testing.T) {
	st := s.open(t)
	if rev := revision(t, st); rev != 0 {
		t.Errorf("Revision of empty store = %d, want 0", rev)
	}
	if cs := changes(t, st, 0, 0); len(cs) != 0 {
		t.Errorf("Changes of empty store = %v, want none", cs)
	}
	if _, ok := get(t, st, kVPC, "vpc-1"); ok {
		t.Error("Get on empty store found a record")
	}
	if rs := list(t, st, kVPC, store.Query{}); len(rs) != 0 {
		t.Errorf("List on empty store = %v", ids(rs))
	}
}

func (s *suite) testPutGetDelete(t *testing.T) {
	st := s.open(t)
	r := rec(kVPC, "vpc-1", "acct-1", "cn-hangzhou", `{"name":"a"}`)
	r.Revision = 99 // must be ignored
	rev := put(t, st, r)
	r.Revision = rev
	got, ok := get(t, st, kVPC, "vpc-1")
	if !ok {
		t.Fatal("Get after Put: not found")
	}
	sameRecord(t, got, r)

	// Same ID under another kind is a different record.
	if _, ok := get(t, st, kSG, "vpc-1"); ok {
		t.Error("Get with another kind found the record")
	}

	// Replace: every field is overwritten.
	r2 := rec(kVPC, "vpc-1", "acct-2", "cn-beijing", `{"name":"b"}`)
	rev2 := put(t, st, r2)
	if rev2 != rev+1 {
		t.Errorf("revision after replace = %d, want %d", rev2, rev+1)
	}
	r2.Revision = rev2
	got, _ = get(t, st, kVPC, "vpc-1")
	sameRecord(t, got, r2)

	rev3 := update(t, st, func(tx store.Tx) error { return tx.Delete(kVPC, "vpc-1") })
	if rev3 != rev2+1 {
		t.Errorf("revision after delete = %d, want %d", rev3, rev2+1)
	}
	if _, ok := get(t, st, kVPC, "vpc-1"); ok {
		t.Error("Get after Delete: still found")
	}
	// Deleting a missing record succeeds and writes nothing.
	rev4 := update(t, st, func(tx store.Tx) error { return tx.Delete(kVPC, "vpc-1") })
	if rev4 != rev3 {
		t.Errorf("revision after deleting a missing record = %d, want %d", rev4, rev3)
	}
	if cs := changes(t, st, rev3, 0); len(cs) != 0 {
		t.Errorf("deleting a missing record logged %v", cs)
	}

	// Empty Data round-trips as empty.
	rev5 := put(t, st, store.Record{Kind: kVPC, ID: "vpc-empty"})
	got, ok = get(t, st, kVPC, "vpc-empty")
	if !ok || len(got.Data) != 0 || got.Revision != rev5 {
		t.Errorf("empty record = %+v, %v", got, ok)
	}
}

func (s *suite) testList(t *testing.T) {
	st := s.open(t)
	// IDs chosen so that byte order differs from case-insensitive and
	// numeric order: backends must order by byte value (Go string order).
	put(t, st,
		rec(kVPC, "vpc-b", "a1", "r1", `{}`),
		rec(kVPC, "vpc-B", "a1", "r2", `{}`),
		rec(kVPC, "vpc-10", "a2", "r1", `{}`),
		rec(kVPC, "vpc-9", "a1", "r1", `{}`),
		rec(kVPC, "vpc-a", "a2", "r2", `{}`),
		rec(kVPC, "global", "", "", `{}`),
		rec(kSG, "sg-1", "a1", "r1", `{}`),
	)
	tests := []struct {
		name string
		kind store.Kind
		q    store.Query
		want []string
	}{
		{"all", kVPC, store.Query{}, []string{"global", "vpc-10", "vpc-9", "vpc-B", "vpc-a", "vpc-b"}},
		{"account", kVPC, store.Query{Account: "a1"}, []string{"vpc-9", "vpc-B", "vpc-b"}},
		{"region", kVPC, store.Query{Region: "r1"}, []string{"vpc-10", "vpc-9", "vpc-b"}},
		{"account+region", kVPC, store.Query{Account: "a2", Region: "r2"}, []string{"vpc-a"}},
		{"no match", kVPC, store.Query{Account: "a3"}, []string{}},
		{"other kind", kSG, store.Query{}, []string{"sg-1"}},
		{"unknown kind", "eip", store.Query{}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := list(t, st, tc.kind, tc.q)
			if got := ids(rs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("List(%s, %+v) = %q, want %q", tc.kind, tc.q, got, tc.want)
			}
			for _, r := range rs {
				if r.Kind != tc.kind || (tc.q.Account != "" && r.Account != tc.q.Account) ||
					(tc.q.Region != "" && r.Region != tc.q.Region) || string(r.Data) != "{}" || r.Revision != 1 {
					t.Errorf("List returned %+v", r)
				}
			}
		})
	}
}

func (s *suite) testReadYourWrites(t *testing.T) {
	st := s.open(t)
	put(t, st, rec(kVPC, "vpc-old", "a", "r", `{"v":0}`))
	update(t, st, func(tx store.Tx) error {
		if err := tx.Put(rec(kVPC, "vpc-new", "a", "r", `{"v":1}`)); err != nil {
			return err
		}
		r, ok, err := tx.Get(kVPC, "vpc-new")
		if err != nil || !ok || string(r.Data) != `{"v":1}` || r.Revision != tx.Revision()+1 {
			t.Errorf("Get own write = %+v, %v, %v (tx revision %d)", r, ok, err, tx.Revision())
		}
		if err := tx.Delete(kVPC, "vpc-old"); err != nil {
			return err
		}
		if _, ok, err := tx.Get(kVPC, "vpc-old"); ok || err != nil {
			t.Errorf("Get own delete = %v, %v", ok, err)
		}
		rs, err := tx.List(kVPC, store.Query{Account: "a"})
		if err != nil {
			return err
		}
		if got := ids(rs); !reflect.DeepEqual(got, []string{"vpc-new"}) {
			t.Errorf("List in tx = %q", got)
		}
		return nil
	})
}

func (s *suite) testInvalid(t *testing.T) {
	st := s.open(t)
	for _, r := range []store.Record{
		{Kind: "", ID: "x", Data: []byte(`{}`)},
		{Kind: kVPC, ID: "", Data: []byte(`{}`)},
	} {
		var putErr error
		_, err := st.Update(ctxT(t), func(tx store.Tx) error {
			putErr = tx.Put(r)
			return putErr
		})
		if !errors.Is(putErr, store.ErrInvalid) || !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Put(%+v) = %v (Update %v), want ErrInvalid", r, putErr, err)
		}
	}
	var tokErr error
	st.Update(ctxT(t), func(tx store.Tx) error {
		tokErr = tx.PutToken(store.Token{Account: "a"})
		return nil
	})
	if !errors.Is(tokErr, store.ErrInvalid) {
		t.Errorf("PutToken with empty token = %v, want ErrInvalid", tokErr)
	}
	if rev := revision(t, st); rev != 0 {
		t.Errorf("revision after invalid writes = %d, want 0", rev)
	}
}

func (s *suite) testLargeDocument(t *testing.T) {
	st := s.open(t)
	data := []byte(`{"rules":"` + strings.Repeat("x", 1<<20) + `"}`)
	put(t, st, store.Record{Kind: kSG, ID: "sg-big", Data: data})
	got, ok := get(t, st, kSG, "sg-big")
	if !ok || !bytes.Equal(got.Data, data) {
		t.Errorf("1 MiB document did not round-trip (found %v, %d bytes)", ok, len(got.Data))
	}
}

func (s *suite) testRevision(t *testing.T) {
	st := s.open(t)
	steps := []struct {
		name  string
		fn    func(tx store.Tx) error
		delta int64
	}{
		{"one put", func(tx store.Tx) error { return tx.Put(rec(kVPC, "v1", "a", "r", `{}`)) }, 1},
		{"many puts", func(tx store.Tx) error {
			for i := range 5 {
				if err := tx.Put(rec(kVPC, fmt.Sprintf("m%d", i), "a", "r", `{}`)); err != nil {
					return err
				}
			}
			return nil
		}, 1},
		{"read only", func(tx store.Tx) error {
			_, _, err := tx.Get(kVPC, "v1")
			return err
		}, 0},
		{"nothing", func(tx store.Tx) error { return nil }, 0},
		{"delete missing", func(tx store.Tx) error { return tx.Delete(kVPC, "nope") }, 0},
		{"token only", func(tx store.Tx) error {
			return tx.PutToken(store.Token{Account: "a", Token: "t", Action: "X", Created: time.Now()})
		}, 0},
		{"put and delete", func(tx store.Tx) error {
			if err := tx.Put(rec(kVPC, "tmp", "a", "r", `{}`)); err != nil {
				return err
			}
			return tx.Delete(kVPC, "v1")
		}, 1},
	}
	prev := revision(t, st)
	for _, step := range steps {
		var inTx int64
		rev := update(t, st, func(tx store.Tx) error {
			inTx = tx.Revision()
			return step.fn(tx)
		})
		if inTx != prev {
			t.Errorf("%s: Tx.Revision() = %d, want %d", step.name, inTx, prev)
		}
		if rev != prev+step.delta {
			t.Errorf("%s: Update returned %d, want %d", step.name, rev, prev+step.delta)
		}
		if cur := revision(t, st); cur != rev {
			t.Errorf("%s: Revision() = %d, Update returned %d", step.name, cur, rev)
		}
		var viewRev int64
		st.View(ctxT(t), func(tx store.ReadTx) error { viewRev = tx.Revision(); return nil })
		if viewRev != rev {
			t.Errorf("%s: ReadTx.Revision() = %d, want %d", step.name, viewRev, rev)
		}
		prev = rev
	}
}

func (s *suite) testRollback(t *testing.T) {
	st := s.open(t)
	base := put(t, st, rec(kVPC, "keep", "a", "r", `{"v":1}`), rec(kVPC, "gone", "a", "r", `{}`))
	boom := errors.New("boom")
	rev, err := st.Update(ctxT(t), func(tx store.Tx) error {
		for _, err := range []error{
			tx.Put(rec(kVPC, "new", "a", "r", `{}`)),
			tx.Put(rec(kVPC, "keep", "a", "r", `{"v":2}`)),
			tx.Delete(kVPC, "gone"),
			tx.PutToken(store.Token{Account: "a", Token: "tok", Action: "X", Created: time.Now()}),
		} {
			if err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want %v", err, boom)
	}
	if rev != 0 {
		t.Errorf("failed Update returned revision %d, want 0", rev)
	}
	if cur := revision(t, st); cur != base {
		t.Errorf("revision after failed Update = %d, want %d", cur, base)
	}
	if _, ok := get(t, st, kVPC, "new"); ok {
		t.Error("put from failed Update is visible")
	}
	if r, _ := get(t, st, kVPC, "keep"); string(r.Data) != `{"v":1}` || r.Revision != base {
		t.Errorf("replace from failed Update is visible: %+v", r)
	}
	if _, ok := get(t, st, kVPC, "gone"); !ok {
		t.Error("delete from failed Update is visible")
	}
	if cs := changes(t, st, base, 0); len(cs) != 0 {
		t.Errorf("failed Update logged changes: %v", cs)
	}
	st.View(ctxT(t), func(tx store.ReadTx) error {
		if _, ok, _ := tx.Token("a", "tok"); ok {
			t.Error("token from failed Update is visible")
		}
		return nil
	})
	// The next successful Update gets the next revision: no gap.
	if rev := put(t, st, rec(kVPC, "after", "a", "r", `{}`)); rev != base+1 {
		t.Errorf("revision after a failed Update = %d, want %d", rev, base+1)
	}
}

func (s *suite) testPanic(t *testing.T) {
	st := s.open(t)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic in fn was swallowed")
			}
		}()
		st.Update(ctxT(t), func(tx store.Tx) error {
			if err := tx.Put(rec(kVPC, "p", "a", "r", `{}`)); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, ok := get(t, st, kVPC, "p"); ok {
		t.Error("write from panicking Update is visible")
	}
	// The write lock must have been released.
	done := make(chan int64, 1)
	go func() {
		rev, _ := st.Update(context.Background(), func(tx store.Tx) error {
			return tx.Put(rec(kVPC, "q", "a", "r", `{}`))
		})
		done <- rev
	}()
	select {
	case rev := <-done:
		if rev != 1 {
			t.Errorf("revision after panic + write = %d, want 1", rev)
		}
	case <-time.After(waitT):
		t.Fatal("Update after a panicking Update did not complete (lock leaked?)")
	}
}

func (s *suite) testCancelled(t *testing.T) {
	st := s.open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := st.Update(ctx, func(tx store.Tx) error {
		return tx.Put(rec(kVPC, "x", "a", "r", `{}`))
	})
	if err == nil {
		t.Error("Update with a cancelled context succeeded")
	}
	if _, ok := get(t, st, kVPC, "x"); ok {
		t.Error("write with a cancelled context is visible")
	}
	if rev := revision(t, st); rev != 0 {
		t.Errorf("revision = %d, want 0", rev)
	}
	if err := st.View(ctx, func(store.ReadTx) error { return nil }); err == nil {
		t.Error("View with a cancelled context succeeded")
	}
}

func (s *suite) testTxAfterCallback(t *testing.T) {
	st := s.open(t)
	var leakedTx store.Tx
	update(t, st, func(tx store.Tx) error { leakedTx = tx; return nil })
	if err := leakedTx.Put(rec(kVPC, "late", "a", "r", `{}`)); err == nil {
		t.Error("Put on a finished Tx succeeded")
	}
	var leakedRead store.ReadTx
	st.View(ctxT(t), func(tx store.ReadTx) error { leakedRead = tx; return nil })
	if _, _, err := leakedRead.Get(kVPC, "late"); err == nil {
		t.Error("Get on a finished ReadTx succeeded")
	}
	if _, ok := get(t, st, kVPC, "late"); ok {
		t.Error("write through a finished Tx is visible")
	}
}

func (s *suite) testChangeLog(t *testing.T) {
	st := s.open(t)
	r1 := put(t, st,
		rec(kVPC, "vpc-z", "a1", "r1", `{}`),
		rec(kVPC, "vpc-a", "a1", "r1", `{}`),
		rec(kSG, "sg-1", "a2", "r2", `{}`),
	)
	r2 := update(t, st, func(tx store.Tx) error {
		for _, err := range []error{
			tx.Put(rec(kVPC, "vpc-new", "a1", "r1", `{}`)),
			tx.Delete(kSG, "sg-1"), // logs the deleted record's account and region
			tx.Put(rec(kVPC, "vpc-z", "a3", "r3", `{"v":2}`)),
			tx.Put(rec(kVPC, "vpc-new", "a1", "r1", `{"v":2}`)), // second write: one entry, first position
			tx.Delete(kVPC, "missing"),                          // no entry
			tx.Put(rec(kVPC, "tmp", "a1", "r1", `{}`)),
			tx.Delete(kVPC, "tmp"), // last op wins
			tx.Delete(kVPC, "vpc-a"),
			tx.Put(rec(kVPC, "vpc-a", "a1", "r9", `{}`)), // re-created
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	want := []store.Change{
		{Revision: r1, Kind: kVPC, ID: "vpc-z", Account: "a1", Region: "r1", Op: store.OpPut},
		{Revision: r1, Kind: kVPC, ID: "vpc-a", Account: "a1", Region: "r1", Op: store.OpPut},
		{Revision: r1, Kind: kSG, ID: "sg-1", Account: "a2", Region: "r2", Op: store.OpPut},
		{Revision: r2, Kind: kVPC, ID: "vpc-new", Account: "a1", Region: "r1", Op: store.OpPut},
		{Revision: r2, Kind: kSG, ID: "sg-1", Account: "a2", Region: "r2", Op: store.OpDelete},
		{Revision: r2, Kind: kVPC, ID: "vpc-z", Account: "a3", Region: "r3", Op: store.OpPut},
		{Revision: r2, Kind: kVPC, ID: "tmp", Account: "a1", Region: "r1", Op: store.OpDelete},
		{Revision: r2, Kind: kVPC, ID: "vpc-a", Account: "a1", Region: "r9", Op: store.OpPut},
	}
	if got := changes(t, st, 0, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("Changes(0, 0) =\n%v\nwant\n%v", fmtChanges(got), fmtChanges(want))
	}
	if got := changes(t, st, r1, 0); !reflect.DeepEqual(got, want[3:]) {
		t.Errorf("Changes(%d, 0) =\n%v\nwant\n%v", r1, fmtChanges(got), fmtChanges(want[3:]))
	}
	if got := changes(t, st, r2, 0); len(got) != 0 {
		t.Errorf("Changes(latest) = %v, want none", got)
	}
	// Each change's revision is the revision stored on the record.
	for _, id := range []string{"vpc-new", "vpc-z", "vpc-a"} {
		if r, _ := get(t, st, kVPC, id); r.Revision != r2 {
			t.Errorf("%s revision = %d, want %d", id, r.Revision, r2)
		}
	}
}

func fmtChanges(cs []store.Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %d %s %s/%s %s/%s\n", c.Revision, c.Op, c.Kind, c.ID, c.Account, c.Region)
	}
	return b.String()
}

func (s *suite) testChangesPaging(t *testing.T) {
	st := s.open(t)
	// Revisions with 3, 1, 2, 1, 4 changes.
	sizes := []int{3, 1, 2, 1, 4}
	n := 0
	for _, size := range sizes {
		update(t, st, func(tx store.Tx) error {
			for range size {
				n++
				if err := tx.Put(rec(kVPC, fmt.Sprintf("v%02d", n), "a", "r", `{}`)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	all := changes(t, st, 0, 0)
	if len(all) != n {
		t.Fatalf("Changes(0, 0) returned %d entries, want %d", len(all), n)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Revision < all[i-1].Revision {
			t.Fatalf("Changes not ascending: %v", fmtChanges(all))
		}
	}

	tests := []struct {
		after   int64
		limit   int
		wantLen int
	}{
		{0, 1, 3},  // revision 1 alone exceeds the limit: returned whole
		{0, 3, 3},  // exactly revision 1
		{0, 4, 4},  // revisions 1 and 2
		{0, 5, 4},  // revision 3 would be split: stop before it
		{0, 6, 6},  // revisions 1-3
		{1, 2, 1},  // revision 2; revision 3 would be split
		{1, 3, 3},  // revisions 2 and 3
		{3, 1, 1},  // revision 4
		{4, 2, 4},  // revision 5 whole
		{4, 10, 4}, // fewer entries than the limit
		{5, 1, 0},  // nothing after the last revision
		{99, 0, 0},
	}
	for _, tc := range tests {
		got := changes(t, st, tc.after, tc.limit)
		if len(got) != tc.wantLen {
			t.Errorf("Changes(%d, %d) returned %d entries, want %d:\n%s", tc.after, tc.limit, len(got), tc.wantLen, fmtChanges(got))
			continue
		}
		var want []store.Change
		for _, c := range all {
			if c.Revision > tc.after && len(want) < tc.wantLen {
				want = append(want, c)
			}
		}
		if len(got) > 0 && !reflect.DeepEqual(got, want) {
			t.Errorf("Changes(%d, %d) =\n%s\nwant\n%s", tc.after, tc.limit, fmtChanges(got), fmtChanges(want))
		}
	}

	// Paging with any limit, resuming after the last revision seen,
	// reassembles the whole log.
	for limit := 1; limit <= n+1; limit++ {
		var got []store.Change
		after := int64(0)
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatalf("limit %d: paging does not terminate", limit)
			}
			page := changes(t, st, after, limit)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1].Revision
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("limit %d: paged log =\n%s\nwant\n%s", limit, fmtChanges(got), fmtChanges(all))
		}
	}
}

func (s *suite) testWaitRevision(t *testing.T) {
	st := s.open(t)
	base := put(t, st, rec(kVPC, "v", "a", "r", `{}`))

	// Already past: returns at once.
	ctx, cancel := context.WithTimeout(context.Background(), waitT)
	defer cancel()
	if rev, err := st.WaitRevision(ctx, base-1); err != nil || rev != base {
		t.Errorf("WaitRevision(%d) = %d, %v, want %d", base-1, rev, err, base)
	}

	// Blocks until a write.
	type result struct {
		rev int64
		err error
	}
	res := make(chan result, 1)
	go func() {
		rev, err := st.WaitRevision(ctx, base)
		res <- result{rev, err}
	}()
	select {
	case r := <-res:
		t.Fatalf("WaitRevision(%d) returned %d, %v before any write", base, r.rev, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	// A read-only or token-only Update does not wake it.
	update(t, st, func(tx store.Tx) error {
		return tx.PutToken(store.Token{Account: "a", Token: "t", Created: time.Now()})
	})
	select {
	case r := <-res:
		t.Fatalf("WaitRevision(%d) woke on a non-writing Update: %d, %v", base, r.rev, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	next := put(t, st, rec(kVPC, "w", "a", "r", `{}`))
	select {
	case r := <-res:
		if r.err != nil || r.rev != next {
			t.Errorf("WaitRevision(%d) = %d, %v, want %d", base, r.rev, r.err, next)
		}
	case <-time.After(waitT):
		t.Fatal("WaitRevision did not wake on a write")
	}

	// Many waiters all wake.
	var wg sync.WaitGroup
	woke := make(chan int64, 10)
	for range 10 {
		wg.Go(func() {
			rev, err := st.WaitRevision(ctx, next)
			if err == nil {
				woke <- rev
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	last := put(t, st, rec(kVPC, "x", "a", "r", `{}`))
	wg.Wait()
	close(woke)
	n := 0
	for rev := range woke {
		n++
		if rev != last {
			t.Errorf("waiter woke with %d, want %d", rev, last)
		}
	}
	if n != 10 {
		t.Errorf("%d of 10 waiters woke", n)
	}

	// Honours cancellation and deadlines.
	cctx, ccancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		ccancel()
	}()
	rev, err := st.WaitRevision(cctx, last)
	if !errors.Is(err, context.Canceled) || rev != last {
		t.Errorf("cancelled WaitRevision = %d, %v, want %d, context.Canceled", rev, err, last)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer dcancel()
	if _, err := st.WaitRevision(dctx, last); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitRevision past deadline = %v, want context.DeadlineExceeded", err)
	}
}

func (s *suite) testWaitRevisionClose(t *testing.T) {
	st := s.open(t)
	errc := make(chan error, 1)
	go func() {
		_, err := st.WaitRevision(context.Background(), 0)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("WaitRevision after Close = %v, want ErrClosed", err)
		}
	case <-time.After(waitT):
		t.Fatal("Close did not wake WaitRevision")
	}
}

func (s *suite) testClosed(t *testing.T) {
	st := s.open(t)
	put(t, st, rec(kVPC, "v", "a", "r", `{}`))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := ctxT(t)
	if _, err := st.Update(ctx, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
	if err := st.View(ctx, func(store.ReadTx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if _, err := st.Revision(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Revision after Close = %v, want ErrClosed", err)
	}
	if _, err := st.Changes(ctx, 0, 0); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Changes after Close = %v, want ErrClosed", err)
	}
	if _, err := st.WaitRevision(ctx, 0); !errors.Is(err, store.ErrClosed) {
		t.Errorf("WaitRevision after Close = %v, want ErrClosed", err)
	}
}

// testViewUncommitted: a View running while an Update is in progress sees
// none of the Update's writes.
func (s *suite) testViewUncommitted(t *testing.T) {
	st := s.open(t)
	base := put(t, st, rec(kVPC, "a", "acct", "r", `{"v":0}`))
	written := make(chan struct{})
	viewed := make(chan struct{})
	updErr := make(chan error, 1)
	go func() {
		_, err := st.Update(context.Background(), func(tx store.Tx) error {
			if err := tx.Put(rec(kVPC, "a", "acct", "r", `{"v":1}`)); err != nil {
				return err
			}
			if err := tx.Put(rec(kVPC, "b", "acct", "r", `{}`)); err != nil {
				return err
			}
			close(written)
			select {
			case <-viewed:
			case <-time.After(waitT):
				return errors.New("view did not finish while Update was open (View blocked by the writer?)")
			}
			return tx.Delete(kVPC, "a")
		})
		updErr <- err
	}()
	select {
	case <-written:
	case <-time.After(waitT):
		t.Fatal("Update did not start")
	}
	err := st.View(ctxT(t), func(tx store.ReadTx) error {
		if tx.Revision() != base {
			t.Errorf("View revision = %d, want %d", tx.Revision(), base)
		}
		r, ok, err := tx.Get(kVPC, "a")
		if err != nil {
			return err
		}
		if !ok || string(r.Data) != `{"v":0}` {
			t.Errorf("View sees uncommitted write: %+v, %v", r, ok)
		}
		rs, err := tx.List(kVPC, store.Query{})
		if err != nil {
			return err
		}
		if got := ids(rs); !reflect.DeepEqual(got, []string{"a"}) {
			t.Errorf("View lists %q, want [a]", got)
		}
		return nil
	})
	close(viewed)
	if err != nil {
		t.Errorf("View: %v", err)
	}
	if err := <-updErr; err != nil {
		t.Fatalf("Update: %v", err)
	}
	if _, ok := get(t, st, kVPC, "a"); ok {
		t.Error("committed delete not visible")
	}
}

// testViewSnapshot: a View started before an Update commits keeps seeing
// the old state, consistently across reads, after the commit.
func (s *suite) testViewSnapshot(t *testing.T) {
	st := s.open(t)
	base := put(t, st, rec(kVPC, "a", "acct", "r", `{"v":0}`))
	err := st.View(ctxT(t), func(tx store.ReadTx) error {
		if _, ok, err := tx.Get(kVPC, "a"); !ok || err != nil {
			t.Fatalf("Get = %v, %v", ok, err)
		}
		// Commit a change while the View is open. It runs on another
		// goroutine so a backend whose readers block the writer fails by
		// timeout rather than deadlock.
		done := make(chan error, 1)
		go func() {
			_, err := st.Update(context.Background(), func(tx store.Tx) error {
				if err := tx.Put(rec(kVPC, "a", "acct", "r", `{"v":1}`)); err != nil {
					return err
				}
				return tx.Put(rec(kVPC, "b", "acct", "r", `{}`))
			})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
		case <-time.After(waitT):
			t.Fatal("Update blocked by an open View")
		}
		if tx.Revision() != base {
			t.Errorf("View revision changed to %d", tx.Revision())
		}
		r, ok, err := tx.Get(kVPC, "a")
		if err != nil {
			return err
		}
		if !ok || string(r.Data) != `{"v":0}` || r.Revision != base {
			t.Errorf("View sees a commit made after it started: %+v", r)
		}
		if _, ok, _ := tx.Get(kVPC, "b"); ok {
			t.Error("View sees a record created after it started")
		}
		rs, err := tx.List(kVPC, store.Query{})
		if err != nil {
			return err
		}
		if got := ids(rs); !reflect.DeepEqual(got, []string{"a"}) {
			t.Errorf("View lists %q, want [a]", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if r, _ := get(t, st, kVPC, "a"); string(r.Data) != `{"v":1}` {
		t.Errorf("after View, a = %s", r.Data)
	}
}

func (s *suite) testTokens(t *testing.T) {
	st := s.open(t)
	// A non-UTC location and sub-microsecond digits: backends keep the
	// instant to the microsecond.
	created := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 8*3600))
	tok := store.Token{Account: "a1", Token: "tok-1", Action: "CreateVpc", ParamsHash: "h1",
		Response: []byte(`{"VpcId":"vpc-1"}`), Created: created}
	rev := update(t, st, func(tx store.Tx) error {
		if err := tx.PutToken(tok); err != nil {
			return err
		}
		got, ok, err := tx.Token("a1", "tok-1")
		if err != nil || !ok || got.Action != "CreateVpc" {
			t.Errorf("Token in writing tx = %+v, %v, %v", got, ok, err)
		}
		return nil
	})
	if rev != 0 {
		t.Errorf("token-only Update returned revision %d, want 0", rev)
	}
	check := func(account, token string, want *store.Token) {
		t.Helper()
		st.View(ctxT(t), func(tx store.ReadTx) error {
			got, ok, err := tx.Token(account, token)
			if err != nil {
				t.Fatalf("Token(%s, %s): %v", account, token, err)
			}
			if want == nil {
				if ok {
					t.Errorf("Token(%s, %s) = %+v, want none", account, token, got)
				}
				return nil
			}
			if !ok {
				t.Errorf("Token(%s, %s) not found", account, token)
				return nil
			}
			if got.Account != want.Account || got.Token != want.Token || got.Action != want.Action ||
				got.ParamsHash != want.ParamsHash || !bytes.Equal(got.Response, want.Response) ||
				!got.Created.Equal(want.Created.Truncate(time.Microsecond)) {
				t.Errorf("Token(%s, %s) = %+v, want %+v", account, token, got, *want)
			}
			return nil
		})
	}
	check("a1", "tok-1", &tok)
	check("a2", "tok-1", nil) // tokens are per account
	check("a1", "tok-2", nil)

	// Replace.
	tok2 := tok
	tok2.Action, tok2.ParamsHash, tok2.Response, tok2.Created = "DeleteVpc", "h2", nil, created.Add(time.Hour)
	update(t, st, func(tx store.Tx) error { return tx.PutToken(tok2) })
	tok2.Response = []byte{}
	check("a1", "tok-1", &tok2)

	// A token written with a resource commits atomically with it.
	tok3 := store.Token{Account: "a2", Token: "tok-1", Action: "CreateVpc", Created: created}
	rev = update(t, st, func(tx store.Tx) error {
		if err := tx.PutToken(tok3); err != nil {
			return err
		}
		return tx.Put(rec(kVPC, "vpc-2", "a2", "r", `{}`))
	})
	if rev != 1 {
		t.Errorf("revision = %d, want 1", rev)
	}
	check("a2", "tok-1", &tok3)
	check("a1", "tok-1", &tok2)
}

type counter struct {
	N int `json:"n"`
}

func (s *suite) testConcurrent(t *testing.T) {
	st := s.open(t)
	base := put(t, st, store.Record{Kind: kCtr, ID: "c", Data: []byte(`{"n":0}`)})
	const workers, perWorker = 8, 50

	// Readers run alongside: in every snapshot the counter equals the
	// number of increments committed, i.e. revision - base.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := st.View(context.Background(), func(tx store.ReadTx) error {
					c, ok, err := store.GetAs[counter](tx, kCtr, "c")
					if err != nil || !ok {
						return fmt.Errorf("GetAs = %v, %v", ok, err)
					}
					if int64(c.N) != tx.Revision()-base {
						return fmt.Errorf("snapshot inconsistent: counter %d at revision %d (base %d)", c.N, tx.Revision(), base)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}

	var wg sync.WaitGroup
	errc := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				_, err := st.Update(context.Background(), func(tx store.Tx) error {
					c, ok, err := store.GetAs[counter](tx, kCtr, "c")
					if err != nil || !ok {
						return fmt.Errorf("GetAs = %v, %v", ok, err)
					}
					c.N++
					if err := store.PutAs(tx, kCtr, "c", "", "", c); err != nil {
						return err
					}
					// A per-worker record too, so each Update writes two.
					return store.PutAs(tx, kVPC, fmt.Sprintf("w%d", w), "a", "r", counter{i})
				})
				if err != nil {
					errc <- err
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("Update: %v", err)
	}

	var final counter
	var finalRev int64
	st.View(ctxT(t), func(tx store.ReadTx) error {
		final, _, _ = store.GetAs[counter](tx, kCtr, "c")
		finalRev = tx.Revision()
		return nil
	})
	if final.N != workers*perWorker {
		t.Errorf("counter = %d, want %d (lost updates)", final.N, workers*perWorker)
	}
	if finalRev != base+workers*perWorker {
		t.Errorf("revision = %d, want %d", finalRev, base+workers*perWorker)
	}
	cs := changes(t, st, base, 0)
	if len(cs) != 2*workers*perWorker {
		t.Fatalf("%d change entries, want %d", len(cs), 2*workers*perWorker)
	}
	for i, c := range cs {
		if want := base + 1 + int64(i/2); c.Revision != want {
			t.Fatalf("change %d has revision %d, want %d (revisions must be contiguous, 2 entries each)", i, c.Revision, want)
		}
	}
}

type vpc struct {
	Name   string   `json:"name"`
	CIDR   string   `json:"cidr"`
	Tags   []string `json:"tags,omitempty"`
	Hidden string   `json:"-"`
}

func (s *suite) testTyped(t *testing.T) {
	st := s.open(t)
	in := []vpc{
		{Name: "b", CIDR: "10.1.0.0/16", Tags: []string{"x"}},
		{Name: "a", CIDR: "10.0.0.0/16"},
	}
	update(t, st, func(tx store.Tx) error {
		for _, v := range in {
			if err := store.PutAs(tx, kVPC, "vpc-"+v.Name, "acct", "r", v); err != nil {
				return err
			}
		}
		// Pointers encode like values.
		return store.PutAs(tx, kVPC, "vpc-p", "other", "r", &vpc{Name: "p"})
	})
	st.View(ctxT(t), func(tx store.ReadTx) error {
		got, ok, err := store.GetAs[vpc](tx, kVPC, "vpc-b")
		if err != nil || !ok || !reflect.DeepEqual(got, in[0]) {
			t.Errorf("GetAs = %+v, %v, %v, want %+v", got, ok, err, in[0])
		}
		p, ok, err := store.GetAs[*vpc](tx, kVPC, "vpc-p")
		if err != nil || !ok || p == nil || p.Name != "p" {
			t.Errorf("GetAs[*vpc] = %+v, %v, %v", p, ok, err)
		}
		missing, ok, err := store.GetAs[vpc](tx, kVPC, "vpc-missing")
		if err != nil || ok || !reflect.DeepEqual(missing, vpc{}) {
			t.Errorf("GetAs(missing) = %+v, %v, %v", missing, ok, err)
		}
		list, err := store.ListAs[vpc](tx, kVPC, store.Query{Account: "acct"})
		if err != nil || !reflect.DeepEqual(list, []vpc{in[1], in[0]}) {
			t.Errorf("ListAs = %+v, %v", list, err)
		}
		empty, err := store.ListAs[vpc](tx, kVPC, store.Query{Account: "nobody"})
		if err != nil || len(empty) != 0 {
			t.Errorf("ListAs(no match) = %+v, %v", empty, err)
		}
		return nil
	})

	// A document that does not fit the type is an error, not a zero value.
	put(t, st, rec(kVPC, "vpc-bad", "bad", "r", `{"name":42}`))
	st.View(ctxT(t), func(tx store.ReadTx) error {
		if _, ok, err := store.GetAs[vpc](tx, kVPC, "vpc-bad"); err == nil || ok {
			t.Errorf("GetAs(mistyped) = %v, %v, want error", ok, err)
		}
		if _, err := store.ListAs[vpc](tx, kVPC, store.Query{Account: "bad"}); err == nil {
			t.Error("ListAs(mistyped) succeeded")
		}
		return nil
	})
	// PutAs of an unencodable value fails without writing.
	_, err := st.Update(ctxT(t), func(tx store.Tx) error {
		return store.PutAs(tx, kVPC, "vpc-chan", "acct", "r", make(chan int))
	})
	if err == nil {
		t.Error("PutAs(chan) succeeded")
	}
	if _, ok := get(t, st, kVPC, "vpc-chan"); ok {
		t.Error("unencodable value was written")
	}
}

// testExpect: an Update commits only if every record it Expects is at the
// revision given (0: absent) — else it fails with ErrConflict, writing
// nothing, even if fn ignores the error Expect returned.
func (s *suite) testExpect(t *testing.T) {
	cases := []struct {
		name    string
		expect  func(revA, revGone int64) (id string, rev int64)
		wantErr error // nil: commits
	}{
		{"current revision", func(revA, _ int64) (string, int64) { return "a", revA }, nil},
		{"absent, as expected", func(_, _ int64) (string, int64) { return "never", 0 }, nil},
		{"deleted, expected absent", func(_, _ int64) (string, int64) { return "gone", 0 }, nil},
		{"changed since", func(revA, _ int64) (string, int64) { return "a", revA - 1 }, store.ErrConflict},
		{"expected absent, exists", func(_, _ int64) (string, int64) { return "a", 0 }, store.ErrConflict},
		{"deleted since", func(_, revGone int64) (string, int64) { return "gone", revGone }, store.ErrConflict},
		{"never existed", func(revA, _ int64) (string, int64) { return "never", revA }, store.ErrConflict},
	}
	for _, tc := range cases {
		for _, ignore := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ignoreErr=%v", tc.name, ignore), func(t *testing.T) {
				st := s.open(t)
				put(t, st, rec(kVPC, "a", "acct", "r", `{"v":1}`))
				revGone := put(t, st, rec(kVPC, "gone", "acct", "r", `{}`))
				revA := put(t, st, rec(kVPC, "a", "acct", "r", `{"v":2}`))
				update(t, st, func(tx store.Tx) error { return tx.Delete(kVPC, "gone") })
				before, _ := st.Revision(ctxT(t))
				id, want := tc.expect(revA, revGone)
				rev, err := st.Update(ctxT(t), func(tx store.Tx) error {
					if err := tx.Expect(kVPC, id, want); err != nil && !ignore {
						return err
					}
					return tx.Put(rec(kVPC, "written", "acct", "r", `{}`))
				})
				after, _ := st.Revision(ctxT(t))
				_, written := get(t, st, kVPC, "written")
				if tc.wantErr == nil {
					if err != nil || rev != before+1 || !written {
						t.Fatalf("Update = %d, %v (written %v); want revision %d", rev, err, written, before+1)
					}
					return
				}
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Update = %d, %v; want %v", rev, err, tc.wantErr)
				}
				if written || after != before {
					t.Fatalf("a failed precondition wrote: record %v, revision %d → %d", written, before, after)
				}
			})
		}
	}
	t.Run("after own write", func(t *testing.T) {
		st := s.open(t)
		rev := put(t, st, rec(kVPC, "a", "acct", "r", `{}`))
		_, err := st.Update(ctxT(t), func(tx store.Tx) error {
			if err := tx.Put(rec(kVPC, "a", "acct", "r", `{"v":3}`)); err != nil {
				return err
			}
			return tx.Expect(kVPC, "a", rev)
		})
		if !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("Expect after the transaction wrote the record = %v, want ErrInvalid", err)
		}
	})
}

// testExpectConcurrent increments a counter read outside the Update (as a
// write reading an in-memory view does), committing with the revision read
// as precondition and retrying on conflict: no increment is lost.
func (s *suite) testExpectConcurrent(t *testing.T) {
	st := s.open(t)
	put(t, st, store.Record{Kind: kCtr, ID: "c", Data: []byte(`{"n":0}`)})
	const workers, perWorker = 8, 20
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				for attempt := 0; ; attempt++ {
					var c counter
					var rev int64
					err := st.View(context.Background(), func(tx store.ReadTx) error {
						r, ok, err := tx.Get(kCtr, "c")
						if err != nil || !ok {
							return fmt.Errorf("get = %v, %v", ok, err)
						}
						rev = r.Revision
						return json.Unmarshal(r.Data, &c)
					})
					if err == nil {
						_, err = st.Update(context.Background(), func(tx store.Tx) error {
							if err := tx.Expect(kCtr, "c", rev); err != nil {
								return err
							}
							c.N++
							return store.PutAs(tx, kCtr, "c", "", "", c)
						})
					}
					if errors.Is(err, store.ErrConflict) && attempt < 10000 {
						continue
					}
					if err != nil {
						errc <- err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var c counter
	r, _ := get(t, st, kCtr, "c")
	if err := json.Unmarshal(r.Data, &c); err != nil {
		t.Fatal(err)
	}
	if c.N != workers*perWorker {
		t.Fatalf("counter = %d after %d increments: the precondition lost updates", c.N, workers*perWorker)
	}
}
