package agent

import (
	"context"
	"errors"
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

// TestFailoverMovedOnce: a failure on a server that another call (a
// report) already moved on from is a move to the next server all the
// same, not "unreachable" (the agent's loop logs a move at info level and
// warns only when no server answers); once every server failed in a row,
// it says none answers.
func TestFailoverMovedOnce(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	for _, tc := range []struct {
		name     string
		servers  int
		wantNone bool
	}{
		{"two servers", 2, false},
		{"three servers", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var addrs []string
			for range tc.servers {
				addrs = append(addrs, closed())
			}
			f, err := newFailover(addrs, "LTAIkey", "secret", host, func(string, ...any) {})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// The call fails on the first server after a report failed
			// there and moved on.
			err = f.call(ctx, func(a apiSource) error {
				f.Report(ctx, Status{Host: host, Applied: 1})
				_, err := a.Snapshot(ctx)
				return err
			})
			var moved *movedOn
			if !errors.As(err, &moved) {
				t.Fatalf("the failure after a concurrent move: %v (%T), want a move", err, err)
			}
			if moved.failed != addrs[0] || moved.next != addrs[1] || moved.none != tc.wantNone {
				t.Errorf("moved from %s to %s, none %v; want from %s to %s, none %v", moved.failed, moved.next, moved.none, addrs[0], addrs[1], tc.wantNone)
			}
			// The others fail in turn: then none answers.
			for i := 1; i < tc.servers; i++ {
				_, err = f.Snapshot(ctx)
			}
			if !errors.As(err, &moved) || !moved.none {
				t.Errorf("after every server failed: %v, want a move saying none answers", err)
			}
		})
	}
}

// TestFailoverStreamsWithoutFrames: servers that open the stream and end
// it before its first frame (a store without quorum fails them at the
// heartbeat) have not answered: once each failed in a row, none answers
// (the agent warns and fails closed), where each opening counted as an
// answer and the agent moved between them for ever, logging at info.
func TestFailoverStreamsWithoutFrames(t *testing.T) {
	var addrs []string
	for range 2 {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush() // opened, then ended: no frame
		}))
		t.Cleanup(s.Close)
		addrs = append(addrs, strings.TrimPrefix(s.URL, "http://"))
	}
	f, err := newFailover(addrs, "LTAIkey", "secret", host, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	for i, wantNone := range []bool{false, true, true} {
		opened := false
		err := f.streamOpened(context.Background(), WatchRequest{Host: host}, func() { opened = true }, func(*Changes) error { return nil })
		var moved *movedOn
		if !errors.As(err, &moved) {
			t.Fatalf("stream %d: %v, want a move to the next server", i, err)
		}
		if !opened {
			t.Errorf("stream %d: the opening was not told", i)
		}
		if moved.none != wantNone {
			t.Errorf("stream %d (%d servers): none answers %v, want %v", i, len(addrs), moved.none, wantNone)
		}
	}
}
