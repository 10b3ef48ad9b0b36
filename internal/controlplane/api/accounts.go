package api

import (
	"context"
	"fmt"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// The operator's actions (Palisade's own, in the ECS version): tenants and
// host keys. See package service, accounts.go and keys.go.

// OperatorActions are the actions only the operator key may call.
var OperatorActions = []string{"PalisadeCreateAccount", "PalisadeListAccounts", "PalisadeDisableAccount", "PalisadeSetAccountQuotas", "PalisadeDescribeAccountQuotas",
	"PalisadeRegisterHost", "PalisadeDeregisterHost", "PalisadeListHosts"}

// HostActions are the actions a host key may call (and the operator key;
// tenants may not).
var HostActions = []string{"PalisadeBindInstance", "PalisadeGetSnapshot", "PalisadeWatchChanges", "PalisadeWatchStream", "PalisadeReportHostStatus", "PalisadeReportFlowRecords"}

func (s *Service) accountActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"PalisadeCreateAccount":         s.createAccount,
		"PalisadeListAccounts":          s.listAccounts,
		"PalisadeDisableAccount":        s.disableAccount,
		"PalisadeSetAccountQuotas":      s.setAccountQuotas,
		"PalisadeDescribeAccountQuotas": s.describeAccountQuotas,
		"PalisadeRegisterHost":          s.registerHost,
		"PalisadeDeregisterHost":        s.deregisterHost,
		"PalisadeListHosts":             s.listHosts,
	}
}

type createAccountResponse struct {
	rpc.Base
	AccountId       string
	AccountName     string
	AccessKeyId     string
	AccessKeySecret string
}

// createAccount reads AccountName.
func (s *Service) createAccount(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	a, k, err := s.CreateAccount(ctx, c, req.Params.Get("AccountName"))
	if err != nil {
		return nil, err
	}
	return &createAccountResponse{AccountId: a.UID, AccountName: a.Name, AccessKeyId: k.ID, AccessKeySecret: k.Secret}, nil
}

type accountItem struct {
	AccountId   string
	AccountName string
	Status      string // Enabled or Disabled
	CreateTime  string
	// QuotaOverrides are the account's own quotas (PalisadeSetAccountQuotas).
	QuotaOverrides struct{ QuotaOverride []quotaOverride }
}

type quotaOverride struct {
	QuotaName string
	Value     int
}

type listAccountsResponse struct {
	rpc.Base
	Accounts struct{ Account []accountItem }
}

