package console

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// group loads one of the caller's groups with all its rules.
func (c *Console) group(p *page) (service.GroupAttribute, bool) {
	attr, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), allRules(p.caller, p.r.PathValue("group")))
	if err != nil {
		c.fail(p, err)
		return attr, false
	}
	return attr, true
}

// newRulesPage is the form to add rules, several at once; ?template=ssh
// fills the first row from a quick-add template.
func (c *Console) newRulesPage(p *page) {
	attr, ok := c.group(p)
	if !ok {
		return
	}
	q := p.r.URL.Query()
	dir, err := parseDirection(q.Get("dir"))
	if err != nil {
		c.fail(p, err)
		return
	}
	rows := make([]ruleRowInput, rowCount)
	for i := range rows {
		rows[i] = ruleRowInput{N: i + 1, Policy: "accept", Priority: "1", Protocol: "TCP"}
	}
	var tpl *quickTemplate
	if id := q.Get("template"); id != "" {
		for i := range templates {
			if templates[i].ID == id {
				tpl = &templates[i]
			}
		}
		if tpl != nil {
			rows[0].Protocol, rows[0].Ports, rows[0].Desc = tpl.Protocol, tpl.Ports, tpl.Name
		}
	}
	for i := 1; i < rowCount; i++ {
		rows[i].Priority, rows[i].Protocol = "", ""
	}
	c.rulesForm(p, http.StatusOK, attr.Group, dir, rows, "", map[string]any{"Template": tpl})
}

// rulesForm renders the rules form: for adding rules (rule ""), or for
// changing rule; extra adds to its data (a template, an error).
func (c *Console) rulesForm(p *page, status int, g *model.SecurityGroup, dir model.Direction, rows []ruleRowInput, rule string, extra map[string]any) {
	data := map[string]any{"G": g, "Dir": string(dir), "Rows": rows, "Op": "add-rules", "Protocols": model.Protocols, "Risky": riskyPorts, "Wide": wideBlocks}
	title := "Add rules to " + g.ID
	if rule != "" {
		title, data["Op"], data["Rule"] = "Change rule "+rule, "edit-rule", rule
	} else {
		data["Templates"] = templates
	}
	maps.Copy(data, extra)
	c.render(p.w, status, "rules", c.base(p, title, data))
}

func (c *Console) editRulePage(p *page) {
	attr, ok := c.group(p)
	if !ok {
		return
	}
	id := p.r.PathValue("rule")
	i := slices.IndexFunc(attr.Rules, func(r service.RuleView) bool { return r.ID == id })
	if i < 0 {
		c.fail(p, ecserr.New(http.StatusNotFound, "InvalidSecurityGroupRuleId.NotFound", "Security group %s has no rule %s.", attr.Group.ID, id))
		return
	}
	r := attr.Rules[i].Rule
	c.rulesForm(p, http.StatusOK, attr.Group, r.Direction, []ruleRowInput{rowOfRule(&r)}, id, nil)
}

// exported is a group's rules as the export gives them and the import takes
// them: the fields of ECS's Permissions.N, per direction.
type exported struct {
	SecurityGroupId string
	Ingress, Egress []model.RuleInput
}

func exportOf(g *model.SecurityGroup, rules []service.RuleView) exported {
	out := exported{SecurityGroupId: g.ID, Ingress: []model.RuleInput{}, Egress: []model.RuleInput{}}
	for _, r := range rules {
		in := service.InputOfRule(&r.Rule)
		if r.Direction == model.Egress {
			out.Egress = append(out.Egress, in)
		} else {
			out.Ingress = append(out.Ingress, in)
		}
	}
	return out
}

// csvColumns are the columns of the CSV export.
var csvColumns = []string{"Direction", "Policy", "Priority", "IpProtocol", "PortRange", "PortRangeListId", "SourcePortRange",
	"SourceCidrIp", "Ipv6SourceCidrIp", "SourceGroupId", "SourceGroupOwnerId", "SourcePrefixListId",
	"DestCidrIp", "Ipv6DestCidrIp", "DestGroupId", "DestGroupOwnerId", "DestPrefixListId", "NicType", "Description"}

func (c *Console) exportRules(p *page) {
	attr, ok := c.group(p)
	if !ok {
		return
	}
	ex := exportOf(attr.Group, attr.Rules)
	name := attr.Group.ID + "-rules"
	// The account's rules, as its pages: not for the browser to keep.
	p.w.Header().Set("Cache-Control", "no-store")
	switch p.r.URL.Query().Get("format") {
	case "csv":
		p.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		p.w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+".csv"))
		w := csv.NewWriter(p.w)
		w.Write(csvColumns)
		for _, d := range []struct {
			dir string
			rs  []model.RuleInput
		}{{"ingress", ex.Ingress}, {"egress", ex.Egress}} {
			for _, r := range d.rs {
				w.Write([]string{d.dir, r.Policy, r.Priority, r.IpProtocol, r.PortRange, r.PortRangeListId, r.SourcePortRange,
					r.SourceCidrIp, r.Ipv6SourceCidrIp, r.SourceGroupId, r.SourceGroupOwnerId, r.SourcePrefixListId,
					r.DestCidrIp, r.Ipv6DestCidrIp, r.DestGroupId, r.DestGroupOwnerId, r.DestPrefixListId, r.NicType, csvSafe(r.Description)})
			}
		}
		w.Flush()
	default:
		p.w.Header().Set("Content-Type", "application/json")
		p.w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+".json"))
		e := json.NewEncoder(p.w)
		e.SetIndent("", "  ")
		e.Encode(ex)
	}
}

