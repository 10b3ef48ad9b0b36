// Package etcd implements store.Store on etcd (go.etcd.io/etcd/client/v3),
// so that several Palisade servers share one installation.
//
// Layout under a key prefix P (default "/palisade/"):
//
//	P rev                      the Palisade revision (decimal; absent = 0)
//	P r/<len>:<kind>/<id>      a record: revision, account, region, data
//	P k/<len>:<kind>           the revision of the last write to kind (List read set)
//	P log/<rev, 20 digits>     the change-log entries of one revision (JSON)
//	P t/<len>:<account>/<tok>  a ClientToken record (JSON)
//
// One Update is one etcd transaction that compares the revision key and
// every key the Update read (their ModRevision as of its snapshot), then
// puts the records, the revision (+1) and the revision's log entry
// together: a revision's changes never split and a watcher of the revision
// key never sees a revision before its log entry. Updates of one Store are
// serialized (fn runs once, as the store contract says); between servers
// they are optimistic: when only the revision moved, the write is committed
// again at the next revision without running fn again (what fn read is
// unchanged, so the outcome is that of running after the other write);
// when something fn read moved, Update fails with store.ErrConflict and
// the caller (service.Update) reads again and retries.
package etcd

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// DefaultPrefix is the key prefix of a Palisade installation in etcd.
const DefaultPrefix = "/palisade/"

// Store is an etcd-backed store.Store.
type Store struct {
	cli       *clientv3.Client
	ownClient bool
	p         string // key prefix

	wmu sync.Mutex // serializes the Updates of this Store value

	closeOnce sync.Once
	closed    atomic.Bool
	closeCh   chan struct{}
	stopWatch context.CancelFunc
	watchDone chan struct{}

	mu     sync.Mutex
	latest int64         // highest revision known committed
	notify chan struct{} // closed (and replaced) when latest advances
}

// Dial connects to the etcd cluster at endpoints and opens the store under
// prefix (DefaultPrefix if empty). Close closes the connection.
func Dial(ctx context.Context, endpoints []string, prefix string) (*Store, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Context:     context.WithoutCancel(ctx),
		// Documents may be large (a group with thousands of rules); the
		// server's --max-request-bytes bounds what it accepts.
		MaxCallSendMsgSize: 64 << 20,
		Logger:             zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: connect to %v: %w", endpoints, err)
	}
	s, err := New(ctx, cli, prefix)
	if err != nil {
		cli.Close()
		return nil, err
	}
	s.ownClient = true
	return s, nil
}

// New opens the store under prefix (DefaultPrefix if empty) on an existing
// client, which the caller keeps and closes after the Store.
func New(ctx context.Context, cli *clientv3.Client, prefix string) (*Store, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &Store{cli: cli, p: prefix, closeCh: make(chan struct{}), notify: make(chan struct{}), watchDone: make(chan struct{})}
	resp, err := cli.Get(ctx, s.revKey())
	if err != nil {
		return nil, fmt.Errorf("etcd: read the revision (is etcd reachable?): %w", err)
	}
	rev, _, err := parseRev(resp)
	if err != nil {
		return nil, err
	}
	s.latest = rev
	wctx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	go s.watch(wctx, resp.Header.Revision)
	return s, nil
}

func (s *Store) revKey() string { return s.p + "rev" }
func (s *Store) recKey(kind store.Kind, id string) string {
	return s.kindPrefix(kind) + id
}
func (s *Store) kindPrefix(kind store.Kind) string {
	return s.p + "r/" + strconv.Itoa(len(kind)) + ":" + string(kind) + "/"
}
func (s *Store) kindKey(kind store.Kind) string {
	return s.p + "k/" + strconv.Itoa(len(kind)) + ":" + string(kind)
}
func (s *Store) logPrefix() string       { return s.p + "log/" }
func (s *Store) logKey(rev int64) string { return fmt.Sprintf("%slog/%020d", s.p, rev) }
func (s *Store) tokKey(account, token string) string {
	return s.p + "t/" + strconv.Itoa(len(account)) + ":" + account + "/" + token
}

