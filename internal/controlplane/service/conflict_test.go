package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// conflictStore is the sqlite store as a backend whose writes interleave
// (etcd) would behave: the first fail preconditions find their record moved
// on, as if another writer had committed meanwhile. It sits beside the real
// store in one test only.
type conflictStore struct {
	*sqlite.Store
	fail     int // preconditions left to fail
	expects  int // preconditions stated
	attempts int // Updates run
}

func (s *conflictStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		s.attempts++
		return fn(&conflictTx{Tx: tx, s: s})
	})
}

type conflictTx struct {
	store.Tx
	s *conflictStore
}

func (t *conflictTx) Expect(kind store.Kind, id string, rev int64) error {
	t.s.expects++
	if t.s.fail > 0 {
		t.s.fail--
		return t.Tx.Expect(kind, id, rev+1) // a revision the record is not at
	}
	return t.Tx.Expect(kind, id, rev)
}

func (t *conflictTx) ChangesSince(after int64) ([]store.Change, error) {
	return t.Tx.(changesSince).ChangesSince(after)
}

// TestWriteRetriesOnConflict: a write states what it read from the view
// as a precondition; when that fails, Update reads again and retries, and
// the write lands once — or, past maxAttempts, fails and writes nothing.
func TestWriteRetriesOnConflict(t *testing.T) {
	for _, fail := range []int{0, 1, 3, maxAttempts} {
		t.Run(fmt.Sprint("fail=", fail), func(t *testing.T) {
			e := newEnv(t)
			vpc := e.vpc()
			sg := e.group(CreateGroupInput{VpcID: vpc})
			e.instance(vpc, sg) // a member: its quota is checked from the view too
			cs := &conflictStore{Store: e.s.Store.(*sqlite.Store)}
			e.s.Store = cs
			e.s.view = view.New(cs, Kinds, Indexes...)
			t.Cleanup(e.s.view.Close)
			before := len(e.load(sg).Rules)
			cs.fail = fail
			err := e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress,
				Permissions: []model.RuleInput{{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}})
			if cs.expects == 0 {
				t.Fatal("the write stated no precondition on what it read from the view")
			}
			rules := len(e.load(sg).Rules)
			if fail >= maxAttempts {
				if !errors.Is(err, store.ErrConflict) || rules != before {
					t.Fatalf("after %d conflicts: err %v, %d rules (before %d); want ErrConflict and nothing written", fail, err, rules, before)
				}
				if e := ecserr.As(err); e.Code != "OperationConflict" || strings.Contains(e.Message, sg) {
					t.Fatalf("the client is answered %v, want OperationConflict without the details", e)
				}
				return
			}
			if err != nil {
				t.Fatalf("after %d conflicts: %v", fail, err)
			}
			if rules != before+1 || cs.attempts <= fail {
				t.Fatalf("after %d conflicts: %d rules (before %d) in %d attempts; want one more rule after a retry per conflict", fail, rules, before, cs.attempts)
			}
		})
	}
}
