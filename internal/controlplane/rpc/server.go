package rpc

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sync/semaphore"

	"github.com/palisade-sg/palisade/internal/controlplane/signature"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// DefaultMaxBodyBytes limits a request body (form parameters). The largest
// legitimate requests (AuthorizeSecurityGroup with 100 Permissions.N
// entries, each with a 512-character description, or a batch of tags) stay
// well under 100 KiB; 1 MiB leaves room without letting one client pin
// much memory.
const DefaultMaxBodyBytes = 1 << 20

// Server serves the RPC-style API at path "/".
type Server struct {
	Verifier     *signature.Verifier // required: without it every request is refused
	Routes       map[RouteKey]Handler
	Product      string // in Request.Product and error Recommend links; default "Ecs"
	HostID       string // HostId of error envelopes; default the request's Host
	Log          *slog.Logger
	MaxBodyBytes int64 // default DefaultMaxBodyBytes
	// BodyTimeout bounds the time to read a request body, so a client that
	// stalls mid-body is disconnected instead of holding its connection and
	// buffer; 0 means no bound.
	BodyTimeout time.Duration
	// Observe, if set, is called with every finished request (after its
	// answer is written), for the request log, metrics and the event
	// trail. It runs on the request's goroutine, so it must be quick.
	Observe func(*Call)
	// Admit, if set, runs once the signature holds and before the handler
	// (req.AccessKeyID set); an error refuses the request (rate limits).
	Admit func(ctx context.Context, req *Request) error
	// LowPriority, if set, names the actions (the analyses) whose handler
	// and answer encoding run on an OS thread of their own at nice value
	// Nice (Linux; 1 to 19, 0: no change): when the cores are contended,
	// the kernel runs the other requests first, so that a costly action
	// takes the CPU the others leave rather than delay them.
	LowPriority func(action string) bool
	Nice        int
	// Gate, if set, admits a costly call (the analyses) before it is given
	// a worker thread or any CPU: it returns the context the handler runs
	// with and a function called once the answer is encoded (ctx and
	// done unchanged and a no-op for calls it does not bound); an error
	// refuses the call. A refused call thus costs no thread, and the
	// encoding of an answer counts against the bound as its computing does.
	Gate func(ctx context.Context, req *Request) (context.Context, func(), error)
	// LargeBody is the size over which a body is large (default
	// DefaultLargeBody), and MaxLargeBodies how many bytes of large bodies
	// are read at once (default DefaultMaxLargeBodies; negative: no bound),
	// counted as they arrive, a chunk ahead. A large body beyond it waits,
	// unread, until others are in (at most 2s a chunk, then it is refused
	// with ServiceUnavailable): slow clients cannot
	// make the server hold, and take page after page of fresh memory for,
	// many large bodies at once, while ordinary requests (small bodies) are
	// never held up.
	LargeBody, MaxLargeBodies int64
	// ThrottledDelay holds the answer of a request refused with a
	// Throttling code for that long (0: none), so that a client retrying
	// in a loop is refused a few times a second per connection, not as
	// fast as the server can refuse.
	ThrottledDelay time.Duration

	largeOnce sync.Once
	large     *semaphore.Weighted
	largeMu   sync.Mutex
	largeByIP map[string]*ipShare
	lowOnce   sync.Once
	idleLow   chan *lowWorker
	lowSlots  chan struct{} // one per low-priority worker (see maxLowWorkers)
}

// DefaultLargeBody and DefaultMaxLargeBodies: the SDKs' largest ordinary
// requests stay under 64 KiB.
const (
	DefaultLargeBody      = 64 << 10
	DefaultMaxLargeBodies = 16 << 20
)

// largeBodyWait bounds the wait of a large body for its share.
const largeBodyWait = 2 * time.Second

func (s *Server) largeBody() int64 { return cmp.Or(max(s.LargeBody, 0), DefaultLargeBody) }

func (s *Server) maxLargeBodies() int64 {
	return cmp.Or(max(s.MaxLargeBodies, 0), DefaultMaxLargeBodies)
}

func (s *Server) largeBodies() *semaphore.Weighted {
	s.largeOnce.Do(func() { s.large = semaphore.NewWeighted(s.maxLargeBodies()) })
	return s.large
}

// ipShare is the part of the large-body budget one remote address may
// hold, while it has bodies being read.
type ipShare struct {
	sem   *semaphore.Weighted
	size  int64
	users int
}

