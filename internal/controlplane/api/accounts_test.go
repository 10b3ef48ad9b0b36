package api

import (
	"net/http"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// scopedCall calls an action through Scoped routes, signed by key.
func (e *env) scopedCall(key, version, action string, params map[string]string) (any, error) {
	e.t.Helper()
	p := rpc.Params{"RegionId": "cn-hangzhou"}
	for k, v := range params {
		p[k] = v
	}
	h, ok := e.s.Scoped(e.s.Routes())[rpc.RouteKey{Version: version, Action: action}]
	if !ok {
		e.t.Fatalf("no route for %s %s", version, action)
	}
	return h(rpc.WithAccessKeyID(e.ctx, key), &rpc.Request{Action: action, Version: version, Params: p, AccessKeyID: key})
}

// TestScoped: which keys may call which actions at all.
func TestScoped(t *testing.T) {
	e := newEnv(t)
	hostOut, err := e.scopedCall(e.op, ECSVersion, "PalisadeRegisterHost", map[string]string{"HostName": "h1"})
	if err != nil {
		t.Fatal(err)
	}
	host := hostOut.(*registerHostResponse).AccessKeyId
	for _, tt := range []struct {
		name, key, version, action string
		params                     map[string]string
		code                       string
		status                     int
	}{
		{"tenant reads its groups", e.key, ECSVersion, "DescribeSecurityGroups", nil, "", 0},
		{"operator reads groups", e.op, ECSVersion, "DescribeSecurityGroups", nil, "Forbidden.OperatorKey", 403},
		{"operator makes a VPC", e.op, VPCVersion, "CreateVpc", map[string]string{"CidrBlock": "10.0.0.0/8"}, "Forbidden.OperatorKey", 403},
		{"operator analyses", e.op, ECSVersion, "PalisadeDescribeRuleCounters", nil, "Forbidden.OperatorKey", 403},
		{"operator lists regions", e.op, ECSVersion, "DescribeRegions", nil, "", 0},
		{"operator lists its keys", e.op, RAMVersion, "ListAccessKeys", nil, "", 0},
		{"RAM ignores RegionId", e.key, RAMVersion, "ListAccessKeys", map[string]string{"RegionId": "mars-1"}, "", 0},
		{"operator asks who it is", e.op, STSVersion, "GetCallerIdentity", nil, "", 0},
		{"STS ignores RegionId", e.key, STSVersion, "GetCallerIdentity", map[string]string{"RegionId": "mars-1"}, "", 0},
		{"host asks who it is", host, STSVersion, "GetCallerIdentity", nil, "Forbidden.HostKey", 403},
		{"BssOpenApi ignores RegionId", e.key, BSSVersion, "QueryAvailableInstances", map[string]string{"RegionId": "mars-1"}, "", 0},
		{"host probes the account type", host, BSSVersion, "QueryAvailableInstances", nil, "Forbidden.HostKey", 403},
		{"operator probes the account type", e.op, BSSVersion, "QueryAvailableInstances", nil, "Forbidden.OperatorKey", 403},
		{"host looks up an endpoint", host, LocationVersion, "DescribeEndpoints", map[string]string{"ServiceCode": "ecs", "Id": "cn-hangzhou"}, "Forbidden.HostKey", 403},
		{"tenant looks up an endpoint", e.key, LocationVersion, "DescribeEndpoints", map[string]string{"ServiceCode": "ecs", "Id": "cn-hangzhou"}, "", 0},
		{"ECS checks RegionId", e.key, ECSVersion, "DescribeSecurityGroups", map[string]string{"RegionId": "mars-1"}, "InvalidRegionId.NotFound", 404},
		{"operator snapshot", e.op, ECSVersion, "PalisadeGetSnapshot", nil, "", 0},
		{"host snapshot", host, ECSVersion, "PalisadeGetSnapshot", nil, "", 0},
		{"host reads groups", host, ECSVersion, "DescribeSecurityGroups", nil, "Forbidden.HostKey", 403},
		{"host regions", host, ECSVersion, "DescribeRegions", nil, "Forbidden.HostKey", 403},
		{"host lists keys", host, RAMVersion, "ListAccessKeys", nil, "Forbidden.HostKey", 403},
		{"host makes an account", host, ECSVersion, "PalisadeCreateAccount", map[string]string{"AccountName": "x"}, "Forbidden.HostKey", 403},
		{"host registers a host", host, ECSVersion, "PalisadeRegisterHost", map[string]string{"HostName": "h2"}, "Forbidden.HostKey", 403},
		{"tenant makes an account", e.key, ECSVersion, "PalisadeCreateAccount", map[string]string{"AccountName": "x"}, "Forbidden.Operator", 403},
		{"tenant snapshot", e.key, ECSVersion, "PalisadeGetSnapshot", nil, "Forbidden.Operator", 403},
		{"tenant registers a host", e.key, ECSVersion, "PalisadeRegisterHost", map[string]string{"HostName": "h2"}, "Forbidden.Operator", 403},
		{"tenant sets its quotas", e.key, ECSVersion, "PalisadeSetAccountQuotas", map[string]string{"AccountId": "1000000000000001", "SecurityGroups": "500"}, "Forbidden.Operator", 403},
		{"tenant reads quotas", e.key, ECSVersion, "PalisadeDescribeAccountQuotas", map[string]string{"AccountId": "1000000000000001"}, "Forbidden.Operator", 403},
		{"host sets quotas", host, ECSVersion, "PalisadeSetAccountQuotas", map[string]string{"AccountId": "1000000000000001", "SecurityGroups": "500"}, "Forbidden.HostKey", 403},
		{"tenant reads its attributes", e.key, ECSVersion, "DescribeAccountAttributes", nil, "", 0},
		{"operator reads attributes", e.op, ECSVersion, "DescribeAccountAttributes", nil, "Forbidden.OperatorKey", 403},
		{"host reads attributes", host, ECSVersion, "DescribeAccountAttributes", nil, "Forbidden.HostKey", 403},
		{"unknown key", "LTAInothere", ECSVersion, "DescribeRegions", nil, "InvalidAccessKeyId.NotFound", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.scopedCall(tt.key, tt.version, tt.action, tt.params)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			if err == nil || ecserr.As(err).Code != tt.code || ecserr.As(err).Status != tt.status {
				t.Fatalf("got %v, want %s %d", err, tt.code, tt.status)
			}
		})
	}
}

