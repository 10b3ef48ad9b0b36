package api

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// env is a service on a fresh SQLite file with one account.
type env struct {
	t   *testing.T
	s   *Service
	ctx context.Context
	key string // access key ID of the account
	op  string // access key ID of the operator
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st)
	b, err := s.Bootstrap(context.Background(), service.BootstrapKeys{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, s: s, ctx: context.Background(), key: b.Tenant.ID, op: b.Operator.ID}
}

// operator returns an env acting as the operator on the same service.
func (e *env) operator() *env {
	return &env{t: e.t, s: e.s, ctx: e.ctx, key: e.op, op: e.op}
}

// as returns an env acting as another, new account on the same service.
func (e *env) otherAccount() *env {
	_, key, err := e.s.NewTenant(e.ctx, "other")
	if err != nil {
		e.t.Fatal(err)
	}
	return &env{t: e.t, s: e.s, ctx: e.ctx, key: key.ID, op: e.op}
}

// call invokes an action the way the transport does, with RegionId
// cn-hangzhou unless params set it ("" removes it).
func (e *env) call(version, action string, params map[string]string) (any, error) {
	e.t.Helper()
	p := rpc.Params{"RegionId": "cn-hangzhou"}
	for k, v := range params {
		p[k] = v
	}
	if p["RegionId"] == "" {
		delete(p, "RegionId")
	}
	h, ok := e.s.Routes()[rpc.RouteKey{Version: version, Action: action}]
	if !ok {
		e.t.Fatalf("no route for %s %s", version, action)
	}
	return h(rpc.WithAccessKeyID(e.ctx, e.key), &rpc.Request{Action: action, Version: version, Params: p, AccessKeyID: e.key})
}

// ecs calls an ECS action and fails the test on error.
func (e *env) ecs(action string, params map[string]string) any {
	e.t.Helper()
	out, err := e.call(ECSVersion, action, params)
	if err != nil {
		e.t.Fatalf("%s %v: %v", action, params, err)
	}
	return out
}

// ecsErr calls an ECS action that must fail with the given code and status.
func (e *env) ecsErr(code string, status int, action string, params map[string]string) {
	e.t.Helper()
	_, err := e.call(ECSVersion, action, params)
	if err == nil {
		e.t.Fatalf("%s %v: succeeded, want %s %d", action, params, code, status)
	}
	if got := ecserr.As(err); got.Code != code || got.Status != status {
		e.t.Fatalf("%s %v: got %v (status %d), want %s %d", action, params, err, got.Status, code, status)
	}
}

// ownerID is the env's account ID as a number, as OwnerId shows it.
func (e *env) ownerID() int64 {
	e.t.Helper()
	uid, ok := e.s.AccountOfKey(e.ctx, e.key)
	n, err := strconv.ParseInt(uid, 10, 64)
	if !ok || err != nil {
		e.t.Fatalf("account of %s: %q %v", e.key, uid, err)
	}
	return n
}
