package service

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestKeyRemovedIsRefusedAtOnce: signature checks and callers read keys
// from the view, and the very next request after a key is deleted or
// disabled, or its account disabled, refuses it: reads wait for the view to
// hold every committed write. Each key is resolved before, so a lookup
// that kept what it resolved once would be caught.
func TestKeyRemovedIsRefusedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(e *env, op Caller, k model.AccessKey) error
		code   string // CallerOf's answer after
		found  bool   // LookupSecret after: a disabled key's requests are refused by their status, not their signature
	}{
		{"deleted", func(e *env, _ Caller, k model.AccessKey) error {
			_, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error { return tx.Delete(KindAccessKey, k.ID) })
			return err
		}, "InvalidAccessKeyId.NotFound", false},
		{"disabled", func(e *env, _ Caller, k model.AccessKey) error {
			return e.s.UpdateAccessKey(e.ctx, KeyInput{Caller: Caller{Account: k.Account}, KeyID: k.ID}, model.KeyInactive)
		}, "Forbidden.AccessKeyDisabled", true},
		{"account disabled", func(e *env, op Caller, k model.AccessKey) error {
			return e.s.DisableAccount(e.ctx, op, k.Account)
		}, "Forbidden.AccountDisabled", true},
	} {
		for _, lazy := range []bool{false, true} {
			t.Run(fmt.Sprint(tc.name, "/lazy view=", lazy), func(t *testing.T) { keyRemoved(t, lazy, tc.remove, tc.code, tc.found) })
		}
	}
}

func keyRemoved(t *testing.T, lazy bool, remove func(e *env, op Caller, k model.AccessKey) error, code string, found bool) {
	e := newEnv(t)
	if lazy {
		lazyView(t, e)
	}
	boot, op, _ := boot(t, e)
	for i := range 20 {
		_, k, err := e.s.NewTenant(e.ctx, fmt.Sprint("acct", i))
		if err != nil {
			t.Fatal(err)
		}
		// Each lookup, before and after, with what it should find.
		lookups := func(code string, found bool) []func() {
			return []func(){
				func() { _, err := e.s.CallerOf(e.ctx, k.ID, "cn-hangzhou", true); wantCode(t, err, code) },
				func() { _, err := e.s.KeyCaller(e.ctx, k.ID); wantCode(t, err, code) },
				func() {
					if _, ok := e.s.LookupSecret(k.ID); ok != found {
						t.Fatalf("key %s: LookupSecret finds it %v, want %v", k.ID, ok, found)
					}
				},
			}
		}
		for _, f := range lookups("", true) {
			f()
		}
		if err := remove(e, op, k); err != nil {
			t.Fatal(err)
		}
		// Each lookup comes first in turn: one that waited for the view
		// would let those after it read the view current even if they
		// did not wait.
		after := lookups(code, found)
		for j := range after {
			after[(i+j)%len(after)]()
		}
	}
	if _, err := e.s.CallerOf(e.ctx, boot.Tenant.ID, "cn-hangzhou", true); err != nil {
		t.Fatalf("the first key: %v", err)
	}
}

// lazyStore is the env's store as a lazy view follows it: the follower
// learns of a write only once a reader waits for the view, so a read that
// does not wait for the committed revision sees the view as it was before
// the write, every time, not only when it wins a race with the follower.
type lazyStore struct {
	*sqlite.Store // its CurrentRevision, Recent and SerializedWriter kept
	view          atomic.Pointer[view.View]
}

func (l *lazyStore) WaitRevision(ctx context.Context, after int64) (int64, error) {
	rev, err := l.Store.WaitRevision(ctx, after)
	if err != nil {
		return rev, err
	}
	for v := l.view.Load(); v == nil || v.Waiting() == 0; v = l.view.Load() {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond): // polls, bounds nothing
		}
	}
	return rev, nil
}

// lazyView makes e's service read from a lazy view (see lazyStore).
func lazyView(t *testing.T, e *env) {
	t.Helper()
	l := &lazyStore{Store: e.s.Store.(*sqlite.Store)}
	e.s.view = view.New(l, Kinds, Indexes...)
	l.view.Store(e.s.view)
	t.Cleanup(e.s.view.Close)
}

