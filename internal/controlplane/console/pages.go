package console

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// allPage asks a service for every item at once: the console lists a
// region's groups (quota 100s) and pages instances itself.
var allPage = service.Page{Size: 1 << 20}

// allRules asks for every rule of a group, both sets of a classic group
// (each row names its NicType): a page showing one set would hide the
// rules facing the other accounts' classic instances.
func allRules(c service.Caller, id string) service.GroupAttributeInput {
	return service.GroupAttributeInput{Caller: c, SecurityGroupID: id, Page: allPage, BothNicTypes: true}
}

// groupRow is a group as the list shows it.
type groupRow struct {
	service.GroupSummary
	Badge string // the worst severity of its audit findings, "" if none
	Count int    // how many findings
}

func (c *Console) groupsPage(p *page) {
	l, err := c.svc.DescribeSecurityGroups(p.ctx(), service.DescribeGroupsInput{Caller: p.caller, Page: allPage})
	if err != nil {
		c.fail(p, err)
		return
	}
	au, fresh, err := c.auditOf(p.ctx(), p.caller, c.budgets.page)
	if err != nil && !errors.Is(err, errComputing) { // computing: no badges yet
		c.fail(p, err)
		return
	}
	worst, count := map[string]audit.Severity{}, map[string]int{}
	for _, f := range au.Findings {
		if w, ok := worst[f.Resource]; !ok || f.Severity > w {
			worst[f.Resource] = f.Severity
		}
		count[f.Resource]++
	}
	q := strings.TrimSpace(p.r.URL.Query().Get("q"))
	var rows []groupRow
	for _, it := range l.Items {
		if q != "" && !groupMatches(it.Group, q) {
			continue
		}
		row := groupRow{GroupSummary: it}
		if n := count[it.Group.ID]; n > 0 {
			row.Badge, row.Count = worst[it.Group.ID].String(), n
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b groupRow) int {
		return cmp.Or(cmp.Compare(a.Group.Name, b.Group.Name), cmp.Compare(a.Group.ID, b.Group.ID))
	})
	// A page of groups at a time: an account may have a thousand, and a
	// page of all of them took the browser seconds to draw.
	const per = 100
	matching := len(rows)
	pg, from, to := pageOf(p.r.URL.Query().Get("page"), len(rows), per)
	c.render(p.w, http.StatusOK, "groups", c.base(p, "Security groups", map[string]any{"Groups": rows[from:to], "Q": q, "Total": l.Total, "AuditStale": !fresh,
		"Matching": matching, "From": from + 1, "Page": pg, "Prev": pg > 1, "Next": to < len(rows)}))
}

// groupMatches reports whether a search matches a group: part of its name,
// its ID, or a tag (key, key=value).
func groupMatches(g *model.SecurityGroup, q string) bool {
	lq := strings.ToLower(q)
	if strings.Contains(strings.ToLower(g.Name), lq) || strings.EqualFold(g.ID, q) || strings.Contains(strings.ToLower(g.ID), lq) {
		return true
	}
	k, v, hasV := strings.Cut(q, "=")
	for _, t := range g.Tags {
		if strings.EqualFold(t.Key, k) && (!hasV || t.Value == v) {
			return true
		}
	}
	return false
}

func (c *Console) vpcs(p *page) ([]service.VpcView, error) {
	l, err := c.svc.DescribeVpcs(p.ctx(), service.DescribeVpcsInput{Caller: p.caller, Page: allPage})
	return l.Items, err
}

func (c *Console) newGroupPage(p *page) {
	vpcs, err := c.vpcs(p)
	if err != nil {
		c.fail(p, err)
		return
	}
	c.render(p.w, http.StatusOK, "newgroup", c.base(p, "Create a security group", map[string]any{"VPCs": vpcs, "F": url.Values{}}))
}

// ruleRow is a rule as a group's page shows it: its fields, its standing
// in the effective policies it takes part in, and its hit counters.
type ruleRow struct {
	service.RuleView
	Peer     string
	Ports    string
	Standing []standing
	Packets  uint64
	Bytes    uint64
	Counted  bool
	Warn     bool // accepts an admin or database port from half the internet or more (riskyRule)
}

