package flowstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// batchOf is n records of account a, numbered from first.
func batchOf(first, n int) []Record {
	var out []Record
	for i := range n {
		out = append(out, rec("a", first+i, t0))
	}
	return out
}

// lastSegment is the newest segment file of dir.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	if len(files) == 0 {
		t.Fatal("no segment file")
	}
	return files[len(files)-1]
}

// ports are the records' SrcPorts, to compare what is kept.
func ports(recs []Record) []int {
	var out []int
	for _, r := range recs {
		out = append(out, r.SrcPort)
	}
	return out
}

// TestTornBatch: a crash in the middle of a batch's write leaves some of
// its lines on disk, whole or not; the batch was never acknowledged, so a
// load keeps none of them, and the sender's retry (same token) keeps the
// batch exactly once, then and after another restart. The batch acknowledged
// before it stays whole.
func TestTornBatch(t *testing.T) {
	const n = 5 // records of the torn batch
	for _, tc := range []struct {
		name string
		// cut makes what the crash left of the file: whole is the file's
		// bytes with the torn batch whole, at the offset where it begins.
		cut      func(whole []byte, at int) []byte
		wantTorn int
	}{
		{"one whole line of five", func(b []byte, at int) []byte { return b[:lineEnd(b, at, 1)] }, 1},
		{"four whole lines of five", func(b []byte, at int) []byte { return b[:lineEnd(b, at, 4)] }, 4},
		{"two lines and half of the third", func(b []byte, at int) []byte { return b[:lineEnd(b, at, 2)+20] }, 3},
		{"half of the first line", func(b []byte, at int) []byte { return b[:at+20] }, 1},
		{"every line but the last's newline", func(b []byte, at int) []byte { return b[:len(b)-1] }, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, Log: quiet}
			s := open(t, o)
			first := Batch{Host: "h1", Token: "b-1", Hash: "x1"}
			torn := Batch{Host: "h1", Token: "b-2", Hash: "x2"}
			if _, _, err := s.AppendBatch(first, batchOf(0, 3), t0); err != nil {
				t.Fatal(err)
			}
			path := lastSegment(t, dir)
			fi, _ := os.Stat(path)
			at := int(fi.Size())
			if _, _, err := s.AppendBatch(torn, batchOf(10, n), t0); err != nil {
				t.Fatal(err)
			}
			s.Close()
			whole, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.cut(whole, at), 0o600); err != nil {
				t.Fatal(err)
			}

			r := open(t, o)
			if got, st := ports(r.Of("a", t0)), r.Stats(); len(got) != 3 || st.Torn != tc.wantTorn {
				t.Fatalf("after the crash: records %v, %d torn lines; want the first batch's 3 and %d torn", got, st.Torn, tc.wantTorn)
			}
			// The sender never had an answer: it sends the batch again.
			k, again, err := r.AppendBatch(torn, batchOf(10, n), t0)
			if err != nil || again || k.Records != n {
				t.Fatalf("the retry: %+v again=%v err=%v, want %d records kept now", k, again, err, n)
			}
			want := []int{40000, 40001, 40002, 40010, 40011, 40012, 40013, 40014}
			if got := ports(r.Of("a", t0)); !slices.Equal(got, want) {
				t.Fatalf("after the retry: %v, want %v", got, want)
			}
			r.Close()
			if got := ports(open(t, o).Of("a", t0)); !slices.Equal(got, want) {
				t.Fatalf("after another restart: %v, want %v", got, want)
			}
		})
	}
}

// lineEnd is the offset after the kth line that begins at or after at.
func lineEnd(b []byte, at, k int) int {
	for ; k > 0; k-- {
		at += bytes.IndexByte(b[at:], '\n') + 1
	}
	return at
}

