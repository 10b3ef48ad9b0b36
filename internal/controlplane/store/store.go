// Package store defines Palisade's persistence interface: a revisioned
// key/value store of JSON resource documents with a change log, so that the
// API server can serve reads and writes and agents can follow changes.
//
// The package holds only the interface and plain data types; backends live
// in sub-packages (store/sqlite) and must pass the conformance suite in
// store/storetest unchanged.
package store

import (
	"context"
	"errors"
	"time"
)

// Kind names a resource table, e.g. "vpc" or "securitygroup". The store does
// not interpret kinds; any non-empty string is valid.
type Kind string

// Record is one stored resource.
type Record struct {
	Kind    Kind
	ID      string
	Account string // owning account UID ("" for global records)
	Region  string // "" for global records
	Data    []byte // JSON document, opaque to the store
	// Object, when set, is the document already decoded (a pointer to the
	// model type of its kind): in-memory views (package view) serve
	// records this way instead of JSON. It is shared and must not be
	// modified. Given to Put, it must be the value Data encodes: a backend
	// may hand it, with the committed change, to an in-process follower
	// (see Recent) so that it need not decode Data again; a backend never
	// stores it, and reads from a backend leave it nil.
	Object any
	// Revision is the store revision of the last write to this record. It is
	// set by the store; the value passed to Tx.Put is ignored.
	Revision int64
	// Memo, when set, memoises values derived from Object (see Memo): the
	// in-memory view gives each record it serves a new one. A backend
	// neither stores nor returns it (a record read from one has none, and
	// Memo.Get on nil computes every time).
	Memo *Memo
}

// Op is the kind of write recorded in the change log.
type Op string

const (
	OpPut    Op = "put"
	OpDelete Op = "delete"
)

// Change is one change-log entry: record (Kind, ID) was written with Op at
// Revision. Account and Region are those of the record as written (for a
// delete, as it was before deletion) so consumers can route changes without
// reading the record.
type Change struct {
	Revision int64
	Kind     Kind
	ID       string
	Account  string
	Region   string
	Op       Op
}

// HostApplied is a host's applied revision for a store several servers
// share to record, while the record Kind/ID (the host's access key) exists:
// a host deregistered meanwhile (its key deleted) is not recorded again.
// An empty Kind records it unguarded.
type HostApplied struct {
	Rev  int64
	Kind Kind
	ID   string
}

// Query filters List. An empty field means no filter on that column.
// Results are always ordered by ID ascending.
type Query struct {
	Account string
	Region  string
}

// Token is a ClientToken idempotency record: the response an action returned
// for (Account, Token), and a hash of its parameters so a reuse of the token
// with different parameters can be rejected.
type Token struct {
	Account    string
	Token      string
	Action     string
	ParamsHash string
	Response   []byte
	// Created is stored with microsecond precision (the coarsest precision
	// of the supported backends); finer digits are truncated.
	Created time.Time
}

// ReadTx is a consistent, read-only view of the store.
type ReadTx interface {
	// Get returns the record (kind, id); ok is false if it does not exist.
	Get(kind Kind, id string) (r Record, ok bool, err error)
	// List returns the records of kind matching q, ordered by ID ascending.
	List(kind Kind, q Query) ([]Record, error)
	// Token returns the idempotency record (account, token), if any.
	Token(account, token string) (t Token, ok bool, err error)
	// Revision returns the store revision as of the start of this
	// transaction (for an Update, the revision before its writes).
	Revision() int64
}

// Tx is a read-write transaction. Reads see the transaction's own writes.
// A Tx must only be used by the goroutine running the Update callback and
// not after the callback returns.
type Tx interface {
	ReadTx
	// Put inserts or replaces r. Kind and ID must be non-empty. A backend
	// may keep r.Data until the transaction commits: the caller must not
	// modify it after Put.
	Put(r Record) error
	// Delete removes (kind, id). Deleting a missing record is not an error
	// and records no change.
	Delete(kind Kind, id string) error
	// Expect is a precondition of the transaction: when it commits, record
	// (kind, id) is still at revision rev (0: the record does not exist).
	// Otherwise Update fails with an error wrapping ErrConflict and writes
	// nothing; the caller may read again and retry. This is how a write
	// that read from elsewhere than the transaction (an in-memory view at
	// some revision) commits only if what it read is still current — the
	// compare of an etcd transaction. A precondition is on the state before
	// the transaction's own writes: Expect of a record the transaction has
	// already written is an ErrInvalid error.
	Expect(kind Kind, id string, rev int64) error
	// PutToken inserts or replaces the idempotency record
	// (t.Account, t.Token). Tokens are not records: writing only tokens
	// does not advance the revision or the change log.
	PutToken(t Token) error
}

// Store is a revisioned resource store.
//
// The revision is a global counter that starts at 0 in an empty store and
// increases by exactly one for every Update that writes at least one record.
type Store interface {
	// Update runs fn in one serialized write transaction. If fn returns an
	// error (or panics) nothing is written and the error is returned. If fn
	// wrote at least one record, the revision is incremented exactly once and
	// each written record gets one change-log entry with that revision,
	// ordered by the record's first write in the transaction and carrying
	// its last operation. Update returns the revision after the transaction
	// (unchanged if nothing was written), or 0 and the error.
	// fn must not call Update (it would deadlock).
	Update(ctx context.Context, fn func(Tx) error) (int64, error)
	// View runs fn against a consistent snapshot; it never sees a
	// concurrent Update's partial state. Views run concurrently with each
	// other and with Update.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Revision returns the current revision.
	Revision(ctx context.Context) (int64, error)
	// Changes returns change-log entries with Revision > after, ordered by
	// revision and then write order. With limit > 0 it returns at most limit
	// entries, except that a revision's entries are never split across
	// calls: the result ends at a revision boundary, and a single revision
	// with more than limit entries is returned whole. So
	// Changes(ctx, last.Revision, limit) always resumes correctly.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// WaitRevision blocks until the revision is greater than after, ctx is
	// done (returns ctx.Err()) or the store is closed (returns ErrClosed),
	// and returns the current revision. Notification is in-process: it
	// observes Updates made through this Store value.
	WaitRevision(ctx context.Context, after int64) (int64, error)
	// Close releases the store and wakes WaitRevision callers. It is safe
	// to call more than once; other methods fail with ErrClosed afterwards.
	Close() error
}

// Written is a committed change with the record as its Update wrote it
// (Object included, when Put was given one); Record is nil for a delete.
type Written struct {
	Change
	Record *Record
}

// Recent is implemented by a store that keeps its latest committed changes
// in memory, with the records as written, for a follower in the same
// process (package view): it applies them without reading the store or
// decoding JSON. Recent returns the changes with Revision > after, in
// change-log order, and the revision they bring the state to (the last
// committed); ok is false when the store no longer (or never) held them
// all, and the follower must read the change log instead.
type Recent interface {
	Recent(after int64) (ws []Written, rev int64, ok bool)
}

// ErrConflict is returned (wrapped) by an Update whose precondition
// (Tx.Expect) failed: something it read has changed since. A backend shared
// by several servers (etcd) also returns it when another server changed
// what the Update read through the transaction (Get, List, Token) before
// it committed; such an Update wrote nothing and may be run again.
var ErrConflict = errors.New("store: conflict: a record the write read has changed since; read again and retry")

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("store: closed")

// ErrInvalid is returned (wrapped) for invalid arguments, such as an empty
// Kind or ID.
var ErrInvalid = errors.New("store: invalid argument")
