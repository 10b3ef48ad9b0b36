package apitest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// operatorSDK is the official SDK's generic client signed with the
// operator's key, for Palisade's operator actions (as the CLI sends them).
type operatorSDK struct {
	c    *sdk.Client
	addr string
}

func newOperatorSDK(t testing.TB, s *testenv.Server) operatorSDK {
	return operatorSDK{testenv.CommonClient(t, s.Addr, s.OperatorKeyID, s.OperatorSecret), s.Addr}
}

func (o operatorSDK) call(action string, params map[string]string) (map[string]any, error) {
	return cliCall(o.c, o.addr, "POST", ecsVersion, action, params)
}

// quotas sets (params non-empty) or reads an account's quotas and returns
// them as value and source ("Account" or "Server") by QuotaName.
func (o operatorSDK) quotas(t testing.TB, uid string, params map[string]string) map[string]string {
	t.Helper()
	action, p := "PalisadeDescribeAccountQuotas", map[string]string{"AccountId": uid}
	if len(params) > 0 {
		action = "PalisadeSetAccountQuotas"
		maps.Copy(p, params)
	}
	out, err := o.call(action, p)
	if err != nil {
		t.Fatalf("%s %v: %v", action, params, err)
	}
	got := map[string]string{}
	items, _ := out["Quotas"].(map[string]any)["Quota"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		got[m["QuotaName"].(string)] = fmt.Sprintf("%v %v", m["Value"], m["Source"])
	}
	if len(got) != 10 {
		t.Fatalf("%s answered %d quotas, want 10: %v", action, len(got), out)
	}
	return got
}

// attributes is DescribeAccountAttributes through the official SDK, as
// values by attribute name.
func attributes(t testing.TB, c *ecs.Client, names ...string) map[string][]string {
	t.Helper()
	r := ecs.CreateDescribeAccountAttributesRequest()
	if len(names) > 0 {
		r.AttributeName = &names
	}
	res, err := c.DescribeAccountAttributes(r)
	if err != nil {
		t.Fatalf("DescribeAccountAttributes %v: %v", names, err)
	}
	out := map[string][]string{}
	for _, it := range res.AccountAttributeItems.AccountAttributeItem {
		for _, v := range it.AttributeValues.ValueItem {
			out[it.AttributeName] = append(out[it.AttributeName], v.Value)
		}
	}
	return out
}

