package signature

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNonceCache(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	c := NewNonceCache(3)
	c.Grain = time.Second // the steps are whole seconds: expiry is exact
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
	if n := c.LenAt(t0.Add(time.Hour)); n != 1 {
		t.Errorf("Len = %d, want 1 (only e is live)", n)
	}
}

// TestNonceCacheGrain: a nonce is remembered at least until the time
// asked and at most one grain longer (to its bucket's end), whatever the
// order in which expiries arrive; buckets go as their ends pass.
func TestNonceCacheGrain(t *testing.T) {
	t0 := time.Unix(1_700_000_040, 0) // a whole minute: bucket ends fall on t0 + k minutes
	untils := []time.Duration{10*time.Minute + 5*time.Second, 3 * time.Minute, 10*time.Minute + 59*time.Second, time.Minute, 7 * time.Minute, 10*time.Minute + 30*time.Second}
	ends := []time.Duration{11 * time.Minute, 3 * time.Minute, 11 * time.Minute, time.Minute, 7 * time.Minute, 11 * time.Minute}
	for i, u := range untils {
		c := NewNonceCache(0)
		c.Grain = time.Minute
		if err := c.Use("n", t0, t0.Add(u)); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Duration{0, u - time.Nanosecond, ends[i] - time.Nanosecond} {
			if err := c.Use("n", t0.Add(at), t0.Add(at+time.Hour)); !errors.Is(err, ErrNonceUsed) {
				t.Errorf("until %s, at %s: %v, want it remembered (to %s)", u, at, err, ends[i])
			}
		}
		if err := c.Use("n", t0.Add(ends[i]), t0.Add(ends[i]+time.Hour)); err != nil {
			t.Errorf("until %s, at its bucket's end %s: %v, want it forgotten", u, ends[i], err)
		}
	}
	// All in one cache, expiries out of order: buckets go as their ends pass.
	c := NewNonceCache(0)
	c.Grain = time.Minute
	for i, u := range untils {
		if err := c.Use(fmt.Sprint("n", i), t0, t0.Add(u)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.LenAt(t0); n != len(untils) {
		t.Fatalf("Len = %d, want %d", n, len(untils))
	}
	if err := c.Use("fresh", t0.Add(10*time.Minute), t0.Add(10*time.Minute+time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := c.LenAt(t0.Add(10 * time.Minute)); n != 4 { // the three ending at 11m, and fresh
		t.Errorf("Len at 10m = %d, want 4", n)
	}
	if n := c.LenAt(t0.Add(11 * time.Minute)); n != 0 { // no Use since: nothing dropped, nothing counted
		t.Errorf("Len at 11m = %d, want 0", n)
	}
	for i, u := range untils {
		err := c.Use(fmt.Sprint("n", i), t0.Add(10*time.Minute), t0.Add(10*time.Minute+time.Second))
		if want := ends[i] > 10*time.Minute; errors.Is(err, ErrNonceUsed) != want {
			t.Errorf("n%d (until %s) at 10m: %v, want remembered %v", i, u, err, want)
		}
	}
}

// TestHashSet: the open-addressing set finds every hash it was given and
// none other, across its growths and with hashes that share their slot.
func TestHashSet(t *testing.T) {
	var s hashSet
	in := map[uint64]bool{}
	for i := uint64(1); i <= 5000; i++ {
		h := i * 0x9E3779B97F4A7C15
		if i%7 == 0 {
			h = i // small values side by side
		}
		h = max(h, 1)
		if in[h] {
			continue
		}
		// Every fourth hash goes from one slot: long runs must still work.
		slot := slotOf(h)
		if i%4 == 0 {
			slot = 42
		}
		s.add(h, slot)
		in[h] = true
		if !s.has(h, slot) {
			t.Fatalf("hash %d not found right after it was added", h)
		}
	}
	if s.n != len(in) || 4*s.n > 3*len(s.slots) {
		t.Fatalf("n = %d for %d hashes in %d slots", s.n, len(in), len(s.slots))
	}
	for h := range in {
		if !s.has(h, slotOf(h)) && !s.has(h, 42) {
			t.Fatalf("hash %d lost after growth", h)
		}
	}
	for i := uint64(1); i <= 5000; i++ {
		if h := i*0x9E3779B97F4A7C15 + 1; !in[h] && s.has(h, slotOf(h)) {
			t.Fatalf("hash %d found, never added", h)
		}
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
		if err := c.UseKey(u.ak, u.nonce, now, now.Add(10*time.Minute)); err != nil {
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
		if err := d.UseKey(tc.ak, tc.nonce, now, now.Add(10*time.Minute)); !errors.Is(err, tc.want) {
			t.Errorf("%s/%s after load: %v, want %v", tc.ak, tc.nonce, err, tc.want)
		}
	}
	if _, err := NewNonceCache(0).ReadFrom(bytes.NewReader(make([]byte, 40))); err == nil {
		t.Error("a file in the old 40-byte format loaded; it must fail so the server refuses older requests")
	}

}

// TestNonceCacheLoadWindow: nonces saved under a narrow window and loaded
// under a wider one are kept the difference longer (a timestamp the wider
// window accepts finds its nonce), under a narrower one as saved; a file
// with an expiry beyond its window is refused as damaged.
func TestNonceCacheLoadWindow(t *testing.T) {
	now := time.Now()
	save := func(window, ttl time.Duration) []byte {
		c := &NonceCache{Window: window, Grain: time.Second}
		if err := c.Use("n", now, now.Add(ttl)); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name          string
		saved, loaded time.Duration
		ttl           time.Duration // when the saved cache forgets the nonce
		kept          time.Duration // when the loaded cache must still know it
		forgotten     time.Duration // and when it may not any more
	}{
		{"wider", time.Minute, 15 * time.Minute, time.Minute, 15*time.Minute - time.Second, 15*time.Minute + 2*time.Second},
		{"same", 15 * time.Minute, 15 * time.Minute, 10 * time.Minute, 10*time.Minute - time.Second, 10*time.Minute + 2*time.Second},
		{"narrower", 15 * time.Minute, time.Minute, 10 * time.Minute, 10*time.Minute - time.Second, 10*time.Minute + 2*time.Second},
	} {
		d := &NonceCache{Window: tc.loaded, Grain: time.Second}
		if _, err := d.ReadFrom(bytes.NewReader(save(tc.saved, tc.ttl))); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := d.Use("n", now.Add(tc.kept), now.Add(tc.kept+time.Second)); !errors.Is(err, ErrNonceUsed) {
			t.Errorf("%s: at %s after loading: %v, want it remembered", tc.name, tc.kept, err)
		}
		if err := d.Use("n", now.Add(tc.forgotten), now.Add(tc.forgotten+time.Second)); err != nil {
			t.Errorf("%s: at %s after loading: %v, want it forgotten", tc.name, tc.forgotten, err)
		}
	}
	// An expiry further than twice the window (and the grains) is damage.
	if _, err := (&NonceCache{Window: time.Minute, Grain: time.Second}).ReadFrom(bytes.NewReader(save(time.Minute, 10*time.Minute))); err == nil || !strings.Contains(err.Error(), "beyond its window") {
		t.Errorf("an expiry 10m ahead under a 1m window loaded: %v", err)
	}
}

// BenchmarkNonceCacheMemory fills a cache with a million nonces of one key
// (a few minutes of a busy server) and reports the heap they take, beside
// a Go map of hash to expiry with an expiry heap (what the cache was
// before) filled with the same, in the same run.
func BenchmarkNonceCacheMemory(b *testing.B) {
	const n = 1_000_000
	now := time.Now()
	heapOf := func(fill func()) float64 {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		fill()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		return float64(m1.HeapInuse-m0.HeapInuse) / n
	}
	var cache, baseline float64
	for b.Loop() {
		var c *NonceCache
		cache = heapOf(func() {
			c = NewNonceCache(n)
			for i := range n {
				// Expiries spread over 15 minutes, as timestamps a second apart would be.
				c.UseKey("k", strconv.Itoa(i), now, now.Add(time.Duration(i)*time.Millisecond))
			}
		})
		runtime.KeepAlive(c)
		type expiry struct{ h, at int64 }
		var m map[uint64]int64
		var h []expiry
		baseline = heapOf(func() {
			m = map[uint64]int64{}
			for i := range n {
				at := now.Add(time.Duration(i) * time.Millisecond).UnixNano()
				k := nonceHash(strconv.Itoa(i))
				m[k] = at
				h = append(h, expiry{int64(k), at})
			}
		})
		runtime.KeepAlive(m)
		runtime.KeepAlive(h)
	}
	b.ReportMetric(cache, "B/nonce")
	b.ReportMetric(baseline, "baseline-B/nonce")
	b.ReportMetric(baseline/cache, "x-smaller")
}

// FuzzNonceCache plays a sequence of uses (a nonce of a few, time moving
// on, an expiry ahead or behind) against a plain map of each nonce's
// expiry rounded up to the grain, with a save and load of the cache in the
// middle: they must agree on every answer and on Len.
func FuzzNonceCache(f *testing.F) {
	f.Add([]byte{0, 1, 5, 0, 0, 5, 1, 3, 2, 0, 200, 1})
	f.Add([]byte{3, 0, 255, 3, 255, 1, 3, 0, 0, 7, 9, 9, 7, 0, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const grain = 10 * time.Second
		// After the wall clock: a load drops what expired by it. The
		// window covers how far the ops can move time (a load refuses
		// expiries beyond twice the window).
		t0 := time.Now().Add(time.Hour).Truncate(time.Second)
		ops = ops[:min(len(ops), 3000)]
		c := &NonceCache{Max: 1 << 20, Grain: grain, Window: 48 * time.Hour}
		model := map[string]time.Time{} // nonce → remembered until (exclusive)
		now := t0
		for i := 0; i+2 < len(ops); i += 3 {
			nonce := fmt.Sprint("n", ops[i]) // up to 256: sets grow past their first 64 slots
			now = now.Add(time.Duration(ops[i+1]) * time.Second / 4)
			until := now.Add(time.Duration(int(ops[i+2])-64) * time.Second)
			err := c.Use(nonce, now, until)
			used := model[nonce].After(now)
			if errors.Is(err, ErrNonceUsed) != used || (err != nil && !used) {
				t.Fatalf("op %d: %s at %s until %s: %v, the model says used %v", i/3, nonce, now.Sub(t0), until.Sub(t0), err, used)
			}
			if !used && until.After(now) {
				end := until.Truncate(grain)
				if end.Before(until) {
					end = end.Add(grain)
				}
				model[nonce] = end
			}
			if i == len(ops)/2/3*3 { // halfway: a restart with the saved cache
				var buf bytes.Buffer
				if _, err := c.WriteTo(&buf); err != nil {
					t.Fatal(err)
				}
				c = &NonceCache{Max: 1 << 20, Grain: grain, Window: 48 * time.Hour}
				if _, err := c.ReadFrom(&buf); err != nil {
					t.Fatal(err)
				}
			}
		}
		live := 0
		for _, u := range model {
			if u.After(now) {
				live++
			}
		}
		if n := c.LenAt(now); n != live {
			t.Fatalf("Len = %d, the model has %d live", n, live)
		}
	})
}