// largeShare returns the share of the client at remoteAddr (an IPv6
// /64 is one): a quarter of
// the budget, but room for one body of the largest size, so that one
// address (many stalled connections) cannot take it all. done gives it up.
func (s *Server) largeShare(remoteAddr string, limit int64) (share *ipShare, done func()) {
	host := ClientShare(remoteAddr) // an IPv6 /64 is one client
	s.largeMu.Lock()
	defer s.largeMu.Unlock()
	share = s.largeByIP[host]
	if share == nil {
		if s.largeByIP == nil {
			s.largeByIP = map[string]*ipShare{}
		}
		size := min(max(s.maxLargeBodies()/4, limit), s.maxLargeBodies())
		share = &ipShare{sem: semaphore.NewWeighted(size), size: size}
		s.largeByIP[host] = share
	}
	share.users++
	return share, func() {
		s.largeMu.Lock()
		defer s.largeMu.Unlock()
		if share.users--; share.users == 0 {
			delete(s.largeByIP, host)
		}
	}
}

// ServeHTTP handles one API call: method check, parameter parsing, routing,
// signature verification, the handler, and rendering.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req := &Request{
		RequestID:  NewRequestID(),
		Product:    s.product(),
		HTTPMethod: r.Method,
		Host:       r.Host,
	}
	result, err := s.serve(w, r, req)
	if req.Format == "" {
		// Refused before its parameters were parsed: the query's Format
		// still chooses the error's encoding.
		req.Format = format(r.URL.Query().Get("Format"))
	}
	if st, ok := result.(Stream); ok && err == nil {
		s.serveStream(w, r, req, st, start)
		return
	}
	var (
		status      = http.StatusOK
		body        []byte
		contentType string
	)
	if err == nil {
		e, done := result.(encoded) // by a low-priority call
		if !done {
			e.body, e.contentType, e.err = encodeResult(req, result)
		}
		body, contentType = e.body, e.contentType
		if e.err != nil {
			s.log().Error("response cannot be encoded; the handler returned an unsupported type",
				"action", req.Action, "requestId", req.RequestID, "err", e.err)
			err = ecserr.New(http.StatusInternalServerError, "InternalError", "The response could not be encoded.")
		}
	}
	var e *ecserr.Error
	if err != nil {
		var logged bool
		e, logged = s.answerOf(req, err)
		status = errorStatus(e)
		body, contentType = encodeError(req, s.hostID(r), e)
		if status >= 500 && !logged {
			args := []any{"action", req.Action, "requestId", req.RequestID, "code", e.Code, "message", e.Message}
			if e.Cause != nil {
				args = append(args, "cause", e.Cause.Error())
			}
			s.log().Error("request failed", args...)
		}
	}
	if s.ThrottledDelay > 0 && e != nil && strings.HasPrefix(e.Code, "Throttling") {
		// Waiting costs the server a parked goroutine; answering at once
		// would let each connection of a client that retries without pause
		// cost it a request's CPU many times over.
		t := time.NewTimer(s.ThrottledDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	// The names are canonical already and set directly (Header.Set would
	// canonicalize each again); the content types' values are shared,
	// read-only slices.
	h := w.Header()
	h["Content-Type"] = contentTypeValue(contentType)
	// With a length the body goes out in one write, not chunked. The two
	// values share one array (each capped: an Add copies).
	vals := []string{strconv.Itoa(len(body)), req.RequestID}
	h["Content-Length"] = vals[0:1:1]
	h["X-Acs-Request-Id"] = vals[1:2:2]
	w.WriteHeader(status)
	w.Write(body)
	if s.Observe != nil {
		c := &Call{Request: req, Start: start, Duration: time.Since(start), Status: status, Body: body,
			RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent(), Method: r.Method}
		if e != nil {
			c.Code, c.Message = e.Code, e.Message
		}
		s.Observe(c)
	}
}

// answerOf is the ECS error answered for err, and whether it was logged
// here. An error of another type (a store's, a bug's) is answered without
// its text, which may hold SQL, file names or another tenant's data, and
// logged under the request ID; a request whose client went away (or whose
// deadline passed) is not a server fault, and logged at Debug only.
func (s *Server) answerOf(req *Request, err error) (e *ecserr.Error, logged bool) {
	if errors.As(err, &e) {
		return e, false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		s.log().Debug("request ended before its answer", "action", req.Action, "requestId", req.RequestID, "err", err)
		return ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable", "The request ended before it was answered: its client went away or its time ran out; send it again."), true
	}
	s.log().Error("request failed with an error that is not an ECS error", "action", req.Action, "requestId", req.RequestID, "err", err)
	return ecserr.New(http.StatusInternalServerError, "InternalError",
		"The request processing has failed due to some unknown error; the server's log has its cause under this RequestId."), true
}

// serve fills req and runs the handler. It never returns a typed-nil error.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, req *Request) (any, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return nil, ecserr.Forbidden("UnsupportedHTTPMethod", "The HTTP method %s is not supported; use GET or POST.", r.Method)
	}
	if r.URL.Path != "/" {
		return nil, ecserr.New(http.StatusNotFound, "InvalidAction.NotFound", "The RPC API is served at path /, not %q.", r.URL.Path)
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	req.Size = len(body) + len(r.URL.RawQuery)
	params, signed, perr := parseSigned(r, body)
	if perr != nil {
		if f := params.Get("Format"); f != "" {
			req.Format = format(f)
		}
		return nil, perr
	}
	defer signed.release()
	req.Params = params
	req.Format = format(params.Get("Format"))
	// The names canonical already: Header.Get makes a canonical copy of any other.
	req.Action = firstNonEmpty(params.Get("Action"), r.Header.Get("X-Acs-Action"))
	req.Version = firstNonEmpty(params.Get("Version"), r.Header.Get("X-Acs-Version"))
	if req.Action == "" {
		return nil, ecserr.MissingParameter("Action")
	}
	if req.Version == "" {
		return nil, ecserr.MissingParameter("Version")
	}
	h := s.Routes[RouteKey{Version: req.Version, Action: req.Action}]
	// The versions are listed only for a request no route serves (listing
	// them costs a walk of every route).
	if h == nil && !slices.Contains(s.versions(), req.Version) {
		// ECS's answer to a Version it does not have (seen from
		// ecs.aliyuncs.com: aliyun-openapi-java-sdk#23).
		return nil, ecserr.BadRequest("InvalidVersion", "Specified parameter Version is not valid: %q is not served here; use one of %s.", req.Version, strings.Join(s.versions(), ", "))
	}
	if h == nil {
		return nil, ecserr.New(http.StatusNotFound, "InvalidAction.NotFound",
			"The action %q is not found in API version %q; check the action name (case-sensitive) and Version.", req.Action, req.Version)
	}
	if s.Verifier == nil {
		return nil, ecserr.New(http.StatusInternalServerError, "InternalError", "The server has no signature verifier configured.")
	}
	ak, verr := s.Verifier.Verify(r, signed.values, body)
	if verr != nil {
		return nil, verr
	}
	req.AccessKeyID = ak
	ctx := WithAccessKeyID(r.Context(), ak)
	if s.Admit != nil {
		if err := s.Admit(ctx, req); err != nil {
			return nil, err
		}
	}
	if s.Gate != nil {
		gctx, done, err := s.Gate(ctx, req)
		if err != nil {
			return nil, err
		}
		defer done()
		ctx = gctx
	}
	// The call made in each branch: a closure that only encodedCall
	// runs stays on the stack.
	if s.LowPriority != nil && s.LowPriority(req.Action) {
		return s.lowPriority(ctx, func() (any, error) { return s.call(ctx, h, req) }, req)
	}
	if s.Gate != nil {
		// Encoded here, while the gate still holds the call: a large
		// answer's encoding is part of its cost.
		return encodedCall(func() (any, error) { return s.call(ctx, h, req) }, req)
	}
	return s.call(ctx, h, req)
}

