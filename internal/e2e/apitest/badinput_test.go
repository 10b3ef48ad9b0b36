package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/ratelimit"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// kv is one parameter as sent: a request may name one twice.
type kv struct{ k, v string }

// hostileRequest is one request of the sweep: its parameters in the query
// string and in the form body, and what was done to them.
type hostileRequest struct {
	query, form []kv
	what        string
	xml         bool // Format=XML
}

// signedHostile signs r with the key (V1, over the parameters as the
// server merges them: a name sent twice with one value counts once) and
// returns its query string and form body.
func signedHostile(keyID, secret string, seq int, r hostileRequest) (query, form string) {
	format := "JSON"
	if r.xml {
		format = "XML"
	}
	common := []kv{{"AccessKeyId", keyID}, {"Format", format}, {"SignatureMethod", "HMAC-SHA1"},
		{"SignatureNonce", fmt.Sprintf("sweep-%d-%d", time.Now().UnixNano(), seq)}, {"SignatureVersion", "1.0"},
		{"Timestamp", time.Now().UTC().Format(signature.TimestampLayout)}}
	all := slices.Concat(r.query, r.form, common)
	slices.SortFunc(all, func(a, b kv) int { return strings.Compare(a.k+"\x00"+a.v, b.k+"\x00"+b.v) })
	all = slices.Compact(all)
	enc := func(ps []kv) string {
		var b strings.Builder
		for i, p := range ps {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(signature.PercentEncode(p.k) + "=" + signature.PercentEncode(p.v))
		}
		return b.String()
	}
	sig := signature.SignV1(secret, "POST&%2F&"+signature.PercentEncode(enc(all)))
	return enc(r.query), enc(slices.Concat(r.form, common, []kv{{"Signature", sig}}))
}

// hostileValues are the values the sweep puts in parameters: too long,
// not UTF-8, NUL and other control bytes, unicode, numbers of every wrong
// kind, deeply nested JSON, empty, and look-alikes of the values handlers
// parse (CIDRs, port ranges, times, booleans).
var hostileValues = []string{
	strings.Repeat("A", 64<<10),
	strings.Repeat("é", 32<<10),
	"\xff\xfe\xfd", "sg-\xc3\x28", "a\x00b", "\x00", "\x01\x02\x1b[31m\r\n\t\x7f", "line\nbreak", "\u202e\ufeff\u200b",
	"安全组🔥", "e\u0301\u0301\u0301", "\U0010ffff", "\ud7ff",
	"", " ", "-1", "0", "-0", "1.5", "1e3", "NaN", "Infinity", "0x10", "+5", " 5", "05", "abc",
	"9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999999999",
	"2147483648", "4294967296", "65536", "1000000",
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000),
	`["sg-x"`, `null`, `{}`, `[]`, `[null]`, `[1,2]`, `["` + strings.Repeat("x", 1000) + `"]`, `{"__proto__":1}`,
	"1/65536", "-1/-1", "65535/1", "0/0", "1/", "/", "22/22/22",
	"0.0.0.0/33", "::/129", "1.2.3.4/-1", "256.1.1.1/32", "10.0.0.0/8/8", "fe80::1%eth0/64", "::ffff:1.2.3.4/128",
	"2026-13-45T99:99:99Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
	"TRUE", "yes", "*", "%", "%00", "%zz", "../../etc/passwd", "' OR 1=1 --", "${jndi:ldap://x}", "<script>x</script>",
	"sg-", "i-", "sg-" + strings.Repeat("z", 300),
	`[{}]`, `[{"SrcAddr":"\u0000","DstPort":-1,"Packets":1e400,"Start":"x"}]`, `[` + strings.Repeat(`{},`, 5000) + `{}]`,
	`{"sg-x/sgr-y":{"Packets":-1,"Bytes":1.5}}`, `{"k":{"Packets":18446744073709551616}}`, `{"":null}`,
}

// listForms are the ways a list parameter Name is written wrongly (N is
// replaced by the index): index 0, negative, huge, too long, leading zero,
// not a number, empty, nested.
var listIndexes = []string{"0", "-1", "1000000", "999999999", "1000000000", "01", "x", "", "1.", "1.1.1", "1.Name.1.Name"}

