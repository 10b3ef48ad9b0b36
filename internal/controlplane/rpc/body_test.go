package rpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// readAll returns exactly what was sent, however it arrives, and the
// error of a body that breaks off.
func TestReadAll(t *testing.T) {
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 5} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i * 7)
		}
		for name, r := range map[string]io.Reader{
			"whole":        bytes.NewReader(want),
			"byte by byte": iotest.OneByteReader(bytes.NewReader(want)),
			"half reads":   iotest.HalfReader(bytes.NewReader(want)),
			"data and EOF": iotest.DataErrReader(bytes.NewReader(want)),
		} {
			got, err := readAll(r)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%d bytes, %s: got %d bytes (equal %v), %v", n, name, len(got), bytes.Equal(got, want), err)
			}
		}
		// readSized, told the right size or a wrong one (a body reader
		// that does not hold to its announced length).
		for _, size := range []int{n, max(n-1, 0), n + 1, 1} {
			for name, r := range map[string]io.Reader{
				"whole":        bytes.NewReader(want),
				"byte by byte": iotest.OneByteReader(bytes.NewReader(want)),
				"data and EOF": iotest.DataErrReader(bytes.NewReader(want)),
			} {
				got, err := readSized(r, size)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("readSized %d of %d bytes, %s: got %d bytes (equal %v), %v", size, n, name, len(got), bytes.Equal(got, want), err)
				}
			}
		}
	}
	broken := errors.New("connection reset")
	if _, err := readAll(io.MultiReader(bytes.NewReader(make([]byte, chunkSize+3)), iotest.ErrReader(broken))); !errors.Is(err, broken) {
		t.Errorf("a broken body: %v", err)
	}
	for _, n := range []int{3, chunkSize + 3} {
		if _, err := readSized(io.MultiReader(bytes.NewReader(make([]byte, n)), iotest.ErrReader(broken)), 10); !errors.Is(err, broken) {
			t.Errorf("readSized, a broken body of %d bytes: %v", n, err)
		}
	}
}

// BenchmarkReadAllTrickle reads a 1 MiB body that arrives 4 KiB at a time,
// as the load program's slow clients send it; compare the B/op with
// BenchmarkReadAllTrickleStd (io.ReadAll, what the server used before).
func BenchmarkReadAllTrickle(b *testing.B) {
	benchTrickle(b, readAll)
}

func BenchmarkReadAllTrickleStd(b *testing.B) {
	benchTrickle(b, io.ReadAll)
}

func benchTrickle(b *testing.B, read func(io.Reader) ([]byte, error)) {
	body := make([]byte, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := read(&trickle{data: body, step: 4 << 10}); err != nil {
			b.Fatal(err)
		}
	}
}

// trickle returns at most step bytes a read.
type trickle struct {
	data []byte
	step int
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), t.step)], t.data)
	t.data = t.data[n:]
	return n, nil
}

// dribble returns one byte a read, tick after the previous, on a fake
// clock; its reads count the server's wakeups.
type dribble struct {
	left  int
	clock *time.Time
	tick  time.Duration
	reads int
}

func (d *dribble) Read(p []byte) (int, error) {
	if d.left == 0 {
		return 0, io.EOF
	}
	*d.clock = d.clock.Add(d.tick)
	d.reads++
	d.left--
	p[0] = 'x'
	return 1, nil
}

// A body dribbled a byte every 10 ms is read as it comes for slowAfter,
// then in gulps at most every slowGap; one that streams (full reads) is
// never held back, however long it takes.
func TestPacedReader(t *testing.T) {
	for _, tc := range []struct {
		name       string
		size       int
		tick       time.Duration
		wantSleeps int
	}{
		{"ordinary body, at once", 500, 0, 0},
		{"dribbled within slowAfter", 90, 10 * time.Millisecond, 0},
		{"dribbled past slowAfter", 110, 10 * time.Millisecond, 11}, // the last 10 bytes and the end
	} {
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		d := &dribble{left: tc.size, clock: &clock, tick: tc.tick}
		sleeps := 0
		p := &pacedReader{r: d, start: clock, last: clock, now: func() time.Time { return clock },
			sleep: func(w time.Duration) {
				if w > slowGap {
					t.Errorf("%s: slept %v, more than slowGap", tc.name, w)
				}
				sleeps++
				clock = clock.Add(w)
			}}
		buf := make([]byte, 4)
		for {
			if _, err := p.Read(buf); err != nil {
				break
			}
		}
		if sleeps != tc.wantSleeps {
			t.Errorf("%s: %d pauses, want %d", tc.name, sleeps, tc.wantSleeps)
		}
	}
	// A long body that streams: every read fills the buffer, no pause.
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &pacedReader{r: bytes.NewReader(make([]byte, 1<<20)), start: clock.Add(-time.Hour), last: clock,
		now: func() time.Time { return clock }, sleep: func(time.Duration) { t.Error("a streaming body was held back") }}
	if got, err := readAll(p); err != nil || len(got) != 1<<20 {
		t.Errorf("streaming body: %d bytes, %v", len(got), err)
	}
}

