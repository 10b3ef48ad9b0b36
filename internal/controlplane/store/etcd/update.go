package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Group commit: the Updates queued while one commits run next, one after
// the other (each sees the writes of those before it and gets its own
// revision), and commit in one etcd transaction, as store/sqlite does.
const (
	maxBatch = 64
	// opBudget stops a batch before its transaction nears etcd's
	// --max-txn-ops (128 by default); one Update may still need more.
	opBudget = 96
	// byteBudget stops a batch, likewise, before its transaction nears
	// etcd's --max-request-bytes (1.5 MiB by default): Updates each well
	// under it (groups of a few hundred rules) are not failed together
	// for their sum. The Update that crosses it joins the batch if the
	// transaction still fits (see overflows).
	byteBudget = 512 << 10
)

type pending struct {
	ctx      context.Context
	fn       func(store.Tx) error
	finished bool // set under wmu
	rev      int64
	err      error
	panicked bool
	panicVal any
}

// Update implements store.Store (see the package comment).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	p := &pending{ctx: ctx, fn: fn}
	s.qmu.Lock()
	s.queue = append(s.queue, p)
	s.qmu.Unlock()
	s.wmu.Lock()
	for !p.finished {
		s.runQueued()
	}
	s.wmu.Unlock()
	if p.panicked {
		panic(p.panicVal)
	}
	return p.rev, p.err
}

// runQueued runs and commits one batch from the queue. The caller holds wmu.
func (s *Store) runQueued() {
	s.qmu.Lock()
	n := min(len(s.queue), maxBatch)
	todo := slices.Clone(s.queue[:n])
	s.queue = slices.Delete(s.queue, 0, n)
	s.qmu.Unlock()
	finish := func(ps []*pending, err error) {
		for _, p := range ps {
			p.finished, p.err = true, err
		}
	}
	if s.closed.Load() {
		finish(todo, store.ErrClosed)
		return
	}
	// Not one caller's context: the batch serves them all. Bounded, so an
	// unreachable etcd fails the Updates instead of holding them.
	bctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	snap, err := s.begin(bctx)
	cancel()
	if err != nil {
		finish(todo, err)
		return
	}
	b := &batch{s: s, snap: snap, reads: map[string]int64{}, kindOf: map[string]store.Kind{}, recs: map[string]*written{}, toks: map[string]store.Token{}, kinds: map[store.Kind]int64{}}
	var ran []*pending
	for i, p := range todo {
		if i > 0 && (b.ops() >= opBudget || b.bytes >= byteBudget) {
			// The rest wait for the next batch, first in the queue.
			s.qmu.Lock()
			s.queue = append(slices.Clone(todo[i:]), s.queue...)
			s.qmu.Unlock()
			break
		}
		ran = append(ran, p)
		b.run(p)
	}
	rev, shift, err := b.commit()
	for _, p := range ran {
		p.finished = true
		if p.err != nil || p.panicked {
			continue
		}
		if err != nil {
			p.rev, p.err = 0, err // nothing committed: no revision (store.Store.Update)
			continue
		}
		p.rev += shift // a commit at later revisions shifts all
	}
	if err == nil && len(b.written) > 0 {
		for i := range b.written {
			w := &b.written[i]
			w.Revision += shift
			if w.Record != nil {
				w.Record.Revision += shift
			}
		}
		s.remember(b.snap.rev+shift, rev, b.written)
	}
	if err == nil {
		s.advance(rev)
		if fn := s.onCommit.Load(); fn != nil {
			(*fn)()
		}
	}
}

// OnCommit has fn called after each batch of Updates etcd committed (or,
// with nothing to write, read linearizably): etcd had a leader then. It
// runs on the Update's goroutine, before the Updates return, and must be
// quick. nil: none.
func (s *Store) OnCommit(fn func()) {
	if fn == nil {
		s.onCommit.Store(nil)
		return
	}
	s.onCommit.Store(&fn)
}

// remember appends a committed batch (revisions base+1 … rev) to the
// in-memory log, restarting it if another server committed since its end.
func (s *Store) remember(base, rev int64, written []store.Written) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log.Append(base, rev, written)
}

// Recent implements store.Recent for the writes of this Store value; ok is
// false once another server has committed after them (its changes are
// known only from the change log).
func (s *Store) Recent(after int64) ([]store.Written, int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws, ok := s.log.Since(after)
	if !ok || s.latest > s.log.To {
		return nil, 0, false
	}
	return ws, s.log.To, true
}

