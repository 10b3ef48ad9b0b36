// Package flowstore keeps the flow records the agents ship, on the local
// disk of each server: append-only segment files of JSON lines under one
// directory (beside the store, never in it: records are history, not state,
// and on a cluster each server keeps those shipped to it), with an index in
// memory that serves every query. A batch is acknowledged only once it is
// written and synced; a restart reloads what the files hold, less a batch
// a crash cut short (never acknowledged). A batch sent with a token (the
// agent's ClientToken) is kept once: the token is written with the batch,
// so a retry, even after a crash, is answered without keeping it again.
// The segment files are apart per host that recorded the records
// (segments.go). Retention drops whole segments: when the files would pass
// the size cap, the oldest of the host holding the most (so a hostile host
// can neither fill the disk nor push the other hosts' records off it;
// those records are counted), and those whose every record is past the
// age limit.
//
// The segment files are also the export: one record a line, in the form
// PalisadeDescribeFlowRecords answers, for a shipper (Vector, Fluent Bit)
// to tail. The first line of each batch carries one more field,
// PalisadeBatch (its line count, its first record's sequence number and
// its token), which a shipper may drop.
package flowstore

import (
	"bytes"
	"container/heap"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"
)

// Record is one flow on one side in one capture window: the fields of an
// ECS VPC flow-log record, plus the entry of the security-group chains that
// decided it on this side.
type Record struct {
	Version   int
	AccountId string // filled in by the server from the NIC
	RegionId  string // ditto
	VpcId     string // ditto
	VSwitchId string // ditto
	VmId      string // ditto: the instance of the ENI
	EniId     string
	HostName  string // the host that recorded it (set by the server)
	SrcAddr   string
	SrcPort   int
	DstAddr   string
	DstPort   int
	Protocol  int    // IANA number
	Direction string // in | out (of the ENI)
	Packets   uint64
	Bytes     uint64
	Start     int64  // Unix seconds
	End       int64  // Unix seconds
	Action    string // ACCEPT | REJECT
	LogStatus string // OK | SKIPDATA
	TcpFlags  int
	// The deciding entry: Reason is policy.Reason ("rule", "intra-group
	// access", "default inbound drop", …); a rule names its group, ID,
	// priority and policy, intra-group access its group.
	Reason              string
	SecurityGroupId     string `json:",omitempty"`
	SecurityGroupRuleId string `json:",omitempty"`
	Priority            int    `json:",omitempty"`
	Policy              string `json:",omitempty"` // Accept | Drop
}

// Options say where records are kept and for how long.
type Options struct {
	// Dir holds the segment files; "" keeps records in memory only (lost
	// on restart), bounded by MaxPerAccount and MaxAge.
	Dir string
	// MaxAge drops records older than this (by their End); 0 takes
	// DefaultMaxAge.
	MaxAge time.Duration
	// MaxBytes caps the segment files together, shared out among the
	// hosts that recorded the records (makeRoom): the host holding the
	// most loses its oldest segments first, so one host's flood deletes
	// only its own records. 0 takes DefaultMaxBytes.
	MaxBytes int64
	// MaxPerAccount keeps at most this many records per account in the
	// index, so one tenant's flood cannot take the memory of all, shared
	// out among the hosts that recorded them (trimCountLocked), so one
	// host's flood cannot take the tenant's records from its other hosts;
	// 0 takes DefaultMaxPerAccount. It does not bound the files (MaxBytes
	// does).
	MaxPerAccount int
	// SegmentBytes is the size at which a segment is closed and the next
	// begun; 0 takes MaxBytes/8, at most 16 MiB. With several hosts a
	// host's segments are smaller still (segLimit).
	SegmentBytes int64
	Log          *slog.Logger
	// Now is the clock of the retention at Open and of the pruner; nil
	// is time.Now.
	Now func() time.Time
}

// DirBeside is the directory of the flow records beside a store's file
// (--db): FILE.flows; "" (in memory) for an in-memory store.
func DirBeside(db string) string {
	if db == "" || strings.HasPrefix(db, ":memory:") {
		return ""
	}
	return db + ".flows"
}

// Defaults of Options.
const (
	DefaultMaxAge        = 7 * 24 * time.Hour
	DefaultMaxBytes      = 256 << 20
	DefaultMaxPerAccount = 100_000
	maxSegmentBytes      = 16 << 20
)

