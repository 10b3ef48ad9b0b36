package api

import (
	"context"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/peers"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

type describeFlowHitsResponse struct {
	rpc.Base
	service.FlowHitsAnswer
	// PalisadeServerId, in the answer to a server's own part, names the
	// server that gave it (the asker checks it: peers.Fanin.Ask).
	PalisadeServerId string `json:",omitempty"`
}

// describeFlowHits (service.FlowHitsAction) reads NetworkInterfaceId and
// StartTime (ECS time): the caller's rule hits from the flow records, per
// deciding entry (service.HitKey), and since when they are complete. With
// PalisadeLocalOnly, this server's records only: what the other servers of
// an installation ask each other for (service.FlowHitsAll), with its
// agents' rule counters of the group PalisadeCountersOf names, if given.
func (s *Service) describeFlowHits(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	f := service.HitsFilter{ENI: req.Params.Get("NetworkInterfaceId")}
	if len(f.ENI) > 128 {
		return nil, ecserr.InvalidParameter("NetworkInterfaceId", "a network interface ID")
	}
	if v := req.Params.Get("StartTime"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, ecserr.InvalidParameter("StartTime", "a time such as 2026-01-02T15:04:05Z")
		}
	}
	self, err := s.Peers.Asked(req.Params)
	if err != nil {
		return nil, err
	}
	if peers.Local(req.Params) {
		part := s.LocalHits(c.Account, f)
		if g := req.Params.Get(service.CountersOfParam); g != "" {
			part.Counters = s.LocalHostCounters(ctx, c, g)
		}
		h := service.MergeHits([]service.HitsPart{part})
		return &describeFlowHitsResponse{FlowHitsAnswer: h.Answer(), PalisadeServerId: self}, nil
	}
	return &describeFlowHitsResponse{FlowHitsAnswer: s.FlowHitsAll(ctx, c, f).Answer()}, nil
}