// batch is the state of the Updates of one commit.
type batch struct {
	s       *Store
	snap    *readTx
	reads   map[string]int64      // read set: key → ModRevision at the snapshot (0: absent)
	kindOf  map[string]store.Kind // the kind of each record key in reads
	recs    map[string]*written   // records as the batch left them
	toks    map[string]store.Token
	kinds   map[store.Kind]int64 // kind → last revision that wrote it
	entries [][]logEntry         // change log of revisions snap.rev+1, +2, ...
	written []store.Written      // the same with the records, for Recent
	bytes   int                  // about the size of the writes (byteBudget)
}

func (b *batch) rev() int64 { return b.snap.rev + int64(len(b.entries)) }

func (b *batch) ops() int {
	return 1 + len(b.recs) + len(b.toks) + len(b.kinds) + len(b.entries)
}

// run runs one Update's fn against the batch's state and, if it succeeds,
// adds its writes to the batch.
func (b *batch) run(p *pending) {
	if err := p.ctx.Err(); err != nil {
		p.err = err
		return
	}
	rtx := *b.snap
	rtx.ctx, rtx.rev = p.ctx, b.rev()
	tx := &writeTx{readTx: &rtx, b: b, reads: map[string]int64{}, kindOf: map[string]store.Kind{}, recs: map[string]*written{}, toks: map[string]store.Token{}}
	func() {
		defer func() {
			tx.done = true
			if v := recover(); v != nil {
				p.panicked, p.panicVal = true, v
			}
		}()
		p.err = p.fn(tx)
	}()
	if p.err == nil {
		p.err = tx.conflict
	}
	if p.err != nil || p.panicked {
		return
	}
	if b.overflows(tx) {
		// Beside the Updates before it, the batch's one transaction would
		// pass etcd's limits and fail them all; alone it may fit. fn must
		// not run twice, so the caller runs the write again (see
		// store.ErrConflict), in a batch of its own if need be.
		p.err = fmt.Errorf("etcd: the write did not fit in one etcd transaction beside the writes batched with it: %w", store.ErrConflict)
		return
	}
	for k, v := range tx.reads {
		if _, ok := b.reads[k]; !ok {
			b.reads[k] = v
		}
	}
	maps.Copy(b.kindOf, tx.kindOf)
	maps.Copy(b.toks, tx.toks)
	for key, tok := range tx.toks {
		b.bytes += tokSize(key, tok)
	}
	if len(tx.order) == 0 {
		p.rev = b.rev()
		return
	}
	rev := b.rev() + 1
	var es []logEntry
	for _, w := range tx.order {
		op := store.OpDelete
		if w.rec != nil {
			op = store.OpPut
		}
		es = append(es, logEntry{Kind: w.kind, ID: w.id, Account: w.account, Region: w.region, Op: op})
		ch := store.Written{Change: store.Change{Revision: rev, Kind: w.kind, ID: w.id, Account: w.account, Region: w.region, Op: op}}
		if w.rec != nil {
			r := *w.rec
			ch.Record = &r
		}
		b.written = append(b.written, ch)
		b.recs[w.key] = w
		b.bytes += w.size()
		b.kinds[w.kind] = rev
	}
	b.entries = append(b.entries, es)
	p.rev = rev
}

// maxTxnOps and maxTxnBytes are etcd's default --max-txn-ops and (with
// room for the compares and framing) --max-request-bytes.
const (
	maxTxnOps   = 128
	maxTxnBytes = 1536<<10 - 64<<10
)

// size is about what a write adds to a commit: the record and its
// change-log entry.
func (w *written) size() int {
	n := 64 + 2*len(w.key) + len(w.account) + len(w.region) + len(w.id)
	if w.rec != nil {
		n += len(w.rec.Data)
	}
	return n
}

// tokSize is about what a token adds to a commit (its JSON, the response
// in base64).
func tokSize(key string, tok store.Token) int {
	return 64 + len(key) + len(tok.Action) + len(tok.ParamsHash) + len(tok.Response)*4/3
}

