package apitest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/actiontrail"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/controlplane/webhook"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// trailClient is the official ActionTrail client signing with a key.
func trailClient(t *testing.T, addr, keyID, secret string) *actiontrail.Client {
	t.Helper()
	c, err := actiontrail.NewClientWithOptions(region, testenv.SDKConfig(), credentials.NewAccessKeyCredential(keyID, secret))
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = addr
	return c
}

// lookup runs LookupEvents with attributes as key, value pairs.
func lookup(t *testing.T, c *actiontrail.Client, attrs ...string) []map[string]any {
	t.Helper()
	req := actiontrail.CreateLookupEventsRequest()
	req.Scheme = "HTTP"
	var la []actiontrail.LookupEventsLookupAttribute
	for i := 0; i+1 < len(attrs); i += 2 {
		la = append(la, actiontrail.LookupEventsLookupAttribute{Key: attrs[i], Value: attrs[i+1]})
	}
	if la != nil {
		req.LookupAttribute = &la
	}
	req.MaxResults = "50"
	return must(c.LookupEvents(req))(t).Events
}

// tenant is an account with its ECS and ActionTrail clients.
type tenant struct {
	uid, keyID string
	ecs        *ecs.Client
	trail      *actiontrail.Client
}

func newTenant(t *testing.T, s *testenv.Server, name string) tenant {
	t.Helper()
	a := s.NewAccount(t, name)
	return tenant{uid: a.UID, keyID: a.KeyID, ecs: testenv.ECSClient(t, s.Addr, a.KeyID, a.Secret), trail: trailClient(t, s.Addr, a.KeyID, a.Secret)}
}

// newGroup creates a classic group.
func newGroup(t *testing.T, c *ecs.Client) string {
	t.Helper()
	return createGroup(t, c, "trail", "", "")
}

func authorizeSSH(c *ecs.Client, group string) error {
	r := ecs.CreateAuthorizeSecurityGroupRequest()
	r.SecurityGroupId = group
	r.IpProtocol, r.PortRange, r.SourceCidrIp = "TCP", "22/22", "10.0.0.0/8"
	_, err := c.AuthorizeSecurityGroup(r)
	return err
}

