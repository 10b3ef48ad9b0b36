package ecsimport

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// builder gathers decoded responses in any order, then converts them in
// one go: a rule needs its group's network type and a peer's owner may only
// show in another group's rules, so nothing is converted before everything
// has been read.
type builder struct {
	region   string // for resources whose responses name none (prefix lists)
	groups   map[string]*groupData
	insts    map[string]sourced[instanceItem]
	enis     map[string]sourced[eniItem]
	vpcs     map[string]sourced[vpcItem]
	lists    map[string]*listData
	prls     map[string]*portListData // port range lists
	ruleSrc  map[string]string        // group ID + "/" + rule ID → the response the rule came in
	paging   map[string]*paging       // by call (and group, for rules)
	warnings []Warning
}

// paging tells whether the saved pages of one call look complete: token
// paging ends with a page without NextToken, page-number paging gives the
// total count on every page.
type paging struct {
	src   string
	last  bool
	total int
}

func (b *builder) paged(call, src, next string, total num) {
	p := b.paging[call]
	if p == nil {
		p = &paging{src: src}
		b.paging[call] = p
	}
	p.last = p.last || next == ""
	p.total = max(p.total, int(total))
}

type sourced[T any] struct {
	src string
	v   T
}

type groupData struct {
	src    string
	region string
	item   *groupItem // from DescribeSecurityGroups
	attr   *attrPage  // the group's fields from DescribeSecurityGroupAttribute
	perms  []sourced[permission]
}

type listData struct {
	src  string
	item *prefixListItem
	attr *prefixListAttr
}

func newBuilder(region string) *builder {
	return &builder{region: region, groups: map[string]*groupData{}, insts: map[string]sourced[instanceItem]{}, enis: map[string]sourced[eniItem]{}, vpcs: map[string]sourced[vpcItem]{}, lists: map[string]*listData{},
		ruleSrc: map[string]string{}, paging: map[string]*paging{}}
}

func (b *builder) warn(src, resource, rule, format string, args ...any) {
	b.warnings = append(b.warnings, Warning{Source: src, Resource: resource, RuleID: rule, Message: fmt.Sprintf(format, args...)})
}

func (b *builder) group(src, id string) *groupData {
	d := b.groups[id]
	if d == nil {
		d = &groupData{src: src}
		b.groups[id] = d
	}
	return d
}

func (b *builder) seenRegion(r string) {
	if b.region == "" {
		b.region = r
	}
}

