// Package sqlite implements store.Store on SQLite (modernc.org/sqlite, pure
// Go) in WAL mode: one serialized writer, concurrent snapshot readers.
package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is a SQLite-backed store.Store.
type Store struct {
	wdb *sql.DB // exactly one connection: all writes go through it
	rdb *sql.DB // read-only connection pool for View and friends
	// Prepared statements of each.
	wst, rst *stmtCache

	// wlock serializes Update. It is a 1-slot semaphore rather than a mutex
	// so waiting for it honours ctx and Close.
	wlock chan struct{}
	qmu   sync.Mutex
	queue []*pending // Updates waiting for the next batch
	// kick wakes a batch gathering Updates while the previous one is
	// synced: an Update was queued, or the syncer went idle.
	kick chan struct{}

	mu     sync.Mutex
	rev    int64         // last committed and synced revision, for WaitRevision
	notify chan struct{} // closed and replaced whenever rev advances
	// seq counts the batches handed to COMMIT, synced those the syncer
	// has finished (syncedCh is closed and replaced when it moves): a read
	// waits for the batches its snapshot may hold (see sync.go).
	seq, synced int64
	syncedCh    chan struct{}
	// log is the latest committed changes of this process's Updates, with
	// the records as written: the writer's, at once; Recent's up to rev.
	log store.RecentLog
	// revs is every record's revision as of log.To, for Expect without a
	// query; nil once another process has written (Expect queries then).
	// Only the writer (holding wlock) uses it.
	revs map[recordKey]int64
	// packed is flush's buffer for the packed records, handed from batch
	// to batch (SQLite copies what it binds, so nothing keeps it after a
	// flush). Only the writer uses it, and boxes.
	packed []byte
	boxes  valueBoxes

	stats statsCounters
	sync  syncer

	closed    chan struct{}
	closeOnce sync.Once
	closeErr  error
	tmpDir    string // backing directory of a ":memory:" store, removed on Close
}

var _ store.Store = (*Store)(nil)

// busyTimeoutMS bounds how long a connection waits for a lock held by
// another connection (e.g. a checkpoint, or another process) before failing
// with SQLITE_BUSY. In-process writers never contend: wlock serializes them.
const busyTimeoutMS = 10000

// Open opens (creating if needed) the SQLite database at path and applies
// pending schema migrations.
//
// path ":memory:" gives a private, non-durable store. It is backed by a
// temporary file rather than SQLite's in-memory database, because the
// latter cannot be shared between the writer and the reader pool with WAL
// snapshot semantics; the file is removed on Close.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: open: %w: empty path", store.ErrInvalid)
	}
	s := &Store{
		wlock:    make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		notify:   make(chan struct{}),
		syncedCh: make(chan struct{}),
		closed:   make(chan struct{}),
	}
	// synchronous=NORMAL: a COMMIT writes the WAL without an fsync; the
	// syncer fsyncs it while the next batch runs, and an Update returns only
	// after that (sync.go): not lost on power failure.
	syncMode, durable := "NORMAL", true
	if path == ":memory:" {
		dir, err := os.MkdirTemp("", "palisade-store-")
		if err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
		s.tmpDir = dir
		path = filepath.Join(dir, "palisade.db")
		syncMode, durable = "OFF", false // nothing survives Close anyway
	}
	if err := CreatePrivate(path); err != nil {
		if s.tmpDir != "" {
			os.RemoveAll(s.tmpDir)
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.open(path, syncMode); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.startSyncer(durable); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// CreatePrivate creates the file at path, empty, readable and writable by
// its owner only, unless it exists: the store holds the access keys'
// secrets (the event trail names accounts and keys), and SQLite gives its
// -wal and -shm files the database's mode.
func CreatePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

func (s *Store) open(path, syncMode string) error {
	ctx := context.Background()
	uri := FileURI(path)
	common := fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeoutMS)

	var err error
	// _txlock=immediate: BEGIN IMMEDIATE takes the write lock up front, so a
	// write transaction never fails mid-way upgrading a read lock.
	s.wdb, err = sql.Open("sqlite", uri+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous("+syncMode+")&_txlock=immediate")
	if err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)

	// journal_mode=WAL silently keeps the old mode if it cannot switch (e.g.
	// on a filesystem without shared memory); readers would then block the
	// writer, so refuse to run.
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	if err := migrate(ctx, s.wdb, migrations); err != nil {
		return err
	}
	if err := s.wdb.QueryRowContext(ctx, selectRevision).Scan(&s.rev); err != nil {
		return err
	}
	s.log.Reset(s.rev)
	if s.revs, err = loadRevisions(ctx, s.wdb); err != nil {
		return err
	}

	// query_only guards against accidental writes through the read pool.
	s.rdb, err = sql.Open("sqlite", uri+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.rdb.SetMaxOpenConns(n)
	s.rdb.SetMaxIdleConns(n)
	if s.wst, err = newStmtCache(ctx, s.wdb, cachedQueries); err != nil {
		return err
	}
	s.rst, err = newStmtCache(ctx, s.rdb, []string{queryGet, queryGetToken})
	return err
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.wst != nil {
		s.wst.close()
	}
	if s.rst != nil {
		s.rst.close()
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	// database/sql closes a connection in use (a reader's transaction not
	// yet ended) only when its user lets it go. Wait for those: the last
	// connection to close deletes the WAL by its name, which by then may
	// be a new store's (a failed first start removes the files, and the
	// next start makes them again).
	for deadline := time.Now().Add(closeWait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if openConns(s.rdb)+openConns(s.wdb) == 0 {
			break
		}
	}
	if s.tmpDir != "" {
		errs = append(errs, os.RemoveAll(s.tmpDir))
	}
	return errors.Join(errs...)
}

// closeWait bounds how long Close waits for connections in use to be let
// go.
const closeWait = 10 * time.Second

func openConns(db *sql.DB) int {
	if db == nil {
		return 0
	}
	return db.Stats().OpenConnections
}

// Close waits for an in-flight Update to finish (and be synced), then
// closes the database. WaitRevision callers are woken with store.ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.wlock <- struct{}{} // never released: no Update starts after this
		s.stopSyncer()
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

const selectRevision = `SELECT value FROM meta WHERE key = 'revision'`

// maxBatch bounds how many Updates share one transaction, so that one
// commit's latency stays bounded under load.
const maxBatch = 256

// pending is an Update waiting to be committed.
type pending struct {
	ctx      context.Context
	fn       func(store.Tx) error
	rev      int64
	err      error
	panicked bool
	pval     any
	batched  bool          // a batch took it (guarded by qmu)
	done     chan struct{} // closed once the batch holding it is durable (or failed)
}

// Update implements store.Store with group commit: concurrent Updates are
// queued, and whichever caller takes the write lock runs every queued fn,
// in order, in one SQLite transaction, each with its own revision, then
// commits once — one fsync for the batch — and only then answers them all.
// An fn's writes are kept in memory (its reads see them, and those of the
// Updates before it) and written to SQLite at the end of the batch, only
// the last state of each record: a failing fn leaves nothing to roll back
// (no savepoint per Update), and a record written by several Updates of a
// batch is written once.
// Each fn sees the writes of those before it, so the outcome is that of
// running them one after the other; an Update returns only once its writes
// are durable (fsynced: sync.go), or with the error that lost them.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p := &pending{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	s.qmu.Unlock()
	s.poke()
	for waiting := true; waiting; {
		select {
		case <-p.done:
			waiting = false
		case s.wlock <- struct{}{}:
			if !s.isBatched(p) {
				s.commitQueued()
			}
			<-s.wlock
			if s.isBatched(p) { // committed: the syncer answers it
				<-p.done
				waiting = false
			}
		case <-ctx.Done():
			if s.dequeue(p) {
				return 0, ctx.Err()
			}
			<-p.done // already in a batch: its outcome stands
			waiting = false
		case <-s.closed:
			if s.dequeue(p) {
				return 0, store.ErrClosed
			}
			<-p.done
			waiting = false
		}
	}
	if p.panicked {
		panic(p.pval)
	}
	if p.err != nil {
		return 0, p.err
	}
	return p.rev, nil
}

// isBatched reports whether a batch has taken p.
func (s *Store) isBatched(p *pending) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return p.batched
}

// dequeue removes p from the queue; false if a batch has taken it.
func (s *Store) dequeue(p *pending) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	for i, q := range s.queue {
		if q == p {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return true
		}
	}
	return false
}

