package server

import (
	"net"
	"net/http"
	"net/netip"

	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// Limits bound what one client can hold of the server. The zero value of
// a field means its default.
type Limits struct {
	// HeaderTimeout bounds reading a request's headers, including the wait
	// for the first byte on a new connection (default 10s).
	HeaderTimeout time.Duration
	// BodyTimeout bounds reading a request's body once its headers are in
	// (default 20s): headers and body together take at most 30s.
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next request
	// (default 30s).
	IdleTimeout time.Duration
	// MaxConns caps open connections (default 1000, below the usual
	// 1024-descriptor limit); further clients wait in the listen backlog
	// until one closes.
	MaxConns int
	// MaxConnsPerAddr caps the connections of one client address (an
	// IPv6 /64; loopback has none): one more is closed at once, so that
	// no client can take all of MaxConns (default a quarter of MaxConns,
	// at least 1; negative: no cap).
	MaxConnsPerAddr int
	// StreamWriteTimeout bounds writing one frame of an agent's change
	// stream (PalisadeWatchStream; default 10s): an agent that does not
	// take it in time is cut off and resumes from its revision. Streams
	// have no other time bound (they send heartbeats; IdleTimeout is only
	// between requests), and each holds a connection under MaxConns.
	StreamWriteTimeout time.Duration
	// WriteTimeout bounds writing an answer, from its first byte, and each
	// 256 KiB of a large one (default 30s): a client that reads none of
	// it (or pipelines requests and reads no answer) is disconnected,
	// where it held its connection and the handler's goroutine for good.
	// A stream's frames after the first have StreamWriteTimeout instead;
	// a long poll's wait comes before its answer, so it is not counted.
	WriteTimeout time.Duration
	// MaxHeaderBytes caps a request's line and headers together (default
	// 128 KiB: the SDKs POST their parameters, so only a hand-made GET
	// comes near it). Go's own default, 1 MiB, let 1,000 connections
	// sending headers slowly hold 1 GiB.
	MaxHeaderBytes int
	// MaxBodyBytes caps a request body, checked before it is buffered
	// (default rpc.DefaultMaxBodyBytes, 1 MiB).
	MaxBodyBytes int64
	// MaxLargeBodies is how many bytes of large bodies (over 64 KiB) are
	// read at once, all clients together (default
	// rpc.DefaultMaxLargeBodies, 16 MiB; see rpc.Server.MaxLargeBodies).
	MaxLargeBodies int64
	// ThrottledDelay holds each Throttling answer (rate limits, the
	// analysis bounds, the nonce caches) that long (default 100ms;
	// negative: none), so that a client retrying without pause costs
	// the server a refusal per connection every so often, not one as
	// fast as it can refuse.
	ThrottledDelay time.Duration
}

// DefaultLimits are the limits of a zero Limits.
var DefaultLimits = Limits{HeaderTimeout: 10 * time.Second, BodyTimeout: 20 * time.Second,
	IdleTimeout: 30 * time.Second, StreamWriteTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, MaxConns: 1000, MaxHeaderBytes: 128 << 10, MaxBodyBytes: 1 << 20,
	MaxLargeBodies: rpc.DefaultMaxLargeBodies, ThrottledDelay: 100 * time.Millisecond}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.HeaderTimeout > 0 {
		d.HeaderTimeout = l.HeaderTimeout
	}
	if l.BodyTimeout > 0 {
		d.BodyTimeout = l.BodyTimeout
	}
	if l.IdleTimeout > 0 {
		d.IdleTimeout = l.IdleTimeout
	}
	if l.MaxConns > 0 {
		d.MaxConns = l.MaxConns
	}
	switch {
	case l.MaxConnsPerAddr > 0:
		d.MaxConnsPerAddr = l.MaxConnsPerAddr
	case l.MaxConnsPerAddr < 0:
		d.MaxConnsPerAddr = 0 // none
	default:
		d.MaxConnsPerAddr = max(d.MaxConns/4, 1)
	}
	if l.StreamWriteTimeout > 0 {
		d.StreamWriteTimeout = l.StreamWriteTimeout
	}
	if l.WriteTimeout > 0 {
		d.WriteTimeout = l.WriteTimeout
	}
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = l.MaxHeaderBytes
	}
	if l.MaxBodyBytes > 0 {
		d.MaxBodyBytes = l.MaxBodyBytes
	}
	if l.MaxLargeBodies > 0 {
		d.MaxLargeBodies = l.MaxLargeBodies
	}
	if l.ThrottledDelay != 0 {
		d.ThrottledDelay = max(l.ThrottledDelay, 0)
	}
	return d
}

