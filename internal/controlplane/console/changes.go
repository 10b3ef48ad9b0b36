package console

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/analysis/plan"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// quickTemplate is a quick-add rule for a common service.
type quickTemplate struct {
	ID, Name, Protocol, Ports string
}

// templates are the quick-add rules, as the ECS console offers them.
var templates = []quickTemplate{
	{"ssh", "SSH", "TCP", "22"}, {"rdp", "RDP", "TCP", "3389"}, {"http", "HTTP", "TCP", "80"}, {"https", "HTTPS", "TCP", "443"},
	{"icmp", "ICMP (ping)", "ICMP", ""}, {"mysql", "MySQL", "TCP", "3306"}, {"postgresql", "PostgreSQL", "TCP", "5432"},
	{"sqlserver", "SQL Server", "TCP", "1433"}, {"oracle", "Oracle", "TCP", "1521"}, {"redis", "Redis", "TCP", "6379"},
	{"mongodb", "MongoDB", "TCP", "27017"},
}

// riskyPorts are the audit's administration and database ports (SGA-002 …
// SGA-005): the console warns before a change opens one to the internet.
var riskyPorts = audit.RiskyPorts()

// wideBlocks are the smallest blocks that hold half the internet or more
// (audit.HalfInternetBlocks): the rule form warns as it is typed when a
// source holds one of them, as riskyRule does.
var wideBlocks = audit.HalfInternetBlocks()

// riskyRule names the risky ports an inbound accept opens to the internet,
// or to half of it (audit.RiskyOpened), "" if none.
var riskyRule = audit.RiskyOpened

// opensRisky says whether ports the internet reaches include a risky one.
func opensRisky(ports reach.Ports) bool {
	for _, p := range riskyPorts {
		if p.Opens(ports.Allows) {
			return true
		}
	}
	return false
}

// rowCount is how many rules the add form takes at once.
const rowCount = 5

// ruleRowInput is one row of a rule form, as typed.
type ruleRowInput struct {
	N                                                    int
	Policy, Priority, Protocol, Ports, Peer, Owner, Desc string
	Bad                                                  string // the field an error names: policy, priority, …
}

// rowsOf reads the rule rows of a form; rows without ports, a peer, an
// owner and a description are blank and skipped.
func rowsOf(f url.Values) []ruleRowInput {
	var out []ruleRowInput
	for n := 1; n <= rowCount; n++ {
		r := rowAt(f, n)
		// A priority alone is no rule: the form gives row 1 one, so rules
		// typed in row 2 alone were refused as "Row 1: give the TCP ports".
		if r.Peer == "" && r.Ports == "" && r.Owner == "" && r.Desc == "" {
			continue
		}
		out = append(out, r)
	}
	return out
}

// rowAt reads row n of a rule form, as typed.
func rowAt(f url.Values, n int) ruleRowInput {
	k := func(s string) string { return strings.TrimSpace(f.Get(fmt.Sprintf("r%d.%s", n, s))) }
	return ruleRowInput{N: n, Policy: k("policy"), Priority: k("priority"), Protocol: k("protocol"), Ports: k("ports"), Peer: k("peer"), Owner: k("owner"), Desc: k("desc")}
}

// portsForm is what the Ports field takes: a port, a range (from-to, or
// ECS's from/to), -1 (all, for a protocol without ports) or a port range
// list's ID.
var portsForm = regexp.MustCompile(`^([0-9]+([-/][0-9]+)?|-1|prl-[0-9a-z]+)$`)

// check refuses a row whose Ports field the form does not take, in the
// form's words: turned into ECS's from/to, "22,80" was refused as the
// PortRange "22,80/22,80" the user never typed, and a TCP or UDP row
// without ports as "-1/-1".
func (r ruleRowInput) check() error {
	switch {
	case r.Ports == "" && slices.Contains([]string{"tcp", "udp"}, strings.ToLower(r.Protocol)):
		return ecserr.BadRequest("InvalidParam.PortRange", "Row %d: give the %s ports: a port (22), a range (8000-8080; 1-65535 for all) or a port range list (prl-…).", r.N, strings.ToUpper(r.Protocol))
	case r.Ports != "" && !portsForm.MatchString(r.Ports):
		return ecserr.BadRequest("InvalidParam.PortRange", "Row %d: Ports %q is not a port (22), a range (8000-8080) or a port range list (prl-…). For several ports, give each range a row of its own, or use a port range list.", r.N, r.Ports)
	}
	return nil
}

// input turns a row into the fields ECS takes: ports as from/to, the peer
// by its kind (a group sg-…, a prefix list pl-…, an IPv6 or IPv4 block).
func (r ruleRowInput) input(dir model.Direction) model.RuleInput {
	in := model.RuleInput{Policy: r.Policy, Priority: r.Priority, IpProtocol: r.Protocol, Description: r.Desc}
	ports := r.Ports
	switch {
	case ports == "" || ports == "-1":
		ports = "-1/-1"
	case strings.HasPrefix(ports, "prl-"):
		in.PortRangeListId, ports = ports, ""
	case !strings.Contains(ports, "/"):
		a, b, ok := strings.Cut(ports, "-")
		if !ok {
			b = a
		}
		ports = a + "/" + b
	}
	in.PortRange = ports
	cidr, v6, group, owner, pl := &in.SourceCidrIp, &in.Ipv6SourceCidrIp, &in.SourceGroupId, &in.SourceGroupOwnerId, &in.SourcePrefixListId
	if dir == model.Egress {
		cidr, v6, group, owner, pl = &in.DestCidrIp, &in.Ipv6DestCidrIp, &in.DestGroupId, &in.DestGroupOwnerId, &in.DestPrefixListId
	}
	switch p := r.Peer; {
	case strings.HasPrefix(p, "sg-"):
		*group, *owner = p, r.Owner
	case strings.HasPrefix(p, "pl-"):
		*pl = p
	case strings.Contains(p, ":"):
		*v6 = p
	default:
		*cidr = p
	}
	return in
}

