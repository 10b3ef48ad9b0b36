package trail

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

var update = flag.Bool("update", false, "write testdata/events.golden from what the trail makes now")

// goldenCall is one call of the golden table.
type goldenCall struct {
	name, action, version, product string
	params                         rpc.Params // nil: the parameters could not be read
	code, body, account            string
	remote, agent                  string
	start                          time.Time
}

func goldenCalls() []goldenCall {
	sdk := func(extra rpc.Params) rpc.Params {
		p := rpc.Params{"AccessKeyId": "LTAIgolden", "Signature": "c2lnbmF0dXJl", "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
			"SignatureNonce": "0123456789abcdef", "Timestamp": "2026-12-05T10:00:00Z", "Format": "JSON", "Version": "2014-05-26", "RegionId": "cn-hangzhou"}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	many := rpc.Params{}
	for i := range maxParams + 20 {
		many[fmt.Sprintf("Tag.%d.Key", i)] = fmt.Sprint("k", i)
	}
	big := rpc.Params{}
	for i := range 12 {
		big[fmt.Sprintf("Description%02d", i)] = strings.Repeat(string(rune('a'+i)), 900)
	}
	long := strings.Repeat("é", maxValueBytes) // cut on a rune boundary
	const acct = "1000000000000001"
	return []goldenCall{
		{name: "authorize", action: "AuthorizeSecurityGroup", params: sdk(rpc.Params{"SecurityGroupId": "sg-1", "IpProtocol": "TCP",
			"PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "Policy": "accept", "Priority": "1"}),
			body: `{"RequestId":"REQ"}`, account: acct},
		{name: "revoke permissions", action: "RevokeSecurityGroup", params: sdk(rpc.Params{"SecurityGroupId": "sg-1",
			"Permissions.1.IpProtocol": "TCP", "Permissions.1.PortRange": "22/22", "Permissions.2.SourceGroupId": "sg-peer"}),
			body: `{"RequestId":"REQ"}`, account: acct},
		{name: "create", action: "CreateSecurityGroup", params: sdk(rpc.Params{"VpcId": "vpc-1", "Description": "web"}),
			body: `{"RequestId":"REQ","SecurityGroupId":"sg-new"}`, account: acct},
		{name: "answer of other shapes", action: "ModifySecurityGroupPolicy", params: sdk(rpc.Params{"SecurityGroupId": "sg-1"}),
			body:    " {\"RequestId\" : \"REQ\", \"Success\":true, \"Failed\":false, \"Count\":-1.5e3, \"Nil\":null, \"Obj\":{\"SecurityGroupId\":\"sg-x\"}, \"List\":[1], \"Esc\":\"a\\\"b\\u00e9\\u2028<>&\"}\n",
			account: acct},
		{name: "answer with another request id", action: "DeleteSecurityGroup", params: sdk(rpc.Params{"SecurityGroupId": "sg-1"}),
			body: `{"RequestId":"OTHER"}`, account: acct},
		{name: "answer not JSON", action: "DeleteSecurityGroup", params: sdk(rpc.Params{"SecurityGroupId": "sg-1"}),
			body: `<DeleteSecurityGroupResponse><RequestId>REQ</RequestId></DeleteSecurityGroupResponse>`, account: acct},
		{name: "answer null", action: "DeleteSecurityGroup", params: sdk(rpc.Params{"SecurityGroupId": "sg-1"}), body: `null`, account: acct},
		{name: "answer empty", action: "DeleteSecurityGroup", params: sdk(rpc.Params{"SecurityGroupId": "sg-1"}), body: ``, account: acct},
		{name: "run instances", action: "RunInstances", params: sdk(rpc.Params{"SecurityGroupIds.1": "sg-1", "SecurityGroupIds.2": "sg-2", "VSwitchId": "vsw-1"}),
			body: `{"RequestId":"REQ","InstanceIdSets":{"InstanceIdSet":["i-1","i-2","i-1","bad,id"]}}`, account: acct},
		{name: "tag", action: "TagResources", params: sdk(rpc.Params{"ResourceType": "SecurityGroup", "ResourceId.1": "sg-1", "ResourceId.2": "sg-2",
			"Tag.1.Key": "env", "Tag.1.Value": "prod"}), body: `{"RequestId":"REQ"}`, account: acct},
		{name: "untag instance", action: "UntagResources", params: sdk(rpc.Params{"ResourceType": "instance", "ResourceId.1": "i-9", "TagKey.1": "env"}),
			body: `{"RequestId":"REQ"}`, account: acct},
		{name: "tag unknown type", action: "TagResources", params: sdk(rpc.Params{"ResourceType": "disk", "ResourceId.1": "d-1"}),
			body: `{"RequestId":"REQ"}`, account: acct},
		{name: "secrets", action: "PalisadeCreateAccessKey", params: sdk(rpc.Params{"AccessKeySecret": "hunter2", "Password": "pw", "NewPassword": "pw2",
			"Permissions.1.ClientSecret": "cs", "SecurityToken": "tok", "signature": "lower", "SignatureNonce": "n"}),
			body: `{"RequestId":"REQ","AccessKeySecret":"returned"}`, account: acct},
		{name: "refused, unsigned", action: "AuthorizeSecurityGroup", params: rpc.Params{"SecurityGroupId": "sg-1", "Signature": "forged"},
			code: "IncompleteSignature", body: `{"RequestId":"REQ","Code":"IncompleteSignature","Message":"m"}`},
		{name: "refused, not found", action: "AuthorizeSecurityGroup", params: sdk(rpc.Params{"SecurityGroupId": "sg-missing"}),
			code: "InvalidSecurityGroupId.NotFound", body: `{"RequestId":"REQ","Code":"InvalidSecurityGroupId.NotFound"}`, account: acct},
		{name: "refused read", action: "DescribeSecurityGroups", params: sdk(nil), code: "Throttling.User", body: `{}`, account: acct},
		{name: "params unreadable", action: "", params: nil, code: "InvalidParameter", body: `{}`, remote: "[2001:db8::1]:443"},
		{name: "vpc", action: "CreatePrefixList", version: "2016-04-28", product: "Vpc", params: sdk(rpc.Params{"Version": "2016-04-28",
			"PrefixListName": "pl"}), body: `{"RequestId":"REQ","PrefixListId":"pl-1"}`, account: acct},
		{name: "unknown version", action: "PalisadeBindInstance", version: "2099-01-01", product: "Palisade", params: sdk(rpc.Params{"InstanceId": "i-1",
			"SecurityGroupId": "sg-1", "NetworkInterfaceId": "eni-1"}), body: `{"RequestId":"REQ"}`, account: acct, remote: "192.0.2.9"},
		{name: "hostile strings", action: "ModifySecurityGroupAttribute", params: sdk(rpc.Params{"SecurityGroupId": "sg-1",
			"Description": "quote \" back \\ ctl \x00\x01\x1f\t\n html <b>&amp; sep \u2028\u2029 del \x7f 中 😀",
			"Name<&>\"":   "v", "SecurityGroupName": "a;b,c"}),
			body: `{"RequestId":"REQ"}`, account: acct, agent: "agent \"x\" <y> \xff"},
		{name: "invalid utf-8", action: "ModifySecurityGroupAttribute\xff", params: sdk(rpc.Params{"SecurityGroupId": "sg-\xff",
			"Description": "bad \xff\xfe utf8 \xc3", "Bad\xffName": "x", "RegionId": "cn-\xc3"}),
			code: "InvalidParameter", body: `{}`, account: acct},
		{name: "over-long", action: "ModifySecurityGroupAttribute", params: sdk(rpc.Params{"SecurityGroupId": strings.Repeat("s", maxIDBytes+1),
			"Description": long, "Description2": strings.Repeat("x", 5000), strings.Repeat("N", maxValueBytes+5) + "a": "1",
			strings.Repeat("N", maxValueBytes+5) + "b": "2"}), body: `{"RequestId":"REQ","Long":"` + strings.Repeat("y", 3000) + `"}`, account: acct,
			agent: strings.Repeat("u", 2000)},
		{name: "many", action: "TagResources", params: many, body: `{"RequestId":"REQ"}`, account: acct},
		{name: "big", action: "CreateSecurityGroup", params: big, body: `{"RequestId":"REQ"}`, account: acct},
		{name: "two types", action: "CreateSecurityGroup", params: sdk(rpc.Params{"VpcId": "vpc-1", "SecurityGroupIds.1": "sg-a", "SecurityGroupId": "sg-a"}),
			body: `{"SecurityGroupId":"sg-b","RequestId":"REQ","VpcId":"vpc-1"}`, account: acct},
		{name: "local time", action: "DeleteSecurityGroup", params: sdk(rpc.Params{"SecurityGroupId": "sg-1"}), body: `{"RequestId":"REQ"}`, account: acct,
			start: time.Date(2026, 12, 5, 18, 30, 1, 999999999, time.FixedZone("CST", 8*3600))},
	}
}

// goldenEvent is the event of gc, with its request and event IDs fixed
// (they are random) and its time i seconds after the first.
func goldenEvent(i int, gc goldenCall) Event {
	if gc.version == "" {
		gc.version, gc.product = "2014-05-26", "Ecs"
	}
	if gc.remote == "" {
		gc.remote = "192.0.2.7:51000"
	}
	if gc.agent == "" {
		gc.agent = "AlibabaCloud (linux; amd64) Golang/1.26 Core/0.0.1 TeaDSL/1"
	}
	start := gc.start
	if start.IsZero() {
		start = time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC).Add(time.Duration(i) * time.Second)
	}
	reqID := fmt.Sprintf("REQ-%02d", i)
	status := 200
	if gc.code != "" {
		status = 400
	}
	c := &rpc.Call{
		Request: &rpc.Request{Action: gc.action, Version: gc.version, Product: gc.product, Params: gc.params,
			AccessKeyID: gc.params["AccessKeyId"], RequestID: reqID, Host: "ecs.example"},
		Method: "POST", Start: start, Status: status, Code: gc.code, Message: "the message of " + gc.code,
		Body: []byte(strings.ReplaceAll(gc.body, `"REQ"`, `"`+reqID+`"`)), RemoteAddr: gc.remote, UserAgent: gc.agent,
	}
	if gc.account == "" {
		c.Request.AccessKeyID = ""
	}
	ev := EventOf(c, gc.account)
	ev.EventID = fmt.Sprintf("EV-%02d", i)
	return ev
}

// TestGolden pins what the trail makes of a table of calls: each event
// as LookupEvents and the webhook encode it (and its resources and time),
// each row as stored, and each event as LookupEvents reads it back. A
// change to any field, or to how it is stored, fails here; run with
// -update only for a change meant to be seen by clients or in the file.
func TestGolden(t *testing.T) {
	var out bytes.Buffer
	tr := openTrail(t, Options{Now: func() time.Time { return time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC) }})
	calls := goldenCalls()
	for i, gc := range calls {
		ev := goldenEvent(i, gc)
		j, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "== %s\nevent %s\nresources %q time %s\n", gc.name, j, ev.Resources, ev.Time.Format(time.RFC3339Nano))
		if !tr.Record(ev) {
			t.Fatal("dropped")
		}
	}
	ctx := context.Background()
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := tr.st.db.QueryContext(ctx, `SELECT seq, time, account, key_id, action, rw, service, event_id, resources, types, data, packed FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	out.WriteString("== rows\n")
	for rows.Next() {
		var (
			seq, tm                                                            int64
			account, key, action, rw, service, eventID, res, typ, data, packed string
		)
		if err := rows.Scan(&seq, &tm, &account, &key, &action, &rw, &service, &eventID, &res, &typ, &data, &packed); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%d %d %q %q %q %q %q %q %q %q %s\n%s\n", seq, tm, account, key, action, rw, service, eventID, res, typ, packed, data)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	q := all(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	q.Forward = true
	evs, _, err := tr.Find(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(calls) {
		t.Fatalf("%d events read back, %d recorded", len(evs), len(calls))
	}
	out.WriteString("== read back\n")
	for _, ev := range evs {
		j, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s\n", j)
	}
	path := filepath.Join("testdata", "events.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Bytes(); !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("line %d differs from %s:\n got %.400s\nwant %.400s", i+1, path, g, w)
			}
		}
	}
}
