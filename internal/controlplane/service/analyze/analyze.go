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
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/analysis/effective"
	"github.com/palisade-sg/palisade/internal/analysis/plan"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/analysis/verify"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/controlplane/view"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Service answers the analysis questions over the resource services' store.
type Service struct {
	svc  *service.Service
	gate *gate

	liveOnce sync.Once
	live     *Live // nil when the service has no in-memory view

	// storeDryRun makes plans run changes in the store (for the tests
	// that compare both dry runs).
	storeDryRun bool
	// dryFallbacks counts view dry runs that needed the store after all.
	dryFallbacks atomic.Int64
}

// New returns the analysis service of a resource service, with the default
// bounds.
func New(svc *service.Service) *Service { return NewWith(svc, Options{}) }

// NewWith returns the analysis service of a resource service with bounds.
func NewWith(svc *service.Service, o Options) *Service {
	return &Service{svc: svc, gate: newGate(o)}
}

// Start starts following the in-memory view, so that the first analysis
// finds the reachability ready (otherwise the first one starts it).
func (a *Service) Start() { a.liveOf() }

// Live is the live reachability (nil when the service has no in-memory view).
func (a *Service) Live() *Live { return a.liveOf() }

func (a *Service) liveOf() *Live {
	a.liveOnce.Do(func() {
		if v := a.svc.InMemory(); v != nil {
			a.live = NewLive(v)
		}
	})
	return a.live
}

// state runs fn on a reachability result holding every write answered so
// far: the live one, or one computed for this request when the service
// has no in-memory view.
func (a *Service) state(ctx context.Context, fn func(liveState) error) error {
	if l := a.liveOf(); l != nil {
		snap, err := a.svc.InMemory().Snapshot(ctx)
		if err != nil {
			return err
		}
		return l.read(ctx, snap.Revision(), fn)
	}
	_, err := service.View(a.svc, ctx, func(tx store.ReadTx) (struct{}, error) {
		st, err := computeState(tx)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, fn(st)
	})
	return err
}

// computeState analyses the whole cloud of a read transaction from
// scratch: what Live starts from (and recomputes now and then), and what
// a request without a view reads.
func computeState(tx store.ReadTx) (liveState, error) {
	cl, vpcs, err := cloudAndVPCs(tx)
	if err != nil {
		return liveState{}, err
	}
	r := reach.Compute(cl, reach.Options{Inside: reach.InsideBlocks("", vpcs, maps.Values(cl.Instances))})
	return liveState{r: r, cloud: cl, vpcs: vpcs, rev: tx.Revision()}, nil
}

// cloudAndVPCs reads the policy snapshot of a read transaction and its
// VPCs (whose blocks are not the internet).
func cloudAndVPCs(tx store.ReadTx) (*policy.Cloud, []*model.VPC, error) {
	cl, err := cloudOf(tx)
	if err != nil {
		return nil, nil, err
	}
	vpcs, err := service.ListAll[model.VPC](tx, service.KindVPC)
	if err != nil {
		return nil, nil, err
	}
	return cl, vpcs, nil
}

// enter admits one analysis of the caller (see Options) and waits for its
// share of the CPU; done ends it. The share's workers say how many
// goroutines the analysis may run. A request Admit let in already has
// both: done is then Admit's to call.
func (a *Service) enter(ctx context.Context, c service.Caller) (sh *share, done func(), err error) {
	if ad, ok := ctx.Value(admittedKey{}).(admitted); ok {
		return ad.sh, func() {}, nil
	}
	return a.admit(ctx, gateAccount(ctx, c))
}

func (a *Service) admit(ctx context.Context, account string) (sh *share, done func(), err error) {
	leave, err := a.gate.enterCtx(ctx, account)
	if err != nil {
		return nil, nil, err
	}
	if sh, err = a.gate.take(ctx); err != nil {
		leave()
		return nil, nil, err
	}
	return sh, func() { sh.release(); leave() }, nil
}

type admittedKey struct{}

type admitted struct{ sh *share }

