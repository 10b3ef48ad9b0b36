package ops

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/analysis/effective"
	"github.com/palisade-sg/palisade/internal/analysis/plan"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/verify"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// The analysis actions answer questions over the same policy engine that
// enforces: Palisade's own actions, signed and shaped like the ECS ones.
// Each reads one consistent snapshot. The cloud holds every account's
// resources (a peer group of another account must resolve to its members),
// but a caller may only name, and only sees, its own instances and groups.

func (s *Service) analysisActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"PalisadeVerifyFlow":             s.VerifyFlow,
		"PalisadeDescribeEffectiveRules": s.DescribeEffectiveRules,
		"PalisadeDescribeReachability":   s.DescribeReachability,
		"PalisadePlanChange":             s.PlanChange,
		"PalisadeAudit":                  s.Audit,
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

// routeOf finds an ECS or VPC action of a service (nil if there is none).
func routeOf(s *Service, action string) rpc.Handler {
	routes := s.Routes()
	for _, v := range []string{ECSVersion, VPCVersion} {
		if h, ok := routes[rpc.RouteKey{Version: v, Action: action}]; ok {
			return h
		}
	}
	return nil
}

// errDryRun rolls a dry-run transaction back.
var errDryRun = errors.New("dry run")

// dryRun runs a mutating action against the store without committing it and
// returns the cloud as the action would leave it. The action runs with all
// its checks: a request it refuses is refused here with the same error.
func (s *Service) dryRun(ctx context.Context, h func(*Service) rpc.Handler, req *rpc.Request) (*policy.Cloud, error) {
	var after *policy.Cloud
	inner := *s.Service // a copy: the real service keeps its store
	inner.Store = &dryStore{Store: s.Store, capture: func(tx store.ReadTx) error {
		var err error
		after, err = cloudOf(tx)
		return err
	}}
	shadow := *s
	shadow.Service = &inner
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

type effectiveResponse struct {
	rpc.Base
	InstanceId string
	Policies   []effective.Policy
}

// DescribeEffectiveRules returns an instance's effective policy: the pooled,
// ordered rules of all its groups per direction, the implicit entries where
// they act, and whether each rule can still match anything.
func (s *Service) DescribeEffectiveRules(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	id := req.Params.Get("InstanceId")
	return view(s, ctx, func(tx store.ReadTx) (any, error) {
		if _, err := getInstance(tx, c, id); err != nil {
			return nil, err
		}
		cl, err := cloudOf(tx)
		if err != nil {
			return nil, err
		}
		pols, err := effective.Of(cl, id)
		if err != nil {
			return nil, err
		}
		return &effectiveResponse{InstanceId: id, Policies: pols}, nil
	})
}

// ownedCloud is the caller's view for whole-cloud analyses: every account's
// resources stay (peers must resolve), and owned tells which instances and
// groups the caller may see in the answer.
type ownedCloud struct {
	*policy.Cloud
	owned  map[string]bool
	inside []netip.Prefix // every VPC's block: not the internet
}

func (o ownedCloud) reachOptions() reach.Options { return reach.Options{Inside: o.inside} }

func ownedOf(tx store.ReadTx, c caller) (ownedCloud, error) {
	cl, err := cloudOf(tx)
	if err != nil {
		return ownedCloud{}, err
	}
	o := ownedCloud{Cloud: cl, owned: map[string]bool{reach.Internet: true}}
	vpcs, err := listAll[model.VPC](tx, KindVPC)
	if err != nil {
		return o, err
	}
	for _, v := range vpcs {
		o.inside = append(o.inside, v.CIDR)
	}
	for id, in := range cl.Instances {
		if in.Owner == c.Account && (c.Region == "" || in.Region == c.Region) {
			o.owned[id] = true
		}
	}
	for id, g := range cl.Groups {
		if g.Owner == c.Account && (c.Region == "" || g.Region == c.Region) {
			o.owned[id] = true
		}
	}
	return o, nil
}

// reachFilter reads From, To (instance, group or "internet"), Protocol,
// Port and IpVersion. Named endpoints must be the caller's.
func reachFilter(p rpc.Params, o ownedCloud) (reach.Filter, error) {
	f := reach.Filter{From: p.Get("From"), To: p.Get("To")}
	for _, end := range []struct{ param, v string }{{"From", f.From}, {"To", f.To}} {
		if end.v != "" && !o.owned[end.v] {
			return f, ecserr.New(http.StatusNotFound, "InvalidParameter.NotFound", "%s %q is neither an instance nor a group of this account and region, nor %q.", end.param, end.v, reach.Internet)
		}
	}
	if v := p.Get("Protocol"); v != "" {
		proto, ok := model.ParseProtocol(v)
		if !ok {
			return f, ecserr.InvalidParameter("Protocol", "use tcp, udp, icmp, icmpv6, gre or all")
		}
		f.Protocol = proto
	}
	if v := p.Get("Port"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return f, ecserr.InvalidParameter("Port", "a port from 1 to 65535")
		}
		f.Port = uint16(n)
	}
	if v := p.Get("IpVersion"); v != "" {
		if v != "4" && v != "6" {
			return f, ecserr.InvalidParameter("IpVersion", "4 or 6")
		}
		f.IPVersion, _ = strconv.Atoi(v)
	}
	return f, nil
}