// overflows reports whether adding tx's writes to a batch that already
// holds writes would pass etcd's default limits on one transaction,
// which tx's alone would not. (Alone over them, it needs them raised, as
// the package comment says: it joins the batch as before.)
func (b *batch) overflows(tx *writeTx) bool {
	if len(b.entries) == 0 && len(b.toks) == 0 {
		return false // alone: it fits or fails on its own
	}
	ops, bytes := b.ops(), b.bytes
	own, ownBytes := 1, 0 // the revision key
	if len(tx.order) > 0 {
		ops, own = ops+1, own+1 // its log entry
	}
	kinds := map[store.Kind]bool{}
	for _, w := range tx.order {
		own++
		if _, ok := b.recs[w.key]; !ok {
			ops++
		}
		if !kinds[w.kind] {
			kinds[w.kind] = true
			own++
			if _, ok := b.kinds[w.kind]; !ok {
				ops++
			}
		}
		bytes, ownBytes = bytes+w.size(), ownBytes+w.size()
	}
	for key, tok := range tx.toks {
		own++
		if _, ok := b.toks[key]; !ok {
			ops++
		}
		bytes, ownBytes = bytes+tokSize(key, tok), ownBytes+tokSize(key, tok)
	}
	if own > maxTxnOps || ownBytes > maxTxnBytes {
		return false
	}
	return ops > maxTxnOps || bytes > maxTxnBytes
}

// maxCompares bounds the compares of one commit below etcd's
// --max-txn-ops (128 by default).
const maxCompares = 64

// collapseReads replaces, when the read set is too large for one etcd
// transaction, the compares of records by those of their kinds' keys: a
// kind's key moves with every write of the kind, so it is unchanged only
// if every record of the kind read is (a coarser check, which may report
// a conflict where a record compare would not).
func (b *batch) collapseReads(ctx context.Context) error {
	if len(b.reads) <= maxCompares {
		return nil
	}
	kinds := map[store.Kind]bool{}
	for key, kind := range b.kindOf {
		if _, ok := b.reads[key]; ok {
			kinds[kind] = true
			delete(b.reads, key)
		}
	}
	for kind := range kinds {
		key := b.s.kindKey(kind)
		if _, ok := b.reads[key]; ok {
			continue
		}
		resp, err := b.s.cli.Get(ctx, key, clientv3.WithRev(b.snap.at))
		if err != nil {
			return fmt.Errorf("etcd: commit: %w", err)
		}
		var mod int64
		if len(resp.Kvs) > 0 {
			mod = resp.Kvs[0].ModRevision
		}
		b.reads[key] = mod
	}
	if len(b.reads) > 2*maxCompares {
		return fmt.Errorf("etcd: the write read %d tokens and kinds, more than one etcd transaction compares; split it", len(b.reads))
	}
	return nil
}

