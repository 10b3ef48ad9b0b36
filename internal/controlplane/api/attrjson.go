package api

import (
	"github.com/palisade-sg/palisade/internal/controlplane/jsontext"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// DescribeSecurityGroupAttribute's JSON answer is written without
// reflection (rpc.RawJSON), each rule from its text memoised with the
// group's record: everything of a rule's item but the names it shows
// comes from the group record alone (the rule, and whether its peer's
// owner is the group's). The names (peer group, prefix list, port range
// list) are other records' and may change without the group changing:
// they are holes in the text, filled on each answer from the rule's view.

// The holes of a rule's text, in the order of permissionItem's fields.
const (
	holeSourceGroupName = iota
	holeSourcePrefixListName
	holeDestGroupName
	holeDestPrefixListName
	holePortRangeListName
	holes
)

// What fills a hole: no name, or one of the rule view's.
const (
	nameNone uint8 = iota
	namePeerGroup
	namePrefixList
	namePortRangeList
)

// ruleText is a rule's item as JSON, with an empty string ("") where each
// name goes: at cuts[k], filled with the view's name from[k].
type ruleText struct {
	id   string // the rule's ID, checked against the view's
	text []byte
	cuts [holes]int32
	from [holes]uint8
}

// ruleTextsKey memoises a group's []ruleText (in the order of its Rules)
// on its record.
type ruleTextsKey struct{}

// Marks given as the view's names to permission, which copies its name
// fields only from the view: where each mark lands tells which name fills
// which hole.
const (
	markPeerGroup  = "\x00peer group"
	markPrefixList = "\x00prefix list"
	markPortRanges = "\x00port range list"
)

// ruleTextsOf is the texts of g's rules, made once per revision of its
// record (memo).
func ruleTextsOf(g *model.SecurityGroup, memo *store.Memo) []ruleText {
	return memo.Get(ruleTextsKey{}, func() any {
		texts := make([]ruleText, len(g.Rules))
		for i := range g.Rules {
			texts[i] = textOfRule(&g.Rules[i], g.Owner)
		}
		return texts
	}).([]ruleText)
}

// textOfRule is rule r's text in a group of account owner.
func textOfRule(r *model.Rule, owner string) ruleText {
	it := permission(&service.RuleView{Rule: *r, PeerGroupName: markPeerGroup, PrefixListName: markPrefixList,
		PortRangeListName: markPortRanges}, owner)
	t := ruleText{id: r.ID}
	for k, name := range [holes]*string{&it.SourceGroupName, &it.SourcePrefixListName, &it.DestGroupName,
		&it.DestPrefixListName, &it.PortRangeListName} {
		switch *name {
		case markPeerGroup:
			t.from[k] = namePeerGroup
		case markPrefixList:
			t.from[k] = namePrefixList
		case markPortRanges:
			t.from[k] = namePortRangeList
		}
		*name = ""
	}
	var cuts [holes]int
	t.text = appendPermission(nil, &it, &cuts)
	for k := range cuts {
		t.cuts[k] = int32(cuts[k])
	}
	return t
}

// nameOf is the name a hole of v's text shows.
func nameOf(v *service.RuleView, from uint8) string {
	switch from {
	case namePeerGroup:
		return v.PeerGroupName
	case namePrefixList:
		return v.PrefixListName
	case namePortRangeList:
		return v.PortRangeListName
	}
	return ""
}

// appendRuleText appends t filled with v's names.
func appendRuleText(b []byte, t *ruleText, v *service.RuleView) []byte {
	prev := int32(0)
	for k := range t.cuts {
		b = jsontext.AppendString(append(b, t.text[prev:t.cuts[k]]...), nameOf(v, t.from[k]))
		prev = t.cuts[k] + 2 // past the ""
	}
	return append(b, t.text[prev:]...)
}

// appendPermission appends it as the rpc encoder writes the struct; with
// cuts, it records where each name's string starts (see holes).
func appendPermission(b []byte, it *permissionItem, cuts *[holes]int) []byte {
	field := func(b []byte, name, v string, hole int) []byte {
		b = append(b, name...)
		if cuts != nil && hole >= 0 {
			cuts[hole] = len(b)
		}
		return jsontext.AppendString(b, v)
	}
	b = field(b, `{"SecurityGroupRuleId":`, it.SecurityGroupRuleId, -1)
	b = field(b, `,"Direction":`, it.Direction, -1)
	b = field(b, `,"IpProtocol":`, it.IpProtocol, -1)
	b = field(b, `,"PortRange":`, it.PortRange, -1)
	b = field(b, `,"SourcePortRange":`, it.SourcePortRange, -1)
	b = field(b, `,"Policy":`, it.Policy, -1)
	b = field(b, `,"Priority":`, it.Priority, -1)
	b = field(b, `,"NicType":`, it.NicType, -1)
	b = field(b, `,"SourceCidrIp":`, it.SourceCidrIp, -1)
	b = field(b, `,"Ipv6SourceCidrIp":`, it.Ipv6SourceCidrIp, -1)
	b = field(b, `,"SourceGroupId":`, it.SourceGroupId, -1)
	b = field(b, `,"SourceGroupName":`, it.SourceGroupName, holeSourceGroupName)
	b = field(b, `,"SourceGroupOwnerAccount":`, it.SourceGroupOwnerAccount, -1)
	b = field(b, `,"SourcePrefixListId":`, it.SourcePrefixListId, -1)
	b = field(b, `,"SourcePrefixListName":`, it.SourcePrefixListName, holeSourcePrefixListName)
	b = field(b, `,"DestCidrIp":`, it.DestCidrIp, -1)
	b = field(b, `,"Ipv6DestCidrIp":`, it.Ipv6DestCidrIp, -1)
	b = field(b, `,"DestGroupId":`, it.DestGroupId, -1)
	b = field(b, `,"DestGroupName":`, it.DestGroupName, holeDestGroupName)
	b = field(b, `,"DestGroupOwnerAccount":`, it.DestGroupOwnerAccount, -1)
	b = field(b, `,"DestPrefixListId":`, it.DestPrefixListId, -1)
	b = field(b, `,"DestPrefixListName":`, it.DestPrefixListName, holeDestPrefixListName)
	b = field(b, `,"PortRangeListId":`, it.PortRangeListId, -1)
	b = field(b, `,"PortRangeListName":`, it.PortRangeListName, holePortRangeListName)
	b = field(b, `,"Description":`, it.Description, -1)
	b = field(b, `,"CreateTime":`, it.CreateTime, -1)
	return append(b, '}')
}

// RawJSON writes the answer as the rpc encoder would write the struct with
// its Permissions (its XML is still encoded from the struct): the rules
// from their texts memoised with the group when it was read from the
// view, else each converted now.
func (r *describeSecurityGroupAttributeResponse) RawJSON() ([]byte, error) {
	var texts []ruleText
	if r.memo != nil {
		texts = ruleTextsOf(r.group, r.memo)
	}
	n := 320 + len(r.RequestId) + len(r.RegionId) + len(r.SecurityGroupId) + len(r.SecurityGroupName) +
		len(r.Description) + len(r.VpcId) + len(r.InnerAccessPolicy) + len(r.NextToken)
	for i := range r.rules {
		v := &r.rules[i]
		n += 16 + len(v.PeerGroupName) + len(v.PrefixListName) + len(v.PortRangeListName)
		if v.Index < len(texts) {
			n += len(texts[v.Index].text)
		} else {
			n += 700
		}
	}
	b := make([]byte, 0, n)
	b = jsontext.AppendString(append(b, `{"RequestId":`...), r.RequestId)
	b = jsontext.AppendString(append(b, `,"RegionId":`...), r.RegionId)
	b = jsontext.AppendString(append(b, `,"SecurityGroupId":`...), r.SecurityGroupId)
	b = jsontext.AppendString(append(b, `,"SecurityGroupName":`...), r.SecurityGroupName)
	b = jsontext.AppendString(append(b, `,"Description":`...), r.Description)
	b = jsontext.AppendString(append(b, `,"VpcId":`...), r.VpcId)
	b = jsontext.AppendString(append(b, `,"InnerAccessPolicy":`...), r.InnerAccessPolicy)
	b = jsontext.AppendString(append(b, `,"NextToken":`...), r.NextToken)
	b = append(b, `,"Permissions":{"Permission":[`...)
	for i := range r.rules {
		if i > 0 {
			b = append(b, ',')
		}
		v := &r.rules[i]
		if v.Index >= 0 && v.Index < len(texts) && texts[v.Index].id == v.ID {
			b = appendRuleText(b, &texts[v.Index], v)
		} else {
			it := permission(v, r.group.Owner)
			b = appendPermission(b, &it, nil)
		}
	}
	return append(b, "]}}"...), nil
}
