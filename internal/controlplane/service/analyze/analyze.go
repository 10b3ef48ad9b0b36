// Package analyze is the analysis service: questions answered over the same
// policy engine that enforces (verify a flow, an instance's effective rules,
// reachability, the plan of a change, the audit), each over one consistent
// snapshot of the store. It lives apart from package service so that the
// resource services do not depend on the analysis tier.
//
// The cloud analysed holds every account's resources (a peer group of
// another account must resolve to its members), but a caller may only name,
// and only sees, its own instances and groups.
package analyze

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
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Service answers the analysis questions over the resource services' store.
type Service struct {
	svc *service.Service
}

// New returns the analysis service of a resource service.
func New(svc *service.Service) *Service { return &Service{svc: svc} }

// cloudOf builds the policy snapshot of a read transaction.
func cloudOf(tx store.ReadTx) (*policy.Cloud, error) {
	groups, err := service.ListAll[model.SecurityGroup](tx, service.KindGroup)
	if err != nil {
		return nil, err
	}
	instances, err := service.ListAll[model.Instance](tx, service.KindInstance)
	if err != nil {
		return nil, err
	}
	pls, err := service.ListAll[model.PrefixList](tx, service.KindPrefixList)
	if err != nil {
		return nil, err
	}
	lists, err := service.ListAll[model.PortRangeList](tx, service.KindPortRangeList)
	if err != nil {
		return nil, err
	}
	enis, err := service.ListAll[model.NetworkInterface](tx, service.KindENI)
	if err != nil {
		return nil, err
	}
	// The policy's unit is the NIC: each instance and each attached
	// secondary ENI, judged with its own groups.
	return policy.NewCloud(groups, model.NICs(instances, enis), pls).WithPortRangeLists(lists), nil
}