// commit writes the batch in one etcd transaction and returns the revision
// it brings the store to. When only the revision key moved (another server
// committed something this batch did not read), it commits again at the
// next revisions.
func (b *batch) commit() (last, shift int64, err error) {
	s := b.s
	if len(b.entries) == 0 && len(b.toks) == 0 {
		return b.snap.rev, 0, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.collapseReads(ctx); err != nil {
		return 0, 0, err
	}
	readKeys := slices.Sorted(maps.Keys(b.reads))
	var cmps []clientv3.Cmp
	for _, k := range readKeys {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", b.reads[k]))
	}
	var tokOps []clientv3.Op
	for _, key := range slices.Sorted(maps.Keys(b.toks)) {
		tok := b.toks[key]
		v, _ := json.Marshal(tokenDoc{Action: tok.Action, ParamsHash: tok.ParamsHash, Response: tok.Response, Created: tok.Created.UnixMicro()})
		tokOps = append(tokOps, clientv3.OpPut(key, string(v)))
	}
	if len(b.entries) == 0 {
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(tokOps...).Commit()
		if err != nil {
			return 0, 0, fmt.Errorf("etcd: commit: %w", err)
		}
		if !resp.Succeeded {
			return 0, 0, fmt.Errorf("etcd: a record or token the write read has changed: %w", store.ErrConflict)
		}
		return b.snap.rev, 0, nil
	}

	base, revMod := b.snap.rev, b.snap.revMod
	for attempt := 0; ; attempt++ {
		shift = base - b.snap.rev
		last = base + int64(len(b.entries))
		ops := []clientv3.Op{clientv3.OpPut(s.revKey(), strconv.FormatInt(last, 10))}
		for _, key := range slices.Sorted(maps.Keys(b.recs)) {
			w := b.recs[key]
			if w.rec != nil {
				ops = append(ops, clientv3.OpPut(key, string(encodeRecord(w.rec, w.rec.Revision+shift))))
			} else {
				ops = append(ops, clientv3.OpDelete(key))
			}
		}
		for kind, rev := range b.kinds {
			ops = append(ops, clientv3.OpPut(s.kindKey(kind), strconv.FormatInt(rev+shift, 10)))
		}
		for i, es := range b.entries {
			v, err := json.Marshal(es)
			if err != nil {
				return 0, 0, err
			}
			ops = append(ops, clientv3.OpPut(s.logKey(base+1+int64(i)), string(v)))
		}
		ops = append(ops, tokOps...)
		all := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.revKey()), "=", revMod)}, cmps...)
		elses := []clientv3.Op{clientv3.OpGet(s.revKey())}
		for _, k := range readKeys {
			elses = append(elses, clientv3.OpGet(k, clientv3.WithKeysOnly()))
		}
		resp, err := s.cli.Txn(ctx).If(all...).Then(ops...).Else(elses...).Commit()
		if err != nil {
			if strings.Contains(err.Error(), "too many operations") {
				err = fmt.Errorf("%w (one write needs more: raise etcd's --max-txn-ops)", err)
			} else if strings.Contains(err.Error(), "too large") || strings.Contains(err.Error(), "larger than max") {
				err = fmt.Errorf("%w (one write needs more: raise etcd's --max-request-bytes, or write less at once)", err)
			}
			return 0, 0, fmt.Errorf("etcd: commit: %w", err)
		}
		if resp.Succeeded {
			s.commits.Add(1)
			return last, shift, nil
		}
		// Which compare failed? If one of the read set, what the writes
		// decided on is stale: the callers must read again.
		for i, k := range readKeys {
			var mod int64
			if kvs := resp.Responses[i+1].GetResponseRange().Kvs; len(kvs) > 0 {
				mod = kvs[0].ModRevision
			}
			if mod != b.reads[k] {
				return 0, 0, fmt.Errorf("etcd: %q changed since the write read it: %w", strings.TrimPrefix(k, s.p), store.ErrConflict)
			}
		}
		if attempt >= 100 {
			return 0, 0, fmt.Errorf("etcd: the revision kept moving under 100 commits: %w", store.ErrConflict)
		}
		rr := resp.Responses[0].GetResponseRange()
		if base, revMod, err = parseRev(&clientv3.GetResponse{Header: rr.Header, Kvs: rr.Kvs}); err != nil {
			return 0, 0, err
		}
	}
}

// written is a record written by a transaction; rec nil: deleted.
type written struct {
	key     string
	kind    store.Kind
	id      string
	account string // of the last write (a delete: of the record deleted)
	region  string
	rec     *store.Record
}

// writeTx is one Update's transaction: its own writes, over those of the
// Updates before it in the batch, over the snapshot.
type writeTx struct {
	*readTx
	b        *batch
	reads    map[string]int64 // snapshot reads: key → ModRevision (0: absent)
	kindOf   map[string]store.Kind
	recs     map[string]*written
	order    []*written // first-write order
	toks     map[string]store.Token
	conflict error
}

func (t *writeTx) read(key string, mod int64) {
	if _, ok := t.reads[key]; !ok {
		t.reads[key] = mod
	}
}

// lookup returns the record (kind, id) as this transaction sees it.
func (t *writeTx) lookup(kind store.Kind, id string) (store.Record, bool, error) {
	key := t.s.recKey(kind, id)
	w, ok := t.recs[key]
	if !ok {
		w, ok = t.b.recs[key]
	}
	if ok {
		if w.rec == nil {
			return store.Record{}, false, nil
		}
		r := *w.rec
		r.Object = nil // reads leave it nil: the writer may modify what it reads
		return r, true, nil
	}
	r, found, mod, err := t.getRecord(kind, id)
	if err == nil {
		t.read(key, mod)
		t.kindOf[key] = kind
	}
	return r, found, err
}

func (t *writeTx) Get(kind store.Kind, id string) (store.Record, bool, error) {
	if t.done {
		return store.Record{}, false, errTxDone
	}
	if kind == "" || id == "" {
		return store.Record{}, false, fmt.Errorf("etcd: get: %w: empty kind or id", store.ErrInvalid)
	}
	return t.lookup(kind, id)
}

