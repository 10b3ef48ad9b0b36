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
func memberIDs(t *testing.T, vt *viewTx, c Caller, g string) (indexed, scanned []string) {
	t.Helper()
	tx := vt.Tx
	fast, err := members(vt, c, g)
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
					vt := &viewTx{Tx: tx, view: e.s.view}
					check := func() {
						for _, g := range groups {
							fast, slow := memberIDs(t, vt, e.c, g)
							if !slices.Equal(fast, slow) {
								t.Errorf("members of %s: indexed %v, scan %v", g, fast, slow)
							}
						}
					}
					if i%2 == 0 {
						check() // before this transaction's own write, then after it
					}
					tx = vt
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
					check()
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

// TestGroupPageFromIndexes: DescribeSecurityGroups answered from the
// view's indexes equals the scan of the store, page by page.
func TestGroupPageFromIndexes(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	var ids []string
	for range 23 {
		ids = append(ids, e.group(CreateGroupInput{VpcID: vpc}))
	}
	for i := range 30 {
		a, b := ids[i%len(ids)], ids[(i*7+1)%len(ids)]
		if a == b { // the API refuses a group given twice
			e.instance(vpc, a)
			continue
		}
		e.instance(vpc, a, b)
	}
	scan := *e.s
	scan.view = nil // reads the store
	for _, pg := range []Page{{Number: 1, Size: 10}, {Number: 3, Size: 10, Offset: 20}, {Number: 9, Size: 10, Offset: 80},
		{Tokens: true, Size: 5, Offset: 5}, {Tokens: true, Size: 50}} {
		in := DescribeGroupsInput{Caller: e.c, Page: pg}
		got, err := e.s.DescribeSecurityGroups(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want, err := scan.DescribeSecurityGroups(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", flat(got)) != fmt.Sprintf("%+v", flat(want)) {
			t.Errorf("page %+v:\nindexed %+v\nscan    %+v", pg, flat(got), flat(want))
		}
	}
	viewMatchesStore(t, e)
}

// flat prints a listing without pointers.
func flat(l Listing[GroupSummary]) []any {
	out := []any{l.Total, l.NextToken, len(l.Items)}
	for _, s := range l.Items {
		out = append(out, *s.Group, s.Members, s.RuleCount, s.AvailableInstanceAmount)
	}
	return out
}
