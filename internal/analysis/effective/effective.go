// Package effective shows an instance's effective rules: for each direction
// (and, on the classic network, each path) the rules of all its groups
// pooled in evaluation order, with the implicit entries where they act
// (intra-group grants first, the default last), and for each entry whether
// it is live, shadowed (and by what) or redundant. It reads the order and
// the defaults from policy.Program and the standings from space.
package effective

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/iprange"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Kind is the kind of an entry.
type Kind string

const (
	Rule       Kind = "rule"
	IntraGroup Kind = "intra-group"
	Default    Kind = "default"
)

// Ref names another entry of the same policy.
type Ref struct {
	Kind     Kind   `json:"kind"`
	Group    string `json:"group,omitempty"`
	RuleID   string `json:"ruleId,omitempty"`
	Priority int    `json:"priority,omitempty"`
	Policy   string `json:"policy"` // Accept | Drop
}

func (r Ref) String() string {
	switch r.Kind {
	case Rule:
		return fmt.Sprintf("%s %s (priority %d, %s)", r.Group, r.RuleID, r.Priority, r.Policy)
	case IntraGroup:
		return "intra-group access in " + r.Group
	}
	return "the default (" + r.Policy + ")"
}

// Entry is one step of a policy in evaluation order.
type Entry struct {
	Position    int    `json:"position"` // 1 is evaluated first
	Kind        Kind   `json:"kind"`
	Group       string `json:"group,omitempty"`
	RuleID      string `json:"ruleId,omitempty"`
	Priority    int    `json:"priority,omitempty"`
	Policy      string `json:"policy"` // Accept | Drop
	Protocol    string `json:"protocol,omitempty"`
	Ports       string `json:"ports,omitempty"`
	SourcePorts string `json:"sourcePorts,omitempty"`
	// Peer is the remote side: a CIDR block, a group, a prefix list; for an
	// intra-group grant the group's members.
	Peer        string `json:"peer,omitempty"`
	Local       string `json:"local,omitempty"`
	Description string `json:"description,omitempty"`
	Reason      string `json:"reason,omitempty"` // for implicit entries, as decisions name them

	Status space.Status `json:"status"`
	// ShadowedBy lists the entries that decide everything this one matches
	// (largest share first); OppositeAction is set when one of them has the
	// other policy, so the entry's intent is defeated rather than repeated.
	ShadowedBy     []Ref `json:"shadowedBy,omitempty"`
	OppositeAction bool  `json:"oppositeAction,omitempty"`
	// Note explains a shadowed entry that nothing blocks: it cannot match
	// at all here.
	Note string `json:"note,omitempty"`
	// TakenOverBy lists, for a redundant rule, the entries that would
	// decide in its place, all with the same verdict.
	TakenOverBy []Ref `json:"takenOverBy,omitempty"`
	// ConflictsWith lists rules of the same priority and the other policy
	// whose traffic overlaps this rule's (the drop wins there).
	ConflictsWith []Ref `json:"conflictsWith,omitempty"`
}

// Policy is one direction (and path) of an instance's effective policy.
type Policy struct {
	Instance  string          `json:"instance"`
	Direction model.Direction `json:"direction"`
	NIC       model.NicType   `json:"nic"`
	Entries   []Entry         `json:"entries"`
}

// Of returns the effective policies of an instance or of a secondary ENI
// (its own groups'): ingress and egress, and on the classic network each for
// the intranet and the internet path.
func Of(c *policy.Cloud, instanceID string) ([]Policy, error) {
	return OfHiding(c, instanceID, nil)
}

// OfHiding is Of for a reader who may not know the members of the hidden
// groups (for a tenant, another account's groups its rules name): no
// standing depends on them (see space.BuildHiding), and one that would
// is "unknown".
func OfHiding(c *policy.Cloud, instanceID string, hidden space.Hidden) ([]Policy, error) {
	in, ok := c.Instances[instanceID]
	if !ok {
		return nil, fmt.Errorf("no instance or network interface %q; name an instance or attached ENI of this cloud", instanceID)
	}
	res := space.NewResolver(c)
	nics := policy.RuleSets(c.GroupsOf(in))
	var out []Policy
	for _, dir := range []model.Direction{model.Ingress, model.Egress} {
		for _, nic := range nics {
			out = append(out, ForHiding(res, in, dir, nic, hidden))
		}
	}
	return out, nil
}