// TestReadYourWrites: with writers running at once (their writes share
// batches), each writer's next read sees its own write, and every write
// answered before it.
// Each also over a lazy view (lazyStore), which a read or write that does
// not wait for it finds behind every time.
func TestReadYourWrites(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		t.Run(fmt.Sprint("linearizable reads/lazy view=", lazy), func(t *testing.T) {
			e := newEnv(t)
			if lazy {
				lazyView(t, e)
			}
			readYourWrites(t, e)
		})
		t.Run(fmt.Sprint("writes wait for the view/lazy view=", lazy), func(t *testing.T) {
			// A store that cannot tell its revision cheaply: reads take the
			// view as it is, and each write waits for the view to hold it.
			e := newEnv(t)
			var follow store.Store = e.s.Store
			l := &lazyStore{Store: e.s.Store.(*sqlite.Store)}
			if lazy {
				follow = l
			}
			e.s.Store = struct{ store.Store }{e.s.Store}
			e.s.view = view.New(struct{ store.Store }{follow}, Kinds, Indexes...)
			l.view.Store(e.s.view)
			t.Cleanup(e.s.view.Close)
			if e.s.view.Linearizable() {
				t.Fatal("the wrapped store still reports its revision")
			}
			readYourWrites(t, e)
		})
	}
}

func readYourWrites(t *testing.T, e *env) {
	vpc := e.vpc()
	const writers, each = 8, 15
	groups := make([]string, writers)
	for w := range writers {
		groups[w] = e.group(CreateGroupInput{VpcID: vpc})
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				port := fmt.Sprintf("%d/%d", 1000+i, 1000+i)
				err := e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: groups[w], Direction: model.Ingress,
					Permissions: []model.RuleInput{{IpProtocol: "TCP", PortRange: port, SourceCidrIp: "10.0.0.0/8"}}})
				if err != nil {
					t.Error(err)
					return
				}
				attr, err := e.s.DescribeSecurityGroupAttribute(e.ctx, GroupAttributeInput{Caller: e.c, SecurityGroupID: groups[w], Page: Page{Tokens: true, Size: 1000}})
				if err != nil {
					t.Error(err)
					return
				}
				if len(attr.Rules) != i+1 {
					t.Errorf("writer %d: after %d writes its read shows %d rules", w, i+1, len(attr.Rules))
					return
				}
				list, err := e.s.DescribeSecurityGroups(e.ctx, DescribeGroupsInput{Caller: e.c, Page: Page{Number: 1, Size: 100}})
				if err != nil {
					t.Error(err)
					return
				}
				k := slices.IndexFunc(list.Items, func(s GroupSummary) bool { return s.Group.ID == groups[w] })
				if k < 0 || list.Items[k].RuleCount != i+1 {
					t.Errorf("writer %d: DescribeSecurityGroups after %d writes does not show them", w, i+1)
					return
				}
			}
		}()
	}
	wg.Wait()
	// The reads and writes above shared the view's values: none changed.
	for w := range writers {
		e.s.Revoke(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: groups[w], Direction: model.Ingress,
			Permissions: []model.RuleInput{{IpProtocol: "TCP", PortRange: "1000/1000", SourceCidrIp: "10.0.0.0/8"}}})
		e.s.ModifySecurityGroupAttribute(e.ctx, ModifyGroupInput{Caller: e.c, SecurityGroupID: groups[w], Description: new("changed")})
	}
	viewMatchesStore(t, e)
}

// viewMatchesStore fails unless every record of the view equals its JSON
// in the store: reads and writes that share the view's values must never
// modify them.
func viewMatchesStore(t *testing.T, e *env) {
	t.Helper()
	snap, err := e.s.view.Snapshot(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.s.Store.View(e.ctx, func(tx store.ReadTx) error {
		if tx.Revision() != snap.Revision() {
			t.Fatalf("view at %d, store at %d", snap.Revision(), tx.Revision())
		}
		for kind, dec := range Kinds {
			recs, err := tx.List(kind, store.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if n := snap.Count(kind, store.Query{}); n != len(recs) {
				t.Errorf("%s: %d in the view, %d in the store", kind, n, len(recs))
			}
			for _, r := range recs {
				want, _ := dec(r.Data)
				got := snap.Record(kind, r.ID)
				if got == nil || !reflect.DeepEqual(got.Object, want) {
					t.Errorf("%s/%s differs from the store:\nview  %+v\nstore %+v", kind, r.ID, got, want)
				}
			}
		}
		return nil
	})
}