// ruleChanges says what a rule form's row changes of the rule it edits
// (old), field by field in the form's words ("priority 1 → 5"). A field
// left empty is kept, as ModifySecurityGroupRule keeps it. Not ok for a
// row the model refuses: the dry run says why.
func ruleChanges(old, typed ruleRowInput, dir model.Direction) ([]string, bool) {
	merged := typed
	merged.Policy, merged.Priority, merged.Protocol = cmp.Or(typed.Policy, old.Policy), cmp.Or(typed.Priority, old.Priority), cmp.Or(typed.Protocol, old.Protocol)
	merged.Ports, merged.Peer, merged.Owner, merged.Desc = cmp.Or(typed.Ports, old.Ports), cmp.Or(typed.Peer, old.Peer), cmp.Or(typed.Owner, old.Owner), cmp.Or(typed.Desc, old.Desc)
	parsed, _, err := model.ParseRule(dir, merged.input(dir), false)
	if err != nil {
		return nil, false
	}
	now := rowOfRule(&parsed)
	now.Owner = merged.Owner
	var out []string
	for _, f := range []struct{ name, typed, old, now string }{
		{"policy", typed.Policy, old.Policy, now.Policy},
		{"priority", typed.Priority, old.Priority, now.Priority},
		{"protocol", typed.Protocol, old.Protocol, now.Protocol},
		{"ports", typed.Ports, old.Ports, now.Ports},
		{"peer", typed.Peer, old.Peer, now.Peer},
		{"peer's owner", typed.Owner, old.Owner, now.Owner},
		{"description", typed.Desc, old.Desc, now.Desc},
	} {
		if f.typed != "" && !strings.EqualFold(f.old, f.now) {
			out = append(out, fmt.Sprintf("%s %s → %s", f.name, cmp.Or(f.old, "none"), f.now))
		}
	}
	return out, true
}

// rowOfRule is a stored rule as a form row.
func rowOfRule(r *model.Rule) ruleRowInput {
	in := service.InputOfRule(r)
	row := ruleRowInput{N: 1, Policy: in.Policy, Priority: in.Priority, Protocol: in.IpProtocol, Desc: in.Description}
	row.Ports = strings.Replace(in.PortRange, "/", "-", 1)
	if s, e, ok := strings.Cut(in.PortRange, "/"); ok && s == e {
		row.Ports = s
	}
	if in.PortRange == "-1/-1" || in.PortRange == "" {
		row.Ports = ""
	}
	if in.PortRangeListId != "" {
		row.Ports = in.PortRangeListId
	}
	row.Peer = r.Peer.CIDRText
	switch {
	case r.Peer.GroupID != "":
		row.Peer, row.Owner = r.Peer.GroupID, r.Peer.GroupOwner
	case r.Peer.PrefixListID != "":
		row.Peer = r.Peer.PrefixListID
	case row.Peer == "" && r.Peer.CIDR.IsValid():
		row.Peer = r.Peer.CIDR.String()
	}
	return row
}

func parseDirection(s string) (model.Direction, error) {
	switch strings.ToLower(s) {
	case "", "ingress", "in":
		return model.Ingress, nil
	case "egress", "out":
		return model.Egress, nil
	}
	return "", ecserr.InvalidParameter("Direction", "ingress or egress")
}

// pendingChange is a change read from a form: what it does in words, the
// mutation itself (run against the real service, or a dry-run copy for
// the preview), where to go afterwards, and warnings to show first.
type pendingChange struct {
	What string
	// Action and Params are the API call the change makes, as the event
	// trail records it (the first, when it makes more than one).
	Action string
	Params rpc.Params
	// made are the calls a change of several calls (a group made, then
	// its policy set) made when it ran for real, each to be recorded as
	// the API would record it. Empty for a change of one call, and for one
	// whose first call failed: Action and Params are its event.
	made []madeCall
	// Partly says what a change of several calls did before a later call
	// failed: the refusal's page must not say that nothing was changed.
	Partly   string
	Run      analyze.Change
	Back     string
	Warnings []string
	// Blockers list what stops a group's deletion (its members, the groups
	// whose rules name it), as DescribeSecurityGroupReferences gives them.
	Blockers []string
	// Rules list the rules an add or an import asks for, as the preview
	// shows them (it counted them only: "Add 3 ingress rules").
	Rules    []ruleLine
	PeerHead string // the peer column's head: Source, or Destination
	// adds are the rules an add or an import asks for, each with where the
	// form shows it ("row 2"): the preview calls the rules it would make
	// so, not by the dry run's order (a row that repeats a rule the group
	// has, or a blank one, adds none, and the next was "new rule 1").
	adds *ruleAdds
}

// ruleLine is one rule a change asks for, as its preview lists it.
type ruleLine struct {
	Where, Policy, Priority, Protocol, Ports, Peer, Description string
	// Held is the group's rule this one repeats, which the change does
	// not add again: the preview listed it as added and the apply said
	// done, the group unchanged.
	Held string
}

// ruleLines are the lines of the rules a adds. An input that does not
// parse is left out: the plan refuses it, and the preview shows that.
func ruleLines(a *ruleAdds) []ruleLine {
	var out []ruleLine
	for i, in := range a.inputs {
		r, owner, err := model.ParseRule(a.dir, in, false)
		if err != nil {
			continue
		}
		// The form's words for all but the ports, which are listed as ECS
		// writes them (the form leaves all ports out).
		row := rowOfRule(&r)
		l := ruleLine{Where: a.where[i], Policy: row.Policy, Priority: row.Priority, Protocol: row.Protocol,
			Ports: cmp.Or(r.PortRangeListID, r.PortRange.String()), Peer: row.Peer, Description: row.Desc}
		if i < len(a.matches) {
			l.Held = a.matches[i].Held
		}
		if r.SourcePortRange.IsSet() {
			// An import can give one (the form cannot): without it, a rule
			// for some source ports read as one for all of them.
			l.Ports += " from source ports " + r.SourcePortRange.String()
		}
		// The owner as given: ParseRule leaves it to be resolved.
		if acct := cmp.Or(owner.Account, owner.ID); r.Peer.GroupID != "" && acct != "" {
			l.Peer += " of account " + acct
		}
		out = append(out, l)
	}
	return out
}

