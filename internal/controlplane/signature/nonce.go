package signature

import (
	"bufio"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// DefaultMaxNonces bounds the live nonces of one access key: enough for a
// key to sustain about 290 requests a second over the 30 minutes a nonce is
// kept, at about 50 bytes each (some 25 MiB at the bound).
const DefaultMaxNonces = 1 << 19

var (
	// ErrNonceUsed means the nonce was already seen within its window.
	ErrNonceUsed = errors.New("signature nonce already used")
	// ErrNonceCacheFull means the key has too many live nonces; the request
	// is refused rather than forgetting nonces early, which would let
	// replays through. Only that key is refused: each key has its own bound.
	ErrNonceCacheFull = errors.New("too many recent requests with this access key to remember their nonces")
)

// NonceStore records the nonces of verified requests, so that a replay is
// refused. UseNonce records nonce as used by access key ak until the time
// until (the request's timestamp plus the skew window, up to 30 minutes
// after now). It returns an error wrapping ErrNonceUsed if ak used nonce
// before and it has not expired, one wrapping ErrNonceCacheFull if ak has
// too many live nonces, and any other error when the store cannot answer
// (the request is then refused). A *NonceCache is the store of one
// process; several servers of one installation share one on etcd.
type NonceStore interface {
	UseNonce(ctx context.Context, ak, nonce string, now, until time.Time) error
}

var _ NonceStore = (*NonceCache)(nil)

// NonceCache remembers used nonces until they expire, separately for each
// access key, so one key that floods fills only its own share. The Verifier
// keeps each nonce until its request's timestamp leaves the 15-minute window
// (at most 30 minutes after first use), which is exactly as long as a replay
// could otherwise pass. It is safe for concurrent use; the zero value is
// ready and holds up to DefaultMaxNonces per key.
//
// A nonce is stored as a 64-bit hash (the first 8 bytes of its SHA-256), so
// a long nonce costs no more than a short one. Two different nonces of the
// same key collide with a chance of 1 in 2^64 per pair; a collision only
// refuses a genuine request as replayed (the client retries with a fresh
// nonce), it never lets a replay through, and only a holder of the key can
// put nonces into its set at all.
type NonceCache struct {
	Max int // live entries per key at most; 0 means DefaultMaxNonces

	mu   sync.Mutex
	keys map[string]*nonceSet
	uses int // Use calls since the last sweep of idle keys
}

// nonceSet is one access key's live nonces.
type nonceSet struct {
	seen map[uint64]int64 // nonce hash → expiry (Unix nanoseconds)
	exp  expiryHeap
}

// NewNonceCache returns a cache holding at most max live nonces per key
// (0 = default).
func NewNonceCache(max int) *NonceCache { return &NonceCache{Max: max} }

func nonceHash(nonce string) uint64 {
	d := sha256.Sum256([]byte(nonce))
	return binary.BigEndian.Uint64(d[:8])
}

// Use records nonce as used until the time until, under no particular key;
// see UseKey.
func (c *NonceCache) Use(nonce string, now, until time.Time) error {
	return c.UseKey("", nonce, now, until)
}

// UseNonce is UseKey, as a NonceStore (the cache never waits, so ctx is
// unused).
func (c *NonceCache) UseNonce(_ context.Context, ak, nonce string, now, until time.Time) error {
	return c.UseKey(ak, nonce, now, until)
}

// UseKey records nonce as used by access key ak until the time until. It
// returns ErrNonceUsed if ak already used the nonce and it has not expired at
// now, and ErrNonceCacheFull if ak's live nonces are at the bound.
func (c *NonceCache) UseKey(ak, nonce string, now, until time.Time) error {
	h := nonceHash(nonce)
	t, u := now.UnixNano(), until.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = make(map[string]*nonceSet)
	}
	// Now and then drop what idle keys no longer need, so that memory
	// follows the live nonces, not every key ever seen.
	if c.uses++; c.uses >= 4096 {
		c.uses = 0
		for k, s := range c.keys {
			if s.expire(t); len(s.seen) == 0 {
				delete(c.keys, k)
			}
		}
	}
	s := c.keys[ak]
	if s == nil {
		s = &nonceSet{seen: make(map[uint64]int64)}
		c.keys[strings.Clone(ak)] = s // ak may point into a whole request body
	}
	s.expire(t)
	if e, ok := s.seen[h]; ok && e > t {
		return ErrNonceUsed
	}
	if u <= t {
		return nil // already expired: nothing to remember
	}
	max := c.Max
	if max <= 0 {
		max = DefaultMaxNonces
	}
	if len(s.seen) >= max {
		return ErrNonceCacheFull
	}
	s.add(h, u)
	return nil
}

