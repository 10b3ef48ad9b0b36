package signedpost

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Conn is one keep-alive HTTP/1.1 connection that posts signed requests
// one after the other, for load generators: it writes the request bytes
// itself and skips net/http's client machinery (a goroutine hand-off per
// request and per direction), which on a small machine costs about as
// much CPU as the server it loads. The answer is still parsed by
// net/http's reader.
type Conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	dead bool // closed: dial a new one
}

// Dial opens a Conn to addr (HOST:PORT).
func Dial(addr string) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &Conn{addr: addr, c: c, r: bufio.NewReaderSize(c, 32<<10), w: bufio.NewWriterSize(c, 4<<10)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { c.dead = true; return c.c.Close() }

// Dead reports whether the connection is closed (after an error, or when
// the server said it would close it): dial a new one.
func (c *Conn) Dead() bool { return c.dead }

// Post signs params as Post does and sends them; it returns the answer's
// length, or an error holding the answer's start when it is not a 200.
// After an error the Conn is closed (Dead).
func (c *Conn) Post(keyID, secret string, params map[string]string) (int, error) {
	body := Body(keyID, secret, params)
	c.c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c.w, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", c.addr, len(body))
	c.w.WriteString(body)
	if err := c.w.Flush(); err != nil {
		c.Close()
		return 0, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.Close()
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		c.Close()
		return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.Close {
		c.Close()
	}
	return int(n), err
}