func (o Options) withDefaults() Options {
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxPerAccount <= 0 {
		o.MaxPerAccount = DefaultMaxPerAccount
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = min(o.MaxBytes/8, maxSegmentBytes)
	}
	o.SegmentBytes = max(o.SegmentBytes, 1)
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Stats say what the store holds and what it dropped.
type Stats struct {
	Records  int   // in the index
	Segments int   // files
	Bytes    int64 // of the files
	// DroppedForSize counts the records of segments deleted to stay under
	// MaxBytes: records lost before their age, which a query cannot show.
	DroppedForSize uint64
	// Torn counts lines of the files that did not load (a crash in the
	// middle of a write that was never acknowledged: a line cut short, or
	// the whole lines of a batch that lacks some).
	Torn int
	// CompleteSince is the time since which no record was dropped for
	// size, of any account: no flow that ended after it is missing (zero:
	// none dropped). An account's own is Store.CompleteSince.
	CompleteSince time.Time
}

// index is one account's records, apart per host that recorded them
// (Record.HostName), so that the count cap can be shared out among the
// hosts (trimCountLocked).
type index struct {
	hosts map[string]*hostRecs
	n     int // records, of every host
}

// hostRecs is one host's records of an account, oldest (first appended)
// first, with their sequence numbers.
type hostRecs struct {
	seqs []uint64
	recs []Record
}

// Store holds the records.
type Store struct {
	opt Options

	wmu sync.Mutex // the files, in order; taken before mu
	// hosts are the segment files per host that recorded their records
	// (by hostTag; "" the files of the former layout, every host's), so
	// the size cap deletes a flooding host's oldest files, not others'.
	hosts map[string]*files
	nsegs int    // segment files of every host
	total int64  // their bytes
	seq   uint64 // the next record's sequence number
	// tokens are the hosts' latest batch tokens, loaded from the files.
	tokens tokens
	// mark is the empty segment file that keeps seq when retention deleted
	// every segment (numbered seq, as the next segment will be): a
	// restart then numbers on instead of from 0, so a NextToken from
	// before still lists only newer records. "" when there is none.
	mark string
	// complete is the newest End of the records deleted for size, of any
	// account (Stats); completeAll the newest that holds for every
	// account (a file of the former layout deleted: every account's; the
	// marker lost: the Open's now). sizeDrop (under mu) is, per account,
	// the newest End of its records deleted for size: a flooding host's
	// files deleted make only the accounts that had records in them
	// incomplete (CompleteSince).
	complete    atomic.Int64
	completeAll atomic.Int64

	mu      sync.RWMutex // the index
	byAcct  map[string]*index
	records int
	maxAge  time.Duration
	perAcct int
	trimmed time.Time // the last trim of every account (trimLocked)

	droppedSize atomic.Uint64
	torn        int
	// countDrop is, per account, the newest End of the records dropped
	// for its count cap: its records are complete only after it.
	countDrop map[string]int64
	sizeDrop  map[string]int64
	// created is when the store began (the marker file of its Dir): no
	// record before it was ever kept.
	created time.Time
	// fresh: this Open began the store (no creation marker was there).
	fresh bool
	// sealer seals the positions handed to tenants (Cursor).
	sealer cipher.AEAD

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Memory is a store that keeps records in memory only.
func Memory() *Store {
	s, _ := Open(Options{})
	return s
}

// Open loads the records Dir holds (creating it if needed) and drops what
// retention no longer keeps; with a Dir, a goroutine prunes by age each
// minute until Close.
func Open(o Options) (*Store, error) {
	o = o.withDefaults()
	s := &Store{opt: o, byAcct: map[string]*index{}, maxAge: o.MaxAge, perAcct: o.MaxPerAccount,
		countDrop: map[string]int64{}, sizeDrop: map[string]int64{}, created: o.Now(), tokens: tokens{}, hosts: map[string]*files{}}
	if o.Dir == "" {
		key := make([]byte, cursorKeyLen)
		rand.Read(key)
		return s, s.setCursorKey(key)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("flow records: %w", err)
	}
	if err := checkDir(o.Dir); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.loadCreated(); err != nil {
		return nil, err
	}
	if err := s.loadComplete(); err != nil {
		return nil, err
	}
	if err := s.loadCursorKey(); err != nil {
		return nil, err
	}
	s.Prune(o.Now())
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.pruner()
	return s, nil
}

// pruneEvery is how often records past MaxAge are dropped without an append.
const pruneEvery = time.Minute

func (s *Store) pruner() {
	defer close(s.done)
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Prune(s.opt.Now())
		}
	}
}

