package rpc

import (
	"net/http"
	"net/http/httptest"
	"strconv"
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

func itoa(n int) string { return strconv.Itoa(n) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
