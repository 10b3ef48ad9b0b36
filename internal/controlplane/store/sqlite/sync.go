package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// The write-ahead log's fsync runs beside the next batch, not inside the
// serialized section. The writer connection runs with synchronous=NORMAL:
// its COMMIT writes the batch's frames to the WAL and returns. The syncer
// then fdatasyncs the WAL and only then publishes the batch (its revisions
// to WaitRevision, the view and Recent) and answers its Updates. So an
// Update still returns only once its writes are on disk, but the disk's
// flush no longer stalls the writer: meanwhile the next batch runs the
// Updates queued and those that arrive until the syncer is done
// (gather), then commits at once. One batch is synced at a time, so each
// fsync covers everything that arrived during the one before, and the
// Updates' work overlaps the disk's.
//
// Why this is as safe as synchronous=FULL for what was answered: fsync
// makes every frame written to the WAL before it durable, those of earlier
// batches included; a batch is answered only after such an fsync, in
// commit order. SQLite syncs the WAL itself before a checkpoint copies
// frames into the database, and syncs the database after, so frames are
// never overwritten (the WAL restarting) before they are durable.
//
// Until its fsync, a committed batch is visible only to the writer (the
// next batches build on it, and are answered after an fsync that covers
// it too): a read transaction waits until every batch committed before its
// snapshot is synced (awaitSynced), the published revision and Recent stop
// at the last synced batch. A reader never sees a write that a power
// failure could still take back.

// committed is a batch whose transaction ended, waiting for the syncer to
// make it durable and answer its Updates in commit order.
type committed struct {
	seq       int64 // its place in commit order (Store.seq); 0 if it did not reach the COMMIT
	batch     []*pending
	base, rev int64
	wrote     bool  // the transaction wrote something: it needs an fsync
	err       error // the batch failed (its Updates get err)
}

// syncer is the queue of committed batches and the WAL file it fsyncs.
type syncer struct {
	mu       sync.Mutex
	wake     *sync.Cond // the loop waits for batches
	idle     *sync.Cond // the writer waits for the loop to answer them
	queue    []*committed
	busy     bool // a batch taken from queue is not yet answered
	stopping bool
	done     chan struct{} // closed when the loop has answered everything and exited

	path    string // the WAL's path; empty: no fsync (a ":memory:" store)
	wal     *os.File
	walInfo os.FileInfo
	failed  error // a failed fsync: every later batch fails with it

	// testSync, when set (tests), runs instead of the fsync.
	testSync func() error
}

// startSyncer starts the syncer of an opened store, once what Open wrote
// (its migrations, committed without an fsync) is synced.
func (s *Store) startSyncer(durable bool) error {
	y := &s.sync
	y.wake = sync.NewCond(&y.mu)
	y.idle = sync.NewCond(&y.mu)
	y.done = make(chan struct{})
	if durable {
		if err := s.openWAL(); err != nil {
			close(y.done) // no loop to wait for
			return err
		}
	}
	go s.syncLoop()
	return nil
}

// openWAL finds the WAL beside the file SQLite opened (symlinks resolved)
// and syncs it.
func (s *Store) openWAL() error {
	var file string
	if err := s.wdb.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		return fmt.Errorf("find the database file: %w", err)
	}
	s.sync.path = file + "-wal"
	if err := s.syncWAL(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sync the write-ahead log: %w", err)
	}
	return nil
}

// handOff queues a batch for the syncer.
func (s *Store) handOff(c *committed) {
	y := &s.sync
	y.mu.Lock()
	y.queue = append(y.queue, c)
	y.mu.Unlock()
	y.wake.Signal()
}

// gather waits, while the syncer makes the previous batch durable, for
// Updates to join the batch being run, and takes them (up to maxBatch in
// all); false when it is time to commit: the syncer is idle, the batch is
// full, or the store is closing.
func (s *Store) gather(batch *[]*pending) bool {
	for len(*batch) < maxBatch {
		if s.take(batch, maxBatch-len(*batch)) > 0 {
			return true
		}
		if !s.syncBusy() {
			return false
		}
		select {
		case <-s.kick:
		case <-s.closed:
			return false
		}
	}
	return false
}

// syncBusy reports whether a committed batch is not yet answered.
func (s *Store) syncBusy() bool {
	y := &s.sync
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.unanswered()
}

// unanswered reports whether a committed batch is not yet answered; y.mu
// is held.
func (y *syncer) unanswered() bool { return len(y.queue) > 0 || y.busy }

