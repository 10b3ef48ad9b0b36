package policy

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// pooled is one rule of an instance's policy, with where it came from.
type pooled struct {
	rule  *model.Rule
	group *model.SecurityGroup
	gi    int // index of the group in the instance's list
	ri    int // index of the rule in its group
}

// pool gathers the rules of the instance's groups that apply to one direction
// and path, in evaluation order: priority ascending, drop before accept at a
// tie, then group order and rule order so that the deciding rule is named the
// same way by every evaluator.
func pool(groups []*model.SecurityGroup, dir model.Direction, nic model.NicType) []pooled {
	n := 0
	for _, g := range groups {
		for ri := range g.Rules {
			if Applies(g, &g.Rules[ri], dir, nic) {
				n++
			}
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]pooled, 0, n)
	for gi, g := range groups {
		for ri := range g.Rules {
			r := &g.Rules[ri]
			if !Applies(g, r, dir, nic) {
				continue
			}
			out = append(out, pooled{r, g, gi, ri})
		}
	}
	if sortPooled(out) {
		return out
	}
	slices.SortStableFunc(out, func(a, b pooled) int {
		if c := CompareRules(a.rule, b.rule); c != 0 {
			return c
		}
		if c := cmp.Compare(a.gi, b.gi); c != 0 {
			return c
		}
		return cmp.Compare(a.ri, b.ri)
	})
	return out
}

// sortPooled puts rules gathered in group and rule order in evaluation
// order, as pool's stable sort does, by sorting one integer per rule
// (priority, drop before accept, place gathered): the analyses pool the
// policies of every instance, and the comparison sort cost them more than
// the rest of a program. It reports false, leaving out as it was, when a
// priority does not fit the integer (never for a valid rule).
func sortPooled(out []pooled) bool {
	const seqBits, prioBits = 32, 30
	if uint64(len(out)) >= 1<<seqBits {
		return false
	}
	var buf [256]uint64
	keys := buf[:0]
	for i, pr := range out {
		p := pr.rule.Priority
		if p < 0 || p >= 1<<prioBits {
			return false
		}
		accept := uint64(0)
		if pr.rule.Policy != model.Drop {
			accept = 1
		}
		keys = append(keys, uint64(p)<<(seqBits+1)|accept<<seqBits|uint64(i))
	}
	slices.Sort(keys)
	sorted := true
	for k, key := range keys {
		if int(uint32(key)) != k {
			sorted = false
			break
		}
	}
	if sorted {
		return true
	}
	was := slices.Clone(out)
	for k, key := range keys {
		out[k] = was[uint32(key)]
	}
	return true
}

// Applies is the pooling filter: whether a rule of a group belongs to one
// direction of a policy on one path. Classic-network groups keep a rule set
// per path (the rule's NicType); a VPC group's rules apply on every path.
func Applies(g *model.SecurityGroup, r *model.Rule, dir model.Direction, nic model.NicType) bool {
	return r.Direction == dir && (!g.Classic() || r.NicType == nic)
}

// RuleSet returns the path whose rule set a policy of these groups runs on
// a path: the path itself for classic-network groups, Intranet (the one
// set) for VPC groups.
func RuleSet(groups []*model.SecurityGroup, nic model.NicType) model.NicType {
	if !slices.ContainsFunc(groups, (*model.SecurityGroup).Classic) {
		return model.Intranet
	}
	return nic
}

// RuleSets lists the paths with a rule set of their own for these groups:
// Intranet alone for VPC groups (one set for every path), Intranet and
// Internet for classic-network groups.
func RuleSets(groups []*model.SecurityGroup) []model.NicType {
	if RuleSet(groups, model.Internet) == model.Internet {
		return []model.NicType{model.Intranet, model.Internet}
	}
	return []model.NicType{model.Intranet}
}

