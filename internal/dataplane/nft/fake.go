package nft

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Fake is a Table in memory, as knftables.Fake is for knftables: tests of
// what drives the kernel (the agent) run with it without root. It keeps the
// last applied Ruleset for the test to read back, reports what each Apply
// changed as the kernel does (the same Stats), refuses what the kernel
// refuses (a ruleset for another table, a reference to a set, map or chain
// the ruleset does not define, a set whose type changed), can be told to
// fail the next Apply, and serves the counters a test sets. Like the kernel,
// it commits an Apply whole or not at all.
type Fake struct {
	mu       sync.Mutex
	table    string
	applied  *Ruleset // nil: no table
	counters map[RuleKey]Counter
	fail     error // the next Apply's error
	applies  int
	closed   bool
	tampered bool               // Tamper ran since the last Apply
	watchers map[*func()]func() // Watch's, told of each Tamper
}

// NewFake returns an empty Fake for the table the options name.
func NewFake(o Options) *Fake {
	return &Fake{table: o.table(), counters: map[RuleKey]Counter{}}
}

var errClosed = errors.New("nft: the table was closed; open a new one")

// Apply makes the fake hold a copy of rs, unless it fails: then it holds what
// it held before.
func (f *Fake) Apply(rs *Ruleset) (Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return Stats{}, errClosed
	}
	if err := f.fail; err != nil {
		f.fail = nil
		return Stats{}, err
	}
	if err := rs.check(f.table); err != nil {
		return Stats{}, err
	}
	if err := rs.checkRefs(); err != nil {
		return Stats{}, fmt.Errorf("apply table inet %s: %w", f.table, err)
	}
	st, err := diffStats(f.applied, rs)
	if err != nil {
		return Stats{}, err
	}
	f.applied, f.tampered = rs.clone(), false
	f.applies++
	return st, nil
}

// Counters returns, for every security-group rule of the applied table, the
// counter SetCounters gave it (zero if none), as the kernel counts every
// rule it holds and nothing else.
func (f *Fake) Counters() (map[RuleKey]Counter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errClosed
	}
	out := map[RuleKey]Counter{}
	if f.applied == nil {
		return out, nil
	}
	for key := range f.applied.ruleKeys() {
		out[key] = f.counters[key]
	}
	return out, nil
}

// Delete removes the table, and with it the counters.
func (f *Fake) Delete() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errClosed
	}
	f.applied, f.counters = nil, map[RuleKey]Counter{}
	return nil
}

// Close makes every later call fail; the table stays readable by Applied.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// FailNextApply makes the next Apply return err and change nothing, as a
// batch the kernel refuses.
func (f *Fake) FailNextApply(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// SetCounters sets the counters the table reports from now on (the traffic
// the rules matched so far).
func (f *Fake) SetCounters(cs map[RuleKey]Counter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters = maps.Clone(cs)
}

// Applied returns a copy of the table's content; nil when there is no table.
func (f *Fake) Applied() *Ruleset {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applied == nil {
		return nil
	}
	return f.applied.clone()
}

// Applies counts the Applies that succeeded.
func (f *Fake) Applies() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applies
}

// check is what Apply asks of any ruleset before touching the table.
func (rs *Ruleset) check(table string) error {
	if rs.Table != table {
		return fmt.Errorf("the ruleset is for table %q but this Kernel manages table %q; build with the same Options.Table", rs.Table, table)
	}
	if len(rs.Chains) == 0 || !rs.Chains[0].Base || rs.Chains[0].Name != BaseChain {
		return fmt.Errorf("the ruleset has no base chain %q first; make it with Build or BuildLinear", BaseChain)
	}
	return nil
}

