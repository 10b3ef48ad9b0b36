package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// startLimited serves a fresh store with short timeouts.
func startLimited(t *testing.T, lim Limits) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Open(ctx, Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// readAllWithin reads c until the server closes it; it fails the test if
// that takes longer than d.
func readAllWithin(t *testing.T, c net.Conn, d time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept the connection open for %v (read so far: %q)", d, b)
	}
	return string(b)
}

// TestStalledClientsAreDisconnected: a client that stops mid-body or sends
// nothing is closed after the timeout while others are answered; an
// oversize body is refused from its Content-Length, unread.
func TestStalledClientsAreDisconnected(t *testing.T) {
	s := startLimited(t, Limits{HeaderTimeout: 300 * time.Millisecond, BodyTimeout: 300 * time.Millisecond,
		IdleTimeout: 300 * time.Millisecond, MaxBodyBytes: 1000})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	head := "POST /?Action=DescribeRegions&Version=2014-05-26 HTTP/1.1\r\nHost: x\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"

	stalled := dial()
	io.WriteString(stalled, strings.Replace(head, "%d", "800", 1)+"A="+strings.Repeat("x", 398))
	silent := dial()

	resp, err := http.Get("http://" + s.Addr + "/healthz")
	if err != nil {
		t.Fatal("another client was not answered meanwhile:", err)
	}
	resp.Body.Close()

	if got := readAllWithin(t, stalled, 3*time.Second); !strings.Contains(got, "RequestTimeout") {
		t.Errorf("stalled body: want a RequestTimeout answer before the close, got %q", got)
	}
	readAllWithin(t, silent, 3*time.Second)

	big := dial()
	io.WriteString(big, strings.Replace(head, "%d", "104857600", 1)+"A=xxxxxxxx")
	if got := readAllWithin(t, big, 3*time.Second); !strings.Contains(got, "RequestBodyTooLarge") {
		t.Errorf("oversize body: want RequestBodyTooLarge, got %q", got)
	}
}

// TestLimitListener: connections beyond the cap wait until one closes.
func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 1, 0)
	defer ln.Close()
	for range 2 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			got <- c
		}
	}()
	select {
	case <-got:
		t.Fatal("a second connection was accepted past the cap of 1")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close must not free a second slot
	select {
	case c := <-got:
		c.Close()
	case <-time.After(2 * time.Second):
		t.Fatal("closing a connection did not free its slot")
	}
}

// TestHealthAndReadiness: /healthz answers while the process runs; /readyz
// only while the store is open and the in-memory view has caught up.
func TestHealthAndReadiness(t *testing.T) {
	s := startLimited(t, Limits{})
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + s.Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		path, body string
		code       int
	}{{"/healthz", "ok", 200}, {"/readyz", "ready", 200}} {
		if code, body := get(tc.path); code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
	s.Store.Close()
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
		t.Errorf("/readyz with the store closed: %d %q, want 503 naming the store", code, body)
	}
	// Anyone who reaches the port reads it: the store's own error (SQL,
	// file names, etcd endpoints) goes to the log, not into the answer.
	if _, body := get("/readyz"); strings.Contains(body, "sql") || strings.Contains(body, s.db) || strings.Contains(body, "closed") {
		t.Errorf("/readyz shows the store's error: %q", body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz with the store closed: %d, want 200 (the process is alive)", code)
	}
}

// TestBrowserGoesToConsole: a browser opening the server's address lands on
// the console; API calls on "/" (GET with a query, POST, a client not
// asking for HTML) still reach the API.
func TestBrowserGoesToConsole(t *testing.T) {
	s := startLimited(t, Limits{})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		name, method, target, accept string
		code                         int
		location                     string
	}{
		{"browser", "GET", "/", "text/html,application/xhtml+xml,*/*;q=0.8", http.StatusSeeOther, "/console/"},
		{"API GET with a query", "GET", "/?Action=DescribeRegions", "text/html", http.StatusBadRequest, ""},
		{"API POST", "POST", "/", "text/html", http.StatusBadRequest, ""},
		{"client not asking for HTML", "GET", "/", "application/json", http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+s.Addr+tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", tc.accept)
			resp, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location {
				t.Errorf("%d to %q, want %d to %q", resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
			}
		})
	}
}

