package apiclient

import (
	"context"
	"net"
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
