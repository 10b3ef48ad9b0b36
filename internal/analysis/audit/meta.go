package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/analysis/space"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// Metadata checks: membership, names and descriptions, rule counts against
// the quotas, public addresses and the network type.

func init() {
	register(
		Check{ID: "SGA-015", Title: "One group holds most instances of a network, or one group per instance", Severity: Low, Run: groupSpread},
		Check{ID: "SGA-016", Title: "Unused security group", Severity: Low, Run: unusedGroups},
		Check{ID: "SGA-017", Title: "Auto-created default group is permissive", Severity: High, Run: defaultPermissive},
		Check{ID: "SGA-018", Title: "Missing description", Severity: Low, Run: descriptions},
		Check{ID: "SGA-020", Title: "Too many rules, or near the rule quotas", Severity: Medium, Run: ruleCounts},
		Check{ID: "SGA-027", Title: "Instance has a public IP or EIP", Severity: Medium, Run: publicAddresses},
		Check{ID: "SGA-030", Title: "Classic network in use", Severity: Medium, Run: classicNetwork},
	)
}

// Thresholds of SGA-015. Below them one shared group is a small, single
// purpose deployment, not a smell.
const (
	crowdMinInstances  = 5  // a network needs this many instances before one group can hold "most"
	crowdPercent       = 80 // "most"
	spreadMinInstances = 4  // and this many before "one group each" is a pattern
)

// quotaPercent is how close to a quota counts as near it (SGA-020).
const quotaPercent = 80

// networkName names a VPC ID, or "" as the classic network.
func networkName(vpcID string) string {
	if vpcID == "" {
		return "the classic network"
	}
	return vpcID
}

// SGA-015: in a network of enough instances, a group holding 80% of them or
// more (one group for all roles), or no two instances sharing any group
// (one group per instance). Instances in several groups count in each.
// A network is one account's in one region: the classic network holds
// every account's classic instances (and every region's has VpcID ""),
// and another account's count and grouping are that account's to know.
func groupSpread(in *Input) []Finding {
	c := in.Cloud
	type network struct{ owner, region, vpc string }
	nets := map[network]int{} // network → instances
	for _, inst := range c.Instances {
		nets[network{inst.Owner, inst.Region, inst.VpcID}]++
	}
	shared := map[network]bool{} // networks where some group has two members or more
	for _, g := range c.Groups {
		if len(c.Members(g.ID)) >= 2 {
			shared[network{g.Owner, g.Region, g.VpcID}] = true
		}
	}
	var out []Finding
	for _, g := range groupsByID(c) {
		net := network{g.Owner, g.Region, g.VpcID}
		n, m, where := nets[net], len(c.Members(g.ID)), networkName(g.VpcID)
		if g.VpcID == "" {
			where = "the account's part of the classic network"
		}
		switch {
		case n >= crowdMinInstances && m*100 >= n*crowdPercent:
			out = append(out, Finding{Check: "SGA-015", Severity: Low, Resource: g.ID,
				Message: fmt.Sprintf("Group %s holds %d of the %d instances in %s, so instances of different roles share the same rules.", g.ID, m, n, where),
				Fix:     "Split the instances into groups by role or tier (web, application, database) and grant access between the groups by reference."})
		case n >= spreadMinInstances && m == 1 && !shared[net]:
			out = append(out, Finding{Check: "SGA-015", Severity: Low, Resource: g.ID,
				Message: fmt.Sprintf("Group %s holds only %s, and no two of the %d instances in %s share a group: one group per instance multiplies the rules to keep in step.", g.ID, c.Members(g.ID)[0].ID, n, where),
				Fix:     "Put instances with the same role into one group and delete the per-instance groups."})
		}
	}
	return out
}

// SGA-016: no members in the snapshot and no other group names it. Members
// are NICs (policy.Cloud.Members), so a group that only a secondary ENI
// uses is not unused.
func unusedGroups(in *Input) []Finding {
	c := in.Cloud
	named := map[string]bool{}
	eachRule(c, func(g *model.SecurityGroup, r *model.Rule) {
		if r.Peer.GroupID != "" && r.Peer.GroupID != g.ID {
			named[r.Peer.GroupID] = true
		}
	})
	var out []Finding
	for _, g := range groupsByID(c) {
		if len(c.Members(g.ID)) == 0 && !named[g.ID] {
			out = append(out, Finding{Check: "SGA-016", Severity: Low, Resource: g.ID,
				Message: fmt.Sprintf("Group %s has no member instances and no other group's rule names it.", g.ID),
				Fix:     "Delete it (DeleteSecurityGroup) so that nobody adds an instance to it by mistake; if it is kept for later, say so in its description."})
		}
	}
	return out
}

