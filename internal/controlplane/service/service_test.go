package service

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// env is a service on a fresh SQLite file, called directly with typed
// inputs as a console would: no transport, no access keys.
type env struct {
	t   *testing.T
	s   *Service
	ctx context.Context
	c   Caller
	op  Caller // the operator, for the host actions
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c, err := AccountCaller("1000000000000001", "cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, s: New(st), ctx: context.Background(), c: c, op: Caller{Account: "9000000000000009", Region: c.Region, Operator: true}}
}

// put stores a resource of the env's account as the VPC and instance
// actions would.
func (e *env) put(kind store.Kind, id string, v any) {
	e.t.Helper()
	if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		return store.PutAs(tx, kind, id, e.c.Account, e.c.Region, v)
	}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) vpc() string {
	v := model.VPC{ID: model.NewID("vpc"), Region: e.c.Region, Owner: e.c.Account, CIDR: netip.MustParsePrefix("192.168.0.0/16")}
	e.put(KindVPC, v.ID, v)
	return v.ID
}

func (e *env) instance(vpc string, groups ...string) string {
	in := model.Instance{ID: model.NewID("i"), Region: e.c.Region, Owner: e.c.Account, VpcID: vpc,
		PrivateIP: netip.MustParseAddr("192.168.1.10"), Status: model.StatusRunning, SecurityGroups: groups}
	e.put(KindInstance, in.ID, in)
	return in.ID
}

func (e *env) group(in CreateGroupInput) string {
	e.t.Helper()
	in.Caller = e.c
	res, err := e.s.CreateSecurityGroup(e.ctx, in)
	if err != nil {
		e.t.Fatalf("CreateSecurityGroup %+v: %v", in, err)
	}
	return res.SecurityGroupId
}

func (e *env) load(id string) *model.SecurityGroup {
	e.t.Helper()
	g, err := View(e.s, e.ctx, func(tx store.ReadTx) (*model.SecurityGroup, error) { return GetGroup(tx, e.c, id) })
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// wantCode fails unless err is the ECS error code (any code when "" means
// success is wanted).
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	switch {
	case code == "" && err != nil:
		t.Fatalf("got %v, want success", err)
	case code != "" && err == nil:
		t.Fatalf("succeeded, want %s", code)
	case code != "" && ecserr.As(err).Code != code:
		t.Fatalf("got %v, want %s", err, code)
	}
}

func TestAccountCaller(t *testing.T) {
	for _, tt := range []struct{ region, code string }{{"cn-hangzhou", ""}, {"", "MissingParameter"}, {"mars-1", "InvalidRegionId.NotFound"}} {
		_, err := AccountCaller("1", tt.region)
		wantCode(t, err, tt.code)
	}
}
