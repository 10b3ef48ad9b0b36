package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// This file interprets a Ruleset the way the kernel runs the encoded table,
// for the first packet of a connection (ct state new), so that Build and
// BuildLinear can be held against the policy engine on many random clouds
// without a kernel. The kernel tests check that the encoding matches the
// Ruleset (nft lists it back as Rule.String renders it).

// simPacket is a packet crossing the host's forward hook.
type simPacket struct {
	iif, oif     string
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
}

func (p simPacket) String() string {
	return fmt.Sprintf("%s→%s %s→%s proto %d %d→%d", p.iif, p.oif, p.src, p.dst, p.proto, p.sport, p.dport)
}

type sim struct {
	rs   *Ruleset
	p    simPacket
	hits []RuleKey // the counted rules the packet matched, in order
	path []string  // chains entered, for messages
	// labels and logs are what the packet's way through set and logged
	// (Options.FlowLog); a limit is taken as never reached.
	labels []Label
	logs   []string
}

type simResult int

const (
	simContinue simResult = iota // return to the caller
	simAccept
	simDrop
)

// simulate returns whether the table accepts the packet, and the counted
// rules it matched.
func simulate(rs *Ruleset, p simPacket) (bool, []RuleKey, error) {
	s, ok, err := simulateFlow(rs, p)
	return ok, s.hits, err
}

// simulateFlow is simulate returning the simulation, with the labels and
// logs of the packet's way.
func simulateFlow(rs *Ruleset, p simPacket) (*sim, bool, error) {
	s := &sim{rs: rs, p: p}
	res, err := s.run(BaseChain, 0)
	return s, res != simDrop, err
}

func (s *sim) run(name string, depth int) (simResult, error) {
	if depth > 16 {
		return 0, fmt.Errorf("jump loop through %v", s.path)
	}
	ch := s.rs.chain(name)
	if ch == nil {
		return 0, fmt.Errorf("chain %s does not exist (path %v)", name, s.path)
	}
	s.path = append(s.path, name)
	for _, r := range ch.Rules {
		ok, err := s.matches(&r)
		if err != nil {
			return 0, fmt.Errorf("chain %s rule %q: %w", name, r, err)
		}
		if !ok {
			continue
		}
		if r.Tuple.Set != "" {
			e, ok, err := s.tuple(&r)
			if err != nil {
				return 0, fmt.Errorf("chain %s rule %q: %w", name, r, err)
			}
			if !ok {
				continue
			}
			s.hits = append(s.hits, e.Key)
			if r.Tuple.VMap {
				return s.run(e.Chain, depth+1) // goto the element's chain
			}
		}
		if r.Label.ID != 0 {
			s.labels = append(s.labels, r.Label)
		}
		if r.Log != nil {
			s.logs = append(s.logs, r.Log.Prefix)
		}
		if r.Counter && r.Key != (RuleKey{}) {
			s.hits = append(s.hits, r.Key)
		}
		switch v := r.Verdict; v.Kind {
		case Accept:
			return simAccept, nil
		case Drop:
			return simDrop, nil
		case Return:
			return simContinue, nil
		case Goto:
			return s.run(v.Chain, depth+1)
		case Jump, VMap:
			target := v.Chain
			if v.Kind == VMap {
				m := s.mapOf(v.Map)
				if m == nil {
					return 0, fmt.Errorf("map %s does not exist", v.Map)
				}
				key := s.p.iif
				if v.OIF {
					key = s.p.oif
				}
				i := slices.IndexFunc(m.Elems, func(e MapElem) bool { return e.Interface == key })
				if i < 0 {
					continue // no element: the rule does not match
				}
				target = m.Elems[i].Chain
			}
			res, err := s.run(target, depth+1)
			if err != nil || res != simContinue {
				return res, err
			}
		default:
			return 0, fmt.Errorf("verdict %q", v.Kind)
		}
	}
	if ch.Base {
		return simAccept, nil // policy accept
	}
	return simContinue, nil
}

func (s *sim) mapOf(name string) *Map {
	for i := range s.rs.Maps {
		if s.rs.Maps[i].Name == name {
			return &s.rs.Maps[i]
		}
	}
	return nil
}

