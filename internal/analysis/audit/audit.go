// Package audit judges a cloud against the security-group best practices of
// the audit catalogue (checks SGA-001 …). Exposure is judged on the
// effective policy of each instance (all its groups, priorities, intra-group
// access, public address), never rule by rule: a rule that a higher-priority
// drop hides is not an exposure, and a deny that a higher-priority allow
// defeats does not protect.
package audit

import (
	"cmp"
	"fmt"
	"regexp/syntax"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Severity orders findings; higher is worse.
type Severity int

const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string { return severityNames[s] }

// ParseSeverity reads a severity name (any case).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: use one of %s", s, strings.Join(severityNames[:], ", "))
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	*s = v
	return err
}

// Finding is one thing wrong.
type Finding struct {
	Check    string   `json:"check"` // SGA-0NN
	Severity Severity `json:"severity"`
	Resource string   `json:"resource"`         // the group or instance at fault
	RuleID   string   `json:"ruleId,omitempty"` // the rule at fault, when one is
	Message  string   `json:"message"`          // what is wrong, one sentence
	Fix      string   `json:"fix"`              // how to fix it
	// Gist is Message without what a member joining or leaving changes
	// (the instances an exposure reaches), "" when Message has none: a
	// change's preview tells the same exposure by it.
	Gist string `json:"-"`
}

// Options tunes the checks; the zero value takes the catalogue's defaults.
// ParseConfig reads it from a configuration file.
type Options struct {
	// AllowedPorts are the ports that may be open to the internet (SGA-006);
	// default 80 and 443.
	AllowedPorts []uint16
	// MaxRules is the rule count above which a group is flagged (SGA-020);
	// default 50.
	MaxRules int
	// Skip lists checks not to run (their IDs).
	Skip []string
	// ProdValues are the values of the env tag that mean production
	// (SGA-014), compared without case; default prod, production, prd.
	ProdValues []string
	// RequiredTags are the tag keys every group and instance must carry with
	// a value (SGA-019); default owner, app, env. An empty, non-nil list
	// requires none.
	RequiredTags []string
	// NamePattern is a regular expression every group's and instance's name
	// must match in full (SGA-019); "" (the default) checks no names.
	NamePattern string
	// MaxPortRange is the widest TCP or UDP port range an ingress accept may
	// open before it is flagged (SGA-021); default 100, negative: no limit.
	MaxPortRange int
	// EnterpriseTags and EnterpriseVPCs say which groups must be enterprise
	// (SGA-031): a group carrying one of the tags (key and value; a tag
	// without a value matches any value), or holding an instance that
	// carries one, and a group in one of the VPCs. Default none: the check
	// is off until a policy is configured.
	EnterpriseTags []model.Tag
	EnterpriseVPCs []string
	// ChangeAlerting says whether changes to security groups raise alerts
	// (SGA-032); nil (an offline audit, or a configuration file) means not
	// known, and the check says nothing. The server sets it.
	ChangeAlerting *bool
	// FlowLogs are the server's flow-log facts (SGA-033, SGA-034, see
	// flowlogs.go); nil (an offline audit) means not known, and those
	// checks say nothing. The server sets it.
	FlowLogs *FlowLogs
	// PerAccount judges SGA-014's flows only between instances of one
	// account: a server audits for tenants, and another account's env tags
	// are that account's to know (a finding, or its absence, told a tenant
	// whether the instances of a group it names carry a production tag).
	// The server sets it; an offline audit judges every pair.
	//
	// It also keeps the rule standings (SGA-022 to -024) of one account's
	// policies from reading another account's group members: a rule naming
	// such a group, or overlapping one that does, is judged as
	// space.BuildHiding does (a standing that would depend on the members
	// is no finding, but unknown: see Result.Unknown), so that nothing the
	// audit tells a tenant says whether, or where, that group has members.
	PerAccount bool
	// UnusedRuleDays is SGA-034's window: a rule no flow record named in
	// that many days is reported; 0 takes DefaultUnusedRuleDays.
	UnusedRuleDays int
	// Workers caps the goroutines the audit runs at once, in every parallel
	// step (its spaces and the reachability some checks read), so that a
	// server can give an audit a share of its CPUs; 0 (the default) means
	// runtime.GOMAXPROCS (so does a negative value), 1 runs it on one
	// goroutine. Findings do not depend on it.
	Workers int
}

