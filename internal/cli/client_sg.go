package cli

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/core/model"
)

var sgCommands = []command{
	{name: "list", synopsis: "[--vpc ID] [--name N]", summary: "list security groups", min: 0, max: 0, setup: sgList},
	{name: "show", synopsis: "SG_ID", summary: "show a security group and its rules", min: 1, max: 1, setup: sgShow},
	{name: "create", synopsis: "[--name N] [--description D] [--vpc ID] [--type normal|enterprise]",
		summary: "create a security group and print its ID", min: 0, max: 0, setup: sgCreate},
	{name: "authorize", synopsis: "SG_ID --protocol P [--port R] (--cidr C | --group SG | --prefix-list PL) [flags]",
		summary: "add a rule and print the ID(s) of the rules that now match it (warning on stderr when it opens an admin or database port to the internet)", min: 1, max: 1, setup: sgAuthorize},
	{name: "revoke", synopsis: "SG_ID (--rule SGR_ID... | --protocol P [--port R] (--cidr C | --group SG | --prefix-list PL) [flags])",
		summary: "remove rules, by ID or by what they match, and print the IDs removed", min: 1, max: 1, setup: sgRevoke},
	{name: "delete", synopsis: "SG_ID", summary: "delete a security group", min: 1, max: 1, setup: sgDelete},
	{name: "counters", synopsis: "SG_ID", summary: "show the packets and bytes each rule decided on every host, as agents reported (a rule no agent reported shows -)",
		min: 1, max: 1, setup: sgCounters},
	{name: "clone", synopsis: "SG_ID [--name N] [--vpc ID]",
		summary: "copy a group with its rules and policy, to try a change on the copy first; print the copy's ID (a copy that cannot be finished is deleted)", min: 1, max: 1, setup: sgClone},
}

func sgList(fs *flag.FlagSet) func(c *call) int {
	vpcID := fs.String("vpc", "", "only groups of this VPC `ID`")
	name := fs.String("name", "", "only groups with this `name`")
	return func(c *call) int {
		var all []ecs.SecurityGroup
		var last *ecs.DescribeSecurityGroupsResponse
		for page := 1; ; page++ {
			req := ecs.CreateDescribeSecurityGroupsRequest()
			c.prep(req)
			req.VpcId, req.SecurityGroupName = *vpcID, *name
			req.PageNumber, req.PageSize = requests.NewInteger(page), requests.NewInteger(50)
			resp, err := c.ecs.DescribeSecurityGroups(req)
			if err != nil {
				return c.fail(err)
			}
			last = resp
			got := resp.SecurityGroups.SecurityGroup
			all = append(all, got...)
			if len(got) == 0 || len(all) >= resp.TotalCount {
				break
			}
		}
		if c.json {
			last.SecurityGroups.SecurityGroup = nonNil(all)
			last.PageNumber, last.PageSize = 1, len(all)
			return c.printJSON(last)
		}
		rows := make([][]string, 0, len(all))
		for _, g := range all {
			rows = append(rows, []string{g.SecurityGroupId, g.SecurityGroupName, g.SecurityGroupType, g.VpcId,
				strconv.Itoa(g.RuleCount), g.Description})
		}
		return c.table([]string{"ID", "NAME", "TYPE", "VPC", "RULES", "DESCRIPTION"}, rows)
	}
}

// describeRules returns a group's attributes with every rule, following
// NextToken across pages. A classic group answers one NicType per call
// (internet when none is asked): its intranet rules (every group-peer
// rule among them) are asked for too, else show hid them, authorize --group
// said the rule it added was missing, and clone left them out.
func (c *call) describeRules(sg string) (*groupRules, error) {
	out := &groupRules{portLists: map[string]string{}}
	if err := c.describeNicRules(sg, "internet", out); err != nil {
		return nil, err
	}
	if out.VpcId == "" {
		if err := c.describeNicRules(sg, "intranet", out); err != nil {
			return nil, err
		}
	}
	out.NextToken = ""
	return out, nil
}