// encodedCall runs fn and encodes its answer (a Stream is left to
// serveStream).
func encodedCall(fn func() (any, error), req *Request) (any, error) {
	v, err := fn()
	if err != nil {
		return nil, err
	}
	if _, ok := v.(Stream); ok {
		return v, nil
	}
	body, contentType, eerr := encodeResult(req, v)
	return encoded{body, contentType, eerr}, nil
}

// versions are the API versions of the routes, sorted.
func (s *Server) versions() []string {
	var out []string
	for k := range s.Routes {
		if !slices.Contains(out, k.Version) {
			out = append(out, k.Version)
		}
	}
	slices.Sort(out)
	return out
}

// call runs h, turning a panic into 500 InternalError.
func (s *Server) call(ctx context.Context, h Handler, req *Request) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log().Error("handler panicked", "action", req.Action, "requestId", req.RequestID,
				"panic", p, "stack", string(debug.Stack()))
			result, err = nil, ecserr.New(http.StatusInternalServerError, "InternalError",
				"The request processing has failed due to some unknown error.")
		}
	}()
	result, err = h(ctx, req)
	if e, ok := err.(*ecserr.Error); ok && e == nil {
		err = nil // a nil *ecserr.Error returned as error means success
	}
	return result, err
}

// readBody reads the form body within the size and time bounds. A body that
// announces more than the limit is refused before any of it is read; one
// without a length is cut off at the limit. After a refusal the connection
// is closed: net/http would otherwise read on to drain the body for the
// next request, which is what the bounds are there to prevent.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	rc := http.NewResponseController(w)
	refuse := func(e *ecserr.Error) ([]byte, error) {
		w.Header().Set("Connection", "close")
		// Not every ResponseWriter supports deadlines (httptest's does not).
		rc.SetReadDeadline(time.Now())
		return nil, e
	}
	// Made only for a refusal: formatting it costs every request otherwise.
	tooLarge := func() *ecserr.Error {
		return ecserr.BadRequest("RequestBodyTooLarge",
			"The request body exceeds %d bytes; send fewer or shorter parameters per request.", limit)
	}
	if r.ContentLength > limit {
		return refuse(tooLarge())
	}
	start := time.Now()
	if s.BodyTimeout > 0 {
		rc.SetReadDeadline(start.Add(s.BodyTimeout))
	}
	var in io.Reader = newPacedReader(http.MaxBytesReader(w, r.Body, limit))
	// A large body is charged to the bytes large bodies may hold at once
	// as it arrives, a chunk ahead of what it sent, not by the length it
	// announces: a client that announces a large body and then stalls
	// holds one chunk of the budget, not its whole length. One of unknown
	// length counts up to the limit.
	if size := cmp.Or(max(r.ContentLength, 0), limit); r.ContentLength != 0 && size > s.largeBody() && s.MaxLargeBodies >= 0 {
		// While it waits, nothing tells the server that its client left:
		// each wait is short, so that a client that reconnects again and
		// again cannot pile waiting connections up to the cap.
		wait := largeBodyWait
		if s.BodyTimeout > 0 {
			wait = min(wait, s.BodyTimeout)
		}
		share, done := s.largeShare(r.RemoteAddr, limit)
		defer done()
		c := &chargedReader{r: in, ctx: r.Context(), budget: s.largeBodies(), share: share, left: size, wait: wait}
		defer c.release()
		in = c
	}
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= chunkSize {
		body, err = readSized(in, int(n))
	} else {
		body, err = readAll(in)
	}
	if err == nil {
		if s.BodyTimeout > 0 {
			rc.SetReadDeadline(time.Time{}) // long polls must not be cut off by it
		}
		// Read to its end: closed, it leaves net/http nothing to discard
		// after the handler (which it otherwise tries, with a reader made
		// for it).
		r.Body.Close()
		return body, nil
	}
	var mbe *http.MaxBytesError // made only for an error: errors.As moves it to the heap
	switch {
	case errors.Is(err, errLargeBodiesBusy):
		return refuse(ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable",
			"The server is reading other large request bodies; retry in a moment, or send fewer parameters per request."))
	case errors.As(err, &mbe):
		return refuse(tooLarge())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return refuse(ecserr.New(http.StatusRequestTimeout, "RequestTimeout",
			"The request body was not received within %v; send it without pauses.", s.BodyTimeout))
	default:
		return refuse(ecserr.BadRequest("InvalidParameter", "The request body could not be read: %v.", err))
	}
}

