package apply

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// A rule has no file ID: it is matched by what it says. identity is what
// no Modify call can change (direction, protocol, ports, peer, local
// CIDR, NIC type); full adds policy, priority and description.

func (b *builder) peerKey(r *model.Rule) string {
	switch {
	case r.Peer.CIDR.IsValid():
		return "cidr:" + r.Peer.CIDR.Masked().String()
	case r.Peer.GroupID != "":
		return "sg:" + cmpOr(b.toFile[r.Peer.GroupID], r.Peer.GroupID)
	default:
		return "pl:" + cmpOr(b.toFile[r.Peer.PrefixListID], r.Peer.PrefixListID)
	}
}

func (b *builder) identity(r *model.Rule) string {
	local := ""
	if r.Local.IsValid() {
		local = r.Local.Masked().String()
	}
	return strings.Join([]string{string(r.Direction), string(r.NicType), string(r.Protocol),
		r.PortRange.String() + b.portListKey(r), r.SourcePortRange.String(), b.peerKey(r), local}, "|")
}

// matches reports whether a rule the group has is the file's: the same
// in all but a description the file leaves empty, which the API cannot
// clear (Modify* keeps a description given empty), so it is not asked to.
func (b *builder) matches(have, want *model.Rule) bool {
	return b.kept(have) == b.kept(want) && (want.Description == "" || want.Description == have.Description)
}

// kept is what makes two rules of a group one for the API: all but the
// description.
func (b *builder) kept(r *model.Rule) string {
	return b.identity(r) + "|" + string(r.Policy) + "|" + strconv.Itoa(r.Priority)
}

// once is a group's file rules as the API keeps them: a repeated rule is
// one, with the last description given (an Authorize of a rule the group
// has sets its description, when it gives one).
func (b *builder) once(rules []model.Rule) []model.Rule {
	var out []model.Rule
	at := map[string]int{}
	for _, r := range rules {
		k := b.kept(&r)
		if i, ok := at[k]; ok {
			if r.Description != "" {
				out[i].Description = r.Description
			}
			continue
		}
		at[k] = len(out)
		out = append(out, r)
	}
	return out
}

// diffRules converges each file group's rules: rules that match stay, a
// rule that differs only in policy, priority or description is modified,
// the others are revoked and authorized. The rules of a group the run
// creates are all authorized.
func (b *builder) diffRules() error {
	for _, g := range b.sc.Groups {
		var have []model.Rule
		gid := ref("sg", g.ID)
		if cur, ok := b.groups[g.ID]; ok {
			have, gid = cur.Rules, cur.ID
		}
		used := make([]bool, len(have))
		var want []model.Rule
		for _, r := range b.once(g.Rules) {
			i := b.find(have, used, func(h *model.Rule) bool { return b.matches(h, &r) })
			if i < 0 {
				want = append(want, r)
			} else {
				used[i] = true
			}
		}
		var add, modify []Step
		for _, r := range want {
			k := b.identity(&r)
			i := b.find(have, used, func(h *model.Rule) bool { return b.identity(h) == k })
			if i < 0 {
				add = append(add, b.authorizeStep(g.ID, gid, r))
				continue
			}
			used[i] = true
			modify = append(modify, modifyStep(g.ID, gid, have[i], r))
		}
		for i, r := range have {
			if !used[i] {
				b.add(revokeStep(g.ID, gid, r, ""))
			}
		}
		for _, s := range append(modify, add...) {
			b.add(s)
		}
	}
	return nil
}

func (b *builder) find(rs []model.Rule, used []bool, match func(*model.Rule) bool) int {
	for i := range rs {
		if !used[i] && match(&rs[i]) {
			return i
		}
	}
	return -1
}