func (s *nonceSet) add(h uint64, at int64) {
	s.seen[h] = at
	heap.Push(&s.exp, expiry{h, at})
}

// Len returns the number of remembered nonces of all keys (expired ones may
// linger until the next Use).
func (c *NonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.keys {
		n += len(s.seen)
	}
	return n
}

// expire drops entries whose expiry is at or before t.
func (s *nonceSet) expire(t int64) {
	for len(s.exp) > 0 && s.exp[0].at <= t {
		e := heap.Pop(&s.exp).(expiry)
		if s.seen[e.key] == e.at { // not re-recorded since
			delete(s.seen, e.key)
		}
	}
}

type expiry struct {
	key uint64
	at  int64
}

// expiryHeap is a min-heap on expiry time; expiries are not monotonic in
// insertion order (they follow each request's own timestamp), hence a heap.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// nonceFileMagic starts a saved cache. A file without it (an older format)
// fails to load, and the server then refuses requests signed before its
// start, which is safe.
const nonceFileMagic = "palisade-nonces-2\n"

// WriteTo saves the live nonces (per key: the key, then hash and expiry of
// each nonce), so that a restarted server still refuses replays of requests
// it served before.
func (c *NonceCache) WriteTo(w io.Writer) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cw := &countWriter{w: bufio.NewWriter(w)}
	io.WriteString(cw, nonceFileMagic)
	var buf [16]byte
	for ak, s := range c.keys {
		if len(s.seen) == 0 {
			continue
		}
		binary.BigEndian.PutUint16(buf[:2], uint16(len(ak)))
		binary.BigEndian.PutUint32(buf[2:6], uint32(len(s.seen)))
		cw.Write(buf[:6])
		io.WriteString(cw, ak)
		for h, at := range s.seen {
			binary.BigEndian.PutUint64(buf[:8], h)
			binary.BigEndian.PutUint64(buf[8:], uint64(at))
			cw.Write(buf[:])
		}
	}
	if cw.err == nil {
		cw.err = cw.w.Flush()
	}
	return cw.n, cw.err
}

// countWriter counts what it writes and keeps the first error, so WriteTo
// checks once.
type countWriter struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// ReadFrom loads nonces saved by WriteTo; expired ones are dropped.
func (c *NonceCache) ReadFrom(r io.Reader) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil {
		c.keys = make(map[string]*nonceSet)
	}
	now := time.Now().UnixNano()
	br := bufio.NewReader(r)
	var n int64
	read := func(b []byte) error {
		m, err := io.ReadFull(br, b)
		n += int64(m)
		return err
	}
	magic := make([]byte, len(nonceFileMagic))
	if err := read(magic); err != nil || string(magic) != nonceFileMagic {
		return n, fmt.Errorf("not a saved nonce cache of this version")
	}
	var buf [16]byte
	for {
		err := read(buf[:6])
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		ak := make([]byte, binary.BigEndian.Uint16(buf[:2]))
		count := binary.BigEndian.Uint32(buf[2:6])
		if err := read(ak); err != nil {
			return n, err
		}
		s := c.keys[string(ak)]
		if s == nil {
			s = &nonceSet{seen: make(map[uint64]int64)}
			c.keys[string(ak)] = s
		}
		for range count {
			if err := read(buf[:]); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
			h := binary.BigEndian.Uint64(buf[:8])
			at := int64(binary.BigEndian.Uint64(buf[8:]))
			if at > now && at > s.seen[h] {
				s.add(h, at)
			}
		}
	}
}