// errLargeBodiesBusy: a large body's next chunk found no room in the
// budget within its wait.
var errLargeBodiesBusy = errors.New("large bodies budget exhausted")

// chargedReader charges the bytes it reads to budget before reading them,
// at most chunkSize (and what is left of the announced length) ahead, and
// gives them all back in release.
type chargedReader struct {
	r             io.Reader
	ctx           context.Context
	budget        *semaphore.Weighted
	share         *ipShare // of the client's address, charged too
	left          int64    // of the announced length (or limit), not yet charged
	charged, read int64
	wait          time.Duration // for each chunk's charge
}

func (c *chargedReader) Read(b []byte) (int, error) {
	if c.read == c.charged {
		// Past the announced length one byte more is charged, to read
		// the end (or the overflow that MaxBytesReader reports).
		step := min(chunkSize, max(c.left, 1), c.share.size)
		ctx, cancel := context.WithTimeout(c.ctx, c.wait)
		defer cancel()
		if c.share.sem.Acquire(ctx, step) != nil {
			return 0, errLargeBodiesBusy
		}
		if c.budget.Acquire(ctx, step) != nil {
			c.share.sem.Release(step)
			return 0, errLargeBodiesBusy
		}
		c.charged += step
		c.left = max(c.left-step, 0)
	}
	n, err := c.r.Read(b[:min(int64(len(b)), c.charged-c.read)])
	c.read += int64(n)
	return n, err
}

