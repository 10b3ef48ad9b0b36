package rpc

import (
	"net/http"
	"net/http/httptest"
	"strings"
)

func httptestRequest(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	r.URL.RawQuery = strings.TrimPrefix(target, "/?")
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	return r
}
