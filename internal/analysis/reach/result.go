package reach

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Internet names the outside as an endpoint: any address that is not an
// instance.
const Internet = "internet"

// Options tune a computation; the zero value is the default.
type Options struct {
	// SourcePort is the source port of TCP and UDP flows (rules with a
	// source-port range are judged for it); 0 means policy.DefaultSourcePort.
	SourcePort uint16 `json:"sourcePort,omitempty"`
	// Inside lists address blocks that are not the internet (the VPCs' CIDR
	// blocks): internet links leave them out of their address ranges.
	Inside []netip.Prefix `json:"inside,omitempty"`
	// Workers caps the goroutines that build the result (0: GOMAXPROCS),
	// so that a caller such as the audit can bound its CPU share.
	Workers int `json:"-"`
}

// Result is the reachability of one snapshot. Its methods are safe for
// concurrent use, except Update.
type Result struct {
	opts  Options
	cloud *policy.Cloud
	res   *space.Resolver
	tab   *table

	nodes []node         // by instance ID
	index map[string]int // instance ID → nodes index
	// classes by key, the nodes using each, and which classes depend on a
	// group's rules, a group's members or a prefix list. Once shared is set
	// the slices are never modified in place (a clone may hold them).
	classes  map[policy.Key]*class
	users    map[policy.Key][]int32
	byMember map[string][]policy.Key // group → classes whose programs hold its rules
	byRef    map[string][]policy.Key // group → classes naming its members (peers, grants)
	byList   map[string][]policy.Key
	inside   [2][]iprange.Range
	// shared: the index slices may be shared with a clone (set by Clone
	// and Update, which write copy-on-write from then on).
	shared bool
	built  int              // classes built by the last Compute or Update
	nets   map[string]int32 // network (VPC ID) numbers; only grows
	// folds: during an Update's build, the classes that take a change of
	// rules in by a fold, with the region it lies in (see foldClass).
	folds map[policy.Key]*region
	// folded counts the classes of the last Update's build that were
	// folded rather than rebuilt.
	folded int
}

// Directions and paths index node.keys and node.cls.
const (
	ingress, egress = 0, 1
	intra, public   = 0, 1
)

var (
	dirs = [2]model.Direction{model.Ingress, model.Egress}
	nics = [2]model.NicType{model.Intranet, model.Internet}
)

type node struct {
	inst *model.Instance
	keys [2][2]policy.Key
	cls  [2][2]*class
	// The instance's addresses as keys (private, public, IPv6), and its
	// network as a number, so that hot loops convert nothing.
	// node.addr is indexed by policy.AddrKind; end is what policy.Path
	// needs to know of the instance.
	addr [3]iprange.Key
	net  int32
	end  policy.End
}

// setInst points a node at (a new version of) its instance.
func (r *Result) setInst(n *node, inst *model.Instance) {
	n.inst = inst
	for _, k := range []policy.AddrKind{policy.PrivateAddr, policy.PublicAddr, policy.IPv6Addr} {
		n.addr[k] = iprange.KeyOf(k.Of(inst, netip.Addr{}))
	}
	n.end = policy.EndOf(inst)
	id, ok := r.nets[inst.VpcID]
	if !ok {
		id = int32(len(r.nets))
		r.nets[inst.VpcID] = id
	}
	n.net = id
}

// Compute analyses a snapshot.
func Compute(c *policy.Cloud, o Options) *Result {
	if o.SourcePort == 0 {
		o.SourcePort = policy.DefaultSourcePort
	}
	r := &Result{opts: o, cloud: c, res: space.NewResolver(c), tab: newTable(),
		nets: map[string]int32{}, classes: map[policy.Key]*class{}, users: map[policy.Key][]int32{}, byMember: map[string][]policy.Key{}, byRef: map[string][]policy.Key{}, byList: map[string][]policy.Key{}}
	r.inside = insideRanges(o.Inside)
	r.setNodes()
	todo := map[policy.Key]*model.Instance{}
	for i := range r.nodes {
		n := &r.nodes[i]
		n.keys = r.keysOf(n.inst)
		for d := range 2 {
			for p := range 2 {
				if _, ok := todo[n.keys[d][p]]; !ok {
					todo[n.keys[d][p]] = n.inst
				}
			}
		}
	}
	r.build(todo, nil)
	r.link()
	return r
}