// TestLookupEvents: every write and every refused call is in the trail,
// without secrets; a tenant reads its own events through the official
// ActionTrail SDK, never another tenant's.
func TestLookupEvents(t *testing.T) {
	s := testenv.Start(t, testenv.Config{})
	a, b := newTenant(t, s, "a"), newTenant(t, s, "b")
	sgA := newGroup(t, a.ecs)
	noErr(t, authorizeSSH(a.ecs, sgA))
	// Refused: b names a's group (not found for b), a names no group.
	if err := authorizeSSH(b.ecs, sgA); err == nil {
		t.Fatal("b changed a's group")
	}
	if err := authorizeSSH(a.ecs, "sg-nothere"); err == nil {
		t.Fatal("authorized on a group that does not exist")
	}
	// A read is not recorded.
	must(a.ecs.DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()))(t)

	evs := lookup(t, a.trail)
	got := map[string]int{}
	for _, ev := range evs {
		code, _ := ev["errorCode"].(string)
		got[ev["eventName"].(string)+" "+code]++
		id := ev["userIdentity"].(map[string]any)
		if id["accountId"] != a.uid || id["accessKeyId"] != a.keyID {
			t.Errorf("a reads an event of %v", id)
		}
		params, _ := ev["requestParameters"].(map[string]any)
		if sig, ok := params["Signature"]; ok && sig != "******" {
			t.Errorf("the event keeps the signature: %v", params)
		}
		for _, f := range []string{"eventId", "eventTime", "requestId", "sourceIpAddress", "eventSource", "acsRegion"} {
			if s, _ := ev[f].(string); s == "" {
				t.Errorf("event lacks %s: %v", f, ev)
			}
		}
		if ev["sourceIpAddress"] != "127.0.0.1" {
			t.Errorf("sourceIpAddress = %v", ev["sourceIpAddress"])
		}
	}
	want := map[string]int{"CreateSecurityGroup ": 1, "AuthorizeSecurityGroup ": 1, "AuthorizeSecurityGroup InvalidSecurityGroupId.NotFound": 1}
	if len(got) != len(want) {
		t.Errorf("a's events: %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("a's events: %v, want %v", got, want)
		}
	}
	raw, _ := json.Marshal(evs)
	if strings.Contains(string(raw), a.keyID) && !strings.Contains(string(raw), `"accessKeyId":"`+a.keyID) {
		t.Errorf("events name the key outside userIdentity")
	}

	// b sees its refused call, nothing of a's, even when it names a's group.
	for _, attrs := range [][]string{nil, {"ResourceName", sgA}, {"EventName", "CreateSecurityGroup"}} {
		for _, ev := range lookup(t, b.trail, attrs...) {
			if ev["userIdentity"].(map[string]any)["accountId"] != b.uid {
				t.Errorf("b reads a's event %v (filter %v)", ev["eventName"], attrs)
			}
		}
	}
	if n := len(lookup(t, b.trail)); n != 1 {
		t.Errorf("b has %d events, want its 1 refused call", n)
	}
	// The operator reads every tenant's events; a host key reads none.
	byAcct := map[any]int{}
	for _, ev := range lookup(t, trailClient(t, s.Addr, s.OperatorKeyID, s.OperatorSecret)) {
		byAcct[ev["userIdentity"].(map[string]any)["accountId"]]++
	}
	if byAcct[a.uid] != 3 || byAcct[b.uid] != 1 {
		t.Errorf("the operator reads events by account %v, want 3 of a (%s) and 1 of b (%s)", byAcct, a.uid, b.uid)
	}
	hostID, hostSecret := s.RegisterHost(t, "trail-host")
	_, err := trailClient(t, s.Addr, hostID, hostSecret).LookupEvents(actiontrail.CreateLookupEventsRequest())
	wantErr(t, err, http.StatusForbidden, "Forbidden.HostKey")
	// Filters through the SDK.
	if evs := lookup(t, a.trail, "ResourceName", sgA, "EventName", "AuthorizeSecurityGroup"); len(evs) != 1 {
		t.Errorf("a's AuthorizeSecurityGroup on %s: %d events, want 1", sgA, len(evs))
	}
	// A bad condition gets InvalidParameter.
	req := actiontrail.CreateLookupEventsRequest()
	req.Scheme = "HTTP"
	req.LookupAttribute = &[]actiontrail.LookupEventsLookupAttribute{{Key: "Secret", Value: "x"}}
	_, err = a.trail.LookupEvents(req)
	wantErr(t, err, http.StatusBadRequest, "InvalidParameter")
}

// hookSink is a webhook endpoint that keeps what it receives.
type hookSink struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.sigs = append(h.sigs, r.Header.Get(webhook.SignatureHeader))
	h.mu.Unlock()
}

func (h *hookSink) events() ([][]byte, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte{}, h.bodies...), append([]string{}, h.sigs...)
}