// awaitIdle waits until every committed batch is answered: one batch at a
// time is committed and synced, so that one fsync covers everything that
// arrived during the one before.
func (s *Store) awaitIdle() {
	y := &s.sync
	y.mu.Lock()
	for y.unanswered() {
		y.idle.Wait()
	}
	y.mu.Unlock()
}

// stopSyncer lets the syncer answer what is queued, then waits for it.
func (s *Store) stopSyncer() {
	y := &s.sync
	if y.wake == nil {
		return // Open failed before starting it
	}
	y.mu.Lock()
	y.stopping = true
	y.mu.Unlock()
	y.wake.Signal()
	<-y.done
	if y.wal != nil {
		y.wal.Close()
	}
}

// syncFailure is the error of a failed fsync, after which the store takes
// no more writes (nil: none).
func (s *Store) syncFailure() error {
	y := &s.sync
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.failed
}

func (s *Store) syncLoop() {
	y := &s.sync
	defer close(y.done)
	for {
		y.mu.Lock()
		for len(y.queue) == 0 && !y.stopping {
			y.wake.Wait()
		}
		round := y.queue
		y.queue = nil
		y.busy = len(round) > 0
		y.mu.Unlock()
		if len(round) == 0 {
			return // stopping, and everything answered
		}
		s.finish(round)
		y.mu.Lock()
		y.busy = false
		y.mu.Unlock()
		y.idle.Broadcast()
		s.poke()
	}
}

// finish makes a round of committed batches durable with one fsync, then
// publishes and answers them in commit order. Once an fsync has failed,
// every batch fails, those that wrote nothing too: a batch committed after
// the failed one may have read what it wrote, which may be gone (a second
// fsync does not bring back pages the first one failed to write).
func (s *Store) finish(round []*committed) {
	syncErr := s.syncFailure()
	for _, c := range round {
		if syncErr == nil && c.err == nil && c.wrote {
			start := time.Now()
			if err := s.syncWAL(); err != nil {
				syncErr = fmt.Errorf("sqlite: sync the write-ahead log: %w; writes answered before are on disk, this one and later ones are refused: restart the server", err)
				s.sync.mu.Lock()
				s.sync.failed = syncErr
				s.sync.mu.Unlock()
			}
			s.stats.syncs.Add(1)
			s.stats.sync.Add(int64(time.Since(start)))
			break
		}
	}
	for _, c := range round {
		if syncErr != nil {
			c.err = syncErr
		}
		if c.err == nil {
			s.advance(c.rev)
		}
	}
	if syncErr == nil {
		s.mu.Lock()
		for _, c := range round {
			s.synced = max(s.synced, c.seq)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	close(s.syncedCh) // readers waiting for a failed round see the failure
	s.syncedCh = make(chan struct{})
	s.mu.Unlock()
	for _, c := range round {
		answer(c.batch, c.err)
	}
}

// answer ends the Updates of a batch: each with its own outcome, or err
// for those that have none yet.
func answer(batch []*pending, err error) {
	for _, p := range batch {
		if err != nil && p.err == nil && !p.panicked {
			p.err, p.rev = err, 0
		}
		close(p.done)
	}
}

// syncWAL fsyncs the WAL file, through a descriptor of its own that
// follows the file should SQLite ever replace it. A new file's directory
// entry is synced too, once.
func (s *Store) syncWAL() error {
	y := &s.sync
	if y.testSync != nil {
		return y.testSync()
	}
	if y.path == "" {
		return nil
	}
	fi, err := os.Stat(y.path)
	if err != nil {
		return err
	}
	if y.wal == nil || !os.SameFile(fi, y.walInfo) {
		if y.wal != nil {
			y.wal.Close()
			y.wal = nil
		}
		f, err := os.Open(y.path)
		if err != nil {
			return err
		}
		if y.walInfo, err = f.Stat(); err != nil {
			f.Close()
			return err
		}
		y.wal = f
		if err := syncDir(filepath.Dir(y.path)); err != nil {
			return err
		}
	}
	// fdatasync: the frames, and the file's size when it grew; not its
	// times, whose journal commit would cost as much again.
	return syscall.Fdatasync(int(y.wal.Fd()))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// awaitSynced waits until every batch committed so far is synced: called
// once a read transaction holds its snapshot, so that the snapshot holds
// nothing a power failure could take back. After a failed fsync, a read
// that would need a later sync fails with it.
func (s *Store) awaitSynced(ctx context.Context) error {
	s.mu.Lock()
	want := s.seq
	s.mu.Unlock()
	for {
		s.mu.Lock()
		got, ch := s.synced, s.syncedCh
		s.mu.Unlock()
		if got >= want {
			return nil
		}
		if err := s.syncFailure(); err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.sync.done:
			return store.ErrClosed
		}
	}
}