// setNodes lists the cloud's instances by ID.
func (r *Result) setNodes() {
	old := map[string]*node{}
	for i := range r.nodes {
		old[r.nodes[i].inst.ID] = &r.nodes[i]
	}
	ids := make([]string, 0, len(r.cloud.Instances))
	for id := range r.cloud.Instances {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	r.nodes = make([]node, len(ids))
	r.index = make(map[string]int, len(ids))
	for i, id := range ids {
		r.setInst(&r.nodes[i], r.cloud.Instances[id])
		if o, ok := old[id]; ok {
			r.nodes[i].keys, r.nodes[i].cls = o.keys, o.cls
		}
		r.index[id] = i
	}
}

// keysOf returns an instance's class keys. (An InstanceKey tells instances
// without IPv6 apart: they need no IPv6 side.)
func (r *Result) keysOf(inst *model.Instance) [2][2]policy.Key {
	var k [2][2]policy.Key
	for d := range 2 {
		for p := range 2 {
			k[d][p] = policy.InstanceKey(r.cloud, inst, dirs[d], nics[p])
		}
	}
	return k
}

// scratches keeps the working memory of class builds warm across calls
// (an Update builds a few classes; fresh buffers would cost more than
// the analysis).
var scratches = sync.Pool{New: func() any { return &scratch{} }}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// build analyses classes (key → a representative instance) in parallel;
// old holds the previous versions of rebuilt classes.
func (r *Result) build(todo map[policy.Key]*model.Instance, old map[policy.Key]*class) {
	type job struct {
		key  policy.Key
		inst *model.Instance
	}
	jobs := make([]job, 0, len(todo))
	for k, inst := range todo {
		jobs = append(jobs, job{k, inst})
	}
	built := make([]*class, len(jobs))
	r.built, r.folded = len(jobs), 0
	for _, j := range jobs {
		if r.folds[j.key] != nil && old[j.key] != nil {
			r.folded++
		}
	}
	r.parallel(len(jobs), func(sc *scratch, i int) {
		j := jobs[i]
		if reg, o := r.folds[j.key], old[j.key]; reg != nil && o != nil {
			built[i] = foldClass(r.res, r.tab, sc, o, j.inst, r.opts.SourcePort, reg)
		} else {
			built[i] = buildClass(r.res, r.tab, sc, j.key, j.inst, r.opts.SourcePort, keptSide{})
		}
	})
	for _, cl := range built {
		// A rebuilt class is indexed already under what its old version
		// named; index only what is new. (Lists may keep keys of classes
		// that are gone or no longer name the group: Update skips those,
		// and they are bounded by the keys ever built.)
		o := old[cl.key]
		r.classes[cl.key] = cl
		for _, g := range cl.groups {
			if o == nil || !slices.Contains(o.groups, g) {
				r.byMember[g] = addKey(r.byMember[g], cl.key, r.shared)
			}
		}
		for _, g := range cl.refs {
			if o == nil || !slices.Contains(o.refs, g) {
				r.byRef[g] = addKey(r.byRef[g], cl.key, r.shared)
			}
		}
		for _, l := range cl.lists {
			if o == nil || !slices.Contains(o.lists, l) {
				r.byList[l] = addKey(r.byList[l], cl.key, r.shared)
			}
		}
	}
}

// parallel runs fn for jobs 0..n-1 on up to r.workers() goroutines, each
// with a scratch of its own. Workers take the next job as they finish one:
// classes differ in size by several times, so fixed shares would leave a
// core idle. A class takes tens to hundreds of microseconds: even two are
// worth two workers (an Update's rule change usually makes one per
// direction).
func (r *Result) parallel(n int, fn func(sc *scratch, i int)) {
	var next atomic.Int64
	work := func() {
		sc := scratches.Get().(*scratch)
		defer scratches.Put(sc)
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(sc, i)
		}
	}
	if workers := min(r.workers(), n); workers <= 1 {
		work()
	} else {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(work)
		}
		wg.Wait()
	}
}

// addKey appends a class key. Once a result may share its arrays with a
// clone (shared), it never writes into an existing array.
func addKey(list []policy.Key, key policy.Key, shared bool) []policy.Key {
	if shared {
		list = slices.Clip(list)
	}
	return append(list, key)
}