// parseRev reads the revision key from a Get: the revision and the key's
// ModRevision (0, 0 when absent).
func parseRev(resp *clientv3.GetResponse) (rev, mod int64, err error) {
	if len(resp.Kvs) == 0 {
		return 0, 0, nil
	}
	kv := resp.Kvs[0]
	rev, err = strconv.ParseInt(string(kv.Value), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("etcd: revision key holds %q: %w", kv.Value, err)
	}
	return rev, kv.ModRevision, nil
}

// watch follows the revision key, so WaitRevision also sees the writes of
// other servers.
func (s *Store) watch(ctx context.Context, from int64) {
	defer close(s.watchDone)
	for ctx.Err() == nil {
		wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.revKey(), clientv3.WithRev(from+1))
		for wr := range wch {
			if wr.Err() != nil {
				break
			}
			for _, ev := range wr.Events {
				if rev, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64); err == nil {
					s.advance(rev)
				}
			}
			from = wr.Header.Revision
		}
		// The watch ended (compaction, lost leader, closed): read the
		// revision again and watch from there.
		for ctx.Err() == nil {
			resp, err := s.cli.Get(ctx, s.revKey())
			if err == nil {
				if rev, _, err := parseRev(resp); err == nil {
					s.advance(rev)
				}
				from = resp.Header.Revision
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

func (s *Store) advance(rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.latest {
		s.latest = rev
		close(s.notify)
		s.notify = make(chan struct{})
	}
}

// Close implements store.Store: it waits for an in-flight Update, stops
// the watch and wakes WaitRevision callers with store.ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.closeCh)
		s.wmu.Lock()
		s.wmu.Unlock()
		s.stopWatch()
		<-s.watchDone
		if s.ownClient {
			s.cli.Close()
		}
	})
	return nil
}

var errTxDone = errors.New("etcd: transaction used after its callback returned")

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	resp, err := s.cli.Get(ctx, s.revKey())
	if err != nil {
		return 0, fmt.Errorf("etcd: revision: %w", err)
	}
	rev, _, err := parseRev(resp)
	if err == nil {
		s.advance(rev)
	}
	return rev, err
}

// WaitRevision implements store.Store. It observes the writes of every
// server on the same etcd, not only this Store's.
func (s *Store) WaitRevision(ctx context.Context, after int64) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	for {
		s.mu.Lock()
		cur, ch := s.latest, s.notify
		s.mu.Unlock()
		if cur > after {
			return cur, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return cur, ctx.Err()
		case <-s.closeCh:
			return cur, store.ErrClosed
		}
	}
}

type logEntry struct {
	Kind    store.Kind `json:"k"`
	ID      string     `json:"i"`
	Account string     `json:"a,omitempty"`
	Region  string     `json:"g,omitempty"`
	Op      store.Op   `json:"o"`
}

// Changes implements store.Store. Each revision is one key, so a page
// never splits a revision.
func (s *Store) Changes(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if after < 0 {
		after = 0
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.logPrefix()))}
	if limit > 0 {
		// Every revision has at least one entry: limit keys are enough.
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	resp, err := s.cli.Get(ctx, s.logKey(after+1), opts...)
	if err != nil {
		return nil, fmt.Errorf("etcd: changes: %w", err)
	}
	out := []store.Change{}
	for _, kv := range resp.Kvs {
		rev, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), s.logPrefix()), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("etcd: change-log key %q: %w", kv.Key, err)
		}
		var es []logEntry
		if err := json.Unmarshal(kv.Value, &es); err != nil {
			return nil, fmt.Errorf("etcd: change-log entry %d: %w", rev, err)
		}
		if limit > 0 && len(out) > 0 && len(out)+len(es) > limit {
			break
		}
		for _, e := range es {
			out = append(out, store.Change{Revision: rev, Kind: e.Kind, ID: e.ID, Account: e.Account, Region: e.Region, Op: e.Op})
		}
	}
	return out, nil
}

// View implements store.Store: the reads are at one etcd revision.
func (s *Store) View(ctx context.Context, fn func(store.ReadTx) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { tx.done = true }()
	return fn(tx)
}

