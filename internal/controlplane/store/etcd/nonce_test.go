package etcd

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestClaimNonceAcrossServers: many requests with the same nonce, spread
// over two servers, are accepted exactly once; the same nonce of another
// key, or another nonce, is still free; the nonce's key holds a lease that
// outlives the TTL asked for.
func TestClaimNonceAcrossServers(t *testing.T) {
	open := opener(etcdtest.Embedded(t))
	a := open(t)
	b, err := Dial(context.Background(), []string{a.cli.Endpoints()[0]}, a.p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	for round := range 3 {
		nonce := fmt.Sprintf("nonce-%d", round)
		var won atomic.Int64
		var wg sync.WaitGroup
		errc := make(chan error, 16)
		for i := range 16 {
			s := []*Store{a, b}[i%2]
			wg.Go(func() {
				ok, err := s.ClaimNonce(ctx, "LTAIkey1", nonce, 15*time.Minute)
				if err != nil {
					errc <- err
				}
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		if won.Load() != 1 {
			t.Fatalf("nonce %s claimed %d times over two servers, want once", nonce, won.Load())
		}
	}
	for _, tc := range []struct {
		key, nonce string
		want       bool
	}{
		{"LTAIkey1", "nonce-0", false},
		{"LTAIkey2", "nonce-0", true}, // nonces are per key
		{"LTAIkey1", "nonce-x", true},
		{"LTAIkey1", "nonce-x", false},
	} {
		ok, err := b.ClaimNonce(ctx, tc.key, tc.nonce, 20*time.Minute)
		if err != nil || ok != tc.want {
			t.Fatalf("ClaimNonce(%s, %s) = %v, %v; want %v", tc.key, tc.nonce, ok, err, tc.want)
		}
	}
	resp, err := a.cli.Get(ctx, a.nonceKey("LTAIkey1", "nonce-x"))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("the nonce key: %v, %v; want one key under a lease", resp, err)
	}
	lr, err := a.cli.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(lr.TTL) * time.Second; got < 20*time.Minute || got > 22*time.Minute {
		t.Errorf("the nonce's lease has %v left, want 20 to 22 minutes (the TTL asked, rounded up to the minute)", got)
	}
}
