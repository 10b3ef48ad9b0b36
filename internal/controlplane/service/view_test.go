package service

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestKeyRemovedIsRefusedAtOnce: signature checks read keys from the view,
// and the very next lookup after a key is removed (as disabling or deleting
// it will) refuses it: reads wait for the view to hold every committed
// write.
func TestKeyRemovedIsRefusedAtOnce(t *testing.T) {
	e := newEnv(t)
	boot, err := e.s.Bootstrap(e.ctx, BootstrapKeys{})
	if err != nil {
		t.Fatal(err)
	}
	key := boot.Tenant
	for i := range 50 {
		_, k, err := e.s.NewTenant(e.ctx, fmt.Sprint("acct", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := e.s.LookupSecret(k.ID); !ok {
			t.Fatalf("new key %s is not found at once", k.ID)
		}
		if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error { return tx.Delete(KindAccessKey, k.ID) }); err != nil {
			t.Fatal(err)
		}
		if _, ok := e.s.LookupSecret(k.ID); ok {
			t.Fatalf("key %s removed is still accepted", k.ID)
		}
		if _, err := e.s.CallerOf(e.ctx, k.ID, "cn-hangzhou", true); err == nil {
			t.Fatalf("key %s removed still resolves to an account", k.ID)
		}
	}
	if _, ok := e.s.LookupSecret(key.ID); !ok {
		t.Fatal("the first key is lost")
	}
}

// TestReadYourWrites: with writers running at once (their writes share
// batches), each writer's next read sees its own write, and every write
// answered before it.
func TestReadYourWrites(t *testing.T) {
	t.Run("linearizable reads", func(t *testing.T) { readYourWrites(t, newEnv(t)) })
	t.Run("writes wait for the view", func(t *testing.T) {
		// A store that cannot tell its revision cheaply: reads take the
		// view as it is, and each write waits for the view to hold it.
		e := newEnv(t)
		e.s.Store = struct{ store.Store }{e.s.Store}
		e.s.view = view.New(e.s.Store, Kinds, Indexes...)
		t.Cleanup(e.s.view.Close)
		if e.s.view.Linearizable() {
			t.Fatal("the wrapped store still reports its revision")
		}
		readYourWrites(t, e)
	})
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
