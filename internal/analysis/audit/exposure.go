package audit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// The exposure checks judge each instance with a public address (a public
// IPv4 address, or an IPv6 address, which is global) on its effective
// ingress policy from the internet: a port is open to the internet when
// the public addresses its rules together admit there, after the drops
// that come first, are the internet (see internet.go: 0.0.0.0/1 and
// 128.0.0.0/1 are, as 0.0.0.0/0 is, and 2000::/3, the IPv6 internet, as
// ::/0 is; an IPv4 /1 alone is not). A rule a
// higher-priority drop hides exposes nothing; a deny an earlier allow
// defeats protects nothing; an allow for an office block is not an
// exposure to the internet (SGA-007 judges those blocks).

func init() {
	register(
		Check{ID: "SGA-001", Title: "All ports or all protocols open to the internet", Severity: Critical, Run: allOpenCheck},
		Check{ID: "SGA-002", Title: "SSH (22) open to the internet", Severity: High, Run: portCheck("SGA-002")},
		Check{ID: "SGA-003", Title: "RDP (3389) open to the internet", Severity: High, Run: portCheck("SGA-003")},
		Check{ID: "SGA-004", Title: "Database, cache or search port open to the internet", Severity: High, Run: portCheck("SGA-004")},
		Check{ID: "SGA-005", Title: "Plaintext or legacy service port open to the internet", Severity: High, Run: portCheck("SGA-005")},
		Check{ID: "SGA-006", Title: "Port outside the allow-list open to the internet", Severity: High, Run: allowListCheck},
		Check{ID: "SGA-013", Title: "Internet-facing and internal instances share a group that opens a data-tier port", Severity: High, Run: sharedTierCheck},
		Check{ID: "SGA-028", Title: "Instance with a public address exposes a risky port", Severity: High, Run: riskyInstanceCheck},
	)
}

// riskyPort is a service port the catalogue names, with the protocols it
// runs on.
type riskyPort struct {
	check string
	port  uint16
	name  string
	udp   bool // the service also listens on UDP
}

var riskyPorts = []riskyPort{
	{"SGA-002", 22, "SSH", false},
	{"SGA-003", 3389, "RDP", true},
	{"SGA-004", 3306, "MySQL", false}, {"SGA-004", 5432, "PostgreSQL", false},
	{"SGA-004", 1433, "SQL Server", false}, {"SGA-004", 1434, "SQL Server browser", true},
	{"SGA-004", 1521, "Oracle", false}, {"SGA-004", 2483, "Oracle", false},
	{"SGA-004", 27017, "MongoDB", false}, {"SGA-004", 27018, "MongoDB", false},
	{"SGA-004", 6379, "Redis", false}, {"SGA-004", 11211, "Memcached", true},
	{"SGA-004", 9200, "Elasticsearch", false}, {"SGA-004", 9300, "Elasticsearch", false},
	{"SGA-004", 5601, "Kibana", false}, {"SGA-004", 9092, "Kafka", false},
	{"SGA-004", 7199, "Cassandra", false}, {"SGA-004", 9160, "Cassandra", false},
	{"SGA-004", 8888, "Cassandra", false}, {"SGA-004", 2049, "NFS", true},
	{"SGA-005", 20, "FTP data", false}, {"SGA-005", 21, "FTP", false}, {"SGA-005", 23, "Telnet", false},
	{"SGA-005", 25, "SMTP", false}, {"SGA-005", 110, "POP3", false}, {"SGA-005", 135, "RPC", true},
	{"SGA-005", 143, "IMAP", false}, {"SGA-005", 445, "SMB", false}, {"SGA-005", 3000, "development servers", false},
	{"SGA-005", 4333, "mSQL", false}, {"SGA-005", 5000, "development servers", false},
	{"SGA-005", 5500, "VNC", false}, {"SGA-005", 8080, "HTTP proxy", false}, {"SGA-005", 8088, "HTTP admin", false},
}

// allPortsSlack is how many ports may be closed for TCP or UDP to still
// count as "all ports" (SGA-001): an allow-all with a few hidden ports is
// still wide open.
const allPortsSlack = 64

// opening is a run of ports of one protocol the internet at large reaches
// on one instance, and the rule that lets it in.
type opening struct {
	proto  space.Proto
	lo, hi uint16
	rule   int             // index in the program of the rule blamed: rules[0]
	rules  []int           // the rules that together let it in
	sports space.PortRange // the source ports rule is open from (a part of the space)
}

