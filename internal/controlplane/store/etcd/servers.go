package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The live servers of an installation, outside the revisioned data (they
// move no revision and no change log):
//
//	P s/<server id>  a ServerInfo (JSON), under a lease of that server
//
// A server keeps its lease alive while it runs; when it stops or dies the
// lease ends within its TTL and the key with it, so the listing holds the
// servers that can answer. Queries of what each server keeps locally (the
// event trail, the flow records) ask every server listed.

// ServerInfo is one server as the others reach it.
type ServerInfo struct {
	ID  string // stable across the server's restarts (kept beside its files)
	URL string // its API: http(s)://HOST:PORT
	// Cert is its TLS certificate (DER) when URL is https: the others
	// accept exactly this certificate from it, so a self-signed one works
	// and no other is trusted.
	Cert []byte `json:",omitempty"`
}

func (s *Store) serversPrefix() string { return s.p + "s/" }

// RegisterServer lists info among the live servers until stop is called
// (which removes it at once), under a lease of ttl kept alive meanwhile; a
// lease lost (etcd unreachable for longer than ttl) is granted again. It
// returns once the first registration is written, or its error.
func (s *Store) RegisterServer(ctx context.Context, info ServerInfo, ttl time.Duration) (stop func(), err error) {
	if info.ID == "" || info.URL == "" {
		return nil, fmt.Errorf("etcd: a server needs an ID and a URL to register")
	}
	val, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	key := s.serversPrefix() + info.ID
	secs := max(int64(ttl/time.Second), 2)
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// register writes the entry in one transaction, only if the key is
	// absent or holds this very entry: read-then-write would let two
	// servers of one ID both pass the read and the later hide the other.
	register := func(ctx context.Context) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
		g, err := s.cli.Grant(ctx, secs)
		if err != nil {
			return 0, nil, fmt.Errorf("etcd: grant the server's lease: %w", err)
		}
		put := clientv3.OpPut(key, string(val), clientv3.WithLease(g.ID))
		resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(put).
			Else(clientv3.OpTxn([]clientv3.Cmp{clientv3.Compare(clientv3.Value(key), "=", string(val))}, []clientv3.Op{put}, []clientv3.Op{clientv3.OpGet(key)})).
			Commit()
		if err == nil && !resp.Succeeded && len(resp.Responses) == 1 {
			if inner := resp.Responses[0].GetResponseTxn(); inner != nil && !inner.Succeeded {
				other := &takenError{}
				if len(inner.Responses) == 1 {
					if rr := inner.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
						var si ServerInfo
						json.Unmarshal(rr.Kvs[0].Value, &si)
						other.url = si.URL
					}
				}
				err = other
			}
		}
		if err != nil {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			s.cli.Revoke(rctx, g.ID)
			rcancel()
			var te *takenError
			if errors.As(err, &te) {
				return 0, nil, err
			}
			return 0, nil, fmt.Errorf("etcd: register the server: %w", err)
		}
		ka, err := s.cli.KeepAlive(life, g.ID)
		if err != nil {
			return 0, nil, fmt.Errorf("etcd: keep the server's lease alive: %w", err)
		}
		return g.ID, ka, nil
	}
	// An entry of this ID that is another is this server's previous run
	// (restarted on another port before its lease ended: wait for the
	// lease), or, if it outlives a lease, another server with a copy of
	// this one's ID file, which would hide one of the two.
	var (
		lease clientv3.LeaseID
		ka    <-chan *clientv3.LeaseKeepAliveResponse
	)
	for deadline := time.Now().Add(ttl + 2*time.Second); ; {
		lease, ka, err = register(ctx)
		var te *takenError
		if !errors.As(err, &te) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("etcd: another live server, at %s, has this server's ID %s (a copied ID file?): "+
				"give each server its own (delete the copy; a new one is made at the start)", te.url, info.ID)
		}
		select {
		case <-ctx.Done():
			cancel()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for range ka { // the client renews; the channel closes on a lost lease or at stop
			}
			if life.Err() != nil {
				rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
				s.cli.Revoke(rctx, lease) // drop out now, not after the TTL
				rcancel()
				return
			}
			taken := false
			for {
				select {
				case <-life.Done():
					return
				case <-time.After(time.Second):
				}
				var err error
				if lease, ka, err = register(life); err == nil {
					break
				}
				var te *takenError
				if errors.As(err, &te) && s.OnIDTaken != nil {
					s.OnIDTaken(te.url)
					taken = true
				}
			}
			if taken && s.OnIDTaken != nil {
				s.OnIDTaken("")
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

// takenError: the server's key holds another entry.
type takenError struct{ url string }

func (e *takenError) Error() string {
	return "etcd: the server's ID is registered by another, at " + e.url
}

// Servers lists the live servers, ordered by ID.
func (s *Store) Servers(ctx context.Context) ([]ServerInfo, error) {
	resp, err := s.cli.Get(ctx, s.serversPrefix(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("etcd: list the servers: %w", err)
	}
	out := make([]ServerInfo, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var si ServerInfo
		if json.Unmarshal(kv.Value, &si) == nil && si.ID != "" {
			out = append(out, si)
		}
	}
	return out, nil
}
