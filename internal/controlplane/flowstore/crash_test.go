package flowstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv makes the test binary a writer of batches into the
// directory it names, killed by its parent; crashFromEnv is its first
// batch's number.
const (
	crashChildEnv = "PALISADE_FLOWSTORE_CRASH_CHILD"
	crashFromEnv  = "PALISADE_FLOWSTORE_CRASH_FROM"
)

// crashBatch is the records of a batch in the crash test: many, so that a
// kill often lands in the middle of a write or its sync.
const crashBatch = 400

func init() {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		from, _ := strconv.Atoi(os.Getenv(crashFromEnv))
		crashChild(dir, from)
		os.Exit(0)
	}
}

// crashBatchOf is batch i of the crash test, as every sending of it
// carries it: of two hosts in turn, so that their files interleave and a
// kill lands in either's.
func crashBatchOf(i int) (Batch, []Record) {
	host := "h" + strconv.Itoa(i%2)
	recs := batchOf(i*crashBatch, crashBatch)
	for j := range recs {
		recs[j].HostName = host
	}
	return Batch{Host: host, Token: "b-" + strconv.Itoa(i), Hash: strconv.Itoa(i)}, recs
}

// crashChild appends batches from number from on and prints "ack N" after
// each is acknowledged, until it is killed.
func crashChild(dir string, from int) {
	s, err := Open(Options{Dir: dir, Log: quiet, MaxBytes: 1 << 30, SegmentBytes: 1 << 20, Now: func() time.Time { return t0 }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := from; ; i++ {
		b, recs := crashBatchOf(i)
		if _, _, err := s.AppendBatch(b, recs, t0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stdout, "ack %d\n", i) // unbuffered: one write(2)
	}
}

// TestCrashLoop kills (SIGKILL) a process appending batches, again and
// again, wherever it is (writing, syncing, answering), and then plays the
// sender: it sends again, under the same tokens, every batch it had no
// answer for. Each time every acknowledged batch is there, and every
// record is kept exactly once.
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("short: kills a writer process several times")
	}
	dir := t.TempDir()
	next := 0 // the first batch without an answer
	for round, acks := range []int{1, 3, 2, 5, 1, 4} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashFromEnv+"="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for ; sc.Scan(); n++ {
			i, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack "))
			if err != nil || i != next {
				t.Fatalf("round %d: %q, want ack %d", round, sc.Text(), next)
			}
			next++
			if n+1 == acks {
				// Killed in the middle of the next batch, or of its
				// answer; the acks it wrote before are read on.
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		if n < acks {
			t.Fatalf("round %d: the writer stopped after %d acks, before it was killed", round, n)
		}

		s, err := Open(Options{Dir: dir, Log: quiet, MaxBytes: 1 << 30, SegmentBytes: 1 << 20, Now: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		// The sender had no answer for batch next: it sends it again (the
		// child may have kept it, whole or in part, or not begun it).
		b, recs := crashBatchOf(next)
		if _, _, err := s.AppendBatch(b, recs, t0); err != nil {
			t.Fatal(err)
		}
		next++
		got := s.Of("a", t0)
		if len(got) != next*crashBatch {
			t.Fatalf("round %d: %d records after batches 0..%d, want %d (torn lines %d)", round, len(got), next-1, next*crashBatch, s.Stats().Torn)
		}
		_, seqs := s.OfSeq("a", t0)
		for i, r := range got {
			if i > 0 && seqs[i] != seqs[i-1]+1 {
				t.Fatalf("round %d: record %d is numbered %d after %d: a restart numbered the hosts' files apart", round, i, seqs[i], seqs[i-1])
			}
			if r.SrcPort != 40000+i {
				t.Fatalf("round %d: record %d has port %d, want %d: a batch kept twice or not at all", round, i, r.SrcPort, 40000+i)
			}
		}
		s.Close()
	}
}
