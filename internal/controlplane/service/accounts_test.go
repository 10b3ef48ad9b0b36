package service

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// boot bootstraps e's service and returns the operator's and the first
// tenant's callers with their keys.
func boot(t *testing.T, e *env) (Bootstrapped, Caller, Caller) {
	t.Helper()
	b, err := e.s.Bootstrap(e.ctx, BootstrapKeys{})
	if err != nil {
		t.Fatal(err)
	}
	op, err := e.s.KeyCaller(e.ctx, b.Operator.ID)
	if err != nil {
		t.Fatal(err)
	}
	ten, err := e.s.KeyCaller(e.ctx, b.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	return b, op, ten
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t)
	b, op, ten := boot(t, e)
	if !b.OperatorNew || !b.TenantNew || !op.Operator || ten.Operator || op.Account == ten.Account {
		t.Fatalf("first bootstrap: %+v operator %+v tenant %+v", b, op, ten)
	}
	again, err := e.s.Bootstrap(e.ctx, BootstrapKeys{})
	if err != nil || again.OperatorNew || again.TenantNew || again.Operator != b.Operator || again.Tenant != b.Tenant {
		t.Fatalf("second bootstrap made new keys: %+v %v", again, err)
	}
	// Pairs given are stored for their accounts, next to the keys made.
	given, err := e.s.Bootstrap(e.ctx, BootstrapKeys{OperatorID: "LTAIop", OperatorSecret: "s1", TenantID: "LTAIten", TenantSecret: "s2"})
	if err != nil || given.Operator.Account != op.Account || given.Tenant.Account != ten.Account || given.OperatorNew || given.TenantNew {
		t.Fatalf("bootstrap with pairs: %+v %v", given, err)
	}
	// A given ID that is another account's key is refused, and changes nothing.
	if _, err := e.s.Bootstrap(e.ctx, BootstrapKeys{OperatorID: "LTAIten", OperatorSecret: "x"}); err == nil {
		t.Fatal("the tenant's key ID became the operator's")
	}
	if c, err := e.s.KeyCaller(e.ctx, "LTAIten"); err != nil || c.Account != ten.Account || c.Operator {
		t.Fatalf("tenant key after a refused bootstrap: %+v %v", c, err)
	}
	// An ID without its secret is refused.
	for _, in := range []BootstrapKeys{{OperatorID: "LTAIx"}, {TenantID: "LTAIx"}, {TenantSecret: "s"}} {
		if _, err := newEnv(t).s.Bootstrap(e.ctx, in); err == nil {
			t.Fatalf("bootstrap with %+v succeeded", in)
		}
	}
	// One ID for both new keys: refused, and nothing is made.
	fresh := newEnv(t)
	if _, err := fresh.s.Bootstrap(fresh.ctx, BootstrapKeys{OperatorID: "LTAIsame", OperatorSecret: "a", TenantID: "LTAIsame", TenantSecret: "b"}); err == nil {
		t.Fatal("one ID became both keys")
	}
	if _, ok := fresh.s.LookupSecret("LTAIsame"); ok {
		t.Fatal("a failed bootstrap kept a key")
	}
	// A store from before the operator: its account 1000000000000001 becomes
	// the first tenant, and an operator account is made.
	old := newEnv(t)
	if _, err := old.s.Store.Update(old.ctx, func(tx store.Tx) error {
		if err := store.PutAs(tx, KindAccount, legacyFirstUID, legacyFirstUID, "", model.Account{UID: legacyFirstUID, Name: "default"}); err != nil {
			return err
		}
		return store.PutAs(tx, KindAccessKey, "LTAIold", legacyFirstUID, "", model.AccessKey{ID: "LTAIold", Secret: "s", Account: legacyFirstUID})
	}); err != nil {
		t.Fatal(err)
	}
	ob, err := old.s.Bootstrap(old.ctx, BootstrapKeys{})
	if err != nil || ob.Tenant.ID != "LTAIold" || ob.TenantNew || !ob.OperatorNew || ob.Operator.Account == legacyFirstUID {
		t.Fatalf("bootstrap of an old store: %+v %v", ob, err)
	}
}