// exposure is one instance's ingress from the internet at large in one
// family, at one of its addresses: an instance has one in IPv6 for each
// IPv6 address that sees its policy otherwise (internetViews), inst then
// being its view at that address.
type exposure struct {
	inst *model.Instance
	six  bool
	// latent: the instance has no public IPv4 address, and this is its
	// intranet ingress from an anonymous address (see engine.latent).
	latent bool
	addr   netip.Addr      // the public address (or IPv6 address) exposed
	prog   *policy.Program // ingress policy on the internet path
	open   []opening
	drops  []int // the drop rules whose peer stands for anon, in order
}

// exposureOf makes an exposure from a view of its space.
func exposureOf(inst *model.Instance, six, latent bool, addr netip.Addr, prog *policy.Program, v *view) *exposure {
	return &exposure{inst: inst, six: six, latent: latent, addr: addr, prog: prog, open: v.open, drops: v.drops}
}

func (e *exposure) world() string {
	if e.six {
		return "::/0"
	}
	return "0.0.0.0/0"
}

func (e *exposure) rule(i int) policy.ProgramRule { return e.prog.Rules[i] }

// ports returns the open ports of a protocol.
func (e *exposure) ports(p space.Proto) (n int) {
	for _, o := range e.open {
		if o.proto == p {
			n += int(o.hi) - int(o.lo) + 1
		}
	}
	return n
}

// decider returns the rule blamed for letting a port in, or -1.
func (e *exposure) decider(p space.Proto, port uint16) int {
	if rs := e.opened(p, port); rs != nil {
		return rs[0]
	}
	return -1
}

// opened returns the rules that together let a port in, the one blamed
// first, or nil.
func (e *exposure) opened(p space.Proto, port uint16) []int {
	for _, o := range e.open {
		if o.proto == p && o.lo <= port && port <= o.hi {
			return o.rules
		}
	}
	return nil
}

// ruleName names rule i as findings do.
func (e *exposure) ruleName(i int) string { return e.rule(i).ID + " of " + e.rule(i).Group.ID }

// engine holds what the engine-based checks share for one Input: spaces by
// class and the exposures, computed once.
type engine struct {
	in        *Input
	res       *space.Resolver
	mu        sync.Mutex
	spaces    map[spaceKey]*space.Space
	once      sync.Once
	exposures []*exposure
	useOnce   sync.Once
	useCache  map[*model.Rule][]ruleUse
	// sums holds the summaries of the standings' spaces (every source
	// port) by policy, once ruleUses has run.
	sums    map[policy.Key]*summary
	packets map[packetKey]*packets // packetsFor's answers
	// keys holds the standings' policy keys by task, for the lookups in
	// sums (set with sums).
	keys    map[taskKey]policy.Key
	latOnce sync.Once
	latents []*exposure
	// groupsAlone: the exposures of the groups without members (see alone).
	aloneOnce   sync.Once
	groupsAlone []*exposure
}

type taskKey struct {
	inst *model.Instance
	dir  model.Direction
	nic  model.NicType
}

// instanceKey is policy.InstanceKey, from the standings' keys when they
// have it (a key walks the rules of the instance's groups).
func (e *engine) instanceKey(inst *model.Instance, dir model.Direction, nic model.NicType) policy.Key {
	if k, ok := e.keys[taskKey{inst, dir, nic}]; ok {
		return k
	}
	return policy.InstanceKey(e.in.Cloud, inst, dir, nic)
}

type packetKey struct {
	inst *model.Instance
	dir  model.Direction
}

// engineFor returns the analysis shared by the checks of one Input: Run
// hands the same Input to every check, so each after the first reuses it.
func engineFor(in *Input) *engine {
	in.engineOnce.Do(func() {
		in.engine = &engine{in: in, res: space.NewResolver(in.Cloud), spaces: map[spaceKey]*space.Space{}}
	})
	return in.engine
}

// spaceKey names a space: the policy as the instance's addresses see it,
// and the options the checks vary.
type spaceKey struct {
	policy.Key
	ipVersion      int
	allSourcePorts bool
	partitionOnly  bool
	slots          [2]uint16
}

func keyOf(k policy.Key, o space.Options) spaceKey {
	return spaceKey{k, o.IPVersion, o.AllSourcePorts, o.PartitionOnly, o.Slots}
}

// spaceOf returns (and caches) the space of an instance's policy.
func (e *engine) spaceOf(inst *model.Instance, dir model.Direction, nic model.NicType, o space.Options) *space.Space {
	key := keyOf(policy.InstanceKey(e.in.Cloud, inst, dir, nic), o)
	e.mu.Lock()
	s, ok := e.spaces[key]
	e.mu.Unlock()
	if !ok {
		s = space.ForInstance(e.res, inst, dir, nic, o)
		e.mu.Lock()
		e.spaces[key] = s
		e.mu.Unlock()
	}
	return s
}