// link points every node at its classes and rebuilds the users lists.
func (r *Result) link() {
	r.users = map[policy.Key][]int32{}
	for i := range r.nodes {
		n := &r.nodes[i]
		for d := range 2 {
			for p := range 2 {
				n.cls[d][p] = r.classes[n.keys[d][p]]
				if p == 0 || n.keys[d][1] != n.keys[d][0] {
					r.users[n.keys[d][p]] = append(r.users[n.keys[d][p]], int32(i))
				}
			}
		}
	}
}

// Cloud returns the snapshot the result describes.
func (r *Result) Cloud() *policy.Cloud { return r.cloud }

// Options returns the options of the computation.
func (r *Result) Options() Options { return r.opts }

// Instances lists the instance IDs, sorted.
func (r *Result) Instances() []string {
	out := make([]string, len(r.nodes))
	for i := range r.nodes {
		out[i] = r.nodes[i].inst.ID
	}
	return out
}

// Classes returns the number of distinct policy classes.
func (r *Result) Classes() int { return len(r.classes) }

// Built returns how many classes the last Compute or Update analysed.
func (r *Result) Built() int { return r.built }

// Folded returns how many of the classes the last Update analysed took a
// change of rules in by a fold (see Update) rather than a rebuild.
func (r *Result) Folded() int { return r.folded }

// pair returns the interned flows from node a to node b per family, on
// the path policy.Path gives each family.
func (r *Result) pair(a, b *node, m *memo) (v4, v6 uint32) {
	same := a.net == b.net
	return r.meetOn(a, b, policy.Path(a.end, b.end, same, false), 0, m), r.meetOn(a, b, policy.Path(a.end, b.end, same, true), 1, m)
}

// meetOn meets a's egress towards b and b's ingress from a on one route
// and family (f: 0 IPv4, 1 IPv6).
func (r *Result) meetOn(a, b *node, rt policy.Route, f int, m *memo) uint32 {
	if rt.NoPath != "" {
		return 0
	}
	p := pathIndex(rt.NIC)
	if e := a.cls[egress][p].sides[f].at(b.addr[rt.Egress.Dst]); e != 0 {
		return m.meet(e, b.cls[ingress][p].sides[f].at(a.addr[rt.Ingress.Src]))
	}
	return 0
}

// pathIndex indexes node.cls by path.
func pathIndex(nic model.NicType) int {
	if nic == model.Internet {
		return public
	}
	return intra
}

// outsideRoute is the route between an instance and the outside in one
// direction (ingress: from the outside).
func outsideRoute(n *node, d int, six bool) policy.Route {
	if d == ingress {
		return policy.Path(policy.End{Outside: true}, n.end, false, six)
	}
	return policy.Path(n.end, policy.End{Outside: true}, false, six)
}

// Pair returns what passes from one instance to another, per family. The
// sets are shared: do not modify them.
func (r *Result) Pair(from, to string) (v4, v6 Ports, err error) {
	a, b, err := r.nodePair(from, to)
	if err != nil {
		return Ports{}, Ports{}, err
	}
	x, y := r.pair(a, b, r.tab.direct())
	return r.tab.get(x), r.tab.get(y), nil
}

func (r *Result) nodePair(from, to string) (a, b *node, err error) {
	i, ok := r.index[from]
	if !ok {
		return nil, nil, fmt.Errorf("no instance %q in this snapshot", from)
	}
	j, ok := r.index[to]
	if !ok {
		return nil, nil, fmt.Errorf("no instance %q in this snapshot", to)
	}
	if i == j {
		return nil, nil, fmt.Errorf("from and to are the same instance %q; name two instances", from)
	}
	return &r.nodes[i], &r.nodes[j], nil
}

// Outside is what passes between an instance and a range of outside addresses.
type Outside struct {
	First netip.Addr `json:"first"`
	Last  netip.Addr `json:"last"`
	Ports Ports      `json:"ports"`
}

// insideRanges are blocks that are not the internet, per family.
func insideRanges(blocks []netip.Prefix) [2][]iprange.Range {
	var ranges [2][]iprange.Range
	for _, p := range blocks {
		f := 0
		if p.Addr().Is6() {
			f = 1
		}
		ranges[f] = append(ranges[f], iprange.FromPrefix(p))
	}
	return [2][]iprange.Range{iprange.Normalize(ranges[0]), iprange.Normalize(ranges[1])}
}

