package nft

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/nftables"
)

// Apply makes the table hold rs, in one netlink batch: the kernel commits
// all of it or nothing, so no packet ever meets a half-applied policy.
//
// It changes only what differs from the table's current content, which it
// reads from the kernel on the first Apply (the reconcile after a restart)
// and remembers afterwards: chains are compared by name (their names are
// hashes of their content), sets and maps element by element. Unchanged
// chains are not touched and keep their counters. When a chain is replaced,
// the counters of its rules are read first and carried into the new chain's
// rules with the same security-group rule; counts that no new rule takes
// over are kept in memory, so they are lost when the agent restarts.
//
// After an error nothing was changed and the next Apply reads the kernel
// again.
func (k *Kernel) Apply(rs *Ruleset) (Stats, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := rs.check(k.table.Name); err != nil {
		return Stats{}, err
	}
	if k.conn == nil {
		if err := k.dial(); err != nil {
			return Stats{}, err
		}
	}
	// The generation as the plan starts. Another program's commit since
	// the last apply or check (a flush of the ruleset) means the state
	// remembered is not the table's: it is read again, or this batch
	// would plan against what is gone and its generation hide the change
	// from Drifted. One landing between here and the batch shows in the
	// generation after it.
	start, startErr := k.generation()
	if startErr != nil || k.gen == 0 || start != k.gen {
		k.state = nil
	}
	if k.state == nil {
		st, err := k.read()
		if err != nil {
			k.redial()
			return Stats{}, err
		}
		if !st.table {
			// No table, so nothing carried: the counts are of another
			// table that was here, or of a namespace gone whose inode
			// this one reuses.
			k.carried.mu.Lock()
			clear(k.carried.m)
			k.carried.mu.Unlock()
		}
		k.state = st
	}
	p := &planner{k: k, rs: rs, old: k.state, enc: &encoder{table: k.table, conn: k.conn}}
	if err := p.plan(); err != nil {
		k.redial() // drops the half-built batch
		return Stats{}, err
	}
	k.carried.begin()
	defer k.carried.end()
	if err := k.conn.Flush(); err != nil {
		k.redial()
		// The batch is all or nothing; should only the kernel's answer have
		// been lost, the next Apply finds out by reading the table again.
		return Stats{}, fmt.Errorf("apply table inet %s%s: %w", k.table.Name, k.where(), err)
	}
	k.state, k.applied = p.new, p.new
	// Each committed batch moves the generation by one; a batch that
	// changes nothing is not committed. Otherwise another program's
	// commit came between: the generation is left unknown (0), and the
	// next Drifted compares the table itself.
	k.gen = 0
	ours := uint32(1)
	if p.stats == (Stats{}) {
		ours = 0
	}
	if gen, err := k.generation(); err == nil && startErr == nil && gen == start+ours {
		k.gen = gen
	}
	k.carried.mu.Lock()
	defer k.carried.mu.Unlock()
	for key, c := range p.carry {
		k.carried.m[key] = k.carried.m[key].add(c)
	}
	// Forget the counts of rules that are gone, or the map would only grow.
	live := rs.ruleKeys()
	for key := range k.carried.m {
		if !live[key] {
			delete(k.carried.m, key)
		}
	}
	return p.stats, nil
}

func (c Counter) add(d Counter) Counter {
	return Counter{c.Packets + d.Packets, c.Bytes + d.Bytes}
}

// planner queues the batch that turns old into rs.
type planner struct {
	k     *Kernel
	rs    *Ruleset
	old   *kstate
	new   *kstate
	enc   *encoder
	stats Stats
	// carry holds the counters of the chains being deleted, by rule, until
	// a new rule takes them.
	carry map[RuleKey]Counter
}

// elemChunk bounds the elements per message: a netlink attribute holds at
// most 64 KiB.
const elemChunk = 256

