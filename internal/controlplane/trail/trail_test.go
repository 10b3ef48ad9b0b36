package trail

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

func TestSecretParameters(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret bool
	}{
		{"Signature", true},
		{"AccessKeySecret", true},
		{"Password", true},
		{"NewPassword", true},
		{"Permissions.1.ClientSecret", true},
		{"SecurityToken", true},
		{"UserData", true},
		{"userdata", true},
		{"UserDataInherit", false},
		{"PrivateKeyBody", true}, // CreateKeyPair's answer
		{"privatekeybody", true},
		{"PublicKeyBody", false},
		{"KeyPairName", false},
		{"accesskeysecret", true},
		{"SignatureNonce", false}, // not a secret; kept so a replay can be traced
		{"AccessKeyId", false},
		{"SecurityGroupId", false},
		{"ClientToken", false},
		{"Description", false},
	} {
		if got := Secret(tc.name); got != tc.secret {
			t.Errorf("Secret(%q) = %v, want %v", tc.name, got, tc.secret)
		}
	}
}

// call is a finished request as the rpc server reports it.
func call(action string, params rpc.Params, code string, body string) *rpc.Call {
	params["Action"] = action
	status := 200
	if code != "" {
		status = 403
	}
	return &rpc.Call{
		Request: &rpc.Request{Action: action, Version: "2014-05-26", Product: "Ecs", Params: params,
			AccessKeyID: params["AccessKeyId"], RequestID: rpc.NewRequestID(), Host: "ecs.example"},
		Method: "POST", Start: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), Status: status, Code: code,
		Message: "msg", Body: []byte(body), RemoteAddr: "192.0.2.7:51000", UserAgent: "sdk",
	}
}

func TestEventOf(t *testing.T) {
	c := call("AuthorizeSecurityGroup", rpc.Params{"AccessKeyId": "LTAIkey", "Signature": "c2lnbmF0dXJl", "RegionId": "cn-hangzhou",
		"SecurityGroupId": "sg-1", "Permissions.1.IpProtocol": "TCP", "AccessKeySecret": "hunter2", "Password": "pw"},
		"", `{"RequestId":"R","Success":true}`)
	ev := EventOf(c, "1000000000000001")
	raw, _ := json.Marshal(ev)
	for _, secret := range []string{"c2lnbmF0dXJl", "hunter2", `"pw"`} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the event keeps the secret %s: %s", secret, raw)
		}
	}
	for k, want := range map[string]string{"eventName": "AuthorizeSecurityGroup", "eventRW": "Write", "errorCode": "",
		"sourceIpAddress": "192.0.2.7", "resourceName": "sg-1", "resourceType": "ACS::ECS::SecurityGroup",
		"eventTime": "2026-12-05T10:00:00Z", "acsRegion": "cn-hangzhou", "serviceName": "Ecs", "apiVersion": "2014-05-26"} {
		var m map[string]any
		json.Unmarshal(raw, &m)
		if m[k] != want {
			t.Errorf("%s = %v, want %q", k, m[k], want)
		}
	}
	if ev.UserIdentity.AccountID != "1000000000000001" || ev.UserIdentity.AccessKeyID != "LTAIkey" {
		t.Errorf("userIdentity = %+v", ev.UserIdentity)
	}
	if ev.RequestParameters.Get("Permissions.1.IpProtocol") != "TCP" || ev.RequestParameters.Get("Signature") != Redacted {
		t.Errorf("requestParameters = %v", ev.RequestParameters)
	}
	if ev.ResponseElements["Success"] != true {
		t.Errorf("responseElements = %v", ev.ResponseElements)
	}

	// The resources a call names, of their types.
	for _, tc := range []struct {
		params rpc.Params
		want   []Resource
	}{
		{rpc.Params{"AllocationId": "eip-1", "InstanceId": "i-1"}, []Resource{{"ACS::VPC::EIP", "eip-1"}, {"ACS::ECS::Instance", "i-1"}}},
		{rpc.Params{"AllocationId": "eip-1", "InstanceId": "eni-1", "InstanceType": "NetworkInterface"},
			[]Resource{{"ACS::VPC::EIP", "eip-1"}, {"ACS::ECS::NetworkInterface", "eni-1"}}},
	} {
		if got := EventOf(call("AssociateEipAddress", tc.params, "", "{}"), "").Resources; !slices.Equal(got, tc.want) {
			t.Errorf("AssociateEipAddress %v: resources %v, want %v", tc.params, got, tc.want)
		}
	}

	// What is recorded: writes, and refused calls of any kind.
	for _, tc := range []struct {
		action, code string
		want         bool
	}{
		{"AuthorizeSecurityGroup", "", true},
		{"AuthorizeSecurityGroup", "InvalidSecurityGroupId.NotFound", true},
		{"DescribeSecurityGroups", "", false},
		{"DescribeSecurityGroups", "IncompleteSignature", true},
		{"PalisadeReportHostStatus", "", false},
		{"PalisadeBindInstance", "", true},
		{"LookupEvents", "", false},
	} {
		if got := Wanted(call(tc.action, rpc.Params{}, tc.code, "{}")); got != tc.want {
			t.Errorf("Wanted(%s, %q) = %v, want %v", tc.action, tc.code, got, tc.want)
		}
	}

	// A hostile request is bounded.
	big := rpc.Params{"Description": strings.Repeat("x", 1<<20)}
	for i := range 1000 {
		big[fmt.Sprintf("Tag.%d.Key", i)] = "k"
	}
	ev = EventOf(call("CreateSecurityGroup", big, "", "{}"), "")
	if raw, _ := json.Marshal(ev); len(raw) > 12<<10 || ev.RequestParameters.Get("…") == "" {
		t.Errorf("an event of a hostile request takes %d bytes", len(raw))
	}
}