// internet returns, for one direction (in: from the internet to the
// instance) and family, the outside ranges with something open, and their
// union. Inside blocks are left out.
func (r *Result) internet(n *node, d int, six bool, inside [2][]iprange.Range) ([]Outside, Ports) {
	f := 0
	if six {
		f = 1
	}
	rt := outsideRoute(n, d, six)
	if rt.NoPath != "" {
		return nil, Ports{}
	}
	s := &n.cls[d][pathIndex(rt.NIC)].sides[f]
	last := iprange.Last(six)
	var list []Outside
	all := uint32(0)
	for j, start := range s.starts {
		if s.ids[j] == 0 {
			continue
		}
		end := last
		if j+1 < len(s.starts) {
			end = s.starts[j+1].Prev()
		}
		for _, x := range iprange.Subtract(iprange.New(start, end, six), inside[f]) {
			list = append(list, Outside{x.First(), x.Last(), r.tab.get(s.ids[j])})
			all = r.tab.join(all, s.ids[j])
		}
	}
	return list, r.tab.get(all)
}

// Allows answers one flow as policy.Evaluate would: whether it passes.
// The result must have been computed for the flow's source port.
func (r *Result) Allows(f policy.Flow) (bool, error) {
	sport := f.SourcePort
	if sport == 0 {
		sport = policy.DefaultSourcePort
	}
	if f.Protocol.HasPorts() && sport != r.opts.SourcePort {
		return false, fmt.Errorf("this result holds flows from source port %d; compute one with Options.SourcePort %d for this flow", r.opts.SourcePort, sport)
	}
	if f.Protocol == model.ALL || f.Protocol.Number() == 0 {
		return false, fmt.Errorf("a flow needs one protocol: TCP, UDP, ICMP, ICMPv6 or GRE")
	}
	if f.Protocol.HasPorts() && f.Port == 0 { // as policy.Evaluate refuses it
		return false, fmt.Errorf("a %s flow needs a destination port from 1 to 65535", f.Protocol)
	}
	src, sa, err := r.endpoint(f.From)
	if err != nil {
		return false, fmt.Errorf("from: %w", err)
	}
	dst, da, err := r.endpoint(f.To)
	if err != nil {
		return false, fmt.Errorf("to: %w", err)
	}
	// The result holds each NIC at its first addresses: a flow naming one
	// of its further IPv6 addresses is policy.Evaluate's to answer.
	for _, e := range []struct {
		n *node
		a netip.Addr
	}{{src, f.FromAddr}, {dst, f.ToAddr}} {
		if e.a.IsValid() && (e.n == nil || e.a != e.n.inst.IPv6) {
			return false, fmt.Errorf("%s is not the first IPv6 address of an end: reach answers flows between NICs' first addresses", e.a)
		}
	}
	six := f.IPVersion == 6
	for _, a := range []netip.Addr{sa, da} {
		if a.IsValid() {
			if f.IPVersion == 0 {
				six = a.Is6()
			} else if a.Is6() != six {
				return false, fmt.Errorf("address %s is not IPv%d", a, f.IPVersion)
			}
		}
	}
	if err := f.Protocol.CheckFamily(six); err != nil {
		return false, err
	}
	var p Ports
	switch {
	case src == nil && dst == nil:
		return false, fmt.Errorf("a flow needs an instance at one end at least")
	case src != nil && dst != nil:
		if src == dst {
			return false, fmt.Errorf("from and to are the same instance")
		}
		v4, v6 := r.pair(src, dst, r.tab.direct())
		p = r.tab.get(v4)
		if six {
			p = r.tab.get(v6)
		}
	case src == nil:
		p = r.outsideLookup(dst, ingress, sa, six)
	default:
		p = r.outsideLookup(src, egress, da, six)
	}
	return p.Allows(f.Protocol, f.Port), nil
}

// outsideLookup returns the flows between an instance and one outside address.
func (r *Result) outsideLookup(n *node, d int, a netip.Addr, six bool) Ports {
	rt := outsideRoute(n, d, six)
	if rt.NoPath != "" {
		return Ports{}
	}
	return r.tab.get(n.cls[d][pathIndex(rt.NIC)].sides[b2i(six)].at(iprange.KeyOf(a)))
}

func (r *Result) endpoint(s string) (*node, netip.Addr, error) {
	if i, ok := r.index[s]; ok {
		return &r.nodes[i], netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil, a, fmt.Errorf("%q is neither an instance nor an IP address", s)
	}
	return nil, a.Unmap(), nil
}

// dirIndex indexes node.keys and node.cls by direction.
func dirIndex(dir model.Direction) int {
	if dir == model.Egress {
		return egress
	}
	return ingress
}