func TestAccountActions(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	out := op.ecs("PalisadeCreateAccount", map[string]string{"AccountName": "team-a"}).(*createAccountResponse)
	if len(out.AccountId) != 16 || out.AccessKeyId == "" || out.AccessKeySecret == "" || out.AccountName != "team-a" {
		t.Fatalf("create: %+v", out)
	}
	op.ecsErr("InvalidParameter", http.StatusBadRequest, "PalisadeCreateAccount", map[string]string{"AccountName": "a/b"})
	list := op.ecs("PalisadeListAccounts", nil).(*listAccountsResponse).Accounts.Account
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	tenant := &env{t: t, s: e.s, ctx: e.ctx, key: out.AccessKeyId, op: e.op}
	tenant.ecs("DescribeSecurityGroups", nil)
	op.ecs("PalisadeDisableAccount", map[string]string{"AccountId": out.AccountId})
	tenant.ecsErr("Forbidden.AccountDisabled", http.StatusForbidden, "DescribeSecurityGroups", nil)
	for _, a := range op.ecs("PalisadeListAccounts", nil).(*listAccountsResponse).Accounts.Account {
		if want := map[bool]string{true: "Disabled", false: "Enabled"}[a.AccountId == out.AccountId]; a.Status != want {
			t.Fatalf("account %+v, want %s", a, want)
		}
	}
	e.ecsErr("Forbidden.Operator", http.StatusForbidden, "PalisadeListAccounts", nil)
}

func TestRAMActions(t *testing.T) {
	e := newEnv(t)
	ram := func(action string, params map[string]string) (any, error) { return e.call(RAMVersion, action, params) }
	out, err := ram("CreateAccessKey", nil)
	if err != nil {
		t.Fatal(err)
	}
	k := out.(*createAccessKeyResponse).AccessKey
	if k.AccessKeySecret == "" || k.Status != "Active" || k.CreateDate == "" {
		t.Fatalf("created %+v", k)
	}
	out, err = ram("ListAccessKeys", map[string]string{"UserName": ""})
	if err != nil {
		t.Fatal(err)
	}
	keys := out.(*listAccessKeysResponse).AccessKeys.AccessKey
	if len(keys) != 2 {
		t.Fatalf("listed %+v", keys)
	}
	for _, l := range keys {
		if l.AccessKeySecret != "" {
			t.Fatalf("listed a secret: %+v", l)
		}
	}
	for _, tt := range []struct {
		action string
		params map[string]string
		code   string
	}{
		{"CreateAccessKey", nil, "LimitExceeded.User.AccessKey"},
		{"UpdateAccessKey", map[string]string{"UserAccessKeyId": k.AccessKeyId, "Status": "Off"}, "InvalidParameter"},
		{"UpdateAccessKey", map[string]string{"UserAccessKeyId": e.key, "Status": "Inactive"}, "InvalidParameter.UserAccessKeyId"},
		{"DeleteAccessKey", map[string]string{"UserAccessKeyId": "LTAInothere"}, "EntityNotExist.User.AccessKey"},
		{"DeleteAccessKey", map[string]string{"UserAccessKeyId": e.op}, "EntityNotExist.User.AccessKey"},
		{"ListAccessKeys", map[string]string{"UserName": "alice"}, "EntityNotExist.User"},
		{"UpdateAccessKey", map[string]string{"UserAccessKeyId": k.AccessKeyId, "Status": "Inactive"}, ""},
		{"DeleteAccessKey", map[string]string{"UserAccessKeyId": k.AccessKeyId}, ""},
	} {
		t.Run(tt.action+" "+tt.code, func(t *testing.T) {
			_, err := ram(tt.action, tt.params)
			if (err == nil) != (tt.code == "") || err != nil && ecserr.As(err).Code != tt.code {
				t.Fatalf("got %v, want %q", err, tt.code)
			}
		})
	}
}
