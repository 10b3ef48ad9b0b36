package policy

import (
	"strings"
	"unique"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Key names "the same policy": one direction of one list of groups on one
// rule set (see RuleSet). Instances with equal KeyOf keys run equal Programs,
// so the compiled evaluator, the data plane and the analyses build one
// policy per key. InstanceKey refines it with what an analysis of the
// instance's addresses also reads.
//
// A Key is comparable and cheap to hash (interned strings and small
// integers): use it as a map key as it is; String renders it.
type Key struct {
	groups unique.Handle[string] // the instance's existing groups, in order, joined by ","
	// local answers each local-CIDR rule for the instance's addresses
	// (InstanceKey only; zero when no rule has a local CIDR).
	local    unique.Handle[string]
	egress   bool
	internet bool // the rule set is the internet one (classic groups only)
	v6       bool // InstanceKey: the instance has an IPv6 address
}

// KeyOf returns the key of one direction of an instance's policy on a path.
func KeyOf(c *Cloud, in *model.Instance, dir model.Direction, nic model.NicType) Key {
	return groupsKey(c.groupsOf(in), dir, nic)
}

func groupsKey(groups []*model.SecurityGroup, dir model.Direction, nic model.NicType) Key {
	var b strings.Builder
	for i, g := range groups {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g.ID)
	}
	return Key{groups: unique.Make(b.String()), egress: dir == model.Egress, internet: RuleSet(groups, nic) == model.Internet}
}

// InstanceKey returns the key of an instance's policy as an analysis of
// its addresses sees it: KeyOf, the answers of the rules' local CIDRs for
// the instance's addresses (a local CIDR splits the instances of one
// program) and whether it has an IPv6 address. Instances with equal
// InstanceKeys have equal spaces (see package space).
func InstanceKey(c *Cloud, in *model.Instance, dir model.Direction, nic model.NicType) Key {
	groups := c.groupsOf(in)
	k := groupsKey(groups, dir, nic)
	k.v6 = in.IPv6.IsValid()
	var bits []byte
	for _, g := range groups {
		for ri := range g.Rules {
			r := &g.Rules[ri]
			if !r.Local.IsValid() || !Applies(g, r, dir, k.NIC()) {
				continue
			}
			l := r.Local.Masked()
			bits = append(bits, '0'+bit(l.Contains(in.PrivateIP))+2*bit(k.v6 && l.Contains(in.IPv6)))
		}
	}
	if len(bits) > 0 {
		k.local = unique.Make(string(bits))
	}
	return k
}

// WithoutV6 is k without whether the instance has an IPv6 address: the
// key of its space (a space reads the addresses only through the local
// CIDRs' answers, which k keeps), so policies that differ only in that
// share one space.
func (k Key) WithoutV6() Key {
	k.v6 = false
	return k
}

func bit(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// Direction returns the direction of the policy.
func (k Key) Direction() model.Direction {
	if k.egress {
		return model.Egress
	}
	return model.Ingress
}

// NIC returns the rule set of the policy (Intranet for VPC groups).
func (k Key) NIC() model.NicType {
	if k.internet {
		return model.Internet
	}
	return model.Intranet
}

// String renders a key: "groups|direction|nic", then for an InstanceKey
// "|local answers|4" or "|46" (with IPv6).
func (k Key) String() string {
	var groups string
	if k.groups != (unique.Handle[string]{}) {
		groups = k.groups.Value()
	}
	s := groups + "|" + string(k.Direction()) + "|" + string(k.NIC())
	var local string
	if k.local != (unique.Handle[string]{}) {
		local = k.local.Value()
	}
	if local != "" || k.v6 {
		s += "|" + local + "|4"
		if k.v6 {
			s += "6"
		}
	}
	return s
}