// exposed returns every exposure with something open, by instance then family.
func (e *engine) exposed() []*exposure {
	e.once.Do(func() { e.exposures = e.internetExposures(e.in.instancesByID()) })
	return e.exposures
}

// internetExposures judges each instance's ingress from the internet in
// each family the internet reaches it in, at each address it is reached
// at (internetViews), and returns those with something open, by instance
// then family.
func (e *engine) internetExposures(insts []*model.Instance) []*exposure {
	type task struct {
		inst *model.Instance
		six  bool
		rt   policy.Route
		prog *policy.Program
		v    *view
	}
	var tasks []task
	for _, inst := range insts {
		for _, six := range []bool{false, true} {
			rt := policy.PathBetween(nil, inst, six)
			if rt.NoPath != "" {
				continue // the internet cannot reach the instance in this family
			}
			for _, v := range internetViews(e.in.Cloud, inst, six) {
				tasks = append(tasks, task{inst: v, six: six, rt: rt})
			}
		}
	}
	// The exposures read decisions only. The full spaces the rule
	// standings build hold them: their part of the default source port
	// is cut exactly as a space of that port alone (sources ports are
	// cut at the same rule bounds, and each family is partitioned on
	// its own); their summaries keep that part's view. Without those, a
	// space of one family, without the rules' standings, costs about
	// half the reference's.
	if !e.in.reference && e.in.standingsNeeded() {
		e.ruleUses()
	}
	e.parallel(len(tasks), func(k int) {
		t := &tasks[k]
		v := 4
		if t.six {
			v = 6
		}
		// Every source port: the remote end picks its own.
		if e.in.reference {
			s := e.spaceOf(t.inst, model.Ingress, t.rt.NIC, space.Options{IPVersion: v, AllSourcePorts: true})
			t.prog, t.v = s.Program, viewOf(s, t.six)
			return
		}
		if sm, ok := e.sums[e.instanceKey(t.inst, model.Ingress, t.rt.NIC)]; ok {
			t.prog, t.v = sm.prog, sm.views[family(t.six)]
			return
		}
		s := e.spaceOf(t.inst, model.Ingress, t.rt.NIC, space.Options{IPVersion: v, PartitionOnly: true, AllSourcePorts: true})
		t.prog, t.v = s.Program, viewOf(s, t.six)
	})
	var out []*exposure
	for _, t := range tasks {
		addr := t.rt.Egress.Dst.Of(t.inst, netip.Addr{}) // the address the internet reaches
		if x := exposureOf(t.inst, t.six, false, addr, t.prog, t.v); len(x.open) > 0 {
			out = append(out, x)
		}
	}
	return out
}

// internetViews returns an instance as each address the internet reaches
// it at in a family sees its policy: in IPv4 its public address, NATed to
// the primary private one, alone; in IPv6 every address, each global, so
// each further one whose local CIDRs answer otherwise than those before
// (space.AddressViews) as a view of its own. A rule whose local CIDR holds
// only a further address opens that address alone.
func internetViews(c *policy.Cloud, inst *model.Instance, six bool) []*model.Instance {
	if !six || len(inst.MoreIPv6) == 0 {
		return []*model.Instance{inst}
	}
	var out []*model.Instance
	for _, v := range space.AddressViews(c, inst) {
		if v == inst || v.IPv6 != inst.IPv6 { // not a view at a secondary IPv4 address
			out = append(out, v)
		}
	}
	return out
}

// reachable reports whether the internet can reach an instance in some
// family (the instances exposed judges).
func reachable(inst *model.Instance) bool {
	return policy.PathBetween(nil, inst, false).NoPath == "" || policy.PathBetween(nil, inst, true).NoPath == ""
}

// latent returns, for every instance without a public IPv4 address, what
// its intranet ingress opens to the internet (the public addresses its
// rules admit, judged as on the internet path): what a rule open to the
// world already opens to every private
// network that can route to the instance (peered VPCs, VPN, leased lines),
// and to the internet once the instance gets a public address. (Without an
// IPv6 address nothing reaches it over IPv6; with one it is exposed.)
func (e *engine) latent() []*exposure {
	e.latOnce.Do(func() {
		var insts []*model.Instance
		for _, inst := range e.in.instancesByID() {
			if policy.PathBetween(nil, inst, false).NoPath != "" {
				insts = append(insts, inst)
			}
		}
		// Only which rule decides a port is read here (not how the ports
		// are cut), so any space that decides the packets will do.
		if !e.in.reference && e.in.standingsNeeded() {
			e.ruleUses()
		}
		views := make([]*view, len(insts))
		progs := make([]*policy.Program, len(insts))
		e.parallel(len(insts), func(k int) {
			if e.in.reference {
				s := e.spaceOf(insts[k], model.Ingress, model.Intranet, space.Options{IPVersion: 4, AllSourcePorts: true})
				progs[k], views[k] = s.Program, viewOf(s, false)
				return
			}
			if sm, ok := e.sums[e.instanceKey(insts[k], model.Ingress, model.Intranet)]; ok {
				progs[k], views[k] = sm.prog, sm.views[0]
				return
			}
			s := e.spaceOf(insts[k], model.Ingress, model.Intranet, space.Options{IPVersion: 4, PartitionOnly: true, AllSourcePorts: true})
			progs[k], views[k] = s.Program, viewOf(s, false)
		})
		for k, inst := range insts {
			if x := exposureOf(inst, false, true, inst.PrivateIP, progs[k], views[k]); len(x.open) > 0 {
				e.latents = append(e.latents, x)
			}
		}
	})
	return e.latents
}