// add takes one response of any kind; src names where it came from.
func (b *builder) add(src string, raw json.RawMessage) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		b.warn(src, "", "", "not an ECS response (a JSON object); skipped")
		return nil
	}
	k := cmp.Or(portListKind(top), kindOf(top))
	if ok, err := b.addPortList(src, k, raw); ok {
		return err
	}
	decode := func(v any) error {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("%s: a %s response that cannot be read: %w", src, k, err)
		}
		return nil
	}
	switch k {
	case kindGroups:
		var p groupsPage
		if err := decode(&p); err != nil {
			return err
		}
		b.seenRegion(p.RegionId)
		b.paged(string(k), src, p.NextToken, p.TotalCount)
		for i := range p.SecurityGroups.SecurityGroup {
			it := &p.SecurityGroups.SecurityGroup[i]
			if d := b.group(src, it.SecurityGroupId); d.item == nil {
				d.item, d.region = it, p.RegionId
			}
		}
	case kindAttribute:
		var a attrPage
		if err := decode(&a); err != nil {
			return err
		}
		b.seenRegion(a.RegionId)
		b.paged(string(k)+" "+a.SecurityGroupId, src, a.NextToken, 0)
		d := b.group(src, a.SecurityGroupId)
		if d.attr == nil {
			d.attr = &a
		}
		d.region = cmp.Or(d.region, a.RegionId)
		for _, p := range a.Permissions.Permission {
			d.perms = append(d.perms, sourced[permission]{src, p})
		}
	case kindInstances:
		var p instancesPage
		if err := decode(&p); err != nil {
			return err
		}
		b.paged(string(k), src, p.NextToken, p.TotalCount)
		for _, it := range p.Instances.Instance {
			b.seenRegion(it.RegionId)
			if _, ok := b.insts[it.InstanceId]; !ok {
				b.insts[it.InstanceId] = sourced[instanceItem]{src, it}
			}
		}
	case kindENIs:
		var p enisPage
		if err := decode(&p); err != nil {
			return err
		}
		b.paged(string(k), src, p.NextToken, p.TotalCount)
		for _, it := range p.NetworkInterfaceSets.NetworkInterfaceSet {
			if _, ok := b.enis[it.NetworkInterfaceId]; !ok && it.NetworkInterfaceId != "" {
				b.enis[it.NetworkInterfaceId] = sourced[eniItem]{src, it}
			}
		}
	case kindVPCs:
		var p vpcsPage
		if err := decode(&p); err != nil {
			return err
		}
		b.paged(string(k), src, "", p.TotalCount)
		for _, it := range p.Vpcs.Vpc {
			if _, ok := b.vpcs[it.VpcId]; !ok && it.VpcId != "" {
				b.vpcs[it.VpcId] = sourced[vpcItem]{src, it}
			}
		}
	case kindPrefixLists:
		var p prefixListsPage
		if err := decode(&p); err != nil {
			return err
		}
		b.paged(string(k), src, p.NextToken, 0)
		for i := range p.PrefixLists.PrefixList {
			it := &p.PrefixLists.PrefixList[i]
			if d := b.list(src, it.PrefixListId); d.item == nil {
				d.item = it
			}
		}
	case kindPrefixListAttrs:
		var a prefixListAttr
		if err := decode(&a); err != nil {
			return err
		}
		if d := b.list(src, a.PrefixListId); d.attr == nil {
			d.attr = &a
		}
	case kindError:
		var e errorBody
		_ = json.Unmarshal(raw, &e)
		b.warn(src, "", "", "this is an API error (%s: %s), not a response; call the API again and save its answer", e.Code, e.Message)
	default:
		b.warn(src, "", "", "not an ECS response this import reads (DescribeSecurityGroups, DescribeSecurityGroupAttribute, DescribeInstances, DescribePrefixLists, DescribePrefixListAttributes, DescribePortRangeLists, DescribePortRangeListEntries, DescribeNetworkInterfaces, VPC DescribeVpcs); skipped")
	}
	return nil
}

func (b *builder) list(src, id string) *listData {
	d := b.lists[id]
	if d == nil {
		d = &listData{src: src}
		b.lists[id] = d
	}
	return d
}

