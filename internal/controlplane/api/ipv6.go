package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// AssignIpv6Addresses and UnassignIpv6Addresses, in the classic Go SDK's
// shapes (ecs.AssignIpv6AddressesResponse: Ipv6Sets.Ipv6Address[]).
func (s *Service) ipv6Actions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"AssignIpv6Addresses":   s.assignIpv6Addresses,
		"UnassignIpv6Addresses": s.unassignIpv6Addresses,
	}
}

// ipv6In reads both actions' parameters. Ipv6Address is a list
// (Ipv6Address.N): a bare value is refused rather than ignored.
func ipv6In(c service.Caller, req *rpc.Request) (service.IPv6Input, error) {
	p := req.Params
	if e := p.CheckList("Ipv6Address", false, true); e != nil {
		return service.IPv6Input{}, e
	}
	if p.Has("Ipv6Prefix") || len(p.List("Ipv6Prefix")) > 0 || p.Has("Ipv6PrefixCount") {
		return service.IPv6Input{}, ecserr.BadRequest("OperationUnsupported.Ipv6Prefix", "Palisade assigns no IPv6 prefixes to ENIs; leave Ipv6Prefix.N and Ipv6PrefixCount out.")
	}
	return service.IPv6Input{Caller: c, NetworkInterfaceID: p.Get("NetworkInterfaceId"), Addresses: p.List("Ipv6Address"),
		Idempotency: idempotency(req)}, nil
}

type assignIPv6Response struct {
	rpc.Base
	NetworkInterfaceId string
	Ipv6Sets           struct{ Ipv6Address []string }
	Ipv6PrefixSets     struct{ Ipv6Prefix []string }
}

func (s *Service) assignIpv6Addresses(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := ipv6In(c, req)
	if err != nil {
		return nil, err
	}
	var e *ecserr.Error
	if in.Count, e = req.Params.Int("Ipv6AddressCount", 0); e != nil {
		return nil, e
	}
	res, err := s.AssignIpv6Addresses(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &assignIPv6Response{NetworkInterfaceId: res.NetworkInterfaceID}
	out.Ipv6Sets.Ipv6Address = append([]string{}, res.Addresses...)
	out.Ipv6PrefixSets.Ipv6Prefix = []string{}
	return out, nil
}

func (s *Service) unassignIpv6Addresses(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	in, err := ipv6In(c, req)
	if err != nil {
		return nil, err
	}
	if err := s.UnassignIpv6Addresses(ctx, in); err != nil {
		return nil, err
	}
	return &rpc.Base{}, nil
}