type standing struct {
	Kind    string // shadowed, redundant, conflicting, unknown
	Message string
}

// standingOf maps the rule-anomaly findings of the audit (SGA-022 shadowed,
// SGA-023 redundant, SGA-024 conflicting) to the rules they name: the
// audit reads each rule's standing in every effective policy it is part
// of (package space), so a rule is shadowed here only if it is so for all
// the group's members.
func standingOf(fs []audit.Finding, group string) map[string][]standing {
	out := map[string][]standing{}
	for _, f := range fs {
		if f.Resource != group || f.RuleID == "" {
			continue
		}
		kind := map[string]string{"SGA-022": "shadowed", "SGA-023": "redundant", "SGA-024": "conflicting"}[f.Check]
		if kind != "" {
			out[f.RuleID] = append(out[f.RuleID], standing{kind, f.Message})
		}
	}
	return out
}

// unknownStanding says why a rule's standing is unknown: the members of
// the other account's group it names, or else of one a rule it overlaps
// names (in its group, or in another group of its group's members).
func unknownStanding(g *model.SecurityGroup, r *service.RuleView) standing {
	if r.Peer.GroupID != "" && r.Peer.GroupOwner != "" && r.Peer.GroupOwner != g.Owner {
		return standing{"unknown", "Whether it decides anything depends on the members of " + r.Peer.GroupID + ", another account's group, which are not yours to see."}
	}
	return standing{"unknown", "Whether it decides anything depends on the members of another account's group that a rule overlapping it names, which are not yours to see."}
}

// peerText is a rule's peer as its row shows it, with the rule's set when
// the group is classic.
func peerText(g *model.SecurityGroup, r *service.RuleView) string {
	return peerOf(r) + ownerNote(g, r) + nicNote(g, &r.Rule)
}

// ownerNote names the account of a peer group that is not the group's
// own, as the API's answer does (SourceGroupOwnerAccount): the row showed
// the bare ID, so another account's group read as one of this account's.
func ownerNote(g *model.SecurityGroup, r *service.RuleView) string {
	if r.Peer.GroupID == "" || r.Peer.GroupOwner == "" || r.Peer.GroupOwner == g.Owner {
		return ""
	}
	return " of account " + r.Peer.GroupOwner
}

func peerOf(r *service.RuleView) string {
	switch {
	case r.Peer.GroupID != "":
		s := r.Peer.GroupID
		if r.PeerGroupName != "" {
			s += " (" + r.PeerGroupName + ")"
		}
		return s
	case r.Peer.PrefixListID != "":
		s := r.Peer.PrefixListID
		if r.PrefixListName != "" {
			s += " (" + r.PrefixListName + ")"
		}
		return s
	case r.Peer.CIDRText != "":
		return r.Peer.CIDRText
	}
	return r.Peer.CIDR.String()
}

// nicNote names a classic group's rule set (its rows are shown together).
func nicNote(g *model.SecurityGroup, r *model.Rule) string {
	if !g.Classic() {
		return ""
	}
	return " · " + string(r.NicType)
}

func portsText(r *service.RuleView) string {
	if r.PortRangeListID != "" {
		s := r.PortRangeListID
		if r.PortRangeListName != "" {
			s += " (" + r.PortRangeListName + ")"
		}
		return s
	}
	return r.PortRange.String()
}

func (c *Console) groupPage(p *page) {
	attr, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), allRules(p.caller, p.r.PathValue("group")))
	if err != nil {
		c.fail(p, err)
		return
	}
	c.drawGroup(p, attr, http.StatusOK, settingsOf(attr.Group))
}

// settingsForms are the fields of a group page's settings forms: the
// group's own, or as typed in the one the API refused (Refused names its
// op), with the refusal shown beside it.
type settingsForms struct {
	Name, Description, CloneName string
	Refused                      string
	Err                          *ecserr.Error
}

func settingsOf(g *model.SecurityGroup) settingsForms {
	return settingsForms{Name: g.Name, Description: g.Description, CloneName: cmp.Or(g.Name, g.ID) + "-copy"}
}

