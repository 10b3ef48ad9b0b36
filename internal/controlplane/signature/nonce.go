package signature

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultMaxNonces bounds the live nonces of one access key: enough for a
// key to sustain about 550 requests a second over the 15 minutes (and a
// grain) a nonce of a current timestamp is kept under the default window
// (a per-account rate limit binds first), at
// about 19 bytes each (some 10 MiB at the bound).
const DefaultMaxNonces = 1 << 19

// DefaultNonceGrain is the width of a NonceCache's expiry buckets when
// Grain is 0: 1/32 of the 30 minutes a nonce is kept at most under the
// default skew window.
const DefaultNonceGrain = 2 * DefaultMaxSkew / 32

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
// until (the request's timestamp plus the skew window, up to twice the
// window after now). It returns an error wrapping ErrNonceUsed if ak used nonce
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
// keeps each nonce until its request's timestamp leaves the skew window,
// which is as long as a replay could otherwise pass. It is safe for
// concurrent use; the zero value is ready and holds up to DefaultMaxNonces
// per key.
//
// A server remembers every nonce its keys sent within the window (millions
// at a few thousand requests a second), so the cache is built for memory:
// a nonce is stored as a 64-bit hash (the first 8 bytes of its SHA-256, so
// a long nonce costs no more than a short one) in an open-addressing set of
// its expiry bucket, 11 to 21 bytes a nonce (19 in BenchmarkNonceCacheMemory)
// where a Go map and an expiry heap took 45 to 65. A set that grows
// re-places its hashes under the cache's lock, about a millisecond per
// 50,000; at the default rate limits a bucket holds some 24,000. A bucket holds the nonces that expire within one
// Grain and is dropped whole once its end has passed: a nonce is
// remembered until the end of its bucket, never less than asked and at
// most Grain more. Two different nonces of the same key collide with a
// chance of 1 in 2^64 per pair; a collision only refuses a genuine request
// as replayed (the client retries with a fresh nonce), it never lets a
// replay through, and only a holder of the key can put nonces into its set
// at all.
type NonceCache struct {
	Max   int           // live entries per key at most; 0 means DefaultMaxNonces
	Grain time.Duration // width of the expiry buckets; 0 means DefaultNonceGrain
	// Window is the skew window the nonces are kept for (0 means
	// DefaultMaxSkew). WriteTo saves it with them, so that ReadFrom under
	// a wider window keeps them for the difference longer: a timestamp
	// the wider window accepts must find its nonce.
	Window time.Duration

	mu   sync.Mutex
	keys map[string]*nonceSet
	uses int // Use calls since the last sweep of idle keys
}

// nonceSet is one access key's live nonces, by expiry bucket.
type nonceSet struct {
	buckets []nonceBucket // by end, oldest first; every end is in the future
	n       int           // nonces in all buckets
}

// nonceBucket holds the nonces to be remembered until end (Unix
// nanoseconds, a multiple of the grain).
type nonceBucket struct {
	end int64
	set hashSet
}

// NewNonceCache returns a cache holding at most max live nonces per key
// (0 = default).
func NewNonceCache(max int) *NonceCache { return &NonceCache{Max: max} }

// nonceHash is what the cache keeps of a nonce: never 0, which marks a
// free slot (so the hashes 0 and 1 are one, one more collision in 2^64).
func nonceHash(nonce string) uint64 {
	d := sha256.Sum256([]byte(nonce))
	return max(binary.BigEndian.Uint64(d[:8]), 1)
}

// slotSeed seeds where a hash goes in a hashSet, so that a key holder
// cannot grind nonces whose hashes crowd one run of slots.
var slotSeed = maphash.MakeSeed()

func slotOf(h uint64) uint64 { return maphash.Comparable(slotSeed, h) }

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

// UseKey records nonce as used by access key ak until the time until (the
// end of until's bucket). It returns ErrNonceUsed if ak already used the
// nonce and it has not expired at now, and ErrNonceCacheFull if ak's live
// nonces are at the bound.
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
			if s.expire(t); s.n == 0 {
				delete(c.keys, k)
			}
		}
	}
	s := c.keys[ak]
	if s == nil {
		s = &nonceSet{}
		c.keys[strings.Clone(ak)] = s // ak may point into a whole request body
	}
	s.expire(t)
	slot := slotOf(h)
	if s.has(h, slot) {
		return ErrNonceUsed
	}
	if u <= t {
		return nil // already expired: nothing to remember
	}
	max := c.Max
	if max <= 0 {
		max = DefaultMaxNonces
	}
	if s.n >= max {
		return ErrNonceCacheFull
	}
	s.add(h, slot, c.bucketEnd(u))
	return nil
}

// bucketEnd is the end of the bucket that remembers a nonce until u: u
// rounded up to the grain.
func (c *NonceCache) bucketEnd(u int64) int64 {
	g := int64(c.Grain)
	if g <= 0 {
		g = int64(DefaultNonceGrain)
	}
	end := u / g * g
	if end < u {
		if end > math.MaxInt64-g {
			return math.MaxInt64
		}
		end += g
	}
	return end
}