// Admit lets an analysis request of an account in before the server gives
// it a thread (rpc.Server.Gate): it waits in the account's queue and for a
// share of the CPU as the analysis itself would, or is refused. The
// analysis run with the returned context uses that admission; done ends
// it, once the answer is encoded too.
func (a *Service) Admit(ctx context.Context, account string) (context.Context, func(), error) {
	sh, done, err := a.admit(ctx, account)
	if err != nil {
		return ctx, nil, err
	}
	return context.WithValue(ctx, admittedKey{}, admitted{sh}), done, nil
}

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

// outsideEnd refuses an address end that cannot be an outside end to the
// caller (reach.NotOutside). Another account's networks and addresses are
// the internet to the caller (as its reachability and plans have them),
// and whether one covers an address is not the caller's to learn.
func outsideEnd(c service.Caller, cl *policy.Cloud, vpcs []*model.VPC, param, v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return nil
	}
	if why := reach.NotOutside(c.Account, vpcs, maps.Values(cl.Instances), a); why != "" {
		return ecserr.InvalidParameter(param, why)
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
	_, done, err := a.enter(ctx, c)
	if err != nil {
		return verify.Report{}, err
	}
	defer done()
	var out verify.Report
	err = a.state(ctx, func(st liveState) error {
		cl := st.cloud
		if err := endpointOf(c, cl, "From", in.From); err != nil {
			return err
		}
		if err := endpointOf(c, cl, "To", in.To); err != nil {
			return err
		}
		if err := outsideEnd(c, cl, st.vpcs, "From", in.From); err != nil {
			return err
		}
		if err := outsideEnd(c, cl, st.vpcs, "To", in.To); err != nil {
			return err
		}
		if ferr != nil {
			field := "Protocol"
			if fe, ok := errors.AsType[*verify.FlowError](ferr); ok {
				field = fe.Field
			}
			return ecserr.InvalidParameter(field, ferr.Error())
		}
		r, err := verify.Flow(policy.Compile(cl), f)
		if err != nil {
			return ecserr.InvalidParameter("To", err.Error())
		}
		out = r
		return nil
	})
	return out, err
}

// EffectiveRules returns an instance's effective policy: the pooled,
// ordered rules of all its groups per direction, the implicit entries where
// they act, and whether each rule can still match anything
// (PalisadeDescribeEffectiveRules). A standing that depends on the members
// of another account's group is "unknown" (effective.OfHiding).
func (a *Service) EffectiveRules(ctx context.Context, c service.Caller, instanceID string) ([]effective.Policy, error) {
	_, done, err := a.enter(ctx, c)
	if err != nil {
		return nil, err
	}
	defer done()
	if _, err := service.View(a.svc, ctx, func(tx store.ReadTx) (*model.Instance, error) { return service.GetInstance(tx, c, instanceID) }); err != nil {
		return nil, err
	}
	var out []effective.Policy
	err = a.state(ctx, func(st liveState) error {
		var err error
		// Another account's group a rule names is opaque to the caller:
		// no standing may tell whether, or where, it has members.
		out, err = effective.OfHiding(st.cloud, instanceID, space.HiddenFrom(st.cloud, c.Account))
		return err
	})
	return out, err
}

// ownedCloud is the caller's view for whole-cloud analyses: every account's
// resources stay (peers must resolve), and owned tells which instances and
// groups the caller may see in the answer.
type ownedCloud struct {
	*policy.Cloud
	owned  map[string]bool
	ids    []string       // the caller's instances (NICs), sorted
	inside []netip.Prefix // the caller's VPCs' blocks: not the internet to it
}

// owns tells whether the caller owns a resource.
func (o ownedCloud) owns(id string) bool { return o.owned[id] }

func ownedOf(tx store.ReadTx, c service.Caller) (ownedCloud, error) {
	cl, vpcs, err := cloudAndVPCs(tx)
	if err != nil {
		return ownedCloud{}, err
	}
	return ownedIn(cl, vpcs, c), nil
}