func (s *Store) begin(ctx context.Context) (*readTx, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp, err := s.cli.Get(ctx, s.revKey())
	if err != nil {
		return nil, fmt.Errorf("etcd: begin: %w", err)
	}
	rev, mod, err := parseRev(resp)
	if err != nil {
		return nil, err
	}
	return &readTx{s: s, ctx: ctx, at: resp.Header.Revision, rev: rev, revMod: mod}, nil
}

// readTx reads at etcd revision at.
type readTx struct {
	s      *Store
	ctx    context.Context
	at     int64 // etcd revision of the snapshot
	rev    int64 // Palisade revision at it
	revMod int64 // ModRevision of the revision key at it
	done   bool
}

func (t *readTx) Revision() int64 { return t.rev }

// get reads key at the snapshot: value, ModRevision (0: absent).
func (t *readTx) get(key string) ([]byte, int64, error) {
	resp, err := t.s.cli.Get(t.ctx, key, clientv3.WithRev(t.at))
	if err != nil {
		return nil, 0, fmt.Errorf("etcd: read %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	return resp.Kvs[0].Value, resp.Kvs[0].ModRevision, nil
}

func (t *readTx) getRecord(kind store.Kind, id string) (store.Record, bool, int64, error) {
	if t.done {
		return store.Record{}, false, 0, errTxDone
	}
	if kind == "" || id == "" {
		return store.Record{}, false, 0, fmt.Errorf("etcd: get: %w: empty kind or id", store.ErrInvalid)
	}
	v, mod, err := t.get(t.s.recKey(kind, id))
	if err != nil || mod == 0 {
		return store.Record{}, false, mod, err
	}
	r, err := decodeRecord(kind, id, v)
	return r, err == nil, mod, err
}

func (t *readTx) Get(kind store.Kind, id string) (store.Record, bool, error) {
	r, ok, _, err := t.getRecord(kind, id)
	return r, ok, err
}

func (t *readTx) List(kind store.Kind, q store.Query) ([]store.Record, error) {
	if t.done {
		return nil, errTxDone
	}
	pfx := t.s.kindPrefix(kind)
	resp, err := t.s.cli.Get(t.ctx, pfx, clientv3.WithPrefix(), clientv3.WithRev(t.at))
	if err != nil {
		return nil, fmt.Errorf("etcd: list %s: %w", kind, err)
	}
	out := []store.Record{}
	for _, kv := range resp.Kvs {
		r, err := decodeRecord(kind, strings.TrimPrefix(string(kv.Key), pfx), kv.Value)
		if err != nil {
			return nil, err
		}
		if matches(r, q) {
			out = append(out, r)
		}
	}
	return out, nil
}

func matches(r store.Record, q store.Query) bool {
	return (q.Account == "" || r.Account == q.Account) && (q.Region == "" || r.Region == q.Region)
}

type tokenDoc struct {
	Action     string `json:"action"`
	ParamsHash string `json:"hash"`
	Response   []byte `json:"response"`
	Created    int64  `json:"created"` // Unix microseconds
}

func (t *readTx) getToken(account, token string) (store.Token, bool, int64, error) {
	if t.done {
		return store.Token{}, false, 0, errTxDone
	}
	v, mod, err := t.get(t.s.tokKey(account, token))
	if err != nil || mod == 0 {
		return store.Token{}, false, mod, err
	}
	var d tokenDoc
	if err := json.Unmarshal(v, &d); err != nil {
		return store.Token{}, false, 0, fmt.Errorf("etcd: token %s/%s: %w", account, token, err)
	}
	if d.Response == nil {
		d.Response = []byte{}
	}
	return store.Token{Account: account, Token: token, Action: d.Action, ParamsHash: d.ParamsHash,
		Response: d.Response, Created: time.UnixMicro(d.Created)}, true, mod, nil
}

func (t *readTx) Token(account, token string) (store.Token, bool, error) {
	tok, ok, _, err := t.getToken(account, token)
	return tok, ok, err
}

// encodeRecord is revision, account, region (uvarint-length-prefixed) and
// the data as is: no base64, so a 1 MiB document stays 1 MiB in etcd.
func encodeRecord(r *store.Record, rev int64) []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen64+len(r.Account)+len(r.Region)+len(r.Data))
	b = binary.AppendUvarint(b, uint64(rev))
	b = binary.AppendUvarint(b, uint64(len(r.Account)))
	b = append(b, r.Account...)
	b = binary.AppendUvarint(b, uint64(len(r.Region)))
	b = append(b, r.Region...)
	return append(b, r.Data...)
}