// ruleAdds are the rules a change adds to a group, as the form gave them.
type ruleAdds struct {
	group  string
	dir    model.Direction
	inputs []model.RuleInput
	where  []string // where the form shows each input
	// matches are how Authorize takes each input (nil when the group
	// could not be read: the dry run meets the same error).
	matches []service.RuleMatch
}

// previewNames is what the preview of pc calls what it would make: a rule
// by where its form shows it, matched by the rule's key as the service
// resolves the form's input; what it cannot match as analyze.Numbered.
func (c *Console) previewNames(pc *pendingChange) analyze.Names {
	a := pc.adds
	if a == nil || a.matches == nil {
		return nil
	}
	keys := make([]string, len(a.matches))
	for i, m := range a.matches {
		keys[i] = m.Key
	}
	return func(m analyze.Made) map[string]string {
		names := analyze.Numbered(m)
		for _, r := range m.Rules {
			if r.Group != a.group {
				continue
			}
			if i := slices.Index(keys, r.Rule.Key()); i >= 0 {
				names[r.Rule.ID] = "new rule (" + a.where[i] + ")"
			}
		}
		return names
	}
}

// done says what an applied change did. A rule the group had already (a
// row the preview said it held) is said to be so, as the preview said it:
// the apply said "done" for it as for the rules it added.
func (pc *pendingChange) done() string {
	if pc.adds == nil {
		return pc.What + ": done."
	}
	var added, held []string
	for i, m := range pc.adds.matches {
		switch {
		case m.Held == "":
			added = append(added, pc.adds.where[i])
		case pc.adds.inputs[i].Description != "":
			held = append(held, fmt.Sprintf("%s was already in force as %s: not added again; it takes this description", pc.adds.where[i], m.Held))
		default:
			held = append(held, fmt.Sprintf("%s was already in force as %s: not added again, nothing changed for it", pc.adds.where[i], m.Held))
		}
	}
	if len(held) == 0 {
		return pc.What + ": done."
	}
	if len(added) > 0 {
		held = append([]string{"done for " + strings.Join(added, ", ")}, held...)
	}
	return pc.What + ": " + strings.Join(held, "; ") + "."
}

// madeCall is one API call a change made: its answer's fields that name
// what it made (a new group's ID), or its error.
type madeCall struct {
	Action string
	Params rpc.Params
	Answer map[string]string
	Err    error
}

// createGroup makes a group for pc and, when pol is set, gives it that
// InnerAccessPolicy (CreateSecurityGroup takes none), as two calls. On
// the real service each call is noted in pc.made; a dry run makes the
// group only (its store keeps no write for a second call to build on).
func (c *Console) createGroup(ctx context.Context, svc *service.Service, pc *pendingChange, in service.CreateGroupInput, pol string) (string, error) {
	res, err := svc.CreateSecurityGroup(ctx, in)
	if err != nil || svc != c.svc {
		return "", err
	}
	id := res.SecurityGroupId
	pc.made = append(pc.made, madeCall{Action: pc.Action, Params: pc.Params, Answer: map[string]string{"SecurityGroupId": id}})
	if pol == "" {
		return id, nil
	}
	err = svc.ModifySecurityGroupPolicy(ctx, service.GroupPolicyInput{Caller: in.Caller, SecurityGroupID: id, InnerAccessPolicy: pol})
	pc.made = append(pc.made, madeCall{Action: "ModifySecurityGroupPolicy", Params: params("SecurityGroupId", id, "InnerAccessPolicy", pol), Err: err})
	if err != nil {
		pc.Partly = fmt.Sprintf("Security group %s was created, but its InnerAccessPolicy is not %s: set it on the group's page (or delete the group).", id, pol)
	}
	return id, err
}