func openTrail(t *testing.T, opt Options) *Trail {
	t.Helper()
	tr, err := Open(filepath.Join(t.TempDir(), "db.events"), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// record writes n events of account, one a second from start.
func record(t *testing.T, tr *Trail, account, action string, start time.Time, n int) {
	t.Helper()
	for i := range n {
		c := call(action, rpc.Params{"SecurityGroupId": fmt.Sprintf("sg-%d", i)}, "", "{}")
		c.Start = start.Add(time.Duration(i) * time.Second)
		if !tr.Record(EventOf(c, account)) {
			t.Fatal("Record dropped an event with room in the queue")
		}
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func all(from, to time.Time) Query { return Query{All: true, Start: from, End: to, Max: 1000} }

func TestRetention(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	t.Run("count", func(t *testing.T) {
		tr := openTrail(t, Options{MaxEvents: 10})
		record(t, tr, "a", "CreateSecurityGroup", now, 25)
		evs, _, err := tr.Find(ctx, all(now.Add(-time.Hour), now.Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 10 || evs[0].Time != now.Add(24*time.Second) || evs[9].Time != now.Add(15*time.Second) {
			t.Fatalf("kept %d events, newest %v, oldest %v; want the newest 10", len(evs), evs[0].Time, evs[len(evs)-1].Time)
		}
	})
	t.Run("fair", func(t *testing.T) {
		// Over MaxEvents, the account holding the most loses its oldest:
		// b's few (and older) events outlive a's flood.
		tr := openTrail(t, Options{MaxEvents: 20})
		record(t, tr, "b", "CreateSecurityGroup", now, 8)
		record(t, tr, "a", "AuthorizeSecurityGroup", now.Add(time.Minute), 30)
		evs, _, err := tr.Find(ctx, all(now.Add(-time.Hour), now.Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]int{}
		for _, ev := range evs {
			held[ev.RecipientAccountID]++
		}
		// To 95% of 20 (19): a cut to 11, its newest; b keeps its 8.
		if len(evs) != 19 || held["b"] != 8 || held["a"] != 11 || evs[0].Time != now.Add(time.Minute+29*time.Second) {
			t.Fatalf("kept %v (%d events, newest %v); want b's 8 and a's newest 11", held, len(evs), evs[0].Time)
		}
	})
	t.Run("age", func(t *testing.T) {
		tr := openTrail(t, Options{MaxAge: time.Hour, Now: func() time.Time { return now }})
		record(t, tr, "a", "CreateSecurityGroup", now.Add(-3*time.Hour), 3) // too old
		record(t, tr, "a", "DeleteSecurityGroup", now.Add(-time.Minute), 2)
		tr.prune(ctx, 0)
		evs, _, err := tr.Find(ctx, all(now.Add(-24*time.Hour), now))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].EventName != "DeleteSecurityGroup" {
			t.Fatalf("kept %d events (%v); want the 2 younger than an hour", len(evs), evs)
		}
	})
}

func TestDropsWhenFull(t *testing.T) {
	tr := openTrail(t, Options{Queue: 1})
	// Fill faster than the writer drains: some must be dropped, never wait.
	for range 10_000 {
		tr.Record(EventOf(call("CreateSecurityGroup", rpc.Params{}, "", "{}"), "a"))
	}
	tr.Flush(context.Background())
	s := tr.Stats()
	if s.Dropped == 0 || s.Recorded+s.Dropped != 10_000 {
		t.Fatalf("stats %+v: want drops counted, and recorded+dropped = 10000", s)
	}
}

func TestLookupQuery(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tr := openTrail(t, Options{Now: func() time.Time { return now.Add(time.Hour) }})
	record(t, tr, "a", "CreateSecurityGroup", now, 5)
	record(t, tr, "b", "AuthorizeSecurityGroup", now, 5)
	record(t, tr, "", "DescribeSecurityGroups", now, 2) // signatures that did not verify: no account, no user
	ctx := context.Background()
	find := func(params rpc.Params, account string, operator bool) ([]Event, string) {
		t.Helper()
		q, err := parseLookup(params, tr.now(), MaxMaxResults)
		if err != nil {
			t.Fatalf("parseLookup(%v): %v", params, err)
		}
		q.Account, q.All = account, operator
		evs, next, err := tr.Find(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		tok := ""
		if next != nil {
			tok = encodeToken(*next)
		}
		return evs, tok
	}
	for _, tc := range []struct {
		name     string
		params   rpc.Params
		account  string
		operator bool
		want     int
	}{
		{"own only", rpc.Params{}, "a", false, 5},
		{"operator sees all", rpc.Params{}, "", true, 12},
		{"no account sees nothing", rpc.Params{}, "c", false, 0},
		{"by name", rpc.Params{"LookupAttribute.1.Key": "EventName", "LookupAttribute.1.Value": "AuthorizeSecurityGroup"}, "", true, 5},
		{"by name, another tenant's", rpc.Params{"LookupAttribute.1.Key": "EventName", "LookupAttribute.1.Value": "AuthorizeSecurityGroup"}, "a", false, 0},
		{"by resource", rpc.Params{"LookupAttribute.1.Key": "ResourceName", "LookupAttribute.1.Value": "sg-3"}, "", true, 2},
		{"by resource, not a prefix", rpc.Params{"LookupAttribute.1.Key": "ResourceName", "LookupAttribute.1.Value": "sg-"}, "", true, 0},
		{"by type and name", rpc.Params{"LookupAttribute.1.Key": "ResourceType", "LookupAttribute.1.Value": "ACS::ECS::SecurityGroup",
			"LookupAttribute.2.Key": "ResourceName", "LookupAttribute.2.Value": "sg-3"}, "b", false, 1},
		{"window", rpc.Params{"StartTime": "2026-12-05T12:00:01Z", "EndTime": "2026-12-05T12:00:02Z"}, "a", false, 2},
		{"read events", rpc.Params{"LookupAttribute.1.Key": "EventRW", "LookupAttribute.1.Value": "Read"}, "", true, 2},
		// User is the user name, "root" in every account's events; an
		// account ID matches too.
		{"by user root", rpc.Params{"LookupAttribute.1.Key": "User", "LookupAttribute.1.Value": "root"}, "", true, 10},
		{"by user root, own", rpc.Params{"LookupAttribute.1.Key": "User", "LookupAttribute.1.Value": "root"}, "a", false, 5},
		{"by account ID", rpc.Params{"LookupAttribute.1.Key": "User", "LookupAttribute.1.Value": "b"}, "", true, 5},
		{"by another user", rpc.Params{"LookupAttribute.1.Key": "User", "LookupAttribute.1.Value": "alice"}, "", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, _ := find(tc.params, tc.account, tc.operator)
			if len(evs) != tc.want {
				t.Errorf("%d events, want %d", len(evs), tc.want)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		for _, dir := range []string{"BACKWARD", "FORWARD"} {
			var got []time.Time
			tok := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("paging does not end")
				}
				evs, next := find(rpc.Params{"MaxResults": "2", "NextToken": tok, "Direction": dir}, "a", false)
				for _, ev := range evs {
					got = append(got, ev.Time)
				}
				if tok = next; tok == "" {
					break
				}
			}
			if len(got) != 5 {
				t.Fatalf("%s: %d events over the pages, want 5", dir, len(got))
			}
			for i := 1; i < len(got); i++ {
				if dir == "BACKWARD" && !got[i].Before(got[i-1]) || dir == "FORWARD" && !got[i].After(got[i-1]) {
					t.Fatalf("%s: out of order: %v", dir, got)
				}
			}
		}
	})

	for _, bad := range []rpc.Params{
		{"StartTime": "yesterday"},
		{"StartTime": "2026-12-05T13:00:00Z", "EndTime": "2026-12-05T12:00:00Z"},
		{"MaxResults": "51"},
		{"MaxResults": "0"},
		{"LookupAttribute.1.Key": "Password", "LookupAttribute.1.Value": "x"},
		{"LookupAttribute.1.Key": "EventName"},
		{"LookupAttribute.1.Key": "EventName", "LookupAttribute.1.Value": "a", "LookupAttribute.2.Key": "EventRW", "LookupAttribute.2.Value": "Write",
			"LookupAttribute.3.Key": "User", "LookupAttribute.3.Value": "a"},
		{"NextToken": "not-a-token"},
		{"Direction": "SIDEWAYS"},
	} {
		if _, err := parseLookup(bad, now, MaxMaxResults); err == nil {
			t.Errorf("parseLookup(%v) accepted it", bad)
		}
	}
}

// responseElements keeps what a json.Decoder into map[string]any (with
// UseNumber) keeps: the scalar top-level fields, strings clipped.
func TestResponseElements(t *testing.T) {
	long := strings.Repeat("x", 3000)
	for _, body := range []string{
		`{"RequestId":"r-1"}`,
		`{"RequestId":"r-1","SecurityGroupId":"sg-1","Success":true,"Failed":false,"Count":12,"Neg":-3.5e2}` + "\n",
		`{"Esc":"a\"b\\u00e9\u2028<>&","Nil":null,"Obj":{"A":"b"},"List":[1,2],"Empty":""}`,
		`{"Long":"` + long + `"}`,
		` { "Spaced" : 1 } `,
		`<Response><RequestId>r-1</RequestId></Response>`,
		`[]`, `"s"`, ``, `{`, `{}`, `null`, ` true `, `1`,
		`{"A":"x","A":{"B":1}}`, `{"A":{"B":1},"A":"y"}`, `{"A":1,"A":null}`,
		`{"O":{"S":"}]\"{[","L":[{"x":[]}]},"After":"z","N":0}`,
		`{"K\u0041y":"v","\u00e9":"\ud83d\ude00","Bad":"\xff\xfe"}`,
		"{\"Bad\":\"\xff\"}", "{\"Ctl\":\"a\u0001\"}",
		"{\n\t\"A\" :\r\n \"b\" ,\n \"C\":-0.5E+3\n}",
		`{"A":1,}`, `{"A":01}`, `{"A":[1,}`,
		// The answer of most writes, read without the whole reading.
		`{"RequestId":"4F5E6D7C-1234-5678-9ABC-DEF012345678"}`, `{"RequestId":""}`, `{"RequestId":"a\"}`, `{"RequestId":"a\"b"}`,
		`{"RequestId":"é"}`, "{\"RequestId\":\"a\x01\"}", `{"RequestId":"a\u0041"}`, `{"RequestId":"` + long[:maxValueBytes] + `"}`,
		`{"RequestId":"` + long[:maxValueBytes+1] + `"}`, `{"RequestId":"x"} `, `{"RequestId":"x","A":1}`, `{"RequestId":"}`, `{"RequestId":"a"}"}`,
		"{\"RequestId\":\"x\"}\n", "{\"RequestId\":\"x\"}\n\n", "{\"RequestId\":\"a\\\"}\n", "{\"RequestId\":\"a\"}\"}\n", "{\"RequestId\":\"x\"} \n",
	} {
		if got, want := responseElements([]byte(body)), responseElementsRef([]byte(body)); !reflect.DeepEqual(got, want) {
			t.Errorf("%.60s: got %v, want %v", body, got, want)
		}
	}
}

// TestOnlyRequestIDAsServed: the answer of most writes, as the server's
// encoder writes it (with a newline), is read without the whole reading.
func TestOnlyRequestIDAsServed(t *testing.T) {
	for _, body := range []string{`{"RequestId":"4F5E6D7C-1234-5678-9ABC-DEF012345678"}`, "{\"RequestId\":\"4F5E6D7C-1234-5678-9ABC-DEF012345678\"}\n"} {
		if id, ok := onlyRequestID([]byte(body)); !ok || id != "4F5E6D7C-1234-5678-9ABC-DEF012345678" {
			t.Errorf("onlyRequestID(%q) = %q, %v; want the ID, true", body, id, ok)
		}
	}
}

// sortedParams sorts as sorting the names does: names that share their
// first eight bytes, shorter than eight, with NUL or bytes past ASCII.
func TestSortedParams(t *testing.T) {
	names := []string{"SignatureVersion", "SignatureNonce", "Signature", "SignatureMethod", "Sig", "Sig\x00", "Sig\x00\x00", "",
		"S", "\xff", "\xff\xff", "é", "あ", "SecurityGroupId", "SecurityGroupIds.1", "SecurityGroupIds.10", "SecurityGroupIds.2",
		"a", "A", "AccessKeyId", "Action", "Z", "_", "~", "Tag.1.Key", "Tag.1.Value", "Tag.10.Key"}
	for _, n := range []int{0, 1, 2, 5, len(names), 32} {
		p := rpc.Params{}
		for i := range n {
			name := fmt.Sprint("x", i)
			if i < len(names) {
				name = names[i]
			}
			p[name] = "v" + name
		}
		for _, extra := range []int{0, 40} { // the general sort past 32
			for i := range extra {
				p[fmt.Sprint("Extra.", i)] = "e"
			}
			got := sortedParams(p)
			if want := ParamsOf(p); !reflect.DeepEqual(got, want) {
				t.Errorf("%d names:\n got %q\nwant %q", len(p), got, want)
			}
		}
	}
}

// resourceType and derivedByName are their tables' lookups.
func TestLookupTables(t *testing.T) {
	for k, v := range resourceParams {
		if got := resourceType(k); got != v {
			t.Errorf("resourceType(%q) = %q, want %q", k, got, v)
		}
	}
	for i, d := range derivedParams {
		if got := derivedByName(d.name); got != i {
			t.Errorf("derivedByName(%q) = %d, want %d", d.name, got, i)
		}
	}
	for _, k := range []string{"", "ResourceId", "securitygroupid", "SecurityGroupId.1", "SourceGroupId", "Actions"} {
		if resourceType(k) != "" || derivedByName(k) != -1 {
			t.Errorf("%q is found", k)
		}
	}
}

// responseElementsRef is responseElements through encoding/json.
func responseElementsRef(body []byte) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if !json.Valid(body) || dec.Decode(&m) != nil {
		return nil
	}
	want := map[string]any{}
	for k, v := range m {
		switch v.(type) {
		case string, json.Number, bool:
			if Secret(k) {
				want[k] = Redacted
				continue
			}
		}
		switch v := v.(type) {
		case string:
			want[k] = clip(v)
		case json.Number, bool:
			want[k] = v
		}
	}
	return want
}

// The hand-written reader of answers agrees with encoding/json on any body.
func FuzzResponseElements(f *testing.F) {
	for _, b := range []string{`{"RequestId":"r-1","N":1,"B":true}`, `{"A":{"B":[1,"}"]},"A":"x"}`, `null`, `{"\u00e9":"\ud83d"}`, `[1]`} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := responseElements(body), responseElementsRef(body); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %v, want %v", body, got, want)
		}
	})
}

// A batch written several events to a statement keeps every event, each
// with its own fields, in order.
func TestBatchWritesEveryEvent(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{1, rowsPerInsert - 1, rowsPerInsert, 2*rowsPerInsert + 5} {
		tr := openTrail(t, Options{Now: func() time.Time { return now.Add(time.Hour) }})
		record(t, tr, "a", "CreateSecurityGroup", now, n)
		evs, _, err := tr.Find(context.Background(), all(now.Add(-time.Hour), now.Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != n {
			t.Fatalf("%d events recorded, %d found", n, len(evs))
		}
		for i, ev := range evs { // newest first
			k := n - 1 - i
			if want := fmt.Sprintf("sg-%d", k); ev.ResourceName != want || !ev.Time.Equal(now.Add(time.Duration(k)*time.Second)) {
				t.Errorf("batch of %d: event %d is %s at %v, want %s at +%ds", n, i, ev.ResourceName, ev.Time, want, k)
			}
		}
		if s := tr.Stats(); s.Recorded != uint64(n) || s.Failed != 0 {
			t.Errorf("batch of %d: stats %+v", n, s)
		}
	}
}

// Secret agrees with the plain reading of its rule (lower-case the last
// part of the name, look for the words) on names of every shape.
func TestSecretAsLowered(t *testing.T) {
	ref := func(name string) bool {
		n := strings.ToLower(name[strings.LastIndexByte(name, '.')+1:])
		return n == "signature" || n == "securitytoken" || strings.Contains(n, "secret") || strings.Contains(n, "password")
	}
	for _, name := range []string{"", "S", "P", "Secre", "Passwor", "SECRET", "xPaSsWoRd", "Signatures", "SIGNATURE", "Foo.1.SIGNATURE",
		"Foo.Password.Bar", "Password.", "ssecret", "ppassword", "SecurityTokens", "securitytoken", "Security.Token", "sEcReTkEy",
		"AccessKeySecret", "SignatureNonce", "Tag.1.Key", "é.secret", "secret\xff", "pass\x00word", "Spassword", "Ssignature"} {
		if got, want := Secret(name), ref(name); got != want {
			t.Errorf("Secret(%q) = %v, want %v", name, got, want)
		}
	}
}

// Event IDs are random version-4 UUIDs in upper case, as request IDs.
func TestEventIDs(t *testing.T) {
	form := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := EventOf(call("AuthorizeSecurityGroup", rpc.Params{}, "", `{}`), "1").EventID
		if !form.MatchString(id) || seen[id] {
			t.Fatalf("event ID %q: not a UUID, or seen before", id)
		}
		seen[id] = true
	}
}

// additionalEventData is the call's status and method, whether its map
// is shared with other events or made for it.
func TestAdditionalData(t *testing.T) {
	for _, tc := range []struct {
		status int
		method string
	}{{200, "POST"}, {200, "POST"}, {403, "GET"}, {200, "PUT"}, {99, "POST"}, {600, "GET"}, {500, "post"}, {200, ""}} {
		want := map[string]any{"HttpStatus": tc.status, "HttpMethod": tc.method}
		if got := additionalData(tc.status, tc.method); !reflect.DeepEqual(got, want) {
			t.Errorf("additionalData(%d, %q) = %v, want %v", tc.status, tc.method, got, want)
		}
	}
}

func TestFairLevel(t *testing.T) {
	tests := []struct {
		counts []int64
		target int64
		want   int64
	}{
		{[]int64{8, 30}, 19, 11},
		{[]int64{8, 30}, 38, 30},     // all fit
		{[]int64{10, 10, 10}, 15, 5}, // equal shares
		{[]int64{1, 100}, 50, 49},
		{[]int64{5}, 0, 0},
		{nil, 10, 0},
	}
	for _, tt := range tests {
		var cs []accountCount
		for i, n := range tt.counts {
			cs = append(cs, accountCount{fmt.Sprint(i), n})
		}
		if got := fairLevel(cs, tt.target); got != tt.want {
			t.Errorf("fairLevel(%v, %d) = %d, want %d", tt.counts, tt.target, got, tt.want)
		}
	}
}

// TestSignatureRefusalKeepsNoSecrets: a refused signature's message echoes
// the string to sign, every parameter in it; the trail keeps the message
// without that echo, so a masked parameter (user data, a password) does
// not come back through it.
func TestSignatureRefusalKeepsNoSecrets(t *testing.T) {
	c := call("RunInstances", rpc.Params{"AccessKeyId": "LTAIkey", "UserData": "IyEvYmluL3No", "Password": "hunter2"}, "SignatureDoesNotMatch", "")
	c.Message = "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DLTAIkey%26Password%3Dhunter2%26UserData%3DIyEvYmluL3No"
	ev := EventOf(c, "")
	raw, _ := json.Marshal(ev)
	for _, secret := range []string{"IyEvYmluL3No", "hunter2"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the event keeps %q: %s", secret, raw)
		}
	}
	if !strings.HasPrefix(ev.ErrorMessage, "Specified signature is not matched") {
		t.Errorf("ErrorMessage = %q, want the refusal's words", ev.ErrorMessage)
	}
}

// TestFindFarTimes: a query's bounds far in the past or future (ECS times
// parse from year 0001 to 9999) still include every event between them;
// in nanoseconds they do not fit 64 bits, and wrapped around they had a
// query from 0001 to 9999 find nothing.
func TestFindFarTimes(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	tr := openTrail(t, Options{})
	record(t, tr, "a", "CreateSecurityGroup", now, 3)
	year := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		from, to time.Time
		want     int
	}{
		{now.Add(-time.Hour), now.Add(time.Hour), 3},
		{year(1), year(9999), 3},
		{year(1600), year(2300), 3},
		{year(1), now.Add(time.Hour), 3},
		{now.Add(-time.Hour), year(9999), 3},
		{year(1), year(1000), 0},
		{year(3000), year(9999), 0},
	} {
		evs, _, err := tr.Find(context.Background(), all(tc.from, tc.to))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != tc.want {
			t.Errorf("%v to %v: %d events, want %d", tc.from, tc.to, len(evs), tc.want)
		}
	}
}

// TestAnswerKeepsNoSecrets: a call whose answer carries a new key's
// secret at its top level (an account's, a host's) is kept without it;
// the trail had it for the operator to read back long after, and in its
// file, where the key was to be shown once.
func TestAnswerKeepsNoSecrets(t *testing.T) {
	const secret = "J8QL0YI4B9yMGkv9hgHpI0GOctnYsC"
	for _, tc := range []struct {
		action, body string
		kept         []string // response elements the event must keep
	}{
		{"PalisadeCreateAccount", `{"RequestId":"r-1","AccountId":"8006387328523784","AccountName":"teamb","AccessKeyId":"LTAIx","AccessKeySecret":"` + secret + `"}`, []string{"AccountId", "AccessKeyId"}},
		{"PalisadeRegisterHost", `{"RequestId":"r-1","HostName":"h1","AccessKeyId":"LTAIx","AccessKeySecret":"` + secret + `"}`, []string{"HostName", "AccessKeyId"}},
		{"CreateAccessKey", `{"RequestId":"r-1","AccessKey":{"AccessKeyId":"LTAIx","AccessKeySecret":"` + secret + `"}}`, nil},
		{"Other", `{"RequestId":"r-1","ClientSecret":"` + secret + `","password":"` + secret + `"}`, nil},
		{"CreateKeyPair", `{"RequestId":"r-1","KeyPairId":"skp-1","KeyPairName":"k1","KeyPairFingerPrint":"ab:cd","PrivateKeyBody":"-----BEGIN RSA PRIVATE KEY-----\n` + secret + `\n-----END RSA PRIVATE KEY-----\n"}`, []string{"KeyPairName", "KeyPairFingerPrint"}},
	} {
		t.Run(tc.action, func(t *testing.T) {
			ev := EventOf(call(tc.action, rpc.Params{"AccessKeyId": "opkey"}, "", tc.body), "")
			for name, b := range map[string]func() ([]byte, error){
				"event": func() ([]byte, error) { return json.Marshal(ev) },
				"file":  func() ([]byte, error) { return appendEvent(nil, &ev) },
			} {
				raw, err := b()
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(raw), secret) {
					t.Errorf("the %s keeps the secret: %s", name, raw)
				}
			}
			for _, k := range tc.kept {
				if ev.ResponseElements[k] == nil || ev.ResponseElements[k] == Redacted {
					t.Errorf("response element %s = %v, want it kept", k, ev.ResponseElements[k])
				}
			}
		})
	}
}

// TestWanted: every write and every refused call is recorded, a read that
// succeeds is not; the operator's listings (PalisadeListAccounts,
// PalisadeListHosts) were recorded as writes.
func TestWanted(t *testing.T) {
	for _, tt := range []struct {
		action, code string
		want         bool
	}{
		{"DescribeSecurityGroups", "", false},
		{"ListAccessKeys", "", false},
		{"PalisadeListAccounts", "", false},
		{"PalisadeListHosts", "", false},
		{"PalisadeDescribeRuleCounters", "", false},
		{"PalisadeReportHostStatus", "", false},
		{"PalisadeListHosts", "Forbidden.Operator", true},
		{"PalisadeCreateAccount", "", true},
		{"PalisadeRegisterHost", "", true},
		{"AuthorizeSecurityGroup", "", true},
	} {
		c := &rpc.Call{Request: &rpc.Request{Action: tt.action}, Code: tt.code}
		if got := Wanted(c); got != tt.want {
			t.Errorf("%s (code %q): recorded %v, want %v", tt.action, tt.code, got, tt.want)
		}
	}
}