var errBatchUnfinished = errors.New("sqlite: the batch failed before its commit")

// poke wakes the batch gathering Updates, if one is (kick holds one
// wake-up: it is not lost when the batch is not waiting yet).
func (s *Store) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// take moves up to n queued Updates to the end of batch; it returns how
// many.
func (s *Store) take(batch *[]*pending, n int) int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	n = min(len(s.queue), n)
	for _, p := range s.queue[:n] {
		p.batched = true
	}
	*batch = append(*batch, s.queue[:n]...)
	s.queue = append(s.queue[:0], s.queue[n:]...)
	return n
}

// commitQueued runs the queued Updates as one batch, with those that
// arrive while the syncer makes the previous batch durable (at most
// maxBatch in all), and hands it to the syncer, which answers them once it
// is durable. The caller holds wlock.
func (s *Store) commitQueued() {
	c := &committed{}
	if s.take(&c.batch, maxBatch) == 0 {
		return
	}
	defer s.handOff(c) // a panic too: its Updates are answered
	c.err = store.ErrClosed
	if s.isClosed() {
		return
	}
	if c.err = s.syncFailure(); c.err != nil {
		return
	}
	var written []store.Written
	c.err = errBatchUnfinished // should runBatchTx panic
	c.rev, written, c.wrote, c.err = s.runBatchTx(&c.batch, &c.base, &c.seq)
	if c.err == nil {
		s.remember(c.base, c.rev, written)
	}
}

// Stats are cumulative figures of the group commit, for benchmarks and
// metrics: how long the serialized section ran the Updates' functions and
// how long commits and fsyncs took.
type Stats struct {
	Batches int64         // transactions committed (or failed)
	Updates int64         // Updates run in them
	Run     time.Duration // running the batches' Updates, begin to before commit, without waiting for Updates or the syncer
	Commit  time.Duration // committing them (writing the WAL)
	Syncs   int64         // fsyncs of the WAL, each for the batches committed before it
	Sync    time.Duration // those fsyncs (beside the serialized section)
}

type statsCounters struct {
	batches, updates, run, commit, syncs, sync atomic.Int64
}

// Stats returns the group commit's figures so far.
func (s *Store) Stats() Stats {
	c := &s.stats
	return Stats{Batches: c.batches.Load(), Updates: c.updates.Load(), Run: time.Duration(c.run.Load()), Commit: time.Duration(c.commit.Load()),
		Syncs: c.syncs.Load(), Sync: time.Duration(c.sync.Load())}
}