// TestAccountQuotaOverrides: the operator raises one account's quota of
// security groups past the server's; that account creates past it while
// another is still refused at the server's. Lowering it below what the
// account holds refuses its next create and deletes nothing; clearing it
// returns the server's. DescribeAccountAttributes (the official SDK's
// shape) answers each account's own, and an override survives a restart.
func TestAccountQuotaOverrides(t *testing.T) {
	s := testenv.Start(t, testenv.Config{Adjust: func(c *server.Config) { c.Quotas = smallQuotas }})
	e := clients(t, s)
	op := newOperatorSDK(t, s)
	keys := map[string][2]string{}
	newAccount := func(name string) account {
		acct := s.NewAccount(t, name)
		keys[acct.UID] = [2]string{acct.KeyID, acct.Secret}
		return account{uid: acct.UID, ecs: newECS(t, e.addr, acct.KeyID, acct.Secret), vpc: newVPC(t, e.addr, acct.KeyID, acct.Secret),
			v3: newV3(t, e.addr, acct.KeyID, acct.Secret, "")}
	}
	a, b := newAccount("team-a"), newAccount("team-b")
	na, nb := newQuotaNet(t, a), newQuotaNet(t, b)
	sg := quotaCases[3]
	server := strconv.Itoa(smallQuotas.SecurityGroups)

	got := op.quotas(t, a.uid, map[string]string{"SecurityGroups": "5"})
	if got["SecurityGroups"] != "5 Account" || got["Vpcs"] != "4 Server" || got["PublicIpAddresses"] != "2 Server" {
		t.Fatalf("after raising: %v", got)
	}
	for _, tc := range []struct {
		name string
		c    *ecs.Client
		want map[string][]string
	}{
		{"raised", a.ecs, map[string][]string{"max-security-groups": {"5"}, "max-elastic-network-interfaces": {"3"},
			"instance-network-type": {"vpc", "classic"}, "real-name-authentication": {"yes"}}},
		{"the server's", b.ecs, map[string][]string{"max-security-groups": {server}, "max-elastic-network-interfaces": {"3"},
			"instance-network-type": {"vpc", "classic"}, "real-name-authentication": {"yes"}}},
	} {
		if got := attributes(t, tc.c); !maps.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("%s: DescribeAccountAttributes %v, want %v", tc.name, got, tc.want)
		}
	}
	fillQuota(t, sg, a, na, 5)
	fillQuota(t, sg, b, nb, smallQuotas.SecurityGroups)

	// Lowered below what A holds, and cleared: refused, nothing deleted.
	for _, tc := range []struct{ value, want string }{{"2", "2 Account"}, {"-1", server + " Server"}} {
		if got := op.quotas(t, a.uid, map[string]string{"SecurityGroups": tc.value})["SecurityGroups"]; got != tc.want {
			t.Fatalf("SecurityGroups=%s: %s, want %s", tc.value, got, tc.want)
		}
		wantErr(t, sg.make(a, na, 100), 403, "QuotaExceed.SecurityGroup")
		if n := sg.count(t, a, na); n != 5 {
			t.Fatalf("SecurityGroups=%s: A holds %d groups, want its 5", tc.value, n)
		}
	}
	if got := attributes(t, a.ecs, "max-security-groups")["max-security-groups"]; !slices.Equal(got, []string{server}) {
		t.Errorf("cleared: max-security-groups %v, want the server's %s", got, server)
	}

	// account list shows the overrides.
	op.quotas(t, a.uid, map[string]string{"SecurityGroups": "7", "Instances": "9"})
	list, err := op.call("PalisadeListAccounts", nil)
	noErr(t, err)
	overrides := map[string]string{}
	for _, it := range list["Accounts"].(map[string]any)["Account"].([]any) {
		m := it.(map[string]any)
		overrides[m["AccountId"].(string)] = fmt.Sprint(m["QuotaOverrides"])
	}
	if want := "map[QuotaOverride:[map[QuotaName:Instances Value:9] map[QuotaName:SecurityGroups Value:7]]]"; overrides[a.uid] != want || overrides[b.uid] != "map[QuotaOverride:[]]" {
		t.Errorf("PalisadeListAccounts' QuotaOverrides: A %s (want %s), B %s", overrides[a.uid], want, overrides[b.uid])
	}

	// A restart (with the default quotas) keeps A's own.
	s.Stop()
	s = s.Reopen(t)
	op = newOperatorSDK(t, s)
	if got := op.quotas(t, a.uid, nil); got["SecurityGroups"] != "7 Account" || got["Instances"] != "9 Account" || got["Vpcs"] != "10 Server" {
		t.Errorf("after a restart: %v", got)
	}
	ca := s.ECSAs(t, keys[a.uid][0], keys[a.uid][1])
	if got := attributes(t, ca, "max-security-groups", "no-such-attribute")["max-security-groups"]; !slices.Equal(got, []string{"7"}) {
		t.Errorf("after a restart: max-security-groups %v, want 7", got)
	}
	if got := op.quotas(t, b.uid, nil)["SecurityGroups"]; got != "100 Server" {
		t.Errorf("after a restart B's SecurityGroups are %s, want the default", got)
	}
}

