package service

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// A stream's heartbeat, and an empty long poll, tell an agent "nothing new
// up to revision N", from the in-memory view. On etcd, a server whose
// member is cut off from the quorum keeps its view, which no longer moves:
// its heartbeats would keep the agent on it, never learning of the changes
// the other servers take. So before such an answer the server makes sure
// its store still answers (a linearizable read on etcd needs the quorum);
// when it does not, the stream ends with an error and the poll is refused,
// and the agent goes to another server. One probe serves every stream.

// ProbeStore has heartbeats wait for the store to answer: for a store
// another machine serves (etcd), which this server can be cut off from.
// The server sets it; a store on this machine (SQLite) is not probed (a
// slow read there would end every stream with no other server to go to).
func (s *Service) ProbeStore() { s.live = &liveness{} }

// liveFresh is how long a store that answered counts as answering.
const liveFresh = time.Second

// liveWait bounds the probe: etcd without a quorum holds a read until it
// has one.
const liveWait = 2 * time.Second

// liveness is the last probe of the store, shared by the streams.
type liveness struct {
	ok    atomic.Int64       // Unix nanoseconds when the store last answered
	probe singleflight.Group // one probe at a time, for every waiting stream
}

// errStoreSilent is the answer of a server whose store does not answer.
var errStoreSilent = ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable",
	"This server cannot reach its store (on etcd: its member is cut off from the quorum); send the request to another server of the installation.")

// storeAnswers returns nil when the store answered within liveFresh or
// answers a probe now, else errStoreSilent (or ctx's error).
func (s *Service) storeAnswers(ctx context.Context) error {
	l := s.live
	if l == nil || time.Since(time.Unix(0, l.ok.Load())) < liveFresh {
		return nil
	}
	answered := l.probe.DoChan("", func() (any, error) {
		pctx, cancel := context.WithTimeout(context.Background(), liveWait)
		defer cancel()
		if _, err := s.Store.Revision(pctx); err != nil {
			return nil, errStoreSilent
		}
		l.ok.Store(time.Now().UnixNano())
		return nil, nil
	})
	select {
	case r := <-answered:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}