// drawGroup draws a group's page with status and its settings forms as s.
func (c *Console) drawGroup(p *page, attr service.GroupAttribute, status int, s settingsForms) {
	ctx, id := p.ctx(), attr.Group.ID
	au, fresh, err := c.auditOf(ctx, p.caller, c.budgets.page)
	if err != nil && !errors.Is(err, errComputing) { // computing: no standings yet
		c.fail(p, err)
		return
	}
	_, counts, err := c.svc.DescribeRuleCounters(ctx, p.caller, id)
	if err != nil {
		c.fail(p, err)
		return
	}
	// The first maxMembers members; the instances page lists them all.
	members, err := c.svc.DescribeInstances(ctx, service.DescribeInstancesInput{Caller: p.caller, SecurityGroupID: id, Page: service.Page{Size: maxMembers}})
	if err != nil {
		c.fail(p, err)
		return
	}
	refs, err := c.svc.DescribeSecurityGroupReferences(ctx, p.caller, []string{id})
	if err != nil {
		c.fail(p, err)
		return
	}
	hits := map[string]service.RuleCount{}
	for _, rc := range counts {
		hits[rc.Rule.ID] = rc
	}
	st := standingOf(au.Findings, id)
	unknown := map[string]bool{}
	for _, u := range au.Unknown {
		if u.Group == id {
			unknown[u.RuleID] = true
		}
	}
	var in, out []ruleRow
	for _, rv := range attr.Rules {
		row := ruleRow{RuleView: rv, Peer: peerText(attr.Group, &rv), Ports: portsText(&rv), Standing: st[rv.ID], Warn: riskyRule(&rv.Rule) != ""}
		if unknown[rv.ID] {
			// Neither shadowed nor redundant, but not live either: its
			// standing depends on members of another account's group,
			// which it or a rule it overlaps names (audit.Result.Unknown).
			row.Standing = append(row.Standing, unknownStanding(attr.Group, &rv))
		}
		if h, ok := hits[rv.ID]; ok {
			row.Packets, row.Bytes, row.Counted = h.Packets, h.Bytes, true
		}
		if rv.Direction == model.Egress {
			out = append(out, row)
		} else {
			in = append(in, row)
		}
	}
	var findings []audit.Finding
	for _, f := range au.Findings {
		if f.Resource == id {
			findings = append(findings, f)
		}
	}
	var referencing []service.GroupOwner
	if len(refs) > 0 {
		referencing = refs[0].Referencing
	}
	// A page of findings at a time, as the other lists: a group may have
	// hundreds (a check per rule), and its page listed them all.
	const perFindings = 100
	fpg, ffrom, fto := pageOf(p.r.URL.Query().Get("page"), len(findings), perFindings)
	c.render(p.w, status, "group", c.base(p, "Security group "+id, map[string]any{
		"G": attr.Group, "Ingress": in, "Egress": out, "Members": members.Items, "MemberCount": members.Total,
		"Findings": findings[ffrom:fto], "FindingCount": len(findings), "FindingsFrom": ffrom + 1, "FindingsPage": fpg, "FindingsPrev": fpg > 1, "FindingsNext": fto < len(findings),
		"Referencing": referencing, "Templates": templates, "S": s,
		"AuditStale": !fresh,
	}))
}

// maxMembers bounds the members a group's page lists: a group may hold
// thousands of instances, each row with its own form.
const maxMembers = 100

