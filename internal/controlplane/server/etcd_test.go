package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
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

// TestKeyWritesRaceOnEtcd: the writes outside a group's (keys, accounts,
// hosts) sent at once to several servers of one etcd all land or fail
// with their own error: a write whose reads another server's commit moved
// reads again, as a group's does. Without the retry they fail with the
// store's conflict (an internal error to the client).
func TestKeyWritesRaceOnEtcd(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	const n, each = 3, 4
	etcdURLs := []string{etcdtest.Embedded(t)}
	servers := make([]*Server, n)
	for i := range n {
		s, err := Open(context.Background(), Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"), Etcd: etcdURLs, Log: quiet})
		if err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
		servers[i] = s
		t.Cleanup(func() {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			s.Serve(ctx)
		})
	}
	ctx := context.Background()
	op := service.Caller{Account: servers[0].OperatorKey.Account, Operator: true}
	tenant := service.KeyInput{Caller: service.Caller{Account: servers[0].Key.Account}}

	// Each server: accounts and hosts of its own, and one more key of the
	// first tenant, who has room for one (MaxAccessKeys).
	var wg sync.WaitGroup
	errs := make(chan error, 3*n*each)
	var keysMade sync.Map
	for i, s := range servers {
		for j := range each {
			wg.Go(func() {
				if _, _, err := s.Ops.CreateAccount(ctx, op, fmt.Sprintf("race-%d-%d", i, j)); err != nil {
					errs <- fmt.Errorf("server %d: CreateAccount: %w", i, err)
				}
			})
			wg.Go(func() {
				host := fmt.Sprintf("host-%d-%d", i, j)
				if _, err := s.Ops.RegisterHost(ctx, op, host); err != nil {
					errs <- fmt.Errorf("server %d: RegisterHost %s: %w", i, host, err)
				}
			})
		}
		wg.Go(func() {
			k, err := s.Ops.CreateAccessKey(ctx, tenant)
			var e *ecserr.Error
			switch {
			case err == nil:
				keysMade.Store(k.ID, i)
			case errors.As(err, &e) && e.Code == "LimitExceeded.User.AccessKey":
			default:
				errs <- fmt.Errorf("server %d: CreateAccessKey: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	made := 0
	keysMade.Range(func(any, any) bool { made++; return true })
	if made != service.MaxAccessKeys-1 {
		t.Errorf("%d new keys of the tenant; want %d (it had one, and may hold %d)", made, service.MaxAccessKeys-1, service.MaxAccessKeys)
	}
	// Another server's writes reach this one's view within milliseconds.
	var hosts []model.AccessKey
	var accts []model.Account
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if hosts, err = servers[n-1].Ops.ListHostKeys(ctx, op); err != nil {
			t.Fatal(err)
		}
		if accts, err = servers[n-1].Ops.ListAccounts(ctx, op); err != nil {
			t.Fatal(err)
		}
		if len(hosts) == n*each && len(accts) == 1+n*each || time.Now().After(deadline) {
			break
		}
	}
	if len(hosts) != n*each || len(accts) != 1+n*each {
		t.Errorf("%d host keys and %d tenants; want %d and %d", len(hosts), len(accts), n*each, 1+n*each)
	}
}
