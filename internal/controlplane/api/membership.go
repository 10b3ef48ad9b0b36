package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

func (s *Service) membershipActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"JoinSecurityGroup":  s.membership(s.JoinSecurityGroup),
		"LeaveSecurityGroup": s.membership(s.LeaveSecurityGroup),
	}
}

// membership serves Join/LeaveSecurityGroup, which take no RegionId: they
// act in the instance's region.
func (s *Service) membership(act func(context.Context, service.MembershipInput) error) rpc.Handler {
	return func(ctx context.Context, req *rpc.Request) (any, error) {
		c, err := s.callerOf(ctx, req, false)
		if err != nil {
			return nil, err
		}
		p := req.Params
		if err := act(ctx, service.MembershipInput{Caller: c, InstanceID: p.Get("InstanceId"), SecurityGroupID: p.Get("SecurityGroupId"),
			NetworkInterfaceID: p.Get("NetworkInterfaceId"), Idempotency: idempotency(req)}); err != nil {
			return nil, err
		}
		return &rpc.Base{}, nil
	}
}