// Order returns the rules of the groups that apply to one direction and
// path, in evaluation order (the rules of a Program).
func Order(groups []*model.SecurityGroup, dir model.Direction, nic model.NicType) []ProgramRule {
	if out, ok := orderFast(groups, dir, nic); ok {
		return out
	}
	pooled := pool(groups, dir, nic)
	out := make([]ProgramRule, len(pooled))
	for i, pr := range pooled {
		out[i] = ProgramRule{Rule: pr.rule, Group: pr.group}
	}
	return out
}

// orderFast is Order without pool's records: one integer per rule
// (priority, drop before accept, group and rule index) sorted, then read
// back into rules; the analyses order the policies of every instance. It
// reports false when a priority or an index does not fit (never for
// valid groups of an instance).
func orderFast(groups []*model.SecurityGroup, dir model.Direction, nic model.NicType) ([]ProgramRule, bool) {
	const riBits, giBits, prioBits = 20, 12, 30
	if len(groups) >= 1<<giBits {
		return nil, false
	}
	var buf [256]uint64
	keys := buf[:0]
	for gi, g := range groups {
		if len(g.Rules) >= 1<<riBits {
			return nil, false
		}
		for ri := range g.Rules {
			r := &g.Rules[ri]
			if !Applies(g, r, dir, nic) {
				continue
			}
			p := r.Priority
			if p < 0 || p >= 1<<prioBits {
				return nil, false
			}
			accept := uint64(0)
			if r.Policy != model.Drop {
				accept = 1
			}
			keys = append(keys, uint64(p)<<(riBits+giBits+1)|accept<<(riBits+giBits)|uint64(gi)<<riBits|uint64(ri))
		}
	}
	if len(keys) == 0 {
		return []ProgramRule{}, true
	}
	slices.Sort(keys)
	out := make([]ProgramRule, len(keys))
	for k, key := range keys {
		g := groups[key>>riBits&(1<<giBits-1)]
		out[k] = ProgramRule{Rule: &g.Rules[key&(1<<riBits-1)], Group: g}
	}
	return out, true
}

// CompareRules orders two rules as evaluation does: priority ascending,
// then drop before accept. Rules it finds equal keep their given order.
func CompareRules(a, b *model.Rule) int {
	if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
		return c
	}
	if a.Policy != b.Policy {
		if a.Policy == model.Drop {
			return -1
		}
		return 1
	}
	return 0
}

// protoMatches reports whether a rule's protocol admits an IP protocol.
func protoMatches(p model.Protocol, proto uint8) bool {
	return p == model.ALL || p.Number() == proto
}

// portsMatch checks a rule's destination and source port ranges. Ranges only
// constrain protocols that carry ports.
func (c *Cloud) portsMatch(r *model.Rule, p Packet) bool {
	if !r.Protocol.HasPorts() {
		return true
	}
	if !r.SourcePortRange.Contains(p.SrcPort) {
		return false
	}
	if r.PortRangeListID != "" {
		l, ok := c.PortRangeLists[r.PortRangeListID]
		return ok && l.Contains(p.DstPort)
	}
	return r.PortRange.Contains(p.DstPort)
}

// localMatches checks the instance-side CIDR of a quintuple rule.
func localMatches(r *model.Rule, local netip.Addr) bool {
	return !r.Local.IsValid() || r.Local.Masked().Contains(local)
}

func ref(pr pooled) *RuleRef { return ProgramRule{Rule: pr.rule, Group: pr.group}.Ref() }

// fallback is the decision when no rule matches.
func (c *Cloud) fallback(in *model.Instance, dir model.Direction) Decision {
	switch {
	case dir == model.Ingress:
		return Decision{Verdict: Drop, Reason: DefaultIngressDrop}
	case c.enterprise(in):
		return Decision{Verdict: Drop, Reason: EnterpriseEgressDrop}
	}
	return Decision{Verdict: Accept, Reason: DefaultEgressAccept}
}

func verdictOf(p model.Policy) Verdict {
	if p == model.Drop {
		return Drop
	}
	return Accept
}