// Close stops the pruner. (No file stays open: each write opens its
// segment, so that many hosts do not hold as many descriptors.)
func (s *Store) Close() error {
	s.once.Do(func() {
		if s.stop != nil {
			close(s.stop)
			<-s.done
		}
	})
	return nil
}

// intern shares the strings that repeat across records (IDs, names of
// actions and reasons), so the index costs little more than the numbers.
func intern(r *Record) {
	for _, p := range []*string{&r.AccountId, &r.RegionId, &r.VpcId, &r.VSwitchId, &r.VmId, &r.EniId, &r.HostName,
		&r.SrcAddr, &r.DstAddr, &r.Direction, &r.Action, &r.LogStatus, &r.Reason, &r.SecurityGroupId, &r.SecurityGroupRuleId, &r.Policy} {
		if *p != "" {
			*p = unique.Make(*p).Value()
		}
	}
}

// ErrWrite wraps a failure to keep a batch: nothing of it was kept, and the
// sender should send it again.
var ErrWrite = errors.New("flow records: write failed")

// Append keeps a batch of records: written and synced before it returns
// (with a Dir), then indexed. On an error nothing of the batch is kept.
func (s *Store) Append(recs []Record, now time.Time) error {
	_, _, err := s.AppendBatch(Batch{}, recs, now)
	return err
}