// TestWebhook: every accepted security-group change is POSTed, signed;
// refused changes and other writes are not; the audit's SGA-032 knows
// whether alerting is configured.
func TestWebhook(t *testing.T) {
	sink := &hookSink{}
	hs := httptest.NewServer(sink)
	defer hs.Close()
	const secret = "webhook-secret"
	s := testenv.Start(t, testenv.Config{Adjust: func(c *server.Config) {
		c.Webhook = webhook.Config{URL: hs.URL, Secret: secret, Timeout: 2 * time.Second}
	}})
	a := newTenant(t, s, "a")
	sg := newGroup(t, a.ecs)
	noErr(t, authorizeSSH(a.ecs, sg))
	if authorizeSSH(a.ecs, "sg-nothere") == nil {
		t.Fatal("authorized on a group that does not exist")
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		b, _ := sink.events()
		return len(b) >= 2, "2 notifications"
	})
	time.Sleep(200 * time.Millisecond) // a third (wrong) one would come now
	bodies, sigs := sink.events()
	if len(bodies) != 2 {
		t.Fatalf("%d notifications, want 2 (create, authorize; not the refused one)", len(bodies))
	}
	for i, b := range bodies {
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
		want := []string{"CreateSecurityGroup", "AuthorizeSecurityGroup"}[i]
		if ev["eventName"] != want || ev["resourceName"] != sg || ev["errorCode"] != "" {
			t.Errorf("notification %d: %s %v %v; want %s of %s", i, ev["eventName"], ev["resourceName"], ev["errorCode"], want, sg)
		}
		if !hmac.Equal([]byte(sigs[i]), []byte(webhook.Sign(secret, b))) {
			t.Errorf("notification %d: signature %q does not match the body", i, sigs[i])
		}
		if bytes.Contains(b, []byte(`"Signature":"`)) && !bytes.Contains(b, []byte(`"Signature":"******"`)) {
			t.Errorf("notification %d carries the request signature", i)
		}
	}

	// SGA-032: off with a webhook, on without.
	audit := func(s *testenv.Server, keyID, secret string) bool {
		body := mustCall(t, testenv.V3Client(t, s.Addr, keyID, secret, ""), ecsVersion, "PalisadeAudit", nil)
		for _, f := range list(t, body, "Findings") {
			if path(t, f, "check") == "SGA-032" {
				return true
			}
		}
		return false
	}
	acct := s.NewAccount(t, "audited")
	newGroup(t, testenv.ECSClient(t, s.Addr, acct.KeyID, acct.Secret))
	if audit(s, acct.KeyID, acct.Secret) {
		t.Error("SGA-032 reported with a webhook configured")
	}
	plain := testenv.Start(t, testenv.Config{})
	acct = plain.NewAccount(t, "audited")
	newGroup(t, testenv.ECSClient(t, plain.Addr, acct.KeyID, acct.Secret))
	if !audit(plain, acct.KeyID, acct.Secret) {
		t.Error("SGA-032 not reported without alerting")
	}
	empty := plain.NewAccount(t, "empty")
	if audit(plain, empty.KeyID, empty.Secret) {
		t.Error("SGA-032 reported to an account without groups")
	}
}

