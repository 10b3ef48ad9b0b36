package service

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// keyUseTable is when each access key last signed a request this server
// accepted (RAM's GetAccessKeyLastUsed), in Unix minutes. It is kept in
// memory, not in the store: a store write per request would cost every
// request a commit. So it is approximate to the minute, this server's
// alone (each server of a cluster knows the requests it served), and
// forgotten at a restart.
type keyUseTable struct {
	m sync.Map // key ID → *atomic.Int64
	// n counts the entries; past sweepAt, those of keys no longer in the
	// store are dropped (a key deleted while a request it signed was in
	// flight leaves one), so the table stays within about twice the keys.
	n       atomic.Int64
	sweepMu sync.Mutex
	sweepAt int64
}

// minSweep is the table size below which it is never swept.
const minSweep = 1024

// NoteKeyUse records that key id signed an accepted request now. Within
// a minute of its last note it only reads.
func (s *Service) NoteKeyUse(id string) {
	if s.keyUses == nil || id == "" {
		return
	}
	minute := s.Now().Unix() / 60
	if v, ok := s.keyUses.m.Load(id); ok {
		if a := v.(*atomic.Int64); a.Load() != minute {
			a.Store(minute)
		}
		return
	}
	a := new(atomic.Int64)
	a.Store(minute)
	if v, loaded := s.keyUses.m.LoadOrStore(id, a); loaded {
		v.(*atomic.Int64).Store(minute)
		return
	}
	if n := s.keyUses.n.Add(1); n > minSweep {
		s.sweepKeyUses(n)
	}
}

// forgetKeyUse drops a deleted key's entry.
func (s *Service) forgetKeyUse(id string) {
	if s.keyUses == nil {
		return
	}
	if _, ok := s.keyUses.m.LoadAndDelete(id); ok {
		s.keyUses.n.Add(-1)
	}
}

// sweepKeyUses drops the entries of keys no longer in the store, once the
// table has doubled since the last sweep.
func (s *Service) sweepKeyUses(n int64) {
	t := s.keyUses
	if !t.sweepMu.TryLock() {
		return // another request sweeps
	}
	defer t.sweepMu.Unlock()
	if n <= max(t.sweepAt, minSweep) {
		return
	}
	var gone []string
	_ = s.read(context.Background(), func(tx store.ReadTx) error {
		t.m.Range(func(k, _ any) bool {
			if _, ok, err := tx.Get(KindAccessKey, k.(string)); err == nil && !ok {
				gone = append(gone, k.(string))
			}
			return true
		})
		return nil
	})
	for _, id := range gone {
		s.forgetKeyUse(id)
	}
	t.sweepAt = 2 * t.n.Load()
}

// KeyLastUsed is GetAccessKeyLastUsed's answer: when the key last signed
// an accepted request, UTC to the minute ("" if not since this server
// started).
type KeyLastUsed struct{ LastUsedDate string }

// GetAccessKeyLastUsed answers when a key of the caller's account last
// signed a request this server accepted (RAM GetAccessKeyLastUsed).
func (s *Service) GetAccessKeyLastUsed(ctx context.Context, in KeyInput) (KeyLastUsed, error) {
	if err := checkKeyCaller(in, "GetAccessKeyLastUsed"); err != nil {
		return KeyLastUsed{}, err
	}
	if in.KeyID == "" {
		return KeyLastUsed{}, ecserr.MissingParameter("UserAccessKeyId")
	}
	err := s.read(ctx, func(tx store.ReadTx) error {
		_, err := ownKey(tx, in)
		return err
	})
	if err != nil {
		return KeyLastUsed{}, err
	}
	var out KeyLastUsed
	if s.keyUses != nil {
		if v, ok := s.keyUses.m.Load(in.KeyID); ok {
			out.LastUsedDate = time.Unix(v.(*atomic.Int64).Load()*60, 0).UTC().Format("2006-01-02T15:04:05Z")
		}
	}
	return out, nil
}
