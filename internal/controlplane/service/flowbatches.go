package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/flowstore"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// On an installation of several servers (etcd) each server keeps the flow
// records its agents ship on its own disk, but the tokens of their batches
// are shared, so that a batch is kept once by the installation, not once
// per server: an agent whose server kept a batch and died before its
// answer sends the batch again to the next server, which must answer it
// from the first sending instead of keeping it again.
//
// A server claims the token (the batch pending, under its ID) before it
// writes the batch, and marks it kept, with its answer, after its sync:
//
//   - a token kept by any server is answered from its first sending;
//   - a token pending at another server is answered 503 (send it again:
//     that server is writing it, or died in the middle) until the claim is
//     flowClaimTimeout old (by the claimer's clock and this server's);
//     then this server takes it over. So a batch another server kept but
//     could not mark (killed between its sync and its mark, or etcd out
//     of reach then) is kept a second time once taken over;
//   - a token pending at this server (it restarted, and its files lack the
//     batch: it died before its sync) is written again.

// FlowBatches is where the servers of an installation share the tokens of
// the flow batches they keep: one document per host, changed only if no
// other server changed it meanwhile (store/etcd's UpdateFlowBatches).
type FlowBatches interface {
	UpdateFlowBatches(ctx context.Context, host string, fn func(old []byte) ([]byte, error)) error
}

// flowClaimTimeout is how long a batch may stay pending at another server
// before this one takes it over: far longer than a sync and two etcd
// round trips, short enough that an agent whose server died does not
// hold its records for long.
const flowClaimTimeout = time.Minute

// flowBatchesTimeout bounds each exchange with etcd: without a quorum it
// holds a request until it has one; the agent is answered 503 instead.
const flowBatchesTimeout = 5 * time.Second

// sharedBatchesPerHost is how many of a host's latest batches are shared,
// as many as a server remembers of its own (an agent sends only its latest
// again).
const sharedBatchesPerHost = 16

// sharedBatch is a batch's token as the servers share it.
type sharedBatch struct {
	Token  string
	Hash   string
	Server string // the ID of the server that keeps it (or is writing it)
	Since  int64  // Unix seconds of the claim
	Kept   bool   // written and synced: Records and Refused are its answer
	// Records and Refused are the answer to its first sending.
	Records int `json:",omitempty"`
	Refused int `json:",omitempty"`
}

// errAnswered carries the answer of a batch some server kept.
type errAnswered struct{ k flowstore.Kept }

func (errAnswered) Error() string { return "flow records: the batch was kept before" }

func (s *Service) updateSharedBatches(ctx context.Context, host string, fn func([]sharedBatch) ([]sharedBatch, error)) error {
	ctx, cancel := context.WithTimeout(ctx, flowBatchesTimeout)
	defer cancel()
	err := s.FlowBatches.UpdateFlowBatches(ctx, host, func(old []byte) ([]byte, error) {
		var bs []sharedBatch
		if old != nil {
			if err := json.Unmarshal(old, &bs); err != nil {
				return nil, fmt.Errorf("flow records: the shared tokens of host %s: %w", host, err)
			}
		}
		bs, err := fn(bs)
		if err != nil || bs == nil {
			return nil, err
		}
		if n := len(bs) - sharedBatchesPerHost; n > 0 {
			bs = bs[n:] // the oldest first
		}
		return json.Marshal(bs)
	})
	var ans errAnswered
	var e *ecserr.Error
	if err == nil || errors.As(err, &ans) || errors.As(err, &e) || errors.Is(err, flowstore.ErrTokenReused) {
		return err
	}
	return &ecserr.Error{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable",
		Message: "The flow records' tokens, shared by the servers, cannot be read or written now (is etcd's quorum lost?); send the records again later.", Cause: err}
}

// claimBatch claims b's token for this server before it writes the batch;
// a token some server kept returns errAnswered with that answer.
func (s *Service) claimBatch(ctx context.Context, b flowstore.Batch, now time.Time) error {
	return s.updateSharedBatches(ctx, b.Host, func(bs []sharedBatch) ([]sharedBatch, error) {
		i := slices.IndexFunc(bs, func(x sharedBatch) bool { return x.Token == b.Token })
		if i >= 0 {
			x := bs[i]
			switch {
			case x.Hash != b.Hash:
				return nil, flowstore.ErrTokenReused
			case x.Kept:
				return nil, errAnswered{flowstore.Kept{Records: x.Records, Refused: x.Refused}}
			case x.Server != s.FlowServer && now.Unix()-x.Since < int64(flowClaimTimeout/time.Second):
				return nil, ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable",
					"Another server of the installation (%s) is keeping this batch (ClientToken %q); send it again later.", x.Server, b.Token)
			}
			bs = slices.Delete(bs, i, i+1) // taken over: claimed anew below
		}
		return append(bs, sharedBatch{Token: b.Token, Hash: b.Hash, Server: s.FlowServer, Since: now.Unix()}), nil
	})
}

// settleBatch marks this server's claim of b's token kept, with its
// answer k, or (k nil: the write failed) gives it up.
func (s *Service) settleBatch(ctx context.Context, b flowstore.Batch, k *flowstore.Kept) error {
	return s.updateSharedBatches(ctx, b.Host, func(bs []sharedBatch) ([]sharedBatch, error) {
		i := slices.IndexFunc(bs, func(x sharedBatch) bool { return x.Token == b.Token && x.Server == s.FlowServer })
		switch {
		case i < 0 || k != nil && bs[i].Kept:
			return nil, nil // taken over, pushed out, or marked already
		case k == nil:
			return slices.Delete(bs, i, i+1), nil
		}
		bs[i].Kept, bs[i].Records, bs[i].Refused = true, k.Records, k.Refused
		return bs, nil
	})
}
