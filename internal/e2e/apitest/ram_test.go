package apitest

import (
	"context"
	"errors"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// sdkCode is the ECS error code of an SDK error, "" for success.
func sdkCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("not a server error: %v", err)
	}
	return se.ErrorCode()
}

// TestRAMAccessKeys drives RAM's key actions through the official SDK
// (services/ram, 2015-05-01) against the server: a tenant makes, lists,
// disables, enables and deletes its keys, each change counting from the
// next request on; other tenants and host keys reach none of them.
func TestRAMAccessKeys(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	tenant := srv.RAMAs(t, srv.KeyID, srv.Secret)
	describe := func(keyID, secret string) error {
		_, err := srv.ECSAs(t, keyID, secret).DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest())
		return err
	}

	created, err := tenant.CreateAccessKey(ram.CreateCreateAccessKeyRequest())
	if err != nil {
		t.Fatal(err)
	}
	k := created.AccessKey
	if k.AccessKeyId == "" || len(k.AccessKeySecret) != 30 || k.Status != "Active" || k.CreateDate == "" {
		t.Fatalf("CreateAccessKey: %+v", k)
	}
	if err := describe(k.AccessKeyId, k.AccessKeySecret); err != nil {
		t.Fatalf("the new key does not work at once: %v", err)
	}
	list, err := tenant.ListAccessKeys(ram.CreateListAccessKeysRequest())
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range list.AccessKeys.AccessKey {
		listed[l.AccessKeyId] = true
	}
	if got := list.AccessKeys.AccessKey; len(got) != 2 || !listed[srv.KeyID] || !listed[k.AccessKeyId] {
		t.Fatalf("ListAccessKeys: %+v", got)
	}
	for _, l := range list.AccessKeys.AccessKey {
		if l.AccessKeySecret != "" || l.Status != "Active" {
			t.Fatalf("ListAccessKeys shows %+v", l)
		}
	}

	other := srv.NewAccount(t, "other")
	otherRAM := srv.RAMAs(t, other.KeyID, other.Secret)
	hostID, hostSecret := srv.RegisterHost(t, "h1")
	update := func(key, status string) *ram.UpdateAccessKeyRequest {
		r := ram.CreateUpdateAccessKeyRequest()
		r.UserAccessKeyId, r.Status = key, status
		return r
	}
	del := func(key string) *ram.DeleteAccessKeyRequest {
		r := ram.CreateDeleteAccessKeyRequest()
		r.UserAccessKeyId = key
		return r
	}
	for _, tt := range []struct {
		name string
		call func() error
		code string
	}{
		{"a third key", func() error { _, err := tenant.CreateAccessKey(ram.CreateCreateAccessKeyRequest()); return err }, "LimitExceeded.User.AccessKey"},
		{"another tenant disables it", func() error { _, err := otherRAM.UpdateAccessKey(update(k.AccessKeyId, "Inactive")); return err }, "EntityNotExist.User.AccessKey"},
		{"another tenant deletes it", func() error { _, err := otherRAM.DeleteAccessKey(del(k.AccessKeyId)); return err }, "EntityNotExist.User.AccessKey"},
		{"a host key lists keys", func() error {
			_, err := srv.RAMAs(t, hostID, hostSecret).ListAccessKeys(ram.CreateListAccessKeysRequest())
			return err
		}, "Forbidden.HostKey"},
		{"a RAM user", func() error {
			r := ram.CreateListAccessKeysRequest()
			r.UserName = "alice"
			_, err := tenant.ListAccessKeys(r)
			return err
		}, "EntityNotExist.User"},
		{"a bad status", func() error { _, err := tenant.UpdateAccessKey(update(k.AccessKeyId, "Disabled")); return err }, "InvalidParameter"},
		{"no key", func() error { _, err := tenant.DeleteAccessKey(del("")); return err }, "MissingParameter"},
		{"the signing key", func() error { _, err := tenant.UpdateAccessKey(update(srv.KeyID, "Inactive")); return err }, "InvalidParameter.UserAccessKeyId"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := sdkCode(t, tt.call()); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
		})
	}
	if err := describe(k.AccessKeyId, k.AccessKeySecret); err != nil {
		t.Fatalf("refused calls changed the key: %v", err)
	}

	// Inactive: refused from the next request; Active again: accepted.
	if _, err := tenant.UpdateAccessKey(update(k.AccessKeyId, "Inactive")); err != nil {
		t.Fatal(err)
	}
	if got := sdkCode(t, describe(k.AccessKeyId, k.AccessKeySecret)); got != "Forbidden.AccessKeyDisabled" {
		t.Fatalf("an Inactive key: %q", got)
	}
	if _, err := tenant.UpdateAccessKey(update(k.AccessKeyId, "Active")); err != nil {
		t.Fatal(err)
	}
	if err := describe(k.AccessKeyId, k.AccessKeySecret); err != nil {
		t.Fatalf("a key made Active again: %v", err)
	}
	// Rotation: the new key deletes the old one, which is refused at once.
	if _, err := srv.RAMAs(t, k.AccessKeyId, k.AccessKeySecret).DeleteAccessKey(del(srv.KeyID)); err != nil {
		t.Fatal(err)
	}
	if got := sdkCode(t, describe(srv.KeyID, srv.Secret)); got != "InvalidAccessKeyId.NotFound" {
		t.Fatalf("a deleted key: %q", got)
	}
}

// TestOperatorActions drives the operator's actions through Palisade's
// client: a tenant made with a random 16-digit ID and a first key, listed,
// disabled (its key refused from the next request on); tenants and host
// keys may call none of them, and the operator key no tenant action.
func TestOperatorActions(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	ctx := context.Background()
	op := srv.Operator(t)
	var acct struct{ AccountId, AccountName, AccessKeyId, AccessKeySecret string }
	if err := op.Call(ctx, "PalisadeCreateAccount", map[string]string{"AccountName": "team"}, &acct, 0); err != nil {
		t.Fatal(err)
	}
	if len(acct.AccountId) != 16 || acct.AccountId == srv.UID || acct.AccessKeySecret == "" {
		t.Fatalf("PalisadeCreateAccount: %+v", acct)
	}
	teamECS := srv.ECSAs(t, acct.AccessKeyId, acct.AccessKeySecret)
	if _, err := teamECS.DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Accounts struct {
			Account []struct{ AccountId, Status string }
		}
	}
	if err := op.Call(ctx, "PalisadeListAccounts", nil, &list, 0); err != nil || len(list.Accounts.Account) != 2 {
		t.Fatalf("PalisadeListAccounts: %+v %v", list, err)
	}
	if _, err := srv.ECSAs(t, srv.OperatorKeyID, srv.OperatorSecret).DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()); sdkCode(t, err) != "Forbidden.OperatorKey" {
		t.Fatalf("the operator key reads groups: %v", err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"tenant", srv.API(t).Call(ctx, "PalisadeListAccounts", nil, nil, 0)},
		{"tenant disables", srv.API(t).Call(ctx, "PalisadeDisableAccount", map[string]string{"AccountId": acct.AccountId}, nil, 0)},
	} {
		if c.err == nil {
			t.Fatalf("%s: an operator action succeeded", c.name)
		}
	}
	if err := op.Call(ctx, "PalisadeDisableAccount", map[string]string{"AccountId": acct.AccountId}, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := teamECS.DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()); sdkCode(t, err) != "Forbidden.AccountDisabled" {
		t.Fatalf("a disabled account's key: %v", err)
	}
}
