package signature

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"
)

// DefaultMaxNonces bounds a NonceCache's memory (about 100 bytes per entry,
// so roughly 100 MiB at the limit).
const DefaultMaxNonces = 1 << 20

var (
	// ErrNonceUsed means the nonce was already seen within its window.
	ErrNonceUsed = errors.New("signature nonce already used")
	// ErrNonceCacheFull means too many live nonces are remembered; the
	// request is refused rather than forgetting nonces early, which would
	// let replays through.
	ErrNonceCacheFull = errors.New("too many recent requests to remember their nonces")
)

// NonceCache remembers used nonces until they expire. The Verifier keeps
// each one until its request's timestamp leaves the 15-minute window (at
// most 30 minutes after first use), which is exactly as long as a replay
// could otherwise pass. It is safe for
// concurrent use; the zero value is ready and holds up to DefaultMaxNonces.
// Nonces are stored as SHA-256 digests, so a long nonce costs no more memory
// than a short one.
type NonceCache struct {
	Max int // live entries at most; 0 means DefaultMaxNonces

	mu   sync.Mutex
	seen map[[32]byte]int64 // digest → expiry (Unix nanoseconds)
	exp  expiryHeap
}

// NewNonceCache returns a cache holding at most max live nonces (0 = default).
func NewNonceCache(max int) *NonceCache { return &NonceCache{Max: max} }

// Use records nonce as used until the time until. It returns ErrNonceUsed if
// the nonce is already recorded and has not expired at now, and
// ErrNonceCacheFull if the cache is full of live nonces.
func (c *NonceCache) Use(nonce string, now, until time.Time) error {
	key := sha256.Sum256([]byte(nonce))
	t, u := now.UnixNano(), until.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[[32]byte]int64)
	}
	c.expire(t)
	if e, ok := c.seen[key]; ok && e > t {
		return ErrNonceUsed
	}
	if u <= t {
		return nil // already expired: nothing to remember
	}
	max := c.Max
	if max <= 0 {
		max = DefaultMaxNonces
	}
	if len(c.seen) >= max {
		return ErrNonceCacheFull
	}
	c.seen[key] = u
	heap.Push(&c.exp, expiry{key, u})
	return nil
}

// Len returns the number of remembered nonces (expired ones may linger until
// the next Use).
func (c *NonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// expire drops entries whose expiry is at or before t.
func (c *NonceCache) expire(t int64) {
	for len(c.exp) > 0 && c.exp[0].at <= t {
		e := heap.Pop(&c.exp).(expiry)
		if c.seen[e.key] == e.at { // not re-recorded since
			delete(c.seen, e.key)
		}
	}
}

type expiry struct {
	key [32]byte
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

// WriteTo saves the live nonces (digest and expiry), so that a restarted
// server still refuses replays of requests it served before.
func (c *NonceCache) WriteTo(w io.Writer) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	buf := make([]byte, 40)
	for k, at := range c.seen {
		copy(buf, k[:])
		binary.BigEndian.PutUint64(buf[32:], uint64(at))
		m, err := w.Write(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReadFrom loads nonces saved by WriteTo; expired ones are dropped.
func (c *NonceCache) ReadFrom(r io.Reader) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[[32]byte]int64)
	}
	now := time.Now().UnixNano()
	var n int64
	buf := make([]byte, 40)
	for {
		m, err := io.ReadFull(r, buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		var k [32]byte
		copy(k[:], buf)
		at := int64(binary.BigEndian.Uint64(buf[32:]))
		if at > now && at > c.seen[k] {
			c.seen[k] = at
			heap.Push(&c.exp, expiry{k, at})
		}
	}
}