func (c *Console) instancesPage(p *page) {
	q := p.r.URL.Query()
	in := service.DescribeInstancesInput{Caller: p.caller, VpcID: q.Get("vpc"), SecurityGroupID: q.Get("group"), Page: allPage}
	// A filter naming a group or VPC that is not the caller's is refused
	// as the API refuses the ID (the same words whether it exists in
	// another account or nowhere): as a filter it listed no members, as if
	// the group were the caller's and empty.
	if in.SecurityGroupID != "" {
		if _, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), service.GroupAttributeInput{Caller: p.caller, SecurityGroupID: in.SecurityGroupID, Page: service.Page{Size: 1}}); err != nil {
			c.fail(p, err)
			return
		}
	}
	if in.VpcID != "" {
		l, err := c.svc.DescribeVpcs(p.ctx(), service.DescribeVpcsInput{Caller: p.caller, IDs: []string{in.VpcID}, Page: service.Page{Size: 1}})
		if err == nil && l.Total == 0 {
			err = ecserr.New(http.StatusNotFound, "InvalidVpcId.NotFound", "The specified VpcId %q does not exist in this account and region.", in.VpcID)
		}
		if err != nil {
			c.fail(p, err)
			return
		}
	}
	if n := strings.TrimSpace(q.Get("q")); n != "" {
		in.Name = "*" + n + "*"
	}
	l, err := c.svc.DescribeInstances(p.ctx(), in)
	if err != nil {
		c.fail(p, err)
		return
	}
	items := l.Items
	const per = 100
	pg, from, to := pageOf(q.Get("page"), len(items), per)
	c.render(p.w, http.StatusOK, "instances", c.base(p, "Instances", map[string]any{"Instances": items[from:to], "Total": len(items),
		"Page": pg, "Prev": pg > 1, "Next": to < len(items), "Q": q.Get("q"), "VPC": q.Get("vpc"), "Group": q.Get("group")}))
}

func (c *Console) instancePage(p *page) {
	ctx, id := p.ctx(), p.r.PathValue("instance")
	iv, err := c.svc.DescribeInstanceAttribute(ctx, p.caller, id)
	if err != nil {
		c.fail(p, err)
		return
	}
	eff, err := c.analysis.EffectiveRules(analyze.Waiting(ctx), p.caller, id)
	if err != nil {
		c.fail(p, err)
		return
	}
	data := map[string]any{"I": iv.Instance, "Effective": eff}
	q := p.r.URL.Query()
	if to := strings.TrimSpace(q.Get("to")); to != "" {
		from := strings.TrimSpace(q.Get("from"))
		if from == "" {
			from = id
		}
		proto := cmp.Or(q.Get("protocol"), "tcp")
		// Two instances' flow is IPv4 unless IPv6 is asked (or is all
		// the protocol or an address can be).
		rep, err := c.analysis.VerifyFlow(analyze.Waiting(ctx), analyzeFlow(p.caller, from, to, proto, q.Get("port"), q.Get("ipVersion")))
		data["Asked"] = map[string]string{"From": from, "To": to, "Protocol": proto, "Port": q.Get("port"), "IPVersion": q.Get("ipVersion")}
		if err != nil {
			data["VerifyErr"] = c.asECS(err)
		} else {
			data["Verdict"] = rep
		}
	}
	c.render(p.w, http.StatusOK, "instance", c.base(p, "Instance "+id, data))
}

func (c *Console) auditPage(p *page) {
	severities := make([]string, 0, audit.Critical+1)
	for s := audit.Info; s <= audit.Critical; s++ {
		severities = append(severities, s.String())
	}
	// A severity the audit does not know is refused, not read as "any": a
	// mistyped link listed every finding as if it were the filter's answer.
	sev := p.r.URL.Query().Get("severity")
	least := audit.Info
	if sev != "" {
		var err error
		if least, err = audit.ParseSeverity(sev); err != nil {
			c.fail(p, ecserr.InvalidParameter("severity", "use one of "+strings.Join(severities, ", ")+" (the least severity shown), or leave it out for all."))
			return
		}
	}
	au, fresh, err := c.auditOf(p.ctx(), p.caller, c.budgets.page)
	if errors.Is(err, errComputing) {
		c.render(p.w, http.StatusOK, "audit", c.base(p, "Audit", map[string]any{"Computing": true}))
		return
	}
	if err != nil {
		c.fail(p, err)
		return
	}
	var fs []audit.Finding
	for _, f := range au.Findings {
		if f.Severity >= least {
			fs = append(fs, f)
		}
	}
	// A page of findings at a time: a large cloud has thousands.
	const per = 200
	pg, from, to := pageOf(p.r.URL.Query().Get("page"), len(fs), per)
	c.render(p.w, http.StatusOK, "audit", c.base(p, "Audit", map[string]any{"Findings": fs[from:to], "Matching": len(fs), "Severity": sev, "All": len(au.Findings),
		"Page": pg, "Prev": pg > 1, "Next": to < len(fs), "Stale": !fresh,
		"Severities": severities}))
}