func (s *Service) listAccounts(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	accts, err := s.ListAccounts(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &listAccountsResponse{}
	out.Accounts.Account = []accountItem{}
	for _, a := range accts {
		st := "Enabled"
		if a.Disabled {
			st = "Disabled"
		}
		item := accountItem{AccountId: a.UID, AccountName: a.Name, Status: st, CreateTime: timeText(a.Created)}
		item.QuotaOverrides.QuotaOverride = []quotaOverride{}
		if a.Quotas != nil {
			own := service.Quotas(*a.Quotas)
			for i, n := range service.QuotaNames {
				if v := *own.Field(i); v != 0 {
					item.QuotaOverrides.QuotaOverride = append(item.QuotaOverrides.QuotaOverride, quotaOverride{n.Param, v})
				}
			}
		}
		out.Accounts.Account = append(out.Accounts.Account, item)
	}
	return out, nil
}

// disableAccount reads AccountId.
func (s *Service) disableAccount(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return &rpc.Base{}, s.DisableAccount(ctx, c, req.Params.Get("AccountId"))
}

type quotaItem struct {
	QuotaName string // a parameter of PalisadeSetAccountQuotas
	Value     int
	Source    string // Account (its own) or Server (serve's --quota-* flag, or its default)
}

type accountQuotasResponse struct {
	rpc.Base
	AccountId string
	Quotas    struct{ Quota []quotaItem }
}

// accountQuotas shapes an account's quotas as the answers give them.
func accountQuotas(q service.AccountQuotas) *accountQuotasResponse {
	out := &accountQuotasResponse{AccountId: q.AccountID}
	out.Quotas.Quota = []quotaItem{}
	for i, n := range service.QuotaNames {
		src := "Server"
		if *q.Own.Field(i) != 0 {
			src = "Account"
		}
		out.Quotas.Quota = append(out.Quotas.Quota, quotaItem{QuotaName: n.Param, Value: *q.Effective.Field(i), Source: src})
	}
	return out
}

// setAccountQuotas reads AccountId and a parameter per quota
// (service.QuotaNames' Param: a value, or -1 for the server's).
func (s *Service) setAccountQuotas(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	if err := service.CheckAdministrator(c, "PalisadeSetAccountQuotas"); err != nil {
		return nil, err // before the parameters, as the other operator actions
	}
	if e := misspeltQuota(req.Params); e != nil {
		return nil, e
	}
	in := service.SetAccountQuotasInput{Caller: c, AccountID: req.Params.Get("AccountId"), Values: map[string]int{}}
	for _, n := range service.QuotaNames {
		if !req.Params.Has(n.Param) {
			continue
		}
		v, e := req.Params.Int(n.Param, 0)
		if e != nil {
			return nil, e
		}
		in.Values[n.Param] = v
	}
	q, err := s.SetAccountQuotas(ctx, in)
	if err != nil {
		return nil, err
	}
	return accountQuotas(q), nil
}

// misspeltQuota refuses a parameter that names a quota but not as
// PalisadeSetAccountQuotas spells it (SecurityGroup, securitygroups,
// security-groups): ignored, as other unknown parameters are, it would
// leave that quota as it was under an answer that reads as a success.
func misspeltQuota(ps rpc.Params) *ecserr.Error {
	fold := func(s string) string {
		s = strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
		return strings.TrimSuffix(s, "s")
	}
	for name := range ps {
		for _, n := range service.QuotaNames {
			if name != n.Param && (fold(name) == fold(n.Param) || fold(name) == fold(n.Flag)) {
				return ecserr.InvalidParameter(name, fmt.Sprintf("the quota is spelt %s; PalisadeSetAccountQuotas takes %s", n.Param, service.QuotaParams()))
			}
		}
	}
	return nil
}

// describeAccountQuotas reads AccountId.
func (s *Service) describeAccountQuotas(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	q, err := s.DescribeAccountQuotas(ctx, c, req.Params.Get("AccountId"))
	if err != nil {
		return nil, err
	}
	return accountQuotas(q), nil
}

type registerHostResponse struct {
	rpc.Base
	HostName        string
	AccessKeyId     string
	AccessKeySecret string
}

// registerHost reads HostName.
func (s *Service) registerHost(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	k, err := s.RegisterHost(ctx, c, req.Params.Get("HostName"))
	if err != nil {
		return nil, err
	}
	return &registerHostResponse{HostName: k.Host, AccessKeyId: k.ID, AccessKeySecret: k.Secret}, nil
}

// deregisterHost reads HostName.
func (s *Service) deregisterHost(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	return &rpc.Base{}, s.DeregisterHost(ctx, c, req.Params.Get("HostName"))
}

// Scoped wraps every route with the check of which actions a key may call
// at all, before the action reads its parameters: a host key only the host
// actions; the operator key the operator's, the host actions, its own RAM
// keys, STS's GetCallerIdentity and DescribeRegions, but no tenant action (it owns no resources, and
// a tenant's resources are the tenant's). Tenants calling an operator or a
// host action are refused by the action itself. An unknown, Inactive or
// disabled account's key is refused here for every action.
func (s *Service) Scoped(routes map[rpc.RouteKey]rpc.Handler) map[rpc.RouteKey]rpc.Handler {
	host, op := map[string]bool{}, map[string]bool{"DescribeRegions": true}
	for _, a := range HostActions {
		host[a], op[a] = true, true
	}
	for _, a := range OperatorActions {
		op[a] = true
	}
	out := make(map[rpc.RouteKey]rpc.Handler, len(routes))
	for k, h := range routes {
		ecsHost, opAllowed := k.Version == ECSVersion && host[k.Action], k.Version == RAMVersion || k.Version == STSVersion || k.Version == ECSVersion && op[k.Action]
		out[k] = func(ctx context.Context, req *rpc.Request) (any, error) {
			akid := req.AccessKeyID
			if akid == "" {
				akid = rpc.AccessKeyID(ctx)
			}
			c, err := s.KeyCaller(ctx, akid)
			switch {
			case err != nil:
				return nil, err
			case c.Host != "" && !ecsHost:
				return nil, ecserr.Forbidden("Forbidden.HostKey", "A host key may call only the host actions (PalisadeGetSnapshot, PalisadeWatchChanges, PalisadeWatchStream, PalisadeBindInstance, PalisadeReportHostStatus, PalisadeReportFlowRecords), not %s.", req.Action)
			case c.Operator && !opAllowed:
				return nil, ecserr.Forbidden("Forbidden.OperatorKey", "The operator key administers accounts and hosts and owns no resources, so it may not call %s; "+
					"use a tenant's key (palisade account create makes a tenant with one).", req.Action)
			}
			if c.Host == "" { // GetAccessKeyLastUsed answers of no host key, whose calls are the most frequent
				s.NoteKeyUse(akid) // a verified, usable key
			}
			return h(context.WithValue(ctx, scopedKey{}, scopedCaller{akid, c}), req)
		}
	}
	return out
}

// scopedKey carries the caller Scoped resolved, for callerOf.
type scopedKey struct{}

type scopedCaller struct {
	key string
	c   caller
}

type hostItem struct {
	HostName        string
	AccessKeyId     string
	CreateTime      string
	AppliedRevision int64 // the store revision its agent last reported applied (0: none yet)
}

type listHostsResponse struct {
	rpc.Base
	Hosts struct{ Host []hostItem }
}

// listHosts lists the registered hosts and their keys' IDs.
func (s *Service) listHosts(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, false)
	if err != nil {
		return nil, err
	}
	keys, err := s.ListHostKeys(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &listHostsResponse{}
	out.Hosts.Host = []hostItem{}
	for _, k := range keys {
		out.Hosts.Host = append(out.Hosts.Host, hostItem{HostName: k.Host, AccessKeyId: k.ID, CreateTime: timeText(k.Created), AppliedRevision: s.AppliedRevision(k.Host)})
	}
	return out, nil
}