// alone returns, for every group without members, what its own rules
// open to the internet on an instance in it alone with a public address
// (inst.ID is "" then, as in the rule standings): the group has nobody to
// expose yet, but any instance that joins it gets that much, unless its
// other groups drop it first. (A group is often made before its instances,
// or kept as a template.) A classic group's intranet rules admit no
// internet address: SGA-010 judges those open to every classic instance.
func (e *engine) alone() []*exposure {
	e.aloneOnce.Do(func() {
		var insts []*model.Instance
		c := e.in.Cloud
		for _, g := range groupsByID(c) {
			if len(c.Members(g.ID)) > 0 {
				continue
			}
			inst := &model.Instance{VpcID: g.VpcID, SecurityGroups: []string{g.ID}, PublicIP: aloneAddr4}
			if g.VpcID != "" { // the classic network has no IPv6
				inst.IPv6 = aloneAddr6
			}
			insts = append(insts, inst)
		}
		e.groupsAlone = e.internetExposures(insts)
	})
	return e.groupsAlone
}

// aloneAddr4 and aloneAddr6 stand for the public addresses of an instance
// in a group alone (documentation addresses: they are nobody's, and only
// give the instance a path from the internet).
var (
	aloneAddr4 = netip.MustParseAddr("192.0.2.1")
	aloneAddr6 = netip.MustParseAddr("2001:db8::1")
)

// parallel calls fn(0) … fn(n-1) on Options.Workers goroutines (one at a
// time in the reference).
func (e *engine) parallel(n int, fn func(int)) {
	workers := e.in.Options.workers()
	if e.in.reference {
		workers = 1
	}
	each(workers, n, func(_ *workerScratch, k int) { fn(k) })
}