// loadRevisions reads every record's revision.
func loadRevisions(ctx context.Context, db *sql.DB) (map[recordKey]int64, error) {
	rows, err := db.QueryContext(ctx, `SELECT kind, id, revision FROM resources`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	revs := map[recordKey]int64{}
	for rows.Next() {
		var kind, id string
		var rev int64
		if err := rows.Scan(&kind, &id, &rev); err != nil {
			return nil, err
		}
		revs[recordKey{store.Kind(kind), id}] = rev
	}
	return revs, rows.Err()
}

// remember appends a committed batch (revisions base+1 … rev) to the log,
// restarting it if another process committed since its end. The writer
// reads it at once; Recent serves it once synced.
func (s *Store) remember(base, rev int64, written []store.Written) {
	if len(written) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if base != s.log.To {
		s.revs = nil // another process wrote: what it changed is unknown here
	}
	if s.revs != nil {
		for _, w := range written {
			k := recordKey{w.Kind, w.ID}
			if w.Record == nil {
				delete(s.revs, k)
			} else {
				s.revs[k] = w.Revision
			}
		}
	}
	s.log.Append(base, rev, written)
}

// Recent implements store.Recent: the changes up to the last synced
// revision (the log may hold batches committed after it).
func (s *Store) Recent(after int64) ([]store.Written, int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if after > s.rev {
		return nil, s.rev, false
	}
	ws, ok := s.log.Since(after)
	if !ok {
		return nil, s.rev, false
	}
	n, _ := slices.BinarySearchFunc(ws, s.rev+1, func(w store.Written, rev int64) int { return cmp.Compare(w.Revision, rev) })
	return ws[:n], min(s.log.To, s.rev), true
}

// batchState is what the Updates of a batch wrote before the one running,
// so that it reads them from memory; it is written to SQLite at the end
// of the batch (flush).
type batchState struct {
	base    int64
	written []store.Written
	recs    map[recordKey]*store.Record // nil: deleted
	order   []recordKey                 // recs' keys, first written first
	toks    map[tokenKey]store.Token
	tokOrd  []tokenKey
	stmts   stmtSource // the writer's statements, bound to the batch's transaction once each
	packed  []byte     // the record flush writes, packed (reused: SQLite copies what it binds)
	boxes   *valueBoxes
}

type tokenKey struct{ account, token string }

// valueBoxes are the last kind, account and region the writer bound, as
// the values database/sql takes: the rows of a batch, and of the next,
// mostly share them, and a string is boxed anew each time it is bound
// otherwise.
type valueBoxes struct{ kind, account, region boxedText }

// boxedText is a string and its boxed value.
type boxedText struct {
	s string
	v any
}

// box returns s boxed, the value b holds when it is b's string.
func (b *boxedText) box(s string) any {
	if b.v == nil || b.s != s {
		b.s, b.v = s, s
	}
	return b.v
}

// boxOp is an operation boxed; the two there are, without an allocation.
func boxOp(op store.Op) any {
	switch op {
	case store.OpPut:
		return string(store.OpPut)
	case store.OpDelete:
		return string(store.OpDelete)
	}
	return string(op)
}

// putToken notes a token written by a committed Update of the batch.
func (b *batchState) putToken(tok store.Token) {
	k := tokenKey{tok.Account, tok.Token}
	if _, ok := b.toks[k]; !ok {
		b.tokOrd = append(b.tokOrd, k)
	}
	if b.toks == nil {
		b.toks = map[tokenKey]store.Token{}
	}
	b.toks[k] = tok
}

// flush writes the batch's records and tokens, each in its last state.
func (s *Store) flush(ctx context.Context, tx *sql.Tx, b *batchState) error {
	t := &writeTx{readTx: readTx{ctx: ctx, tx: tx, stmts: b.stmts}, batch: b}
	for _, k := range b.order {
		r := b.recs[k]
		var err error
		if r == nil {
			err = t.exec(queryDelete, string(k.kind), k.id)
		} else {
			err = t.put(k.kind, k.id, r.Account, r.Region, r.Data, r.Revision)
		}
		if err != nil {
			return fmt.Errorf("sqlite: write %s/%s: %w", k.kind, k.id, err)
		}
	}
	for _, k := range b.tokOrd {
		tok := b.toks[k]
		if err := t.exec(queryPutToken, tok.Account, tok.Token, tok.Action, tok.ParamsHash, tok.Response, tok.Created.UnixMicro()); err != nil {
			return fmt.Errorf("sqlite: put token: %w", err)
		}
	}
	return nil
}

// maxKeptPacked bounds the packing buffer kept for the next batch.
const maxKeptPacked = 1 << 20

// runBatchTx runs a batch in one transaction, with the Updates that
// gather adds to it, and commits it; it returns the revision after the
// batch and what the batch wrote, and whether it wrote anything (it needs
// an fsync); base is set to the revision before it, seq to its place in
// commit order once it reached the COMMIT.
func (s *Store) runBatchTx(batch *[]*pending, base, seq *int64) (rev int64, written []store.Written, wrote bool, err error) {
	// The batch's statements are not cancelled with any one caller's
	// context: SQLite rolls back the whole transaction when a write is
	// interrupted.
	ctx := context.Background()
	start := time.Now()
	var idle time.Duration // waiting for Updates or for the syncer: not the serialized section's work
	s.stats.batches.Add(1)
	defer func() { s.stats.updates.Add(int64(len(*batch))) }()
	sqlTx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, false, fmt.Errorf("sqlite: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			sqlTx.Rollback()
		}
	}()
	st, err := s.wst.in(ctx, sqlTx, selectRevision)
	if err == nil {
		err = st.QueryRowContext(ctx).Scan(&rev)
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("sqlite: read revision: %w", err)
	}
	*base = rev
	b := &batchState{base: rev, recs: map[recordKey]*store.Record{}, stmts: &txStmts{cache: s.wst, bound: map[string]*sql.Stmt{}}, packed: s.packed, boxes: &s.boxes}
	for i := 0; ; i++ {
		if i == len(*batch) {
			waited := time.Now()
			more := s.gather(batch)
			idle += time.Since(waited)
			if !more {
				break
			}
		}
		p := (*batch)[i]
		if err := p.ctx.Err(); err != nil {
			p.err = err
			continue
		}
		// A failed fn's writes were only in memory: nothing to undo.
		if next := s.runOne(context.WithoutCancel(p.ctx), sqlTx, rev, b, p); p.err == nil && !p.panicked {
			rev = next
			p.rev = rev
		}
	}
	err = s.flush(ctx, sqlTx, b)
	if cap(b.packed) <= maxKeptPacked {
		s.packed = b.packed
	}
	if err != nil {
		return 0, nil, false, err
	}
	if err := writeChanges(ctx, sqlTx, b.stmts, b.boxes, b.written); err != nil {
		return 0, nil, false, fmt.Errorf("sqlite: write change log: %w", err)
	}
	// The revision is written once for the batch: every Update in it
	// counts from the base it was given, not from the stored value.
	if rev != *base {
		st, err := s.wst.in(ctx, sqlTx, queryRevision)
		if err == nil {
			_, err = st.ExecContext(ctx, rev)
		}
		if err != nil {
			return 0, nil, false, fmt.Errorf("sqlite: write revision: %w", err)
		}
	}
	waited := time.Now()
	s.awaitIdle() // gather stopped early: a full batch, or closing
	committing := time.Now()
	idle += committing.Sub(waited)
	s.stats.run.Add(int64(committing.Sub(start) - idle))
	// The previous batch's fsync is over: if it failed, this batch is not
	// committed (its Updates get the failure; the deferred rollback drops
	// it), or a checkpoint could still carry writes answered as refused
	// into the database.
	if err := s.syncFailure(); err != nil {
		return 0, nil, false, err
	}
	// Counted before the COMMIT: a read whose snapshot may hold the batch
	// sees the count and waits for its sync (awaitSynced). Not before the
	// Updates ran: one of them may read (View) and wait for that read.
	s.mu.Lock()
	s.seq++
	*seq = s.seq
	s.mu.Unlock()
	err = sqlTx.Commit()
	s.stats.commit.Add(int64(time.Since(committing)))
	if err != nil {
		return 0, nil, false, fmt.Errorf("sqlite: commit: %w", err)
	}
	committed = true
	return rev, b.written, rev != *base || len(b.tokOrd) > 0, nil
}

