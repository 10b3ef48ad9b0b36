package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// STSVersion is the STS API version whose GetCallerIdentity is served: the
// alicloud Terraform provider asks it for the account ID (its AccountId,
// behind data "alicloud_account", data "alicloud_caller_identity" and the
// ARNs some resources build). STS is global, as RAM: the RegionId the
// classic SDK adds is accepted and ignored.
const STSVersion = "2015-04-01"

func (s *Service) stsActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"GetCallerIdentity": s.getCallerIdentity,
	}
}

// globalCaller is the caller of a global product's action (STS,
// BssOpenApi, Location): the signing key's, with no region (a RegionId is
// ignored). A host key is refused here too, not only by Scoped.
func (s *Service) globalCaller(ctx context.Context, req *rpc.Request) (service.Caller, error) {
	c, _, err := signingCaller(ctx, req, s.KeyCaller)
	if err != nil {
		return c, err
	}
	if c.Host != "" {
		return service.Caller{}, ecserr.Forbidden("Forbidden.HostKey", "A host key may call only the host actions, not %s.", req.Action)
	}
	return c, nil
}

type getCallerIdentityResponse struct {
	rpc.Base
	IdentityType string
	AccountId    string
	PrincipalId  string
	UserId       string
	Arn          string
}

// getCallerIdentity answers who signed: every Palisade key is a key of the
// account itself (there are no RAM users or roles), so the identity is the
// account, as STS shows an Alibaba Cloud account's own key: UserId and
// PrincipalId are the account ID, the ARN is acs:ram::<uid>:root. A host
// key is refused before this (Scoped).
func (s *Service) getCallerIdentity(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.globalCaller(ctx, req)
	if err != nil {
		return nil, err
	}
	return &getCallerIdentityResponse{IdentityType: "Account", AccountId: c.Account, PrincipalId: c.Account,
		UserId: c.Account, Arn: "acs:ram::" + c.Account + ":root"}, nil
}

// signingCaller is the caller of the key that signed req, as Scoped found
// it, or else by lookup; and that key's ID.
func signingCaller(ctx context.Context, req *rpc.Request, lookup func(context.Context, string) (service.Caller, error)) (service.Caller, string, error) {
	akid := req.AccessKeyID
	if akid == "" {
		akid = rpc.AccessKeyID(ctx)
	}
	if sc, ok := ctx.Value(scopedKey{}).(scopedCaller); ok && sc.key == akid {
		return sc.c, akid, nil
	}
	c, err := lookup(ctx, akid)
	return c, akid, err
}