// csvSafe keeps a description from being read as a formula by a
// spreadsheet that opens the export.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// importInputs reads the rules of one direction from an export (JSON).
func importInputs(text string, dir model.Direction) ([]model.RuleInput, error) {
	var ex exported
	d := json.NewDecoder(strings.NewReader(text))
	d.DisallowUnknownFields()
	if err := d.Decode(&ex); err != nil {
		// A type error names the console's Go types; say it in the
		// export's terms instead.
		why := err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			where := "the text"
			if te.Field != "" {
				where = te.Field
			}
			why = fmt.Sprintf("%s is a JSON %s, where Export gives an object with SecurityGroupId, Ingress and Egress, lists of rules", where, te.Value)
		}
		return nil, ecserr.InvalidParameter("rules", "paste the JSON that Export gives ("+why+")")
	}
	rs, name, other, otherName := ex.Ingress, "Ingress", ex.Egress, "Outbound"
	if dir == model.Egress {
		rs, name, other, otherName = ex.Egress, "Egress", ex.Ingress, "Inbound"
	}
	// The API would refuse no rules as MissingParameter "Permissions",
	// which names nothing in this form.
	switch {
	case len(rs) == 0 && len(other) > 0:
		return nil, ecserr.InvalidParameter("rules", fmt.Sprintf("it has no %s rules; choose %s to import its %d other rule(s)", name, otherName, len(other)))
	case len(rs) == 0:
		return nil, ecserr.InvalidParameter("rules", "it has no rules to import (Ingress and Egress are empty)")
	}
	if len(rs) > model.MaxPermissionsPerAPI {
		return nil, ecserr.BadRequest("InvalidParam.Permissions", "At most %d rules per import; this one has %d.", model.MaxPermissionsPerAPI, len(rs))
	}
	return rs, nil
}

func (c *Console) importPage(p *page) {
	attr, ok := c.group(p)
	if !ok {
		return
	}
	data := map[string]any{"G": attr.Group}
	if from := p.r.URL.Query().Get("from"); from != "" { // after a clone: the source's rules
		src, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), allRules(p.caller, from))
		if err != nil {
			c.fail(p, err)
			return
		}
		js, _ := json.MarshalIndent(exportOf(src.Group, src.Rules), "", "  ")
		data["Rules"], data["From"] = string(js), from
	}
	c.render(p.w, http.StatusOK, "import", c.base(p, "Import rules into "+attr.Group.ID, data))
}

// comparePage shows how two of the caller's groups differ: the rules of
// each that the other lacks (by the rule's identity, description aside).
func (c *Console) comparePage(p *page) {
	attr, ok := c.group(p)
	if !ok {
		return
	}
	data := map[string]any{"G": attr.Group}
	if with := strings.TrimSpace(p.r.URL.Query().Get("with")); with != "" {
		other, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), allRules(p.caller, with))
		if err != nil {
			data["Err"] = c.asECS(err)
		} else {
			keys := func(rs []service.RuleView) map[string]bool {
				m := map[string]bool{}
				for _, r := range rs {
					m[r.Key()] = true
				}
				return m
			}
			mine, theirs := keys(attr.Rules), keys(other.Rules)
			var onlyMine, onlyTheirs []ruleRow
			for _, r := range attr.Rules {
				if !theirs[r.Key()] {
					onlyMine = append(onlyMine, ruleRow{RuleView: r, Peer: peerText(attr.Group, &r), Ports: portsText(&r)})
				}
			}
			var missing exported
			missing.SecurityGroupId = other.Group.ID
			for _, r := range other.Rules {
				if !mine[r.Key()] {
					onlyTheirs = append(onlyTheirs, ruleRow{RuleView: r, Peer: peerText(other.Group, &r), Ports: portsText(&r)})
					in := service.InputOfRule(&r.Rule)
					if r.Direction == model.Egress {
						missing.Egress = append(missing.Egress, in)
					} else {
						missing.Ingress = append(missing.Ingress, in)
					}
				}
			}
			var extraIn, extraOut []string
			for _, r := range onlyMine {
				if r.Direction == model.Egress {
					extraOut = append(extraOut, r.ID)
				} else {
					extraIn = append(extraIn, r.ID)
				}
			}
			data["ExtraIn"], data["ExtraOut"] = extraIn, extraOut
			js, _ := json.MarshalIndent(missing, "", "  ")
			data["Other"], data["OnlyMine"], data["OnlyTheirs"], data["Missing"] = other.Group, onlyMine, onlyTheirs, string(js)
			data["HasIn"], data["HasOut"] = len(missing.Ingress) > 0, len(missing.Egress) > 0
		}
		data["With"] = with
	}
	c.render(p.w, http.StatusOK, "compare", c.base(p, "Compare "+attr.Group.ID, data))
}