// TestFailedStartKeepsNothing: a start that cannot bind its port creates
// no store, so the next start makes the first key and shows its secret.
func TestFailedStartKeepsNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := filepath.Join(t.TempDir(), "p.db")
	cfg := Config{Listen: busy.Addr().String(), DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Open on a busy port: %v, want a listen error", err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("the failed start left the store %s behind (%v)", db, err)
	}
	cfg.Listen = "127.0.0.1:0"
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Serve(ctx)
	}()
	if !s.KeyIsNew || s.Key.Secret == "" {
		t.Error("the first successful start must make the first key and have its secret to show")
	}
}

// TestLimitsDefaults: the throttled answers' hold and the large-body
// budget take their defaults when zero, and the hold can be turned off.
func TestLimitsDefaults(t *testing.T) {
	for _, tc := range []struct {
		in          Limits
		delay       time.Duration
		largeBodies int64
	}{
		{Limits{}, 100 * time.Millisecond, rpc.DefaultMaxLargeBodies},
		{Limits{ThrottledDelay: -1, MaxLargeBodies: 4 << 20}, 0, 4 << 20},
		{Limits{ThrottledDelay: time.Second}, time.Second, rpc.DefaultMaxLargeBodies},
	} {
		got := tc.in.withDefaults()
		if got.ThrottledDelay != tc.delay || got.MaxLargeBodies != tc.largeBodies {
			t.Errorf("%+v: hold %v, large bodies %d; want %v, %d", tc.in, got.ThrottledDelay, got.MaxLargeBodies, tc.delay, tc.largeBodies)
		}
	}
}

// fakeConn is a connection from a given remote address.
type fakeConn struct {
	net.Conn
	from net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.from }

// fakeListener hands out the connections sent on it.
type fakeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *fakeListener) Close() error   { close(l.done); return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestLimitListenerPerAddress: one address (an IPv6 /64 counts as one)
// holds at most its share of the connections; one more from it is closed
// at once instead of taking a slot, so that a client that opens MaxConns
// idle connections cannot make every other client wait. Other addresses
// are served meanwhile, and loopback (a local proxy, the tests) has no
// share of its own.
func TestLimitListenerPerAddress(t *testing.T) {
	type dial struct {
		from     string
		accepted bool
	}
	for _, tc := range []struct {
		name  string
		dials []dial
	}{
		{"an address past its share", []dial{{"192.0.2.1", true}, {"192.0.2.1", true}, {"192.0.2.1", false}, {"198.51.100.7", true}}},
		{"an IPv4-mapped address is the same", []dial{{"192.0.2.1", true}, {"::ffff:192.0.2.1", true}, {"192.0.2.1", false}}},
		{"one IPv6 /64", []dial{{"2001:db8::1", true}, {"2001:db8::2", true}, {"2001:db8::ffff:3", false}, {"2001:db8:0:1::1", true}}},
		{"loopback has no share", []dial{{"127.0.0.1", true}, {"127.0.0.1", true}, {"127.0.0.1", true}, {"::1", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &fakeListener{conns: make(chan net.Conn), done: make(chan struct{})}
			ln := newLimitListener(inner, 8, 2)
			defer ln.Close()
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			accepted := make(chan net.Conn)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted <- c
				}
			}()
			for i, d := range tc.dials {
				server, client := net.Pipe()
				defer client.Close()
				inner.conns <- fakeConn{Conn: server, from: &net.TCPAddr{IP: net.ParseIP(d.from), Port: 1000 + i}}
				if d.accepted {
					select {
					case c := <-accepted:
						held = append(held, c)
					case <-time.After(5 * time.Second):
						t.Fatalf("connection %d from %s was not served", i, d.from)
					}
					continue
				}
				// Past its share: closed at once, not held (nor served).
				client.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := client.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
					t.Fatalf("connection %d from %s past its share was not closed: %v", i, d.from, err)
				}
				select {
				case <-accepted:
					t.Fatalf("connection %d from %s past its share was served", i, d.from)
				default:
				}
			}
			// A closed connection gives its address's place back.
			if len(held) > 0 && !tc.dials[len(tc.dials)-1].accepted {
				held[0].Close()
				held = held[1:]
				server, client := net.Pipe()
				defer client.Close()
				from := tc.dials[0].from
				inner.conns <- fakeConn{Conn: server, from: &net.TCPAddr{IP: net.ParseIP(from), Port: 9999}}
				select {
				case c := <-accepted:
					held = append(held, c)
				case <-time.After(2 * time.Second):
					t.Fatalf("after one of %s's connections closed, its next was not served", from)
				}
			}
		})
	}
}