// autoCreated says why a group looks like one ECS created by itself. When
// an instance is bought without choosing a group, ECS creates one named
// after its own ID ("sg-…") with the description "System created security
// group."; default groups elsewhere are named "default". A name or
// description that merely mentions these words elsewhere does not count.
func autoCreated(g *model.SecurityGroup) (string, bool) {
	name := strings.ToLower(g.Name)
	switch {
	case strings.HasPrefix(strings.ToLower(g.Description), "system created"):
		return "its description is " + fmt.Sprintf("%q", g.Description), true
	case strings.HasPrefix(name, "sg-"):
		return "it is named like a group ID, as ECS names the groups it creates at instance launch", true
	case name == "default" || strings.HasPrefix(name, "default-") || strings.HasPrefix(name, "default_"):
		return fmt.Sprintf("it is named %q", g.Name), true
	}
	return "", false
}

// SGA-017: an auto-created group that accepts SSH (22) or RDP (3389) from
// the internet (a block that alone is), the quick-launch default (Alibaba
// R24).
func defaultPermissive(in *Input) []Finding {
	var out []Finding
	eachRule(in.Cloud, func(g *model.SecurityGroup, r *model.Rule) {
		why, ok := autoCreated(g)
		if !ok || !in.live(g, r, model.Ingress) {
			return
		}
		b := internetBlock(in.Cloud, r)
		if !b.IsValid() {
			return
		}
		for _, port := range []uint16{22, 3389} {
			if admitsTCP(in.Cloud, r, port) {
				out = append(out, ruleFinding("SGA-017", High, g, r,
					fmt.Sprintf("Group %s looks auto-created (%s) and %s accepts TCP port %d from %s, the quick-launch default that opens remote login to the internet.", g.ID, why, ruleName(g, r), port, peerName(r, b)),
					"Narrow the rule's source to your office or bastion addresses right away, and move the instances to a group made for their role."))
				return
			}
		}
	})
	return out
}

// SGA-018: a group or a rule without a description.
func descriptions(in *Input) []Finding {
	var out []Finding
	for _, g := range groupsByID(in.Cloud) {
		if strings.TrimSpace(g.Description) == "" {
			out = append(out, Finding{Check: "SGA-018", Severity: Low, Resource: g.ID,
				Message: "Group " + g.ID + " has no description.",
				Fix:     "Say what the group is for and who owns it (ModifySecurityGroupAttribute Description)."})
		}
		for i := range g.Rules {
			r := &g.Rules[i]
			if strings.TrimSpace(r.Description) == "" {
				out = append(out, ruleFinding("SGA-018", Low, g, r,
					ruleTitle(g, r)+" ("+string(r.Direction)+" "+string(r.Policy)+" "+what(r)+") has no description.",
					"Say why the rule exists (ModifySecurityGroupRule Description), so that a later review can tell whether it is still needed."))
			}
		}
	}
	return out
}

// SGA-020: more rules than Options.MaxRules, or near a quota: the group's
// rule quota (prefix-list rules weigh their MaxEntries), the group-peer rule
// quota of basic groups, and the rule quota of one NIC across its groups.
func ruleCounts(in *Input) []Finding {
	c := in.Cloud
	lists := model.Lists{Prefix: func(id string) *model.PrefixList { return c.PrefixLists[id] }, Ports: func(id string) *model.PortRangeList { return c.PortRangeLists[id] }}
	near := func(n, quota int) bool { return n*100 >= quota*quotaPercent }
	var out []Finding
	for _, g := range groupsByID(c) {
		n, w := len(g.Rules), model.RuleCount(g, lists)
		switch {
		case near(w, model.MaxRulesPerGroup):
			out = append(out, Finding{Check: "SGA-020", Severity: Medium, Resource: g.ID,
				Message: fmt.Sprintf("Group %s uses %d of the %d rules a group may hold (%d rules; a prefix-list rule counts as the list's MaxEntries).", g.ID, w, model.MaxRulesPerGroup, n),
				Fix:     "Merge rules that differ only in port or address into ranges or prefix lists, remove rules no longer needed, or split the group by role."})
		case n > in.Options.MaxRules:
			out = append(out, Finding{Check: "SGA-020", Severity: Medium, Resource: g.ID,
				Message: fmt.Sprintf("Group %s has %d rules, more than the %d this audit allows: a group this large is hard to review.", g.ID, n, in.Options.MaxRules),
				Fix:     "Merge rules that differ only in port or address into ranges or prefix lists, remove rules no longer needed, or split the group by role."})
		}
		if p := g.GroupPeerRules(); g.Type == model.Normal && near(p, model.MaxGroupPeerRules) {
			out = append(out, Finding{Check: "SGA-020", Severity: Medium, Resource: g.ID,
				Message: fmt.Sprintf("Group %s has %d rules whose peer is a security group, of the %d a basic group may have.", g.ID, p, model.MaxGroupPeerRules),
				Fix:     "Put instances that need the same access into one peer group, or grant stable ranges by prefix list."})
		}
	}
	for _, inst := range in.instancesByID() {
		if w := nicRules(c, inst, lists); near(w, model.MaxRulesPerNIC) {
			out = append(out, Finding{Check: "SGA-020", Severity: Medium, Resource: inst.ID,
				Message: fmt.Sprintf("Instance %s is governed by %d rules across its groups, of the %d one network interface may have.", inst.ID, w, model.MaxRulesPerNIC),
				Fix:     "Remove the instance from groups it does not need, or trim the rules of its groups."})
		}
	}
	return out
}