// limitListener accepts at most cap(sem) connections at once (what
// golang.org/x/net/netutil.LimitListener does, without the dependency),
// and at most perAddr of them from one address (0: no such bound). A
// connection past its address's share is closed at once: one client that
// opens as many idle connections as the cap would otherwise make every
// other client (agents too) wait in the backlog for as long as it keeps
// them open. Loopback has no share (a proxy on the host, local tools).
type limitListener struct {
	net.Listener
	sem     chan struct{}
	perAddr int
	mu      sync.Mutex
	byAddr  map[netip.Addr]int
}

func newLimitListener(ln net.Listener, n, perAddr int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), perAddr: perAddr, byAddr: map[netip.Addr]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		l.sem <- struct{}{}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.sem
			return nil, err
		}
		addr, ok := l.share(c.RemoteAddr())
		if !ok {
			c.Close()
			<-l.sem
			continue
		}
		return &limitConn{Conn: c, release: func() {
			if addr.IsValid() {
				l.mu.Lock()
				if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
					delete(l.byAddr, addr)
				}
				l.mu.Unlock()
			}
			<-l.sem
		}}, nil
	}
}

// share counts a connection from a against its address's share: ok is
// false when the share is full. The address is that of the share (an
// IPv6 /64, which one client typically holds whole), or invalid when the
// connection counts against none.
func (l *limitListener) share(a net.Addr) (netip.Addr, bool) {
	if l.perAddr <= 0 {
		return netip.Addr{}, true
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, true
	}
	if ap.Addr().Unmap().IsLoopback() {
		return netip.Addr{}, true
	}
	addr := rpc.ShareOf(ap.Addr())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byAddr[addr] >= l.perAddr {
		return netip.Addr{}, false
	}
	l.byAddr[addr]++
	return addr, true
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// boundWrites gives each answer d to be written from its first byte (its
// header, or a body write or flush before it) to its end, which net/http
// writes after the handler returns (so an answer it measures keeps its
// Content-Length). The deadline an answer set is cleared when the next
// request on the connection begins: that one may wait long before its
// first byte (a long poll). Without a deadline, a write to a client that
// reads nothing blocked for good.
func boundWrites(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := &boundWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}
		bw.rc.SetWriteDeadline(time.Time{}) // the previous answer's
		h.ServeHTTP(bw, r)
	})
}

// boundWriter sets the write deadline at an answer's first byte, and
// again after each writeChunk bytes. A handler that sets its own (a
// stream, for each frame) keeps it.
type boundWriter struct {
	http.ResponseWriter
	rc         *http.ResponseController
	d          time.Duration
	armed, own bool
	since      int // bytes written under the current deadline
}

// SetWriteDeadline is what http.ResponseController calls to set one: the
// handler's own, which the writes then keep.
func (w *boundWriter) SetWriteDeadline(t time.Time) error {
	w.own = true
	return w.rc.SetWriteDeadline(t)
}

func (w *boundWriter) arm() {
	if !w.armed {
		w.armed = true
		if !w.own {
			w.rc.SetWriteDeadline(time.Now().Add(w.d))
		}
	}
}

func (w *boundWriter) WriteHeader(code int) { w.arm(); w.ResponseWriter.WriteHeader(code) }

// Write gives each writeChunk of an answer the whole timeout: a slow
// client that keeps reading is not cut off, however large the answer (a
// reachability matrix), only one that stops.
func (w *boundWriter) Write(b []byte) (int, error) {
	w.arm()
	n := 0
	for len(b) > 0 {
		part := b[:min(len(b), writeChunk-w.since)]
		m, err := w.ResponseWriter.Write(part)
		n += m
		if err != nil {
			return n, err
		}
		b = b[m:]
		if w.since += m; w.since == writeChunk {
			w.since = 0
			if !w.own {
				w.rc.SetWriteDeadline(time.Now().Add(w.d))
			}
		}
	}
	return n, nil
}

// writeChunk is the part of an answer written under one deadline.
const writeChunk = 256 << 10

// FlushError is what http.ResponseController calls to flush.
func (w *boundWriter) FlushError() error { w.arm(); return w.rc.Flush() }

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (w *boundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