// runOne runs one Update's fn on base and, when it succeeds, adds its
// writes to the batch's; it returns the revision after it. fn's error or
// panic is left in p.
func (s *Store) runOne(ctx context.Context, sqlTx *sql.Tx, base int64, b *batchState, p *pending) (rev int64) {
	t := &writeTx{
		readTx: readTx{ctx: ctx, tx: sqlTx, stmts: b.stmts, rev: base},
		store:  s,
		batch:  b,
		next:   base + 1,
		index:  map[recordKey]int{},
	}
	func() {
		defer func() {
			if v := recover(); v != nil {
				p.panicked, p.pval = true, v
			}
		}()
		p.err = p.fn(t)
	}()
	t.done = true
	if p.err == nil && t.conflict != nil {
		p.err = t.conflict // fn ignored its failed precondition
	}
	if p.err != nil || p.panicked {
		return base
	}
	for _, tok := range t.toks {
		b.putToken(tok)
	}
	if len(t.changes) == 0 {
		return base
	}
	// The records and the change log are written for the whole batch at
	// its end (flush, writeChanges), a few statements for all its rows.
	for i, c := range t.changes {
		k := recordKey{c.Kind, c.ID}
		if _, ok := b.recs[k]; !ok {
			b.order = append(b.order, k)
		}
		b.recs[k] = t.recs[i]
		b.written = append(b.written, store.Written{Change: c, Record: t.recs[i]})
	}
	return t.next
}

// changeChunks are the row counts of the cached change-log inserts,
// largest first: a batch's rows go in chunks of these sizes.
var changeChunks = []int{32, 16, 8, 4, 2, 1}

// queryChanges is the change-log insert of n rows.
func queryChanges(n int) string {
	return `INSERT INTO changes (revision, seq, kind, id, account, region, op) VALUES (?, ?, ?, ?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?, ?, ?, ?)`, n-1)
}

// writeChanges writes the change-log rows of a batch's committed Updates
// (in order; a revision's rows numbered from 0), in few statements:
// one statement per row cost as much as the rest of a small write.
// stmts are the batch's, bound to tx once each.
func writeChanges(ctx context.Context, tx *sql.Tx, stmts stmtSource, boxes *valueBoxes, written []store.Written) error {
	args := make([]any, 0, 7*min(len(written), changeChunks[0]))
	seq, last := 0, int64(-1)
	for len(written) > 0 {
		n := changeChunks[len(changeChunks)-1]
		for _, c := range changeChunks {
			if c <= len(written) {
				n = c
				break
			}
		}
		args = args[:0]
		for _, w := range written[:n] {
			c := w.Change
			if c.Revision != last {
				seq, last = 0, c.Revision
			}
			args = append(args, c.Revision, seq, boxes.kind.box(string(c.Kind)), c.ID, boxes.account.box(c.Account), boxes.region.box(c.Region), boxOp(c.Op))
			seq++
		}
		st, err := stmts.in(ctx, tx, changeInserts[n])
		if err == nil {
			_, err = st.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
		written = written[n:]
	}
	return nil
}

// advance publishes a committed revision to WaitRevision callers.
func (s *Store) advance(rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.rev {
		s.rev = rev
		close(s.notify)
		s.notify = make(chan struct{})
	}
}

// SerializedWriter reports that this store's writes are serialized in
// this process, so that a write transaction checks preconditions
// (Expect) and lists the changes since a revision (ChangesSince) from
// memory: a write run outside the transaction against an in-memory view
// (package service) commits by checking what it read in microseconds.
func (s *Store) SerializedWriter() bool { return true }

// CurrentRevision is the last committed revision, without a query (an
// in-memory view waits for it to serve linearizable reads).
func (s *Store) CurrentRevision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.ReadTx) error) error {
	return s.read(ctx, func(t *readTx) error { return fn(t) })
}

