package rpc

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestObserve: every request reaches Observe once, with its status and
// code, and with the access key only when the signature held.
func TestObserve(t *testing.T) {
	var got []*Call
	s := testServer(t, nil)
	s.Observe = func(c *Call) { got = append(got, c) }
	for _, tc := range []struct {
		name       string
		target     string
		status     int
		code, akid string
	}{
		{"signed", "/?" + signedV1("GET", "DescribeRegions", "testsecret", nil).Encode(), 200, "", "testid"},
		{"wrong secret", "/?" + signedV1("GET", "DescribeRegions", "nope", nil).Encode(), 400, "SignatureDoesNotMatch", ""},
		{"handler error", "/?" + signedV1("GET", "DescribeSecurityGroupAttribute", "testsecret", nil).Encode(), 404, "InvalidSecurityGroupId.NotFound", "testid"},
		{"unparsable", "/?a=%zz", 400, "InvalidParameter", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.target, nil))
			if len(got) != 1 {
				t.Fatalf("Observe called %d times", len(got))
			}
			c := got[0]
			if c.Status != tc.status || c.Status != w.Code || c.Code != tc.code || c.Request.AccessKeyID != tc.akid {
				t.Errorf("observed status %d code %q key %q; want %d %q %q", c.Status, c.Code, c.Request.AccessKeyID, tc.status, tc.code, tc.akid)
			}
			if string(c.Body) != w.Body.String() || c.RemoteAddr == "" || c.Request.RequestID != w.Header().Get("x-acs-request-id") {
				t.Errorf("observed body %q, remote %q, request ID %q", c.Body, c.RemoteAddr, c.Request.RequestID)
			}
		})
	}
}