// ownedIn marks the caller's instances (NICs) and groups in a cloud; ids
// lists the instances, sorted.
func ownedIn(cl *policy.Cloud, vpcs []*model.VPC, c service.Caller) ownedCloud {
	o := ownedCloud{Cloud: cl, owned: map[string]bool{reach.Internet: true}, inside: reach.InsideBlocks(c.Account, vpcs, maps.Values(cl.Instances)), ids: []string{}}
	for id, in := range cl.Instances {
		if in.Owner == c.Account && (c.Region == "" || in.Region == c.Region) {
			o.owned[id] = true
			o.ids = append(o.ids, id)
		}
	}
	slices.Sort(o.ids)
	for id, g := range cl.Groups {
		if g.Owner == c.Account && (c.Region == "" || g.Region == c.Region) {
			o.owned[id] = true
		}
	}
	return o
}

// ownedAfter tells which resources of the cloud a change would leave the
// caller may see: those it owned before and those the change makes (an
// instance launched, an ENI attached, a group created) in its account and
// region, by the same test as ownedIn. (An instance of the caller's
// account in another region is not the caller's here, whatever the change
// does to its links.)
func (o ownedCloud) ownedAfter(c service.Caller, after *policy.Cloud) func(id string) bool {
	return func(id string) bool {
		if o.owned[id] {
			return true
		}
		if in := after.Instances[id]; in != nil {
			return in.Owner == c.Account && (c.Region == "" || in.Region == c.Region)
		}
		g := after.Groups[id]
		return g != nil && g.Owner == c.Account && (c.Region == "" || g.Region == c.Region)
	}
}

// concerns tells whether a finding is the caller's: one of a resource it
// owns, or SGA-032, which judges the server's alerting, not a resource,
// when the caller has resources (a filter by resource alone dropped it,
// and every preview said a change resolved it).
func concerns(f audit.Finding, owns func(id string) bool, hasResources bool) bool {
	return owns(f.Resource) || f.Resource == audit.AlertingResource && hasResources
}

// concernsAfter is concerns for the findings of the cloud a change would
// leave, owned as ownedAfter tells.
func concernsAfter(owned func(id string) bool, after *policy.Cloud) func(f audit.Finding) bool {
	has := false
	for id := range after.Groups {
		has = has || owned(id)
	}
	for id := range after.Instances {
		has = has || owned(id)
	}
	return func(f audit.Finding) bool { return concerns(f, owned, has) }
}

// ReachInput selects what DescribeReachability shows. From and To are an
// instance or group of the caller or reach.Internet; Protocol, Port and
// IPVersion are text as requests give them; View is matrix (default),
// graph or dot.
type ReachInput struct {
	Caller                              service.Caller
	From, To, Protocol, Port, IPVersion string
	View                                string
	Page                                Page // of the matrix's links
}

