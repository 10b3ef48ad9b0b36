package apitest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
)

// TestNextTokenHostile sends the token-paged listings NextToken and
// MaxResults a client makes up: garbled, huge, base64 of anything, a
// token of another action, of another tenant, with the filters changed,
// beside PageNumber. Each is refused with ECS's envelope (400, Code,
// Message, RequestId) or answered with the caller's own items only:
// never a 5xx, never an ID of the tenant whose listing the token came
// from.
func TestNextTokenHostile(t *testing.T) {
	e := newEnv(t)
	b := e.srv.NewAccount(t, "b")
	sendTo, codes := rawSender(t, e)
	defer func() { t.Logf("answers: %v", codes) }()
	send := func(keyID, secret, action string, p ...kv) answer {
		t.Helper()
		return sendTo(api.ECSVersion, keyID, secret, action, p...)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	okVPC := func(keyID, secret, action string, p ...kv) map[string]any {
		t.Helper()
		a := sendTo(api.VPCVersion, keyID, secret, action, p...)
		if a.status != 200 {
			t.Fatalf("%s: %d %.500s", action, a.status, a.body)
		}
		return a.m
	}
	ok := func(keyID, secret, action string, p ...kv) map[string]any {
		t.Helper()
		a := send(keyID, secret, action, p...)
		if a.status != 200 {
			t.Fatalf("%s: %d %.500s", action, a.status, a.body)
		}
		return a.m
	}

	// Each tenant: a VPC, a vSwitch, groups, instances, an ENI, a prefix
	// list, a port range list. A's IDs are what B must never see.
	type tenant struct{ key, secret, vsw, sg, inst string }
	var aIDs []string
	makeTenant := func(key, secret, cidr string, n int, mark bool) tenant {
		tn := tenant{key: key, secret: secret}
		keep := func(id string) string {
			if mark {
				aIDs = append(aIDs, id)
			}
			return id
		}
		vpcID := keep(str(okVPC(key, secret, "CreateVpc", kv{"CidrBlock", cidr + ".0.0/16"}), "VpcId"))
		tn.vsw = keep(str(okVPC(key, secret, "CreateVSwitch", kv{"VpcId", vpcID}, kv{"CidrBlock", cidr + ".1.0/24"}, kv{"ZoneId", zone}), "VSwitchId"))
		for i := range n {
			tn.sg = keep(str(ok(key, secret, "CreateSecurityGroup", kv{"VpcId", vpcID}, kv{"SecurityGroupName", fmt.Sprintf("g%d", i)}), "SecurityGroupId"))
		}
		for range n {
			run := ok(key, secret, "RunInstances", kv{"ImageId", imageID}, kv{"InstanceType", instanceType}, kv{"VSwitchId", tn.vsw}, kv{"SecurityGroupId", tn.sg})
			tn.inst = keep(run["InstanceIdSets"].(map[string]any)["InstanceIdSet"].([]any)[0].(string))
		}
		for range 11 { // DescribeNetworkInterfaces' pages hold 10 at least
			keep(str(ok(key, secret, "CreateNetworkInterface", kv{"VSwitchId", tn.vsw}, kv{"SecurityGroupId", tn.sg}), "NetworkInterfaceId"))
		}
		for i := range n {
			keep(str(ok(key, secret, "CreatePrefixList", kv{"AddressFamily", "IPv4"}, kv{"MaxEntries", "5"}, kv{"PrefixListName", fmt.Sprintf("pl%d", i)}), "PrefixListId"))
			keep(str(ok(key, secret, "CreatePortRangeList", kv{"MaxEntries", "5"}, kv{"PortRangeListName", fmt.Sprintf("prl%d", i)}), "PortRangeListId"))
		}
		return tn
	}
	a := makeTenant(e.ak, e.secret, "10.1", 3, true)
	bt := makeTenant(b.KeyID, b.Secret, "10.2", 3, false)

	type listing struct {
		action string
		size   string // the least MaxResults
		params func(tn tenant) []kv
		items  string // where the answer lists them
	}
	none := func(tenant) []kv { return nil }
	listings := []listing{
		{"DescribeSecurityGroups", "1", none, "SecurityGroups.SecurityGroup"},
		{"DescribeInstances", "1", none, "Instances.Instance"},
		{"DescribeNetworkInterfaces", "10", none, "NetworkInterfaceSets.NetworkInterfaceSet"},
		{"DescribeDisks", "1", none, "Disks.Disk"},
		{"DescribeInstanceMaintenanceAttributes", "1", none, "MaintenanceAttributes.MaintenanceAttribute"},
		{"DescribeInstanceRamRole", "1", func(tn tenant) []kv {
			// every instance of the tenant (its own: the others are left out)
			l := ok(tn.key, tn.secret, "DescribeInstances", kv{"MaxResults", "100"})
			var ids []string
			for _, in := range l["Instances"].(map[string]any)["Instance"].([]any) {
				ids = append(ids, str(in.(map[string]any), "InstanceId"))
			}
			j, _ := json.Marshal(ids)
			return []kv{{"InstanceIds", string(j)}}
		}, "InstanceRamRoleSets.InstanceRamRoleSet"},
		{"DescribePrefixLists", "1", none, "PrefixLists.PrefixList"},
		{"DescribePortRangeLists", "1", none, "PortRangeLists"},
	}
	items := func(m map[string]any, path string) []any {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			o, _ := v.(map[string]any)
			v = o[k]
		}
		l, _ := v.([]any)
		return l
	}
	// A's real tokens, of every listing; and each listing paged through
	// by its tokens lists every item once (DescribeInstanceRamRole and
	// DescribeInstanceMaintenanceAttributes answered no token: their first
	// page was all a client of MaxResults could read).
	var aTokens []string
	for _, l := range listings {
		all := items(ok(a.key, a.secret, l.action, append(l.params(a), kv{"MaxResults", "50"})...), l.items)
		var paged []any
		for tok := ""; ; {
			p := append(l.params(a), kv{"MaxResults", l.size})
			if tok != "" {
				p = append(p, kv{"NextToken", tok})
			}
			m := ok(a.key, a.secret, l.action, p...)
			paged = append(paged, items(m, l.items)...)
			if tok == "" && str(m, "NextToken") != "" {
				aTokens = append(aTokens, str(m, "NextToken"))
			}
			if tok = str(m, "NextToken"); tok == "" || len(paged) > len(all) {
				break
			}
		}
		if len(all) < 3 || fmt.Sprint(paged) != fmt.Sprint(all) {
			t.Errorf("%s paged by MaxResults %s listed %d items, one page of 50 %d: %v", l.action, l.size, len(paged), len(all), paged)
		}
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	forged := []string{
		"garbage", "-1", "-0", "+1", " 1", "1 ", "0x10", "1e3", "1.5", "99999999999", "2147483647", "2147483648",
		"9223372036854775807", "9223372036854775808", strings.Repeat("9", 2000), "1.", ".", "..", "1..", "1.!!", "1.AA==",
		"1." + b64("\xff\xff\xff\xff"), "1." + b64("\x00"), "1." + b64(strings.Repeat("\xff", 700)), "0." + b64(a.sg),
		"1." + b64(`{"offset":1}`), "1." + b64("i-"+strings.Repeat("z", 100)), "2147483647." + b64("\x7f"),
		"1.AA.AA", "1\x00", "١", "1." + strings.Repeat("A", 1100), "%31", b64("1"), base64.StdEncoding.EncodeToString([]byte("1.x")),
	}
	wantRefused := func(what string, r answer) {
		t.Helper()
		if r.status != 400 || str(r.m, "Code") == "" || str(r.m, "Message") == "" || str(r.m, "RequestId") == "" {
			t.Errorf("%s: %d %.300s; want 400 with Code, Message, RequestId", what, r.status, r.body)
		}
	}
	check := func(what string, r answer, caller string) {
		t.Helper()
		switch {
		case r.status >= 500 || r.status != 200 && r.status != 400:
			t.Errorf("%s: %d %.300s", what, r.status, r.body)
		case r.status == 400:
			wantRefused(what, r)
		case caller == bt.key:
			for _, id := range aIDs {
				if strings.Contains(string(r.body), id) {
					t.Errorf("%s: B is answered A's %s: %.500s", what, id, r.body)
				}
			}
		}
	}
	for _, l := range listings {
		for _, tok := range append(append([]string{}, aTokens...), forged...) {
			for _, tn := range []tenant{bt, a} {
				for _, extra := range [][]kv{nil, {{"PageNumber", "2"}, {"PageSize", "1"}}, {{"PageNumber", "0"}}, {{"PageNumber", "-1"}}} {
					p := append(append(l.params(tn), kv{"NextToken", tok}, kv{"MaxResults", l.size}), extra...)
					check(fmt.Sprintf("%s as %s NextToken %.60q %v", l.action, tn.key[:6], tok, extra), send(tn.key, tn.secret, l.action, p...), tn.key)
				}
			}
		}
		for _, n := range []string{"0", "-1", "-0", "101", "1001", "1000000", "99999999999999999999", "abc", "1.5", "1e2", " 5", "0x10", "\u0661"} {
			if l.action == "DescribeNetworkInterfaces" { // clamped into 10–500, as ECS does
				continue
			}
			r := send(bt.key, bt.secret, l.action, append(l.params(bt), kv{"MaxResults", n})...)
			if n == "1e2" && r.status == 200 {
				continue
			}
			wantRefused(fmt.Sprintf("%s MaxResults %q", l.action, n), r)
		}
	}
	// A's cursor with B's filters changed between pages: B's own only.
	for _, tok := range aTokens {
		for _, p := range [][]kv{{{"VpcId", "vpc-nope"}}, {{"SecurityGroupName", "g1"}}, {{"SecurityGroupId", a.sg}}, {{"InstanceIds", `["` + a.inst + `"]`}}, {{"InstanceId", a.inst}}} {
			for _, action := range []string{"DescribeSecurityGroups", "DescribeInstances", "DescribeDisks", "DescribeNetworkInterfaces"} {
				check(fmt.Sprintf("%s as B with A's filter %v", action, p), send(bt.key, bt.secret, action, append(p, kv{"NextToken", tok}, kv{"MaxResults", "10"})...), bt.key)
			}
		}
	}
}

// gjsonCode is an error answer's Code ("" for none).
func gjsonCode(body []byte) string {
	var m struct{ Code string }
	json.Unmarshal(body, &m)
	return m.Code
}

// answer is one raw answer: its status, body and the body's JSON.
type answer struct {
	status int
	body   []byte
	m      map[string]any
}

// rawSender returns a function that sends one V1-signed request of
// parameters p, in the region, to e's server, and the count of its answers
// by status and Code.
func rawSender(t *testing.T, e *env) (func(version, keyID, secret, action string, p ...kv) answer, map[string]int) {
	hc := &http.Client{Timeout: 20 * time.Second}
	seq := 0
	codes := map[string]int{}
	return func(version, keyID, secret, action string, p ...kv) answer {
		t.Helper()
		seq++
		form := append([]kv{{"Action", action}, {"Version", version}, {"RegionId", region}}, p...)
		q, f := signedHostile(keyID, secret, seq, hostileRequest{form: form})
		req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://"+e.addr+"/?"+q, strings.NewReader(f))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		defer resp.Body.Close()
		a := answer{status: resp.StatusCode}
		a.body, _ = io.ReadAll(resp.Body)
		codes[fmt.Sprint(a.status, " ", gjsonCode(a.body))]++
		if err := json.Unmarshal(a.body, &a.m); err != nil {
			t.Fatalf("%s: %d, not JSON: %.300s", action, a.status, a.body)
		}
		return a
	}, codes
}