// TestRetriedBatch: a batch sent again under its token (its first answer
// lost) is answered as the first time and kept once, in memory and on
// disk, before and after a restart (a kill -9 after the sync, before the
// answer); the token reused for other records is refused; tokens are each
// host's own.
func TestRetriedBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dir     bool
		restart bool // between the first sending and the retry
	}{
		{"in memory", false, false},
		{"on disk", true, false},
		{"on disk, the server restarted", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Log: quiet}
			if tc.dir {
				o.Dir = t.TempDir()
			}
			s := open(t, o)
			b := Batch{Host: "h1", Token: "agent-7-1", Hash: "abc", Refused: 2}
			if k, again, err := s.AppendBatch(b, batchOf(0, 4), t0); err != nil || again || k != (Kept{4, 2}) {
				t.Fatalf("first: %+v again=%v err=%v", k, again, err)
			}
			if tc.restart {
				s.Close()
				s = open(t, o)
			}
			if k, ok, err := s.Sent(b); err != nil || !ok || k != (Kept{4, 2}) {
				t.Errorf("Sent: %+v ok=%v err=%v, want the first answer", k, ok, err)
			}
			k, again, err := s.AppendBatch(b, batchOf(0, 4), t0)
			if err != nil || !again || k != (Kept{4, 2}) {
				t.Errorf("retry: %+v again=%v err=%v, want the first answer again", k, again, err)
			}
			if got := s.Of("a", t0); len(got) != 4 {
				t.Errorf("%d records after a batch and its retry, want 4", len(got))
			}
			other := b
			other.Hash = "def"
			if _, _, err := s.AppendBatch(other, batchOf(100, 1), t0); !errors.Is(err, ErrTokenReused) {
				t.Errorf("the token with other records: %v, want ErrTokenReused", err)
			}
			h2 := b
			h2.Host = "h2"
			if _, again, err := s.AppendBatch(h2, batchOf(200, 1), t0); err != nil || again {
				t.Errorf("another host's batch under the same token: again=%v err=%v, want kept", again, err)
			}
			if got := s.Of("a", t0); len(got) != 5 {
				t.Errorf("%d records, want 5", len(got))
			}
		})
	}
}

// TestOlderLines: lines written before batches had headers (an older
// version's files) still load, one by one, and a batch after them too.
func TestOlderLines(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range batchOf(0, 3) {
		enc.Encode(r)
	}
	if err := os.WriteFile(filepath.Join(dir, "seg-00000000000000000000.jsonl"), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, Options{Dir: dir, Log: quiet})
	if _, _, err := s.AppendBatch(Batch{Host: "h1", Token: "t"}, batchOf(10, 2), t0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := open(t, Options{Dir: dir, Log: quiet})
	if got, want := ports(r.Of("a", t0)), []int{40000, 40001, 40002, 40010, 40011}; !slices.Equal(got, want) || r.Stats().Torn != 0 {
		t.Fatalf("records %v (%+v), want %v", got, r.Stats(), want)
	}
	if _, again, _ := r.AppendBatch(Batch{Host: "h1", Token: "t"}, batchOf(10, 2), t0); !again {
		t.Error("the token was not remembered across the restart")
	}
}

// TestAppendWritesWholeBatches: the first line of each batch says how many
// lines it has, so that a load can tell a batch cut short, and the number
// of its first record, so that a load numbers the hosts' files as before.
func TestAppendWritesWholeBatches(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, Log: quiet})
	for _, n := range []int{3, 2} {
		if err := s.Append(batchOf(0, n), t0); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(lastSegment(t, dir))
	lines := bytes.Split(b, []byte("\n"))
	var ln [4]line
	for i := range ln {
		json.Unmarshal(lines[i], &ln[i])
	}
	first, second, next := ln[0].PalisadeBatch, ln[1].PalisadeBatch, ln[3].PalisadeBatch
	if first == nil || first.Records != 3 || first.Seq == nil || *first.Seq != 0 || second != nil || ln[0].SrcPort != 40000 {
		t.Fatalf("lines %s and %s", lines[0], lines[1])
	}
	if next == nil || next.Records != 2 || next.Seq == nil || *next.Seq != 3 {
		t.Fatalf("the second batch's first line %s, want Records 2 and Seq 3", lines[3])
	}
}