// ruleText is a rule in a few words, for notes.
func ruleText(r model.Rule) string {
	s := fmt.Sprintf("%s %s %s %s", r.Direction, r.Policy, r.Protocol, cmpOr(r.PortRange.String(), r.PortRangeListID))
	switch {
	case r.Peer.CIDR.IsValid():
		s += " " + r.Peer.CIDR.String()
	case r.Peer.GroupID != "":
		s += " " + r.Peer.GroupID
	default:
		s += " " + r.Peer.PrefixListID
	}
	return s + " priority " + strconv.Itoa(r.Priority)
}

func revokeStep(fileID, gid string, r model.Rule, why string) Step {
	action := "RevokeSecurityGroup"
	if r.Direction == model.Egress {
		action = "RevokeSecurityGroupEgress"
	}
	note := ruleText(r)
	if why != "" {
		note += "; " + why
	}
	return Step{Product: "Ecs", Action: action, Resource: fileID, Note: note,
		Params: map[string]string{"SecurityGroupId": gid, "SecurityGroupRuleId.1": r.ID}}
}

func modifyStep(fileID, gid string, have, want model.Rule) Step {
	action := "ModifySecurityGroupRule"
	if want.Direction == model.Egress {
		action = "ModifySecurityGroupEgressRule"
	}
	p := map[string]string{"SecurityGroupId": gid, "SecurityGroupRuleId": have.ID}
	var what []string
	if have.Policy != want.Policy {
		p["Policy"] = string(want.Policy)
		what = append(what, fmt.Sprintf("policy %s → %s", have.Policy, want.Policy))
	}
	if have.Priority != want.Priority {
		p["Priority"] = strconv.Itoa(want.Priority)
		what = append(what, fmt.Sprintf("priority %d → %d", have.Priority, want.Priority))
	}
	if want.Description != "" && have.Description != want.Description {
		p["Description"] = want.Description
		what = append(what, "description")
	}
	return Step{Product: "Ecs", Action: action, Resource: fileID, Params: p, Note: ruleText(have) + ": " + strings.Join(what, ", ")}
}

// authorizeStep adds one rule, with the peer group or prefix list named by
// its account ID (or the placeholder of one made in the run).
func (b *builder) authorizeStep(fileID, gid string, r model.Rule) Step {
	action, side, other := "AuthorizeSecurityGroup", "Source", "Dest"
	if r.Direction == model.Egress {
		action, side, other = "AuthorizeSecurityGroupEgress", "Dest", "Source"
	}
	p := map[string]string{"SecurityGroupId": gid}
	set := func(k, v string) { p["Permissions.1."+k] = v }
	set("Policy", string(r.Policy))
	set("Priority", strconv.Itoa(r.Priority))
	set("IpProtocol", string(r.Protocol))
	if r.PortRangeListID != "" {
		set("PortRangeListId", b.prlID(r.PortRangeListID))
	} else {
		set("PortRange", r.PortRange.String())
	}
	if r.SourcePortRange.IsSet() {
		set("SourcePortRange", r.SourcePortRange.String())
	}
	if r.NicType != "" {
		set("NicType", string(r.NicType))
	}
	if r.Description != "" {
		set("Description", r.Description)
	}
	cidr := func(prefix string, text string, c interface{ String() string }, six bool) {
		if six {
			prefix = "Ipv6" + prefix
		}
		set(prefix+"CidrIp", cmpOr(text, c.String()))
	}
	switch {
	case r.Peer.CIDR.IsValid():
		cidr(side, r.Peer.CIDRText, r.Peer.CIDR, r.Peer.CIDR.Addr().Is6())
	case r.Peer.GroupID != "":
		set(side+"GroupId", b.groupID(r.Peer.GroupID))
	default:
		set(side+"PrefixListId", b.plID(r.Peer.PrefixListID))
	}
	if r.Local.IsValid() {
		cidr(other, r.LocalText, r.Local, r.Local.Addr().Is6())
	}
	return Step{Product: "Ecs", Action: action, Resource: fileID, Params: p, Note: ruleText(r)}
}