// parseChange reads the change a form asks for. Every change goes through
// the service with the session's caller: the preview's dry run and the
// apply run the same call.
func (c *Console) parseChange(p *page, f url.Values) (*pendingChange, error) {
	cl := p.caller
	group := f.Get("group")
	groupLink := p.link("groups/" + url.PathEscape(group))
	switch op := f.Get("op"); op {
	case "create-group":
		tags, err := parseTags(f.Get("tags"))
		if err != nil {
			return nil, err
		}
		in := service.CreateGroupInput{Caller: cl, Name: f.Get("name"), Description: f.Get("description"),
			Type: model.GroupType(f.Get("type")), VpcID: f.Get("vpc"), Tags: tags}
		pol := f.Get("policy")
		if pol != "" {
			v, e := model.ParseInnerAccessPolicy(pol)
			if e != nil {
				return nil, e
			}
			// An enterprise group always isolates its members: Drop is what
			// it has, Accept it cannot have (refused before the group is made).
			if typeName(in.Type) == "enterprise" {
				if v != model.InnerDrop {
					return nil, ecserr.BadRequest("InvalidParameter.InnerAccessPolicy", "An enterprise security group isolates its members; its InnerAccessPolicy cannot be Accept. Choose a basic group for that.")
				}
				v = ""
			}
			pol = string(v) // as the API's event names it
		}
		pc := &pendingChange{What: fmt.Sprintf("Create the %s security group %q in %s", typeName(in.Type), in.Name, vpcName(in.VpcID)), Back: p.link("groups"),
			Action: "CreateSecurityGroup", Params: params("VpcId", in.VpcID, "SecurityGroupName", in.Name, "SecurityGroupType", string(in.Type), "Description", in.Description)}
		tagParams(pc.Params, in.Tags)
		// Each setting the new group gets beside its type and VPC: the
		// preview named neither a policy, a description nor tags.
		var with []string
		if pol != "" {
			with = append(with, "InnerAccessPolicy "+pol)
		}
		if in.Description != "" {
			with = append(with, fmt.Sprintf("description %q", in.Description))
		}
		for _, t := range in.Tags {
			with = append(with, fmt.Sprintf("tag %s=%s", t.Key, t.Value))
		}
		if len(with) > 0 {
			pc.What += ", with " + strings.Join(with, ", ")
		}
		pc.Run = func(ctx context.Context, svc *service.Service) error {
			id, err := c.createGroup(ctx, svc, pc, in, pol)
			if id != "" {
				pc.Back = p.link("groups/" + url.PathEscape(id))
			}
			return err
		}
		return pc, nil
	case "clone-group":
		// A clone is the source's settings in a new group; its rules follow
		// through the import page, one direction per previewed change.
		src, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), service.GroupAttributeInput{Caller: cl, SecurityGroupID: group, Page: service.Page{Size: 1}})
		if err != nil {
			return nil, err
		}
		g := src.Group
		in := service.CreateGroupInput{Caller: cl, Name: f.Get("name"), Description: g.Description, Type: g.Type, VpcID: g.VpcID, Tags: g.Tags}
		pc := &pendingChange{What: fmt.Sprintf("Create %q as a copy of %s (its rules are added next, with their own preview)", in.Name, g.ID), Back: groupLink,
			Action: "CreateSecurityGroup", Params: params("VpcId", in.VpcID, "SecurityGroupName", in.Name, "SecurityGroupType", string(in.Type), "Description", in.Description)}
		tagParams(pc.Params, in.Tags)
		pol := ""
		if g.Type == model.Normal && g.InnerAccessPolicy != model.InnerAccept {
			pol = string(g.InnerAccessPolicy)
		}
		pc.Run = func(ctx context.Context, svc *service.Service) error {
			id, err := c.createGroup(ctx, svc, pc, in, pol)
			if id != "" {
				pc.Back = p.link("groups/"+url.PathEscape(id)+"/import", "from", g.ID)
			}
			return err
		}
		return pc, nil
	case "modify-group":
		name, desc := f.Get("name"), f.Get("description")
		in := service.ModifyGroupInput{Caller: cl, SecurityGroupID: group, Name: &name, Description: &desc}
		// The form sends both fields; one left empty as the group has it
		// (no description, no name) is not sent, as the API's clients do
		// not send it: the empty one was refused as malformed, and a group
		// without a description could not be renamed here. One emptied is
		// sent, and refused: the API cannot clear it.
		cur, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), service.GroupAttributeInput{Caller: cl, SecurityGroupID: group, Page: service.Page{Size: 1}})
		if err != nil {
			return nil, err
		}
		if name == "" && cur.Group.Name == "" {
			in.Name = nil
		}
		if desc == "" && cur.Group.Description == "" {
			in.Description = nil
		}
		// The preview says each field the change sets: the one form takes
		// both, and a new description alone was previewed as a rename (to
		// the name the group had), its description not named at all.
		var what []string
		if in.Name != nil && name != cur.Group.Name {
			what = append(what, fmt.Sprintf("rename it from %q to %q", cur.Group.Name, name))
		}
		if in.Description != nil && desc != cur.Group.Description {
			what = append(what, fmt.Sprintf("set its description to %q (it is %q)", desc, cur.Group.Description))
		}
		title := fmt.Sprintf("Change %s: %s", group, strings.Join(what, "; and "))
		if len(what) == 0 {
			title = fmt.Sprintf("Leave %s as it is: its name and description are already these", group)
		}
		return &pendingChange{What: title, Back: groupLink,
			Action: "ModifySecurityGroupAttribute", Params: params("SecurityGroupId", group, "SecurityGroupName", name, "Description", desc),
			Run: func(ctx context.Context, svc *service.Service) error {
				return svc.ModifySecurityGroupAttribute(ctx, in)
			}}, nil
	case "set-policy":
		in := service.GroupPolicyInput{Caller: cl, SecurityGroupID: group, InnerAccessPolicy: f.Get("policy")}
		return &pendingChange{What: fmt.Sprintf("Set the InnerAccessPolicy of %s to %s", group, in.InnerAccessPolicy), Back: groupLink,
			Action: "ModifySecurityGroupPolicy", Params: params("SecurityGroupId", group, "InnerAccessPolicy", in.InnerAccessPolicy),
			Run: func(ctx context.Context, svc *service.Service) error { return svc.ModifySecurityGroupPolicy(ctx, in) }}, nil
	case "delete-group":
		pc := &pendingChange{What: "Delete the security group " + group, Back: p.link("groups"),
			Action: "DeleteSecurityGroup", Params: params("SecurityGroupId", group),
			Run: func(ctx context.Context, svc *service.Service) error {
				return svc.DeleteSecurityGroup(ctx, service.GroupRef{Caller: cl, SecurityGroupID: group})
			}}
		refs, err := c.svc.DescribeSecurityGroupReferences(p.ctx(), cl, []string{group})
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			for _, o := range r.Referencing {
				pc.Blockers = append(pc.Blockers, fmt.Sprintf("a rule of %s (account %s) names it", o.SecurityGroupID, o.Owner))
			}
		}
		members, err := c.svc.DescribeInstances(p.ctx(), service.DescribeInstancesInput{Caller: cl, SecurityGroupID: group, Page: service.Page{Size: 10}})
		if err != nil {
			return nil, err
		}
		for _, m := range members.Items {
			pc.Blockers = append(pc.Blockers, "instance "+m.Instance.ID+" is in it")
		}
		if members.Total > len(members.Items) {
			pc.Blockers = append(pc.Blockers, fmt.Sprintf("and %d more instances", members.Total-len(members.Items)))
		}
		return pc, nil
	case "add-rules", "edit-rule", "import-rules":
		dir, err := parseDirection(f.Get("dir"))
		if err != nil {
			return nil, err
		}
		var (
			inputs []model.RuleInput
			where  []string
		)
		if op == "import-rules" {
			if inputs, err = importInputs(f.Get("rules"), dir); err != nil {
				return nil, err
			}
			for i := range inputs {
				where = append(where, fmt.Sprintf("rule %d of the import", i+1))
			}
		} else {
			rows := rowsOf(f)
			if op == "edit-rule" && len(rows) == 0 {
				// A rule's edit is its one row, even with only a new
				// priority in it: the fields left empty are kept.
				rows = []ruleRowInput{rowAt(f, 1)}
			}
			for _, r := range rows {
				if err := r.check(); err != nil {
					return nil, err
				}
				inputs = append(inputs, r.input(dir))
				where = append(where, fmt.Sprintf("row %d", r.N))
			}
		}
		if len(inputs) == 0 {
			return nil, ecserr.MissingParameter("Permissions")
		}
		pc := &pendingChange{Back: groupLink, Action: egress(dir, "AuthorizeSecurityGroup", "AuthorizeSecurityGroupEgress"), Params: params("SecurityGroupId", group)}
		for i, in := range inputs {
			permissionParams(pc.Params, i+1, in)
			if r, _, e := model.ParseRule(dir, in, false); e == nil {
				if risky := riskyRule(&r); risky != "" {
					to := "the whole internet"
					if !audit.Internet(r.Peer.CIDR) {
						to = "half the internet"
					}
					pc.Warnings = append(pc.Warnings, fmt.Sprintf("This opens %s to %s (%s). Prefer the addresses that need it, or a bastion.", risky, to, r.Peer.CIDRText))
				}
			}
		}
		if op == "edit-rule" {
			in := service.ModifyRuleInput{Caller: cl, SecurityGroupID: group, Direction: dir, RuleID: f.Get("rule"), Changes: inputs[0]}
			pc.What = fmt.Sprintf("Change %s rule %s of %s", dir, in.RuleID, group)
			if attr, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), allRules(cl, group)); err == nil {
				for _, r := range attr.Rules {
					if r.ID != in.RuleID {
						continue
					}
					// The preview names what the change sets: one that
					// opens or closes no flow (a priority, a description,
					// a rule of a group without members) said only
					// "Change rule …", nothing of what.
					if what, ok := ruleChanges(rowOfRule(&r.Rule), rowAt(f, 1), dir); ok && len(what) > 0 {
						pc.What += ": " + strings.Join(what, ", ")
					} else if ok {
						pc.What += ": nothing, it is already so"
					}
					// The form shows the whole rule, so a description cleared in it
					// reads as removed; ModifySecurityGroupRule keeps a rule's
					// description when none is given, and the apply said done.
					if in.Changes.Description == "" && r.Description != "" {
						pc.Warnings = append(pc.Warnings, fmt.Sprintf("The rule keeps its description %q: ModifySecurityGroupRule keeps a description when none is given, so it cannot be removed. Give another one, or delete the rule and add it again without one.", r.Description))
					}
				}
			}
			pc.Action, pc.Params = egress(dir, "ModifySecurityGroupRule", "ModifySecurityGroupEgressRule"), params("SecurityGroupId", group, "SecurityGroupRuleId", in.RuleID)
			permissionParams(pc.Params, 0, inputs[0])
			pc.Run = func(ctx context.Context, svc *service.Service) error { return svc.ModifyRule(ctx, in) }
			return pc, nil
		}
		in := service.RulesInput{Caller: cl, SecurityGroupID: group, Direction: dir, Permissions: inputs}
		pc.adds = &ruleAdds{group: group, dir: dir, inputs: inputs, where: where}
		if m, err := c.svc.RuleMatches(p.ctx(), cl, group, dir, inputs); err == nil {
			pc.adds.matches = m
		}
		pc.Rules, pc.PeerHead = ruleLines(pc.adds), egress(dir, "Source", "Destination")
		pc.What = fmt.Sprintf("Add %d %s rule%s to %s", len(inputs), dir, plural(len(inputs)), group)
		pc.Run = func(ctx context.Context, svc *service.Service) error { return svc.Authorize(ctx, in) }
		return pc, nil
	case "delete-rules":
		dir, err := parseDirection(f.Get("dir"))
		if err != nil {
			return nil, err
		}
		ids := f["rule"]
		if len(ids) == 0 {
			return nil, ecserr.BadRequest("MissingParameter", "Tick the rules to delete first.")
		}
		in := service.RulesInput{Caller: cl, SecurityGroupID: group, Direction: dir, RuleIDs: ids}
		ps := params("SecurityGroupId", group)
		for i, id := range ids {
			ps[fmt.Sprintf("SecurityGroupRuleId.%d", i+1)] = id
		}
		return &pendingChange{What: fmt.Sprintf("Delete %s rule%s %s of %s", dir, plural(len(ids)), strings.Join(ids, ", "), group), Back: groupLink,
			Action: egress(dir, "RevokeSecurityGroup", "RevokeSecurityGroupEgress"), Params: ps,
			Run: func(ctx context.Context, svc *service.Service) error { return svc.Revoke(ctx, in) }}, nil
	case "join", "leave":
		inst := strings.TrimSpace(f.Get("instance"))
		in := service.MembershipInput{Caller: cl, InstanceID: inst, SecurityGroupID: group}
		if op == "join" {
			return &pendingChange{What: fmt.Sprintf("Add instance %s to %s", inst, group), Back: groupLink,
				Action: "JoinSecurityGroup", Params: params("InstanceId", inst, "SecurityGroupId", group),
				Run: func(ctx context.Context, svc *service.Service) error { return svc.JoinSecurityGroup(ctx, in) }}, nil
		}
		return &pendingChange{What: fmt.Sprintf("Remove instance %s from %s", inst, group), Back: groupLink,
			Action: "LeaveSecurityGroup", Params: params("InstanceId", inst, "SecurityGroupId", group),
			Run: func(ctx context.Context, svc *service.Service) error { return svc.LeaveSecurityGroup(ctx, in) }}, nil
	}
	return nil, ecserr.InvalidParameter("op", "the console does not know this change")
}