// workers is Options.Workers with 0 (or less) meaning every core.
func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Defaults of the Options that have one.
var (
	DefaultAllowedPorts = []uint16{80, 443}
	DefaultProdValues   = []string{"prod", "production", "prd"}
	DefaultRequiredTags = []string{"owner", "app", "env"}
)

const (
	DefaultMaxRules     = 50
	DefaultMaxPortRange = 100
)

func (o Options) withDefaults() Options {
	if o.AllowedPorts == nil {
		o.AllowedPorts = DefaultAllowedPorts
	}
	if o.MaxRules == 0 {
		o.MaxRules = DefaultMaxRules
	}
	if o.ProdValues == nil {
		o.ProdValues = DefaultProdValues
	}
	if o.RequiredTags == nil {
		o.RequiredTags = DefaultRequiredTags
	}
	if o.MaxPortRange == 0 {
		o.MaxPortRange = DefaultMaxPortRange
	}
	return o
}

// MaxNamePattern bounds Options.NamePattern's characters, and
// maxPatternSize what its counted repeats expand it to: the options come
// from API callers, and compiling a pattern costs time in its expanded
// size (\pL{1000} a hundred times over took 0.1 s).
const (
	MaxNamePattern = 1000
	maxPatternSize = 10_000
)

// patternSize estimates the states of re's compiled program, counted
// repeats expanded, stopping past maxPatternSize.
func patternSize(re *syntax.Regexp) int {
	n := 1
	switch re.Op {
	case syntax.OpLiteral:
		n = len(re.Rune)
	case syntax.OpRepeat:
		times := re.Max
		if times < 0 {
			times = re.Min + 1
		}
		n = patternSize(re.Sub[0]) * max(times, 1)
	default:
		for _, sub := range re.Sub {
			if n += patternSize(sub); n > maxPatternSize {
				break
			}
		}
	}
	return min(n, maxPatternSize+1)
}

// Validate reports options no check can use, saying how to fix them.
func (o Options) Validate() error {
	for _, id := range o.Skip {
		if !slices.ContainsFunc(checks, func(c Check) bool { return c.ID == id }) {
			return fmt.Errorf("skip: %q is not a check ID (palisade audit --checks lists them)", id)
		}
	}
	if o.UnusedRuleDays < 0 {
		return fmt.Errorf("unusedRuleDays: give a number of days (SGA-034's window), or leave it out for %d", DefaultUnusedRuleDays)
	}
	if n := utf8.RuneCountInString(o.NamePattern); n > MaxNamePattern {
		return fmt.Errorf("namePattern: %d characters; a naming convention fits in %d", n, MaxNamePattern)
	}
	re, err := syntax.Parse(o.NamePattern, syntax.Perl)
	if err != nil {
		return fmt.Errorf("namePattern: %v", err)
	}
	if patternSize(re) > maxPatternSize {
		return fmt.Errorf("namePattern: its repeats ({n}) make it too large to match with; a naming convention needs a few hundred states at most")
	}
	for _, t := range o.EnterpriseTags {
		if t.Key == "" {
			return fmt.Errorf("enterpriseTags: a tag needs a key (key=value, or key alone for any value)")
		}
	}
	return nil
}

// Input is what every check reads.
type Input struct {
	Cloud   *policy.Cloud
	Options Options

	// The engine-based checks share one analysis of the cloud per Input
	// (see engineFor); it goes with the Input.
	engineOnce sync.Once
	engine     *engine
	reachOnce  sync.Once
	reach      *reach.Result

	// reference makes the engine take the straightforward paths the
	// faster ones replaced (the equivalence test and the benchmark
	// compare the two).
	reference bool
	// once is set by Run: every check runs, so a check leaves out what
	// another reports on the same rule (see saidByPortChecks).
	once     bool
	hiddenMu sync.Mutex
	hidden   map[*model.Rule]bool

	instOnce sync.Once
	insts    []*model.Instance
}

// instancesByID is the package's instancesByID, sorted once per Input
// (a dozen checks and analyses walk the instances in order). Callers
// must not change it.
func (in *Input) instancesByID() []*model.Instance {
	in.instOnce.Do(func() { in.insts = instancesByID(in.Cloud) })
	return in.insts
}

// live is the package's live, with the group's evaluation order sorted
// once per group and direction instead of once per rule.
func (in *Input) live(g *model.SecurityGroup, r *model.Rule, dir model.Direction) bool {
	if in.reference {
		return live(g, r, dir)
	}
	return r.Direction == dir && r.Policy == model.Accept && !in.hiddenByDrop(g, r)
}

