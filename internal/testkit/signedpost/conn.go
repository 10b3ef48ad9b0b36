package signedpost

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"
)

// Conn is one keep-alive HTTP/1.1 connection that posts signed requests
// one after the other, for load generators: it writes the request bytes
// itself and skips net/http's client machinery (a goroutine hand-off per
// request and per direction), which on a small machine costs about as
// much CPU as the server it loads, and reads the answer's head itself.
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
	c.w.WriteString("POST / HTTP/1.1\r\nHost: ")
	c.w.WriteString(c.addr)
	c.w.WriteString("\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ")
	c.w.WriteString(strconv.Itoa(len(body)))
	c.w.WriteString("\r\n\r\n")
	c.w.WriteString(body)
	if err := c.w.Flush(); err != nil {
		c.Close()
		return 0, err
	}
	status, length, chunked, closing, err := c.readHead()
	if err != nil {
		c.Close()
		return 0, err
	}
	var r io.Reader = io.LimitReader(c.r, length)
	switch {
	case chunked:
		r = httputil.NewChunkedReader(c.r)
	case length < 0:
		r, closing = c.r, true // to the end of the connection
	}
	if status != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(r, 300))
		c.Close()
		return 0, fmt.Errorf("HTTP %d: %s", status, b)
	}
	var n int64
	if chunked || length < 0 {
		if n, err = io.Copy(io.Discard, r); chunked && err == nil {
			err = c.skipTrailer()
		}
	} else {
		var k int
		k, err = c.r.Discard(int(length)) // the usual answer: no reader or copy
		n = int64(k)
	}
	if err != nil || closing {
		c.Close()
	}
	return int(n), err
}

// readHead reads an answer's status line and headers: its status, its
// body's length (-1: unknown), whether the body is chunked and whether the
// server closes the connection after it. It replaces http.ReadResponse,
// which builds a header map and a body reader per answer: as much CPU as
// the rest of a request here.
func (c *Conn) readHead() (status int, length int64, chunked, closing bool, err error) {
	line, err := c.line()
	if err != nil {
		return 0, 0, false, false, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	if status, err = strconv.Atoi(code); err != nil || !strings.HasPrefix(proto, "HTTP/1.") {
		return 0, 0, false, false, fmt.Errorf("malformed status line %.100q", line)
	}
	closing = proto == "HTTP/1.0"
	length = -1
	for {
		line, err := c.line()
		if err != nil {
			return 0, 0, false, false, err
		}
		if line == "" {
			return status, length, chunked, closing, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return 0, 0, false, false, fmt.Errorf("malformed header line %.100q", line)
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Content-Length"):
			if length, err = strconv.ParseInt(value, 10, 64); err != nil || length < 0 {
				return 0, 0, false, false, fmt.Errorf("bad Content-Length %.40q", value)
			}
		case strings.EqualFold(name, "Transfer-Encoding"):
			chunked = strings.EqualFold(value, "chunked")
		case strings.EqualFold(name, "Connection"):
			closing = closing || strings.EqualFold(value, "close")
		}
	}
}

// line reads one header line without its CRLF.
func (c *Conn) line() (string, error) {
	b, err := c.r.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// skipTrailer reads what follows a chunked body's last chunk: trailer
// lines, up to the empty one.
func (c *Conn) skipTrailer() error {
	for {
		line, err := c.line()
		if err != nil || line == "" {
			return err
		}
	}
}
