package nft

import (
	"fmt"
	"maps"
	"slices"

	"github.com/google/nftables"
)

// Counters returns the counters of every security-group rule in the table,
// summed over the instances and address families that share it, plus the
// counts carried over from replaced chains.
func (k *Kernel) Counters() (map[RuleKey]Counter, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn == nil {
		if err := k.dial(); err != nil {
			return nil, err
		}
	}
	if k.state == nil {
		st, err := k.read()
		if err != nil {
			k.redial()
			return nil, err
		}
		k.state = st
	}
	out, err := k.ruleCounters(slices.Sorted(maps.Keys(k.state.chains)))
	if err != nil {
		k.redial()
		return nil, err
	}
	var tuples []string
	for name, s := range k.state.sets {
		if isTuple(s.typ) {
			tuples = append(tuples, name)
		}
	}
	tc, err := k.setCounters(tuples)
	if err != nil {
		k.redial()
		return nil, err
	}
	for key, c := range tc {
		out[key] = out[key].add(c)
	}
	for key, c := range k.carried {
		out[key] = out[key].add(c)
	}
	return out, nil
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