// finish converts everything read.
func (b *builder) finish() *Account {
	a := &Account{}
	for _, id := range slices.Sorted(maps.Keys(b.groups)) {
		a.Groups = append(a.Groups, b.convertGroup(id, b.groups[id]))
	}
	for _, id := range slices.Sorted(maps.Keys(b.lists)) {
		if pl := b.convertList(id, b.lists[id]); pl != nil {
			a.PrefixLists = append(a.PrefixLists, pl)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(b.insts)) {
		a.Instances = append(a.Instances, b.convertInstance(b.insts[id]))
	}
	for _, id := range slices.Sorted(maps.Keys(b.enis)) {
		if n := b.convertENI(b.enis[id]); n != nil {
			a.ENIs = append(a.ENIs, n)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(b.vpcs)) {
		a.VPCs = append(a.VPCs, b.convertVPC(b.vpcs[id])...)
	}
	b.settleOwner(a)
	b.checkReferences(a)
	b.checkVPCs(a)
	b.finishPortLists(a)
	b.checkPaging()
	a.Warnings = b.warnings
	return a
}

// convertGroup builds a group from its list entry and its attribute
// responses; either may be missing, which is warned about.
func (b *builder) convertGroup(id string, d *groupData) *model.SecurityGroup {
	g := &model.SecurityGroup{ID: id, Region: cmp.Or(d.region, b.region), Type: model.Normal, Rules: []model.Rule{}}
	if it := d.item; it != nil {
		g.Name, g.Description, g.VpcID, g.ResourceGroupID = it.SecurityGroupName, it.Description, it.VpcId, it.ResourceGroupId
		g.Created, g.Tags = parseTime(it.CreationTime), tags(it.Tags)
		t, err := model.ParseGroupType(it.SecurityGroupType)
		if err != nil {
			b.warn(d.src, id, "", "SecurityGroupType %q is unknown; imported as a basic (normal) group", it.SecurityGroupType)
		} else {
			g.Type = t
		}
	} else {
		g.Name, g.Description, g.VpcID = d.attr.SecurityGroupName, d.attr.Description, d.attr.VpcId
		b.warn(d.src, id, "", "the group is missing from the DescribeSecurityGroups responses, so its type is unknown; imported as a basic (normal) group: save DescribeSecurityGroups too")
	}
	g.InnerAccessPolicy = model.DefaultInnerAccessPolicy(g.Type) // what ECS gives a new group of the type
	if d.attr == nil {
		b.warn(d.src, id, "", "no DescribeSecurityGroupAttribute response for this group, so it is imported without rules and with InnerAccessPolicy %s: save `DescribeSecurityGroupAttribute --SecurityGroupId %s` too", g.InnerAccessPolicy, id)
		return g
	}
	if p, err := model.ParseInnerAccessPolicy(d.attr.InnerAccessPolicy); err == nil {
		g.InnerAccessPolicy = p
	} else if g.Type == model.Normal {
		b.warn(d.src, id, "", "InnerAccessPolicy %q is not Accept or Drop; imported as %s", d.attr.InnerAccessPolicy, g.InnerAccessPolicy)
	}
	// The group invariants hold for imported groups too; what breaks one is
	// kept as ECS stored it (an import records, it does not refuse) and said.
	if e := model.CheckGroup(g); e != nil {
		b.warn(d.src, id, "", "%s (%s); imported as it is", e.Message, e.Code)
	}
	g.Rules = b.convertRules(g, d.perms)
	return g
}

// convertRules converts a group's permissions, once each: pages and the
// two NicType calls of a classic group may be saved more than once.
func (b *builder) convertRules(g *model.SecurityGroup, perms []sourced[permission]) []model.Rule {
	out := []model.Rule{}
	seen := map[string]bool{}
	noID := false
	for _, sp := range perms {
		r, ok := b.convertRule(sp.src, g, sp.v)
		if !ok {
			continue
		}
		key := r.ID
		if key == "" {
			key, noID = "content:"+r.Key(), true
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, r)
			b.ruleSrc[g.ID+"/"+r.ID] = sp.src
		}
	}
	if noID {
		b.warn(perms[0].src, g.ID, "", "some rules carry no SecurityGroupRuleId (an older API response), so decisions and findings cannot name them; save the responses again to get the IDs")
	}
	// The model keeps rules in creation order; responses list them in
	// evaluation order, which a stable sort keeps among rules of one second.
	slices.SortStableFunc(out, func(x, y model.Rule) int { return x.Created.Compare(y.Created) })
	return out
}

// convertRule validates one permission with model.ParseRule, as the API
// validates a rule it is given.
func (b *builder) convertRule(src string, g *model.SecurityGroup, p permission) (model.Rule, bool) {
	skip := func(format string, args ...any) (model.Rule, bool) {
		b.warn(src, g.ID, p.SecurityGroupRuleId, "rule skipped: "+format, args...)
		return model.Rule{}, false
	}
	dir, ok := direction(p)
	if !ok {
		return skip("it has no Direction and its fields fit either direction; save DescribeSecurityGroupAttribute with Direction=all from a current API version")
	}
	in := inputOf(dir, p)
	if n, err := strconv.Atoi(in.Priority); err == nil && (n < model.MinPriority || n > model.MaxPriority) {
		clamped := min(max(n, model.MinPriority), model.MaxPriority)
		b.warn(src, g.ID, p.SecurityGroupRuleId, "priority %d is outside %d-%d (rules made by older ECS versions); imported at %d, so its order against other rules of priority %d may differ from ECS's", n, model.MinPriority, model.MaxPriority, clamped, clamped)
		in.Priority = strconv.Itoa(clamped)
	}
	for _, note := range model.Canonicalize(&in) {
		b.warn(src, g.ID, p.SecurityGroupRuleId, "%s", note)
	}
	r, owner, e := model.ParseRule(dir, in, g.Classic())
	if e != nil {
		return skip("%s (%s)", e.Message, e.Code)
	}
	r.ID, r.Created = p.SecurityGroupRuleId, parseTime(p.CreateTime)
	r.Peer.GroupOwner = cmp.Or(owner.ID, owner.Account)
	return r, true
}

// direction returns a rule's direction: as given (ECS returns it per rule),
// or, in older responses without it, as the only side that names a peer.
func direction(p permission) (model.Direction, bool) {
	switch strings.ToLower(p.Direction) {
	case "ingress":
		return model.Ingress, true
	case "egress":
		return model.Egress, true
	}
	src := p.SourceCidrIp != "" || p.Ipv6SourceCidrIp != "" || p.SourceGroupId != "" || p.SourcePrefixListId != ""
	dst := p.DestCidrIp != "" || p.Ipv6DestCidrIp != "" || p.DestGroupId != "" || p.DestPrefixListId != ""
	switch {
	case src && !dst:
		return model.Ingress, true
	case dst && !src:
		return model.Egress, true
	}
	return "", false
}

// inputOf maps a permission to the request fields ParseRule reads. The
// owner UID a response gives in *GroupOwnerAccount is the request's
// *GroupOwnerId; a non-numeric value is an account name.
func inputOf(dir model.Direction, p permission) model.RuleInput {
	in := model.RuleInput{Policy: p.Policy, Priority: string(p.Priority), IpProtocol: p.IpProtocol, PortRange: p.PortRange, PortRangeListId: p.PortRangeListId,
		SourcePortRange: p.SourcePortRange, NicType: p.NicType, Description: p.Description,
		SourceCidrIp: p.SourceCidrIp, Ipv6SourceCidrIp: p.Ipv6SourceCidrIp, SourceGroupId: p.SourceGroupId, SourcePrefixListId: p.SourcePrefixListId,
		DestCidrIp: p.DestCidrIp, Ipv6DestCidrIp: p.Ipv6DestCidrIp, DestGroupId: p.DestGroupId, DestPrefixListId: p.DestPrefixListId}
	if in.SourcePortRange == "-1/-1" { // no source-port filter, however shown
		in.SourcePortRange = ""
	}
	owner, id, acct := p.SourceGroupOwnerAccount, &in.SourceGroupOwnerId, &in.SourceGroupOwnerAccount
	if dir == model.Egress {
		owner, id, acct = p.DestGroupOwnerAccount, &in.DestGroupOwnerId, &in.DestGroupOwnerAccount
	}
	if _, err := strconv.ParseUint(string(owner), 10, 64); err == nil {
		*id = string(owner)
	} else {
		*acct = string(owner)
	}
	return in
}

// parseTime reads ECS's UTC times, with or without seconds
// ("2021-08-31T03:12:29Z", "2017-12-10T04:04Z"); zero if neither.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func tags(ts tagSet) []model.Tag {
	var out []model.Tag
	for _, t := range ts.Tag {
		out = append(out, model.Tag{Key: t.TagKey, Value: t.TagValue})
	}
	return out
}

// checkPaging warns about calls whose saved pages look incomplete.
func (b *builder) checkPaging() {
	listed := 0
	for _, d := range b.groups {
		if d.item != nil {
			listed++
		}
	}
	held := map[string]int{string(kindGroups): listed, string(kindInstances): len(b.insts), string(kindENIs): len(b.enis), string(kindVPCs): len(b.vpcs)}
	for _, call := range slices.Sorted(maps.Keys(b.paging)) {
		p := b.paging[call]
		n, counted := held[call]
		switch {
		case counted && p.total > n:
			b.warn(p.src, "", "", "%s reports %d resources in all but the saved pages hold %d: save the missing pages too", call, p.total, n)
		case p.total == 0 && !p.last:
			b.warn(p.src, "", "", "no saved page of %s is the last one (each carries a NextToken): save the following pages too, passing each NextToken back", call)
		}
	}
}
