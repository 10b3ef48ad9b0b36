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
//	P n/<len>:<key id>/<hash>  a replay nonce, under a lease (see ClaimNonce)
//	P s/<server id>            a live server, under its lease (see RegisterServer)
//	P f/<len>:<host>           a host's latest flow batches' tokens (see UpdateFlowBatches)
//	P h/<len>:<host>           the revision a host's agent applied (see PutHostsApplied)
//
// One Update is one etcd transaction that compares the revision key and
// every key the Update read (their ModRevision as of its snapshot), then
// puts the records, the revision (+1) and the revision's log entry
// together: a revision's changes never split and a watcher of the revision
// key never sees a revision before its log entry. Updates of one Store are
// serialized (fn runs once, as the store contract says) and committed in
// groups (see Update); between servers
// they are optimistic: when only the revision moved, the write is committed
// again at the next revision without running fn again (what fn read is
// unchanged, so the outcome is that of running after the other write);
// when something fn read moved, Update fails with store.ErrConflict and
// the caller (service.Update) reads again and retries.
//
// What the etcd cluster must allow: reads are at one etcd revision, so
// history must not be compacted under a running View (keep etcd's
// --auto-compaction-retention at minutes, not seconds); one commit is one
// transaction, whose operations (a record, its kind, the log entry per
// revision) must fit etcd's --max-txn-ops (128 by default: a batch stops
// at 96, but one Update writing more than about 120 records needs it
// raised; a large read set is compared by kind); a batch likewise stops
// at 512 KiB of writes, and one Update's must fit --max-request-bytes
// (1.5 MiB by default). An Update that fits alone but not beside those
// batched before it fails with store.ErrConflict (the service runs it
// again), not the whole batch.
//
// CurrentRevision and WaitRevision know this server's commits at once and
// other servers' when etcd's watch delivers them (milliseconds): reads of
// the in-memory view are linearizable per server, and lag other servers'
// writes by that delay.
package etcd

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
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

	wmu     sync.Mutex // held by the Update running a batch
	qmu     sync.Mutex
	queue   []*pending   // Updates waiting for a batch
	commits atomic.Int64 // etcd transactions that wrote records (tests show batching)
	// hostTxns counts the transactions of PutHostsApplied (tests show
	// batching).
	hostTxns atomic.Int64

	// OnIDTaken, if set (before RegisterServer), is told of each attempt
	// to register again after a lost lease that found this server's ID
	// held by another server (by: its URL), then once, with by "", when
	// the registration is back: meanwhile this server is not listed, and
	// the others do not ask it for its part.
	OnIDTaken func(by string)

	onCommit atomic.Pointer[func()] // see OnCommit

	closeOnce sync.Once
	closed    atomic.Bool
	closeCh   chan struct{}
	stopWatch context.CancelFunc
	watchDone chan struct{}

	mu     sync.Mutex
	latest int64         // highest revision known committed
	notify chan struct{} // closed (and replaced) when latest advances
	// log is this Store's latest commits with the records as written
	// (store.Recent).
	log store.RecentLog

	nmu    sync.Mutex
	leases map[int64]clientv3.LeaseID // nonce leases by the Unix second their bucket ends
}

// Dial connects to the etcd cluster at endpoints and opens the store under
// prefix (DefaultPrefix if empty). Close closes the connection.
func Dial(ctx context.Context, endpoints []string, prefix string) (*Store, error) {
	return DialTLS(ctx, endpoints, prefix, nil)
}

// DialTLS is Dial over TLS with tlsCfg (its client certificate and the CA
// of the cluster); nil dials plain HTTP as Dial does.
func DialTLS(ctx context.Context, endpoints []string, prefix string, tlsCfg *tls.Config) (*Store, error) {
	cli, err := clientv3.New(clientv3.Config{
		TLS:         tlsCfg,
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Pings find a member that holds its connections but answers
		// nothing (stopped, cut off), so the balancer sends no more
		// requests there to wait out their deadline. Not more often than
		// etcd's --grpc-keepalive-min-time (5 s), which refuses it.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Context:              context.WithoutCancel(ctx),
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
		//lint:ignore SA2001 a barrier: an Update in flight holds wmu until it ends
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

// CurrentRevision is the highest revision this Store knows committed
// (its own writes and those its watch has seen), without a request.
func (s *Store) CurrentRevision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}