func TestAccountIDsAreRandom(t *testing.T) {
	e := newEnv(t)
	_, op, _ := boot(t, e)
	digits := regexp.MustCompile(`^[1-9][0-9]{15}$`)
	seen := map[string]bool{op.Account: true}
	prev := int64(0)
	ascending := 0
	for range 20 {
		a, k, err := e.s.CreateAccount(e.ctx, op, "team")
		if err != nil {
			t.Fatal(err)
		}
		if !digits.MatchString(a.UID) || seen[a.UID] || k.Account != a.UID {
			t.Fatalf("account %+v key %+v", a, k)
		}
		seen[a.UID] = true
		var n int64
		for _, d := range a.UID {
			n = n*10 + int64(d-'0')
		}
		if n == prev+1 {
			ascending++
		}
		prev = n
	}
	if ascending > 2 {
		t.Fatalf("%d of 20 account IDs follow the one before", ascending)
	}
}

func TestOperatorActions(t *testing.T) {
	e := newEnv(t)
	b, op, ten := boot(t, e)
	acct, key, err := e.s.CreateAccount(e.ctx, op, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	host := Caller{Account: op.Account, Host: "h1"}
	for _, tt := range []struct {
		name   string
		caller Caller
		arg    string
		code   string
	}{
		{"operator", op, "team-b", ""},
		{"tenant", ten, "team-c", "Forbidden.Operator"},
		{"host key", host, "team-d", "Forbidden.Operator"},
		{"bad name", op, "a b", "InvalidParameter"},
		{"empty name", op, "", "InvalidParameter"},
	} {
		t.Run("create "+tt.name, func(t *testing.T) {
			_, _, err := e.s.CreateAccount(e.ctx, tt.caller, tt.arg)
			wantCode(t, err, tt.code)
		})
	}
	list, err := e.s.ListAccounts(e.ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, a := range list {
		names[a.Name] = true
		if a.Operator {
			t.Fatalf("the operator's account is listed as a tenant: %+v", a)
		}
	}
	if len(list) != 3 || !names["default"] || !names["team-a"] || !names["team-b"] {
		t.Fatalf("accounts %+v", list)
	}
	if _, err := e.s.ListAccounts(e.ctx, ten); err == nil {
		t.Fatal("a tenant listed the accounts")
	}
	for _, tt := range []struct {
		name   string
		caller Caller
		id     string
		code   string
	}{
		{"tenant", ten, acct.UID, "Forbidden.Operator"},
		{"host key", host, acct.UID, "Forbidden.Operator"},
		{"unknown", op, "1234567890123456", "EntityNotExist.Account"},
		{"the operator's own", op, op.Account, "EntityNotExist.Account"},
		{"missing", op, "", "MissingParameter"},
		{"operator", op, acct.UID, ""},
		{"again", op, acct.UID, ""},
	} {
		t.Run("disable "+tt.name, func(t *testing.T) {
			wantCode(t, e.s.DisableAccount(e.ctx, tt.caller, tt.id), tt.code)
		})
	}
	// The disabled account's key is refused from the next request on;
	// other keys are not.
	_, err = e.s.CallerOf(e.ctx, key.ID, "cn-hangzhou", true)
	wantCode(t, err, "Forbidden.AccountDisabled")
	if _, err := e.s.CallerOf(e.ctx, b.Tenant.ID, "cn-hangzhou", true); err != nil {
		t.Fatal(err)
	}
}

func TestCallerOf(t *testing.T) {
	e := newEnv(t)
	b, op, ten := boot(t, e)
	hk, err := e.s.RegisterHost(e.ctx, op, "host-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, key, region string
		need              bool
		code              string
		want              Caller
	}{
		{"tenant", b.Tenant.ID, "cn-hangzhou", true, "", Caller{Account: ten.Account, Region: "cn-hangzhou"}},
		{"operator", b.Operator.ID, "", false, "", Caller{Account: op.Account, Operator: true}},
		{"host", hk.ID, "", false, "", Caller{Account: op.Account, Host: "host-1"}},
		{"region needed", b.Tenant.ID, "", true, "MissingParameter", Caller{}},
		{"unknown region", b.Tenant.ID, "mars-1", true, "InvalidRegionId.NotFound", Caller{}},
		{"unknown key", "LTAInothere", "cn-hangzhou", true, "InvalidAccessKeyId.NotFound", Caller{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := e.s.CallerOf(e.ctx, tt.key, tt.region, tt.need)
			wantCode(t, err, tt.code)
			if err == nil && c != tt.want {
				t.Fatalf("caller %+v, want %+v", c, tt.want)
			}
		})
	}
	if secret, ok := e.s.LookupSecret(b.Tenant.ID); !ok || secret != b.Tenant.Secret {
		t.Fatal("LookupSecret does not find the first key")
	}
	if zones := e.s.DescribeZones(Caller{Region: "cn-hangzhou"}); len(zones) == 0 || zones[0].LocalName == "" {
		t.Fatalf("zones of cn-hangzhou: %v", zones)
	}
}

func TestCheckOperatorAndAdministrator(t *testing.T) {
	for _, tt := range []struct {
		name        string
		c           Caller
		host, admin bool
	}{
		{"operator", Caller{Account: "1", Operator: true}, true, true},
		{"host key", Caller{Account: "1", Host: "h"}, true, false},
		{"tenant", Caller{Account: "2"}, false, false},
		{"operator flag with a host", Caller{Account: "1", Operator: true, Host: "h"}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckOperator(tt.c, "X") == nil; got != tt.host {
				t.Errorf("CheckOperator allows: %v, want %v", got, tt.host)
			}
			if got := CheckAdministrator(tt.c, "X") == nil; got != tt.admin {
				t.Errorf("CheckAdministrator allows: %v, want %v", got, tt.admin)
			}
		})
	}
}

func TestAccessKeys(t *testing.T) {
	e := newEnv(t)
	b, op, ten := boot(t, e)
	in := func(c Caller, key string) KeyInput {
		return KeyInput{Caller: c, KeyID: key, SigningKey: b.Tenant.ID}
	}
	second, err := e.s.CreateAccessKey(e.ctx, in(ten, ""))
	if err != nil || second.Secret == "" || second.Status != "Active" {
		t.Fatalf("create: %+v %v", second, err)
	}
	_, err = e.s.CreateAccessKey(e.ctx, in(ten, ""))
	wantCode(t, err, "LimitExceeded.User.AccessKey")
	list, err := e.s.ListAccessKeys(e.ctx, in(ten, ""))
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, k := range list {
		if k.Secret != "" {
			t.Fatalf("ListAccessKeys shows a secret: %+v", k)
		}
	}
	other, okey, err := e.s.CreateAccount(e.ctx, op, "other")
	if err != nil {
		t.Fatal(err)
	}
	oc := Caller{Account: other.UID}
	if l, _ := e.s.ListAccessKeys(e.ctx, KeyInput{Caller: oc}); len(l) != 1 || l[0].ID != okey.ID {
		t.Fatalf("the other tenant's keys: %+v", l)
	}
	host := Caller{Account: op.Account, Host: "h1"}
	for _, tt := range []struct {
		name   string
		in     KeyInput
		status string
		code   string
	}{
		{"another tenant's key", in(oc, second.ID), "Inactive", "EntityNotExist.User.AccessKey"},
		{"unknown key", in(ten, "LTAInothere"), "Inactive", "EntityNotExist.User.AccessKey"},
		{"no key", in(ten, ""), "Inactive", "MissingParameter"},
		{"bad status", in(ten, second.ID), "inactive", "InvalidParameter"},
		{"no status", in(ten, second.ID), "", "MissingParameter"},
		{"a user", KeyInput{Caller: ten, UserName: "bob", KeyID: second.ID}, "Inactive", "EntityNotExist.User"},
		{"bad user", KeyInput{Caller: ten, UserName: "b b", KeyID: second.ID}, "Inactive", "InvalidParameter.UserName.InvalidChars"},
		{"host key", in(host, second.ID), "Inactive", "NoPermission"},
		{"the signing key", in(ten, b.Tenant.ID), "Inactive", "InvalidParameter.UserAccessKeyId"},
		{"deactivate", in(ten, second.ID), "Inactive", ""},
	} {
		t.Run("update "+tt.name, func(t *testing.T) {
			wantCode(t, e.s.UpdateAccessKey(e.ctx, tt.in, tt.status), tt.code)
		})
	}
	_, err = e.s.CallerOf(e.ctx, second.ID, "cn-hangzhou", true)
	wantCode(t, err, "Forbidden.AccessKeyDisabled")
	wantCode(t, e.s.UpdateAccessKey(e.ctx, in(ten, second.ID), "Active"), "")
	if c, err := e.s.CallerOf(e.ctx, second.ID, "cn-hangzhou", true); err != nil || c.Account != ten.Account {
		t.Fatalf("reactivated key: %+v %v", c, err)
	}
	wantCode(t, e.s.DeleteAccessKey(e.ctx, in(oc, second.ID)), "EntityNotExist.User.AccessKey")
	wantCode(t, e.s.DeleteAccessKey(e.ctx, in(ten, b.Tenant.ID)), "InvalidParameter.UserAccessKeyId")
	wantCode(t, e.s.DeleteAccessKey(e.ctx, in(ten, second.ID)), "")
	_, err = e.s.CallerOf(e.ctx, second.ID, "cn-hangzhou", true)
	wantCode(t, err, "InvalidAccessKeyId.NotFound")
	// Rotation: a new key, then the old one deleted signing with the new.
	third, err := e.s.CreateAccessKey(e.ctx, in(ten, ""))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.s.DeleteAccessKey(e.ctx, KeyInput{Caller: ten, KeyID: b.Tenant.ID, SigningKey: third.ID}), "")
	if l, _ := e.s.ListAccessKeys(e.ctx, in(ten, "")); len(l) != 1 || l[0].ID != third.ID {
		t.Fatalf("after rotation: %+v", l)
	}
}