// TestMetricsAndLog: /metrics parses as Prometheus text with the request,
// latency and trail series and no account IDs; each request logs one line
// with its fields and no signature.
func TestMetricsAndLog(t *testing.T) {
	var logBuf logbuf.Buffer
	s := testenv.Start(t, testenv.Config{Log: slog.New(slog.NewJSONHandler(&logBuf, nil))})
	a := newTenant(t, s, "a")
	sg := newGroup(t, a.ecs)
	noErr(t, authorizeSSH(a.ecs, sg))
	if authorizeSSH(a.ecs, "sg-nothere") == nil {
		t.Fatal("authorized on a group that does not exist")
	}

	resp, err := http.Get("http://" + s.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, text)
	}
	counter := func(name string, labels map[string]string) float64 {
		f := families[name]
		if f == nil {
			t.Fatalf("no %s in /metrics", name)
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			return value(m)
		}
		return -1
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"palisade_api_requests_total", map[string]string{"action": "CreateSecurityGroup", "code": "OK"}, 1},
		{"palisade_api_requests_total", map[string]string{"action": "AuthorizeSecurityGroup", "code": "OK"}, 1},
		{"palisade_api_requests_total", map[string]string{"action": "AuthorizeSecurityGroup", "code": "InvalidSecurityGroupId.NotFound"}, 1},
		{"palisade_api_request_duration_seconds", map[string]string{"action": "CreateSecurityGroup"}, 1}, // sample count
		{"palisade_agents_connected", nil, 0},
	} {
		if got := counter(tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if rev := counter("palisade_store_revision", nil); rev < 2 {
		t.Errorf("palisade_store_revision = %v after two writes", rev)
	}
	// The tenant's records were in the view before the group was created
	// (that request read them): its history holds them at least.
	if n, b := counter("palisade_view_history_changes", nil), counter("palisade_view_history_bytes", nil); n < 1 || b < n {
		t.Errorf("palisade_view_history_changes = %v, _bytes = %v after writes", n, b)
	}
	if families["palisade_trail_events_total"] == nil || families["go_goroutines"] == nil {
		t.Error("/metrics lacks the trail's counters or the Go collector")
	}
	if strings.Contains(string(text), a.uid) || strings.Contains(string(text), a.keyID) {
		t.Error("/metrics names an account or key")
	}

	// The request log: one JSON line per request.
	var lines []map[string]any
	for _, l := range strings.Split(logBuf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%d request lines for 3 requests:\n%s", len(lines), logBuf.String())
	}
	refused := lines[2]
	for k, want := range map[string]any{"action": "AuthorizeSecurityGroup", "account": a.uid, "code": "InvalidSecurityGroupId.NotFound",
		"status": float64(404), "accessKeyId": a.keyID} {
		if refused[k] != want {
			t.Errorf("log %s = %v, want %v", k, refused[k], want)
		}
	}
	for _, k := range []string{"duration", "bytes", "requestId", "remoteAddr"} {
		if _, ok := refused[k]; !ok {
			t.Errorf("log line lacks %s: %v", k, refused)
		}
	}
	if strings.Contains(logBuf.String(), "Signature") {
		t.Error("the log holds a signature")
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// TestEventsSurviveRestart: the trail is on disk beside the store, and a
// graceful stop writes what was still queued.
func TestEventsSurviveRestart(t *testing.T) {
	s := testenv.Start(t, testenv.Config{})
	acct := s.NewAccount(t, "a")
	sg := newGroup(t, testenv.ECSClient(t, s.Addr, acct.KeyID, acct.Secret))
	s.Stop()
	s2 := s.Reopen(t)
	evs := lookup(t, trailClient(t, s2.Addr, acct.KeyID, acct.Secret), "ResourceName", sg)
	if len(evs) != 1 || evs[0]["eventName"] != "CreateSecurityGroup" {
		t.Fatalf("after a restart: %v, want the CreateSecurityGroup of %s", evs, sg)
	}
}

// TestTrailKeepsNoSecret: a key's secret is shown once, in the answer of
// the call that made it; the event of that call, read later with
// LookupEvents by the operator (who reads every account's events) or by
// the tenant, holds none (it did: PalisadeCreateAccount's and
// PalisadeRegisterHost's answers carry the secret at their top level,
// which the event kept as a response element).
func TestTrailKeepsNoSecret(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	op := srv.Operator(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		make func(t *testing.T) (keyID, secret string)
	}{
		{"PalisadeCreateAccount", func(t *testing.T) (string, string) {
			var out struct{ AccessKeyId, AccessKeySecret string }
			if err := op.Call(ctx, "PalisadeCreateAccount", map[string]string{"AccountName": "made-in-trail"}, &out, 0); err != nil {
				t.Fatal(err)
			}
			return out.AccessKeyId, out.AccessKeySecret
		}},
		{"PalisadeRegisterHost", func(t *testing.T) (string, string) {
			var out struct{ AccessKeyId, AccessKeySecret string }
			if err := op.Call(ctx, "PalisadeRegisterHost", map[string]string{"HostName": "h-trail"}, &out, 0); err != nil {
				t.Fatal(err)
			}
			return out.AccessKeyId, out.AccessKeySecret
		}},
		{"RAM CreateAccessKey", func(t *testing.T) (string, string) {
			k := must(srv.RAMAs(t, srv.KeyID, srv.Secret).CreateAccessKey(ram.CreateCreateAccessKeyRequest()))(t).AccessKey
			return k.AccessKeyId, k.AccessKeySecret
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, secret := tc.make(t)
			if id == "" || secret == "" {
				t.Fatalf("%s answered no key", tc.name)
			}
			for _, reader := range []struct{ name, key, secret string }{
				{"operator", srv.OperatorKeyID, srv.OperatorSecret}, {"tenant", srv.KeyID, srv.Secret}} {
				req := actiontrail.CreateLookupEventsRequest()
				req.Scheme, req.MaxResults = "HTTP", "50"
				req.LookupAttribute = &[]actiontrail.LookupEventsLookupAttribute{{Key: "EventName", Value: strings.TrimPrefix(tc.name, "RAM ")}}
				resp := must(trailClient(t, srv.Addr, reader.key, reader.secret).LookupEvents(req))(t)
				if reader.name == "operator" && len(resp.Events) == 0 {
					t.Errorf("the operator reads no %s event", tc.name)
				}
				if strings.Contains(resp.GetHttpContentString(), secret) {
					t.Errorf("the %s reads the secret of %s in the trail:\n%s", reader.name, id, resp.GetHttpContentString())
				}
			}
		})
	}
}

// TestTrailTokensNameOwnEventsOnly: a NextToken of LookupEvents is the
// position of the last event returned, the caller's own: its time and
// ID. It held the event's row in the trail, numbered across every
// account, so a tenant paging its own events learned how many events the
// other tenants made between two of its own. Pages still follow each
// other without a gap or a repeat, newest or oldest first, for the
// tenant and for the operator, while another tenant writes between them.
func TestTrailTokensNameOwnEventsOnly(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	me := newTenant(t, srv, "me")
	for range 5 {
		newGroup(t, me.ecs)
		newGroup(t, srv.ECS(t)) // the other tenant's, between mine
	}
	for _, tc := range []struct {
		name      string
		c         *actiontrail.Client
		direction string
		want      int
		others    bool // the other tenant writes between the pages (after the operator's cases, which would read them)
	}{
		{"operator, newest first", trailClient(t, srv.Addr, srv.OperatorKeyID, srv.OperatorSecret), "BACKWARD", 10, false},
		{"operator, oldest first", trailClient(t, srv.Addr, srv.OperatorKeyID, srv.OperatorSecret), "FORWARD", 10, false},
		{"tenant, newest first", me.trail, "BACKWARD", 5, true},
		{"tenant, oldest first", me.trail, "FORWARD", 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			token := ""
			for page := 0; ; page++ {
				req := actiontrail.CreateLookupEventsRequest()
				req.Scheme, req.MaxResults, req.Direction, req.NextToken = "HTTP", "2", tc.direction, token
				req.LookupAttribute = &[]actiontrail.LookupEventsLookupAttribute{{Key: "EventName", Value: "CreateSecurityGroup"}}
				resp := must(tc.c.LookupEvents(req))(t)
				for _, ev := range resp.Events {
					got = append(got, ev["eventId"].(string))
				}
				if resp.NextToken == "" {
					break
				}
				// The token says which event the page ended on, and
				// nothing else.
				raw, err := base64.RawURLEncoding.DecodeString(resp.NextToken)
				var pos map[string]any
				if err != nil || json.Unmarshal(raw, &pos) != nil {
					t.Fatalf("NextToken %q is not the base64 JSON of a position", resp.NextToken)
				}
				last := resp.Events[len(resp.Events)-1]
				if len(pos) != 2 || pos["e"] != last["eventId"] || pos["t"] == nil {
					t.Errorf("NextToken %s holds more than the time and ID of %s", raw, last["eventId"])
				}
				if page > tc.want {
					t.Fatal("the pages do not end")
				}
				token = resp.NextToken
				if tc.others {
					newGroup(t, srv.ECS(t))
				}
			}
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] {
					t.Errorf("event %s on two pages", id)
				}
				seen[id] = true
			}
			if len(got) != tc.want {
				t.Errorf("%d events over the pages, want %d", len(got), tc.want)
			}
		})
	}
}
