package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStreamNoAnswer: a server that completes the handshake and never
// answers (a full server leaves the connection in its listen backlog)
// makes Stream fail after streamHeaderTimeout, not hang until ctx ends.
func TestStreamNoAnswer(t *testing.T) {
	defer func(d time.Duration) { streamHeaderTimeout = d }(streamHeaderTimeout)
	streamHeaderTimeout = 300 * time.Millisecond
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		name   string
		accept bool
	}{
		{"never accepted (in the backlog)", false},
		{"accepted, never answered", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.accept {
				accepted := make(chan net.Conn, 1)
				go func() {
					if c, err := l.Accept(); err == nil {
						accepted <- c
					}
				}()
				defer func() {
					select {
					case c := <-accepted:
						c.Close()
					default:
					}
				}()
			}
			c, err := New(l.Addr().String(), "LTAIkey", "secret", "")
			if err != nil {
				t.Fatal(err)
			}
			// ctx only keeps a failing test from hanging: the error must
			// come from the client's own bound, before ctx ends.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			body, err := c.Stream(ctx, "PalisadeWatchStream", nil)
			if err == nil {
				body.Close()
				t.Fatal("Stream returned a body from a server that never answered")
			}
			if ctx.Err() != nil {
				t.Fatalf("Stream waited until ctx ended: %v", err)
			}
		})
	}
}

// TestCallErrorHidesSignature: a call that cannot reach its server fails
// with an error whose text names the server but not the signed query (the
// access key ID, nonce and signature), since the agent logs it at every
// retry; it logged the whole signed URL.
func TestCallErrorHidesSignature(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: the call is refused
	c, err := New(addr, "LTAIsomekey", "somesecret", "")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(context.Background(), "PalisadeGetSnapshot", map[string]string{"HostName": "h1"}, nil, 0)
	if err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
	text := err.Error()
	for _, secret := range []string{"LTAIsomekey", "Signature", "Timestamp"} {
		if strings.Contains(text, secret) {
			t.Errorf("error text holds %q: %s", secret, text)
		}
	}
	if !strings.Contains(text, addr) {
		t.Errorf("error text does not name the server %s: %s", addr, text)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("the error wraps nothing: errors.As no longer reaches the SDK's error")
	}
}

// TestHostileServer: what a broken or hostile server answers cannot take
// the caller's memory or send its signed request elsewhere. An answer or a
// stream's line past MaxAnswerBytes fails (it was read whole, however
// large), and a redirect fails (the SDK's client and the stream's followed
// it, signed request and body, to the host it named, and took that host's
// answer).
func TestHostileServer(t *testing.T) {
	defer func(n int64) { MaxAnswerBytes = n }(MaxAnswerBytes)
	MaxAnswerBytes = 4 << 10
	var elsewhere atomic.Int32 // requests the redirect's target got
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte("{\"Revision\":1}\n"))
	}))
	defer target.Close()
	answer := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }
	}
	redirect := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target.URL+"/", code) }
	}
	big := `{"Revision":1,"Pad":"` + strings.Repeat("x", int(MaxAnswerBytes)) + `"}` + "\n"
	for _, tc := range []struct {
		name    string
		server  http.HandlerFunc
		stream  bool
		wantErr string // "": none
	}{
		{"an answer within the bound", answer(`{"Revision":1}`), false, ""},
		{"an answer past the bound", answer(big), false, "larger than any Palisade server's"},
		{"a call redirected (307)", redirect(http.StatusTemporaryRedirect), false, "never redirects"},
		{"a call redirected (302)", redirect(http.StatusFound), false, "never redirects"},
		{"a frame within the bound", answer("{\"Revision\":1}\n"), true, ""},
		{"a frame past the bound", answer(big), true, "larger than any Palisade server's"},
		{"a line without end", func(w http.ResponseWriter, r *http.Request) {
			for range 4 * MaxAnswerBytes / 1024 {
				if _, err := w.Write([]byte(strings.Repeat("x", 1024))); err != nil {
					return
				}
			}
		}, true, "larger than any Palisade server's"},
		{"a stream redirected (307)", redirect(http.StatusTemporaryRedirect), true, "never redirects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.server)
			defer srv.Close()
			c, err := New(srv.URL, "LTAIkey", "secret", "")
			if err != nil {
				t.Fatal(err)
			}
			before := elsewhere.Load()
			var out struct{ Revision int64 }
			if tc.stream {
				var body io.ReadCloser
				if body, err = c.Stream(context.Background(), "PalisadeWatchStream", nil); err == nil {
					var line []byte
					line, err = ReadFrame(bufio.NewReader(body))
					body.Close()
					if err == nil {
						err = json.Unmarshal(line, &out)
					}
				}
			} else {
				err = c.Call(context.Background(), "PalisadeGetSnapshot", nil, &out, 0)
			}
			switch {
			case tc.wantErr == "" && (err != nil || out.Revision != 1):
				t.Fatalf("got revision %d, error %v; want revision 1", out.Revision, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got error %v; want one saying %q", err, tc.wantErr)
			}
			if n := elsewhere.Load() - before; n != 0 {
				t.Errorf("the redirect's target got %d requests", n)
			}
		})
	}
}

// TestWrongCertificate: a server whose certificate the client does not
// trust is refused, by calls and streams alike, with the TLS error (the
// client's transport is its own, not the SDK's).
func TestWrongCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{\"Revision\":1}\n")) }))
	defer srv.Close()
	c, err := New(srv.URL, "LTAIkey", "secret", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"a call", func() error { return c.Call(context.Background(), "PalisadeGetSnapshot", nil, nil, 0) }},
		{"a stream", func() error {
			body, err := c.Stream(context.Background(), "PalisadeWatchStream", nil)
			if err == nil {
				body.Close()
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("got %v, want a certificate error", err)
			}
		})
	}
}
