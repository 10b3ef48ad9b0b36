package apitest

import (
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// TestClientToken: a retry with the same ClientToken and parameters returns
// the first answer and changes nothing; other parameters under the same
// token are refused.
func TestClientToken(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	create := func(token, name string) (string, error) {
		r := ecs.CreateCreateSecurityGroupRequest()
		r.ClientToken, r.SecurityGroupName = token, name
		resp, err := c.CreateSecurityGroup(r)
		if err != nil {
			return "", err
		}
		return resp.SecurityGroupId, nil
	}

	first := must(create("token-1", "web"))(t)
	if again := must(create("token-1", "web"))(t); again != first {
		t.Errorf("retry with the same token created %s, first was %s", again, first)
	}
	if n := countGroups(t, c); n != 1 {
		t.Errorf("%d groups after a create and its retry, want 1", n)
	}
	_, err := create("token-1", "other-name")
	wantErr(t, err, 400, "IdempotentParameterMismatch")
	// A token is tied to its action too.
	r := ecs.CreateAuthorizeSecurityGroupRequest()
	r.ClientToken, r.SecurityGroupId = "token-1", first
	r.Permissions = &[]perm{cidrIngress("TCP", "22/22", "10.0.0.0/8")}
	_, err = c.AuthorizeSecurityGroup(r)
	wantErr(t, err, 400, "IdempotentParameterMismatch")
	if n := len(rules(t, c, first, "")); n != 0 {
		t.Errorf("the refused authorize added %d rules", n)
	}
	_, err = create(strings.Repeat("t", 65), "web")
	wantErr(t, err, 400, "InvalidClientToken.Malformed")
	if n := countGroups(t, c); n != 1 {
		t.Errorf("%d groups after refused creates, want 1", n)
	}

	// The same retry through the other SDK and signature version is still
	// the same request.
	body, err := call(e.v3, ecsVersion, "CreateSecurityGroup", map[string]any{"ClientToken": "token-1", "SecurityGroupName": "web"}, nil)
	if err != nil {
		t.Fatalf("V3 retry: %v", err)
	}
	if body["SecurityGroupId"] != first {
		t.Errorf("V3 retry with the same token gave %v, want %s", body["SecurityGroupId"], first)
	}
	v3id := mustCall(t, e.v3, ecsVersion, "CreateSecurityGroup", map[string]any{"ClientToken": "token-v3", "SecurityGroupName": "api"})["SecurityGroupId"]
	if again := mustCall(t, e.v3, ecsVersion, "CreateSecurityGroup", map[string]any{"ClientToken": "token-v3", "SecurityGroupName": "api"})["SecurityGroupId"]; again != v3id {
		t.Errorf("V3 retry gave %v, first %v", again, v3id)
	}

	// Tokens belong to an account: another account's same token is new.
	other := e.newAccount(t, "other")
	r2 := ecs.CreateCreateSecurityGroupRequest()
	r2.ClientToken, r2.SecurityGroupName = "token-1", "web"
	theirs := must(other.ecs.CreateSecurityGroup(r2))(t).SecurityGroupId
	if theirs == first {
		t.Errorf("another account's request with the same token returned the first account's group %s", first)
	}

	// A retried revoke answers as the first one did, although the rule is
	// gone by then.
	noErr(t, authorize(c, first, cidrIngress("TCP", "22/22", "10.0.0.0/8")))
	revoke := func() error {
		r := ecs.CreateRevokeSecurityGroupRequest()
		r.ClientToken, r.SecurityGroupId = "revoke-1", first
		r.Permissions = &[]ecs.RevokeSecurityGroupPermissions{{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}
		_, err := c.RevokeSecurityGroup(r)
		return err
	}
	noErr(t, revoke())
	noErr(t, revoke())
	if n := len(rules(t, c, first, "")); n != 0 {
		t.Errorf("%d rules after the revoke", n)
	}
}
