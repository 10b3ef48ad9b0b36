package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// TestErrorAnswerBounded: an error that names what the client sent (an
// unknown Action or Version, the Host) is answered in a bounded size,
// still in ECS's shape with its code. Quoting a value of control bytes
// (%q, then JSON) takes five bytes for each: a 1 MiB form, unsigned, got
// a 5 MiB answer.
func TestErrorAnswerBounded(t *testing.T) {
	ctl := strings.Repeat("\x01", 300_000)
	for _, tc := range []struct {
		name     string
		form     url.Values
		host     string
		wantCode string
	}{
		{"unknown action", url.Values{"Action": {ctl}, "Version": {version}}, "", "InvalidAction.NotFound"},
		{"unknown version", url.Values{"Action": {"DescribeRegions"}, "Version": {ctl}}, "", "InvalidVersion"},
		{"long host", url.Values{"Action": {"Nope"}, "Version": {version}}, strings.Repeat("h", 500_000), "InvalidAction.NotFound"},
		{"an ordinary error is whole", url.Values{"Action": {"Nope"}, "Version": {version}}, "", "InvalidAction.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testServer(t, nil)
			srv.HostID = "" // as the real server: the request's Host
			r := httptestRequest("POST", "/?", tc.form.Encode())
			if tc.host != "" {
				r.Host = tc.host
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			var body struct{ Code, Message, HostId, RequestId string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Code != tc.wantCode || body.RequestId == "" {
				t.Fatalf("%d %.300s: want ECS error %s", w.Code, w.Body, tc.wantCode)
			}
			if n := w.Body.Len(); n > 6*maxErrorMessage+maxHostID+1<<10 { // JSON may escape a byte as six
				t.Errorf("an answer of %d bytes to a request of %d", n, len(tc.form.Encode())+len(tc.host))
			}
			if tc.name == "an ordinary error is whole" && !strings.Contains(body.Message, `"Nope"`) {
				t.Errorf("message %q", body.Message)
			}
		})
	}
}

// TestInternalErrorHidesCause: a handler's error that is not an ECS error
// (a store's, a bug's) is answered as 500 InternalError without its text,
// which may hold SQL, file names or another tenant's data; the server's
// log has it under the request ID, and neither the answer nor what is
// observed (the trail, which the tenant reads) shows it. An ECS error
// wrapped in another is answered as itself.
func TestInternalErrorHidesCause(t *testing.T) {
	cause := "sqlite: /var/lib/palisade/p.db: SELECT data FROM records WHERE account='1234': database is locked"
	for _, tc := range []struct {
		name     string
		err      error
		wantCode string
		hidden   bool
	}{
		{"plain", errors.New(cause), "InternalError", true},
		{"wrapped", fmt.Errorf("list groups: %w", errors.New(cause)), "InternalError", true},
		{"an ECS error wrapped", fmt.Errorf("in tx: %w", ecserr.NotFound("InvalidSecurityGroupId.NotFound", "SecurityGroupId")), "InvalidSecurityGroupId.NotFound", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged strings.Builder
			var observed *Call
			srv := testServer(t, nil)
			srv.Log = slog.New(slog.NewTextHandler(&logged, nil))
			srv.Observe = func(c *Call) { observed = c }
			srv.Routes[RouteKey{version, "Fails"}] = func(ctx context.Context, req *Request) (any, error) { return nil, tc.err }
			r := httptestRequest("GET", "/?"+signedV1("GET", "Fails", "testsecret", nil).Encode(), "")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			var body struct{ Code, Message, RequestId string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Code != tc.wantCode {
				t.Fatalf("%d %s, want %s", w.Code, w.Body, tc.wantCode)
			}
			if !tc.hidden {
				return
			}
			if w.Code != 500 || strings.Contains(w.Body.String(), "sqlite") || strings.Contains(w.Body.String(), "/var/lib") {
				t.Errorf("the answer shows the cause: %d %s", w.Code, w.Body)
			}
			if observed == nil || strings.Contains(observed.Message, "sqlite") || observed.Code != "InternalError" {
				t.Errorf("observed %+v", observed)
			}
			if !strings.Contains(logged.String(), "database is locked") || !strings.Contains(logged.String(), body.RequestId) {
				t.Errorf("the log lacks the cause under the request ID %s:\n%s", body.RequestId, logged.String())
			}
			if n := strings.Count(logged.String(), "level=ERROR"); n != 1 {
				t.Errorf("%d error lines for one failed request, want 1:\n%s", n, logged.String())
			}
		})
	}
}

// TestGoneClientIsNoServerFault: a handler that ends with its context's
// error (a long poll whose agent left) gets no error line in the log.
func TestGoneClientIsNoServerFault(t *testing.T) {
	for _, cause := range []error{context.Canceled, fmt.Errorf("watch: %w", context.DeadlineExceeded)} {
		var logged strings.Builder
		srv := testServer(t, nil)
		srv.Log = slog.New(slog.NewTextHandler(&logged, nil))
		srv.Routes[RouteKey{version, "Waits"}] = func(ctx context.Context, req *Request) (any, error) { return nil, cause }
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptestRequest("GET", "/?"+signedV1("GET", "Waits", "testsecret", nil).Encode(), ""))
		if w.Code != 503 || strings.Contains(logged.String(), "level=ERROR") {
			t.Errorf("%v: %d %s, log:\n%s", cause, w.Code, w.Body, logged.String())
		}
	}
}
