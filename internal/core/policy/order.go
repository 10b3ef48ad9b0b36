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
	var buf [256]uint64
	if keys, ok := orderKeys(groups, dir, nic, buf[:0]); ok {
		if len(keys) == 0 {
			return nil
		}
		out := make([]pooled, len(keys))
		for k, key := range keys {
			gi, ri := keyPlace(key)
			g := groups[gi]
			out[k] = pooled{&g.Rules[ri], g, gi, ri}
		}
		return out
	}
	var out []pooled
	for gi, g := range groups {
		for ri := range g.Rules {
			if r := &g.Rules[ri]; Applies(g, r, dir, nic) {
				out = append(out, pooled{r, g, gi, ri})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b pooled) int {
		return cmp.Or(CompareRules(a.rule, b.rule), cmp.Compare(a.gi, b.gi), cmp.Compare(a.ri, b.ri))
	})
	return out
}

// The bits of an order key: priority, drop before accept, group index,
// rule index.
const riBits, giBits, prioBits = 20, 12, 30

// orderKeys appends to buf one integer per rule of the groups that applies
// to one direction and path (priority, then drop before accept, then group
// and rule index) and sorts them: evaluation order, as pool's stable sort
// makes it, for the cost of sorting integers (the analyses order the
// policies of every instance, and a comparison sort cost them more than
// the rest of a program). It reports false when a priority or an index
// does not fit (never for valid groups of an instance).
func orderKeys(groups []*model.SecurityGroup, dir model.Direction, nic model.NicType, buf []uint64) ([]uint64, bool) {
	if len(groups) >= 1<<giBits {
		return nil, false
	}
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
	slices.Sort(keys)
	return keys, true
}

// keyPlace is the group and rule index of an order key.
func keyPlace(key uint64) (gi, ri int) {
	return int(key >> riBits & (1<<giBits - 1)), int(key & (1<<riBits - 1))
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
	var buf [256]uint64
	if keys, ok := orderKeys(groups, dir, nic, buf[:0]); ok {
		out := make([]ProgramRule, len(keys))
		for k, key := range keys {
			gi, ri := keyPlace(key)
			out[k] = ProgramRule{Rule: &groups[gi].Rules[ri], Group: groups[gi]}
		}
		return out
	}
	pooled := pool(groups, dir, nic)
	out := make([]ProgramRule, len(pooled))
	for i, pr := range pooled {
		out[i] = ProgramRule{Rule: pr.rule, Group: pr.group}
	}
	return out
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

// protoMatches reports whether a rule's protocol admits an IP protocol in
// a family (six: IPv6).
func protoMatches(p model.Protocol, proto uint8, six bool) bool {
	return (p == model.ALL || p.Number() == proto) && p.InFamily(six)
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
	r := DefaultEgressAccept
	switch {
	case dir == model.Ingress:
		r = DefaultIngressDrop
	case c.enterprise(in):
		r = EnterpriseEgressDrop
	}
	v, _ := r.DefaultVerdict()
	return Decision{Verdict: v, Reason: r}
}

func verdictOf(p model.Policy) Verdict {
	if p == model.Drop {
		return Drop
	}
	return Accept
}
