package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// crashChildEnv makes the test binary a writer that is killed mid-stream;
// with crashSelfEnv=N it kills itself right after its Nth acknowledgement.
const (
	crashChildEnv = "PALISADE_SQLITE_CRASH_CHILD"
	crashSelfEnv  = "PALISADE_SQLITE_CRASH_SELF"
)

func init() {
	if path := os.Getenv(crashChildEnv); path != "" {
		self, _ := strconv.Atoi(os.Getenv(crashSelfEnv))
		crashChild(path, int64(self))
		os.Exit(0)
	}
}

// crashChild writes records from many goroutines (so that Updates are
// group-committed) and prints "ack ID" for each Update that returned,
// until it is killed (by itself after selfKill acknowledgements, if > 0).
func crashChild(path string, selfKill int64) {
	st, err := Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out sync.Mutex
	var acks atomic.Int64
	prefix := fmt.Sprintf("p%d-", os.Getpid())
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("%sw%d-%d", prefix, w, i)
				_, err := st.Update(context.Background(), func(tx store.Tx) error {
					return tx.Put(store.Record{Kind: "k", ID: id, Account: "a", Region: "r", Data: []byte(`{}`)})
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", id) // unbuffered: one write(2)
				if acks.Add(1) == selfKill {
					// Right after an acknowledgement, while the other
					// writers' batches are in flight: a write answered
					// before its commit would be lost here every time.
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashLoop kills (SIGKILL) a process writing with group commit, again
// and again, and checks after each kill that every write it acknowledged
// is in the store, and that the revision and the change log agree. In two
// rounds of three the writer kills itself right after an acknowledgement
// (the moment that loses a write answered too early), in the others it is
// killed from outside at a random moment.
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[string]bool{}
	for round := range 9 {
		self := round%3 != 0
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashSelfEnv+"=0")
		if self {
			cmd.Env[len(cmd.Env)-1] = fmt.Sprint(crashSelfEnv, "=", 50+rand.IntN(500))
		}
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill it once it has acknowledged some writes, at a random moment.
		deadline := time.After(time.Duration(150+rand.IntN(250)) * time.Millisecond)
		if self {
			deadline = nil // it kills itself
		}
		n := 0
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				if id, ok := strings.CutPrefix(l, "ack "); ok {
					acked[id] = true
					n++
				}
			case <-deadline:
				if n > 0 {
					cmd.Process.Signal(syscall.SIGKILL)
					deadline = nil
				} else {
					deadline = time.After(50 * time.Millisecond)
				}
			}
		}
		cmd.Wait()
		if n == 0 {
			t.Fatalf("round %d: the writer acknowledged nothing", round)
		}

		st, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var recs []store.Record
		var rev int64
		st.View(ctx, func(tx store.ReadTx) error {
			rev = tx.Revision()
			recs, err = tx.List("k", store.Query{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, r := range recs {
			have[r.ID] = true
		}
		lost := 0
		for id := range acked {
			if !have[id] {
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("round %d: %d of %d acknowledged writes lost", round, lost, len(acked))
		}
		// One record per revision: the revision, the log and the records agree.
		changes, err := st.Changes(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(recs)) != rev || int64(len(changes)) != rev {
			t.Fatalf("round %d: revision %d, %d records, %d changes; want all equal", round, rev, len(recs), len(changes))
		}
		st.Close()
		t.Logf("round %d: %d acknowledged (%d in all), revision %d", round, n, len(acked), rev)
	}
}
