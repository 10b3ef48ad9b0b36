package service

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// interleaveStore is the sqlite store with another write committed just
// before the next Update's transaction: after a write ran against the view
// (outside the store), before it commits — the window optTx's
// preconditions must close.
type interleaveStore struct {
	*sqlite.Store
	before  func()
	updates int
}

func (s *interleaveStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	s.updates++
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.Store.Update(ctx, fn)
}

// TestOptimisticWriteSeesInterleavedWrites: a write run against the view
// commits only if nothing it read changed meanwhile — a record, or who is
// in an index key (members) — else it runs again on the new state, so the
// outcome is that of running after the other write.
func TestOptimisticWriteSeesInterleavedWrites(t *testing.T) {
	for _, tt := range []struct {
		name string
		// run is the write; between is committed after it ran, before
		// it commits; check judges the outcome.
		run     func(e *env, sg string) error
		between func(e *env, vpc, sg string)
		code    string
		check   func(e *env, sg string)
	}{{
		name: "a member joins before a delete commits",
		run: func(e *env, sg string) error {
			return e.s.DeleteSecurityGroup(e.ctx, GroupRef{Caller: e.c, SecurityGroupID: sg})
		},
		between: func(e *env, vpc, sg string) {
			e.instance(vpc, sg)
		},
		code: "DependencyViolation",
		check: func(e *env, sg string) {
			if e.load(sg) == nil {
				t.Error("the group was deleted under its member")
			}
		},
	}, {
		name: "the group changes before an authorize commits",
		run: func(e *env, sg string) error {
			return e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress,
				Permissions: []model.RuleInput{{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}})
		},
		between: func(e *env, vpc, sg string) {
			g := e.load(sg)
			g.Rules = append(slices.Clone(g.Rules), modeltest.Rule("sgr-between", "in accept 1 TCP 80/80 10.1.0.0/24"))
			e.put(KindGroup, sg, g)
		},
		check: func(e *env, sg string) {
			var ids []string
			for _, r := range e.load(sg).Rules {
				ids = append(ids, r.ID)
			}
			if len(ids) != 2 || !slices.Contains(ids, "sgr-between") {
				t.Errorf("rules %v, want the one written between and the one authorized (no lost update)", ids)
			}
		},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			vpc := e.vpc()
			sg := e.group(CreateGroupInput{VpcID: vpc})
			is := &interleaveStore{Store: e.s.Store.(*sqlite.Store)}
			is.before = func() { tt.between(e, vpc, sg) }
			e.s.Store = is
			err := tt.run(e, sg)
			e.s.Store = is.Store
			wantCode(t, err, tt.code)
			if is.before != nil || is.updates < 2 {
				t.Fatalf("%d Updates, the interleaved write run: %v; want it run and the write run again", is.updates, is.before == nil)
			}
			tt.check(e, sg)
		})
	}
}

// TestOptimisticClientToken: a request whose ClientToken another request
// took between its run and its commit answers what that one answered and
// writes nothing (one group, not two); with other parameters it is refused
// IdempotentParameterMismatch.
func TestOptimisticClientToken(t *testing.T) {
	for _, tt := range []struct {
		name, otherName, code string
	}{
		{"the same request", "web", ""},
		{"another request", "db", "IdempotentParameterMismatch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			vpc := e.vpc()
			idem := Idempotency{ClientToken: "token-1"}
			var first CreateGroupResult
			is := &interleaveStore{Store: e.s.Store.(*sqlite.Store)}
			is.before = func() {
				var err error
				first, err = e.s.CreateSecurityGroup(e.ctx, CreateGroupInput{Caller: e.c, VpcID: vpc, Name: tt.otherName, Idempotency: idem})
				if err != nil {
					t.Error(err)
				}
			}
			e.s.Store = is
			got, err := e.s.CreateSecurityGroup(e.ctx, CreateGroupInput{Caller: e.c, VpcID: vpc, Name: "web", Idempotency: idem})
			e.s.Store = is.Store
			wantCode(t, err, tt.code)
			if is.before != nil {
				t.Fatal("the other request did not run between")
			}
			if tt.code == "" && got != first {
				t.Errorf("answered %v, want the first answer %v", got, first)
			}
			l, err := e.s.DescribeSecurityGroups(e.ctx, DescribeGroupsInput{Caller: e.c, Page: Page{Number: 1, Size: 100}})
			if err != nil {
				t.Fatal(err)
			}
			if l.Total != 1 {
				t.Errorf("%d groups, want the first request's one", l.Total)
			}
		})
	}
}

// TestOptTxReset: a transaction emptied for reuse keeps nothing of the
// write before, in any field (a field added later must be emptied too:
// the test names it); only the closure bound to the transaction stays.
func TestOptTxReset(t *testing.T) {
	ref := view.Ref{Kind: KindGroup, ID: "sg-1"}
	rec := &store.Record{Kind: KindGroup, ID: "sg-1"}
	ot := newOptTx(new(view.Snapshot))
	ot.w[ref] = rec
	ot.order = append(ot.order, ref)
	ot.dirty[KindGroup] = map[string]bool{"sg-1": true}
	ot.expects[ref] = 1
	ot.soft = map[view.Ref]int64{ref: 1}
	ot.rechecks = append(ot.rechecks, func(store.ReadTx) error { return nil })
	ot.preds = append(ot.preds, readPred{kind: KindGroup})
	ot.toks = append(ot.toks, store.Token{Token: "t"})
	ot.conflict = store.ErrConflict
	ot.putRefs = append(ot.putRefs, ref)
	ot.putSeen = map[view.Ref]bool{ref: true}
	ot.notePut = ot.notePutChange
	ot.cur = curTx{snap: ot.snap}
	v := reflect.ValueOf(ot).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("field %s is not set by the test", v.Type().Field(i).Name)
		}
	}
	if !ot.reset() {
		t.Fatal("reset refused a small transaction")
	}
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.Map:
			for _, k := range f.MapKeys() {
				if e := f.MapIndex(k); name != "dirty" || e.Len() > 0 {
					t.Errorf("%s keeps %v: %v", name, k, e)
				}
			}
		case reflect.Slice:
			if f.Len() > 0 {
				t.Errorf("%s has %d elements", name, f.Len())
			}
			for j, all := 0, f.Slice(0, f.Cap()); j < all.Len(); j++ {
				if !all.Index(j).IsZero() {
					t.Errorf("%s keeps element %d past its length", name, j)
				}
			}
		case reflect.Struct:
			if !f.IsZero() {
				t.Errorf("%s is kept", name)
			}
		case reflect.Pointer, reflect.Interface:
			if !f.IsNil() {
				t.Errorf("%s is kept", name)
			}
		case reflect.Func:
			if name != "notePut" && !f.IsNil() {
				t.Errorf("%s is kept", name)
			}
		default:
			t.Errorf("field %s (%s): say how reset empties it", name, f.Kind())
		}
	}
}