// hiddenByDrop is the package's hiddenByDrop, memoised: the first call for
// a group, direction and NIC type judges all the accepts of that order.
func (in *Input) hiddenByDrop(g *model.SecurityGroup, r *model.Rule) bool {
	if r.Policy != model.Accept {
		return false
	}
	in.hiddenMu.Lock()
	defer in.hiddenMu.Unlock()
	if h, ok := in.hidden[r]; ok {
		return h
	}
	if in.hidden == nil {
		in.hidden = map[*model.Rule]bool{}
	}
	order := policy.Order([]*model.SecurityGroup{g}, r.Direction, r.NicType)
	for k, d := range order {
		if d.Policy != model.Accept {
			continue
		}
		if _, ok := in.hidden[d.Rule]; ok || d.Rule.Direction != r.Direction || d.Rule.NicType != r.NicType {
			continue // judged already, or its own order may differ
		}
		in.hidden[d.Rule] = hiddenAt(order, k, d.Rule)
	}
	h, ok := in.hidden[r]
	if !ok { // not in its own order: judge it alone, as hiddenByDrop does
		h = hiddenByDrop(g, r)
		in.hidden[r] = h
	}
	return h
}

// reachability returns the reachability of the cloud, computed once per
// Input and only for the checks that need it.
func (in *Input) reachability() *reach.Result {
	in.reachOnce.Do(func() { in.reach = reach.Compute(in.Cloud, reach.Options{Workers: in.Options.workers()}) })
	return in.reach
}

// Check is one catalogue entry.
type Check struct {
	ID       string
	Title    string
	Severity Severity // the usual severity; a finding may raise or lower it
	Run      func(*Input) []Finding
}

// checks is filled by the files that implement them (init functions call register).
var checks []Check

func register(c ...Check) { checks = append(checks, c...) }

// Checks lists every check, by ID.
func Checks() []Check {
	out := slices.Clone(checks)
	slices.SortFunc(out, func(a, b Check) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Run runs every check and returns the findings, worst first, then by check,
// resource and rule.
func Run(c *policy.Cloud, o Options) []Finding {
	return run(&Input{Cloud: c, Options: o.withDefaults()})
}

// RuleRef names a rule of a group.
type RuleRef struct {
	Group  string `json:"group"`
	RuleID string `json:"ruleId"`
}

// Result is what an audit tells: its findings, as Run gives them, and the
// rules whose standing it could not tell.
type Result struct {
	Findings []Finding
	// Unknown lists the rules whose standing (as SGA-022 to -024 read it,
	// in every policy a rule takes part in) is unknown in some policy and
	// live in none: with Options.PerAccount, it depends on the members of
	// another account's group, which a rule names (the rule itself, or
	// one its traffic may meet). No finding says so: such a rule is
	// neither shadowed nor redundant, yet not known to decide anything.
	// By group ID, then in the group's rule order; nil when the standings
	// checks are all skipped.
	Unknown []RuleRef
}

// RunResult is RunWith with the rules of unknown standing.
func RunResult(c *policy.Cloud, o Options, r *reach.Result) Result {
	in := &Input{Cloud: c, Options: o.withDefaults()}
	in.givenReach(r)
	fs := run(in)
	return Result{Findings: fs, Unknown: in.unknownRules()}
}

func run(in *Input) []Finding {
	in.once = true
	var todo []Check
	for _, ch := range Checks() {
		if !slices.Contains(in.Options.Skip, ch.ID) {
			todo = append(todo, ch)
		}
	}
	// The analyses the checks share run first, each on Options.Workers
	// goroutines, then the checks themselves on as many (one at a time in
	// the reference), so that parallel steps never nest.
	workers := 1
	if !in.reference {
		in.prime(todo)
		workers = in.Options.workers()
	}
	found := make([][]Finding, len(todo))
	// The checks that take longest on a big cloud start first, so that
	// none of them is left running alone at the end.
	perm := make([]int, len(todo))
	for k := range perm {
		perm[k] = k
	}
	slices.SortStableFunc(perm, func(a, b int) int {
		return cmp.Compare(slowChecks[todo[b].ID], slowChecks[todo[a].ID])
	})
	each(workers, len(todo), func(_ *workerScratch, k int) { found[perm[k]] = todo[perm[k]].Run(in) })
	return merge(todo, found, workers)
}

// slowChecks ranks the checks that take longest on a big cloud (higher:
// longer), as profiles of the benchmark cloud showed; the others rank 0.
var slowChecks = map[string]int{"SGA-024": 5, "SGA-022": 4, "SGA-013": 3, "SGA-023": 2, "SGA-018": 1}

// merge puts the checks' findings in the audit's order: worst first, then
// by check, resource and rule, ties in the order a check gave them. The
// checks run in ID order and most give their findings already in order,
// so each check's findings are put in order on their own (only checked,
// when they are), on the workers, and then copied out in runs of one
// severity and check, on the workers too: a big audit has some 300,000
// findings, and a sort of them all (comparing strings, then moving them)
// cost more than any check.
func merge(todo []Check, found [][]Finding, workers int) []Finding {
	n := 0
	for k, fs := range found {
		n += len(fs)
		for i := range fs {
			if sev := fs[i].Severity; sev < Info || sev > Critical || fs[i].Check != todo[k].ID {
				return sortAll(found)
			}
		}
	}
	if n == 0 {
		return nil
	}
	each(workers, len(found), func(_ *workerScratch, k int) { found[k] = ordered(found[k]) })
	// The runs of one severity, in the output's order.
	type run struct {
		sev Severity
		k   int
		fs  []Finding
		at  int
	}
	var runs []run
	for k, fs := range found {
		for i := 0; i < len(fs); {
			j := i + 1
			for j < len(fs) && fs[j].Severity == fs[i].Severity {
				j++
			}
			runs = append(runs, run{sev: fs[i].Severity, k: k, fs: fs[i:j]})
			i = j
		}
	}
	slices.SortStableFunc(runs, func(a, b run) int { return cmp.Or(cmp.Compare(b.sev, a.sev), cmp.Compare(a.k, b.k)) })
	o := 0
	for i := range runs {
		runs[i].at = o
		o += len(runs[i].fs)
	}
	out := make([]Finding, n)
	each(workers, len(runs), func(_ *workerScratch, i int) { copy(out[runs[i].at:], runs[i].fs) })
	return out
}

// ordered returns one check's findings worst first, then by resource and
// rule, ties in the order given: fs itself when it is in that order.
func ordered(fs []Finding) []Finding {
	cmpFinding := func(a, b *Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.RuleID, b.RuleID))
	}
	sorted := true
	for i := 1; i < len(fs) && sorted; i++ {
		sorted = cmpFinding(&fs[i-1], &fs[i]) <= 0
	}
	if sorted {
		return fs
	}
	return stableSorted(fs, cmpFinding)
}

