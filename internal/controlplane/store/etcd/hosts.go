package etcd

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// The revision each host's agent applied, outside the revisioned data (it
// moves no revision and no change log), one key per host:
//
//	P h/<len>:<host>  the revision, 20 digits (so that values compare as numbers)
//
// An agent reports to one server, which alone hears it; these keys tell
// the others, so that every server answers PalisadePolicyInForce and
// PalisadeListHosts as that one does, and a host deregistered through any
// server is forgotten by all (its key deleted).

func (s *Store) hostsPrefix() string { return s.p + "h/" }

func (s *Store) hostKey(host string) string {
	return s.hostsPrefix() + strconv.Itoa(len(host)) + ":" + host
}

// hostsPerTxn bounds the hosts of one transaction of PutHostsApplied:
// each is a nested transaction, and etcd's --max-txn-ops (128 by
// default) bounds a transaction's operations and, within the room they
// leave, its nested ones'.
const hostsPerTxn = 100

// PutHostsApplied records each host's applied revision, unless a higher
// one is recorded (two servers may hear one host around a failover),
// while its guard record exists, all in one etcd transaction (one
// per hostsPerTxn hosts): a server writes those its hosts reported since
// its last write at once. It returns the hosts whose guard record was
// gone, which it did not record.
func (s *Store) PutHostsApplied(ctx context.Context, applied map[string]store.HostApplied) (unguarded []string, err error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("etcd: the store is closed")
	}
	hosts := slices.Sorted(maps.Keys(applied))
	for len(hosts) > 0 {
		n := min(len(hosts), hostsPerTxn)
		ops := make([]clientv3.Op, 0, n)
		var guarded []string // the host of each op, "" when unguarded
		for _, host := range hosts[:n] {
			a := applied[host]
			if a.Rev <= 0 {
				continue
			}
			// Raised only: kept when the value recorded is rev or more. A
			// value compare fails on a missing key, which is then written.
			key := s.hostKey(host)
			op := clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(key), ">", fmt.Sprintf("%020d", a.Rev-1))},
				nil, []clientv3.Op{clientv3.OpPut(key, fmt.Sprintf("%020d", a.Rev))})
			g := ""
			if a.Kind != "" {
				// Only while the host's key exists: a deregistration (through
				// any server) deletes it before the host's applied revision,
				// so a report queued before it is not written after.
				op = clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.recKey(a.Kind, a.ID)), ">", 0)},
					[]clientv3.Op{op}, nil)
				g = host
			}
			ops, guarded = append(ops, op), append(guarded, g)
		}
		if len(ops) > 0 {
			s.hostTxns.Add(1)
			resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
			if err != nil {
				return unguarded, fmt.Errorf("etcd: record the applied revisions of %d hosts (%s …): %w", n, hosts[0], err)
			}
			for i, r := range resp.Responses {
				if guarded[i] != "" && !r.GetResponseTxn().GetSucceeded() {
					unguarded = append(unguarded, guarded[i])
				}
			}
		}
		hosts = hosts[n:]
	}
	return unguarded, nil
}

// DeleteHostApplied forgets host's applied revision (its host deregistered).
func (s *Store) DeleteHostApplied(ctx context.Context, host string) error {
	if s.closed.Load() {
		return fmt.Errorf("etcd: the store is closed")
	}
	if _, err := s.cli.Delete(ctx, s.hostKey(host)); err != nil {
		return fmt.Errorf("etcd: forget the applied revision of host %s: %w", host, err)
	}
	return nil
}

// WatchHostApplied calls fn with every host's applied revision recorded,
// then with each one recorded after, and with -1 for a host forgotten,
// from one goroutine, until the store is closed.
func (s *Store) WatchHostApplied(fn func(host string, rev int64)) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-s.closeCh
		cancel()
	}()
	go func() {
		f := appliedFeed{s: s, fn: fn, known: map[string]int64{}}
		for ctx.Err() == nil {
			// Read them all, then watch from there; after a watch that
			// ended (compaction, lost leader), again.
			resp, err := s.cli.Get(ctx, s.hostsPrefix(), clientv3.WithPrefix())
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			f.reload(resp.Kvs)
			wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.hostsPrefix(), clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
			for wr := range wch {
				if wr.Err() != nil {
					break
				}
				for _, ev := range wr.Events {
					f.note(ev.Kv, ev.Type == mvccpb.DELETE)
				}
			}
		}
	}()
}

// appliedFeed passes the host keys read and watched to fn. It knows the
// hosts fn holds a revision of, each with its key's create revision, so
// that the read after a broken watch reports those forgotten meanwhile,
// whose deletes no watch delivered: gone, or deleted and written again
// (a host deregistered and registered anew, whose new agent's revision
// may be lower than its old one's).
type appliedFeed struct {
	s     *Store
	fn    func(host string, rev int64)
	known map[string]int64 // host → its key's create revision
}

// reload passes every host key read, then -1 for each host known before
// and not read.
func (f *appliedFeed) reload(kvs []*mvccpb.KeyValue) {
	gone := f.known
	f.known = map[string]int64{}
	for _, kv := range kvs {
		host := f.hostOf(kv)
		if host == "" {
			continue
		}
		if created, ok := gone[host]; ok && created != kv.CreateRevision {
			delete(gone, host)
			f.fn(host, -1) // deleted and made again: start from the new value
		}
		f.note(kv, false)
		if _, ok := f.known[host]; ok {
			delete(gone, host) // (a value that does not parse is gone too)
		}
	}
	for _, host := range slices.Sorted(maps.Keys(gone)) {
		f.fn(host, -1)
	}
}

// hostOf is the host a key names ("" for a key that names none).
func (f *appliedFeed) hostOf(kv *mvccpb.KeyValue) string {
	_, host, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), f.s.hostsPrefix()), ":")
	if !ok {
		return ""
	}
	return host
}

// note passes one host key's revision (-1 when deleted).
func (f *appliedFeed) note(kv *mvccpb.KeyValue, deleted bool) {
	host := f.hostOf(kv)
	if host == "" {
		return
	}
	if deleted {
		delete(f.known, host)
		f.fn(host, -1)
		return
	}
	if rev, err := strconv.ParseInt(string(kv.Value), 10, 64); err == nil && rev >= 0 {
		f.known[host] = kv.CreateRevision
		f.fn(host, rev)
	}
}
