package nft

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/nftables"
)

// Counters returns the counters of every security-group rule in the table,
// summed over the instances and address families that share it, plus the
// counts carried over from replaced chains.
//
// The chains and tuple sets are listed from the kernel, not taken from what
// this Kernel last applied: the agent reads counters through a Kernel of
// their own, which applies nothing.
func (k *Kernel) Counters() (map[RuleKey]Counter, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == nil {
		if err := k.dial(); err != nil {
			return nil, err
		}
	}
	// An Apply through another Kernel moves the counts of the chains it
	// deletes into carried as the kernel deletes them: a read that
	// overlaps it may find a count in both. Read again until none did.
	for try := 0; ; try++ {
		k.carried.mu.Lock()
		gen, busy := k.carried.gen, k.carried.applying
		k.carried.mu.Unlock()
		if busy {
			if try == countersTries {
				return nil, errApplying
			}
			time.Sleep(countersWait)
			continue
		}
		out, err := k.kernelCounters()
		if err != nil {
			k.redial()
			return nil, err
		}
		k.carried.mu.Lock()
		if k.carried.gen == gen {
			for key, c := range k.carried.m {
				out[key] = out[key].add(c)
			}
			k.carried.mu.Unlock()
			return out, nil
		}
		k.carried.mu.Unlock()
		if try == countersTries {
			return nil, errApplying
		}
	}
}

// Counters reads again while an Apply commits, countersTries times at
// most, countersWait apart.
const (
	countersTries = 50
	countersWait  = 10 * time.Millisecond
)

var errApplying = errors.New("the table kept changing while its counters were read; the next read tries again")

// kernelCounters reads the counters the kernel holds: of the rules of
// every chain and of the tuple sets' elements.
func (k *Kernel) kernelCounters() (map[RuleKey]Counter, error) {
	chains, tuples, err := k.counted()
	if err != nil {
		return nil, err
	}
	out, err := k.ruleCounters(chains)
	if err != nil {
		return nil, err
	}
	tc, err := k.setCounters(tuples)
	if err != nil {
		return nil, err
	}
	for key, c := range tc {
		out[key] = out[key].add(c)
	}
	return out, nil
}

// counted lists the table's chains (but the base chain) and tuple sets,
// sorted; none when there is no table.
func (k *Kernel) counted() (chains, tuples []string, err error) {
	exists, err := k.tableExists()
	if err != nil || !exists {
		return nil, nil, err
	}
	cs, err := k.tableChains()
	if err != nil {
		return nil, nil, err
	}
	for _, c := range cs {
		if c.Name != BaseChain {
			chains = append(chains, c.Name)
		}
	}
	sets, err := k.conn.GetSets(k.table)
	if err != nil {
		return nil, nil, fmt.Errorf("list sets%s: %w", k.where(), err)
	}
	for _, s := range sets {
		if s.Concatenation && !s.Anonymous { // tuple sets and tuple verdict maps
			tuples = append(tuples, s.Name)
		}
	}
	slices.Sort(chains)
	slices.Sort(tuples)
	return chains, tuples, nil
}

// setCounters sums the element counters of tuple sets by the
// security-group rule named in each element's comment.
func (k *Kernel) setCounters(sets []string) (map[RuleKey]Counter, error) {
	out := map[RuleKey]Counter{}
	for _, name := range sets {
		elems, err := k.conn.GetSetElements(&nftables.Set{Table: k.table, Name: name})
		if err != nil {
			return nil, fmt.Errorf("read counters of set %s%s: %w", name, k.where(), err)
		}
		for _, e := range elems {
			key, ok := parseKey(e.Comment)
			if ok && e.Counter != nil {
				out[key] = out[key].add(Counter{e.Counter.Packets, e.Counter.Bytes})
			}
		}
	}
	return out, nil
}