// TestLargeBodiesShareABudget: a large body beyond the bytes large bodies
// may hold at once waits unread until one is in, while small requests are
// answered meanwhile; a waiter whose wait (at most its body timeout)
// passes is refused.
func TestLargeBodiesShareABudget(t *testing.T) {
	s := testServer(t, nil)
	s.LargeBody, s.MaxLargeBodies, s.BodyTimeout = 1<<10, 3<<10, 5*time.Second
	hs := httptest.NewServer(s)
	defer hs.Close()
	form := "Action=DescribeRegions&Version=" + version + "&Pad="
	body := form + strings.Repeat("x", 2048-len(form))
	send := func(announced int, part string) net.Conn {
		c, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", announced, part)
		return c
	}
	answer := func(c net.Conn, within time.Duration) (string, bool) {
		c.SetReadDeadline(time.Now().Add(within))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err.Error(), false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), true
	}

	slow := send(len(body), body[:100]) // holds 2 KiB of the 3 KiB
	time.Sleep(100 * time.Millisecond)  // let the server start reading it
	waiting := send(len(body), body)    // whole, but 2+2 KiB > 3 KiB
	if got, ok := answer(waiting, 300*time.Millisecond); ok {
		t.Fatalf("a large body over the budget was read while another was: %s", got)
	}
	small := httptest.NewRequest("GET", "/?"+signedV1("GET", "DescribeRegions", "testsecret", nil).Encode(), nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, small)
	if w.Code != 200 {
		t.Fatalf("a small request while large bodies wait: %d %s", w.Code, w.Body)
	}
	io.WriteString(slow, body[100:])
	for name, c := range map[string]net.Conn{"the slow body": slow, "the waiting body": waiting} {
		if got, ok := answer(c, 3*time.Second); !ok || !strings.Contains(got, "Code") {
			t.Errorf("%s, once in: %q, want an answer", name, got)
		}
	}

	s.BodyTimeout = 200 * time.Millisecond
	s.largeBodies().Acquire(context.Background(), 2<<10) // as a slow body would
	defer s.largeBodies().Release(2 << 10)
	if got, _ := answer(send(len(body), body), 3*time.Second); !strings.Contains(got, "ServiceUnavailable") {
		t.Errorf("a large body that waited past its timeout: %q, want ServiceUnavailable", got)
	}
}

// TestThrottledDelay: an answer with a Throttling code is held for
// ThrottledDelay; others are not.
func TestThrottledDelay(t *testing.T) {
	s := testServer(t, nil)
	s.ThrottledDelay = time.Second
	s.Routes[RouteKey{version, "Throttled"}] = func(ctx context.Context, req *Request) (any, error) {
		return nil, ecserr.New(http.StatusBadRequest, "Throttling.User", "slow down")
	}
	for _, tc := range []struct {
		action string
		held   bool
	}{{"Throttled", true}, {"DescribeSecurityGroupAttribute", false}, {"DescribeRegions", false}} {
		start := time.Now()
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/?"+signedV1("GET", tc.action, "testsecret", nil).Encode(), nil))
		if held := time.Since(start) >= s.ThrottledDelay; held != tc.held {
			t.Errorf("%s (%d): held %v, want %v", tc.action, w.Code, held, tc.held)
		}
	}
}

// TestStalledLargeBodiesHoldLittle: clients that announce large bodies and
// then send nothing hold only a chunk each of the large-body budget, not
// what they announce, so a real large body from another client is still
// read and answered meanwhile (before, four such clients held the whole
// budget and it was refused with ServiceUnavailable).
func TestStalledLargeBodiesHoldLittle(t *testing.T) {
	s := testServer(t, nil)
	s.MaxLargeBodies, s.BodyTimeout = 4<<20, 10*time.Second
	hs := httptest.NewServer(s)
	defer hs.Close()
	for range 4 {
		c, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", 1<<20)
	}
	time.Sleep(200 * time.Millisecond) // let the server start reading them
	for _, size := range []int{200 << 10, 900 << 10} {
		body := signedV1("POST", "DescribeRegions", "testsecret", url.Values{"Pad": {strings.Repeat("x", size)}}).Encode()
		resp, err := http.Post(hs.URL+"/", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("a %d-byte body while others stall: %d %s, want 200", len(body), resp.StatusCode, got)
		}
	}
}

// TestLargeBodiesSharePerAddress: many stalled connections from one
// address hold at most that address's share of the large-body budget, so
// a large body from another address is still read.
func TestLargeBodiesSharePerAddress(t *testing.T) {
	s := testServer(t, nil)
	s.LargeBody, s.MaxBodyBytes, s.MaxLargeBodies, s.BodyTimeout = 1<<10, 32<<10, 128<<10, 10*time.Second
	hs := httptest.NewServer(s)
	defer hs.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	for range 16 { // 16 chunks of 16 KiB: twice the budget
		c, err := d.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Skipf("cannot dial from 127.0.0.2: %v", err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nAction=", 32<<10)
	}
	time.Sleep(200 * time.Millisecond) // let the server start reading them
	body := signedV1("POST", "DescribeRegions", "testsecret", url.Values{"Pad": {strings.Repeat("x", 20<<10)}}).Encode()
	resp, err := http.Post(hs.URL+"/", "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a %d-byte body while another address stalls: %d %s, want 200", len(body), resp.StatusCode, got)
	}
}