// endpointOf checks that a flow end is an address or one of the caller's
// instances.
func endpointOf(c service.Caller, cl *policy.Cloud, param, v string) error {
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

// FlowInput is one flow to decide. From and To are instance IDs of the
// caller or addresses; the rest as verify.ParseFlow reads them.
type FlowInput struct {
	Caller                                    service.Caller
	From, To                                  string
	Protocol, Port, SourcePort, IPVersionText string
}

// VerifyFlow decides one flow (PalisadeVerifyFlow).
func (a *Service) VerifyFlow(ctx context.Context, in FlowInput) (verify.Report, error) {
	c := in.Caller
	f, ferr := verify.ParseFlow(in.From, in.To, in.Protocol, in.Port, in.SourcePort, in.IPVersionText)
	return service.View(a.svc, ctx, func(tx store.ReadTx) (verify.Report, error) {
		var none verify.Report
		cl, err := cloudOf(tx)
		if err != nil {
			return none, err
		}
		if err := endpointOf(c, cl, "From", in.From); err != nil {
			return none, err
		}
		if err := endpointOf(c, cl, "To", in.To); err != nil {
			return none, err
		}
		if ferr != nil {
			return none, ecserr.InvalidParameter("Protocol", ferr.Error())
		}
		r, err := verify.Flow(policy.Compile(cl), f)
		if err != nil {
			return none, ecserr.InvalidParameter("To", err.Error())
		}
		return r, nil
	})
}

// EffectiveRules returns an instance's effective policy: the pooled,
// ordered rules of all its groups per direction, the implicit entries where
// they act, and whether each rule can still match anything
// (PalisadeDescribeEffectiveRules).
func (a *Service) EffectiveRules(ctx context.Context, c service.Caller, instanceID string) ([]effective.Policy, error) {
	return service.View(a.svc, ctx, func(tx store.ReadTx) ([]effective.Policy, error) {
		if _, err := service.GetInstance(tx, c, instanceID); err != nil {
			return nil, err
		}
		cl, err := cloudOf(tx)
		if err != nil {
			return nil, err
		}
		return effective.Of(cl, instanceID)
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

func ownedOf(tx store.ReadTx, c service.Caller) (ownedCloud, error) {
	cl, err := cloudOf(tx)
	if err != nil {
		return ownedCloud{}, err
	}
	o := ownedCloud{Cloud: cl, owned: map[string]bool{reach.Internet: true}}
	vpcs, err := service.ListAll[model.VPC](tx, service.KindVPC)
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

// ReachInput selects what DescribeReachability shows. From and To are an
// instance or group of the caller or reach.Internet; Protocol, Port and
// IPVersion are text as requests give them; View is matrix (default),
// graph or dot.
type ReachInput struct {
	Caller                              service.Caller
	From, To, Protocol, Port, IPVersion string
	View                                string
}

// reachFilter checks the filter; named endpoints must be the caller's.
func reachFilter(in *ReachInput, o ownedCloud) (reach.Filter, error) {
	f := reach.Filter{From: in.From, To: in.To}
	for _, end := range []struct{ param, v string }{{"From", f.From}, {"To", f.To}} {
		if end.v != "" && !o.owned[end.v] {
			return f, ecserr.New(http.StatusNotFound, "InvalidParameter.NotFound", "%s %q is neither an instance nor a group of this account and region, nor %q.", end.param, end.v, reach.Internet)
		}
	}
	if v := in.Protocol; v != "" {
		proto, ok := model.ParseProtocol(v)
		if !ok {
			return f, ecserr.InvalidParameter("Protocol", "use tcp, udp, icmp, icmpv6, gre or all")
		}
		f.Protocol = proto
	}
	if v := in.Port; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return f, ecserr.InvalidParameter("Port", "a port from 1 to 65535")
		}
		f.Port = uint16(n)
	}
	if v := in.IPVersion; v != "" {
		if v != "4" && v != "6" {
			return f, ecserr.InvalidParameter("IpVersion", "4 or 6")
		}
		f.IPVersion, _ = strconv.Atoi(v)
	}
	return f, nil
}

// Reachability is what passes between the caller's instances and the
// internet, in the view asked for: Links (matrix), Graph (graph) or Dot.
type Reachability struct {
	Links []reach.Link   `json:",omitempty"`
	Graph *reach.Graph   `json:",omitempty"`
	Dot   string         `json:",omitempty"`
	Stats map[string]int `json:",omitempty"`
}

// Reachability answers PalisadeDescribeReachability: View=matrix lists
// links between instances, View=graph between groups, View=dot the graph in
// Graphviz.
func (a *Service) Reachability(ctx context.Context, in ReachInput) (Reachability, error) {
	c := in.Caller
	return service.View(a.svc, ctx, func(tx store.ReadTx) (Reachability, error) {
		o, err := ownedOf(tx, c)
		if err != nil {
			return Reachability{}, err
		}
		f, err := reachFilter(&in, o)
		if err != nil {
			return Reachability{}, err
		}
		r := reach.Compute(o.Cloud, o.reachOptions())
		out := Reachability{Stats: map[string]int{"instances": len(r.Instances()), "classes": r.Classes()}}
		switch v := strings.ToLower(in.View); v {
		case "", "matrix":
			links, err := r.Matrix(f)
			if err != nil {
				return Reachability{}, ecserr.InvalidParameter("To", err.Error())
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
				return Reachability{}, ecserr.InvalidParameter("To", err.Error())
			}
			g = ownedGraph(g, o)
			if v == "dot" {
				out.Dot = g.DOT()
			} else {
				out.Graph = g
			}
		default:
			return Reachability{}, ecserr.InvalidParameter("View", "matrix, graph or dot")
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

// Plan is what a change would open and close.
type Plan struct {
	Summary plan.Summary
	Changes []plan.Change
}

// Change is a mutation to preview: it runs against svc, a copy of the
// resource service whose store rolls every update back.
type Change func(ctx context.Context, svc *service.Service) error

// PlanChange previews a change without applying it (PalisadePlanChange):
// the change runs with all its checks in a transaction that is rolled back,
// and the answer lists the flows it would open and close, by instance pair
// (and the internet), protocol and ports. A change the action would refuse
// is refused here with the same error.
func (a *Service) PlanChange(ctx context.Context, c service.Caller, change Change) (Plan, error) {
	before, err := service.View(a.svc, ctx, func(tx store.ReadTx) (ownedCloud, error) { return ownedOf(tx, c) })
	if err != nil {
		return Plan{}, err
	}
	after, err := a.dryRun(ctx, change)
	if err != nil {
		return Plan{}, err
	}
	out := Plan{Changes: []plan.Change{}}
	// The "after" result is the "before" one updated with the change: only
	// the classes the change touches are rebuilt.
	prior := reach.Compute(before.Cloud, before.reachOptions())
	next := prior.Clone()
	next.Update(after, reach.Changes(before.Cloud, after))
	// A NIC the change makes (an instance launched, an ENI attached) is the
	// caller's too.
	owned := func(id string) bool {
		return before.owned[id] || after.Instances[id] != nil && after.Instances[id].Owner == c.Account
	}
	for _, ch := range plan.Diff(prior, next) {
		if owned(ch.From) && owned(ch.To) {
			out.Changes = append(out.Changes, ch)
		}
	}
	out.Summary = plan.Summarize(out.Changes)
	return out, nil
}

// errDryRun rolls a dry-run transaction back.
var errDryRun = errors.New("dry run")

// dryRun runs a change against the store without committing it and returns
// the cloud as the change would leave it.
func (a *Service) dryRun(ctx context.Context, change Change) (*policy.Cloud, error) {
	var after *policy.Cloud
	shadow := *a.svc // a copy: the real service keeps its store
	shadow.Store = &dryStore{Store: a.svc.Store, capture: func(tx store.ReadTx) error {
		var err error
		after, err = cloudOf(tx)
		return err
	}}
	if err := change(ctx, &shadow); err != nil {
		return nil, err
	}
	if after == nil { // the change wrote nothing
		var err error
		after, err = service.View(a.svc, ctx, cloudOf)
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

// Audit is the findings of the best-practice checks on the caller's
// resources, and the worst severity among them.
type Audit struct {
	Findings []audit.Finding
	Worst    string `json:",omitempty"`
}

// Audit runs the best-practice checks (SGA-001 …) over the caller's groups
// and instances, judging exposure on each instance's effective policy
// (PalisadeAudit), tuned by o.
func (a *Service) Audit(ctx context.Context, c service.Caller, o audit.Options) (Audit, error) {
	return service.View(a.svc, ctx, func(tx store.ReadTx) (Audit, error) {
		own, err := ownedOf(tx, c)
		if err != nil {
			return Audit{}, err
		}
		out := Audit{Findings: []audit.Finding{}}
		for _, f := range audit.Run(own.Cloud, o) {
			// SGA-032 judges the server's alerting, not a resource: it
			// concerns every caller with resources (Internet is always owned).
			if own.owned[f.Resource] || f.Resource == audit.AlertingResource && len(own.owned) > 1 {
				out.Findings = append(out.Findings, f)
			}
		}
		if w, ok := audit.Worst(out.Findings); ok {
			out.Worst = w.String()
		}
		return out, nil
	})
}
