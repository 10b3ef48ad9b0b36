package rpc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
)

type niceResponse struct {
	Base
	Nice  int
	Items []string
}

// threadNice is the nice value of the calling OS thread (the raw
// getpriority call answers 20 - nice).
func threadNice(t *testing.T) int {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p
}

// TestLowPriority: the actions named run (and are encoded) on a thread at
// the lowered priority, and nothing else ever runs there: a request after
// them, on the same connection's goroutine, runs at the process's
// priority. Their answers and errors are the same as without it.
func TestLowPriority(t *testing.T) {
	base := threadNice(t)
	s := testServer(t, nil)
	s.Nice = 5
	s.LowPriority = func(action string) bool {
		return action == "Heavy" || action == "HeavyFails" || action == "HeavyAborts"
	}
	nice := func(ctx context.Context, req *Request) (any, error) { return &niceResponse{Nice: threadNice(t)}, nil }
	s.Routes[RouteKey{version, "Heavy"}] = nice
	s.Routes[RouteKey{version, "Light"}] = nice
	s.Routes[RouteKey{version, "HeavyFails"}] = s.Routes[RouteKey{version, "DescribeSecurityGroupAttribute"}]
	s.Routes[RouteKey{version, "HeavyAborts"}] = func(ctx context.Context, req *Request) (any, error) { panic(http.ErrAbortHandler) }
	for _, tc := range []struct {
		action   string
		status   int
		wantBody string
	}{
		{"Heavy", 200, `"Nice":` + itoa(base+5) + `,"Items":[]`},
		{"Light", 200, `"Nice":` + itoa(base) + `,"Items":[]`},
		{"Heavy", 200, `"Nice":` + itoa(base+5)},
		{"Light", 200, `"Nice":` + itoa(base)},
		{"HeavyFails", 404, `"Code":"InvalidSecurityGroupId.NotFound"`},
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/?"+signedV1("GET", tc.action, "testsecret", nil).Encode(), nil))
		if w.Code != tc.status || !contains(w.Body.String(), tc.wantBody) {
			t.Errorf("%s: %d %s, want %d with %s", tc.action, w.Code, w.Body, tc.status, tc.wantBody)
		}
	}
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("an aborting low-priority handler: recovered %v, want http.ErrAbortHandler in the caller", p)
			}
		}()
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?"+signedV1("GET", "HeavyAborts", "testsecret", nil).Encode(), nil))
	}()
}
