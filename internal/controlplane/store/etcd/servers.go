package etcd

import (
	"context"
	"encoding/json"
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

// RegisterServer lists info among the live servers until ctx ends (and
// then removes it), under a lease of ttl kept alive meanwhile; a lease
// lost (etcd unreachable longer than ttl) is granted again. It returns once
// the first registration is written, or its error.
func (s *Store) RegisterServer(ctx context.Context, info ServerInfo, ttl time.Duration) error {
	if info.ID == "" || info.URL == "" {
		return fmt.Errorf("etcd: a server needs an ID and a URL to register")
	}
	val, err := json.Marshal(info)
	if err != nil {
		return err
	}
	key := s.serversPrefix() + info.ID
	secs := max(int64(ttl/time.Second), 2)
	register := func() (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse, error) {
		g, err := s.cli.Grant(ctx, secs)
		if err != nil {
			return 0, nil, fmt.Errorf("etcd: grant the server's lease: %w", err)
		}
		if _, err := s.cli.Put(ctx, key, string(val), clientv3.WithLease(g.ID)); err != nil {
			return 0, nil, fmt.Errorf("etcd: register the server: %w", err)
		}
		ka, err := s.cli.KeepAlive(ctx, g.ID)
		if err != nil {
			return 0, nil, fmt.Errorf("etcd: keep the server's lease alive: %w", err)
		}
		return g.ID, ka, nil
	}
	lease, ka, err := register()
	if err != nil {
		return err
	}
	go func() {
		for {
			for range ka { // the client renews; a closed channel is a lost lease or ctx's end
			}
			if ctx.Err() != nil {
				rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				s.cli.Revoke(rctx, lease) // drop out now, not after the TTL
				cancel()
				return
			}
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				if lease, ka, err = register(); err == nil {
					break
				}
			}
		}
	}()
	return nil
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
