package signature

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNonceCache(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	c := NewNonceCache(3)
	steps := []struct {
		nonce   string
		now     time.Duration // since t0
		ttl     time.Duration // until = now + ttl
		wantErr error
	}{
		{"a", 0, 15 * time.Minute, nil},
		{"a", time.Minute, 15 * time.Minute, ErrNonceUsed},
		{"b", time.Minute, 5 * time.Minute, nil},
		{"c", time.Minute, 30 * time.Minute, nil},
		{"d", time.Minute, time.Minute, ErrNonceCacheFull},
		{"b", 6 * time.Minute, time.Minute, nil}, // b expired at 6m: usable again, frees room
		{"d", 6*time.Minute + 30*time.Second, time.Minute, ErrNonceCacheFull},
		{"d", 15 * time.Minute, time.Minute, nil}, // a (15m) and b (7m) expired
		{"c", 30*time.Minute - time.Nanosecond, 0, ErrNonceUsed},
		{"e", time.Hour, -time.Second, nil}, // already expired: accepted, not stored
		{"e", time.Hour, time.Minute, nil},
	}
	for i, s := range steps {
		now := t0.Add(s.now)
		err := c.Use(s.nonce, now, now.Add(s.ttl))
		if !errors.Is(err, s.wantErr) {
			t.Fatalf("step %d (%s at %s): err = %v, want %v", i, s.nonce, s.now, err, s.wantErr)
		}
	}
	if n := c.Len(); n != 1 {
		t.Errorf("Len = %d, want 1 (only e is live)", n)
	}
}

func TestNonceCacheZeroValue(t *testing.T) {
	var c NonceCache
	now := time.Now()
	if err := c.Use("x", now, now.Add(DefaultMaxSkew)); err != nil {
		t.Fatal(err)
	}
	if err := c.Use("x", now, now.Add(DefaultMaxSkew)); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("reuse: %v", err)
	}
}

// Many goroutines racing on the same nonces: each nonce is accepted once.
func TestNonceCacheConcurrent(t *testing.T) {
	c := NewNonceCache(0)
	now := time.Now()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if c.Use(fmt.Sprint(i), now, now.Add(time.Minute)) == nil {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 500 {
		t.Fatalf("accepted %d, want 500", ok.Load())
	}
}

// TestNonceCacheSaveLoad: WriteTo and ReadFrom keep each key's nonces apart
// and drop expired ones; a file of another format is refused.
func TestNonceCacheSaveLoad(t *testing.T) {
	now := time.Now()
	c := NewNonceCache(0)
	for _, u := range []struct{ ak, nonce string }{{"k1", "a"}, {"k1", "b"}, {"k2", "a"}} {
		if err := c.UseKey(u.ak, u.nonce, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	d := NewNonceCache(0)
	if _, err := d.ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ak, nonce string
		want      error
	}{{"k1", "a", ErrNonceUsed}, {"k1", "b", ErrNonceUsed}, {"k2", "a", ErrNonceUsed}, {"k2", "b", nil}, {"k3", "a", nil}} {
		if err := d.UseKey(tc.ak, tc.nonce, now, now.Add(time.Hour)); !errors.Is(err, tc.want) {
			t.Errorf("%s/%s after load: %v, want %v", tc.ak, tc.nonce, err, tc.want)
		}
	}
	if _, err := NewNonceCache(0).ReadFrom(bytes.NewReader(make([]byte, 40))); err == nil {
		t.Error("a file in the old 40-byte format loaded; it must fail so the server refuses older requests")
	}
}
