package api

import (
	"context"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// RAMVersion is the RAM API version whose access key actions are served:
// a tenant (or the operator) manages its own keys with them, through the
// official SDKs (services/ram). RAM is a global product: the RegionId the
// classic SDK adds to every request is accepted and ignored.
const RAMVersion = "2015-05-01"

func (s *Service) ramActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateAccessKey":      s.createAccessKey,
		"ListAccessKeys":       s.listAccessKeys,
		"UpdateAccessKey":      s.updateAccessKey,
		"DeleteAccessKey":      s.deleteAccessKey,
		"GetAccessKeyLastUsed": s.getAccessKeyLastUsed,
	}
}

// keyInput reads UserName and UserAccessKeyId (not AccessKeyId, which is the
// signing parameter) and the caller, with no region.
func (s *Service) keyInput(ctx context.Context, req *rpc.Request) (service.KeyInput, error) {
	// RAM is global: the RegionId the classic SDK adds is ignored.
	c, akid, err := signingCaller(ctx, req, func(ctx context.Context, akid string) (service.Caller, error) {
		return s.CallerOf(ctx, akid, "", false)
	})
	return service.KeyInput{Caller: c, UserName: req.Params.Get("UserName"), KeyID: req.Params.Get("UserAccessKeyId"), SigningKey: akid}, err
}

// ramKey is RAM's AccessKey data type; the secret only when created.
type ramKey struct {
	AccessKeyId     string
	AccessKeySecret string `json:",omitempty"`
	Status          string
	CreateDate      string
}

func ramKeyOf(k service.AccessKeyOut) ramKey {
	return ramKey{AccessKeyId: k.ID, AccessKeySecret: k.Secret, Status: k.Status, CreateDate: k.Created}
}

type createAccessKeyResponse struct {
	rpc.Base
	AccessKey ramKey
}

func (s *Service) createAccessKey(ctx context.Context, req *rpc.Request) (any, error) {
	in, err := s.keyInput(ctx, req)
	if err != nil {
		return nil, err
	}
	k, err := s.CreateAccessKey(ctx, in)
	if err != nil {
		return nil, err
	}
	return &createAccessKeyResponse{AccessKey: ramKeyOf(k)}, nil
}

type listAccessKeysResponse struct {
	rpc.Base
	AccessKeys struct{ AccessKey []ramKey }
}

func (s *Service) listAccessKeys(ctx context.Context, req *rpc.Request) (any, error) {
	in, err := s.keyInput(ctx, req)
	if err != nil {
		return nil, err
	}
	keys, err := s.ListAccessKeys(ctx, in)
	if err != nil {
		return nil, err
	}
	out := &listAccessKeysResponse{}
	out.AccessKeys.AccessKey = []ramKey{}
	for _, k := range keys {
		k.Secret = "" // never listed
		out.AccessKeys.AccessKey = append(out.AccessKeys.AccessKey, ramKeyOf(k))
	}
	return out, nil
}

func (s *Service) updateAccessKey(ctx context.Context, req *rpc.Request) (any, error) {
	in, err := s.keyInput(ctx, req)
	if err != nil {
		return nil, err
	}
	return &rpc.Base{}, s.UpdateAccessKey(ctx, in, req.Params.Get("Status"))
}

func (s *Service) deleteAccessKey(ctx context.Context, req *rpc.Request) (any, error) {
	in, err := s.keyInput(ctx, req)
	if err != nil {
		return nil, err
	}
	return &rpc.Base{}, s.DeleteAccessKey(ctx, in)
}

type getAccessKeyLastUsedResponse struct {
	rpc.Base
	AccessKeyLastUsed service.KeyLastUsed
}

func (s *Service) getAccessKeyLastUsed(ctx context.Context, req *rpc.Request) (any, error) {
	in, err := s.keyInput(ctx, req)
	if err != nil {
		return nil, err
	}
	res, err := s.GetAccessKeyLastUsed(ctx, in)
	if err != nil {
		return nil, err
	}
	return &getAccessKeyLastUsedResponse{AccessKeyLastUsed: res}, nil
}
