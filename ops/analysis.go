package ops

import (
	"context"
	"errors"
	"net/http"
	"net/netip"

	"github.com/palisade-sg/palisade/ecserr"
	"github.com/palisade-sg/palisade/model"
	"github.com/palisade-sg/palisade/policy"
	"github.com/palisade-sg/palisade/rpc"
	"github.com/palisade-sg/palisade/store"
	"github.com/palisade-sg/palisade/verify"
)

// The analysis actions answer questions over the same policy engine that
// enforces: Palisade's own actions, signed and shaped like the ECS ones.
// Each reads one consistent snapshot. The cloud holds every account's
// resources (a peer group of another account must resolve to its members),
// but a caller may only name, and only sees, its own instances and groups.

func (s *Service) analysisActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"PalisadeVerifyFlow": s.VerifyFlow,
	}
}

// cloudOf builds the policy snapshot of a read transaction.
func cloudOf(tx store.ReadTx) (*policy.Cloud, error) {
	groups, err := listAll[model.SecurityGroup](tx, KindGroup)
	if err != nil {
		return nil, err
	}
	instances, err := listAll[model.Instance](tx, KindInstance)
	if err != nil {
		return nil, err
	}
	pls, err := listAll[model.PrefixList](tx, KindPrefixList)
	if err != nil {
		return nil, err
	}
	return policy.NewCloud(groups, instances, pls), nil
}

// endpointOf checks that a flow end is an address or one of the caller's
// instances.
func endpointOf(c caller, cl *policy.Cloud, param, v string) error {
	if v == "" {
		return ecserr.MissingParameter(param)
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return nil
	}
	in, ok := cl.Instances[v]
	if !ok || in.Owner != c.Account || c.Region != "" && in.Region != c.Region {
		return ecserr.New(http.StatusNotFound, "InvalidInstanceId.NotFound", "%s %q is neither an IP address nor an instance of this account and region.", param, v)
	}
	return nil
}

type verifyResponse struct {
	rpc.Base
	verify.Report
}

// VerifyFlow decides one flow: From and To (instance IDs or addresses),
// Protocol, Port, SourcePort, IpVersion.
func (s *Service) VerifyFlow(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	f, ferr := verify.ParseFlow(p.Get("From"), p.Get("To"), p.Get("Protocol"), p.Get("Port"), p.Get("SourcePort"), p.Get("IpVersion"))
	return view(s, ctx, func(tx store.ReadTx) (any, error) {
		cl, err := cloudOf(tx)
		if err != nil {
			return nil, err
		}
		if err := endpointOf(c, cl, "From", p.Get("From")); err != nil {
			return nil, err
		}
		if err := endpointOf(c, cl, "To", p.Get("To")); err != nil {
			return nil, err
		}
		if ferr != nil {
			return nil, ecserr.InvalidParameter("Protocol", ferr.Error())
		}
		r, err := verify.Flow(policy.Compile(cl), f)
		if err != nil {
			return nil, ecserr.InvalidParameter("To", err.Error())
		}
		return &verifyResponse{Report: r}, nil
	})
}

// errDryRun rolls a dry-run transaction back.
var errDryRun = errors.New("dry run")

// dryRun runs a mutating action against the store without committing it and
// returns the cloud as the action would leave it. The action runs with all
// its checks: a request it refuses is refused here with the same error.
func (s *Service) dryRun(ctx context.Context, h func(*Service) rpc.Handler, req *rpc.Request) (*policy.Cloud, error) {
	var after *policy.Cloud
	shadow := *s
	shadow.Store = &dryStore{Store: s.Store, capture: func(tx store.ReadTx) error {
		var err error
		after, err = cloudOf(tx)
		return err
	}}
	if _, err := h(&shadow)(ctx, req); err != nil {
		return nil, err
	}
	if after == nil { // the action wrote nothing
		var err error
		after, err = view(s, ctx, cloudOf)
		if err != nil {
			return nil, err
		}
	}
	return after, nil
}

// dryStore runs Updates to the point of commit, captures the state they
// would leave, and rolls them back.
type dryStore struct {
	store.Store
	capture func(store.ReadTx) error
}

func (d *dryStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	_, err := d.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if err := d.capture(tx); err != nil {
			return err
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return 0, err
}