// For returns one direction and path of an instance's effective policy.
// Standings hold for every source port and every address of the NIC.
func For(res *space.Resolver, in *model.Instance, dir model.Direction, nic model.NicType) Policy {
	return ForHiding(res, in, dir, nic, nil)
}

// ForHiding is For for a reader who may not know the members of the
// hidden groups (see OfHiding).
func ForHiding(res *space.Resolver, in *model.Instance, dir model.Direction, nic model.NicType, hidden space.Hidden) Policy {
	all := spacesOf(res, in, dir, nic, hidden)
	s := all[0]
	p := s.Program
	pol := Policy{Instance: in.ID, Direction: dir, NIC: p.NIC}
	for k, g := range p.Intra {
		e := Entry{Kind: IntraGroup, Group: g, Policy: "Accept", Peer: "members of " + g, Reason: string(policy.IntraGroup), Status: space.Live}
		if !slices.ContainsFunc(all, func(s *space.Space) bool { return s.IntraHit[k] }) {
			e.Status = space.Shadowed
			for _, earlier := range p.Intra[:k] {
				e.ShadowedBy = append(e.ShadowedBy, Ref{Kind: IntraGroup, Group: earlier, Policy: "Accept"})
			}
			if len(e.ShadowedBy) == 0 {
				e.Note = "the group has no other member"
			}
		}
		pol.Entries = append(pol.Entries, e)
	}
	corr := map[int][]int{}
	for _, s := range all {
		for _, c := range s.Correlations() {
			if !slices.Contains(corr[c.Drop], c.Accept) {
				corr[c.Drop] = append(corr[c.Drop], c.Accept)
				corr[c.Accept] = append(corr[c.Accept], c.Drop)
			}
		}
	}
	for i, pr := range p.Rules {
		r := pr.Rule
		// The rule's standing over every address: live if it is live at
		// one, unknown if it is so at one and live at none, redundant if
		// it decides somewhere but is needed nowhere.
		s := s
		for _, o := range all[1:] {
			if rank(o.Status(i)) > rank(s.Status(i)) {
				s = o
			}
		}
		e := Entry{Kind: Rule, Group: pr.Group.ID, RuleID: r.ID, Priority: r.Priority, Policy: r.Policy.Display(),
			Protocol: string(r.Protocol), Ports: r.PortRange.String(), SourcePorts: r.SourcePortRange.String(),
			Peer: peerText(&r.Peer), Description: r.Description, Status: s.Status(i)}
		if r.Local.IsValid() {
			e.Local = r.Local.String()
		}
		if r.PortRangeListID != "" {
			e.Ports = portListText(res.Cloud, r)
		}
		switch e.Status {
		case space.Shadowed:
			for _, b := range s.Blockers(i) {
				ref := refOf(s, b.By)
				e.ShadowedBy = append(e.ShadowedBy, ref)
				e.OppositeAction = e.OppositeAction || ref.Policy != e.Policy
			}
			if len(e.ShadowedBy) == 0 {
				e.Note = unmatchable(res, s, i, in, hidden)
			}
		case space.Unknown:
			e.Note = unknownNote(r, hidden)
		case space.Redundant:
			for _, d := range s.Rules[i].Takeover {
				e.TakenOverBy = append(e.TakenOverBy, refOf(s, d))
			}
		}
		for _, j := range corr[i] {
			e.ConflictsWith = append(e.ConflictsWith, refOf(s, space.Decider(j)))
		}
		pol.Entries = append(pol.Entries, e)
	}
	d := Entry{Kind: Default, Policy: string(p.Default.Verdict), Reason: string(p.Default.Reason), Status: space.Live}
	switch {
	case slices.ContainsFunc(all, func(s *space.Space) bool { return s.DefaultHit && !s.DefaultUnknown }):
	case slices.ContainsFunc(all, func(s *space.Space) bool { return s.DefaultUnknown }):
		d.Status, d.Note = space.Unknown, "whether the entries above decide every packet depends on the members of another account's group, which are not yours to see"
	default:
		d.Status, d.Note = space.Shadowed, "the entries above decide every packet"
	}
	pol.Entries = append(pol.Entries, d)
	for i := range pol.Entries {
		pol.Entries[i].Position = i + 1
	}
	return pol
}