// notFound answers a page of a resource that is not the caller's as the
// API would, without saying whether it exists elsewhere.
func (c *Console) notFound(p *page, what string) {
	c.render(p.w, http.StatusNotFound, "error", c.base(p, "Not found", map[string]any{"Message": what}))
}

// flowLogsPage lists the account's flow logs in the region: what records
// the traffic the audit's SGA-033 asks about. Flow logs are made with the
// VPC API (CreateFlowLog); their records are read with palisade flows.
func (c *Console) flowLogsPage(p *page) {
	l, err := c.svc.DescribeFlowLogs(p.ctx(), service.DescribeFlowLogsInput{Caller: p.caller, Page: allPage})
	if err != nil {
		c.fail(p, err)
		return
	}
	c.render(p.w, http.StatusOK, "flowlogs", c.base(p, "Flow logs", map[string]any{"FlowLogs": l.Items}))
}

// maxEvents is how many of the latest events the events page lists.
const maxEvents = 100

// eventScanPages bounds the pages of trail.MaxPartResults of the
// account's events the events page reads for one region's newest, and
// eventScanTime the time it takes (a server that does not answer holds
// each page for the peers' timeout).
const (
	eventScanPages = 50
	eventScanTime  = 5 * time.Second
)

// eventsPage lists the latest events of the account (its changes and its
// refused calls) in the region, newest first, from the event trail of
// every server of the installation, as LookupEvents answers the
// session's key; palisade events and LookupEvents search them all.
func (c *Console) eventsPage(p *page) {
	data := map[string]any{"Kept": c.events != nil}
	if c.events != nil {
		// The region is in each event, not in the trail's index: read the
		// account's newest events a page at a time until maxEvents of this
		// region are found, for at most eventScanPages pages.
		params := rpc.Params{"MaxResults": strconv.Itoa(trail.MaxPartResults),
			"StartTime": time.Unix(0, 0).UTC().Format(time.RFC3339), "EndTime": time.Now().Add(time.Minute).UTC().Format(time.RFC3339)}
		var shown []trail.Event
		var missing []string
		scanned := 0 // events read, where more remain unread
		deadline := time.Now().Add(eventScanTime)
		for n := 0; n < eventScanPages && (n == 0 || time.Now().Before(deadline)); n++ {
			res, err := c.events.Lookup(p.ctx(), p.caller.Account, params)
			if err != nil {
				c.fail(p, err)
				return
			}
			for _, e := range res.Events {
				if len(shown) < maxEvents && (e.AcsRegion == p.region || e.AcsRegion == "") {
					shown = append(shown, e)
				}
			}
			for _, s := range res.PalisadeMissingServers {
				if !slices.Contains(missing, s) {
					missing = append(missing, s)
				}
			}
			scanned += len(res.Events)
			if res.NextToken == "" {
				scanned = 0
				break
			}
			// Full, or held open only by servers that did not answer.
			if len(shown) == maxEvents || len(res.Events) == 0 {
				break
			}
			params["NextToken"] = res.NextToken
		}
		data["Events"], data["Missing"], data["Scanned"] = shown, missing, scanned
	}
	c.render(p.w, http.StatusOK, "events", c.base(p, "Events", data))
}

// pageOf is page number page (1 for a missing or bad one; the last for
// one past it) of n items, per to a page, as the bounds of its items: a
// page number from the URL is not trusted to keep (page-1)*per from
// overflowing.
func pageOf(page string, n, per int) (pg, from, to int) {
	last := max((n+per-1)/per, 1)
	pg = min(max(atoiOr(page, 1), 1), last)
	from = (pg - 1) * per
	return pg, from, min(from+per, n)
}