// sweepTransport are the parameters the transport reads before any
// handler (the signature's, Action, Version, Format): the sweep leaves
// them to the tests of package rpc and signature.
var sweepTransport = map[string]bool{"Action": true, "Version": true, "Format": true, "AccessKeyId": true, "Signature": true,
	"SignatureMethod": true, "SignatureNonce": true, "SignatureVersion": true, "SignatureType": true, "Timestamp": true, "SecurityToken": true}

// sweepSeed fixes the sweep's choices: every run sends the same requests.
const sweepSeed = 20261206

// perActionRequests bounds the requests to one action, so the sweep's
// run time stays under a minute on two cores.
const perActionRequests = 120

// TestBadInputSweep sends every action the server routes (its route
// table, so a new action is covered) deterministic, seeded hostile
// requests built from the parameter names its handler reads (from the
// source: handlerParams), on top of a valid request where one is known,
// and checks each answer: 2xx or 4xx, never 5xx; JSON (valid UTF-8); an
// error is ECS's envelope with Code, Message, RequestId, HostId and
// Recommend, and moves no store revision; no answer to a tenant holds
// another tenant's account, keys, IDs, names or addresses it did not send,
// and none holds a secret. Each request has 20 s to finish; the slowest
// are logged, not failed.
func TestBadInputSweep(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{RateLimit: ratelimit.Config{PerAction: 1e6, ActionBurst: 1e6, PerAccount: 1e6, AccountBurst: 1e6}})
	params := handlerParams(t)
	hc := &http.Client{}
	ctx := context.Background()
	type answer struct {
		status int
		ct     string
		body   []byte
		err    error
		dur    time.Duration
		query  int // bytes of the query string sent
	}
	seq := 0
	send := func(keyID, secret, version, action string, r hostileRequest, timeout time.Duration) answer {
		seq++
		r.form = append([]kv{{"Action", action}, {"Version", version}}, r.form...)
		q, f := signedHostile(keyID, secret, seq, r)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+srv.Addr+"/?"+q, strings.NewReader(f))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err != nil {
			return answer{err: err, dur: time.Since(start)}
		}
		defer resp.Body.Close()
		a := answer{status: resp.StatusCode, ct: resp.Header.Get("Content-Type"), query: len(q)}
		if !strings.HasPrefix(a.ct, "application/json") && !strings.HasPrefix(a.ct, "text/xml") {
			// A stream (PalisadeWatchStream) does not end: what it sent
			// at once is its answer.
			t := time.AfterFunc(100*time.Millisecond, cancel)
			defer t.Stop()
		}
		a.body, a.err = io.ReadAll(resp.Body)
		if a.err != nil && !strings.HasPrefix(a.ct, "application/json") && !strings.HasPrefix(a.ct, "text/xml") {
			a.err = nil
		}
		a.dur = time.Since(start)
		return a
	}
	must := func(keyID, secret, version, action string, p ...kv) map[string]any {
		t.Helper()
		a := send(keyID, secret, version, action, hostileRequest{form: append([]kv{{"RegionId", testenv.Region}}, p...)}, 20*time.Second)
		if a.err != nil || a.status != 200 {
			t.Fatalf("%s: %d %v %s", action, a.status, a.err, a.body)
		}
		var out map[string]any
		json.Unmarshal(a.body, &out)
		return out
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	// resources makes one of each kind of resource in an account, named
	// with mark and addressed in 10.net.0.0/16.
	resources := func(keyID, secret, mark string, net int) map[string]string {
		ids := map[string]string{}
		cidr := func(s string) string { return fmt.Sprintf("10.%d.%s", net, s) }
		ids["VpcId"] = str(must(keyID, secret, api.VPCVersion, "CreateVpc", kv{"CidrBlock", cidr("0.0/16")}, kv{"VpcName", mark + "-vpc"}), "VpcId")
		ids["VSwitchId"] = str(must(keyID, secret, api.VPCVersion, "CreateVSwitch", kv{"VpcId", ids["VpcId"]}, kv{"ZoneId", "cn-hangzhou-h"},
			kv{"CidrBlock", cidr("1.0/24")}, kv{"VSwitchName", mark + "-vsw"}), "VSwitchId")
		ids["SecurityGroupId"] = str(must(keyID, secret, api.ECSVersion, "CreateSecurityGroup", kv{"VpcId", ids["VpcId"]},
			kv{"SecurityGroupName", mark + "-sg"}, kv{"Description", mark + "-desc"}), "SecurityGroupId")
		must(keyID, secret, api.ECSVersion, "AuthorizeSecurityGroup", kv{"SecurityGroupId", ids["SecurityGroupId"]}, kv{"IpProtocol", "tcp"},
			kv{"PortRange", "22/22"}, kv{"SourceCidrIp", cidr("9.0/24")}, kv{"Description", mark + "-rule"})
		perms := must(keyID, secret, api.ECSVersion, "DescribeSecurityGroupAttribute", kv{"SecurityGroupId", ids["SecurityGroupId"]})["Permissions"]
		ids["SecurityGroupRuleId"] = str(perms.(map[string]any)["Permission"].([]any)[0].(map[string]any), "SecurityGroupRuleId")
		run := must(keyID, secret, api.ECSVersion, "RunInstances", kv{"ImageId", imageID}, kv{"InstanceType", instanceType},
			kv{"VSwitchId", ids["VSwitchId"]}, kv{"SecurityGroupId", ids["SecurityGroupId"]}, kv{"InstanceName", mark + "-inst"})
		ids["InstanceId"] = run["InstanceIdSets"].(map[string]any)["InstanceIdSet"].([]any)[0].(string)
		ids["PrefixListId"] = str(must(keyID, secret, api.ECSVersion, "CreatePrefixList", kv{"AddressFamily", "IPv4"}, kv{"MaxEntries", "5"},
			kv{"PrefixListName", mark + "-pl"}, kv{"Entry.1.Cidr", cidr("50.0/24")}), "PrefixListId")
		ids["PortRangeListId"] = str(must(keyID, secret, api.ECSVersion, "CreatePortRangeList", kv{"MaxEntries", "5"},
			kv{"PortRangeListName", mark + "-prl"}, kv{"Entry.1.PortRange", "8080/8080"}), "PortRangeListId")
		ids["AllocationId"] = str(must(keyID, secret, api.VPCVersion, "AllocateEipAddress", kv{"Name", mark + "-eip"}), "AllocationId")
		must(keyID, secret, api.VPCVersion, "AssociateEipAddress", kv{"AllocationId", ids["AllocationId"]}, kv{"InstanceId", ids["InstanceId"]})
		ids["NetworkInterfaceId"] = str(must(keyID, secret, api.ECSVersion, "CreateNetworkInterface", kv{"VSwitchId", ids["VSwitchId"]},
			kv{"SecurityGroupId", ids["SecurityGroupId"]}, kv{"NetworkInterfaceName", mark + "-eni"}), "NetworkInterfaceId")
		ids["FlowLogId"] = str(must(keyID, secret, api.VPCVersion, "CreateFlowLog", kv{"ResourceType", "VPC"}, kv{"ResourceId", ids["VpcId"]},
			kv{"TrafficType", "All"}, kv{"FlowLogName", mark + "-fl"}), "FlowLogId")
		return ids
	}
	other := srv.NewAccount(t, "other")
	theirs := resources(other.KeyID, other.Secret, "t2mark", 88)
	// Resources of the other tenant's that no request names: their IDs
	// may never show.
	hidden := resources(other.KeyID, other.Secret, "t2mark", 89)
	ours := resources(srv.KeyID, srv.Secret, "t1mark", 77)
	hostKey, hostSecret := srv.RegisterHost(t, "h1")
	// Another tenant's IDs are among the values sent, as are ours in
	// parameters of another kind.
	values := slices.Clone(hostileValues)
	for _, k := range slices.Sorted(maps.Keys(theirs)) {
		values = append(values, theirs[k], `["`+theirs[k]+`"]`)
	}
	values = append(values, other.UID, other.KeyID, ours["InstanceId"], ours["SecurityGroupId"])
	// What a tenant's answer may not hold unless its request did.
	foreign := []string{other.UID, other.KeyID, "t2mark", "10.88.", "10.89."}
	for _, id := range theirs {
		foreign = append(foreign, id)
	}
	for _, id := range hidden {
		foreign = append(foreign, id)
	}
	secrets := []string{srv.Secret, other.Secret, srv.OperatorSecret, hostSecret}
	// fillers make a request valid where the action reads the parameter,
	// so the hostile one reaches the checks past the first.
	fillers := map[string]string{"RegionId": testenv.Region, "ZoneId": "cn-hangzhou-h", "IpProtocol": "tcp", "PortRange": "22/22",
		"SourceCidrIp": "198.51.100.0/24", "Policy": "accept", "Priority": "1", "NicType": "intranet", "HostName": "h1",
		"WaitSeconds": "0", "AfterRevision": "0", "ImageId": imageID, "InstanceType": instanceType, "ResourceType": "securitygroup",
		"ResourceId": ours["SecurityGroupId"], "From": ours["InstanceId"], "To": "198.51.100.7", "Protocol": "tcp", "Port": "22"}
	for k, v := range ours {
		fillers[k] = v
	}
	// bases complete or correct the fillers where an action needs more to
	// be valid ("" drops a filler), keyed by Version/Action or Action.
	bases := map[string][]kv{
		"AuthorizeSecurityGroupEgress":          {{"SourceCidrIp", ""}, {"DestCidrIp", "198.51.100.0/24"}},
		"RevokeSecurityGroupEgress":             {{"SourceCidrIp", ""}, {"DestCidrIp", "198.51.100.0/24"}},
		"ModifySecurityGroupRule":               {{"PortRange", "2222/2222"}},
		"CreateNetworkInterface":                {{"InstanceType", ""}},
		"AssociateEipAddress":                   {{"InstanceType", "EcsInstance"}},
		"CreatePortRangeList":                   {{"MaxEntries", "5"}, {"PortRangeListName", "sweep"}, {"Entry.1.PortRange", "80/80"}},
		"CreatePrefixList":                      {{"AddressFamily", "IPv4"}, {"MaxEntries", "5"}, {"Entry.1.Cidr", "198.51.100.0/24"}},
		"DescribeAvailableResource":             {{"DestinationResource", "InstanceType"}},
		"DescribeInstanceMaintenanceAttributes": {{"InstanceId", ""}, {"InstanceId.1", ours["InstanceId"]}},
		"DescribeSecurityGroupReferences":       {{"SecurityGroupId", ""}, {"SecurityGroupId.1", ours["SecurityGroupId"]}},
		"JoinResourceGroup":                     {{"ResourceGroupId", "rg-sweep"}, {"ResourceId", ours["SecurityGroupId"]}},
		"MoveResourceGroup":                     {{"NewResourceGroupId", "rg-sweep"}, {"ResourceType", "vpc"}, {"ResourceId", ours["VpcId"]}},
		"JoinSecurityGroup":                     {{"NetworkInterfaceId", ""}},
		"LeaveSecurityGroup":                    {{"NetworkInterfaceId", ""}},
		"PalisadeBindInstance":                  {{"NetworkInterfaceId", ""}},
		api.ECSVersion + "/ListTagResources":    {{"ResourceId", ""}, {"ResourceId.1", ours["SecurityGroupId"]}},
		api.ECSVersion + "/TagResources":        {{"ResourceId", ""}, {"ResourceId.1", ours["SecurityGroupId"]}, {"Tag.1.Key", "k"}, {"Tag.1.Value", "v"}},
		api.ECSVersion + "/UntagResources":      {{"ResourceId", ""}, {"ResourceId.1", ours["SecurityGroupId"]}, {"TagKey.1", "k"}},
		"AddTags":                               {{"Tag.1.Key", "k"}, {"Tag.1.Value", "v"}},
		"RemoveTags":                            {{"Tag.1.Key", "k"}},
		api.VPCVersion + "/ListTagResources":    {{"ResourceType", "VPC"}, {"ResourceId", ""}, {"ResourceId.1", ours["VpcId"]}},
		api.VPCVersion + "/TagResources":        {{"ResourceType", "VPC"}, {"ResourceId", ""}, {"ResourceId.1", ours["VpcId"]}, {"Tag.1.Key", "k"}, {"Tag.1.Value", "v"}},
		api.VPCVersion + "/UnTagResources":      {{"ResourceType", "VPC"}, {"ResourceId", ""}, {"ResourceId.1", ours["VpcId"]}, {"TagKey.1", "k"}},
		"ModifySecurityGroupPolicy":             {{"InnerAccessPolicy", "Accept"}},
		"PalisadeDescribeReachability":          {{"To", "internet"}},
		"PalisadePlanChange":                    {{"ChangeAction", "AuthorizeSecurityGroup"}},
		"UpdateAccessKey":                       {{"Status", "Active"}, {"UserAccessKeyId", srv.KeyID}},
		"DeleteAccessKey":                       {{"UserAccessKeyId", "LTAIsweepnosuchkey"}},
		"DescribeEndpoints":                     {{"ServiceCode", "ecs"}},
		"CreateFlowLog":                         {{"ResourceType", "VPC"}, {"ResourceId", ours["VpcId"]}, {"TrafficType", "All"}},
		"CreateVSwitch":                         {{"CidrBlock", "10.77.2.0/24"}},
		"DeleteInstance":                        {{"Force", "true"}},
		"PalisadeCreateAccount":                 {{"AccountName", "sweep"}},
		"PalisadeDisableAccount":                {{"AccountId", other.UID}},
		"PalisadeSetAccountQuotas":              {{"AccountId", other.UID}, {"SecurityGroups", "200"}},
		"PalisadeDescribeAccountQuotas":         {{"AccountId", other.UID}},
	}

	operator := map[string]bool{}
	for _, a := range api.OperatorActions {
		operator[a] = true
	}
	host := map[string]bool{}
	for _, a := range api.HostActions {
		host[a] = true
	}
	// The order: reads and writes, then what deletes (so the resources
	// the fillers name last as long as they can), then the host's actions
	// and the operator's (whose PalisadeRegisterHost replaces the host's
	// key).
	phase := func(a string) int {
		switch {
		case operator[a]:
			return 3
		case host[a]:
			return 2
		}
		for _, p := range []string{"Delete", "Release", "Revoke", "Remove", "Detach", "Unassociate", "Leave", "Deactive", "Disable", "Untag", "UnTag", "Stop"} {
			if strings.HasPrefix(a, p) {
				return 1
			}
		}
		return 0
	}
	routes := slices.Clone(srv.Actions)
	slices.SortFunc(routes, func(a, b rpc.RouteKey) int {
		if d := phase(a.Action) - phase(b.Action); d != 0 {
			return d
		}
		return strings.Compare(a.Version+a.Action, b.Version+b.Action)
	})
	// The handlers' names are found for nearly every action: a route
	// table written in a form handlerParams does not read would leave the
	// sweep sending the whole dictionary to each.
	var unlearned []string
	for _, rk := range routes {
		if params[rk.Action] == nil {
			unlearned = append(unlearned, rk.Action)
		}
	}
	if len(unlearned) > len(routes)/10 {
		t.Errorf("the parameters of %d of %d actions were not found in the handlers' source: %v", len(unlearned), len(routes), unlearned)
	}
	t.Logf("actions given the whole dictionary of parameter names: %v", unlearned)
	theirsBefore := tenantRecords(t, srv.Store, other.UID)
	checkedTheirs := false
	sentBefore := map[string]bool{} // what of the other tenant's the tenant sent
	type slow struct {
		what string
		dur  time.Duration
	}
	// What an error's message may not show: SQL, Go's source, stacks,
	// a decoder's or a formatter's own words, file paths.
	internals := regexp.MustCompile(`(?i)sqlite|\bselect\b.*\bfrom\b|\.go:\d|goroutine|%!|json: |strconv\.|/tmp/|panic|nil pointer|runtime error`)
	reads := regexp.MustCompile(`^(Palisade)?(Describe|List|Get|Query|Lookup)`)
	var largestError struct {
		n    int
		what string
	}
	var (
		slowest  []slow
		sent     int
		byStatus = map[int]int{}
		failures int
	)
	for _, rk := range routes {
		if phase(rk.Action) >= 2 && !checkedTheirs {
			// Past the tenants' actions: nothing of the other tenant's changed.
			if after := tenantRecords(t, srv.Store, other.UID); !maps.Equal(theirsBefore, after) {
				t.Errorf("the other tenant's records changed during the tenant's sweep")
			}
			checkedTheirs = true
		}
		names := params[rk.Action]
		if names == nil {
			names = params[""]
		}
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return sweepTransport[n] })
		h := fnv.New64a()
		h.Write([]byte(rk.Version + rk.Action))
		rng := rand.New(rand.NewPCG(sweepSeed, h.Sum64()))
		base := []kv{}
		for _, n := range names {
			if v, ok := fillers[n]; ok {
				base = append(base, kv{n, v})
			}
		}
		if !slices.ContainsFunc(base, func(p kv) bool { return p.k == "RegionId" }) {
			base = append(base, kv{"RegionId", testenv.Region})
		}
		for _, o := range slices.Concat(bases[rk.Action], bases[rk.Version+"/"+rk.Action]) {
			base = slices.DeleteFunc(base, func(p kv) bool { return p.k == o.k })
			if o.v != "" {
				base = append(base, o)
			}
		}
		reqs := hostileRequests(rng, base, names, values)
		// Each parameter that names a resource, with the other tenant's of
		// that kind: as a value, an item of a list, and a JSON list.
		for _, n := range names {
			id := theirs[n]
			switch {
			case id == "" && theirs[strings.TrimSuffix(n, "s")] != "":
				id = `["` + theirs[strings.TrimSuffix(n, "s")] + `"]`
			case id == "" && (strings.HasSuffix(n, "OwnerId") || strings.HasSuffix(n, "AccountId") || strings.HasSuffix(n, "OwnerAccount")):
				id = other.UID
			case id == "" && strings.HasSuffix(n, "AccessKeyId"):
				id = other.KeyID
			case id == "" && strings.HasPrefix(n, "ResourceId"):
				id = theirs["SecurityGroupId"]
			case id == "":
				continue
			}
			reqs = append(reqs, withParams(base, n+"=their "+id, kv{n, id}), withParams(base, n+".1=their "+id, kv{n + ".1", id}))
		}
		keyID, secret := srv.KeyID, srv.Secret
		tenant := true
		switch {
		case operator[rk.Action]:
			keyID, secret, tenant = srv.OperatorKeyID, srv.OperatorSecret, false
		case host[rk.Action]:
			keyID, secret, tenant = hostKey, hostSecret, false
		}
		timeout := 20 * time.Second
		for i, r := range reqs {
			r.xml = i%5 == 4 // some answers in XML, whose text must be well formed too
			if i%2 == 1 && slices.Contains(names, "ClientToken") && !slices.ContainsFunc(slices.Concat(r.query, r.form), func(p kv) bool { return p.k == "ClientToken" }) {
				// An error under a ClientToken must not be kept for its retry.
				r.form = append(r.form, kv{"ClientToken", fmt.Sprintf("sweep-%s-%d", rk.Action, i)})
			}
			if host[rk.Action] && i%2 == 1 {
				keyID, secret = srv.OperatorKeyID, srv.OperatorSecret // the host's actions as the operator too
			} else if host[rk.Action] {
				keyID, secret = hostKey, hostSecret
			}
			before, err := srv.Store.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			a := send(keyID, secret, rk.Version, rk.Action, r, timeout)
			if tenant {
				sentText := fmt.Sprint(r.query, r.form)
				for _, f := range foreign {
					if strings.Contains(sentText, f) {
						sentBefore[f] = true
					}
				}
			}
			sent++
			if a.err != nil || strings.HasPrefix(a.ct, "application/json") || strings.HasPrefix(a.ct, "text/xml") { // not a stream, cut short
				slowest = append(slowest, slow{rk.Action + " " + r.what, a.dur})
			}
			fail := func(format string, args ...any) {
				failures++
				if failures <= 60 {
					t.Errorf("%s %s: "+format+"\n  answer %d %.400q", append([]any{rk.Action, r.what}, append(args, a.status, a.body)...)...)
				}
			}
			if a.err != nil {
				fail("no answer: %v", a.err)
				continue
			}
			byStatus[a.status]++
			switch {
			case a.status >= 500:
				fail("status %d", a.status)
			case a.status < 200 || a.status >= 300 && a.status < 400:
				fail("status %d is neither 2xx nor 4xx", a.status)
			}
			if r.xml && strings.HasPrefix(a.ct, "application/json") {
				fail("asked Format=XML, answered JSON")
			}
			switch {
			case strings.HasPrefix(a.ct, "application/json"):
				if !json.Valid(a.body) || !utf8.Valid(a.body) {
					fail("the answer is not valid JSON in UTF-8")
				}
			case strings.HasPrefix(a.ct, "text/xml"):
				if err := wellFormedXML(a.body); err != nil || !utf8.Valid(a.body) {
					fail("the answer is not well-formed XML in UTF-8: %v", err)
				}
			}
			if a.status == http.StatusRequestHeaderFieldsTooLarge {
				// Refused by the HTTP server before any handler (no ECS
				// envelope, as a gateway's would have none): only a
				// request line past the header cap may be.
				if a.query < server.DefaultLimits.MaxHeaderBytes {
					fail("431 for a query of %d bytes, under the %d-byte header cap", a.query, server.DefaultLimits.MaxHeaderBytes)
				}
				if after, err := srv.Store.Revision(ctx); err != nil || after != before {
					fail("the refusal moved the store's revision from %d to %d (%v)", before, after, err)
				}
				continue
			}
			if a.status >= 400 {
				var e struct{ Code, Message, RequestId, HostId, Recommend string }
				var err error
				if strings.HasPrefix(a.ct, "text/xml") {
					err = xml.Unmarshal(a.body, &e)
				} else {
					err = json.Unmarshal(a.body, &e)
				}
				if err != nil || e.Code == "" || e.Message == "" || e.RequestId == "" || e.HostId == "" || e.Recommend == "" {
					fail("the error is not ECS's envelope with Code, Message, RequestId, HostId, Recommend")
				}
				after, err := srv.Store.Revision(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if after != before {
					fail("the error moved the store's revision from %d to %d", before, after)
				}
				if internals.MatchString(e.Message) {
					fail("the error's message shows the server's internals")
				}
				if len(a.body) > largestError.n {
					largestError.n, largestError.what = len(a.body), rk.Action+" "+r.what
				}
			} else if reads.MatchString(rk.Action) {
				if after, _ := srv.Store.Revision(ctx); after != before {
					fail("a read moved the store's revision from %d to %d", before, after)
				}
			}
			body := string(a.body)
			for _, s := range secrets {
				if strings.Contains(body, s) {
					fail("the answer holds a secret")
				}
			}
			if tenant {
				sentText := fmt.Sprint(r.query, r.form)
				for _, f := range foreign {
					// What the tenant sent before it may have stored (a
					// description) or find in its event trail.
					if strings.Contains(body, f) && !strings.Contains(sentText, f) && !sentBefore[f] {
						fail("the answer holds the other tenant's %q", f)
					}
				}
			}
		}
	}
	// No host's progress claims a revision the store does not have (it
	// would never fall back, and the host read as current for ever).
	if rev, err := srv.Store.Revision(ctx); err != nil || srv.Ops.AppliedRevision("h1") > rev {
		t.Errorf("h1's applied revision is %d, beyond the store's %d (%v)", srv.Ops.AppliedRevision("h1"), rev, err)
	}
	// The event trail holds every request the sweep sent: its answers,
	// read back page by page, are valid JSON (it answers in JSON only).
	token := ""
	for page := 0; page < 40; page++ {
		r := hostileRequest{form: []kv{{"MaxResults", "50"}}}
		if token != "" {
			r.form = append(r.form, kv{"NextToken", token})
		}
		a := send(srv.KeyID, srv.Secret, trail.Version, "LookupEvents", r, 20*time.Second)
		if a.err != nil || a.status != 200 {
			t.Fatalf("LookupEvents page %d: %d %v %.300s", page, a.status, a.err, a.body)
		}
		var res struct{ NextToken string }
		if err := json.Unmarshal(a.body, &res); err != nil || !json.Valid(a.body) || !utf8.Valid(a.body) {
			t.Errorf("LookupEvents page %d is not valid JSON in UTF-8: %v", page, err)
		}
		if token = res.NextToken; token == "" {
			break
		}
	}
	slices.SortFunc(slowest, func(a, b slow) int { return int(b.dur - a.dur) })
	for _, s := range slowest[:min(8, len(slowest))] {
		t.Logf("slow: %v %.200q", s.dur.Round(time.Millisecond), s.what)
	}
	t.Logf("largest error answer: %d bytes, %.200q", largestError.n, largestError.what)
	t.Logf("sweep: %d actions, %d requests, statuses %v", len(routes), sent, byStatus)
	if failures > 60 {
		t.Errorf("… %d failures in all", failures)
	}
}

