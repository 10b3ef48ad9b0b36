package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// TestSyncBeforeAnswer holds the syncer's fsync and checks that a
// committed batch stays unanswered and invisible until it is synced: the
// Update waits, the published revision and Recent stay behind, and a read
// waits; then all see it, the Update answered last. A failed fsync fails
// the batch and every later write.
func TestSyncBeforeAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		syncErr error
	}{
		{"synced", nil},
		{"sync fails", errors.New("EIO")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, filepath.Join(t.TempDir(), "s.db"))
			ctx := context.Background()
			entered, free := holdFirstSync(t, s, tc.syncErr)
			var released atomic.Bool

			type result struct {
				rev int64
				err error
			}
			wrote := make(chan result, 1)
			go func() {
				rev, err := s.Update(ctx, func(tx store.Tx) error {
					return tx.Put(store.Record{Kind: "thing", ID: "a", Account: "1", Region: "r", Data: []byte(`{}`)})
				})
				wrote <- result{rev, err}
			}()
			<-entered // committed, its fsync held
			type seen struct {
				after, found bool
				err          error
			}
			read := make(chan seen, 1)
			go func() {
				var found bool
				err := s.View(ctx, func(tx store.ReadTx) error {
					_, ok, err := tx.Get("thing", "a")
					found = ok
					return err
				})
				read <- seen{released.Load(), found, err}
			}()
			if got := s.CurrentRevision(); got != 0 {
				t.Errorf("CurrentRevision = %d before the sync, want 0", got)
			}
			if ws, to, _ := s.Recent(0); len(ws) != 0 || to != 0 {
				t.Errorf("Recent(0) = %d changes to %d before the sync, want none", len(ws), to)
			}
			// A read that did not wait for the sync would finish now.
			time.Sleep(50 * time.Millisecond)
			select {
			case r := <-wrote:
				t.Fatalf("Update answered before its sync: %+v", r)
			default:
			}
			// Free the fsync while holding the lock that publishing the
			// revision takes: an Update answered now would be answered
			// before CurrentRevision holds it, and a read following the
			// answer could miss the write.
			s.mu.Lock()
			released.Store(true)
			free()
			time.Sleep(50 * time.Millisecond)
			select {
			case r := <-wrote:
				s.mu.Unlock()
				t.Fatalf("Update answered before its revision was published: %+v", r)
			default:
			}
			s.mu.Unlock()
			rd := <-read
			if !rd.after {
				t.Error("a read saw the batch before its sync")
			}
			if tc.syncErr == nil && (!rd.found || rd.err != nil) {
				t.Errorf("the read after the sync: found %v, %v; want the write", rd.found, rd.err)
			}
			if tc.syncErr != nil && !errors.Is(rd.err, tc.syncErr) {
				t.Errorf("the read waiting for a failed sync: %v, want the sync's error", rd.err)
			}
			r := <-wrote
			if tc.syncErr == nil {
				if r.err != nil || r.rev != 1 || s.CurrentRevision() != 1 || s.Stats().Syncs != 1 {
					t.Errorf("after the sync: rev %d, %v; CurrentRevision %d; syncs %d; want 1, nil, 1, 1", r.rev, r.err, s.CurrentRevision(), s.Stats().Syncs)
				}
				return
			}
			if !errors.Is(r.err, tc.syncErr) || s.CurrentRevision() != 0 {
				t.Errorf("after a failed sync: rev %d, %v, CurrentRevision %d; want the sync's error and 0", r.rev, r.err, s.CurrentRevision())
			}
			for _, fn := range []func(tx store.Tx) error{
				func(tx store.Tx) error {
					return tx.Put(store.Record{Kind: "thing", ID: "b", Account: "1", Region: "r", Data: []byte(`{}`)})
				},
				func(tx store.Tx) error { _, _, err := tx.Get("thing", "a"); return err }, // writes nothing
			} {
				if _, err := s.Update(ctx, fn); !errors.Is(err, tc.syncErr) {
					t.Errorf("an Update after a failed sync: %v, want the sync's error", err)
				}
			}
			if got := s.CurrentRevision(); got != 0 {
				t.Errorf("CurrentRevision = %d after a failed sync, want 0", got)
			}
			if ws, _, _ := s.Recent(0); len(ws) != 0 {
				t.Errorf("Recent(0) = %d changes after a failed sync, want none", len(ws))
			}
		})
	}
}

