package rpc

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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