type reachResponse struct {
	rpc.Base
	Links []reach.Link   `json:",omitempty"`
	Graph *reach.Graph   `json:",omitempty"`
	Dot   string         `json:",omitempty"`
	Stats map[string]int `json:",omitempty"`
}

// DescribeReachability returns, for the caller's instances and the internet,
// what passes between them: View=matrix (default) lists links between
// instances, View=graph between groups, View=dot the graph in Graphviz.
func (s *Service) DescribeReachability(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return view(s, ctx, func(tx store.ReadTx) (any, error) {
		o, err := ownedOf(tx, c)
		if err != nil {
			return nil, err
		}
		f, err := reachFilter(req.Params, o)
		if err != nil {
			return nil, err
		}
		r := reach.Compute(o.Cloud, o.reachOptions())
		out := &reachResponse{Stats: map[string]int{"instances": len(r.Instances()), "classes": r.Classes()}}
		switch v := strings.ToLower(req.Params.Get("View")); v {
		case "", "matrix":
			links, err := r.Matrix(f)
			if err != nil {
				return nil, ecserr.InvalidParameter("To", err.Error())
			}
			for _, l := range links {
				if o.owned[l.From] && o.owned[l.To] {
					out.Links = append(out.Links, l)
				}
			}
			if out.Links == nil {
				out.Links = []reach.Link{}
			}
		case "graph", "dot":
			g, err := r.Graph(f)
			if err != nil {
				return nil, ecserr.InvalidParameter("To", err.Error())
			}
			g = ownedGraph(g, o)
			if v == "dot" {
				out.Dot = g.DOT()
			} else {
				out.Graph = g
			}
		default:
			return nil, ecserr.InvalidParameter("View", "matrix, graph or dot")
		}
		return out, nil
	})
}

func ownedGraph(g *reach.Graph, o ownedCloud) *reach.Graph {
	out := &reach.Graph{Nodes: []reach.GraphNode{}, Edges: []reach.Edge{}}
	for _, n := range g.Nodes {
		if o.owned[n.ID] {
			out.Nodes = append(out.Nodes, n)
		}
	}
	for _, e := range g.Edges {
		if o.owned[e.From] && o.owned[e.To] {
			out.Edges = append(out.Edges, e)
		}
	}
	return out
}

type planResponse struct {
	rpc.Base
	ChangeAction string
	Summary      plan.Summary
	Changes      []plan.Change
}

// planParams are the plan's own parameters; the rest belong to the change.
var planParams = map[string]bool{"ChangeAction": true, "Action": true, "Version": true}

// PlanChange previews a mutating action (ChangeAction, with that action's
// own parameters alongside) without applying it: the action runs with all
// its checks in a transaction that is rolled back, and the answer lists the
// flows it would open and close, by instance pair (and the internet),
// protocol and ports. A change the action would refuse is refused here with
// the same error.
func (s *Service) PlanChange(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	action := req.Params.Get("ChangeAction")
	if action == "" {
		return nil, ecserr.MissingParameter("ChangeAction")
	}
	if routeOf(s, action) == nil || strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "Palisade") || strings.HasPrefix(action, "List") {
		return nil, ecserr.InvalidParameter("ChangeAction", "name a mutating ECS or VPC action, e.g. AuthorizeSecurityGroup")
	}
	sub := *req
	sub.Action, sub.Params = action, rpc.Params{}
	for k, v := range req.Params {
		if !planParams[k] {
			sub.Params[k] = v
		}
	}
	before, err := view(s, ctx, func(tx store.ReadTx) (ownedCloud, error) { return ownedOf(tx, c) })
	if err != nil {
		return nil, err
	}
	after, err := s.dryRun(ctx, func(d *Service) rpc.Handler { return routeOf(d, action) }, &sub)
	if err != nil {
		return nil, err
	}
	out := &planResponse{ChangeAction: action, Changes: []plan.Change{}}
	// The "after" result is the "before" one updated with the change: only
	// the classes the change touches are rebuilt.
	prior := reach.Compute(before.Cloud, before.reachOptions())
	next := prior.Clone()
	next.Update(after, reach.Changes(before.Cloud, after))
	for _, ch := range plan.Diff(prior, next) {
		if before.owned[ch.From] && before.owned[ch.To] || after.Instances[ch.From] != nil && after.Instances[ch.From].Owner == c.Account && before.owned[ch.To] {
			out.Changes = append(out.Changes, ch)
		}
	}
	out.Summary = plan.Summarize(out.Changes)
	return out, nil
}

type auditResponse struct {
	rpc.Base
	Findings []audit.Finding
	Worst    string `json:",omitempty"`
}

// Audit runs the best-practice checks (SGA-001 …) over the caller's groups
// and instances, judging exposure on each instance's effective policy.
func (s *Service) Audit(ctx context.Context, req *rpc.Request) (any, error) {
	c, err := s.callerOf(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return view(s, ctx, func(tx store.ReadTx) (any, error) {
		o, err := ownedOf(tx, c)
		if err != nil {
			return nil, err
		}
		out := &auditResponse{Findings: []audit.Finding{}}
		for _, f := range audit.Run(o.Cloud, audit.Options{}) {
			if o.owned[f.Resource] {
				out.Findings = append(out.Findings, f)
			}
		}
		if w, ok := audit.Worst(out.Findings); ok {
			out.Worst = w.String()
		}
		return out, nil
	})
}