// params are an API call's parameters, the empty ones left out.
func params(kv ...string) rpc.Params {
	ps := rpc.Params{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			ps[kv[i]] = kv[i+1]
		}
	}
	return ps
}

// tagParams adds a new group's tags as CreateSecurityGroup names them
// (Tag.n.Key, Tag.n.Value): the event of a group made with tags said
// nothing of them, where the API's event of the same call does.
func tagParams(ps rpc.Params, tags []model.Tag) {
	for i, t := range tags {
		ps[fmt.Sprintf("Tag.%d.Key", i+1)] = t.Key
		if t.Value != "" {
			ps[fmt.Sprintf("Tag.%d.Value", i+1)] = t.Value
		}
	}
}

// permissionParams adds a rule's fields as the API names them:
// Permissions.n.Field, or Field when n is 0 (ModifySecurityGroupRule).
func permissionParams(ps rpc.Params, n int, in model.RuleInput) {
	v := reflect.ValueOf(in)
	for i := range v.NumField() {
		if s := v.Field(i).String(); s != "" {
			k := v.Type().Field(i).Name
			if n > 0 {
				k = fmt.Sprintf("Permissions.%d.%s", n, k)
			}
			ps[k] = s
		}
	}
}

func egress(dir model.Direction, in, out string) string {
	if dir == model.Egress {
		return out
	}
	return in
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func typeName(t model.GroupType) string {
	if g, e := model.ParseGroupType(string(t)); e == nil && g == model.Enterprise {
		return "enterprise"
	}
	return "basic"
}

func vpcName(id string) string {
	if id == "" {
		return "the classic network"
	}
	return id
}

// parseTags reads "key=value, key2=value2".
func parseTags(s string) ([]model.Tag, error) {
	var out []model.Tag
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		out = append(out, model.Tag{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)})
	}
	if e := model.ValidateTags(out); e != nil {
		return nil, e
	}
	return out, nil
}

