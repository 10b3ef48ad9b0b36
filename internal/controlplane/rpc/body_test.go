package rpc

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
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
	}
	broken := errors.New("connection reset")
	if _, err := readAll(io.MultiReader(bytes.NewReader(make([]byte, chunkSize+3)), iotest.ErrReader(broken))); !errors.Is(err, broken) {
		t.Errorf("a broken body: %v", err)
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