func decodeRecord(kind store.Kind, id string, b []byte) (store.Record, error) {
	bad := fmt.Errorf("etcd: record %s/%s is corrupt", kind, id)
	rev, n := binary.Uvarint(b)
	if n <= 0 {
		return store.Record{}, bad
	}
	b = b[n:]
	str := func() (string, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return "", false
		}
		v := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return v, true
	}
	account, ok1 := str()
	region, ok2 := str()
	if !ok1 || !ok2 {
		return store.Record{}, bad
	}
	return store.Record{Kind: kind, ID: id, Account: account, Region: region, Data: b, Revision: int64(rev)}, nil
}

// Update implements store.Store (see the package comment).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	rtx, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	tx := &writeTx{readTx: rtx, reads: map[string]int64{}, recs: map[string]*written{}, toks: map[string]store.Token{}}
	func() {
		defer func() { tx.done = true }()
		err = fn(tx)
	}()
	if err == nil {
		err = tx.conflict
	}
	if err != nil {
		return 0, err
	}
	rev, err := tx.commit()
	if err != nil {
		return 0, err
	}
	s.advance(rev)
	return rev, nil
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

type writeTx struct {
	*readTx
	reads    map[string]int64 // read set: key → ModRevision at the snapshot (0: absent)
	recs     map[string]*written
	order    []*written // first-write order
	toks     map[string]store.Token
	tokOrder []string
	conflict error
}

func (t *writeTx) read(key string, mod int64) {
	if _, ok := t.reads[key]; !ok {
		t.reads[key] = mod
	}
}

