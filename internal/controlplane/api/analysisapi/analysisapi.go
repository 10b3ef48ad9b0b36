// Package analysisapi is the RPC adapter of the analysis actions
// (PalisadeVerifyFlow, PalisadeDescribeEffectiveRules,
// PalisadeDescribeReachability, PalisadePlanChange, PalisadeAudit):
// Palisade's own actions, signed and shaped like the ECS ones, over the
// analysis service (package analyze). It is apart from package api so that
// the resource actions do not depend on the analysis tier; the server joins
// the two route tables.
package analysisapi

import (
	"context"
	"strings"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/analysis/effective"
	"github.com/palisade-sg/palisade/internal/analysis/plan"
	"github.com/palisade-sg/palisade/internal/analysis/verify"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

type adapter struct {
	ops *api.Service
	a   *analyze.Service
}

// Routes returns the analysis actions over the resource actions of o (whose
// mutations PalisadePlanChange previews), keyed as api.Routes keys its own.
func Routes(o *api.Service) map[rpc.RouteKey]rpc.Handler {
	return RoutesOf(o, analyze.New(o.Service))
}

// RoutesOf is Routes over a given analysis service (with its bounds, and
// its live reachability started or not).
func RoutesOf(o *api.Service, a *analyze.Service) map[rpc.RouteKey]rpc.Handler {
	h := &adapter{ops: o, a: a}
	r := map[rpc.RouteKey]rpc.Handler{}
	for name, fn := range map[string]rpc.Handler{
		"PalisadeVerifyFlow":             h.verifyFlow,
		"PalisadeDescribeEffectiveRules": h.describeEffectiveRules,
		"PalisadeDescribeReachability":   h.describeReachability,
		"PalisadePlanChange":             h.planChange,
		"PalisadeAudit":                  h.audit,
	} {
		r[rpc.RouteKey{Version: api.ECSVersion, Action: name}] = fn
	}
	return r
}

type verifyResponse struct {
	rpc.Base
	verify.Report
}

// verifyFlow reads From and To (instance IDs or addresses), Protocol, Port,
// SourcePort and IpVersion.
func (h *adapter) verifyFlow(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := h.ops.RequestCaller(ctx, req, true)
	if err != nil {
		return nil, err
	}
	p := req.Params
	r, err := h.a.VerifyFlow(ctx, analyze.FlowInput{Caller: c, From: p.Get("From"), To: p.Get("To"), Protocol: p.Get("Protocol"),
		Port: p.Get("Port"), SourcePort: p.Get("SourcePort"), IPVersionText: p.Get("IpVersion")})
	if err != nil {
		return nil, err
	}
	return &verifyResponse{Report: r}, nil
}

type effectiveResponse struct {
	rpc.Base
	InstanceId string
	Policies   []effective.Policy
	// Hits are the entries that flow records of this NIC name, among the
	// records every live server of the installation keeps (none: no flow
	// log covered it, or nothing matched them since).
	Hits []EntryHit
	// PalisadeMissingServers are the servers that did not give their
	// records' hits in time: Hits lacks theirs.
	PalisadeMissingServers []string `json:",omitempty"`
}

// EntryHit is what the flow records say of one entry of an effective
// policy: Policy is its index in Policies, Position its own.
type EntryHit struct {
	Policy, Position int
	Flows            int
	Packets, Bytes   uint64
	LastHitTime      string // ECS time, UTC
}

// entryHits joins the records' hits to the entries they name.
func entryHits(pols []effective.Policy, hits map[string]service.RuleHit) []EntryHit {
	out := []EntryHit{}
	for i, p := range pols {
		for _, e := range p.Entries {
			h, ok := hits[service.HitKey(p.Direction, e.Reason, e.Group, e.RuleID)]
			if !ok {
				continue
			}
			out = append(out, EntryHit{Policy: i, Position: e.Position, Flows: h.Flows, Packets: h.Packets, Bytes: h.Bytes, LastHitTime: api.HitTime(h.LastHit)})
		}
	}
	return out
}

func (h *adapter) describeEffectiveRules(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := h.ops.RequestCaller(ctx, req, true)
	if err != nil {
		return nil, err
	}
	id := req.Params.Get("InstanceId")
	pols, err := h.a.EffectiveRules(ctx, c, id)
	if err != nil {
		return nil, err
	}
	// The records of this NIC only: the instance's primary ENI, or the ENI.
	hits := h.ops.FlowHitsAll(ctx, c, effectiveHits(id))
	return &effectiveResponse{InstanceId: id, Policies: pols, Hits: entryHits(pols, hits.ByEntry), PalisadeMissingServers: hits.Missing}, nil
}

// The records PalisadeDescribeEffectiveRules counts: those of the
// instance's primary ENI, or of the ENI.
func effectiveHits(id string) service.HitsFilter {
	return service.HitsFilter{ENI: model.NICENI(&model.Instance{ID: id})}
}

// HitsOf says whether the analysis action req asks the other servers for
// rule hits, and with what filter: the server asks them before it admits
// the analysis (service.WithPeerHits), so that no analysis holds its
// place and share of the CPU while it waits for peers.
func HitsOf(req *rpc.Request) (service.HitsFilter, bool) {
	switch req.Action {
	case "PalisadeAudit":
		return service.HitsFilter{}, true
	case "PalisadeDescribeEffectiveRules":
		return effectiveHits(req.Params.Get("InstanceId")), true
	}
	return service.HitsFilter{}, false
}

type reachResponse struct {
	rpc.Base
	analyze.Reachability
}

func (h *adapter) describeReachability(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := h.ops.RequestCaller(ctx, req, true)
	if err != nil {
		return nil, err
	}
	if req.Format == "XML" {
		// Its Stats is a map, which encoding/xml has no form for:
		// refused before the work, as LookupEvents does, not answered
		// InternalError after it.
		return nil, ecserr.InvalidParameter("Format", "PalisadeDescribeReachability answers in JSON only; leave Format out")
	}
	p := req.Params
	pg, err := pageParams(p)
	if err != nil {
		return nil, err
	}
	r, err := h.a.Reachability(ctx, analyze.ReachInput{Caller: c, From: p.Get("From"), To: p.Get("To"), Protocol: p.Get("Protocol"),
		Port: p.Get("Port"), IPVersion: p.Get("IpVersion"), View: p.Get("View"), Page: pg})
	if err != nil {
		return nil, err
	}
	return &reachResponse{Reachability: r}, nil
}

// pageParams reads MaxResults and NextToken (the analysis service checks
// their ranges).
func pageParams(p rpc.Params) (analyze.Page, error) {
	n, err := p.Int("MaxResults", 0)
	if err != nil {
		return analyze.Page{}, err
	}
	if p.Has("MaxResults") && n == 0 {
		n = -1 // given as 0: out of range, not the default
	}
	return analyze.Page{MaxResults: n, NextToken: p.Get("NextToken")}, nil
}

type planResponse struct {
	rpc.Base
	ChangeAction string
	Summary      plan.Summary
	Changes      []plan.Change
	// HiddenPeers: other accounts' groups whose members' flows the
	// answer leaves out (analyze.Plan).
	HiddenPeers []string `json:",omitempty"`
	NextToken   string   `json:",omitempty"`
}

// planParams are the plan's own parameters; the rest belong to the change.
var planParams = map[string]bool{"ChangeAction": true, "Action": true, "Version": true, "MaxResults": true, "NextToken": true}

// routeOf finds an ECS or VPC action of a service (nil if there is none).
func routeOf(s *api.Service, action string) rpc.Handler {
	routes := s.Routes()
	for _, v := range []string{api.ECSVersion, api.VPCVersion} {
		if h, ok := routes[rpc.RouteKey{Version: v, Action: action}]; ok {
			return h
		}
	}
	return nil
}

// planChange previews a mutating action, ChangeAction, with that action's
// own parameters alongside.
func (h *adapter) planChange(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := h.ops.RequestCaller(ctx, req, true)
	if err != nil {
		return nil, err
	}
	action := req.Params.Get("ChangeAction")
	if action == "" {
		return nil, ecserr.MissingParameter("ChangeAction")
	}
	if routeOf(h.ops, action) == nil || strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "Palisade") || strings.HasPrefix(action, "List") {
		return nil, ecserr.InvalidParameter("ChangeAction", "name a mutating ECS or VPC action, e.g. AuthorizeSecurityGroup")
	}
	sub := *req
	sub.Action, sub.Params = action, rpc.Params{}
	for k, v := range req.Params {
		if !planParams[k] {
			sub.Params[k] = v
		}
	}
	pg, err := pageParams(req.Params)
	if err != nil {
		return nil, err
	}
	pl, err := h.a.PlanChange(ctx, c, func(ctx context.Context, shadow *service.Service) error {
		_, err := routeOf(&api.Service{Service: shadow}, action)(ctx, &sub)
		return err
	}, pg)
	if err != nil {
		return nil, err
	}
	return &planResponse{ChangeAction: action, Summary: pl.Summary, Changes: pl.Changes, HiddenPeers: pl.HiddenPeers, NextToken: pl.NextToken}, nil
}

type auditResponse struct {
	rpc.Base
	analyze.Audit
}

// audit reads Config: the audit's configuration as a JSON (or YAML)
// document, the form of palisade audit --config.
func (h *adapter) audit(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := h.ops.RequestCaller(ctx, req, true)
	if err != nil {
		return nil, err
	}
	var o audit.Options
	if cfg := req.Params.Get("Config"); cfg != "" {
		if o, err = audit.ParseConfig([]byte(cfg)); err != nil {
			return nil, ecserr.InvalidParameter("Config", err.Error()+"; give the JSON form of palisade audit --config")
		}
	}
	alerting := h.ops.ChangeAlerting // the server's, not the caller's to say
	o.ChangeAlerting = &alerting
	a, err := h.a.Audit(ctx, c, o)
	if err != nil {
		return nil, err
	}
	return &auditResponse{Audit: a}, nil
}