// spacesOf returns the spaces of one direction and path of a NIC's policy
// as each of its addresses that the local CIDRs tell apart sees it (see
// space.AddressViews), the primary address's first.
func spacesOf(res *space.Resolver, in *model.Instance, dir model.Direction, nic model.NicType, hidden space.Hidden) []*space.Space {
	var out []*space.Space
	for _, v := range space.AddressViews(res.Cloud, in) {
		out = append(out, space.ForInstanceHiding(res, v, dir, nic, space.Options{AllSourcePorts: true}, hidden))
	}
	return out
}

// rank orders standings over a NIC's addresses: the one that wins.
func rank(st space.Status) int {
	switch st {
	case space.Live:
		return 3
	case space.Unknown:
		return 2
	case space.Redundant:
		return 1
	}
	return 0
}

// unknownNote says why a rule's standing is unknown to its reader.
func unknownNote(r *model.Rule, hidden space.Hidden) string {
	if g := r.Peer.GroupID; g != "" && hidden != nil && hidden(g) {
		return fmt.Sprintf("it names %s, another account's group, whose members are not yours to see: whether it decides anything depends on them", g)
	}
	return "it overlaps a rule that names another account's group, whose members are not yours to see: whether it decides anything, or is needed, depends on them"
}

func refOf(s *space.Space, d space.Decider) Ref {
	switch {
	case d >= 0:
		r := s.Program.Rules[d]
		return Ref{Kind: Rule, Group: r.Group.ID, RuleID: r.ID, Priority: r.Priority, Policy: r.Policy.Display()}
	case d.Intra() >= 0:
		return Ref{Kind: IntraGroup, Group: s.Program.Intra[d.Intra()], Policy: "Accept"}
	}
	return Ref{Kind: Default, Policy: string(s.Program.Default.Verdict)}
}

func peerText(p *model.Peer) string {
	switch {
	case p.GroupID != "":
		return p.GroupID
	case p.PrefixListID != "":
		return p.PrefixListID
	case p.CIDRText != "":
		return p.CIDRText
	case p.CIDR.IsValid():
		return p.CIDR.String()
	}
	return ""
}

// unmatchable says why a rule nothing blocks can still never match.
func unmatchable(res *space.Resolver, s *space.Space, i int, in *model.Instance, hidden space.Hidden) string {
	r := s.Program.Rules[i].Rule
	var peer [2][]iprange.Range
	if g := r.Peer.GroupID; g != "" && hidden != nil && hidden(g) {
		// Its members are not the reader's to count: only where they
		// may be.
		peer = space.ScopeOf(res.Cloud, g)
	} else {
		peer = res.Peer(&r.Peer)
	}
	switch {
	case len(peer[0])+len(peer[1]) == 0 && r.Peer.GroupID != "":
		return fmt.Sprintf("group %s has no members, so the rule matches no address", r.Peer.GroupID)
	case len(peer[0])+len(peer[1]) == 0:
		return "its peer stands for no address"
	case r.Local.IsValid() && !slices.ContainsFunc(in.Addresses(), r.Local.Masked().Contains):
		return fmt.Sprintf("its local CIDR %s does not hold this instance's addresses", r.Local)
	}
	return "it matches no packet here"
}

// portListText shows a port range list's ranges and ID, e.g.
// "80/80,443/443 (prl-web)".
func portListText(c *policy.Cloud, r *model.Rule) string {
	var parts []string
	for _, p := range c.DestPorts(r) {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ",") + " (" + r.PortRangeListID + ")"
}
