package cli

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestAccountKeyHostCommands: the operator makes a tenant and a host key;
// the tenant rotates its keys; a disabled account's and a disabled key's
// requests are refused from the next one on.
func TestAccountKeyHostCommands(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetOperatorEnv(t)

	var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
	out := ok(t, "account", "create", "team-a", "--json", "--endpoint", srv.Addr)
	if err := json.Unmarshal([]byte(out), &acct); err != nil || len(acct.AccountId) != 16 || acct.AccessKeyId == "" || acct.AccessKeySecret == "" {
		t.Fatalf("account create --json: %q (%v)", out, err)
	}
	if r := row(ok(t, "account", "list"), acct.AccountId); len(r) < 3 || r[1] != "team-a" || r[2] != "Enabled" {
		t.Fatalf("account list row %v", r)
	}
	var host struct{ HostName, AccessKeyId, AccessKeySecret string }
	if err := json.Unmarshal([]byte(ok(t, "host", "register", "h1", "--json")), &host); err != nil || host.AccessKeyId == "" || host.AccessKeySecret == "" {
		t.Fatalf("host register --json: %+v %v", host, err)
	}
	if r := row(ok(t, "host", "list"), "h1"); len(r) < 2 || r[1] != host.AccessKeyId {
		t.Fatalf("host list row %v", r)
	}
	ok(t, "host", "register", "h-gone")
	ok(t, "host", "deregister", "h-gone")
	if r := row(ok(t, "host", "list"), "h-gone"); r != nil {
		t.Fatalf("host list after deregister still has %v", r)
	}
	if code, _, errs := palisade("host", "deregister", "h-gone"); code != 1 || !strings.Contains(errs, "InvalidHostName.NotFound") {
		t.Fatalf("host deregister of a host not registered: exit %d, %s", code, errs)
	}
	// The operator key owns no resources.
	code, _, errs := palisade("sg", "list")
	if code != 1 || !strings.Contains(errs, "Forbidden.OperatorKey") {
		t.Fatalf("sg list as the operator: exit %d, %s", code, errs)
	}

	// The new tenant, with its own key.
	t.Setenv("PALISADE_ACCESS_KEY_ID", acct.AccessKeyId)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", acct.AccessKeySecret)
	ok(t, "sg", "list")
	for _, args := range [][]string{{"account", "list"}, {"host", "register", "h2"}, {"account", "create", "x"}} {
		if code, _, errs := palisade(args...); code != 1 || !strings.Contains(errs, "Forbidden.Operator") {
			t.Fatalf("%v as a tenant: exit %d, %s", args, code, errs)
		}
	}
	var k2 struct{ AccessKeyId, AccessKeySecret, Status string }
	if err := json.Unmarshal([]byte(ok(t, "key", "create", "--json")), &k2); err != nil || k2.AccessKeySecret == "" || k2.Status != "Active" {
		t.Fatalf("key create: %+v %v", k2, err)
	}
	list := ok(t, "key", "list")
	if r := row(list, k2.AccessKeyId); len(r) < 2 || r[1] != "Active" || strings.Contains(list, k2.AccessKeySecret) {
		t.Fatalf("key list:\n%s", list)
	}
	if code, _, errs := palisade("key", "create"); code != 1 || !strings.Contains(errs, "LimitExceeded.User.AccessKey") {
		t.Fatalf("a third key: exit %d, %s", code, errs)
	}
	ok(t, "key", "disable", k2.AccessKeyId)
	if r := row(ok(t, "key", "list"), k2.AccessKeyId); len(r) < 2 || r[1] != "Inactive" {
		t.Fatalf("disabled key row %v", r)
	}
	// Rotation: switch to the new key, delete the old one.
	ok(t, "key", "enable", k2.AccessKeyId)
	t.Setenv("PALISADE_ACCESS_KEY_ID", k2.AccessKeyId)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", k2.AccessKeySecret)
	if code, _, errs := palisade("key", "delete", k2.AccessKeyId); code != 1 || !strings.Contains(errs, "InvalidParameter.UserAccessKeyId") {
		t.Fatalf("deleting the signing key: exit %d, %s", code, errs)
	}
	ok(t, "key", "delete", acct.AccessKeyId)
	if r := row(ok(t, "key", "list"), acct.AccessKeyId); r != nil {
		t.Fatalf("deleted key still listed: %v", r)
	}
	t.Setenv("PALISADE_ACCESS_KEY_ID", acct.AccessKeyId)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", acct.AccessKeySecret)
	if code, _, errs := palisade("sg", "list"); code != 1 || !strings.Contains(errs, "InvalidAccessKeyId.NotFound") {
		t.Fatalf("a deleted key: exit %d, %s", code, errs)
	}

	// The operator disables the account: its key is refused at once.
	srv.SetOperatorEnv(t)
	ok(t, "account", "disable", acct.AccountId)
	if r := row(ok(t, "account", "list"), acct.AccountId); len(r) < 3 || r[2] != "Disabled" {
		t.Fatalf("disabled account row %v", r)
	}
	t.Setenv("PALISADE_ACCESS_KEY_ID", k2.AccessKeyId)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", k2.AccessKeySecret)
	if code, _, errs := palisade("sg", "list"); code != 1 || !strings.Contains(errs, "Forbidden.AccountDisabled") {
		t.Fatalf("a disabled account: exit %d, %s", code, errs)
	}

	// The host key may call only the host actions.
	t.Setenv("PALISADE_ACCESS_KEY_ID", host.AccessKeyId)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", host.AccessKeySecret)
	for _, args := range [][]string{{"sg", "list"}, {"key", "list"}, {"account", "list"}} {
		if code, _, errs := palisade(args...); code != 1 || !strings.Contains(errs, "Forbidden.HostKey") {
			t.Fatalf("%v with a host key: exit %d, %s", args, code, errs)
		}
	}
}