// checkRefs finds what the kernel refuses a batch for: a rule or map element
// that refers to a set, map or chain the ruleset does not define.
func (rs *Ruleset) checkRefs() error {
	sets, vmaps, chains := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range rs.Sets {
		sets[s.Name] = true
	}
	for _, m := range rs.Maps {
		vmaps[m.Name] = true
	}
	for _, c := range rs.Chains[1:] {
		chains[c.Name] = true
	}
	for _, c := range rs.Chains {
		for i, r := range c.Rules {
			refs := []string{r.IIF.Set, r.OIF.Set, r.Tuple.Set, r.DPortSet}
			for _, a := range r.Addrs {
				refs = append(refs, a.Set)
			}
			for _, s := range refs {
				if s != "" && !sets[s] {
					return fmt.Errorf("chain %s, rule %d: no set %s", c.Name, i+1, s)
				}
			}
			switch r.Verdict.Kind {
			case Jump, Goto:
				if !chains[r.Verdict.Chain] {
					return fmt.Errorf("chain %s, rule %d: no chain %s", c.Name, i+1, r.Verdict.Chain)
				}
			case VMap:
				if !vmaps[r.Verdict.Map] {
					return fmt.Errorf("chain %s, rule %d: no map %s", c.Name, i+1, r.Verdict.Map)
				}
			}
		}
	}
	for _, m := range rs.Maps {
		for _, e := range m.Elems {
			if !chains[e.Chain] {
				return fmt.Errorf("map %s, element %s: no chain %s", m.Name, e.Interface, e.Chain)
			}
		}
	}
	for _, s := range rs.Sets {
		for _, e := range s.Tuples {
			if s.VMap && !chains[e.Chain] {
				return fmt.Errorf("map %s, element %s: no chain %s", s.Name, e, e.Chain)
			}
		}
	}
	return nil
}

// diffStats counts what Kernel.Apply changes to turn a table holding old
// (nil: no table) into one holding rs, the way its planner counts.
func diffStats(old, rs *Ruleset) (Stats, error) {
	var st Stats
	if old == nil {
		old = &Ruleset{}
	}
	oldSets := map[string]*Set{}
	for i := range old.Sets {
		oldSets[old.Sets[i].Name] = &old.Sets[i]
	}
	newSets := map[string]bool{}
	for i := range rs.Sets {
		s := &rs.Sets[i]
		newSets[s.Name] = true
		o, ok := oldSets[s.Name]
		switch {
		case isTuple(s.Type) && ok: // named by their content
		case isTuple(s.Type):
			st.SetsAdded++
			st.ElementsAdded += len(s.Tuples)
		case !ok:
			st.SetsAdded++
			st.ElementsAdded += len(elemKeys(s))
		case o.Type != s.Type || o.Interval != s.Interval:
			return Stats{}, fmt.Errorf("set %s in table inet %s has another type than Palisade's; delete the table (nft delete table inet %s) and apply again",
				s.Name, rs.Table, rs.Table)
		case s.Interval:
			if was, is := toSet(elemKeys(o)), toSet(elemKeys(s)); !maps.Equal(was, is) {
				st.ElementsDeleted += len(was)
				st.ElementsAdded += len(elemKeys(s))
			}
		default:
			was, keys := toSet(elemKeys(o)), elemKeys(s)
			is := toSet(keys)
			for _, key := range keys {
				if !was[key] {
					st.ElementsAdded++
				}
			}
			for key := range was {
				if !is[key] {
					st.ElementsDeleted++
				}
			}
		}
	}
	for name := range oldSets {
		if !newSets[name] {
			st.SetsDeleted++
		}
	}

	oldMaps := map[string]map[string]string{}
	for _, m := range old.Maps {
		oldMaps[m.Name] = mapChains(m)
	}
	for _, m := range rs.Maps {
		was, ok := oldMaps[m.Name]
		if !ok {
			st.SetsAdded++
		}
		is := mapChains(m)
		for iface, ch := range was {
			if is[iface] != ch {
				st.ElementsDeleted++
			}
		}
		for iface, ch := range is {
			if was[iface] != ch {
				st.ElementsAdded++
			}
		}
		delete(oldMaps, m.Name)
	}
	st.SetsDeleted += len(oldMaps)

	oldChains := map[string]bool{}
	for _, c := range old.Chains {
		if !c.Base {
			oldChains[c.Name] = true
		}
	}
	for _, c := range rs.Chains[1:] {
		if !oldChains[c.Name] {
			st.ChainsAdded++
			st.RulesAdded += len(c.Rules)
		}
		delete(oldChains, c.Name)
	}
	st.ChainsDeleted += len(oldChains)

	base := rs.Chains[0]
	switch {
	case len(old.Chains) == 0:
		st.ChainsAdded++
		st.RulesAdded += len(base.Rules)
	case !slices.EqualFunc(old.Chains[0].Rules, base.Rules, func(a, b Rule) bool { return a.String() == b.String() }):
		st.RulesAdded += len(base.Rules) // flushed and filled again
	}
	return st, nil
}