// describeNicRules adds to out the rules of NicType nic (a VPC group's are
// all intranet, whatever is asked), page by page.
func (c *call) describeNicRules(sg, nic string, out *groupRules) error {
	token := ""
	for {
		req := ecs.CreateDescribeSecurityGroupAttributeRequest()
		c.prep(req)
		req.SecurityGroupId, req.Direction, req.NicType, req.NextToken = sg, "all", nic, token
		resp, err := c.ecs.DescribeSecurityGroupAttribute(req)
		if err != nil {
			return err
		}
		if out.DescribeSecurityGroupAttributeResponse == nil {
			out.DescribeSecurityGroupAttributeResponse = resp
		} else {
			out.Permissions.Permission = append(out.Permissions.Permission, resp.Permissions.Permission...)
		}
		// The SDK's Permission has no PortRangeListId: read it raw.
		var raw struct {
			Permissions struct {
				Permission []struct{ SecurityGroupRuleId, PortRangeListId string }
			}
		}
		if err := json.Unmarshal(resp.GetHttpContentBytes(), &raw); err == nil {
			for _, p := range raw.Permissions.Permission {
				if p.PortRangeListId != "" {
					out.portLists[p.SecurityGroupRuleId] = p.PortRangeListId
				}
			}
		}
		if resp.NextToken == "" || resp.NextToken == token {
			return nil
		}
		token = resp.NextToken
	}
}

// groupRules is a group's attributes with all its rules, and the port
// range list each rule that has one names (by SecurityGroupRuleId).
type groupRules struct {
	*ecs.DescribeSecurityGroupAttributeResponse
	portLists map[string]string
}