func (c *chargedReader) release() {
	if c.charged > 0 {
		c.budget.Release(c.charged)
		c.share.sem.Release(c.charged)
		c.charged = 0
	}
}

// slowAfter and slowGap pace the reading of a body that is slow to
// arrive: after slowAfter, once what had arrived is read, the next read
// waits until slowGap after the last, and takes what arrived meanwhile in
// one gulp. A client that dribbles its body a few bytes at a time then
// wakes the server a few times a second, not once per write. A body that
// arrives within slowAfter (every ordinary one) is read as it comes, and a
// body that streams is never held back.
const (
	slowAfter = time.Second
	slowGap   = 250 * time.Millisecond
)

type pacedReader struct {
	r           io.Reader
	start, last time.Time
	short       bool // the last read took all there was
	now         func() time.Time
	sleep       func(time.Duration)
}

func newPacedReader(r io.Reader) *pacedReader {
	now := time.Now()
	return &pacedReader{r: r, start: now, last: now, now: time.Now, sleep: time.Sleep}
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.short {
		if now := p.now(); now.Sub(p.start) >= slowAfter {
			if wait := slowGap - now.Sub(p.last); wait > 0 {
				p.sleep(wait)
			}
		}
	}
	n, err := p.r.Read(b)
	p.last, p.short = p.now(), n < len(b)
	return n, err
}

// chunkSize is the unit a body is read in: most bodies fit in one.
const chunkSize = 16 << 10