// TestAccountQuotaCommand: account quota shows a tenant's quotas in force
// and their source, sets its own and returns them to the server's; account
// list --json shows its own; a tenant's key is refused.
func TestAccountQuotaCommand(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetOperatorEnv(t)
	a := srv.NewAccount(t, "team-a")
	if r := row(ok(t, "account", "quota", a.UID), "security-groups"); len(r) != 3 || r[1] != "100" || r[2] != "server" {
		t.Fatalf("security-groups row %v", r)
	}
	out := ok(t, "account", "quota", a.UID, "--security-groups", "200", "--instances", "50")
	for _, want := range [][]string{{"security-groups", "200", "account"}, {"instances", "50", "account"}, {"vpcs", "10", "server"}} {
		if r := row(out, want[0]); !slices.Equal(r, want) {
			t.Errorf("after setting: row %v, want %v\n%s", r, want, out)
		}
	}
	var list []struct {
		AccountId      string
		QuotaOverrides map[string]int
	}
	if err := json.Unmarshal([]byte(ok(t, "account", "list", "--json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("account list --json: %+v %v", list, err)
	}
	for _, l := range list {
		if want := map[string]int{"security-groups": 200, "instances": 50}; l.AccountId == a.UID && !maps.Equal(l.QuotaOverrides, want) {
			t.Errorf("account list --json: %v, want %v", l.QuotaOverrides, want)
		}
	}
	var shown struct {
		AccountId string
		Quotas    []struct {
			Quota  string
			Value  int
			Source string
		}
	}
	if err := json.Unmarshal([]byte(ok(t, "account", "quota", a.UID, "--reset", "instances", "--json")), &shown); err != nil || shown.AccountId != a.UID || len(shown.Quotas) != 10 {
		t.Fatalf("account quota --reset --json: %+v %v", shown, err)
	}
	for _, q := range shown.Quotas {
		if q.Quota == "instances" && (q.Value != 1000 || q.Source != "server") || q.Quota == "security-groups" && q.Source != "account" {
			t.Errorf("after --reset instances: %+v", q)
		}
	}
	if r := row(ok(t, "account", "quota", a.UID, "--reset", "all"), "security-groups"); len(r) != 3 || r[1] != "100" || r[2] != "server" {
		t.Errorf("after --reset all: row %v", r)
	}
	for _, tc := range []struct {
		args []string
		code int
		errs string
	}{
		{[]string{"--security-groups", "0"}, 2, "give a positive number"},
		{[]string{"--reset", "cpus"}, 2, "no quota"},
		{[]string{"--vpcs", "5", "--reset", "all"}, 2, "give one"},
		{[]string{"--vpcs", "2000000"}, 1, "InvalidParameter"},
	} {
		if code, _, errs := palisade(append([]string{"account", "quota", a.UID}, tc.args...)...); code != tc.code || !strings.Contains(errs, tc.errs) {
			t.Errorf("account quota %v: exit %d, %s; want %d and %q", tc.args, code, errs, tc.code, tc.errs)
		}
	}
	t.Setenv("PALISADE_ACCESS_KEY_ID", a.KeyID)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", a.Secret)
	if code, _, errs := palisade("account", "quota", a.UID, "--security-groups", "500"); code != 1 || !strings.Contains(errs, "Forbidden.Operator") {
		t.Errorf("account quota as the tenant: exit %d, %s", code, errs)
	}
}

// TestServePrintsBothKeys: the first start prints the operator's key and
// the first tenant's, each once; the printed operator key works.
func TestServePrintsBothKeys(t *testing.T) {
	t.Setenv("PALISADE_OPERATOR_KEY_ID", "")
	t.Setenv("PALISADE_OPERATOR_KEY_SECRET", "")
	_, addr, stdout, _ := runServe(t)
	out := stdout.String()
	// The tenant's pair came from PALISADE_ACCESS_KEY_ID/_SECRET: its ID is
	// shown, not its secret.
	for _, want := range []string{"export PALISADE_OPERATOR_KEY_ID=LTAI", "export PALISADE_OPERATOR_KEY_SECRET=", "access key ID: " + testenv.KeyID} {
		if !strings.Contains(out, want) || strings.Contains(out, testenv.Secret) {
			t.Fatalf("serve output lacks %q:\n%s", want, out)
		}
	}
	var id, secret string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "export PALISADE_OPERATOR_KEY_ID="); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "export PALISADE_OPERATOR_KEY_SECRET="); ok {
			secret = v
		}
	}
	t.Setenv("PALISADE_ACCESS_KEY_ID", id)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", secret)
	var acct struct{ AccountId string }
	if err := json.Unmarshal([]byte(ok(t, "account", "create", "t2", "--json", "--endpoint", addr)), &acct); err != nil || acct.AccountId == "" {
		t.Fatalf("account create with the printed operator key: %+v %v", acct, err)
	}
}

// TestOperatorCommandsTakeOperatorEnv: with both pairs exported as serve
// printed them, palisade account and host sign with the operator's
// (PALISADE_OPERATOR_KEY_ID/_SECRET) and the other commands with the
// tenant's; without the operator's variables, account and host sign with
// PALISADE_ACCESS_KEY_ID/_SECRET as before.
func TestOperatorCommandsTakeOperatorEnv(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetClientEnv(t) // the tenant's pair
	t.Setenv("PALISADE_OPERATOR_KEY_ID", srv.OperatorKeyID)
	t.Setenv("PALISADE_OPERATOR_KEY_SECRET", srv.OperatorSecret)
	for _, args := range [][]string{{"account", "list"}, {"host", "register", "h1"}, {"host", "list"}} {
		ok(t, args...)
	}
	ok(t, "sg", "list") // a tenant's action: the tenant's pair
	t.Setenv("PALISADE_OPERATOR_KEY_ID", "")
	if code, _, errs := palisade("account", "list"); code != 1 || !strings.Contains(errs, "Forbidden.Operator") {
		t.Errorf("account list with the tenant's pair only: exit %d, %s", code, errs)
	}
}
