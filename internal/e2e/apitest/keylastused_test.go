package apitest

import (
	"context"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestGetAccessKeyLastUsed: RAM's GetAccessKeyLastUsed through the
// official SDK answers, to the minute, when a key of the caller's account
// last signed an accepted request ("" for one not used since the start),
// another account's key is not found, and using a key writes nothing to
// the store (the store's revision stays where it was).
func TestGetAccessKeyLastUsed(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	tenant := srv.RAMAs(t, srv.KeyID, srv.Secret)
	k := must(tenant.CreateAccessKey(ram.CreateCreateAccessKeyRequest()))(t).AccessKey
	lastUsed := func(c *ram.Client, id, user string) (string, error) {
		r := ram.CreateGetAccessKeyLastUsedRequest()
		r.UserAccessKeyId, r.UserName = id, user
		res, err := c.GetAccessKeyLastUsed(r)
		if err != nil {
			return "", err
		}
		return res.AccessKeyLastUsed.LastUsedDate, nil
	}
	if got := must(lastUsed(tenant, k.AccessKeyId, ""))(t); got != "" {
		t.Fatalf("an unused key's LastUsedDate %q, want none", got)
	}

	ctx := context.Background()
	rev, err := srv.Ops.Store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Truncate(time.Minute)
	for range 3 {
		must(srv.ECSAs(t, k.AccessKeyId, k.AccessKeySecret).DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()))(t)
	}
	after := time.Now().UTC()
	if now, err := srv.Ops.Store.Revision(ctx); err != nil || now != rev {
		t.Fatalf("the key's use moved the store from revision %d to %d (%v): it wrote", rev, now, err)
	}
	got := must(lastUsed(tenant, k.AccessKeyId, ""))(t)
	at, err := time.Parse("2006-01-02T15:04:05Z", got)
	if err != nil || at.Second() != 0 || at.Before(before) || at.After(after) {
		t.Fatalf("LastUsedDate %q (%v), want the minute of the use, between %s and %s", got, err, before, after)
	}

	other := srv.NewAccount(t, "other")
	for _, tt := range []struct {
		name, id, user string
		client         *ram.Client
		code           string
	}{
		{"another account's key", k.AccessKeyId, "", srv.RAMAs(t, other.KeyID, other.Secret), "EntityNotExist.User.AccessKey"},
		{"no key", "", "", tenant, "MissingParameter"},
		{"a RAM user", k.AccessKeyId, "bob", tenant, "EntityNotExist.User"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lastUsed(tt.client, tt.id, tt.user)
			if code := sdkCode(t, err); code != tt.code {
				t.Fatalf("got %q (%v), want %s", code, err, tt.code)
			}
		})
	}
}