// reachFilter checks the filter; named endpoints must be the caller's.
func reachFilter(in *ReachInput, o ownedCloud) (reach.Filter, error) {
	f := reach.Filter{From: in.From, To: in.To, Among: o.ids, Inside: o.inside}
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
		n, ok := model.ParsePort(v)
		if !ok {
			return f, ecserr.InvalidParameter("Port", model.PortWanted)
		}
		f.Port = n
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
// internet, in the view asked for: Links (matrix, one page of them), Graph
// (graph) or Dot. Stats count the caller's instances and their policy
// classes, nobody else's.
type Reachability struct {
	Links     []reach.Link   `json:",omitempty"`
	NextToken string         `json:",omitempty"`
	Graph     *reach.Graph   `json:",omitempty"`
	Dot       string         `json:",omitempty"`
	Stats     map[string]int `json:",omitempty"`
}

// Reachability answers PalisadeDescribeReachability: View=matrix lists
// links between instances, View=graph between groups, View=dot the graph in
// Graphviz. Only the caller's instances are sources and destinations (with
// the internet); another account's group named by a rule still counts as
// the peer it is, but its instances are not listed, and the work is that of
// the caller's pairs: the whole cloud's result is kept live (see Live).
func (a *Service) Reachability(ctx context.Context, in ReachInput) (Reachability, error) {
	c := in.Caller
	sh, done, err := a.enter(ctx, c)
	if err != nil {
		return Reachability{}, err
	}
	defer done()
	var out Reachability
	err = a.state(ctx, func(st liveState) error {
		o := st.ownedBy(c)
		f, err := reachFilter(&in, o)
		if err != nil {
			return err
		}
		r := st.r
		out = Reachability{Stats: map[string]int{"instances": len(o.ids), "classes": r.ClassesAmong(o.ids)}}
		switch v := strings.ToLower(in.View); v {
		case "", "matrix":
			off, size, err := in.Page.bounds()
			if err != nil {
				return err
			}
			// The links up to the page's end and one more, which tells
			// whether another page follows.
			f.Limit = off + size + 1
			links, err := r.Matrix(f)
			if err != nil {
				return ecserr.InvalidParameter("To", err.Error())
			}
			mine := []reach.Link{}
			for _, l := range links {
				if o.owned[l.From] && o.owned[l.To] {
					mine = append(mine, l)
				}
			}
			if out.Links, out.NextToken, err = pageOf(mine, in.Page); err != nil {
				return err
			}
		case "graph", "dot":
			g, err := r.WithWorkers(sh.workers()).Graph(f)
			if err != nil {
				return ecserr.InvalidParameter("To", err.Error())
			}
			g = ownedGraph(g, o)
			if len(g.Edges) > MaxGraphEdges {
				return ecserr.BadRequest("InvalidParameter.ResultTooLarge", "The graph has %d edges, more than %d; narrow it with From, To, Protocol or Port.", len(g.Edges), MaxGraphEdges)
			}
			if v == "dot" {
				out.Dot = g.DOT()
			} else {
				out.Graph = g
			}
		default:
			return ecserr.InvalidParameter("View", "matrix, graph or dot")
		}
		return nil
	})
	return out, err
}

func ownedGraph(g *reach.Graph, o ownedCloud) *reach.Graph {
	// A graph all of the caller's is kept as it is: copying thousands of
	// edges costs.
	if g.Nodes != nil && g.Edges != nil &&
		!slices.ContainsFunc(g.Nodes, func(n reach.GraphNode) bool { return !o.owned[n.ID] }) &&
		!slices.ContainsFunc(g.Edges, func(e reach.Edge) bool { return !o.owned[e.From] || !o.owned[e.To] }) {
		return g
	}
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

// Plan is what a change would open and close: the summary of every
// change, and one page of them.
type Plan struct {
	Summary plan.Summary
	Changes []plan.Change
	// HiddenPeers are other accounts' groups that rules of the policies
	// the change touches name: what it does to flows with their members
	// is not in Changes (they are not the caller's to see, nor whether
	// they exist), so "0 links change" does not mean nothing changes.
	HiddenPeers []string `json:",omitempty"`
	NextToken   string   `json:",omitempty"`
}

// Change is a mutation to preview: it runs against svc, a copy of the
// resource service whose store rolls every update back.
type Change func(ctx context.Context, svc *service.Service) error

// PlanChange previews a change without applying it (PalisadePlanChange):
// the change runs with all its checks in a transaction that is dropped
// (over the in-memory view, see viewDryStore, or rolled back in the store),
// and the answer lists the flows it would open and close, by instance pair
// (and the internet), protocol and ports. A change the action would refuse
// is refused here with the same error.
//
// "Before" is the live result; "after" is a copy of it updated with the
// records the change writes, so only the classes it touches are rebuilt,
// and only the caller's pairs are compared.
func (a *Service) PlanChange(ctx context.Context, c service.Caller, change Change, pg ...Page) (Plan, error) {
	sh, done, err := a.enter(ctx, c)
	if err != nil {
		return Plan{}, err
	}
	defer done()
	// The whole plan runs while the live result is held still (its folds
	// wait): "before" is the live result itself, seen with the caller's
	// inside blocks (another account's networks are the internet to the
	// caller), and only "after" is a copy.
	var all []plan.Change
	var peers []string
	err = a.state(ctx, func(st liveState) error {
		before := st.ownedBy(c)
		prior := st.r.WithInside(before.inside).WithWorkers(sh.workers())
		after, ch, _, err := a.dryRun(ctx, change, before.Cloud, st.rev)
		if err != nil {
			return err
		}
		next := prior.Clone()
		next.Update(after, ch)
		owned := before.ownedAfter(c, after)
		// Filtered in place: a plan can change thousands of links.
		all = slices.DeleteFunc(plan.DiffAmong(prior, next, owned), func(ch plan.Change) bool {
			return !owned(ch.From) || !owned(ch.To)
		})
		peers = hiddenPeers(c, before.Cloud, after, ch)
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
	out := Plan{Summary: plan.Summarize(all), HiddenPeers: peers}
	var p Page
	if len(pg) > 0 {
		p = pg[0]
	}
	if out.Changes, out.NextToken, err = pageOf(all, p); err != nil {
		return Plan{}, err
	}
	if out.Changes == nil {
		out.Changes = []plan.Change{}
	}
	return out, nil
}

// errDryRun rolls a dry-run transaction back.
var errDryRun = errors.New("dry run")

// dryRun runs a change against the store without committing it and returns
// the cloud as the change would leave it, what differs from before (the
// cloud at revision rev), and what the change itself made (read from its
// own writes: the cloud after holds other requests' commits since rev
// too). When the transaction starts at rev, the
// records it writes are read back and applied to before as an edit;
// otherwise (other writes came in between) the whole cloud is read.
//
// With an in-memory view the change runs over a snapshot of it
// (viewDryStore), without the store; when that needs the store after all
// (errNotInView), and without a view, in a rolled-back store transaction.
func (a *Service) dryRun(ctx context.Context, change Change, before *policy.Cloud, rev int64) (*policy.Cloud, reach.Change, Made, error) {
	if v := a.svc.InMemory(); v != nil && !a.storeDryRun {
		after, ch, made, err := a.dryRunIn(ctx, change, before, rev, v)
		if !errors.Is(err, errNotInView) {
			return after, ch, made, err
		}
		a.dryFallbacks.Add(1)
	}
	return a.dryRunIn(ctx, change, before, rev, nil)
}

// dryRunIn is dryRun over view v, or over the store when v is nil.
func (a *Service) dryRunIn(ctx context.Context, change Change, before *policy.Cloud, rev int64, v *view.View) (*policy.Cloud, reach.Change, Made, error) {
	var (
		after *policy.Cloud
		ch    reach.Change
		made  Made
	)
	shadow := *a.svc // a copy: the real service keeps its store
	shadow.Previewing = true
	capture := func(tx store.ReadTx, w *wrote) error {
		if tx.Revision() == rev {
			ed, full, err := editOf(tx, before, w.refs)
			if err != nil {
				return err
			}
			if !full {
				after, ch = before.Next(ed), changeOf(ed)
				made = w.made(after)
				return nil
			}
		}
		var err error
		if after, err = cloudOf(tx); err == nil {
			ch = reach.Changes(before, after)
			made = w.made(after)
		}
		return err
	}
	if v != nil {
		shadow.Store = &viewDryStore{Store: a.svc.Store, v: v, capture: capture}
	} else {
		shadow.Store = &dryStore{Store: a.svc.Store, capture: capture}
	}
	if err := change(ctx, &shadow); err != nil {
		return nil, ch, Made{}, err
	}
	if after == nil { // the change wrote nothing
		after = before
	}
	return after, ch, made, nil
}

// dryStore runs Updates to the point of commit, captures the state they
// would leave (with the records they wrote), and rolls them back.
type dryStore struct {
	store.Store
	capture func(store.ReadTx, *wrote) error
}

func (d *dryStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	_, err := d.Store.Update(ctx, func(tx store.Tx) error {
		rec := &recordingTx{Tx: tx, seen: map[view.Ref]bool{}}
		if err := fn(rec); err != nil {
			return err
		}
		if len(rec.wr.refs) > 0 {
			if err := d.capture(tx, &rec.wr); err != nil {
				return err
			}
		}
		return errDryRun
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return 0, err
}

// recordingTx notes the records a transaction writes.
type recordingTx struct {
	store.Tx
	seen map[view.Ref]bool
	wr   wrote
}

func (t *recordingTx) note(kind store.Kind, id string) error {
	if r := (view.Ref{Kind: kind, ID: id}); !t.seen[r] {
		t.seen[r] = true
		return t.wr.note(t.Tx, r) // before the write: what it changes
	}
	return nil
}

func (t *recordingTx) Put(r store.Record) error {
	if err := t.note(r.Kind, r.ID); err != nil {
		return err
	}
	return t.Tx.Put(r)
}

func (t *recordingTx) Delete(kind store.Kind, id string) error {
	if err := t.note(kind, id); err != nil {
		return err
	}
	return t.Tx.Delete(kind, id)
}

// Audit is the findings of the best-practice checks on the caller's
// resources, and the worst severity among them.
type Audit struct {
	Findings []audit.Finding
	Worst    string `json:",omitempty"`
	// Unknown are the caller's rules whose standing depends on another
	// account's group's members (audit.Result.Unknown): the console's
	// group page shows them so. Not in PalisadeAudit's answer, which
	// gives findings.
	Unknown []audit.RuleRef `json:"-"`
	// PalisadeMissingServers are the servers of the installation that
	// did not give their flow records' rule hits: the flow checks
	// (SGA-034) judged without them and claim no unused rule.
	PalisadeMissingServers []string `json:",omitempty"`
}

// Audit runs the best-practice checks (SGA-001 …) over the caller's groups
// and instances, judging exposure on each instance's effective policy
// (PalisadeAudit), tuned by o.
func (a *Service) Audit(ctx context.Context, c service.Caller, o audit.Options) (Audit, error) {
	o = tenants(o)
	sh, done, err := a.enter(ctx, c)
	if err != nil {
		return Audit{}, err
	}
	defer done()
	hits := a.svc.FlowHitsAll(ctx, c, service.HitsFilter{}) // before the read: it may ask other servers
	return service.View(a.svc, ctx, func(tx store.ReadTx) (Audit, error) {
		own, err := ownedOf(tx, c)
		if err != nil {
			return Audit{}, err
		}
		out := Audit{Findings: []audit.Finding{}, PalisadeMissingServers: hits.Missing}
		if w := sh.workers(); o.Workers <= 0 || o.Workers > w {
			o.Workers = w // the analysis's share of the CPU
		}
		if o.FlowLogs, err = a.flowFacts(tx, c, own, hits); err != nil {
			return Audit{}, err
		}
		vpcs, err := service.ListOwn[model.VPC](tx, service.KindVPC, c)
		if err != nil {
			return Audit{}, err
		}
		ownVPC := map[string]bool{}
		for _, v := range vpcs {
			ownVPC[v.ID] = true
		}
		res := audit.RunResult(own.Cloud, o, nil)
		out.Unknown = ownUnknown(res.Unknown, own)
		for _, f := range res.Findings {
			// Internet is always owned; SGA-033 judges a VPC.
			if concerns(f, own.owns, len(own.owned) > 1) || f.Check == "SGA-033" && ownVPC[f.Resource] {
				out.Findings = append(out.Findings, f)
			}
		}
		out.Findings = redacted(out.Findings, own.Cloud, own.owns)
		if w, ok := audit.Worst(out.Findings); ok {
			out.Worst = w.String()
		}
		return out, nil
	})
}

// hiddenPeers lists, sorted, the other accounts' groups that the rules of
// the caller's policies the change touches name, before or after it: the
// caller's instances it changes, and the members of the groups it changes.
// It reads only the caller's own rules and instances, so it tells nothing
// of those groups' members.
func hiddenPeers(c service.Caller, before, after *policy.Cloud, ch reach.Change) []string {
	touched := map[string]bool{}
	for _, cl := range []*policy.Cloud{before, after} {
		for _, id := range ch.Instances {
			if in := cl.Instances[id]; in != nil && in.Owner == c.Account {
				touched[id] = true
			}
		}
		for _, g := range ch.Groups {
			for _, in := range cl.Members(g) {
				if in.Owner == c.Account {
					touched[in.ID] = true
				}
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, cl := range []*policy.Cloud{before, after} {
		for id := range touched {
			in := cl.Instances[id]
			if in == nil {
				continue
			}
			for _, g := range cl.GroupsOf(in) {
				for i := range g.Rules {
					p := g.Rules[i].Peer.GroupID
					if pg := cl.Groups[p]; pg != nil && pg.Owner != c.Account && !seen[p] {
						seen[p] = true
						out = append(out, p)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}
