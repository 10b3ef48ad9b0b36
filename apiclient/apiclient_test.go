package apiclient

import (
	"context"
	"errors"
	"net"
	"strings"
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
