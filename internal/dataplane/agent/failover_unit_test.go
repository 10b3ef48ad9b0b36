package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFailoverMovesOn: the agent's source moves to the next server after a
// failure another server may not share (unreachable, a 5xx answer), and
// stays after an answer that refuses the request (4xx), which the next
// server would give as well.
func TestFailoverMovesOn(t *testing.T) {
	answer := func(status int, code string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"RequestId":"r","Code":%q,"Message":"m"}`, code)
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name   string
		first  string
		moveOn bool
	}{
		{"unreachable", closed, true},
		{"failing (500)", answer(500, "InternalError"), true},
		{"unavailable (503)", answer(503, "ServiceUnavailable"), true},
		{"refusing (403)", answer(403, "Forbidden.HostMismatch"), false},
		{"refusing (400)", answer(400, "InvalidParameter"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := newFailover([]string{tc.first, answer(403, "Other")}, "LTAIkey", "secret", host, func(string, ...any) {})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Snapshot(context.Background()); err == nil {
				t.Fatal("the first server's failure was not returned")
			}
			if got := f.cur.Load() == 1; got != tc.moveOn {
				t.Errorf("moved to the next server: %v, want %v", got, tc.moveOn)
			}
		})
	}
	if _, err := newFailover(Servers(" , "), "k", "s", host, nil); err == nil {
		t.Error("no server: no error")
	}
	if got := Servers("a:1, b:2,,c:3 "); strings.Join(got, "|") != "a:1|b:2|c:3" {
		t.Errorf("Servers: %q", got)
	}
}