func (s *sim) set(name string) (*Set, error) {
	for i := range s.rs.Sets {
		if s.rs.Sets[i].Name == name {
			return &s.rs.Sets[i], nil
		}
	}
	return nil, fmt.Errorf("set %s does not exist", name)
}

func (s *sim) matches(r *Rule) (bool, error) {
	p := s.p
	if r.CtState != "" && r.CtState != CtNew || r.NotSyn {
		// A new connection is neither established nor invalid, and its
		// first packet is a SYN if it is TCP.
		return false, nil
	}
	if r.Over != nil {
		return false, nil // a limit is taken as never reached
	}
	for _, m := range []struct {
		i    Iface
		name string
	}{{r.IIF, p.iif}, {r.OIF, p.oif}} {
		ok, err := s.ifaceMatches(m.i, m.name)
		if err != nil || !ok {
			return false, err
		}
	}
	if r.Proto != 0 && r.Proto != p.proto {
		return false, nil
	}
	in := func(r Ports, v uint16) bool { return r.IsZero() || v >= r.From && v <= r.To }
	if !in(r.DPort, p.dport) || !in(r.SPort, p.sport) {
		return false, nil
	}
	if r.DPortSet != "" {
		set, err := s.set(r.DPortSet)
		if err != nil {
			return false, err
		}
		if set.Type != PortSet || !slices.ContainsFunc(set.Ports, func(x Ports) bool { return in(x, p.dport) }) {
			return false, nil
		}
	}
	if r.Family != AnyFamily && r.Family != familyOf(p.src) {
		return false, nil
	}
	for _, a := range r.Addrs {
		v := p.src
		if a.Dst {
			v = p.dst
		}
		var ok bool
		switch {
		case a.Set != "":
			set, err := s.set(a.Set)
			if err != nil {
				return false, err
			}
			if set.Type != addrType(r.Family) {
				return false, fmt.Errorf("set %s is %s, the rule is %s", set.Name, set.Type, familyName(r.Family))
			}
			ok = slices.Contains(set.Addrs, v) || slices.ContainsFunc(set.Prefixes, func(pf netip.Prefix) bool { return pf.Contains(v) })
		case a.Anon != nil:
			ok = slices.Contains(a.Anon, v)
		default:
			if familyOf(a.Prefix.Addr()) != r.Family {
				return false, fmt.Errorf("prefix %s in a %s rule", a.Prefix, familyName(r.Family))
			}
			ok = a.Prefix.Contains(v)
		}
		if ok == a.Not {
			return false, nil
		}
	}
	return true, nil
}

// tuple looks the packet up in a tuple set: the element it matches, whose
// counter counts it.
func (s *sim) tuple(r *Rule) (TupleElem, bool, error) {
	set, err := s.set(r.Tuple.Set)
	if err != nil {
		return TupleElem{}, false, err
	}
	if set.Type != map[Family]SetType{IPv4: Tuple4, IPv6: Tuple6}[r.Family] {
		return TupleElem{}, false, fmt.Errorf("set %s is %s, the rule is %s", set.Name, set.Type, familyName(r.Family))
	}
	if set.VMap != r.Tuple.VMap {
		return TupleElem{}, false, fmt.Errorf("set %s: verdict map %v, the rule's lookup %v", set.Name, set.VMap, r.Tuple.VMap)
	}
	remote := s.p.src
	if r.Tuple.Dst {
		remote = s.p.dst
	}
	var found []TupleElem
	for _, e := range set.Tuples {
		if e.Proto == s.p.proto && (e.Port.IsZero() || s.p.dport >= e.Port.From && s.p.dport <= e.Port.To) && e.Addr.Contains(remote) {
			found = append(found, e)
		}
	}
	if len(found) > 1 {
		return TupleElem{}, false, fmt.Errorf("set %s has overlapping elements %v; the kernel refuses them", set.Name, found)
	}
	if len(found) == 0 {
		return TupleElem{}, false, nil
	}
	return found[0], true, nil
}

func (s *sim) ifaceMatches(i Iface, name string) (bool, error) {
	if i.Name != "" {
		if i.Wildcard && !strings.HasPrefix(name, i.Name) || !i.Wildcard && name != i.Name {
			return false, nil
		}
	}
	if i.Set == "" {
		return true, nil
	}
	set, err := s.set(i.Set)
	if err != nil {
		return false, err
	}
	return slices.Contains(set.Names, name) != i.Not, nil
}