// AppendBatch is Append once per token: a batch whose token (b.Host's)
// was kept before is not kept again; its first answer is returned, with
// again true (or ErrTokenReused for another request under the token).
// The token is written and synced with the records, so a retry after a
// crash is recognised too, while the batch's segment is kept. The records
// of a batch are one host's (Record.HostName; the server sets it to the
// host that shipped them): they go to that host's segment files.
func (s *Store) AppendBatch(b Batch, recs []Record, now time.Time) (k Kept, again bool, err error) {
	if len(recs) == 0 {
		return Kept{Refused: b.Refused}, false, nil
	}
	host := recs[0].HostName
	for _, r := range recs[1:] {
		if r.HostName != host {
			return Kept{}, false, fmt.Errorf("flow records: a batch holds the records of one host, not of %q and %q; append them apart", host, r.HostName)
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if h, ok := s.tokens.find(b.Host, b.Token); ok {
		k, err := h.answer(b)
		return k, true, err
	}
	seq := s.seq
	hdr := header{Records: len(recs), Seq: &seq, Host: b.Host, Token: b.Token, Hash: b.Hash, Refused: b.Refused}
	if b.Token == "" {
		hdr = header{Records: len(recs), Seq: &seq} // nothing to recognise a retry by
	}
	var drops []drop
	if s.opt.Dir != "" {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf) // one line per record
		for i := range recs {
			ln := line{Record: recs[i]}
			if i == 0 {
				ln.PalisadeBatch = &hdr
			}
			if err := enc.Encode(&ln); err != nil {
				return Kept{}, false, fmt.Errorf("%w: %v", ErrWrite, err)
			}
		}
		var err error
		var sg *segment
		tag := hostTag(host)
		drops, err = s.makeRoom(int64(buf.Len()), tag, now)
		if err == nil {
			sg, err = s.write(host, tag, buf.Bytes(), now)
		}
		if err != nil {
			// What makeRoom deleted is gone from the index too.
			s.mu.Lock()
			s.dropLocked(drops)
			s.mu.Unlock()
			return Kept{}, false, err
		}
		sg.maxEnd = max(sg.maxEnd, maxEnd(recs))
		sg.n += uint64(len(recs))
		sg.last = s.seq + uint64(len(recs)) - 1
	}
	s.tokens.add(hdr)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLocked(drops)
	touched := map[string]bool{}
	for _, r := range recs {
		intern(&r)
		s.addLocked(s.seq, r)
		s.seq++
		touched[r.AccountId] = true
	}
	if now.Sub(s.trimmed) >= pruneEvery || now.Before(s.trimmed) {
		s.trimLocked(now)
	} else {
		// Only the accounts appended to can pass their count; the others'
		// records past the age wait for the next whole trim (reads skip
		// them): one batch costs the hosts of its accounts, not of all.
		for a := range touched {
			s.trimAccountLocked(a, s.byAcct[a], now.Add(-s.maxAge).Unix())
		}
	}
	return Kept{Records: len(recs), Refused: b.Refused}, false, nil
}

// addLocked indexes one record; s.mu is held (or the store not yet shared).
func (s *Store) addLocked(seq uint64, r Record) {
	ix := s.byAcct[r.AccountId]
	if ix == nil {
		ix = &index{hosts: map[string]*hostRecs{}}
		s.byAcct[r.AccountId] = ix
	}
	h := ix.hosts[r.HostName]
	if h == nil {
		h = &hostRecs{}
		ix.hosts[r.HostName] = h
	}
	h.seqs = append(h.seqs, seq)
	h.recs = append(h.recs, r)
	ix.n++
	s.records++
}

// trimLocked drops the records whose End is past the age, and those over
// an account's count (trimCountLocked).
func (s *Store) trimLocked(now time.Time) {
	cut := now.Add(-s.maxAge).Unix()
	for a, ix := range s.byAcct {
		s.trimAccountLocked(a, ix, cut)
	}
	s.trimmed = now
}

// trimAccountLocked is trimLocked for one account (ix: its index, nil
// if none), cut the oldest End kept.
func (s *Store) trimAccountLocked(account string, ix *index, cut int64) {
	if ix == nil {
		return
	}
	for host, h := range ix.hosts {
		n := 0
		for n < len(h.recs) && h.recs[n].End < cut {
			n++
		}
		s.cutLocked(account, ix, host, h, n)
	}
	s.trimCountLocked(account, ix)
}

// trimCountLocked brings an account's records down to its count cap by
// max-min fairness among the hosts that recorded them: the hosts holding
// the most lose their oldest records first, down to a common level, so
// that any host holding no more than its fair share (the cap over the
// number of hosts) keeps every record. A host ships the records of the
// NICs bound to it, and one hostile or broken host that holds a single
// NIC of a tenant could otherwise fill the tenant's whole cap and push out
// the records of its other hosts; so it crowds out only its own.
func (s *Store) trimCountLocked(account string, ix *index) {
	if ix.n <= s.perAcct {
		return
	}
	level, extra := fairLevel(ix, s.perAcct)
	over := make([]string, 0, len(ix.hosts))
	for host, h := range ix.hosts {
		if len(h.recs) > level {
			over = append(over, host)
		}
	}
	slices.Sort(over) // which hosts keep one more: the same on every server and restart
	for i, host := range over {
		h := ix.hosts[host]
		keep := level
		if i < extra {
			keep++
		}
		n := len(h.recs) - keep
		if e := maxEnd(h.recs[:n]); e > s.countDrop[account] {
			s.countDrop[account] = e
		}
		s.cutLocked(account, ix, host, h, n)
	}
}

// fairLevel is the most records each host of ix may keep so that they
// hold at most limit together (each host holding fewer keeps all of its),
// and how many of the hosts over it may keep one more to fill limit.
func fairLevel(ix *index, limit int) (level, extra int) {
	held := func(l int) int {
		n := 0
		for _, h := range ix.hosts {
			n += min(len(h.recs), l)
		}
		return n
	}
	lo, hi := 0, limit // held(0) = 0 fits; the level never passes the limit
	for lo < hi {
		if mid := lo + (hi-lo+1)/2; held(mid) <= limit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, limit - held(lo)
}

// cutLocked drops n of the oldest records a host holds for an account.
// Not a copy: the dropped head is freed when append next grows the array.
func (s *Store) cutLocked(account string, ix *index, host string, h *hostRecs, n int) {
	if n == 0 {
		return
	}
	s.records -= n
	ix.n -= n
	h.seqs, h.recs = h.seqs[n:], h.recs[n:]
	if len(h.recs) == 0 {
		delete(ix.hosts, host)
	}
	if ix.n == 0 {
		delete(s.byAcct, account)
	}
}

// MaxAge is the age limit in force.
func (s *Store) MaxAge() time.Duration {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.maxAge
}

// SetLimits changes the age limit and the count per account (zero values
// keep the current ones); they apply from the next call.
func (s *Store) SetLimits(maxAge time.Duration, perAccount int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if maxAge > 0 {
		s.maxAge = maxAge
	}
	if perAccount > 0 {
		s.perAcct = perAccount
		for a, ix := range s.byAcct {
			s.trimCountLocked(a, ix)
		}
	}
}

// Of returns an account's records, oldest first, within the age limit at
// now. Records are never changed once added (Append appends past the end,
// retention only reslices): the records of an account one host recorded
// are the store's own, not a copy, and the slice's capacity ends at its
// length, so a caller's append cannot reach the store's array.
func (s *Store) Of(account string, now time.Time) []Record {
	recs, _ := s.OfSeq(account, now)
	return recs
}

// OfSeq is Of with each record's sequence number (ascending, unique in
// the store: a position that stays valid while records are appended).
func (s *Store) OfSeq(account string, now time.Time) ([]Record, []uint64) {
	parts := s.parts(account, now)
	switch len(parts) {
	case 0:
		return nil, nil
	case 1:
		return parts[0].recs, parts[0].seqs
	}
	var recs []Record
	var seqs []uint64
	for q, r := range mergeNewest(parts) {
		recs, seqs = append(recs, *r), append(seqs, q)
	}
	slices.Reverse(recs)
	slices.Reverse(seqs)
	return recs, seqs
}

// Newest yields an account's records within the age limit at now, newest
// (highest sequence number) first, with their sequence numbers, without
// copying them: the records yielded are the store's, not to be changed.
func (s *Store) Newest(account string, now time.Time) iter.Seq2[uint64, *Record] {
	return mergeNewest(s.parts(account, now))
}

// parts are an account's records per host within the age limit at now,
// each slice's capacity ending at its length.
func (s *Store) parts(account string, now time.Time) []hostRecs {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix := s.byAcct[account]
	if ix == nil {
		return nil
	}
	cut := now.Add(-s.maxAge).Unix()
	out := make([]hostRecs, 0, len(ix.hosts))
	for _, h := range ix.hosts {
		n := 0
		for n < len(h.recs) && h.recs[n].End < cut {
			n++
		}
		if n < len(h.recs) {
			recs, seqs := h.recs[n:], h.seqs[n:]
			out = append(out, hostRecs{seqs: seqs[:len(seqs):len(seqs)], recs: recs[:len(recs):len(recs)]})
		}
	}
	return out
}

// mergeNewest yields the records of parts (each ascending by sequence
// number) newest first: a k-way merge over a heap of the parts.
func mergeNewest(parts []hostRecs) iter.Seq2[uint64, *Record] {
	return func(yield func(uint64, *Record) bool) {
		h := make(partHeap, 0, len(parts))
		for _, p := range parts {
			if len(p.seqs) > 0 {
				h = append(h, partCursor{p, len(p.seqs) - 1})
			}
		}
		heap.Init(&h)
		for len(h) > 0 {
			c := &h[0]
			if !yield(c.p.seqs[c.i], &c.p.recs[c.i]) {
				return
			}
			if c.i--; c.i < 0 {
				heap.Pop(&h)
			} else {
				heap.Fix(&h, 0)
			}
		}
	}
}

// partCursor is a part and its newest record not yet yielded.
type partCursor struct {
	p hostRecs
	i int
}

// partHeap is a max-heap of cursors by their record's sequence number.
type partHeap []partCursor

func (h partHeap) Len() int           { return len(h) }
func (h partHeap) Less(i, j int) bool { return h[i].p.seqs[h[i].i] > h[j].p.seqs[h[j].i] }
func (h partHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *partHeap) Push(x any)        { *h = append(*h, x.(partCursor)) }
func (h *partHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Stats reports what the store holds.
func (s *Store) Stats() Stats {
	s.wmu.Lock()
	st := Stats{Segments: s.nsegs, Bytes: s.total, DroppedForSize: s.droppedSize.Load(), Torn: s.torn}
	if c := s.complete.Load(); c != 0 {
		st.CompleteSince = time.Unix(c, 0)
	}
	s.wmu.Unlock()
	s.mu.RLock()
	st.Records = s.records
	s.mu.RUnlock()
	return st
}