// sortPermissions orders rules by direction (ingress first), then priority.
func sortPermissions(ps []ecs.Permission) {
	dir := func(d string) int {
		if strings.EqualFold(d, "ingress") {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(ps, func(a, b ecs.Permission) int {
		if c := cmp.Compare(dir(a.Direction), dir(b.Direction)); c != 0 {
			return c
		}
		pa, _ := strconv.Atoi(a.Priority)
		pb, _ := strconv.Atoi(b.Priority)
		return cmp.Compare(pa, pb)
	})
}

// peerOf is the far side of a rule as shown in tables. A peer group that
// is not among own (the caller's groups) is shown with its owner.
func peerOf(p ecs.Permission, own map[string]bool) string {
	ingress := !strings.EqualFold(p.Direction, "egress")
	cidr, cidr6, group, owner, pl := p.SourceCidrIp, p.Ipv6SourceCidrIp, p.SourceGroupId, p.SourceGroupOwnerAccount, p.SourcePrefixListId
	if !ingress {
		cidr, cidr6, group, owner, pl = p.DestCidrIp, p.Ipv6DestCidrIp, p.DestGroupId, p.DestGroupOwnerAccount, p.DestPrefixListId
	}
	switch {
	case cidr != "":
		return cidr
	case cidr6 != "":
		return cidr6
	case group != "" && owner != "" && !own[group]:
		return group + "@" + owner
	case group != "":
		return group
	}
	return pl
}

// peerGroups lists the groups a rule set refers to.
func peerGroups(ps []ecs.Permission) []string {
	var out []string
	for _, p := range ps {
		for _, g := range []string{p.SourceGroupId, p.DestGroupId} {
			if g != "" && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

func sgShow(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		sg := c.args[0]
		attr, err := c.describeRules(sg)
		if err != nil {
			return c.fail(err)
		}
		sortPermissions(attr.Permissions.Permission)
		if c.json {
			return c.printJSON(attr)
		}
		// The attribute call does not return the type and creation time;
		// DescribeSecurityGroups does. It also tells which peer groups are
		// the caller's own. Show what it answers.
		var typ, created string
		own := map[string]bool{}
		ids := append([]string{sg}, peerGroups(attr.Permissions.Permission)...)
		req := ecs.CreateDescribeSecurityGroupsRequest()
		c.prep(req)
		req.SecurityGroupIds = jsonList(ids[:min(len(ids), 100)]...)
		req.PageSize = requests.NewInteger(50)
		if resp, err := c.ecs.DescribeSecurityGroups(req); err == nil {
			for _, g := range resp.SecurityGroups.SecurityGroup {
				own[g.SecurityGroupId] = true
				if g.SecurityGroupId == sg {
					typ, created = g.SecurityGroupType, g.CreationTime
				}
			}
		}
		c.fields([][2]string{
			{"ID", attr.SecurityGroupId}, {"Name", attr.SecurityGroupName}, {"Description", attr.Description},
			{"Type", typ}, {"VPC", attr.VpcId}, {"Region", attr.RegionId}, {"Inner access", attr.InnerAccessPolicy},
			{"Created", created}, {"Rules", strconv.Itoa(len(attr.Permissions.Permission))},
		})
		fmt.Fprintln(c.stdout)
		rows := make([][]string, 0, len(attr.Permissions.Permission))
		for _, p := range attr.Permissions.Permission {
			ports := p.PortRange
			if l := attr.portLists[p.SecurityGroupRuleId]; l != "" {
				ports = l
			}
			if p.SourcePortRange != "" && p.SourcePortRange != "-1/-1" {
				ports += " from " + p.SourcePortRange
			}
			row := []string{p.SecurityGroupRuleId, strings.ToLower(p.Direction), strings.ToLower(p.Policy),
				p.Priority, strings.ToLower(p.IpProtocol), ports, peerOf(p, own), p.Description}
			if attr.VpcId == "" { // a classic group's rules differ by NicType too
				row = slices.Insert(row, 2, p.NicType)
			}
			rows = append(rows, row)
		}
		head := []string{"ID", "DIR", "POLICY", "PRIO", "PROTO", "PORTS", "PEER", "DESCRIPTION"}
		if attr.VpcId == "" {
			head = slices.Insert(head, 2, "NIC")
		}
		return c.table(head, rows)
	}
}

func sgCreate(fs *flag.FlagSet) func(c *call) int {
	name := fs.String("name", "", "group `name`")
	desc := fs.String("description", "", "group `description`")
	vpcID := fs.String("vpc", "", "VPC `ID` the group belongs to")
	typ := fs.String("type", "", "group type: `normal` (the default) or enterprise")
	return func(c *call) int {
		if *typ != "" && !oneOf(*typ, "normal", "enterprise") {
			return c.usageErr("--type must be normal or enterprise, not %q", *typ)
		}
		req := ecs.CreateCreateSecurityGroupRequest()
		c.prep(req)
		req.SecurityGroupName, req.Description, req.VpcId = *name, *desc, *vpcID
		req.SecurityGroupType = strings.ToLower(*typ)
		resp, err := c.ecs.CreateSecurityGroup(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		fmt.Fprintln(c.stdout, resp.SecurityGroupId)
		return 0
	}
}

func sgDelete(fs *flag.FlagSet) func(c *call) int {
	return func(c *call) int {
		req := ecs.CreateDeleteSecurityGroupRequest()
		c.prep(req)
		req.SecurityGroupId = c.args[0]
		resp, err := c.ecs.DeleteSecurityGroup(req)
		if err != nil {
			return c.fail(err)
		}
		if c.json {
			return c.printJSON(resp)
		}
		return 0
	}
}

// ruleFlags are the flags that describe one rule.
type ruleFlags struct {
	direction, policy, priority, protocol, port, sourcePort *string
	cidr, group, groupOwner, prefixList, description        *string
}

func addRuleFlags(fs *flag.FlagSet) *ruleFlags {
	return &ruleFlags{
		direction:   fs.String("direction", "ingress", "`ingress` or egress"),
		policy:      fs.String("policy", "accept", "`accept` or drop"),
		priority:    fs.String("priority", "1", "priority `N`, 1 (first) to 100"),
		protocol:    fs.String("protocol", "", "`protocol`: tcp, udp, icmp, icmpv6, gre or all"),
		port:        fs.String("port", "", "destination port `range` such as 22/22, 8000/8080 or 22 (means 22/22); -1/-1 for protocols without ports"),
		sourcePort:  fs.String("source-port", "", "source port `range`, same forms as --port"),
		cidr:        fs.String("cidr", "", "peer IPv4 or IPv6 `CIDR` block"),
		group:       fs.String("group", "", "peer security group `ID`"),
		groupOwner:  fs.String("group-owner", "", "`account` (UID or name) owning the --group, if another account's"),
		prefixList:  fs.String("prefix-list", "", "peer prefix list `ID`"),
		description: fs.String("description", "", "rule `description`"),
	}
}

// rule is a validated, normalised rule tuple.
type rule struct {
	direction, policy, priority, protocol, port, sourcePort string
	cidr, group, groupOwner, prefixList, description        string
}

var (
	portPair = regexp.MustCompile(`^(-?\d+)[/-](-?\d+)$`)
	portOne  = regexp.MustCompile(`^-?\d+$`)
)

// normPort turns "22" into "22/22" and "80-90" into "80/90".
func normPort(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if portOne.MatchString(s) {
		return s + "/" + s, true
	}
	if m := portPair.FindStringSubmatch(s); m != nil {
		return m[1] + "/" + m[2], true
	}
	return "", false
}

var protocolNames = map[string]string{"tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "icmpv6": "ICMPv6", "gre": "GRE", "all": "ALL"}

// parse validates the flags; the error is a usage message.
func (f *ruleFlags) parse() (rule, error) {
	r := rule{direction: strings.ToLower(*f.direction), policy: strings.ToLower(*f.policy), priority: strings.TrimSpace(*f.priority),
		cidr: strings.TrimSpace(*f.cidr), group: strings.TrimSpace(*f.group), groupOwner: strings.TrimSpace(*f.groupOwner),
		prefixList: strings.TrimSpace(*f.prefixList), description: *f.description}
	if !oneOf(r.direction, "ingress", "egress") {
		return r, fmt.Errorf("--direction must be ingress or egress, not %q", *f.direction)
	}
	if !oneOf(r.policy, "accept", "drop") {
		return r, fmt.Errorf("--policy must be accept or drop, not %q", *f.policy)
	}
	if _, err := strconv.Atoi(r.priority); err != nil {
		return r, fmt.Errorf("--priority must be a number, not %q", *f.priority)
	}
	if *f.protocol == "" {
		return r, fmt.Errorf("--protocol is required (tcp, udp, icmp, icmpv6, gre or all)")
	}
	var ok bool
	if r.protocol, ok = protocolNames[strings.ToLower(*f.protocol)]; !ok {
		return r, fmt.Errorf("--protocol must be tcp, udp, icmp, icmpv6, gre or all, not %q", *f.protocol)
	}
	hasPorts := r.protocol == "TCP" || r.protocol == "UDP"
	switch {
	case *f.port != "":
		if r.port, ok = normPort(*f.port); !ok {
			return r, fmt.Errorf("--port %q: want a port or a range such as 22, 22/22 or 8000/8080", *f.port)
		}
	case hasPorts:
		return r, fmt.Errorf("--port is required for %s (e.g. --port 22 or --port 1/65535)", strings.ToLower(r.protocol))
	default:
		r.port = "-1/-1"
	}
	if *f.sourcePort != "" {
		if r.sourcePort, ok = normPort(*f.sourcePort); !ok {
			return r, fmt.Errorf("--source-port %q: want a port or a range such as 22, 22/22 or 8000/8080", *f.sourcePort)
		}
	}
	n := 0
	for _, v := range []string{r.cidr, r.group, r.prefixList} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return r, fmt.Errorf("give exactly one peer: --cidr, --group or --prefix-list")
	}
	if r.groupOwner != "" && r.group == "" {
		return r, fmt.Errorf("--group-owner goes with --group")
	}
	return r, nil
}

func (r rule) ingress() bool { return r.direction == "ingress" }

func isIPv6(cidr string) bool { return strings.Contains(cidr, ":") }

// ownerFields splits --group-owner into an account UID or an account name.
func (r rule) ownerFields() (id, account string) {
	if r.groupOwner == "" {
		return "", ""
	}
	if _, err := strconv.ParseUint(r.groupOwner, 10, 64); err == nil {
		return r.groupOwner, ""
	}
	return "", r.groupOwner
}

// input is the tuple as ECS request fields.
func (r rule) input() model.RuleInput {
	in := model.RuleInput{Policy: r.policy, Priority: r.priority, IpProtocol: r.protocol, PortRange: r.port, SourcePortRange: r.sourcePort}
	peer4, peer6, group, ownerID, ownerAcct, pl := &in.SourceCidrIp, &in.Ipv6SourceCidrIp, &in.SourceGroupId, &in.SourceGroupOwnerId, &in.SourceGroupOwnerAccount, &in.SourcePrefixListId
	if !r.ingress() {
		peer4, peer6, group, ownerID, ownerAcct, pl = &in.DestCidrIp, &in.Ipv6DestCidrIp, &in.DestGroupId, &in.DestGroupOwnerId, &in.DestGroupOwnerAccount, &in.DestPrefixListId
	}
	if isIPv6(r.cidr) {
		*peer6 = r.cidr
	} else {
		*peer4 = r.cidr
	}
	*group, *pl = r.group, r.prefixList
	*ownerID, *ownerAcct = r.ownerFields()
	return in
}

// permissionInput is an existing rule as request fields. The owner comes back
// as an account UID in *GroupOwnerAccount.
func permissionInput(p ecs.Permission) model.RuleInput {
	return model.RuleInput{Policy: p.Policy, Priority: p.Priority, IpProtocol: p.IpProtocol, PortRange: p.PortRange,
		SourcePortRange: p.SourcePortRange, NicType: p.NicType,
		SourceCidrIp: p.SourceCidrIp, Ipv6SourceCidrIp: p.Ipv6SourceCidrIp, SourceGroupId: p.SourceGroupId,
		SourceGroupOwnerAccount: p.SourceGroupOwnerAccount, SourcePrefixListId: p.SourcePrefixListId,
		DestCidrIp: p.DestCidrIp, Ipv6DestCidrIp: p.Ipv6DestCidrIp, DestGroupId: p.DestGroupId,
		DestGroupOwnerAccount: p.DestGroupOwnerAccount, DestPrefixListId: p.DestPrefixListId}
}

// matches reports whether an existing rule is the one this tuple names, by
// the model's rule identity (the same one the server uses for duplicates).
func (r rule) matches(p ecs.Permission) bool {
	if !strings.EqualFold(p.Direction, r.direction) {
		return false
	}
	dir := model.Direction(strings.ToLower(p.Direction))
	want, wantOwner, e1 := model.ParseRule(dir, r.input(), false)
	got, gotOwner, e2 := model.ParseRule(dir, permissionInput(p), false)
	if e1 != nil || e2 != nil {
		return false
	}
	// A name given in --group-owner cannot be compared with the UID that
	// comes back; a UID can.
	if wantOwner.ID != "" && gotOwner.Account != "" && wantOwner.ID != gotOwner.Account {
		return false
	}
	return want.Key() == got.Key()
}

// matching returns the group's rules that the tuple names.
func (r rule) matching(ps []ecs.Permission) []ecs.Permission {
	var out []ecs.Permission
	for _, p := range ps {
		if r.matches(p) {
			out = append(out, p)
		}
	}
	return out
}

func sgAuthorize(fs *flag.FlagSet) func(c *call) int {
	rf := addRuleFlags(fs)
	return func(c *call) int {
		r, err := rf.parse()
		if err != nil {
			return c.usageErr("%v", err)
		}
		sg := c.args[0]
		ownerID, ownerAccount := r.ownerFields()
		if r.ingress() {
			req := ecs.CreateAuthorizeSecurityGroupRequest()
			c.prep(req)
			req.SecurityGroupId = sg
			perm := ecs.AuthorizeSecurityGroupPermissions{Policy: r.policy, Priority: r.priority, IpProtocol: r.protocol,
				PortRange: r.port, SourcePortRange: r.sourcePort, SourceGroupId: r.group, SourceGroupOwnerId: ownerID,
				SourceGroupOwnerAccount: ownerAccount, SourcePrefixListId: r.prefixList, Description: r.description}
			if isIPv6(r.cidr) {
				perm.Ipv6SourceCidrIp = r.cidr
			} else {
				perm.SourceCidrIp = r.cidr
			}
			req.Permissions = &[]ecs.AuthorizeSecurityGroupPermissions{perm}
			if _, err := c.ecs.AuthorizeSecurityGroup(req); err != nil {
				return c.fail(err)
			}
		} else {
			req := ecs.CreateAuthorizeSecurityGroupEgressRequest()
			c.prep(req)
			req.SecurityGroupId = sg
			perm := ecs.AuthorizeSecurityGroupEgressPermissions{Policy: r.policy, Priority: r.priority, IpProtocol: r.protocol,
				PortRange: r.port, SourcePortRange: r.sourcePort, DestGroupId: r.group, DestGroupOwnerId: ownerID,
				DestGroupOwnerAccount: ownerAccount, DestPrefixListId: r.prefixList, Description: r.description}
			if isIPv6(r.cidr) {
				perm.Ipv6DestCidrIp = r.cidr
			} else {
				perm.DestCidrIp = r.cidr
			}
			req.Permissions = &[]ecs.AuthorizeSecurityGroupEgressPermissions{perm}
			if _, err := c.ecs.AuthorizeSecurityGroupEgress(req); err != nil {
				return c.fail(err)
			}
		}
		if w := r.warning(); w != "" {
			fmt.Fprintf(c.stderr, "palisade %s: warning: %s\n", c.name, w)
		}
		// AuthorizeSecurityGroup does not return the rule's ID: find it.
		attr, err := c.describeRules(sg)
		if err != nil {
			return c.fail(err)
		}
		found := r.matching(attr.Permissions.Permission)
		if c.json {
			return c.printJSON(ecs.Permissions{Permission: nonNil(found)})
		}
		if len(found) == 0 {
			fmt.Fprintf(c.stderr, "palisade %s: the rule was added but no rule of %s matches it\n", c.name, sg)
			return 1
		}
		for _, p := range found {
			fmt.Fprintln(c.stdout, p.SecurityGroupRuleId)
		}
		return 0
	}
}

// warning says, for an inbound accept that opens administration or
// database ports to the internet or half of it, what the console warns
// before such a change (audit.RiskyOpened); "" otherwise.
func (r rule) warning() string {
	if !r.ingress() || r.cidr == "" {
		return ""
	}
	m, _, err := model.ParseRule(model.Ingress, r.input(), false)
	if err != nil {
		return ""
	}
	risky := audit.RiskyOpened(&m)
	if risky == "" {
		return ""
	}
	to := "the whole internet"
	if !audit.Internet(m.Peer.CIDR) {
		to = "half the internet"
	}
	return fmt.Sprintf("the rule opens %s to %s (%s); prefer the addresses that need it, or a bastion's group (palisade audit reports it)", risky, to, r.cidr)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sgRevoke(fs *flag.FlagSet) func(c *call) int {
	var ids stringList
	fs.Var(&ids, "rule", "rule `ID` to remove (repeat, or separate with commas)")
	rf := addRuleFlags(fs)
	return func(c *call) int {
		sg := c.args[0]
		if len(ids) > 0 {
			if *rf.protocol != "" || *rf.cidr != "" || *rf.group != "" || *rf.prefixList != "" || *rf.port != "" {
				return c.usageErr("give either --rule or the rule's flags (--protocol, --port, --cidr, ...), not both")
			}
			return c.revokeIDs(sg, ids, strings.ToLower(*rf.direction))
		}
		r, err := rf.parse()
		if err != nil {
			return c.usageErr("%v (or give --rule SGR_ID)", err)
		}
		before, err := c.describeRules(sg)
		if err != nil {
			return c.fail(err)
		}
		gone := r.matching(before.Permissions.Permission)
		ownerID, ownerAccount := r.ownerFields()
		if r.ingress() {
			req := ecs.CreateRevokeSecurityGroupRequest()
			c.prep(req)
			req.SecurityGroupId = sg
			perm := ecs.RevokeSecurityGroupPermissions{Policy: r.policy, Priority: r.priority, IpProtocol: r.protocol,
				PortRange: r.port, SourcePortRange: r.sourcePort, SourceGroupId: r.group, SourceGroupOwnerId: ownerID,
				SourceGroupOwnerAccount: ownerAccount, SourcePrefixListId: r.prefixList}
			if isIPv6(r.cidr) {
				perm.Ipv6SourceCidrIp = r.cidr
			} else {
				perm.SourceCidrIp = r.cidr
			}
			req.Permissions = &[]ecs.RevokeSecurityGroupPermissions{perm}
			resp, err := c.ecs.RevokeSecurityGroup(req)
			if err != nil {
				return c.fail(err)
			}
			if c.json {
				return c.printJSON(resp)
			}
		} else {
			req := ecs.CreateRevokeSecurityGroupEgressRequest()
			c.prep(req)
			req.SecurityGroupId = sg
			perm := ecs.RevokeSecurityGroupEgressPermissions{Policy: r.policy, Priority: r.priority, IpProtocol: r.protocol,
				PortRange: r.port, SourcePortRange: r.sourcePort, DestGroupId: r.group, DestGroupOwnerId: ownerID,
				DestGroupOwnerAccount: ownerAccount, DestPrefixListId: r.prefixList}
			if isIPv6(r.cidr) {
				perm.Ipv6DestCidrIp = r.cidr
			} else {
				perm.DestCidrIp = r.cidr
			}
			req.Permissions = &[]ecs.RevokeSecurityGroupEgressPermissions{perm}
			resp, err := c.ecs.RevokeSecurityGroupEgress(req)
			if err != nil {
				return c.fail(err)
			}
			if c.json {
				return c.printJSON(resp)
			}
		}
		for _, p := range gone {
			fmt.Fprintln(c.stdout, p.SecurityGroupRuleId)
		}
		return 0
	}
}

// revokeIDs removes rules by ID. Ingress and egress rules are revoked by
// different actions, so the group is described first to sort them; IDs it
// does not know go to the --direction action, which reports them.
func (c *call) revokeIDs(sg string, ids []string, defaultDir string) int {
	if !oneOf(defaultDir, "ingress", "egress") {
		return c.usageErr("--direction must be ingress or egress, not %q", defaultDir)
	}
	attr, err := c.describeRules(sg)
	if err != nil {
		return c.fail(err)
	}
	dirOf := map[string]string{}
	for _, p := range attr.Permissions.Permission {
		dirOf[p.SecurityGroupRuleId] = strings.ToLower(p.Direction)
	}
	var in, out []string
	for _, id := range ids {
		d := dirOf[id]
		if d == "" {
			d = defaultDir
		}
		if d == "egress" {
			out = append(out, id)
		} else {
			in = append(in, id)
		}
	}
	var resps []any
	if len(in) > 0 {
		req := ecs.CreateRevokeSecurityGroupRequest()
		c.prep(req)
		req.SecurityGroupId, req.SecurityGroupRuleId = sg, &in
		resp, err := c.ecs.RevokeSecurityGroup(req)
		if err != nil {
			return c.fail(err)
		}
		resps = append(resps, resp)
	}
	if len(out) > 0 {
		req := ecs.CreateRevokeSecurityGroupEgressRequest()
		c.prep(req)
		req.SecurityGroupId, req.SecurityGroupRuleId = sg, &out
		resp, err := c.ecs.RevokeSecurityGroupEgress(req)
		if err != nil {
			return c.fail(err)
		}
		resps = append(resps, resp)
	}
	if c.json {
		if len(resps) == 1 {
			return c.printJSON(resps[0])
		}
		return c.printJSON(resps)
	}
	for _, id := range append(in, out...) {
		fmt.Fprintln(c.stdout, id)
	}
	return 0
}