func TestRegisterHost(t *testing.T) {
	e := newEnv(t)
	_, op, ten := boot(t, e)
	for _, tt := range []struct {
		name string
		c    Caller
		host string
		code string
	}{
		{"tenant", ten, "h1", "Forbidden.Operator"},
		{"host key", Caller{Account: op.Account, Host: "h0"}, "h1", "Forbidden.Operator"},
		{"bad name", op, "h 1", "InvalidParameter"},
		{"no name", op, "", "MissingParameter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.s.RegisterHost(e.ctx, tt.c, tt.host)
			wantCode(t, err, tt.code)
		})
	}
	k1, err := e.s.RegisterHost(e.ctx, op, "h1")
	if err != nil || k1.Host != "h1" || k1.Secret == "" {
		t.Fatalf("register: %+v %v", k1, err)
	}
	// Again: a new key, and the old one is refused.
	k2, err := e.s.RegisterHost(e.ctx, op, "h1")
	if err != nil || k2.ID == k1.ID {
		t.Fatalf("register again: %+v %v", k2, err)
	}
	if _, err := e.s.KeyCaller(context.Background(), k1.ID); err == nil {
		t.Fatal("the replaced host key still works")
	}
	if hosts, err := e.s.ListHostKeys(e.ctx, op); err != nil || len(hosts) != 1 || hosts[0].ID != k2.ID || hosts[0].Secret != "" {
		t.Fatalf("ListHostKeys: %+v %v", hosts, err)
	}
	if _, err := e.s.ListHostKeys(e.ctx, ten); err == nil {
		t.Fatal("a tenant listed the host keys")
	}
	// Host keys are not the operator's RAM keys.
	if l, _ := e.s.ListAccessKeys(e.ctx, KeyInput{Caller: op}); len(l) != 1 {
		t.Fatalf("the operator's keys include host keys: %+v", l)
	}
}

