package api

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// TestGlobalActions: STS, BssOpenApi and Location answer for the signing
// key's account whatever the RegionId, and refuse a host key even called
// without Scoped.
func TestGlobalActions(t *testing.T) {
	e := newEnv(t)
	uid, _ := e.s.AccountOfKey(e.ctx, e.key)
	out, err := e.call(STSVersion, "GetCallerIdentity", map[string]string{"RegionId": "mars-1"})
	if err != nil {
		t.Fatal(err)
	}
	if id := out.(*getCallerIdentityResponse); id.AccountId != uid || id.Arn != "acs:ram::"+uid+":root" || id.IdentityType != "Account" {
		t.Fatalf("GetCallerIdentity: %+v", id)
	}
	other := e.otherAccount()
	out, err = other.call(STSVersion, "GetCallerIdentity", nil)
	if id := out.(*getCallerIdentityResponse); err != nil || id.AccountId == uid || id.AccountId == "" {
		t.Fatalf("another account's identity: %+v %v", id, err)
	}

	hostOut, err := e.scopedCall(e.op, ECSVersion, "PalisadeRegisterHost", map[string]string{"HostName": "h1"})
	if err != nil {
		t.Fatal(err)
	}
	host := &env{t: t, s: e.s, ctx: e.ctx, key: hostOut.(*registerHostResponse).AccessKeyId, op: e.op}
	for _, tt := range []struct {
		version, action string
		params          map[string]string
	}{
		{STSVersion, "GetCallerIdentity", nil},
		{BSSVersion, "QueryAvailableInstances", nil},
		{LocationVersion, "DescribeEndpoints", map[string]string{"ServiceCode": "ecs", "Id": "cn-hangzhou"}},
	} {
		_, err := host.call(tt.version, tt.action, tt.params)
		if ee, ok := err.(*ecserr.Error); !ok || ee.Code != "Forbidden.HostKey" {
			t.Errorf("a host key, unscoped, calls %s: %v", tt.action, err)
		}
	}
}
