package audit

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// Governance checks read tags, names, group types and memberships against
// the account's own conventions (Options): production kept apart from the
// rest, the tags and names every resource must carry, the groups that must
// be enterprise, and no instance left without a group.

func init() {
	register(
		Check{ID: "SGA-014", Title: "Production and non-production instances share a group or reach each other", Severity: Medium, Run: prodSeparation},
		Check{ID: "SGA-019", Title: "Missing owner/app/env tags, or a name against the convention", Severity: Low, Run: tagsAndNames},
		Check{ID: "SGA-029", Title: "Instance without a security group", Severity: High, Run: withoutGroup},
		Check{ID: "SGA-031", Title: "Basic group where the policy requires enterprise", Severity: Low, Run: enterpriseRequired},
	)
}

// tagValue returns the value of tag key (keys compare exactly, as ECS's do).
func tagValue(tags []model.Tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// envTag is the env tag key of SGA-014.
const envTag = "env"

// environment returns an instance's env tag value, and whether it is
// production; "" when the instance has no env value.
func (o Options) environment(in *model.Instance) (env string, prod bool) {
	env, _ = tagValue(in.Tags, envTag)
	env = strings.TrimSpace(env)
	return env, env != "" && slices.ContainsFunc(o.ProdValues, func(p string) bool { return strings.EqualFold(p, env) })
}

// SGA-014 (Alibaba R11): a group holding both production instances (env
// tag in Options.ProdValues) and instances of another environment; and,
// for such a pair that shares no group, any flow between them in either
// direction (the reachability analysis, so that priorities, drops and
// intra-group access count as the data plane applies them). Instances
// without an env tag are not judged.
func prodSeparation(in *Input) []Finding {
	c, o := in.Cloud, in.Options
	prod, other := environments(in)
	if len(prod) == 0 || len(other) == 0 {
		return nil
	}
	var out []Finding
	for _, g := range groupsByID(c) {
		var p, n []string
		for _, m := range c.Members(g.ID) {
			switch env, isProd := o.environment(m); {
			case isProd:
				p = append(p, m.ID)
			case env != "":
				n = append(n, fmt.Sprintf("%s (env=%s)", m.ID, env))
			}
		}
		if len(p) > 0 && len(n) > 0 {
			slices.Sort(p)
			slices.Sort(n)
			out = append(out, Finding{Check: "SGA-014", Severity: Medium, Resource: g.ID,
				Message: fmt.Sprintf("Group %s holds production instances (%s) and non-production ones (%s), so a rule meant for one environment applies to the other.", g.ID, strings.Join(p, ", "), strings.Join(n, ", ")),
				Fix:     "Give each environment its own groups, and move the instances so that no group holds both."})
		}
	}
	r := in.reachability()
	for _, a := range prod {
		var reached []string
		for _, b := range other {
			if shareGroup(a, b) || o.PerAccount && a.Owner != b.Owner {
				continue // reported on the group; or not the owner's to judge
			}
			env, _ := o.environment(b)
			if v4, v6, err := r.Pair(b.ID, a.ID); err == nil && !(v4.Empty() && v6.Empty()) {
				reached = append(reached, fmt.Sprintf("%s (env=%s) reaches it on %v", b.ID, env, v4.Union(v6)))
			} else if v4, v6, err := r.Pair(a.ID, b.ID); err == nil && !(v4.Empty() && v6.Empty()) {
				reached = append(reached, fmt.Sprintf("it reaches %s (env=%s) on %v", b.ID, env, v4.Union(v6)))
			}
		}
		if len(reached) > 0 {
			penv, _ := o.environment(a)
			out = append(out, Finding{Check: "SGA-014", Severity: Medium, Resource: a.ID,
				Message: fmt.Sprintf("Production instance %s (env=%s) and non-production instances can reach each other: %s.", a.ID, penv, strings.Join(reached, "; ")),
				Fix:     "Revoke the rules that let the environments meet (palisade reach --from and --to show which), or keep them in separate VPCs."})
		}
	}
	return out
}

// environments splits the instances with an env tag, by ID: production
// and the rest.
func environments(in *Input) (prod, other []*model.Instance) {
	for _, inst := range in.instancesByID() {
		switch env, p := in.Options.environment(inst); {
		case p:
			prod = append(prod, inst)
		case env != "":
			other = append(other, inst)
		}
	}
	return prod, other
}

// reachNeeded reports whether SGA-014 reads the reachability: some
// production instance and some instance of another environment share no
// group. (Most clouds carry no env tags; the reachability of a big cloud
// costs more than every other check together.)
func reachNeeded(in *Input) bool {
	prod, other := environments(in)
	for _, a := range prod {
		for _, b := range other {
			if !shareGroup(a, b) && !(in.Options.PerAccount && a.Owner != b.Owner) {
				return true
			}
		}
	}
	return false
}

func shareGroup(a, b *model.Instance) bool {
	return slices.ContainsFunc(a.SecurityGroups, func(g string) bool { return slices.Contains(b.SecurityGroups, g) })
}

// SGA-019 (Alibaba R20): a group or instance without one of
// Options.RequiredTags (or with it empty), or whose name does not match
// Options.NamePattern in full.
func tagsAndNames(in *Input) []Finding {
	o := in.Options
	var name *regexp.Regexp
	if o.NamePattern != "" {
		var err error
		if name, err = regexp.Compile("^(?:" + o.NamePattern + ")$"); err != nil {
			return nil // Options.Validate reports it
		}
	}
	var out []Finding
	judge := func(kind, id, resName string, tags []model.Tag, setTags, setName string) {
		var missing []string
		for _, k := range o.RequiredTags {
			if v, _ := tagValue(tags, k); strings.TrimSpace(v) == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			out = append(out, Finding{Check: "SGA-019", Severity: Low, Resource: id,
				Message: fmt.Sprintf("%s %s lacks the required tag%s %s, by which a review tells who owns a resource, what it serves and in which environment.", kind, id, nounPlural(len(missing)), strings.Join(missing, ", ")),
				Fix:     fmt.Sprintf("Tag it (%s, or tags: in a scenario file) with %s.", setTags, strings.Join(missing, ", "))})
		}
		if name != nil && !name.MatchString(resName) {
			out = append(out, Finding{Check: "SGA-019", Severity: Low, Resource: id,
				Message: fmt.Sprintf("%s %s is named %q, which does not follow the naming convention %s.", kind, id, resName, o.NamePattern),
				Fix:     fmt.Sprintf("Rename it (%s) to a name the convention allows.", setName)})
		}
	}
	for _, g := range groupsByID(in.Cloud) {
		judge("Group", g.ID, g.Name, g.Tags, "TagResources with ResourceType securitygroup", "ModifySecurityGroupAttribute SecurityGroupName")
	}
	for _, inst := range in.instancesByID() {
		if isENI(inst) {
			judge("Network interface", inst.ID, inst.Name, inst.Tags, "TagResources with ResourceType eni", "ModifyNetworkInterfaceAttribute NetworkInterfaceName")
			continue
		}
		judge("Instance", inst.ID, inst.Name, inst.Tags, "TagResources with ResourceType instance", "ModifyInstanceAttribute InstanceName")
	}
	return out
}

// isENI reports whether a NIC of the cloud is a secondary ENI (policy.Cloud
// holds it in the shape of an instance), whose API calls are not an
// instance's.
func isENI(nic *model.Instance) bool { return model.HasPrefix(nic.ID, "eni") }

func nounPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// SGA-029: an instance in no group the snapshot holds. The API refuses to
// leave an instance without a group, but an imported account can hold one
// (a failed change, a group deleted behind the instance's back, or groups
// the credentials cannot read), and such an instance's traffic follows no
// rule anyone can review. The cloud's NICs are its instances and their
// secondary ENIs: an ENI is judged the same way, worded as one.
func withoutGroup(in *Input) []Finding {
	var out []Finding
	for _, inst := range in.instancesByID() {
		if len(in.Cloud.GroupsOf(inst)) > 0 {
			continue
		}
		kind, how := "Instance", "ModifyInstanceAttribute SecurityGroupIds.N, or JoinSecurityGroup"
		if isENI(inst) {
			kind, how = "Network interface", "ModifyNetworkInterfaceAttribute SecurityGroupId.N, or JoinSecurityGroup with NetworkInterfaceId"
		}
		msg := fmt.Sprintf("%s %s is in no security group, so no rule anyone can review decides its traffic.", kind, inst.ID)
		if len(inst.SecurityGroups) > 0 {
			msg = fmt.Sprintf("%s %s names the groups %s, none of which exists in this snapshot, so no rule anyone can review decides its traffic.", kind, inst.ID, strings.Join(inst.SecurityGroups, ", "))
		}
		out = append(out, Finding{Check: "SGA-029", Severity: High, Resource: inst.ID, Message: msg,
			Fix: "Put it in a group made for its role (" + how + "), then check its flows with palisade reach."})
	}
	return out
}

// SGA-031: a basic group that the configured policy (Options.EnterpriseTags,
// Options.EnterpriseVPCs) requires to be enterprise. A group is required to
// be when it carries one of the tags, when an instance it holds does, or
// when it is in one of the VPCs.
func enterpriseRequired(in *Input) []Finding {
	o := in.Options
	if len(o.EnterpriseTags) == 0 && len(o.EnterpriseVPCs) == 0 {
		return nil
	}
	matches := func(tags []model.Tag) (model.Tag, bool) {
		for _, want := range o.EnterpriseTags {
			if v, ok := tagValue(tags, want.Key); ok && (want.Value == "" || strings.EqualFold(v, want.Value)) {
				return model.Tag{Key: want.Key, Value: v}, true
			}
		}
		return model.Tag{}, false
	}
	var out []Finding
	for _, g := range groupsByID(in.Cloud) {
		if g.Type == model.Enterprise {
			continue
		}
		why := ""
		if t, ok := matches(g.Tags); ok {
			why = fmt.Sprintf("it is tagged %s=%s", t.Key, t.Value)
		} else if slices.Contains(o.EnterpriseVPCs, g.VpcID) && g.VpcID != "" {
			why = "it is in " + g.VpcID
		} else {
			for _, m := range in.Cloud.Members(g.ID) {
				if t, ok := matches(m.Tags); ok {
					why = fmt.Sprintf("its member %s is tagged %s=%s", m.ID, t.Key, t.Value)
					break
				}
			}
		}
		if why != "" {
			out = append(out, Finding{Check: "SGA-031", Severity: Low, Resource: g.ID,
				Message: fmt.Sprintf("Group %s is a basic group, but the audit's policy requires an enterprise group because %s.", g.ID, why),
				Fix:     "Create an enterprise group (CreateSecurityGroup SecurityGroupType=enterprise) with the rules the members need, move the members to it and delete the basic group."})
		}
	}
	return out
}