func (c *NonceCache) window() time.Duration {
	if c.Window > 0 {
		return c.Window
	}
	return DefaultMaxSkew
}

func (s *nonceSet) has(h, slot uint64) bool {
	for i := range s.buckets {
		if s.buckets[i].set.has(h, slot) {
			return true
		}
	}
	return false
}

// add puts h in the bucket ending at end, made if there is none (most
// nonces go to the newest buckets, so the search runs from the back).
func (s *nonceSet) add(h, slot uint64, end int64) {
	i := len(s.buckets)
	for i > 0 && s.buckets[i-1].end > end {
		i--
	}
	if i == 0 || s.buckets[i-1].end != end {
		s.buckets = slices.Insert(s.buckets, i, nonceBucket{end: end})
		i++
	}
	s.buckets[i-1].set.add(h, slot)
	s.n++
}

// Len returns the number of nonces of all keys remembered now.
func (c *NonceCache) Len() int { return c.LenAt(time.Now()) }

// LenAt returns the number of nonces of all keys remembered at now
// (buckets past their end count for none, dropped or not yet).
func (c *NonceCache) LenAt(now time.Time) int {
	t := now.UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.keys {
		for _, b := range s.buckets {
			if b.end > t {
				n += b.set.n
			}
		}
	}
	return n
}

// expire drops the buckets whose end is at or before t.
func (s *nonceSet) expire(t int64) {
	k := 0
	for k < len(s.buckets) && s.buckets[k].end <= t {
		s.n -= s.buckets[k].set.n
		k++
	}
	if k > 0 {
		s.buckets = slices.Delete(s.buckets, 0, k)
	}
}

// hashSet is a set of nonzero 64-bit hashes with open addressing and
// linear probing in one slice: 8 bytes a slot, filled to at most 3/4 (a Go
// map takes 16 a slot for the same, with more slack). A hash h goes from
// slot slotOf(h) on; callers pass it, computed once for every bucket. Sets
// are never shrunk nor emptied one by one: a whole bucket is dropped.
type hashSet struct {
	slots []uint64
	n     int
}

func (s *hashSet) has(h, slot uint64) bool {
	if s.n == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := slot & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			return false
		case h:
			return true
		}
	}
}

// add puts h in the set (it must not be there).
func (s *hashSet) add(h, slot uint64) {
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	s.put(h, slot)
	s.n++
}

func (s *hashSet) put(h, slot uint64) {
	mask := uint64(len(s.slots) - 1)
	i := slot & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = h
}

// grow doubles the slots (from 64), re-placing every hash.
func (s *hashSet) grow() {
	old := s.slots
	s.slots = make([]uint64, max(64, 2*len(old)))
	for _, h := range old {
		if h != 0 {
			s.put(h, slotOf(h))
		}
	}
}

// nonceFileMagic starts a saved cache. A file without it (an older format)
// fails to load, and the server then refuses requests signed before its
// start, which is safe.
const nonceFileMagic = "palisade-nonces-3\n"

// WriteTo saves the live nonces (the window, then per key: the key, then
// hash and expiry of each nonce), so that a restarted server still refuses replays of requests
// it served before.
func (c *NonceCache) WriteTo(w io.Writer) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cw := &countWriter{w: bufio.NewWriter(w)}
	io.WriteString(cw, nonceFileMagic)
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(c.window()))
	cw.Write(buf[:8])
	for ak, s := range c.keys {
		if s.n == 0 {
			continue
		}
		binary.BigEndian.PutUint16(buf[:2], uint16(len(ak)))
		binary.BigEndian.PutUint32(buf[2:6], uint32(s.n))
		cw.Write(buf[:6])
		io.WriteString(cw, ak)
		for _, b := range s.buckets {
			for _, h := range b.set.slots {
				if h == 0 {
					continue
				}
				binary.BigEndian.PutUint64(buf[:8], h)
				binary.BigEndian.PutUint64(buf[8:], uint64(b.end))
				cw.Write(buf[:])
			}
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
	if err := read(buf[:8]); err != nil {
		return n, fmt.Errorf("saved nonce cache: %w", err)
	}
	saved := time.Duration(binary.BigEndian.Uint64(buf[:8]))
	if saved <= 0 {
		return n, fmt.Errorf("saved nonce cache: window %s", saved)
	}
	// Kept the longer by the difference a wider window makes, and none
	// beyond what either window allows: a file that says otherwise is
	// damaged (and refused, so the server refuses older requests instead).
	extend := max(0, c.window()-saved)
	grain := time.Duration(c.bucketEnd(1))
	limit := now + int64(2*max(saved, c.window())+2*grain)
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
			s = &nonceSet{}
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
			if at > limit-int64(extend) {
				return n, fmt.Errorf("saved nonce cache: an expiry %s ahead, beyond its window", time.Duration(at-now))
			}
			at += int64(extend)
			if h = max(h, 1); at > now && !s.has(h, slotOf(h)) {
				s.add(h, slotOf(h), c.bucketEnd(at))
			}
		}
	}
}
