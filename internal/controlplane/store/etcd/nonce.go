package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Replay nonces live beside the records, outside the revisioned data (they
// move no revision and no change log):
//
//	P n/<len>:<key id>/<nonce hash>  an empty value, under a lease
//
// A nonce is claimed by a transaction that puts its key only if the key
// was never created, so of two servers given the same request exactly one
// succeeds. The key's lease ends it once the request's timestamp has left
// the signature window; leases are shared by the nonces that expire in the
// same nonceBucket, so a server grants about one lease a minute, not one a
// request.

// nonceBucket is how finely nonce expiries are rounded up to share leases.
const nonceBucket = time.Minute

func (s *Store) nonceKey(keyID, nonce string) string {
	h := sha256.Sum256([]byte(nonce))
	return s.p + "n/" + strconv.Itoa(len(keyID)) + ":" + keyID + "/" + hex.EncodeToString(h[:16])
}

// ClaimNonce records nonce as used by the access key keyID for at least
// ttl. It returns false if some server of the installation claimed it
// before and it has not expired. The key is a 128-bit hash of the nonce:
// a collision would only refuse a genuine request as replayed.
func (s *Store) ClaimNonce(ctx context.Context, keyID, nonce string, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, fmt.Errorf("etcd: the store is closed")
	}
	key := s.nonceKey(keyID, nonce)
	for attempt := 0; ; attempt++ {
		lease, err := s.nonceLease(ctx, ttl)
		if err != nil {
			return false, err
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, "", clientv3.WithLease(lease))).
			Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && attempt == 0 {
			// Revoked or expired under us (a long pause): grant another.
			s.dropNonceLease(lease)
			continue
		}
		if err != nil {
			return false, fmt.Errorf("etcd: record a signature nonce: %w", err)
		}
		return resp.Succeeded, nil
	}
}

// nonceLease returns a lease that lasts at least ttl from now: the one of
// the bucket that now+ttl falls in, granted on first use.
func (s *Store) nonceLease(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, error) {
	now := time.Now()
	end := now.Add(ttl).Truncate(nonceBucket).Add(nonceBucket)
	s.nmu.Lock()
	defer s.nmu.Unlock()
	if s.leases == nil {
		s.leases = make(map[int64]clientv3.LeaseID)
	}
	for b := range s.leases {
		if b < now.Unix() { // its bucket has ended, and with it the lease
			delete(s.leases, b)
		}
	}
	if id, ok := s.leases[end.Unix()]; ok {
		return id, nil
	}
	// One second more than the bucket's end: etcd counts TTLs in whole
	// seconds and a lease must not end before the last nonce it holds.
	g, err := s.cli.Grant(ctx, int64(time.Until(end)/time.Second)+1)
	if err != nil {
		return 0, fmt.Errorf("etcd: grant a lease for signature nonces: %w", err)
	}
	s.leases[end.Unix()] = g.ID
	return g.ID, nil
}

func (s *Store) dropNonceLease(id clientv3.LeaseID) {
	s.nmu.Lock()
	defer s.nmu.Unlock()
	for b, l := range s.leases {
		if l == id {
			delete(s.leases, b)
		}
	}
}