// flowRow is one line of a preview: a link between two instances (or the
// internet) and what the change opens and closes on it.
type flowRow struct {
	plan.Change
	Outside        string // the internet addresses concerned
	Opened, Closed string
	Risky          bool // opens an administration or database port from the internet
}

func flowRows(ch []plan.Change) []flowRow {
	out := make([]flowRow, 0, len(ch))
	for _, x := range ch {
		r := flowRow{Change: x}
		if !x.Opened.Empty() {
			r.Opened = x.Opened.String()
		}
		if !x.Closed.Empty() {
			r.Closed = x.Closed.String()
		}
		if x.First.IsValid() {
			r.Outside = x.First.String()
			if x.Last != x.First {
				r.Outside += " – " + x.Last.String()
			}
		}
		r.Risky = x.From == reach.Internet && opensRisky(x.Opened)
		out = append(out, r)
	}
	return out
}

// change answers a change's form. A preview's (step=preview) is kept and
// the browser sent on to the preview's address (previews.go); an apply
// (step=apply) is made, and the browser sent on to the page it leads back
// to, or, when the resources changed since the preview, to the change's
// preview again. The preview runs the very call the apply makes, in a
// transaction that is rolled back, and shows the flows it opens and
// closes and the audit findings it adds and removes; the apply form
// carries the same fields.
func (c *Console) change(p *page) {
	f := p.r.PostForm
	if f.Get("step") != "apply" {
		redirect(p, p.link("change/"+c.previews.put(p.s, p.region, previewForm(f), false, nil)))
		return
	}
	c.previewChange(p, f, f.Get("preview"), false)
}

// refuseApply answers an apply of f that was refused, as r says, at an
// address of its own, as a preview is: a reload of the apply's answer
// would send the apply again.
func (c *Console) refuseApply(p *page, f url.Values, r *refusal) {
	redirect(p, p.link("change/"+c.previews.put(p.s, p.region, previewForm(f), false, r)))
}

// backOf is where a refused change's page leads back to: the page of its
// group, else the groups.
func (c *Console) backOf(p *page, f url.Values) string {
	if f.Get("group") == "" {
		return p.link("groups")
	}
	return p.link("groups/" + url.PathEscape(f.Get("group")))
}