func (t *writeTx) Get(kind store.Kind, id string) (store.Record, bool, error) {
	if t.done {
		return store.Record{}, false, errTxDone
	}
	if w, ok := t.recs[t.s.recKey(kind, id)]; ok {
		if w.rec == nil {
			return store.Record{}, false, nil
		}
		r := *w.rec
		return r, true, nil
	}
	r, ok, mod, err := t.getRecord(kind, id)
	if err == nil {
		t.read(t.s.recKey(kind, id), mod)
	}
	return r, ok, err
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
	byID := map[string]int{}
	for i, r := range rs {
		byID[r.ID] = i
	}
	for _, w := range t.order {
		if w.kind != kind {
			continue
		}
		i, had := byID[w.id]
		switch {
		case w.rec == nil && had:
			rs[i].ID = "" // dropped below
		case w.rec != nil && had:
			rs[i] = *w.rec
		case w.rec != nil:
			rs = append(rs, *w.rec)
		}
	}
	out := []store.Record{}
	for _, r := range rs {
		if r.ID != "" && matches(r, q) {
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
	tok, ok, mod, err := t.getToken(account, token)
	if err == nil {
		// Two servers must not both take the same ClientToken.
		t.read(key, mod)
	}
	return tok, ok, err
}

// Expect implements store.Tx: checked at the snapshot now, and at commit
// by comparing the record's ModRevision (unchanged since the snapshot).
func (t *writeTx) Expect(kind store.Kind, id string, rev int64) error {
	if t.done {
		return errTxDone
	}
	if kind == "" || id == "" || rev < 0 {
		return fmt.Errorf("etcd: expect: %w: empty kind or id, or negative revision", store.ErrInvalid)
	}
	key := t.s.recKey(kind, id)
	if _, ok := t.recs[key]; ok {
		return fmt.Errorf("etcd: expect %s/%s: %w: the transaction has written it already; state preconditions before writing", kind, id, store.ErrInvalid)
	}
	r, ok, mod, err := t.getRecord(kind, id)
	if err != nil {
		return err
	}
	t.read(key, mod)
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
	r.Object = nil
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
	r, ok, err := t.Get(kind, id)
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
	key := t.s.tokKey(tok.Account, tok.Token)
	if _, ok := t.toks[key]; !ok {
		t.tokOrder = append(t.tokOrder, key)
	}
	t.toks[key] = tok
	return nil
}

// commit writes the transaction in one etcd transaction. When only the
// revision key moved (another server committed something this one did not
// read), it commits again at the next revision.
func (t *writeTx) commit() (int64, error) {
	var cmps []clientv3.Cmp
	readKeys := slices.Sorted(func(yield func(string) bool) {
		for k := range t.reads {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range readKeys {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", t.reads[k]))
	}
	var tokOps []clientv3.Op
	for _, key := range t.tokOrder {
		tok := t.toks[key]
		b, _ := json.Marshal(tokenDoc{Action: tok.Action, ParamsHash: tok.ParamsHash, Response: tok.Response, Created: tok.Created.UnixMicro()})
		tokOps = append(tokOps, clientv3.OpPut(key, string(b)))
	}
	if len(t.order) == 0 {
		if len(tokOps) == 0 {
			return t.rev, nil
		}
		resp, err := t.s.cli.Txn(t.ctx).If(cmps...).Then(tokOps...).Commit()
		if err != nil {
			return 0, fmt.Errorf("etcd: commit: %w", err)
		}
		if !resp.Succeeded {
			return 0, fmt.Errorf("etcd: a record or token the write read has changed: %w", store.ErrConflict)
		}
		return t.rev, nil
	}

	rev, revMod := t.rev, t.revMod
	for attempt := 0; ; attempt++ {
		next := rev + 1
		ops := []clientv3.Op{clientv3.OpPut(t.s.revKey(), strconv.FormatInt(next, 10))}
		var entries []logEntry
		kinds := map[store.Kind]bool{}
		for _, w := range t.order {
			op := store.OpDelete
			if w.rec != nil {
				op = store.OpPut
				ops = append(ops, clientv3.OpPut(w.key, string(encodeRecord(w.rec, next))))
			} else {
				ops = append(ops, clientv3.OpDelete(w.key))
			}
			entries = append(entries, logEntry{Kind: w.kind, ID: w.id, Account: w.account, Region: w.region, Op: op})
			kinds[w.kind] = true
		}
		for kind := range kinds {
			ops = append(ops, clientv3.OpPut(t.s.kindKey(kind), strconv.FormatInt(next, 10)))
		}
		logBytes, err := json.Marshal(entries)
		if err != nil {
			return 0, err
		}
		ops = append(ops, clientv3.OpPut(t.s.logKey(next), string(logBytes)))
		ops = append(ops, tokOps...)

		all := append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(t.s.revKey()), "=", revMod)}, cmps...)
		elses := []clientv3.Op{clientv3.OpGet(t.s.revKey())}
		for _, k := range readKeys {
			elses = append(elses, clientv3.OpGet(k, clientv3.WithKeysOnly()))
		}
		resp, err := t.s.cli.Txn(t.ctx).If(all...).Then(ops...).Else(elses...).Commit()
		if err != nil {
			return 0, fmt.Errorf("etcd: commit: %w", err)
		}
		if resp.Succeeded {
			if next != t.rev+1 {
				for _, w := range t.order {
					if w.rec != nil {
						w.rec.Revision = next
					}
				}
			}
			return next, nil
		}
		// Which compare failed? If one of the read set, what fn decided
		// on is stale: the caller must read again.
		for i, k := range readKeys {
			var mod int64
			if kvs := resp.Responses[i+1].GetResponseRange().Kvs; len(kvs) > 0 {
				mod = kvs[0].ModRevision
			}
			if mod != t.reads[k] {
				return 0, fmt.Errorf("etcd: %q changed since the write read it: %w", strings.TrimPrefix(k, t.s.p), store.ErrConflict)
			}
		}
		if attempt >= 100 {
			return 0, fmt.Errorf("etcd: the revision kept moving under 100 commits: %w", store.ErrConflict)
		}
		rr := resp.Responses[0].GetResponseRange()
		rev, revMod, err = parseRev(&clientv3.GetResponse{Header: rr.Header, Kvs: rr.Kvs})
		if err != nil {
			return 0, err
		}
	}
}

// CurrentRevision is the highest revision this Store knows committed
// (its own writes and those its watch has seen), without a request.
func (s *Store) CurrentRevision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}
