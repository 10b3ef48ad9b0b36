package etcd

import (
	"context"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Flow batches' tokens live beside the records, outside the revisioned
// data (they move no revision and no change log), one key per host:
//
//	P f/<len>:<host>  the host's latest flow batches (the service's JSON)
//
// Each server keeps the records its agents ship on its own disk; the
// tokens of their batches are shared here, so that a batch an agent sends
// again to another server (its first server's answer lost) is recognised
// there. One key per host, holding its few latest batches, bounds them by
// the number of hosts without a lease.

func (s *Store) batchesKey(host string) string {
	return s.p + "f/" + strconv.Itoa(len(host)) + ":" + host
}

// UpdateFlowBatches runs fn on the host's document (nil: none yet) and
// puts what it returns in its place, only if no other server changed it
// meanwhile (otherwise fn runs again on the new one). fn returning nil
// writes nothing; an error of fn is returned as it is.
func (s *Store) UpdateFlowBatches(ctx context.Context, host string, fn func(old []byte) ([]byte, error)) error {
	if s.closed.Load() {
		return fmt.Errorf("etcd: the store is closed")
	}
	key := s.batchesKey(host)
	for {
		resp, err := s.cli.Get(ctx, key) // linearizable: the latest any server wrote
		if err != nil {
			return fmt.Errorf("etcd: read the flow batches of host %s: %w", host, err)
		}
		var old []byte
		var mod int64
		if len(resp.Kvs) > 0 {
			old, mod = resp.Kvs[0].Value, resp.Kvs[0].ModRevision
		}
		v, err := fn(old)
		if err != nil || v == nil {
			return err
		}
		t, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", mod)).
			Then(clientv3.OpPut(key, string(v))).
			Commit()
		if err != nil {
			return fmt.Errorf("etcd: record the flow batches of host %s: %w", host, err)
		}
		if t.Succeeded {
			return nil
		}
	}
}
