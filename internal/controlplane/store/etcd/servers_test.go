package etcd

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store/etcd/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestServerRegistry: servers list themselves while they run; a lease
// lost under a running server is granted again; a stopped server leaves
// at once; one that dies (its client gone, nothing revoked) leaves when its
// lease ends.
func TestServerRegistry(t *testing.T) {
	open := opener(etcdtest.Embedded(t))
	a := open(t)
	b, err := Dial(context.Background(), []string{a.cli.Endpoints()[0]}, a.p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ids := func() []string {
		t.Helper()
		ss, err := a.Servers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range ss {
			out = append(out, s.ID+" "+s.URL)
		}
		return out
	}
	eventually := func(want []string, why string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Equal(ids(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: servers %v, want %v", why, ids(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if _, err := a.RegisterServer(ctx, ServerInfo{ID: "x"}, time.Second); err == nil {
		t.Error("a server without a URL registered")
	}
	stopA, err := a.RegisterServer(ctx, ServerInfo{ID: "a", URL: "http://127.0.0.1:1"}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stopB, err := b.RegisterServer(ctx, ServerInfo{ID: "b", URL: "https://127.0.0.1:2", Cert: []byte{1}}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Another server with a's ID (a copied ID file) is refused once a's
	// registration has outlived a lease.
	if _, err := b.RegisterServer(ctx, ServerInfo{ID: "a", URL: "http://127.0.0.1:9"}, time.Second); err == nil {
		t.Error("a second server registered with a's ID")
	}
	both := []string{"a http://127.0.0.1:1", "b https://127.0.0.1:2"}
	if got := ids(); !slices.Equal(got, both) {
		t.Fatalf("servers %v, want %v", got, both)
	}
	// Its lease revoked under it (as when etcd was unreachable past the
	// TTL), a's registration comes back.
	resp, err := a.cli.Get(ctx, a.serversPrefix()+"a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("a's key: %v %v", resp, err)
	}
	if _, err := a.cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	eventually([]string{"b https://127.0.0.1:2"}, "after a's lease was revoked")
	eventually(both, "a registered again")
	// Kept alive past several TTLs.
	time.Sleep(3 * time.Second)
	eventually(both, "after 3s")
	stopA()
	if got := ids(); !slices.Equal(got, []string{"b https://127.0.0.1:2"}) {
		t.Errorf("after a's stop: servers %v", got)
	}
	// b dies: its client goes away without revoking its lease.
	b.Close()
	defer stopB()
	eventually(nil, "after b's client closed")

	// A server restarted at another URL before its old lease ended (a
	// crash, then a new port) waits for it and registers.
	c, err := Dial(context.Background(), []string{a.cli.Endpoints()[0]}, a.p)
	if err != nil {
		t.Fatal(err)
	}
	stopOld, err := c.RegisterServer(ctx, ServerInfo{ID: "c", URL: "http://127.0.0.1:3"}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // dies without revoking
	defer stopOld()
	stopC, err := a.RegisterServer(ctx, ServerInfo{ID: "c", URL: "http://127.0.0.1:4"}, 2*time.Second)
	if err != nil {
		t.Fatalf("restart at another URL: %v", err)
	}
	defer stopC()
	eventually([]string{"c http://127.0.0.1:4"}, "after c's restart")
}

// TestRegisterServerRace: servers of one ID (a copied ID file) starting
// at once: one registers, the others are refused, whichever wins (the
// check and the write are one transaction).
func TestRegisterServerRace(t *testing.T) {
	a := opener(etcdtest.Embedded(t))(t)
	ctx := context.Background()
	for round := range 2 {
		id := fmt.Sprint("race", round)
		const n = 4
		errs := make([]error, n)
		stops := make([]func(), n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				stops[i], errs[i] = a.RegisterServer(ctx, ServerInfo{ID: id, URL: fmt.Sprintf("http://127.0.0.1:%d", 10+i)}, time.Second)
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
				defer stops[i]()
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d of %d servers of one ID registered (%v), want 1", round, won, n, errs)
		}
	}
}

// TestRegisterServerIDTaken: a server whose lease was lost and whose ID
// another server took meanwhile says so (OnIDTaken, each attempt), then
// once that it is back when the other leaves.
func TestRegisterServerIDTaken(t *testing.T) {
	a := opener(etcdtest.Embedded(t))(t)
	ctx := context.Background()
	told := make(chan string, 100)
	a.OnIDTaken = func(by string) { told <- by }
	stop, err := a.RegisterServer(ctx, ServerInfo{ID: "a", URL: "http://127.0.0.1:1"}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	key := a.serversPrefix() + "a"
	resp, err := a.cli.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("a's key: %v %v", resp, err)
	}
	if _, err := a.cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.cli.Put(ctx, key, `{"ID":"a","URL":"http://127.0.0.1:9"}`); err != nil {
		t.Fatal(err)
	}
	next := func(why string) string {
		t.Helper()
		select {
		case by := <-told:
			return by
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not told", why)
			return ""
		}
	}
	for i := range 2 {
		if by := next("taken"); by != "http://127.0.0.1:9" {
			t.Fatalf("attempt %d: told %q, want the other's URL", i, by)
		}
	}
	if _, err := a.cli.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	for by := next("back"); by != ""; by = next("back") {
		if by != "http://127.0.0.1:9" {
			t.Fatalf("told %q", by)
		}
	}
	if ss, err := a.Servers(ctx); err != nil || len(ss) != 1 || ss[0].URL != "http://127.0.0.1:1" {
		t.Errorf("servers %+v (%v), want a registered again", ss, err)
	}
}
