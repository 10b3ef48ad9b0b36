package view

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// Snapshot is the state at one revision. It never changes; the records it
// returns share their Object with the view and must not be modified.
type Snapshot struct {
	rev    int64
	tables map[store.Kind]*table
	kinds  map[store.Kind]Decoder // the kinds kept: a read of another is a bug
	hist   history                // the batches that led here (history.go)
}

var _ store.ReadTx = (*Snapshot)(nil)

// Revision implements store.ReadTx.
func (s *Snapshot) Revision() int64 { return s.rev }

// Get implements store.ReadTx.
func (s *Snapshot) Get(kind store.Kind, id string) (store.Record, bool, error) {
	if err := s.kept(kind); err != nil {
		return store.Record{}, false, err
	}
	if r := s.Record(kind, id); r != nil {
		return *r, true, nil
	}
	return store.Record{}, false, nil
}

// kept refuses a read of a kind the view does not keep: it would find
// nothing, and a resource that silently reads as "not found" after it was
// created is worse than an error that names the missing registration.
func (s *Snapshot) kept(kind store.Kind) error {
	if _, ok := s.kinds[kind]; !ok {
		return fmt.Errorf("view: records of kind %q are not kept in memory; register the kind with its decoder (service.Kinds)", kind)
	}
	return nil
}

// Record returns the record (kind, id), or nil; no copy is made.
func (s *Snapshot) Record(kind store.Kind, id string) *store.Record {
	if t := s.tables[kind]; t != nil {
		return t.byID[id]
	}
	return nil
}

// List implements store.ReadTx.
func (s *Snapshot) List(kind store.Kind, q store.Query) ([]store.Record, error) {
	if err := s.kept(kind); err != nil {
		return nil, err
	}
	ids := s.IDs(kind, q)
	out := make([]store.Record, len(ids))
	t := s.tables[kind]
	for i, id := range ids {
		out[i] = *t.byID[id]
	}
	return out, nil
}

// IDs returns the IDs of the records of kind that q selects, in ascending
// order, from the index (no copy: do not modify).
func (s *Snapshot) IDs(kind store.Kind, q store.Query) []string {
	if t := s.tables[kind]; t != nil {
		return t.idx[scope{q.Account, q.Region}]
	}
	return nil
}

// Indexed returns the sorted IDs of the records of kind under key in the
// secondary index name (no copy: do not modify).
func (s *Snapshot) Indexed(kind store.Kind, name, key string) []string {
	if t := s.tables[kind]; t != nil {
		return t.sec[name][key]
	}
	return nil
}

// Index returns the secondary index name of kind: the sorted IDs of its
// records by key (no copy: do not modify). Taken once, it serves a lookup
// per key for the price of one.
func (s *Snapshot) Index(kind store.Kind, name string) map[string][]string {
	if t := s.tables[kind]; t != nil {
		return t.sec[name]
	}
	return nil
}

// Count is len(IDs(kind, q)).
func (s *Snapshot) Count(kind store.Kind, q store.Query) int { return len(s.IDs(kind, q)) }

// errNoTokens: ClientTokens are not part of the view; idempotent writes
// read them in their store transaction.
var errNoTokens = errors.New("view: ClientTokens are read from the store")

// Token implements store.ReadTx; the view does not hold tokens.
func (s *Snapshot) Token(account, token string) (store.Token, bool, error) {
	return store.Token{}, false, errNoTokens
}

// Object returns the decoded value of (kind, id) as a *T, or nil.
func Object[T any](s *Snapshot, kind store.Kind, id string) *T {
	if r := s.Record(kind, id); r != nil {
		o, _ := r.Object.(*T)
		return o
	}
	return nil
}

// Decode is the Decoder of a kind stored as JSON of T.
func Decode[T any](data []byte) (any, error) {
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	return v, nil
}