func (t *writeTx) List(kind store.Kind, q store.Query) ([]store.Record, error) {
	if t.done {
		return nil, errTxDone
	}
	// The kind key moves with every write of the kind, deletes included:
	// comparing it stands for comparing the whole listing.
	_, mod, err := t.get(t.s.kindKey(kind))
	if err != nil {
		return nil, err
	}
	t.read(t.s.kindKey(kind), mod)
	rs, err := t.readTx.List(kind, store.Query{})
	if err != nil {
		return nil, err
	}
	byID := map[string]store.Record{}
	for _, r := range rs {
		byID[r.ID] = r
	}
	for _, ws := range []map[string]*written{t.b.recs, t.recs} {
		for _, w := range ws {
			if w.kind != kind {
				continue
			}
			if w.rec == nil {
				delete(byID, w.id)
			} else {
				r := *w.rec
				r.Object = nil
				byID[w.id] = r
			}
		}
	}
	out := []store.Record{}
	for _, r := range byID {
		if matches(r, q) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b store.Record) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *writeTx) Token(account, token string) (store.Token, bool, error) {
	if t.done {
		return store.Token{}, false, errTxDone
	}
	key := t.s.tokKey(account, token)
	if tok, ok := t.toks[key]; ok {
		return tok, true, nil
	}
	if tok, ok := t.b.toks[key]; ok {
		return tok, true, nil
	}
	tok, ok, mod, err := t.getToken(account, token)
	if err == nil {
		// Two servers must not both take the same ClientToken.
		t.read(key, mod)
	}
	return tok, ok, err
}

// Expect implements store.Tx: checked now, and, for what was read from the
// snapshot, again at commit by comparing the record's ModRevision.
func (t *writeTx) Expect(kind store.Kind, id string, rev int64) error {
	if t.done {
		return errTxDone
	}
	if kind == "" || id == "" || rev < 0 {
		return fmt.Errorf("etcd: expect: %w: empty kind or id, or negative revision", store.ErrInvalid)
	}
	if _, ok := t.recs[t.s.recKey(kind, id)]; ok {
		return fmt.Errorf("etcd: expect %s/%s: %w: the transaction has written it already; state preconditions before writing", kind, id, store.ErrInvalid)
	}
	r, ok, err := t.lookup(kind, id)
	if err != nil {
		return err
	}
	var have int64
	if ok {
		have = r.Revision
	}
	if have != rev {
		err := fmt.Errorf("etcd: %s/%s is at revision %d, not %d: %w", kind, id, have, rev, store.ErrConflict)
		if t.conflict == nil {
			t.conflict = err
		}
		return err
	}
	return nil
}

func (t *writeTx) Put(r store.Record) error {
	if t.done {
		return errTxDone
	}
	if r.Kind == "" || r.ID == "" {
		return fmt.Errorf("etcd: put: %w: empty kind or id", store.ErrInvalid)
	}
	r.Revision = t.rev + 1
	r.Memo = nil // derived from the value before, perhaps (store.Record.Memo)
	r.Data = slices.Clone(r.Data)
	key := t.s.recKey(r.Kind, r.ID)
	w := t.recs[key]
	if w == nil {
		w = &written{key: key, kind: r.Kind, id: r.ID}
		t.recs[key] = w
		t.order = append(t.order, w)
	}
	w.rec, w.account, w.region = &r, r.Account, r.Region
	return nil
}

func (t *writeTx) Delete(kind store.Kind, id string) error {
	if t.done {
		return errTxDone
	}
	if kind == "" || id == "" {
		return fmt.Errorf("etcd: delete: %w: empty kind or id", store.ErrInvalid)
	}
	key := t.s.recKey(kind, id)
	if w, ok := t.recs[key]; ok {
		w.rec = nil
		return nil
	}
	r, ok, err := t.lookup(kind, id)
	if err != nil || !ok {
		return err
	}
	w := &written{key: key, kind: kind, id: id, account: r.Account, region: r.Region}
	t.recs[key] = w
	t.order = append(t.order, w)
	return nil
}

func (t *writeTx) PutToken(tok store.Token) error {
	if t.done {
		return errTxDone
	}
	if tok.Account == "" || tok.Token == "" {
		return fmt.Errorf("etcd: put token: %w: empty account or token", store.ErrInvalid)
	}
	tok.Created = time.UnixMicro(tok.Created.UnixMicro())
	tok.Response = slices.Clone(tok.Response)
	if tok.Response == nil {
		tok.Response = []byte{}
	}
	t.toks[t.s.tokKey(tok.Account, tok.Token)] = tok
	return nil
}
