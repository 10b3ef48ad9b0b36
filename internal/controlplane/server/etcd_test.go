package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestBootstrapRaceOnEtcd: servers started at once on one etcd make one
// operator and one first tenant between them, and all report the same
// keys (one of them as new). Without the retry of a conflicting
// bootstrap, all but one fail to start.
func TestBootstrapRaceOnEtcd(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for round, keys := range []service.BootstrapKeys{
		{}, // each server makes its own candidate keys
		{OperatorID: "LTAIraceoperator", OperatorSecret: "s1", TenantID: "LTAIracetenant", TenantSecret: "s2"},
	} {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			const n = 4
			etcdURLs := []string{etcdtest.Embedded(t)}
			servers := make([]*Server, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					servers[i], errs[i] = Open(context.Background(), Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
						Etcd: etcdURLs, Log: quiet, OperatorKeyID: keys.OperatorID, OperatorKeySecret: keys.OperatorSecret,
						AccessKeyID: keys.TenantID, AccessKeySecret: keys.TenantSecret})
				})
			}
			wg.Wait()
			for i, s := range servers {
				if errs[i] != nil {
					t.Fatalf("server %d: %v", i, errs[i])
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithCancel(context.Background())
					cancel()
					s.Serve(ctx)
				})
			}
			opNew, tenNew := 0, 0
			for i, s := range servers {
				if s.OperatorKey.ID != servers[0].OperatorKey.ID || s.Key.ID != servers[0].Key.ID {
					t.Errorf("server %d has operator key %s and tenant key %s; server 0 %s and %s", i,
						s.OperatorKey.ID, s.Key.ID, servers[0].OperatorKey.ID, servers[0].Key.ID)
				}
				if s.OperatorKeyIsNew {
					opNew++
				}
				if s.KeyIsNew {
					tenNew++
				}
			}
			if keys.OperatorID == "" && (opNew != 1 || tenNew != 1) {
				t.Errorf("%d servers say they made the operator's key and %d the tenant's; want 1 each", opNew, tenNew)
			}
			var ops, firsts, total int
			err := servers[n-1].Store.View(context.Background(), func(tx store.ReadTx) error {
				accts, err := store.ListAs[model.Account](tx, service.KindAccount, store.Query{})
				for _, a := range accts {
					total++
					if a.Operator {
						ops++
					}
					if a.First {
						firsts++
					}
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if ops != 1 || firsts != 1 || total != 2 {
				t.Fatalf("%d accounts: %d operators and %d first tenants; want 2 accounts, one of each", total, ops, firsts)
			}
		})
	}
}