// stableSorted returns fs sorted by cmp, ties in the order given. It sorts
// indexes: moving findings while sorting costs more than sorting.
func stableSorted(fs []Finding, cmpFinding func(a, b *Finding) int) []Finding {
	idx := make([]int32, len(fs))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int { return cmp.Or(cmpFinding(&fs[i], &fs[j]), cmp.Compare(i, j)) })
	var out []Finding
	if len(fs) > 0 {
		out = make([]Finding, len(fs))
	}
	for k, i := range idx {
		out[k] = fs[i]
	}
	return out
}

// sortAll is merge for findings that do not fit its buckets (a severity
// out of range, or a finding of another check's ID): one stable sort of
// them all.
func sortAll(found [][]Finding) []Finding {
	n := 0
	for _, f := range found {
		n += len(f)
	}
	all := make([]Finding, 0, n)
	for _, f := range found {
		all = append(all, f...)
	}
	return stableSorted(all, func(a, b *Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Check, b.Check),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.RuleID, b.RuleID))
	})
}

// prime computes the shared analyses the checks to run read (see run).
func (in *Input) prime(todo []Check) {
	runs := func(ids ...string) bool {
		return slices.ContainsFunc(todo, func(c Check) bool { return slices.Contains(ids, c.ID) })
	}
	e := engineFor(in)
	if in.standingsNeeded() {
		e.ruleUses()
	}
	if runs("SGA-001", "SGA-002", "SGA-003", "SGA-004", "SGA-005", "SGA-006", "SGA-013", "SGA-025", "SGA-027", "SGA-028") {
		e.exposed()
	}
	if runs("SGA-002", "SGA-003", "SGA-004") {
		e.latent()
	}
	if runs("SGA-014") && reachNeeded(in) {
		in.reachability()
	}
}

// Worst returns the highest severity among findings, and false if there are none.
func Worst(fs []Finding) (Severity, bool) {
	if len(fs) == 0 {
		return 0, false
	}
	w := fs[0].Severity
	for _, f := range fs {
		w = max(w, f.Severity)
	}
	return w, true
}