// read runs fn in a read-only transaction on the reader pool. The first
// statement (reading the revision) fixes the WAL snapshot that every later
// statement in the transaction sees.
func (s *Store) read(ctx context.Context, fn func(*readTx) error) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	sqlTx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	defer sqlTx.Rollback() // read-only: rollback just ends the snapshot
	t := &readTx{ctx: ctx, tx: sqlTx, stmts: s.rst}
	if err := sqlTx.QueryRowContext(ctx, selectRevision).Scan(&t.rev); err != nil {
		return fmt.Errorf("sqlite: read revision: %w", err)
	}
	if err := s.awaitSynced(ctx); err != nil {
		return err
	}
	err = fn(t)
	t.done = true
	return err
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.read(ctx, func(t *readTx) error { rev = t.rev; return nil })
	return rev, err
}

// Changes implements store.Store.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	if limit < 0 {
		return nil, fmt.Errorf("sqlite: changes: %w: negative limit", store.ErrInvalid)
	}
	var out []store.Change
	err := s.read(ctx, func(t *readTx) error {
		const q = `SELECT revision, kind, id, account, region, op FROM changes WHERE revision > ? ORDER BY revision, seq`
		if limit == 0 {
			var err error
			out, err = t.changes(q, after)
			return err
		}
		// Fetch one extra row to learn whether the page would split a
		// revision.
		cs, err := t.changes(q+` LIMIT ?`, after, limit+1)
		if err != nil || len(cs) <= limit {
			out = cs
			return err
		}
		last := cs[limit].Revision
		if cs[limit-1].Revision != last {
			out = cs[:limit]
			return nil
		}
		// The page ends inside revision last: drop it, or if it is the only
		// revision in the page, return it whole.
		cut := limit - 1
		for cut >= 0 && cs[cut].Revision == last {
			cut--
		}
		if cut >= 0 {
			out = cs[:cut+1]
			return nil
		}
		out, err = t.changes(`SELECT revision, kind, id, account, region, op FROM changes WHERE revision = ? ORDER BY seq`, last)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WaitRevision implements store.Store.
func (s *Store) WaitRevision(ctx context.Context, after int64) (int64, error) {
	for {
		s.mu.Lock()
		rev, ch := s.rev, s.notify
		s.mu.Unlock()
		if s.isClosed() {
			return rev, store.ErrClosed
		}
		if rev > after {
			return rev, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return rev, ctx.Err()
		case <-s.closed:
			return rev, store.ErrClosed
		}
	}
}

var errTxDone = errors.New("sqlite: transaction used after its callback returned")

// stmtCache keeps the statements of one *sql.DB prepared: the driver
// prepares a statement anew for every query otherwise, which costs as much
// as running a small one. The statements are prepared when the store
// opens: preparing on the DB later could wait for a connection that a
// transaction of the same goroutine holds (the writer has only one).
type stmtCache struct {
	m map[string]*sql.Stmt
}

// cachedQueries are the statements run in transactions.
var cachedQueries = append([]string{
	queryGet, queryPut, queryUpdateData, queryRevision, queryRecordRevision, queryDelete,
	selectRevision, queryScope, queryPutToken, queryGetToken,
}, slices.Collect(maps.Values(changeInserts))...)

// changeInserts are the change-log inserts by their row count (one of
// changeChunks), made once.
var changeInserts = func() map[int]string {
	out := map[int]string{}
	for _, n := range changeChunks {
		out[n] = queryChanges(n)
	}
	return out
}()

const (
	queryGet = `SELECT account, region, data, revision FROM resources WHERE kind = ? AND id = ?`
	queryPut = `INSERT INTO resources (kind, id, account, region, data, revision) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (kind, id) DO UPDATE SET
	account = excluded.account, region = excluded.region,
	data = excluded.data, revision = excluded.revision`
	queryUpdateData     = `UPDATE resources SET data = ?, revision = ? WHERE kind = ? AND id = ? AND account = ? AND region = ?`
	queryRevision       = `UPDATE meta SET value = ? WHERE key = 'revision'`
	queryDelete         = `DELETE FROM resources WHERE kind = ? AND id = ?`
	queryRecordRevision = `SELECT revision FROM resources WHERE kind = ? AND id = ?`
	// queryScope tells whether a record exists, and its scope for the
	// change log of its deletion, without reading its document.
	queryScope    = `SELECT account, region FROM resources WHERE kind = ? AND id = ?`
	queryPutToken = `INSERT INTO client_tokens (account, token, action, params_hash, response, created) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (account, token) DO UPDATE SET
	action = excluded.action, params_hash = excluded.params_hash,
	response = excluded.response, created = excluded.created`
	queryGetToken = `SELECT action, params_hash, response, created FROM client_tokens WHERE account = ? AND token = ?`
)

func newStmtCache(ctx context.Context, db *sql.DB, queries []string) (*stmtCache, error) {
	c := &stmtCache{m: map[string]*sql.Stmt{}}
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			c.close()
			return nil, err
		}
		c.m[q] = st
	}
	return c, nil
}