var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// readSized reads r, announced to hold size bytes (at most a chunk), into
// a buffer of that size: no chunk to copy from. A body longer than it
// said is read on as readAll does.
func readSized(r io.Reader, size int) ([]byte, error) {
	buf := make([]byte, 0, size+1) // a byte more: the read that finds the end needs room
	for {
		if len(buf) == cap(buf) {
			rest, err := readAll(r)
			if err != nil {
				return nil, err
			}
			return append(buf, rest...), nil
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readAll reads r to its end into pooled chunks and joins them once at the
// end. io.ReadAll instead grows one buffer, allocating and zeroing a larger
// one and copying as it goes: for a body that trickles in, as a slow client
// sends it, that regrowth was most of the CPU the server spent on it. A
// body that is still arriving holds only the chunks it has filled.
func readAll(r io.Reader) ([]byte, error) {
	var full []*[chunkSize]byte
	defer func() {
		for _, c := range full {
			chunks.Put(c)
		}
	}()
	n := 0 // bytes in the last chunk
	for {
		if len(full) == 0 || n == chunkSize {
			full, n = append(full, chunks.Get().(*[chunkSize]byte)), 0
		}
		m, err := r.Read(full[len(full)-1][n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, (len(full)-1)*chunkSize+n)
	for i, c := range full {
		if i == len(full)-1 {
			return append(out, c[:n]...), nil
		}
		out = append(out, c[:]...)
	}
	return out, nil
}

// signedSet holds the signed values, reused from request to request:
// they are needed only until the signature is checked (Params, which the
// handler and the trail keep, is made anew).
type signedSet struct {
	values url.Values
	vals   []string // the values' backing array
	pairs  []string // scratch: the names and values as parsed
}

var signedSets = sync.Pool{New: func() any { return &signedSet{values: url.Values{}} }}

// maxPooledParams bounds the size of a set kept for reuse.
const maxPooledParams = 256

func (s *signedSet) release() {
	if len(s.values) > maxPooledParams || cap(s.pairs) > 2*maxPooledParams {
		return
	}
	clear(s.values)
	clear(s.vals)
	clear(s.pairs[:cap(s.pairs)])
	s.vals, s.pairs = s.vals[:0], s.pairs[:0]
	signedSets.Put(s)
}

// parseSigned merges the query string and an urlencoded form body. It
// returns them as Params (on an error, at most the Format asked) and, in a pooled set the caller releases once the
// signature is checked, as the url.Values the signature covers. A name
// given twice with the same value counts once (SDKs sign a map); with
// different values the request is ambiguous and refused. The signed values
// are therefore always the params, one value a name: they are built from
// them, sharing one backing array, rather than parsed again.
func parseSigned(r *http.Request, body []byte) (Params, *signedSet, *ecserr.Error) {
	var form string
	if len(body) > 0 && isForm(r.Header.Get("Content-Type")) {
		// The body is not changed after it is read: its strings can share
		// its bytes (one copy less of every body).
		form = unsafe.String(unsafe.SliceData(body), len(body))
	}
	set := signedSets.Get().(*signedSet)
	pairs, err := appendPairs(set.pairs[:0], r.URL.RawQuery)
	if err == nil && form != "" {
		if pairs, err = appendPairs(pairs, form); err != nil {
			set.pairs = pairs
			set.release()
			return nil, nil, ecserr.BadRequest("InvalidParameter", "The form body is not valid URL encoding: %v.", err)
		}
	}
	set.pairs = pairs
	if err != nil {
		set.release()
		return nil, nil, ecserr.BadRequest("InvalidParameter", "The query string is not valid URL encoding: %v.", err)
	}
	params := make(Params, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, v := pairs[i], pairs[i+1]
		if old, ok := params[k]; ok && old != v {
			// The parameters were read: the refusal is answered in the
			// Format they ask for (the form's too, which the caller's
			// fallback to the query would miss).
			f := Params{"Format": firstFormat(pairs)}
			set.release()
			return f, nil, ecserr.InvalidParameter(k, "it is given more than once with different values; send it once")
		}
		params[k] = v
	}
	vals := slices.Grow(set.vals[:0], len(params))[:len(params)]
	i := 0
	for k, v := range params {
		vals[i] = v
		set.values[k] = vals[i : i+1 : i+1]
		i++
	}
	set.vals = vals
	return params, set, nil
}

// firstFormat is the first Format among parsed name, value pairs.
func firstFormat(pairs []string) string {
	for i := 0; i < len(pairs); i += 2 {
		if pairs[i] == "Format" {
			return pairs[i+1]
		}
	}
	return ""
}

// isForm reports whether a Content-Type is an urlencoded form; the SDKs'
// exact spelling is matched without parsing it.
func isForm(ct string) bool {
	const form = "application/x-www-form-urlencoded"
	if ct == form || ct == form+"; charset=UTF-8" || ct == form+";charset=utf-8" {
		return true
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == form
}

// maxParams is net/url's default bound on the parameters of a query
// (GODEBUG urlmaxqueryparams), kept for the query and the form each.
const maxParams = 10000

// appendPairs parses a query (or form) as url.ParseQuery does, with its
// errors, appending name and value of each parameter to pairs: no map of
// slices is built for it, to be copied into Params after.
func appendPairs(pairs []string, query string) ([]string, error) {
	if query == "" {
		return pairs, nil
	}
	n := strings.Count(query, "&") + 1
	if n > maxParams {
		return pairs, errors.New("number of URL query parameters exceeded limit")
	}
	pairs = slices.Grow(pairs, 2*n)
	var err error
	for query != "" {
		var key string
		key, query, _ = strings.Cut(query, "&")
		if strings.Contains(key, ";") {
			err = errors.New("invalid semicolon separator in query")
			continue
		}
		if key == "" {
			continue
		}
		key, value, _ := strings.Cut(key, "=")
		key, err1 := url.QueryUnescape(key)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		value, err1 = url.QueryUnescape(value)
		if err1 != nil {
			if err == nil {
				err = err1
			}
			continue
		}
		pairs = append(pairs, key, value)
	}
	return pairs, err
}

// format maps the Format parameter to JSON or XML. XML is documented as the
// default, but no SDK relies on it and V3 requests send no Format at all, so
// only an explicit XML gets XML.
func format(f string) string {
	if strings.EqualFold(f, "XML") {
		return "XML"
	}
	return "JSON"
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) product() string {
	if s.Product != "" {
		return s.Product
	}
	return "Ecs"
}

func (s *Server) hostID(r *http.Request) string {
	if s.HostID != "" {
		return s.HostID
	}
	return r.Host
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