// previewChange previews the change of form f (kept as preview id), or
// applies it when f is an apply's; changed says that an apply of it found
// the resources changed since its preview.
func (c *Console) previewChange(p *page, f url.Values, id string, changed bool) {
	var pc *pendingChange
	var applied string // what an apply did; "" while it did nothing
	if f.Get("step") == "apply" && id != "" {
		// Claimed before anything is read for it, so that of the sends of
		// one preview's apply only one goes on.
		if !c.previews.claim(p.s, id, p.region) {
			// Sent again while it runs or once it ran, or gone: its
			// address says what it did, or that it is gone. (The ID is
			// the form's: escaped, it stays one path segment.)
			redirect(p, p.link("change/"+url.PathEscape(id)))
			return
		}
		defer func() {
			back := ""
			if pc != nil {
				back = pc.Back
			}
			c.previews.release(p.s, id, applied, back)
		}()
	}
	data := c.base(p, "Preview", map[string]any{"Hidden": hiddenFields(previewForm(f)), "PreviewID": id})
	pc, err := c.parseChange(p, f)
	if err != nil && c.formAgain(p, f, err) {
		return
	}
	if err != nil && f.Get("step") == "apply" {
		c.refuseApply(p, f, &refusal{err: c.asECS(err), back: c.backOf(p, f)})
		return
	}
	if err != nil {
		e := c.asECS(err)
		data["Err"] = e
		data["Back"] = c.backOf(p, f)
		c.render(p.w, e.Status, "preview", data)
		return
	}
	data["Change"] = pc
	data["Back"] = pc.Back
	ctx := p.ctx()
	// The state the preview showed the change on, marked before its plan
	// (a write meanwhile makes the apply ask again, never the reverse).
	seen, err := c.svc.StateMark(ctx, p.caller)
	if err != nil && f.Get("step") == "apply" {
		c.refuseApply(p, f, &refusal{err: c.asECS(err), what: pc.What, back: pc.Back})
		return
	}
	if err != nil {
		e := c.asECS(err)
		data["Err"] = e
		c.render(p.w, e.Status, "preview", data)
		return
	}
	data["Seen"] = seen
	status := http.StatusOK
	if changed {
		status = http.StatusConflict
		data["Changed"] = true
	}
	if f.Get("step") == "apply" && f.Has("seen") && f.Get("seen") != seen {
		// The account's resources changed since the preview (the API,
		// another session, or this very change applied already, then the
		// back button or a second send): the apply would not do what the
		// preview showed. It is previewed again, on the state as it is,
		// at an address of its own (a reload must not send the apply
		// again). (Every preview's form carries the mark; a form without
		// one was not previewed, and is applied as the API would.)
		redirect(p, p.link("change/"+c.previews.put(p.s, p.region, previewForm(f), true, nil)))
		return
	} else if f.Get("step") == "apply" {
		start := time.Now()
		err := pc.Run(ctx, c.svc)
		c.observe(p, pc, start, err)
		if err != nil {
			c.refuseApply(p, f, &refusal{err: c.asECS(err), what: pc.What, partly: pc.Partly, back: pc.Back})
			return
		}
		c.prefetch(ctx, p.caller)
		back, _ := url.Parse(pc.Back)
		q := back.Query()
		// The message stays on the server: the address names it.
		applied = pc.done()
		q.Set("done", c.sessions.setFlash(p.s, applied))
		back.RawQuery = q.Encode()
		redirect(p, back.String())
		return
	}
	// The plan on the request and, beside it, the audit diff in the
	// background (see previewaudit.go), awaited for what is left of the
	// preview's budget once the plan is done. A change the plan refuses
	// shows the plan's error (the diff's is the same).
	start := time.Now()
	diffID, diff := c.startAuditDiff(ctx, p.s, p.caller, pc)
	pl, err := c.analysis.PlanChange(analyze.Waiting(ctx), p.caller, pc.Run)
	if err == nil {
		t := time.NewTimer(max(0, c.budgets.preview-time.Since(start)))
		select {
		case <-diff.done:
			if err = diff.err; err == nil {
				data["Audit"] = diff.val
			}
		case <-t.C:
			data["AuditPending"] = p.link("change/audit/" + diffID)
		}
		t.Stop()
	}
	if err != nil && c.formAgain(p, f, err) {
		return
	}
	if err != nil {
		e := c.asECS(err)
		data["Err"] = e
		c.render(p.w, e.Status, "preview", data)
		return
	}
	// The first maxFlowRows links are listed; the summary counts them all.
	const maxFlowRows = 200
	shown := pl.Changes
	if len(shown) > maxFlowRows {
		shown = shown[:maxFlowRows]
		data["MoreFlows"] = len(pl.Changes) - maxFlowRows
	}
	data["Flows"] = flowRows(shown)
	data["Summary"] = pl.Summary
	data["HiddenPeers"] = pl.HiddenPeers
	c.render(p.w, status, "preview", data)
}

// observe reports an applied change as the API call it makes, so that
// the event trail (and the webhook's alerts) have the console's changes
// as they have the API's: they had none.
func (c *Console) observe(p *page, pc *pendingChange, start time.Time, err error) {
	if c.observer == nil || pc.Action == "" {
		return
	}
	call := func(action string, params rpc.Params, err error) *rpc.Call {
		ps := rpc.Params{"RegionId": p.region}
		maps.Copy(ps, params)
		call := &rpc.Call{Request: &rpc.Request{Action: action, Version: ecsVersion, Product: "Ecs", Params: ps, AccessKeyID: p.s.keyID,
			RequestID: rpc.NewRequestID(), HTTPMethod: http.MethodPost, Host: p.r.Host},
			Method: http.MethodPost, Start: start, Duration: time.Since(start), Status: http.StatusOK,
			RemoteAddr: p.r.RemoteAddr, UserAgent: "palisade-console " + p.r.UserAgent()}
		if err != nil {
			e := c.asECS(err)
			call.Status, call.Code, call.Message = e.Status, e.Code, e.Message
		}
		return call
	}
	if len(pc.made) == 0 {
		c.observer(call(pc.Action, pc.Params, err))
		return
	}
	// Each call made is an event, with its own outcome: a group made is
	// made whatever followed, and its answer names it.
	for _, m := range pc.made {
		ev := call(m.Action, m.Params, m.Err)
		if m.Answer != nil && m.Err == nil {
			answer := map[string]string{"RequestId": ev.Request.RequestID}
			maps.Copy(answer, m.Answer)
			ev.Body, _ = json.Marshal(answer)
		}
		c.observer(ev)
	}
}

// ecsVersion is the ECS API's version, which the console's changes are
// recorded under.
const ecsVersion = "2014-05-26"

func redirect(p *page, to string) {
	p.w.Header().Set("Location", to)
	p.w.WriteHeader(303)
}

type field struct{ Name, Value string }

// hiddenFields are a form's fields in a stable order, to carry into the
// apply step.
func hiddenFields(v url.Values) []field {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []field
	for _, k := range keys {
		for _, x := range v[k] {
			out = append(out, field{k, x})
		}
	}
	return out
}