func (p *planner) plan() error {
	c, t, old := p.k.conn, p.k.table, p.old
	p.new = emptyState()
	p.new.table = true
	if !old.table {
		c.AddTable(t)
	}

	// Sets first: the rules of new chains refer to them. Tuple verdict
	// maps come after the chains their elements go to.
	for i := range p.rs.Sets {
		if !p.rs.Sets[i].VMap {
			if err := p.set(&p.rs.Sets[i]); err != nil {
				return err
			}
		}
	}
	for _, m := range p.rs.Maps {
		if _, ok := old.maps[m.Name]; !ok {
			s := p.nftMap(m.Name)
			if err := c.AddSet(s, nil); err != nil {
				return fmt.Errorf("map %s: %w", m.Name, err)
			}
			p.stats.SetsAdded++
		}
	}

	// New chains, all created before any rule so that jumps between them
	// resolve; their rules take over the counters of the chains they replace.
	want := map[string]*Chain{}
	sums := make(map[string][sha256.Size]byte, len(p.rs.Chains))
	for i := range p.rs.Chains[1:] {
		ch := &p.rs.Chains[1+i]
		want[ch.Name] = ch
		sum, err := p.k.chainSum(ch)
		if err != nil {
			return err
		}
		sums[ch.Name] = sum
		p.new.chains[ch.Name] = kchain{rules: len(ch.Rules), sum: sum}
	}
	p.k.sums = sums
	// Stale chains go; chains another program changed (read from the
	// kernel, they no longer hold what their name says) are written
	// again. Both give their counts to the rules written.
	var stale, rewrite []string
	for name, ch := range old.chains {
		switch {
		case want[name] == nil:
			stale = append(stale, name)
		case ch != p.new.chains[name]:
			rewrite = append(rewrite, name)
		}
	}
	slices.Sort(stale)
	var err error
	if p.carry, err = p.k.ruleCounters(append(slices.Clone(stale), rewrite...)); err != nil {
		return err
	}
	var staleTuples []string
	for name, s := range old.sets {
		if isTuple(s.typ) && p.new.sets[name] == nil {
			staleTuples = append(staleTuples, name)
		}
	}
	tc, err := p.k.setCounters(staleTuples)
	if err != nil {
		return err
	}
	for key, c := range tc {
		p.carry[key] = p.carry[key].add(c)
	}
	var added []*Chain
	for _, ch := range p.rs.Chains[1:] {
		switch kc, ok := old.chains[ch.Name]; {
		case !ok:
			added = append(added, want[ch.Name])
			c.AddChain(&nftables.Chain{Table: t, Name: ch.Name})
			p.stats.ChainsAdded++
		case kc != p.new.chains[ch.Name]:
			// Read from the kernel, the chain does not hold what its name
			// says (another program flushed it or changed a rule):
			// written again, in this batch, so no packet meets it empty.
			added = append(added, want[ch.Name])
			c.FlushChain(&nftables.Chain{Table: t, Name: ch.Name})
			p.stats.ChainsAdded++
		}
	}
	for i := range p.rs.Sets {
		if p.rs.Sets[i].VMap {
			if err := p.set(&p.rs.Sets[i]); err != nil {
				return err
			}
		}
	}
	for _, ch := range added {
		if err := p.rules(ch); err != nil {
			return err
		}
	}

	// Map elements now that their chains exist: a changed element is
	// deleted and added again.
	for _, m := range p.rs.Maps {
		if err := p.mapElems(m); err != nil {
			return err
		}
	}

	if err := p.base(); err != nil {
		return err
	}

	// What is no longer wanted goes last, once nothing refers to it: stale
	// maps (their elements jump to stale chains), then stale chains (flushed
	// first, as they may jump to each other; stale tuple verdict maps go
	// between the flush and the delete), then stale sets.
	for _, name := range slices.Sorted(maps.Keys(old.maps)) {
		if !slices.ContainsFunc(p.rs.Maps, func(m Map) bool { return m.Name == name }) {
			c.DelSet(&nftables.Set{Table: t, Name: name})
			p.stats.SetsDeleted++
		}
	}
	for _, name := range stale {
		c.FlushChain(&nftables.Chain{Table: t, Name: name})
	}
	// Stale tuple verdict maps once no rule looks them up, before the
	// chains their elements go to.
	for _, name := range slices.Sorted(maps.Keys(old.sets)) {
		if old.sets[name].vmap && p.new.sets[name] == nil {
			c.DelSet(&nftables.Set{Table: t, Name: name})
			p.stats.SetsDeleted++
		}
	}
	for _, name := range stale {
		c.DelChain(&nftables.Chain{Table: t, Name: name})
		p.stats.ChainsDeleted++
	}
	for _, name := range slices.Sorted(maps.Keys(old.sets)) {
		if p.new.sets[name] == nil && !old.sets[name].vmap {
			c.DelSet(&nftables.Set{Table: t, Name: name})
			p.stats.SetsDeleted++
		}
	}
	return nil
}