func nicRules(c *policy.Cloud, in *model.Instance, lists model.Lists) int {
	n := 0
	for _, g := range c.GroupsOf(in) {
		n += model.RuleCount(g, lists)
	}
	return n
}

// SGA-027: an instance with a public IP or an EIP: medium, and high (as
// the catalogue says) when the internet at large also reaches it on a port
// SGA-001 to -006 judge. (Which ports, and through which rules, is those
// checks' to say.)
func publicAddresses(in *Input) []Finding {
	var exposed map[string]bool
	var out []Finding
	for _, inst := range in.instancesByID() {
		if !inst.PublicIP.IsValid() {
			continue
		}
		if exposed == nil {
			exposed = exposedOnReportedPorts(in)
		}
		what := "public IP " + inst.PublicIP.String()
		if inst.EipID != "" {
			what = fmt.Sprintf("EIP %s (%s)", inst.EipID, inst.PublicIP)
		}
		who := "Instance"
		if isENI(inst) { // a secondary ENI's own EIP
			who = "Network interface"
		}
		f := Finding{Check: "SGA-027", Severity: Medium, Resource: inst.ID,
			Message: fmt.Sprintf("%s %s has the %s, so its groups' rules are all that stands between it and the internet.", who, inst.ID, what),
			Fix:     "Release the address if the instance needs none: serve the public through SLB and reach out through a NAT gateway, keeping public addresses on a few dedicated instances."}
		if exposed[inst.ID] {
			f.Severity = High
			f.Message = fmt.Sprintf("%s %s has the %s, and its groups let the internet in on ports the exposure checks (SGA-001 to SGA-006) report.", who, inst.ID, what)
		}
		out = append(out, f)
	}
	return out
}

// exposedOnReportedPorts returns the instances the internet at large
// reaches on a TCP or UDP port outside Options.AllowedPorts, or on a risky
// port (SGA-001 to -006 report each such opening).
func exposedOnReportedPorts(in *Input) map[string]bool {
	out := map[string]bool{}
	for _, x := range engineFor(in).exposed() {
		for _, o := range x.open {
			if !o.proto.Ports() {
				continue
			}
			if len(minusPorts(o.lo, o.hi, in.Options.AllowedPorts)) > 0 || slices.ContainsFunc(riskyPorts, func(rp riskyPort) bool {
				return (o.proto == space.TCP || o.proto == space.UDP && rp.udp) && o.lo <= rp.port && rp.port <= o.hi
			}) {
				out[x.inst.ID] = true
				break
			}
		}
	}
	return out
}

// SGA-030: a classic-network group or instance.
func classicNetwork(in *Input) []Finding {
	var out []Finding
	for _, g := range groupsByID(in.Cloud) {
		if g.Classic() {
			out = append(out, Finding{Check: "SGA-030", Severity: Medium, Resource: g.ID,
				Message: fmt.Sprintf("Group %s is on the classic network, not in a VPC, so its intranet rules face every classic instance in the region, other accounts' included.", g.ID),
				Fix:     "Recreate the group in a VPC (CreateSecurityGroup with VpcId) and migrate its instances there."})
		}
	}
	for _, inst := range in.instancesByID() {
		if inst.Classic() {
			out = append(out, Finding{Check: "SGA-030", Severity: Medium, Resource: inst.ID,
				Message: fmt.Sprintf("Instance %s is on the classic network, not in a VPC.", inst.ID),
				Fix:     "Migrate the instance to a VPC (the ECS classic-to-VPC migration), with groups created in that VPC."})
		}
	}
	return out
}