// TestUnreadAnswersAreCutOff: a client that sends requests and reads none
// of the answers (pipelined, here unsigned ones to / and the console's
// sign-in page: anyone can) is disconnected once an answer has waited
// WriteTimeout to be written, as one that stalls mid-body is; before, the
// write blocked for good and held the connection and its goroutine. A
// client that reads is served as before on a connection kept alive.
func TestUnreadAnswersAreCutOff(t *testing.T) {
	s := startLimited(t, Limits{WriteTimeout: 300 * time.Millisecond})
	for _, path := range []string{"/?Action=DescribeRegions&Version=2014-05-26", "/console/signin", "/healthz"} {
		t.Run(path, func(t *testing.T) {
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(4 << 10)
			batch := strings.Repeat("GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n", 1000)
			// Until the server stops taking requests: its answers fill
			// both sides' buffers, as nothing reads them.
			for {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := io.WriteString(c, batch); err != nil {
					break
				}
			}
			time.Sleep(time.Second) // past the write timeout, still reading nothing
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the server still writes answers to a client that read none for a second")
			}
		})
	}
	// Keep-alive still works: the deadline is cleared after each answer.
	cl := &http.Client{}
	for i := range 3 {
		reused := false
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused }})
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.Addr+"/healthz", nil)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && !reused {
			t.Errorf("request %d: the connection was not kept alive", i+1)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(400 * time.Millisecond) // longer than WriteTimeout between requests
	}
}

// TestSlowReaderGetsLargeAnswer: a large answer to a client that reads it
// steadily, if slowly, is written whole: each 256 KiB has WriteTimeout,
// not the whole answer.
func TestSlowReaderGetsLargeAnswer(t *testing.T) {
	const size = 32 << 20
	for _, tc := range []struct {
		name   string
		writes int // the answer in this many writes
	}{
		{"one write", 1},
		{"a few writes", 4},
		{"many small writes", 8192},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := make([]byte, size/tc.writes)
			srv := httptest.NewUnstartedServer(boundWrites(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(size))
				for range tc.writes {
					if _, err := w.Write(body); err != nil {
						return
					}
				}
			}), time.Second))
			srv.Start()
			defer srv.Close()
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			// 32 MiB at about 12 MiB a second: some 3 seconds in all,
			// none of its 256 KiB pieces waits near the second it has.
			got, buf := 0, make([]byte, 256<<10)
			for {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := io.ReadFull(c, buf)
				got += n
				if err != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got < size {
				t.Errorf("read %d bytes of an answer of %d (and its head): the slow reader was cut off", got, size)
			}
		})
	}
}

// TestBoundWritesKeepLength: a small answer keeps the Content-Length
// net/http measures once the handler returns (the wrapper flushed it
// before, and the answer went chunked), and a later request on the same
// connection, long after the first answer's deadline, is answered.
func TestBoundWritesKeepLength(t *testing.T) {
	srv := httptest.NewServer(boundWrites(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}), 200*time.Millisecond))
	defer srv.Close()
	cl := srv.Client()
	for i := range 2 {
		resp, err := cl.Get(srv.URL)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ContentLength != 3 || len(resp.TransferEncoding) > 0 {
			t.Errorf("request %d: Content-Length %d, Transfer-Encoding %v; want 3 and none", i+1, resp.ContentLength, resp.TransferEncoding)
		}
		time.Sleep(300 * time.Millisecond) // past the first answer's deadline
	}
}

// TestHeaderBytesBounded: a request line within MaxHeaderBytes is answered
// (in ECS form), one beyond it is refused unread with 431.
func TestHeaderBytesBounded(t *testing.T) {
	s := startLimited(t, Limits{})
	for _, tc := range []struct {
		name  string
		query int // bytes of query string
		want  int
	}{
		{"a large GET batch", 100 << 10, http.StatusBadRequest},
		{"past the cap", DefaultLimits.MaxHeaderBytes + 8<<10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "http://" + s.Addr + "/?Action=DescribeRegions&Version=2014-05-26&Pad=" + strings.Repeat("x", tc.query)
			resp, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (%.200s), want %d", resp.StatusCode, body, tc.want)
			}
		})
	}
}