// rules queues the rules of a new chain.
func (p *planner) rules(ch *Chain) error {
	nch := &nftables.Chain{Table: p.k.table, Name: ch.Name}
	for _, r := range ch.Rules {
		var initial Counter
		if r.Counter && r.Key != (RuleKey{}) {
			initial = p.carry[r.Key]
			delete(p.carry, r.Key)
		}
		x, err := p.enc.rule(r, initial)
		if err != nil {
			return fmt.Errorf("chain %s: %w", ch.Name, err)
		}
		p.k.conn.AddRule(&nftables.Rule{Table: p.k.table, Chain: nch, Exprs: x, UserData: userData(r.Key)})
		p.stats.RulesAdded++
	}
	return nil
}

// chainSum is the ruleSum of ch's rules as the kernel will list them:
// they are encoded without queueing anything. Chains are named by their
// content, so a chain's sum is computed once and kept while the chain is
// applied (Kernel.sums).
func (k *Kernel) chainSum(ch *Chain) ([sha256.Size]byte, error) {
	if sum, ok := k.sums[ch.Name]; ok {
		return sum, nil
	}
	dry := &encoder{table: k.table}
	rules := make([]*nftables.Rule, len(ch.Rules))
	for i, r := range ch.Rules {
		x, err := dry.rule(r, Counter{})
		if err != nil {
			return [sha256.Size]byte{}, fmt.Errorf("chain %s: %w", ch.Name, err)
		}
		rules[i] = &nftables.Rule{Exprs: x, UserData: userData(r.Key)}
	}
	return ruleSum(rules), nil
}

// base creates the base chain, or replaces its rules when they differ. Its
// rules change only with the options or the layout, and the batch replaces
// them atomically like everything else.
func (p *planner) base() error {
	ch := &p.rs.Chains[0]
	// Encode once without queueing anything (anonymous sets would be queued)
	// to compare with the kernel's rules.
	dry := &encoder{table: p.k.table}
	var sigs []string
	for _, r := range ch.Rules {
		x, err := dry.rule(r, Counter{})
		if err != nil {
			return fmt.Errorf("chain %s: %w", ch.Name, err)
		}
		sigs = append(sigs, exprSig(x))
	}
	sig := strings.Join(sigs, "\n")
	p.new.base, p.new.baseHook, p.new.baseSig = true, true, sig
	c := p.k.conn
	nch := &nftables.Chain{Table: p.k.table, Name: ch.Name, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: ptr(nftables.ChainPolicyAccept)}
	switch {
	case p.old.base && p.old.baseHook && p.old.baseSig == sig:
		return nil
	case p.old.base && p.old.baseHook:
		c.FlushChain(nch)
	case p.old.base:
		c.FlushChain(nch)
		c.DelChain(nch)
		c.AddChain(nch)
		p.stats.ChainsDeleted++
		p.stats.ChainsAdded++
	default:
		c.AddChain(nch)
		p.stats.ChainsAdded++
	}
	for _, r := range ch.Rules {
		x, err := p.enc.rule(r, Counter{})
		if err != nil {
			return fmt.Errorf("chain %s: %w", ch.Name, err)
		}
		c.AddRule(&nftables.Rule{Table: p.k.table, Chain: nch, Exprs: x})
		p.stats.RulesAdded++
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