func mapChains(m Map) map[string]string {
	out := make(map[string]string, len(m.Elems))
	for _, e := range m.Elems {
		out[e.Interface] = e.Chain
	}
	return out
}

// clone copies a ruleset deep enough that changing either copy's slices
// leaves the other alone.
func (rs *Ruleset) clone() *Ruleset {
	c := *rs
	c.Problems = slices.Clone(rs.Problems)
	c.Sets = slices.Clone(rs.Sets)
	for i := range c.Sets {
		s := &c.Sets[i]
		s.Addrs, s.Prefixes, s.Names, s.Tuples = slices.Clone(s.Addrs), slices.Clone(s.Prefixes), slices.Clone(s.Names), slices.Clone(s.Tuples)
		s.Ports = slices.Clone(s.Ports)
	}
	c.Maps = slices.Clone(rs.Maps)
	for i := range c.Maps {
		c.Maps[i].Elems = slices.Clone(c.Maps[i].Elems)
	}
	c.Chains = slices.Clone(rs.Chains)
	for i := range c.Chains {
		rules := slices.Clone(c.Chains[i].Rules)
		for j := range rules {
			rules[j].Addrs = slices.Clone(rules[j].Addrs)
			for k := range rules[j].Addrs {
				rules[j].Addrs[k].Anon = slices.Clone(rules[j].Addrs[k].Anon)
			}
		}
		c.Chains[i].Rules = rules
	}
	return &c
}

// Drifted reports whether Tamper ran since the last Apply, as the
// kernel's reports another program's change until an Apply puts the table
// back.
func (f *Fake) Drifted() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false, errClosed
	}
	return f.tampered, nil
}

// FailClosed applies rs when the fake holds no table (none applied yet,
// or Tamper took it).
func (f *Fake) FailClosed(rs *Ruleset) (bool, error) {
	f.mu.Lock()
	held := f.applied != nil
	f.mu.Unlock()
	if held {
		return false, nil
	}
	if _, err := f.Apply(rs); err != nil {
		return false, err
	}
	return true, nil
}

// Tamper makes the fake lose its table, as another program's `flush
// ruleset` does to the kernel's, and tells the watchers (see Watch).
func (f *Fake) Tamper() {
	f.mu.Lock()
	f.applied, f.tampered = nil, true
	watchers := slices.Collect(maps.Values(f.watchers))
	f.mu.Unlock()
	for _, changed := range watchers {
		changed()
	}
}

// Watch calls changed once at start and at each Tamper until ctx is done,
// as Kernel.Watch does for another program's change (the fake's own
// applies are not told).
func (f *Fake) Watch(ctx context.Context, changed func()) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return errClosed
	}
	if f.watchers == nil {
		f.watchers = map[*func()]func(){}
	}
	key := &changed
	f.watchers[key] = changed
	f.mu.Unlock()
	changed()
	<-ctx.Done()
	f.mu.Lock()
	delete(f.watchers, key)
	f.mu.Unlock()
	return nil
}