func atoiOr(s string, d int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return d
}

// analyzeFlow is the verify question of the instance page.
func analyzeFlow(cl service.Caller, from, to, proto, port, ipVersion string) analyze.FlowInput {
	return analyze.FlowInput{Caller: cl, From: from, To: to, Protocol: proto, Port: port, IPVersionText: ipVersion}
}

// auditDiff is what a change does to the audit: the findings it would add
// and those it would remove, against the audit at the current revision.
type auditDiff struct {
	Added, Removed []audit.Finding
}

// formAgain answers a refused preview with the form it came from, as it
// was typed, and the API's error beside it: the user corrects a field
// instead of typing the form again (a refusal's Back lost it). It reports
// whether it answered: not for an apply (its form was the preview's), nor
// for a form of another kind, nor when the form's page cannot be drawn
// (its group is not the caller's).
func (c *Console) formAgain(p *page, f url.Values, err error) bool {
	if f.Get("step") == "apply" {
		return false
	}
	switch f.Get("op") {
	case "create-group":
		return c.groupFormAgain(p, f, err)
	case "add-rules", "edit-rule":
		return c.rulesFormAgain(p, f, err)
	case "modify-group", "clone-group":
		return c.settingsFormAgain(p, f, err)
	}
	return false
}

// groupFormAgain is the new group's form again.
func (c *Console) groupFormAgain(p *page, f url.Values, err error) bool {
	vpcs, verr := c.vpcs(p)
	if verr != nil {
		return false
	}
	e := c.asECS(err)
	c.render(p.w, e.Status, "newgroup", c.base(p, "Create a security group", map[string]any{"VPCs": vpcs, "F": f, "Err": e}))
	return true
}

// settingsFormAgain is a group's page with its rename or clone form
// again.
func (c *Console) settingsFormAgain(p *page, f url.Values, err error) bool {
	attr, gerr := c.svc.DescribeSecurityGroupAttribute(p.ctx(), allRules(p.caller, f.Get("group")))
	if gerr != nil {
		return false
	}
	e := c.asECS(err)
	s := settingsOf(attr.Group)
	s.Refused, s.Err = f.Get("op"), e
	if s.Refused == "modify-group" {
		s.Name, s.Description = f.Get("name"), f.Get("description")
	} else {
		s.CloneName = f.Get("name")
	}
	c.drawGroup(p, attr, e.Status, s)
	return true
}

// rulesFormAgain is a rule form again, its rows as typed.
func (c *Console) rulesFormAgain(p *page, f url.Values, err error) bool {
	op := f.Get("op")
	dir, derr := parseDirection(f.Get("dir"))
	if derr != nil {
		return false
	}
	attr, gerr := c.svc.DescribeSecurityGroupAttribute(p.ctx(), service.GroupAttributeInput{Caller: p.caller, SecurityGroupID: f.Get("group"), Page: service.Page{Size: 1}})
	if gerr != nil {
		return false
	}
	rows := rowsOf(f)
	n := rowCount
	if op == "edit-rule" {
		n = 1
	}
	for i := len(rows); i < n; i++ { // the empty rows, for more
		rows = append(rows, ruleRowInput{N: 0})
	}
	used := map[int]bool{}
	for _, r := range rows {
		used[r.N] = true
	}
	next := 1
	for i := range rows {
		if rows[i].N == 0 {
			for used[next] {
				next++
			}
			rows[i].N, used[next] = next, true
		}
	}
	slices.SortFunc(rows, func(a, b ruleRowInput) int { return a.N - b.N })
	rule := ""
	if op == "edit-rule" {
		rule = f.Get("rule")
	}
	e := c.asECS(err)
	if op == "add-rules" {
		e = rowNamed(e, rowsOf(f))
	}
	markRefused(rows, e, op == "edit-rule")
	c.rulesForm(p, e.Status, attr.Group, dir, rows, rule, map[string]any{"Err": e})
	return true
}

// markRefused marks the field of the row an error names (its "Row n:",
// or the only row of a rule's edit) by the field its code names, so that
// the form shows the error at the field and puts the cursor there: it was
// said above a table of five rows of seven fields only.
func markRefused(rows []ruleRowInput, e *ecserr.Error, edit bool) {
	n := 0
	if k, _, ok := strings.Cut(strings.TrimPrefix(e.Message, "Row "), ":"); ok && strings.HasPrefix(e.Message, "Row ") {
		n, _ = strconv.Atoi(k)
	} else if edit {
		n = 1
	}
	field := ""
	for _, m := range []struct{ in, field string }{
		{"Owner", "owner"}, {"PortRange", "ports"}, {"Priority", "priority"}, {"Policy", "policy"},
		{"Protocol", "protocol"}, {"Description", "desc"},
		{"Cidr", "peer"}, {"GroupId", "peer"}, {"PrefixList", "peer"}, {"EntityType", "peer"}, {"SourceIp", "peer"}, {"DestIp", "peer"},
	} {
		if strings.Contains(e.Code, m.in) {
			field = m.field
			break
		}
	}
	for i := range rows {
		if rows[i].N == n && field != "" {
			rows[i].Bad = field
		}
	}
}

// rowNamed names the form's row an API error names by its place in the
// call ("Permissions.2: …"): the rows left blank are not sent, so the
// second rule sent may be row 4, which the user reads.
func rowNamed(e *ecserr.Error, rows []ruleRowInput) *ecserr.Error {
	rest, ok := strings.CutPrefix(e.Message, "Permissions.")
	if !ok {
		return e
	}
	k, rest, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(k)
	if !ok || err != nil || n < 1 || n > len(rows) {
		return e
	}
	named := *e
	named.Message = fmt.Sprintf("Row %d:%s", rows[n-1].N, rest)
	return &named
}