// each calls fn(sc, 0) … fn(sc, n-1) on up to workers goroutines, each
// with its own scratch; a worker takes the next index as it finishes one
// (tasks differ in size).
func each(workers, n int, fn func(*workerScratch, int)) {
	var next atomic.Int64
	work := func() {
		sc := new(workerScratch)
		for k := int(next.Add(1) - 1); k < n; k = int(next.Add(1) - 1) {
			fn(sc, k)
		}
	}
	if workers = min(workers, n); workers <= 1 {
		work()
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
}

// packetsFor returns what decides single IPv4 TCP packets of an
// instance's intranet policy on the default source port to the data-tier
// ports: from the summary of the full space the rule standings built, when
// there is one (a space decides every packet it covers exactly, however
// much else it covers), or from a narrow space.
func (e *engine) packetsFor(inst *model.Instance, dir model.Direction) *packets {
	e.mu.Lock()
	p, ok := e.packets[packetKey{inst, dir}]
	e.mu.Unlock()
	if ok {
		return p
	}
	if e.in.reference {
		p = packetsOf(e.spaceOf(inst, dir, model.Intranet, space.Options{IPVersion: 4}))
	} else if sm, ok := e.sums[e.instanceKey(inst, dir, model.Intranet)]; ok && sm.packets != nil {
		p = sm.packets
	} else {
		p = packetsOf(e.spaceOf(inst, dir, model.Intranet, space.Options{IPVersion: 4, PartitionOnly: true, Slots: [2]uint16{1 << space.TCP, 0}}))
	}
	e.mu.Lock()
	if e.packets == nil {
		e.packets = map[packetKey]*packets{}
	}
	e.packets[packetKey{inst, dir}] = p
	e.mu.Unlock()
	return p
}

// ruleHits gathers, for rule-level findings, the instances and ports one
// rule exposes.
type ruleHits struct {
	group     *model.SecurityGroup
	rule      *model.Rule
	instances []string
	worlds    []string // 0.0.0.0/0, ::/0
	ports     []string // e.g. "TCP 22 (SSH)"
	with      []string // the rules that open them together with it ("sgr-2 of sg-a")
}

// subject is the finding's subject: the rule, and those it opens the
// ports with.
func (rh *ruleHits) subject() string {
	s := "Rule " + rh.rule.ID + " of " + rh.group.ID
	if len(rh.with) > 0 {
		s += ", together with " + list(rh.with, "rules") + ","
	}
	return s
}

type hitIndex struct {
	m     map[*model.Rule]*ruleHits
	order []*ruleHits
}

// add notes that rules (the one blamed first) let a port in on x.
func (h *hitIndex) add(x *exposure, rules []int, port string) {
	ri := rules[0]
	pr := x.rule(ri)
	if h.m == nil {
		h.m = map[*model.Rule]*ruleHits{}
	}
	rh := h.m[pr.Rule]
	if rh == nil {
		rh = &ruleHits{group: pr.Group, rule: pr.Rule}
		h.m[pr.Rule] = rh
		h.order = append(h.order, rh)
	}
	if !slices.Contains(rh.instances, x.inst.ID) {
		rh.instances = append(rh.instances, x.inst.ID)
	}
	if !slices.Contains(rh.worlds, x.world()) {
		rh.worlds = append(rh.worlds, x.world())
	}
	if port != "" && !slices.Contains(rh.ports, port) {
		rh.ports = append(rh.ports, port)
	}
	for _, w := range rules[1:] {
		if n := x.ruleName(w); !slices.Contains(rh.with, n) {
			rh.with = append(rh.with, n)
		}
	}
}

// findings turns the gathered rules into one finding each.
func (h *hitIndex) findings(check string, sev Severity, msg func(*ruleHits) string, fix string) []Finding {
	var out []Finding
	for _, rh := range h.order {
		bare := *rh
		bare.instances = []string{"its members"}
		out = append(out, Finding{Check: check, Severity: sev, Resource: rh.group.ID, RuleID: rh.rule.ID, Message: msg(rh), Fix: fix, Gist: msg(&bare)})
	}
	return out
}

// list names up to three items and counts the rest.
func list(items []string, noun string) string {
	switch n := len(items); {
	case n == 1:
		return items[0]
	case n <= 3:
		return strings.Join(items[:n-1], ", ") + " and " + items[n-1]
	default:
		return strings.Join(items[:3], ", ") + " and " + strconv.Itoa(n-3) + " more " + noun
	}
}

// SGA-001: on some instance, TCP or UDP is open from the internet at large
// on all ports (or all but a few); reported on the rule opening most of them.
func allOpenCheck(in *Input) []Finding {
	var h hitIndex
	for _, x := range engineFor(in).exposed() {
		for _, p := range []space.Proto{space.TCP, space.UDP} {
			if x.ports(p) < 65535-allPortsSlack {
				continue
			}
			share := map[int]int{}
			best := -1
			for _, o := range x.open {
				if o.proto == p {
					share[o.rule] += int(o.hi) - int(o.lo) + 1
					if best < 0 || share[o.rule] > share[best] {
						best = o.rule
					}
				}
			}
			// The rules it opens its ports with.
			rules := []int{best}
			for _, o := range x.open {
				if o.proto == p && o.rule == best {
					for _, w := range o.rules[1:] {
						if !slices.Contains(rules, w) {
							rules = append(rules, w)
						}
					}
				}
			}
			what := "all " + p.String() + " ports"
			if n := x.ports(p); n < 65535 {
				what = fmt.Sprintf("all %s ports but %d", p, 65535-n)
			}
			h.add(x, rules, what)
		}
	}
	return h.findings("SGA-001", Critical, func(rh *ruleHits) string {
		return fmt.Sprintf("%s opens %s to the whole internet (%s) on %s.",
			rh.subject(), strings.Join(rh.ports, " and "), strings.Join(rh.worlds, " and "), list(rh.instances, "instances"))
	}, "Replace the rule with rules for the few ports the service needs, from the addresses that need them, or add a higher-priority drop for everything else from 0.0.0.0/0 and ::/0.")
}

// portCheck builds SGA-002 to SGA-005: a risky port of the check's list
// open from the internet at large, reported once per rule that lets it in,
// with the instances it reaches. For the admin ports (SSH, RDP, the data
// tier: SGA-002 to -004) a rule open to the world whose members have no
// public address yet is reported too, as latent (medium): it already opens
// the port to every private network that can route to them; so is one in a
// group without members (medium: see alone).
func portCheck(check string) func(*Input) []Finding {
	return func(in *Input) []Finding {
		e := engineFor(in)
		var h hitIndex
		risky := func(x *exposure, add func(*exposure, []int, string)) {
			for _, rp := range riskyPorts {
				if rp.check != check {
					continue
				}
				protos := []space.Proto{space.TCP}
				if rp.udp {
					protos = append(protos, space.UDP)
				}
				for _, p := range protos {
					if rs := x.opened(p, rp.port); rs != nil {
						add(x, rs, fmt.Sprintf("%s %d (%s)", p, rp.port, rp.name))
					}
				}
			}
		}
		for _, x := range e.exposed() {
			risky(x, h.add)
		}
		out := h.findings(check, High, func(rh *ruleHits) string {
			return fmt.Sprintf("%s lets %s in from the whole internet (%s) on %s.",
				rh.subject(), list(rh.ports, "ports"), strings.Join(rh.worlds, " and "), list(rh.instances, "instances"))
		}, portFix[check])
		if check == "SGA-005" {
			return out
		}
		var lat hitIndex
		for _, x := range e.latent() {
			risky(x, func(x *exposure, rs []int, port string) {
				if h.m[x.rule(rs[0]).Rule] == nil { // said already, with its exposed instances
					lat.add(x, rs, port)
				}
			})
		}
		out = append(out, lat.findings(check, Medium, func(rh *ruleHits) string {
			return fmt.Sprintf("%s opens %s to the whole internet (0.0.0.0/0) but no member it reaches has a public address yet, so for now it lets in every private network that can route to %s (peered VPCs, VPN and leased lines), and the internet as soon as one gets a public address.",
				rh.subject(), list(rh.ports, "ports"), list(rh.instances, "instances"))
		}, portFix[check])...)
		var alone hitIndex
		for _, x := range e.alone() {
			risky(x, alone.add)
		}
		return append(out, alone.findings(check, Medium, func(rh *ruleHits) string {
			who := "every instance that joins it"
			if !slices.Contains(rh.worlds, "0.0.0.0/0") {
				who = "every instance with an IPv6 address that joins it"
			}
			return fmt.Sprintf("%s opens %s to the whole internet (%s) in a group with no members yet: nothing is exposed now, but %s will be, unless its other groups drop these ports first.",
				rh.subject(), list(rh.ports, "ports"), strings.Join(rh.worlds, " and "), who)
		}, portFix[check])...)
	}
}

// saidByPortChecks reports whether, in a whole audit, a port check
// (SGA-002 to -005) reports a risky port already, on the rule that opens it
// with the instances it reaches: SGA-006 and SGA-028 then leave it out, so
// that an audit says a world-open admin port once per rule.
func (in *Input) saidByPortChecks(rp riskyPort) bool {
	return in.once && !slices.Contains(in.Options.Skip, rp.check)
}

// riskyReported reports whether every port of lo-hi outside the allowed
// ones is a risky port of p that a port check reports.
func (in *Input) riskyReported(p space.Proto, lo, hi uint16, allowed []uint16) bool {
	for port := int(lo); port <= int(hi); port++ {
		if slices.Contains(allowed, uint16(port)) {
			continue
		}
		if !slices.ContainsFunc(riskyPorts, func(rp riskyPort) bool {
			return int(rp.port) == port && (p == space.TCP || p == space.UDP && rp.udp) && in.saidByPortChecks(rp)
		}) {
			return false
		}
	}
	return true
}

var portFix = map[string]string{
	"SGA-002": "Allow SSH only from a bastion host's group or your office's addresses, or add a higher-priority drop for TCP 22 from 0.0.0.0/0 and ::/0.",
	"SGA-003": "Allow RDP only from a bastion host's group or your office's addresses, or add a higher-priority drop for port 3389 from 0.0.0.0/0 and ::/0.",
	"SGA-004": "Allow the data-tier port only from the application tier's group, and keep database and cache instances off the internet.",
	"SGA-005": "Close the port to the internet (use an encrypted protocol, or reach the service through a VPN or bastion), or allow it only from the addresses that need it.",
}

// SGA-006: ports open from the internet at large that Options.AllowedPorts
// does not list. In a whole audit an opening whose off-list ports are all
// risky ports that SGA-002 to -005 report is theirs.
func allowListCheck(in *Input) []Finding {
	allowed := in.Options.AllowedPorts
	var h hitIndex
	for _, x := range engineFor(in).exposed() {
		for _, o := range x.open {
			if !o.proto.Ports() {
				continue
			}
			if in.once && in.riskyReported(o.proto, o.lo, o.hi, allowed) {
				continue // SGA-002 to -005 say it, on this rule
			}
			for _, r := range minusPorts(o.lo, o.hi, allowed) {
				h.add(x, o.rules, fmt.Sprintf("%s %s", o.proto, r))
			}
		}
	}
	names := make([]string, len(allowed))
	for i, p := range allowed {
		names[i] = fmt.Sprint(p)
	}
	return h.findings("SGA-006", High, func(rh *ruleHits) string {
		return fmt.Sprintf("%s opens %s to the whole internet (%s) on %s, outside the allowed ports (%s).",
			rh.subject(), list(rh.ports, "ranges"), strings.Join(rh.worlds, " and "), list(rh.instances, "instances"), strings.Join(names, ", "))
	}, "Open only the allowed ports to 0.0.0.0/0 and ::/0 (add a port to allowedPorts in the audit configuration, palisade audit --config, if it is meant to be public), and allow the rest from the addresses that need them.")
}

// minusPorts returns the parts of lo-hi outside a port list, as text.
func minusPorts(lo, hi uint16, allowed []uint16) []string {
	sorted := slices.Clone(allowed)
	slices.Sort(sorted)
	var out []string
	next := int(lo)
	for _, p := range sorted {
		if int(p) < next || int(p) > int(hi) {
			continue
		}
		if int(p) > next {
			out = append(out, portText(next, int(p)-1))
		}
		next = int(p) + 1
	}
	if next <= int(hi) {
		out = append(out, portText(next, int(hi)))
	}
	return out
}

func portText(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// SGA-028: an instance with a public address that the internet at large
// reaches on a risky port. In a whole audit SGA-002 to -005 report these on
// the rule that opens them, naming the instance, so SGA-028 keeps only the
// ports of those checks that are skipped.
func riskyInstanceCheck(in *Input) []Finding {
	type acc struct {
		inst  *model.Instance
		addrs []string
		ports []string
		rules []string
	}
	var order []*acc
	byInst := map[string]*acc{}
	for _, x := range engineFor(in).exposed() {
		for _, rp := range riskyPorts {
			protos := []space.Proto{space.TCP}
			if rp.udp {
				protos = append(protos, space.UDP)
			}
			for _, p := range protos {
				rs := x.opened(p, rp.port)
				if rs == nil || in.saidByPortChecks(rp) {
					continue // closed, or SGA-002 to -005 say it with the instance
				}
				a := byInst[x.inst.ID]
				if a == nil {
					a = &acc{inst: x.inst}
					byInst[x.inst.ID] = a
					order = append(order, a)
				}
				add := func(list *[]string, v string) {
					if !slices.Contains(*list, v) {
						*list = append(*list, v)
					}
				}
				add(&a.addrs, x.addr.String())
				add(&a.ports, fmt.Sprintf("%s %d (%s)", p, rp.port, rp.name))
				for _, ri := range rs {
					add(&a.rules, x.ruleName(ri))
				}
			}
		}
	}
	var out []Finding
	for _, a := range order {
		out = append(out, Finding{Check: "SGA-028", Severity: High, Resource: a.inst.ID,
			Message: fmt.Sprintf("Instance %s is reachable from the internet at %s on %s, through %s.",
				a.inst.ID, strings.Join(a.addrs, " and "), list(a.ports, "ports"), list(a.rules, "rules")),
			Fix: "Close these ports to the internet in the instance's groups (reach the services through a bastion, VPN or load balancer), or release the public address if the instance need not be reachable."})
	}
	return out
}

// SGA-013: a group holds internet-facing members (reachable from the
// internet at large) and internal ones, and through that group (its
// intra-group access, or a rule naming it as the peer) an internet-facing
// member reaches an internal member on a data-tier port. A compromised web
// server then reaches the database directly.
func sharedTierCheck(in *Input) []Finding {
	e := engineFor(in)
	if !in.reference && in.standingsNeeded() {
		e.ruleUses() // built anyway: their spaces decide the packets below
	}
	facing := map[string]bool{}
	for _, x := range e.exposed() {
		facing[x.inst.ID] = true
	}
	// The ports' labels, made once: a big cloud has hundreds of thousands
	// of hits.
	labels := make([]string, len(riskyPorts))
	for i, rp := range riskyPorts {
		labels[i] = fmt.Sprintf("TCP %d (%s)", rp.port, rp.name)
	}
	var out []Finding
	c := in.Cloud
	for _, g := range groupsByID(c) {
		var ext, internal []*model.Instance
		for _, m := range c.Members(g.ID) {
			if facing[m.ID] {
				ext = append(ext, m)
			} else {
				internal = append(internal, m)
			}
		}
		slices.SortFunc(ext, func(a, b *model.Instance) int { return cmp.Compare(a.ID, b.ID) })
		slices.SortFunc(internal, func(a, b *model.Instance) int { return cmp.Compare(a.ID, b.ID) })
		// The finding names the ports, sources and targets in the order
		// the hits first meet them, and the way in of the first hit; a big
		// cloud has hundreds of thousands of hits, so they are not kept.
		var ports, froms, tos []string
		portSeen := make([]bool, len(riskyPorts))
		fromSeen := make([]bool, len(ext))
		first, found := "", false
		egs := make([]*packets, len(ext)) // packetsFor(ext[i], egress), as met
		for _, b := range internal {
			ing := e.packetsFor(b, model.Ingress)
			toSeen := false
			for ai, a := range ext {
				rt := policy.PathBetween(a, b, false)
				if rt.NoPath != "" || rt.NIC != model.Intranet {
					continue // only members of one VPC meet inside it
				}
				eg := egs[ai]
				if eg == nil {
					eg = e.packetsFor(a, model.Egress)
					egs[ai] = eg
				}
				from, to := iprange.KeyOf(rt.Ingress.Src.Of(a, netip.Addr{})), iprange.KeyOf(rt.Egress.Dst.Of(b, netip.Addr{}))
				var inMemo, egMemo decideMemo // the ports share a few tables
				for t, ri := range tierPorts {
					d := inMemo.decide(ing, t, from)
					via := ""
					switch {
					case d.Intra() >= 0 && ing.prog.Intra[d.Intra()] == g.ID:
						via = "intra-group access"
					case d >= 0 && ing.prog.Rules[d].Peer.GroupID == g.ID && accepts(ing.prog, d):
						via = ing.prog.Rules[d].ID
					default:
						continue
					}
					if !accepts(eg.prog, egMemo.decide(eg, t, to)) {
						continue
					}
					if !found {
						first, found = via, true
					}
					if !portSeen[ri] {
						portSeen[ri] = true
						ports = append(ports, labels[ri])
					}
					if !fromSeen[ai] {
						fromSeen[ai] = true
						froms = append(froms, a.ID)
					}
					if !toSeen {
						toSeen = true
						tos = append(tos, b.ID)
					}
				}
			}
		}
		if !found {
			continue
		}
		f := Finding{Check: "SGA-013", Severity: High, Resource: g.ID}
		via := "its intra-group access"
		if first != "intra-group access" {
			f.RuleID = first
			via = "rule " + first + " (which names the group)"
		}
		f.Message = fmt.Sprintf("Group %s holds internet-facing instances (%s) and internal ones, and through %s %s can reach %s on %s.",
			g.ID, list(froms, "instances"), via, list(froms, "instances"), list(tos, "instances"), list(ports, "ports"))
		f.Fix = "Put internet-facing and internal instances in separate groups, and let the data tier accept its ports only from the application tier's group."
		out = append(out, f)
	}
	return out
}

// RiskyPort is one of the administration and database ports the audit
// reports when the whole internet reaches it (Check: SGA-002 … SGA-005).
type RiskyPort struct {
	Check string
	Port  uint16
	Name  string
	UDP   bool // the service also listens on UDP
}

// RiskyPorts lists the audit's risky ports, for warnings before a change
// is made (the console), so that they warn of what the audit will report.
func RiskyPorts() []RiskyPort {
	out := make([]RiskyPort, len(riskyPorts))
	for i, p := range riskyPorts {
		out[i] = RiskyPort{Check: p.check, Port: p.port, Name: p.name, UDP: p.udp}
	}
	return out
}

// RiskyOpened names the administration and database ports (SGA-002 to
// -005; "SSH (22), RDP (3389)") an inbound accept opens to the internet,
// or to half of it (HalfInternet: 0.0.0.0/0, ::/0, 2000::/3, and
// 0.0.0.0/1 or 2000::/4, which with one more block like it are the
// internet), "" if none. It judges the rule alone, as it is typed: the
// console warns with it before such a change is made, the CLI after.
func RiskyOpened(r *model.Rule) string {
	if r.Direction != model.Ingress || r.Policy != model.Accept || !HalfInternet(r.Peer.CIDR) {
		return ""
	}
	allows := func(proto model.Protocol, port uint16) bool {
		return (r.Protocol == model.ALL || r.Protocol == proto) && (r.PortRangeListID != "" || r.Protocol == model.ALL || r.PortRange.Contains(port))
	}
	var names []string
	for _, p := range riskyPorts {
		if (RiskyPort{Port: p.port, UDP: p.udp}).Opens(allows) {
			names = append(names, fmt.Sprintf("%s (%d)", p.name, p.port))
		}
	}
	return strings.Join(names, ", ")
}

// Opens says whether an allowance of ports (TCP, and UDP for a service
// that listens on it) reaches this port.
func (p RiskyPort) Opens(allows func(model.Protocol, uint16) bool) bool {
	return allows(model.TCP, p.Port) || p.UDP && allows(model.UDP, p.Port)
}
