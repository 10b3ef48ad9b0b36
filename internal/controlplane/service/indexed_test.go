package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// memberIDs lists the IDs of members answered by the indexed path and by a
// scan of the transaction.
func memberIDs(t *testing.T, tx store.Tx, v *Service, c Caller, g string) (indexed, scanned []string) {
	t.Helper()
	fast, err := members(&viewTx{Tx: tx, view: v.view}, c, g)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := members(tx, c, g)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range fast {
		indexed = append(indexed, in.ID)
	}
	for _, in := range slow {
		scanned = append(scanned, in.ID)
	}
	return indexed, scanned
}

// TestIndexedMembersExact: inside writes that run concurrently (so they
// share group-committed batches, ahead of the view), members answered from
// the view's index plus the changes since it equal a scan of the
// transaction, including the transaction's own writes.
func TestIndexedMembersExact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	vpc := e.vpc()
	groups := []string{"sg-x0", "sg-x1", "sg-x2"}
	for _, g := range groups {
		e.put(KindGroup, g, model.SecurityGroup{ID: g, Region: e.c.Region, Owner: e.c.Account, VpcID: vpc, Type: model.Normal})
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				_, err := e.s.Store.Update(ctx, func(tx store.Tx) error {
					id := fmt.Sprintf("i-w%d-%d", w, i%10) // rewrites move instances between groups
					in := model.Instance{ID: id, Region: e.c.Region, Owner: e.c.Account, VpcID: vpc,
						PrivateIP: netip.MustParseAddr("192.168.1.10"), SecurityGroups: []string{groups[(w+i)%3]}}
					if i%7 == 6 {
						if err := tx.Delete(KindInstance, id); err != nil {
							return err
						}
					} else if err := PutInstance(tx, &in); err != nil {
						return err
					}
					for _, g := range groups {
						fast, slow := memberIDs(t, tx, e.s, e.c, g)
						if !slices.Equal(fast, slow) {
							t.Errorf("members of %s: indexed %v, scan %v", g, fast, slow)
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