// in returns query prepared, for use in tx (prepared in tx alone if it is
// not one of the cached statements).
func (c *stmtCache) in(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := c.m[query]; ok {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// close closes the statements. The map stays as it is: a read racing
// Close may still look a statement up, and gets a closed one (an error),
// not a data race.
func (c *stmtCache) close() {
	for _, st := range c.m {
		st.Close()
	}
}

// exec runs a cached statement in the transaction.
func (t *readTx) exec(query string, args ...any) error {
	st, err := t.stmts.in(t.ctx, t.tx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(t.ctx, args...)
	return err
}

// queryRow runs a cached single-row query in the transaction.
func (t *readTx) queryRow(query string, args ...any) (*sql.Row, error) {
	st, err := t.stmts.in(t.ctx, t.tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(t.ctx, args...), nil
}

// stmtSource gives a statement for use in a transaction.
type stmtSource interface {
	in(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error)
}

// txStmts binds the cached statements to one transaction once each
// (database/sql makes a new statement of each binding).
type txStmts struct {
	cache *stmtCache
	bound map[string]*sql.Stmt
}

func (c *txStmts) in(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := c.bound[query]; ok {
		return st, nil
	}
	st, err := c.cache.in(ctx, tx, query)
	if err == nil {
		c.bound[query] = st
	}
	return st, err
}

// readTx implements store.ReadTx on a *sql.Tx (read-only or read-write).
type readTx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts stmtSource
	rev   int64
	done  bool
}

func (t *readTx) Revision() int64 { return t.rev }

func (t *readTx) Get(kind store.Kind, id string) (store.Record, bool, error) {
	if t.done {
		return store.Record{}, false, errTxDone
	}
	r := store.Record{Kind: kind, ID: id}
	row, err := t.queryRow(queryGet, string(kind), id)
	if err == nil {
		err = row.Scan(&r.Account, &r.Region, &r.Data, &r.Revision)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, false, nil
	}
	if err == nil {
		r.Data, err = unpack(r.Data)
	}
	if err != nil {
		return store.Record{}, false, fmt.Errorf("sqlite: get %s/%s: %w", kind, id, err)
	}
	return r, true, nil
}

func (t *readTx) List(kind store.Kind, q store.Query) ([]store.Record, error) {
	if t.done {
		return nil, errTxDone
	}
	query := `SELECT id, account, region, data, revision FROM resources WHERE kind = ?`
	args := []any{string(kind)}
	if q.Account != "" {
		query += ` AND account = ?`
		args = append(args, q.Account)
	}
	if q.Region != "" {
		query += ` AND region = ?`
		args = append(args, q.Region)
	}
	query += ` ORDER BY id`
	rows, err := t.tx.QueryContext(t.ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", kind, err)
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		r := store.Record{Kind: kind}
		err := rows.Scan(&r.ID, &r.Account, &r.Region, &r.Data, &r.Revision)
		if err == nil {
			r.Data, err = unpack(r.Data)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", kind, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", kind, err)
	}
	return out, nil
}

func (t *readTx) Token(account, token string) (store.Token, bool, error) {
	if t.done {
		return store.Token{}, false, errTxDone
	}
	tok := store.Token{Account: account, Token: token}
	var created int64
	row, err := t.queryRow(queryGetToken, account, token)
	if err == nil {
		err = row.Scan(&tok.Action, &tok.ParamsHash, &tok.Response, &created)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, false, nil
	}
	if err != nil {
		return store.Token{}, false, fmt.Errorf("sqlite: get token: %w", err)
	}
	tok.Created = time.UnixMicro(created).UTC()
	return tok, true, nil
}

func (t *readTx) changes(query string, args ...any) ([]store.Change, error) {
	rows, err := t.tx.QueryContext(t.ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: changes: %w", err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var kind, op string
		if err := rows.Scan(&c.Revision, &kind, &c.ID, &c.Account, &c.Region, &op); err != nil {
			return nil, fmt.Errorf("sqlite: changes: %w", err)
		}
		c.Kind, c.Op = store.Kind(kind), store.Op(op)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: changes: %w", err)
	}
	return out, nil
}

type recordKey struct {
	kind store.Kind
	id   string
}

// writeTx implements store.Tx. It collects one change-log entry per written
// record, and the record as written, and the tokens written; when fn
// succeeds they join its batch's, which are written at the batch's end.
type writeTx struct {
	readTx
	store   *Store
	batch   *batchState
	next    int64 // revision this transaction commits as, if it writes
	changes []store.Change
	recs    []*store.Record   // as written, by changes' position; nil: deleted
	index   map[recordKey]int // position in changes
	toks    []store.Token
	// conflict is the first failed precondition (Expect).
	conflict error
}

func (t *writeTx) record(c store.Change, r *store.Record) {
	k := recordKey{c.Kind, c.ID}
	if i, ok := t.index[k]; ok {
		t.changes[i], t.recs[i] = c, r // keep first-write position, last op
		return
	}
	t.index[k] = len(t.changes)
	t.changes = append(t.changes, c)
	t.recs = append(t.recs, r)
}

// written returns what this transaction, or an earlier Update of its
// batch, wrote to (kind, id): known is false if neither did, r nil if it
// was deleted.
func (t *writeTx) written(kind store.Kind, id string) (r *store.Record, known bool) {
	k := recordKey{kind, id}
	if i, ok := t.index[k]; ok {
		return t.recs[i], true
	}
	r, known = t.batch.recs[k]
	return r, known
}

// Get implements store.Tx: what this batch wrote is read from memory.
func (t *writeTx) Get(kind store.Kind, id string) (store.Record, bool, error) {
	if t.done {
		return store.Record{}, false, errTxDone
	}
	if r, known := t.written(kind, id); known {
		if r == nil {
			return store.Record{}, false, nil
		}
		out := *r
		out.Object = nil // reads from a backend leave it nil: the writer may modify what it reads
		return out, true, nil
	}
	return t.readTx.Get(kind, id)
}

// Peek returns the decoded value (kind, id) as this transaction sees it,
// for reading only, when this process wrote it last (see PeekRecord): nil
// when it was written without one or not lately (read it with Get then).
func (t *writeTx) Peek(kind store.Kind, id string) (obj any, found, known bool) {
	if r, ok := t.PeekRecord(kind, id); ok {
		if r == nil {
			return nil, false, true
		}
		if r.Object != nil {
			return r.Object, true, true
		}
	}
	return nil, false, false
}

// PeekRecord returns the record (kind, id) as this transaction sees it
// when this process wrote it last: in this transaction, earlier in its
// batch, or in a committed batch the recent log still holds (and nothing
// was committed since by another process). The record is shared: read
// only. known is false when it is not one of those (read it with Get);
// r is nil, known true, when it was deleted.
func (t *writeTx) PeekRecord(kind store.Kind, id string) (r *store.Record, known bool) {
	if r, ok := t.written(kind, id); ok {
		return r, true
	}
	t.store.mu.Lock()
	defer t.store.mu.Unlock()
	if t.store.log.To != t.batch.base {
		return nil, false
	}
	ws, ok := t.store.log.Since(t.store.log.From)
	if !ok {
		return nil, false
	}
	for i := len(ws) - 1; i >= 0; i-- { // the newest write of it
		if w := ws[i]; w.ID == id && w.Kind == kind {
			return w.Record, true
		}
	}
	return nil, false
}

// Expect implements store.Tx. The writer is serialized, so the check is
// made at once: nothing can change the record between it and the commit
// but this transaction, whose own writes Expect refuses.
func (t *writeTx) Expect(kind store.Kind, id string, rev int64) error {
	if t.done {
		return errTxDone
	}
	if kind == "" || id == "" || rev < 0 {
		return fmt.Errorf("sqlite: expect: %w: empty kind or id, or negative revision", store.ErrInvalid)
	}
	k := recordKey{kind, id}
	if _, ok := t.index[k]; ok {
		return fmt.Errorf("sqlite: expect %s/%s: %w: the transaction has written it already; state preconditions before writing", kind, id, store.ErrInvalid)
	}
	have, err := t.revisionOf(k)
	if err != nil {
		return fmt.Errorf("sqlite: expect %s/%s: %w", kind, id, err)
	}
	if have != rev {
		err := fmt.Errorf("sqlite: %s/%s is at revision %d, not %d: %w", kind, id, have, rev, store.ErrConflict)
		if t.conflict == nil {
			t.conflict = err
		}
		return err
	}
	return nil
}

// RevisionOf returns the revision of record (kind, id) as this transaction
// sees it (0: absent), without a query when this process wrote the store
// last. Unlike Expect, a revision other than one expected fails nothing:
// a write that read a record for a check it can redo (service.Update)
// asks whether it moved.
func (t *writeTx) RevisionOf(kind store.Kind, id string) (int64, error) {
	if t.done {
		return 0, errTxDone
	}
	k := recordKey{kind, id}
	if i, ok := t.index[k]; ok {
		if t.recs[i] == nil {
			return 0, nil
		}
		return t.recs[i].Revision, nil
	}
	return t.revisionOf(k)
}

// revisionOf is the revision of a record as of the start of this
// transaction (its batch's earlier Updates included).
func (t *writeTx) revisionOf(k recordKey) (int64, error) {
	var have int64
	if r, known := t.batch.recs[k]; known {
		if r != nil {
			have = r.Revision
		}
		return have, nil
	}
	if revs := t.store.revs; revs != nil && t.store.log.To == t.batch.base {
		return revs[k], nil // committed state, all written by this process
	}
	row, err := t.queryRow(queryRecordRevision, string(k.kind), k.id)
	if err == nil {
		err = row.Scan(&have)
	}
	if errors.Is(err, sql.ErrNoRows) {
		have, err = 0, nil
	}
	return have, err
}

// ChangesSince returns the change-log entries after revision after as this
// transaction sees them: those committed, those of the Updates before it in
// its batch, and its own writes so far (with revision t.next). An in-memory
// view at revision after plus these records is exactly this transaction's
// state.
func (t *writeTx) ChangesSince(after int64) ([]store.Change, error) {
	var out []store.Change
	err := t.EachChangeSince(after, func(c *store.Change) { out = append(out, *c) })
	return out, err
}

// EachChangeSince calls f with each entry ChangesSince returns, in order,
// without collecting them (f must not keep c): a commit that checks a few
// kinds among them (service's optimistic writes) copies none.
func (t *writeTx) EachChangeSince(after int64, f func(c *store.Change)) error {
	if t.done {
		return errTxDone
	}
	if after < t.rev {
		// Committed changes from memory when the log holds them, then the
		// batch's. The log only changes when a batch is committed, by the
		// writer that runs this one: what Since returns stays as it is.
		t.store.mu.Lock()
		ws, ok := t.store.log.Since(after)
		ok = ok && t.store.log.To == t.batch.base
		t.store.mu.Unlock()
		if ok {
			for i := range ws {
				f(&ws[i].Change)
			}
		} else {
			committed, err := t.readTx.changes(`SELECT revision, kind, id, account, region, op FROM changes WHERE revision > ? ORDER BY revision, seq`, after)
			if err != nil {
				return err
			}
			for i := range committed {
				f(&committed[i])
			}
		}
		// The batch's rows are written at its end.
		for i := range t.batch.written {
			if w := &t.batch.written[i]; w.Revision > after {
				f(&w.Change)
			}
		}
	}
	for i := range t.changes {
		f(&t.changes[i])
	}
	return nil
}

// maxData is the longest document SQLite stores (SQLITE_MAX_LENGTH):
// refused at Put, since the batch writes it later, where it would fail the
// whole batch.
const maxData = 1_000_000_000 - 1024

func (t *writeTx) Put(r store.Record) error {
	if t.done {
		return errTxDone
	}
	if r.Kind == "" || r.ID == "" {
		return fmt.Errorf("sqlite: put: %w: empty kind or id", store.ErrInvalid)
	}
	if len(r.Data) > maxData {
		return fmt.Errorf("sqlite: put %s/%s: %w: a document of %d bytes; at most %d", r.Kind, r.ID, store.ErrInvalid, len(r.Data), maxData)
	}
	if r.Data == nil {
		r.Data = []byte{}
	}
	r.Revision = t.next
	r.Memo = nil // derived from the value before, perhaps (store.Record.Memo)
	t.record(store.Change{Revision: t.next, Kind: r.Kind, ID: r.ID, Account: r.Account, Region: r.Region, Op: store.OpPut}, &r)
	return nil
}

// put writes a record: a record already there in the same scope is
// updated in place (the scope index untouched: an upsert that sets the
// scope rewrites its index entry), else inserted or moved by an upsert.
func (t *writeTx) put(kind store.Kind, id, account, region string, data []byte, rev int64) error {
	data, t.batch.packed = packInto(t.batch.packed, data)
	st, err := t.stmts.in(t.ctx, t.tx, queryUpdateData)
	if err != nil {
		return err
	}
	bx := t.batch.boxes
	k, a, r := bx.kind.box(string(kind)), bx.account.box(account), bx.region.box(region)
	res, err := st.ExecContext(t.ctx, data, rev, k, id, a, r)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return t.exec(queryPut, k, id, a, r, data, rev)
}

func (t *writeTx) Delete(kind store.Kind, id string) error {
	if t.done {
		return errTxDone
	}
	if kind == "" || id == "" {
		return fmt.Errorf("sqlite: delete: %w: empty kind or id", store.ErrInvalid)
	}
	var account, region string
	if r, known := t.written(kind, id); known {
		if r == nil {
			return nil
		}
		account, region = r.Account, r.Region
	} else {
		row, err := t.queryRow(queryScope, string(kind), id)
		if err == nil {
			err = row.Scan(&account, &region)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlite: delete %s/%s: %w", kind, id, err)
		}
	}
	t.record(store.Change{Revision: t.next, Kind: kind, ID: id, Account: account, Region: region, Op: store.OpDelete}, nil)
	return nil
}

func (t *writeTx) PutToken(tok store.Token) error {
	if t.done {
		return errTxDone
	}
	if tok.Token == "" {
		return fmt.Errorf("sqlite: put token: %w: empty token", store.ErrInvalid)
	}
	// As it reads back once stored.
	tok.Response = bytes.Clone(tok.Response)
	if tok.Response == nil {
		tok.Response = []byte{}
	}
	tok.Created = time.UnixMicro(tok.Created.UnixMicro()).UTC()
	t.toks = append(t.toks, tok)
	return nil
}

// Token implements store.ReadTx: this transaction's tokens and its
// batch's are read from memory.
func (t *writeTx) Token(account, token string) (store.Token, bool, error) {
	if t.done {
		return store.Token{}, false, errTxDone
	}
	for i := len(t.toks) - 1; i >= 0; i-- {
		if tok := t.toks[i]; tok.Account == account && tok.Token == token {
			return tok, true, nil
		}
	}
	if tok, ok := t.batch.toks[tokenKey{account, token}]; ok {
		return tok, true, nil
	}
	return t.readTx.Token(account, token)
}

// List implements store.ReadTx: the committed records, with what this
// transaction and its batch wrote in their place.
func (t *writeTx) List(kind store.Kind, q store.Query) ([]store.Record, error) {
	out, err := t.readTx.List(kind, q)
	if err != nil {
		return nil, err
	}
	var mine map[string]*store.Record // nil value: deleted
	note := func(k recordKey, r *store.Record) {
		if k.kind != kind {
			return
		}
		if mine == nil {
			mine = map[string]*store.Record{}
		}
		mine[k.id] = r
	}
	for _, k := range t.batch.order {
		note(k, t.batch.recs[k])
	}
	for i, c := range t.changes {
		note(recordKey{c.Kind, c.ID}, t.recs[i])
	}
	if mine == nil {
		return out, nil
	}
	out = slices.DeleteFunc(out, func(r store.Record) bool {
		_, written := mine[r.ID]
		return written
	})
	for _, r := range mine {
		if r != nil && (q.Account == "" || r.Account == q.Account) && (q.Region == "" || r.Region == q.Region) {
			c := *r
			c.Object = nil // reads from a backend leave it nil: the writer may modify what it reads
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b store.Record) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