// TestSetAccountQuotasRefusals: bad input to the operator's action is
// refused with ECS's codes and changes nothing (the store's revision
// stays); a tenant's or a host's key may not call it, nor read quotas.
func TestSetAccountQuotasRefusals(t *testing.T) {
	s := testenv.Start(t, testenv.Config{})
	op := newOperatorSDK(t, s)
	a := s.NewAccount(t, "team-a")
	hostKey, hostSecret := s.RegisterHost(t, "h1")
	tenant := operatorSDK{testenv.CommonClient(t, s.Addr, a.KeyID, a.Secret), s.Addr}
	host := operatorSDK{testenv.CommonClient(t, s.Addr, hostKey, hostSecret), s.Addr}
	for _, tc := range []struct {
		name   string
		as     operatorSDK
		action string
		params map[string]string
		status int
		code   string
	}{
		{"a tenant's key", tenant, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "SecurityGroups": "500"}, 403, "Forbidden.Operator"},
		{"a tenant reads", tenant, "PalisadeDescribeAccountQuotas", map[string]string{"AccountId": a.UID}, 403, "Forbidden.Operator"},
		{"a host's key", host, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "SecurityGroups": "500"}, 403, "Forbidden.HostKey"},
		{"no account", op, "PalisadeSetAccountQuotas", map[string]string{"SecurityGroups": "5"}, 400, "MissingParameter"},
		{"an unknown account", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": "1234567890123456", "SecurityGroups": "5"}, 404, "EntityNotExist.Account"},
		{"an unknown account read", op, "PalisadeDescribeAccountQuotas", map[string]string{"AccountId": "1234567890123456"}, 404, "EntityNotExist.Account"},
		{"no quota", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID}, 400, "MissingParameter"},
		{"zero", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "SecurityGroups": "0"}, 400, "InvalidParameter"},
		{"below -1", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "Instances": "-2"}, 400, "InvalidParameter"},
		{"past the bound", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "Vpcs": "1000001"}, 400, "InvalidParameter"},
		{"not a number", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "FlowLogs": "ten"}, 400, "InvalidParameter"},
		{"a leading zero", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "PublicIpAddresses": "05"}, 400, "InvalidParameter"},
		{"one good, one bad", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "SecurityGroups": "5", "NetworkInterfaces": "0"}, 400, "InvalidParameter"},
		// A quota misspelt would be left as it was under an answer that
		// reads as a success.
		{"a quota misspelt", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "Vpcs": "5", "SecurityGroup": "500"}, 400, "InvalidParameter"},
		{"a quota as the flag names it", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "security-groups": "500"}, 400, "InvalidParameter"},
		{"a quota in lower case", op, "PalisadeSetAccountQuotas", map[string]string{"AccountId": a.UID, "vswitchesPerVpc": "5"}, 400, "InvalidParameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := s.Store.Revision(t.Context())
			noErr(t, err)
			_, err = tc.as.call(tc.action, tc.params)
			wantErr(t, err, tc.status, tc.code)
			if after, err := s.Store.Revision(t.Context()); err != nil || after != before {
				t.Errorf("the store moved from revision %d to %d (%v)", before, after, err)
			}
		})
	}
	if got := op.quotas(t, a.UID, nil); got["SecurityGroups"] != "100 Server" || got["NetworkInterfaces"] != "100 Server" {
		t.Errorf("after the refusals: %v", got)
	}
	// DescribeAccountAttributes is a tenant's: ECS's bound on AttributeName.N
	// holds, names it does not know are left out, and the operator's key,
	// which owns nothing, is refused.
	c := s.ECSAs(t, a.KeyID, a.Secret)
	if got := attributes(t, c, "max-dedicated-hosts"); len(got) != 0 {
		t.Errorf("an unknown attribute: %v, want none", got)
	}
	r := ecs.CreateDescribeAccountAttributesRequest()
	r.AttributeName = &[]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}
	_, err := c.DescribeAccountAttributes(r)
	wantErr(t, err, 400, "InvalidParameter")
	_, err = s.ECSAs(t, s.OperatorKeyID, s.OperatorSecret).DescribeAccountAttributes(ecs.CreateDescribeAccountAttributesRequest())
	wantErr(t, err, 403, "Forbidden.OperatorKey")
}

// TestAccountQuotaOverrideRace: clients of an account race creations past
// its own quota, above the server's: exactly its own lands, on one server
// and across two servers on etcd (where the override reaches the second
// server through the store's watch, as any write).
func TestAccountQuotaOverrideRace(t *testing.T) {
	const own = 9 // the server's is raceQuotas' 6
	for _, tc := range []struct {
		name    string
		servers func(t *testing.T) []*testenv.Server
	}{
		{"sqlite", func(t *testing.T) []*testenv.Server {
			return []*testenv.Server{testenv.Start(t, testenv.Config{Adjust: func(c *server.Config) { c.Quotas = raceQuotas }})}
		}},
		{"etcd", func(t *testing.T) []*testenv.Server {
			return testenv.StartCluster(t, 2, testenv.Config{Log: testenv.Quiet(), Adjust: func(c *server.Config) { c.Quotas = raceQuotas }})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			servers := tc.servers(t)
			acct := servers[0].NewAccount(t, "race")
			newOperatorSDK(t, servers[0]).quotas(t, acct.UID, map[string]string{"SecurityGroups": strconv.Itoa(own)})
			var workers []account
			for w := range 6 {
				s := servers[w%len(servers)]
				workers = append(workers, account{ecs: newECS(t, s.Addr, acct.KeyID, acct.Secret), vpc: newVPC(t, s.Addr, acct.KeyID, acct.Secret)})
			}
			// Every server holds the account and its quota before the race.
			for i := range servers {
				testenv.Eventually(t, 10*time.Second, func() (bool, string) {
					r := ecs.CreateDescribeAccountAttributesRequest()
					r.AttributeName = &[]string{"max-security-groups"}
					res, err := workers[i].ecs.DescribeAccountAttributes(r)
					if err != nil {
						return false, fmt.Sprintf("server %d: %v", i, err)
					}
					items := res.AccountAttributeItems.AccountAttributeItem
					ok := len(items) == 1 && len(items[0].AttributeValues.ValueItem) == 1 && items[0].AttributeValues.ValueItem[0].Value == strconv.Itoa(own)
					return ok, fmt.Sprintf("server %d answers %+v", i, items)
				})
			}
			sg := quotaCases[3]
			raceQuota(t, sg, workers, quotaNet{}, 24, own)
			for i := range servers {
				testenv.Eventually(t, 10*time.Second, func() (bool, string) {
					got := sg.count(t, workers[i], quotaNet{})
					return got == own, fmt.Sprintf("server %d: the account holds %d, want %d", i, got, own)
				})
			}
		})
	}
}