// TestSyncsShared checks that concurrent writers share fsyncs: never more
// fsyncs than batches, and every answered write counted in one and
// published before its answer (CurrentRevision holds it, so the view's
// reads that follow wait for it: read-your-writes).
func TestSyncsShared(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := context.Background()
	const writers, each = 16, 20
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				rev, err := s.Update(ctx, func(tx store.Tx) error {
					return tx.Put(store.Record{Kind: "thing", ID: string(rune('a'+w)) + string(rune('a'+i)), Account: "1", Region: "r", Data: []byte(`{}`)})
				})
				if err != nil {
					errs <- err
					return
				}
				if cur := s.CurrentRevision(); cur < rev {
					errs <- fmt.Errorf("Update answered revision %d while CurrentRevision is %d", rev, cur)
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Syncs < 1 || st.Syncs > st.Batches || st.Updates != writers*each {
		t.Errorf("stats %+v: want 1 ≤ syncs ≤ batches and %d updates", st, writers*each)
	}
	if got := s.CurrentRevision(); got != writers*each {
		t.Errorf("CurrentRevision = %d, want %d", got, writers*each)
	}
}

// holdFirstSync makes s's first fsync wait until free is called, then
// return syncErr (later ones succeed, as Linux reports a write-back error
// once); entered is closed when that fsync starts.
func holdFirstSync(t *testing.T, s *Store, syncErr error) (entered <-chan struct{}, free func()) {
	in, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	free = func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // a failed test lets the store close
	var syncs atomic.Int32
	s.sync.mu.Lock()
	s.sync.testSync = func() error {
		if syncs.Add(1) > 1 {
			return nil
		}
		close(in)
		<-release
		return syncErr
	}
	s.sync.mu.Unlock()
	return in, free
}

// gatherWhileHeld holds the first batch's fsync (it then returns
// syncErr), and while it is held runs Updates of "first" and, once that
// one's batch is committed, of later records "a", "b", …: it waits until
// their functions have run (in the next batch, gathering) and checks that
// none was answered. free releases the fsync; errs gets every Update's
// outcome.
func gatherWhileHeld(t *testing.T, s *Store, later int, syncErr error) (errs <-chan error, free func()) {
	t.Helper()
	entered, free := holdFirstSync(t, s, syncErr)
	put := func(id string, ran chan<- struct{}) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			if ran != nil {
				ran <- struct{}{}
			}
			return tx.Put(store.Record{Kind: "thing", ID: id, Account: "1", Region: "r", Data: []byte(`{}`)})
		}
	}
	ctx := context.Background()
	out := make(chan error, later+1)
	go func() { _, err := s.Update(ctx, put("first", nil)); out <- err }()
	<-entered // the first batch is committed, its fsync held
	ran := make(chan struct{}, later)
	for i := range later {
		go func() { _, err := s.Update(ctx, put(string(rune('a'+i)), ran)); out <- err }()
	}
	for range later {
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatal("an Update queued during an fsync did not run until the fsync ended")
		}
	}
	select {
	case err := <-out:
		t.Fatalf("an Update was answered before its fsync: %v", err)
	default:
	}
	return out, free
}

// TestGatherDuringSync checks that the Updates arriving while a batch is
// synced run at once, in the next batch's transaction (their work
// overlaps the disk's), that none is answered before its own fsync, and
// that they commit together: two batches and two fsyncs in all.
func TestGatherDuringSync(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "s.db"))
	const later = 5
	errs, free := gatherWhileHeld(t, s, later, nil)
	free()
	for range later + 1 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Batches != 2 || st.Syncs != 2 || st.Updates != later+1 {
		t.Errorf("stats %+v: want 2 batches, 2 fsyncs, %d updates", st, later+1)
	}
	if got := s.CurrentRevision(); got != later+1 {
		t.Errorf("CurrentRevision = %d, want %d", got, later+1)
	}
}

// TestNoCommitAfterFailedSync fails the first batch's fsync while later
// Updates gather, and checks that their batch is refused and never
// committed: reopened, the store does not hold what they wrote.
func TestNoCommitAfterFailedSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openT(t, path)
	eio := errors.New("EIO")
	const later = 3
	errs, free := gatherWhileHeld(t, s, later, eio)
	free()
	for range later + 1 {
		if err := <-errs; !errors.Is(err, eio) {
			t.Errorf("an Update of or after the failed sync: %v, want the sync's error", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, path)
	for i := range later {
		id := string(rune('a' + i))
		err := s.View(context.Background(), func(tx store.ReadTx) error {
			if _, ok, err := tx.Get("thing", id); ok || err != nil {
				return fmt.Errorf("thing %s: found %v, %v; want it never committed", id, ok, err)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// TestSymlinkedStore opens the store through a symlink: SQLite puts the
// WAL beside the real file, and the syncer must fsync that one.
func TestSymlinkedStore(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "s.db")
	if err := os.Mkdir(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Create(real); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	s := openT(t, link)
	if _, err := s.Update(context.Background(), func(tx store.Tx) error {
		return tx.Put(store.Record{Kind: "thing", ID: "a", Account: "1", Region: "r", Data: []byte(`{}`)})
	}); err != nil {
		t.Fatal(err)
	}
	if s.sync.path != real+"-wal" || s.Stats().Syncs < 1 {
		t.Errorf("synced %q (%d fsyncs), want %q", s.sync.path, s.Stats().Syncs, real+"-wal")
	}
}

// TestCloseDuringReads closes the store under readers and a writer: each
// stops with an error, none hangs or panics (run with -race: no data race
// on the statements Close closes).
func TestCloseDuringReads(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 5)
	var ops atomic.Int64
	for range 4 {
		go func() {
			for {
				err := s.View(ctx, func(tx store.ReadTx) error {
					_, _, err := tx.Get("thing", "a")
					return err
				})
				if err != nil {
					done <- err
					return
				}
				ops.Add(1)
			}
		}()
	}
	go func() {
		for {
			_, err := s.Update(ctx, func(tx store.Tx) error {
				return tx.Put(store.Record{Kind: "thing", ID: "a", Account: "1", Region: "r", Data: []byte(`{}`)})
			})
			if err != nil {
				done <- err
				return
			}
			ops.Add(1)
		}
	}()
	for ops.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	for range 5 {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("a reader or writer still runs 30 s after Close")
		}
	}
}