// TestBootstrapKeepsKeyChanges: a restart with the same pair in the
// environment does not undo what was done to that key through the API.
func TestBootstrapKeepsKeyChanges(t *testing.T) {
	given := BootstrapKeys{TenantID: "LTAIenv", TenantSecret: "s1"}
	tests := []struct {
		name     string
		change   func(t *testing.T, e *env, ten Caller) // through the API, between the starts
		restart  BootstrapKeys
		wantErr  string // "" : the restart succeeds
		inactive bool   // LTAIenv is then disabled
		secret   string // LTAIenv's secret then ("": no such key)
	}{
		{"unchanged", func(*testing.T, *env, Caller) {}, given, "", false, "s1"},
		{"disabled stays disabled", func(t *testing.T, e *env, ten Caller) {
			noErr(t, e.s.UpdateAccessKey(e.ctx, KeyInput{Caller: ten, KeyID: "LTAIenv", SigningKey: "other"}, model.KeyInactive))
		}, given, "", true, "s1"},
		{"a new secret is taken, disabled kept", func(t *testing.T, e *env, ten Caller) {
			noErr(t, e.s.UpdateAccessKey(e.ctx, KeyInput{Caller: ten, KeyID: "LTAIenv", SigningKey: "other"}, model.KeyInactive))
		}, BootstrapKeys{TenantID: "LTAIenv", TenantSecret: "s2"}, "", true, "s2"},
		{"deleted is not made again", func(t *testing.T, e *env, ten Caller) {
			noErr(t, e.s.DeleteAccessKey(e.ctx, KeyInput{Caller: ten, KeyID: "LTAIenv", SigningKey: "other"}))
		}, given, "was deleted after a start stored it from the environment, and is not made again: unset PALISADE_ACCESS_KEY_ID and PALISADE_ACCESS_KEY_SECRET", false, ""},
		{"a new ID counts against the limit", func(t *testing.T, e *env, ten Caller) {
			if _, err := e.s.CreateAccessKey(e.ctx, KeyInput{Caller: ten}); err != nil {
				t.Fatal(err)
			}
		}, BootstrapKeys{TenantID: "LTAInew", TenantSecret: "s3"}, "the limit, so LTAInew (PALISADE_ACCESS_KEY_ID) is not stored", false, "s1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if _, err := e.s.Bootstrap(e.ctx, given); err != nil {
				t.Fatal(err)
			}
			ten, err := e.s.KeyCaller(e.ctx, "LTAIenv")
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, e, ten)
			_, err = e.s.Bootstrap(e.ctx, tt.restart)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("restart: %v, want %q", err, tt.wantErr)
			}
			secret, found := e.s.LookupSecret("LTAIenv")
			if tt.secret == "" && found || tt.secret != "" && secret != tt.secret {
				t.Errorf("LTAIenv after the restart: found %v secret %q, want %q", found, secret, tt.secret)
			}
			if _, err := e.s.KeyCaller(e.ctx, "LTAIenv"); found && (err != nil) != tt.inactive {
				t.Errorf("LTAIenv usable after the restart: %v, want disabled %v", err, tt.inactive)
			}
			if _, ok := e.s.LookupSecret("LTAInew"); ok {
				t.Error("a key beyond the limit was stored")
			}
		})
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBootstrapOldStoreAndDisabled: a key stored from the environment
// before accounts remembered such keys is remembered at the next start
// (so a later delete sticks), and a start without a pair makes no key for
// an account whose keys are all disabled.
func TestBootstrapOldStoreAndDisabled(t *testing.T) {
	e := newEnv(t)
	given := BootstrapKeys{TenantID: "LTAIenv", TenantSecret: "s1"}
	if _, err := e.s.Bootstrap(e.ctx, given); err != nil {
		t.Fatal(err)
	}
	ten, err := e.s.KeyCaller(e.ctx, "LTAIenv")
	if err != nil {
		t.Fatal(err)
	}
	// As a store from before EnvKeys: the account remembers nothing.
	_, err = e.s.Store.Update(e.ctx, func(tx store.Tx) error {
		a, _, err := store.GetAs[model.Account](tx, KindAccount, ten.Account)
		if err != nil {
			return err
		}
		a.EnvKeys = nil
		return store.PutAs(tx, KindAccount, a.UID, a.UID, "", a)
	})
	noErr(t, err)
	if _, err := e.s.Bootstrap(e.ctx, given); err != nil {
		t.Fatal(err)
	}
	noErr(t, e.s.DeleteAccessKey(e.ctx, KeyInput{Caller: ten, KeyID: "LTAIenv", SigningKey: "other"}))
	if _, err := e.s.Bootstrap(e.ctx, given); err == nil || !strings.Contains(err.Error(), "was deleted") {
		t.Fatalf("restart after the delete: %v, want the key refused", err)
	}

	// One key, disabled: a start without a pair makes none.
	d := newEnv(t)
	b, _, tc := boot(t, d)
	noErr(t, d.s.UpdateAccessKey(d.ctx, KeyInput{Caller: tc, KeyID: b.Tenant.ID, SigningKey: "other"}, model.KeyInactive))
	again, err := d.s.Bootstrap(d.ctx, BootstrapKeys{})
	if err != nil || again.TenantNew || again.Tenant.ID != b.Tenant.ID {
		t.Fatalf("restart with the only key disabled: %+v %v; want that key, none made", again, err)
	}
	if keys, err := d.s.ListAccessKeys(d.ctx, KeyInput{Caller: tc}); err != nil || len(keys) != 1 || keys[0].Status != model.KeyInactive {
		t.Fatalf("keys after the restart: %+v %v; want the one disabled key", keys, err)
	}
}