// hostileRequests are the sweep's requests to one action: each parameter
// it reads with a hostile value, then, chosen by rng, lists with wrong
// indexes, gaps and duplicates, objects, parameters repeated (the same
// value and another, in the query and the form), many items, and a few
// hostile values at once, each on top of base (a valid request where the
// fillers know one, with base's own value of a name replaced).
func hostileRequests(rng *rand.Rand, base []kv, names, values []string) []hostileRequest {
	pick := func() string { return values[rng.IntN(len(values))] }
	name := func() string { return names[rng.IntN(len(names))] }
	with := func(what string, query []kv, ps ...kv) hostileRequest {
		r := withParams(base, what, ps...)
		r.form = slices.DeleteFunc(r.form, func(b kv) bool {
			return slices.ContainsFunc(query, func(p kv) bool { return p.k == b.k })
		})
		r.query = query
		return r
	}
	out := []hostileRequest{with("the valid base", nil)}
	if len(names) == 0 {
		names = []string{"RegionId"}
	}
	// Two thirds: each name in turn with a hostile value (so an action
	// with few parameters gets each several kinds).
	order := rng.Perm(len(names))
	for j := 0; j < perActionRequests*2/3; j++ {
		n, v := names[order[j%len(order)]], pick()
		out = append(out, with(n+"="+short(v), nil, kv{n, v}))
	}
	for len(out) < perActionRequests {
		n, v := name(), pick()
		switch rng.IntN(12) {
		case 0: // a wrong index
			idx := listIndexes[rng.IntN(len(listIndexes))]
			k := n + "." + strings.ReplaceAll(idx, "Name", n)
			out = append(out, with(k+"="+short(v), nil, kv{k, v}))
		case 1: // a gap, and the list's items out of order
			out = append(out, with(n+".3, .1 (gap)", nil, kv{n + ".3", v}, kv{n + ".1", pick()}))
		case 2: // an object's field under another name, at a huge index
			f := name()
			out = append(out, with(n+".1000000."+f, nil, kv{n + ".1000000." + f, v}, kv{n + ".1." + f, pick()}))
		case 3: // the same name twice with one value, in the query and the form
			out = append(out, with(n+" twice, same value", []kv{{n, v}}, kv{n, v}))
		case 4: // the same name with two values
			out = append(out, with(n+" twice, two values", []kv{{n, v}}, kv{n, pick()}))
		case 5: // an index given twice: once bare, once with a leading zero
			out = append(out, with(n+".1 and .01", nil, kv{n + ".1", v}, kv{n + ".01", pick()}))
		case 6: // many items
			ps := make([]kv, 0, 1000)
			for i := 1; i <= 1000; i++ {
				ps = append(ps, kv{n + "." + strconv.Itoa(i), "x" + strconv.Itoa(i)})
			}
			out = append(out, with(n+".1…1000", nil, ps...))
		case 7: // several hostile values at once
			ps := []kv{}
			for range 3 {
				ps = append(ps, kv{name(), pick()})
			}
			out = append(out, with(fmt.Sprint("three: ", short(fmt.Sprint(ps))), nil, ps...))
		case 8: // objects nested in a list's items
			out = append(out, with(n+".1.Tag.1.Key", nil, kv{n + ".1.Tag.1.Key", v}, kv{n + ".1." + name() + ".1", pick()}))
		case 11: // a hostile name
			bad := []string{n + "\xff", n + "\x00", "\x00", strings.Repeat("N", 64<<10), n + ".1.\xc3\x28", "名前", n + "\n", n + "%00", n + "[]", n + "[0]"}
			k := bad[rng.IntN(len(bad))]
			out = append(out, with("name "+short(k), nil, kv{k, v}))
		case 9, 10: // a field of a list's first or second item (Permissions.1.IpProtocol)
			k := n + "." + strconv.Itoa(1+rng.IntN(2)) + "." + name()
			out = append(out, with(k+"="+short(v), nil, kv{k, v}))
		}
	}
	return out
}

// withParams is base with ps in place of base's own values of their names.
func withParams(base []kv, what string, ps ...kv) hostileRequest {
	form := slices.DeleteFunc(slices.Clone(base), func(b kv) bool {
		return slices.ContainsFunc(ps, func(p kv) bool { return p.k == b.k })
	})
	return hostileRequest{form: append(form, ps...), what: what}
}

// wellFormedXML reads an XML document through: an error if it is not
// well formed (an XML 1.0 parser refuses control characters too).
func wellFormedXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if cd, ok := tok.(xml.CharData); ok {
			for _, r := range string(cd) {
				if !(r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
					return fmt.Errorf("character %U is not allowed in XML 1.0", r)
				}
			}
		}
	}
}

// short is v for a message: the first bytes, quoted.
func short(v string) string {
	if len(v) > 40 {
		return strconv.Quote(v[:40]) + fmt.Sprintf("…(%d bytes)", len(v))
	}
	return strconv.Quote(v)
}
