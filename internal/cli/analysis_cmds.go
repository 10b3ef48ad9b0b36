package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/analysis/effective"
	"github.com/palisade-sg/palisade/internal/analysis/plan"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/api/analysisapi"
	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// effectiveCmd runs "palisade effective INSTANCE".
func effectiveCmd(args []string, stdout, stderr io.Writer) int {
	s, fs := newSource("effective", true, stdout, stderr)
	pos, code, done := parseAnalysisFlags(fs, args, stdout, "palisade effective INSTANCE [--scenario FILE | --ecs-dir DIR | --ecs-region R | --endpoint HOST:PORT] [--json]")
	if done {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: palisade effective INSTANCE [flags]")
		return 2
	}
	var out struct {
		InstanceId string
		Policies   []effective.Policy
		Hits       []analysisapi.EntryHit `json:",omitempty"`
		// PalisadeMissingServers did not give their records' hits.
		PalisadeMissingServers []string `json:",omitempty"`
	}
	if s.offline() {
		c, err := s.cloud()
		if err != nil {
			return s.fail(err)
		}
		if out.Policies, err = effective.Of(c, pos[0]); err != nil {
			return s.fail(err)
		}
		out.InstanceId = pos[0]
	} else if err := s.call("PalisadeDescribeEffectiveRules", map[string]string{"InstanceId": pos[0]}, &out); err != nil {
		return s.fail(err)
	}
	s.warnMissingHits(out.PalisadeMissingServers, "LAST HIT")
	if s.asJSON {
		s.printJSON(out)
		return 0
	}
	// LAST HIT: when a flow record of this NIC last named the entry, from
	// the records the server keeps; "-" for none; offline, "?" (unknown).
	type at struct{ policy, position int }
	lastHit := map[at]string{}
	for _, h := range out.Hits {
		lastHit[at{h.Policy, h.Position}] = h.LastHitTime
	}
	for i, p := range out.Policies {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s %s (%s path)\n", out.InstanceId, p.Direction, p.NIC)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tGROUP\tRULE\tPRIO\tPOLICY\tPROTO\tPORTS\tPEER\tSTATUS\tLAST HIT\tNOTE")
		for _, e := range p.Entries {
			rule, prio := e.RuleID, strconv.Itoa(e.Priority)
			if e.Kind != effective.Rule {
				rule, prio = "("+string(e.Kind)+")", "-"
			}
			hit := dash(lastHit[at{i, e.Position}])
			if s.offline() {
				hit = "?"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Position, dash(e.Group), rule, prio, e.Policy,
				dash(e.Protocol), dash(e.Ports), dash(e.Peer), e.Status, hit, entryNote(e))
		}
		tw.Flush()
	}
	if s.offline() {
		fmt.Fprintln(stdout, "\nLAST HIT is known only to a server (from flow records): ? means unknown.")
	} else {
		fmt.Fprintln(stdout, "\nLAST HIT (UTC): the newest flow record of this interface that named the entry, among those the server keeps;\n"+
			"- means none: no flow log covered it (VPC CreateFlowLog), or no traffic matched it since.")
	}
	return 0
}

func entryNote(e effective.Entry) string {
	var parts []string
	if len(e.ShadowedBy) > 0 {
		s := "shadowed by " + refs(e.ShadowedBy)
		if e.OppositeAction {
			s += " (opposite action: this rule's intent is defeated)"
		}
		parts = append(parts, s)
	}
	if len(e.TakenOverBy) > 0 {
		parts = append(parts, "redundant: "+refs(e.TakenOverBy)+" would decide the same")
	}
	if len(e.ConflictsWith) > 0 {
		parts = append(parts, "conflicts at the same priority with "+refs(e.ConflictsWith)+" (drop wins)")
	}
	if e.Note != "" {
		parts = append(parts, e.Note)
	}
	if e.Reason != "" && len(parts) == 0 {
		parts = append(parts, e.Reason)
	}
	return strings.Join(parts, "; ")
}

func refs(rs []effective.Ref) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return strings.Join(out, ", ")
}

// reachCmd runs "palisade reach [--from X] [--to Y] [--port N]".
func reachCmd(args []string, stdout, stderr io.Writer) int {
	s, fs := newSource("reach", true, stdout, stderr)
	from := fs.String("from", "", "only flows from this instance, group, or \"internet\"")
	to := fs.String("to", "", "only flows to this instance, group, or \"internet\"")
	proto := fs.String("proto", "", "only this protocol (tcp, udp, icmp, icmpv6, gre)")
	port := portFlag(fs, "port", "only this destination `port`")
	ipv := fs.Int("ip-version", 0, "only IPv4 (4) or IPv6 (6)")
	graph := fs.Bool("graph", false, "group-level graph instead of the instance matrix")
	dot := fs.Bool("dot", false, "the group-level graph in Graphviz DOT")
	if _, code, done := parseAnalysisFlags(fs, args, stdout, "palisade reach [--from X] [--to Y] [--proto P] [--port N] [--graph | --dot] [--scenario FILE | --ecs-dir DIR | --ecs-region R | --endpoint HOST:PORT] [--json]"); done {
		return code
	}
	var protocol model.Protocol
	if *proto != "" {
		p, ok := model.ParseProtocol(*proto)
		if !ok {
			fmt.Fprintf(stderr, "palisade reach: --proto %q: use tcp, udp, icmp, icmpv6 or gre\n", *proto)
			return 2
		}
		protocol = p
	}
	if *ipv != 0 && *ipv != 4 && *ipv != 6 {
		fmt.Fprintf(stderr, "palisade reach: --ip-version %d: use 4 or 6 (or 0 for both)\n", *ipv)
		return 2
	}
	view := "matrix"
	switch {
	case *dot:
		view = "dot"
	case *graph:
		view = "graph"
	}
	params := map[string]string{"From": *from, "To": *to, "Protocol": *proto, "View": view}
	if *port != 0 {
		params["Port"] = strconv.Itoa(*port)
	}
	if *ipv != 0 {
		params["IpVersion"] = strconv.Itoa(*ipv)
	}
	var out struct {
		Links []reach.Link
		Graph *reach.Graph
		Dot   string
	}
	if s.offline() {
		c, err := s.cloud()
		if err != nil {
			return s.fail(err)
		}
		f := reach.Filter{From: *from, To: *to, Protocol: protocol, Port: uint16(*port), IPVersion: *ipv}
		r := reach.Compute(c, reach.Options{Inside: s.inside})
		if view == "matrix" {
			out.Links, err = r.Matrix(f)
		} else {
			out.Graph, err = r.Graph(f)
			if err == nil && view == "dot" {
				out.Dot, out.Graph = out.Graph.DOT(), nil
			}
		}
		if err != nil {
			return s.fail(err)
		}
	} else {
		// The server answers a long matrix in pages: follow NextToken.
		for {
			var page struct {
				Links     []reach.Link
				Graph     *reach.Graph
				Dot       string
				NextToken string
			}
			if err := s.call("PalisadeDescribeReachability", params, &page); err != nil {
				return s.fail(err)
			}
			out.Links, out.Graph, out.Dot = append(out.Links, page.Links...), page.Graph, page.Dot
			if page.NextToken == "" || page.NextToken == params["NextToken"] {
				break
			}
			params["NextToken"] = page.NextToken
		}
	}
	switch {
	case view == "dot":
		fmt.Fprint(stdout, out.Dot)
	case s.asJSON && view == "graph":
		s.printJSON(out.Graph)
	case s.asJSON:
		s.printJSON(out.Links)
	case view == "graph":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FROM GROUP\tTO GROUP\tIPv4\tIPv6\tPAIRS")
		for _, e := range out.Graph.Edges {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", e.From, e.To, portsText(e.IPv4), portsText(e.IPv6), e.Pairs4+e.Pairs6)
		}
		tw.Flush()
	default:
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FROM\tTO\tIPv4\tIPv6")
		for _, l := range out.Links {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.From, l.To, portsText(l.IPv4), portsText(l.IPv6))
			// Each range under its family's column, named as the link's
			// source or destination.
			side := "from"
			if l.To == reach.Internet {
				side = "to"
			}
			for _, o := range l.Outside {
				cols := portsText(o.Ports) + "\t"
				if o.First.Is6() {
					cols = "\t" + portsText(o.Ports)
				}
				fmt.Fprintf(tw, "\t  %s %s\t%s\n", side, rangeText(o.First.String(), o.Last.String()), cols)
			}
		}
		tw.Flush()
		if len(out.Links) == 0 {
			fmt.Fprintln(stdout, "nothing passes")
		}
	}
	return 0
}

func portsText(p reach.Ports) string {
	if p.Empty() {
		return "-"
	}
	return p.String()
}

func rangeText(first, last string) string {
	if first == last {
		return first
	}
	return first + "-" + last
}

// planCmd runs "palisade plan": the flows a change would open and close.
func planCmd(args []string, stdout, stderr io.Writer) int {
	s, fs := newSource("plan", false, stdout, stderr)
	action := fs.String("action", "", "the mutating ECS or VPC `action` to preview, e.g. AuthorizeSecurityGroup")
	var params stringList
	fs.Var(&params, "param", "a `Name=Value` parameter of the action (repeat)")
	desired := fs.String("desired", "", "offline: a scenario `FILE` with the desired state, compared with --scenario")
	if _, code, done := parseAnalysisFlags(fs, args, stdout, "palisade plan (--action ACTION --param Name=Value... | --desired FILE) [--scenario FILE | --endpoint HOST:PORT] [--json]"); done {
		return code
	}
	p := map[string]string{}
	for _, kv := range params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return s.fail(fmt.Errorf("--param %q: want Name=Value", kv))
		}
		p[k] = v
	}
	var out planAnswer
	switch {
	case *desired != "":
		if s.scenario == "" {
			return s.fail(fmt.Errorf("--desired compares two scenario files: give the current one with --scenario"))
		}
		before, err := s.cloud()
		if err != nil {
			return s.fail(err)
		}
		after, err := scenario.Load(*desired)
		if err != nil {
			return s.fail(err)
		}
		out.ChangeAction = "desired state " + *desired
		o := reach.Options{Inside: s.inside}
		out.Changes = plan.Diff(reach.Compute(before, o), reach.Compute(after.Cloud(), o))
		out.Summary = plan.Summarize(out.Changes)
	case *action == "":
		return s.fail(fmt.Errorf("give --action with its --param values, or --desired FILE"))
	case s.scenario != "":
		res, err := planOffline(s.scenario, *action, p)
		if err != nil {
			return s.fail(err)
		}
		out.ChangeAction, out.Summary, out.Changes = res.ChangeAction, res.Summary, res.Changes
	default:
		p["ChangeAction"] = *action
		// Long answers come in pages of Changes: follow NextToken.
		for {
			var page struct {
				planAnswer
				NextToken string
			}
			if err := s.call("PalisadePlanChange", p, &page); err != nil {
				return s.fail(err)
			}
			changes := append(out.Changes, page.Changes...)
			out = page.planAnswer
			out.Changes = changes
			if page.NextToken == "" || page.NextToken == p["NextToken"] {
				break
			}
			p["NextToken"] = page.NextToken
		}
	}
	if s.asJSON {
		s.printJSON(out)
		return 0
	}
	fmt.Fprintf(stdout, "%s: %d links change (%d widen, %d narrow, %d mixed)\n", out.ChangeAction,
		out.Summary.Links, out.Summary.Widen, out.Summary.Narrow, out.Summary.Mixed)
	for _, c := range out.Changes {
		fmt.Fprintln(stdout, "  "+c.String())
	}
	if len(out.HiddenPeers) > 0 {
		fmt.Fprintf(stdout, "Not shown: what it does to flows with the members of %s, another account's group(s) that rules of the policies it touches name, whose members are not yours to see.\n",
			strings.Join(out.HiddenPeers, ", "))
	}
	return 0
}

// planOffline previews an action on a scenario file: the scenario is loaded
// into a scratch store and the action runs there, with all its checks, in a
// transaction that is rolled back.
func planOffline(file, action string, params map[string]string) (*planAnswer, error) {
	sc, err := scenario.Load(file)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "palisade-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(filepath.Join(dir, "plan.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	svc := api.New(st)
	ctx := context.Background()
	boot, err := svc.Bootstrap(ctx, service.BootstrapKeys{})
	if err != nil {
		return nil, err
	}
	key := boot.Tenant
	if _, err := svc.Import(ctx, defaultRegion, api.Resources{VPCs: sc.VPCs, PrefixLists: sc.PrefixLists, PortRangeLists: sc.PortRangeLists, Groups: sc.Groups, Instances: sc.Instances, ENIs: sc.ENIs}); err != nil {
		return nil, err
	}
	p := rpc.Params{"RegionId": defaultRegion, "ChangeAction": action}
	for k, v := range params {
		p[k] = v
	}
	h := analysisapi.Routes(svc)[rpc.RouteKey{Version: api.ECSVersion, Action: "PalisadePlanChange"}]
	var out *planAnswer
	for { // every page of changes
		res, err := h(rpc.WithAccessKeyID(ctx, key.ID), &rpc.Request{Action: "PalisadePlanChange", Version: api.ECSVersion, Params: p, AccessKeyID: key.ID})
		if err != nil {
			return nil, err
		}
		page, err := jsonRoundTrip[struct {
			planAnswer
			NextToken string
		}](res)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = &page.planAnswer
		} else {
			out.Changes = append(out.Changes, page.Changes...)
		}
		if page.NextToken == "" || page.NextToken == p["NextToken"] {
			return out, nil
		}
		p["NextToken"] = page.NextToken
	}
}

type planAnswer struct {
	ChangeAction string
	Summary      plan.Summary
	Changes      []plan.Change
	HiddenPeers  []string `json:",omitempty"`
}

// auditCmd runs "palisade audit".
func auditCmd(args []string, stdout, stderr io.Writer) int {
	s, fs := newSource("audit", true, stdout, stderr)
	failOn := fs.String("fail-on", "", "exit 1 when a finding has this `severity` or worse (info, low, medium, high, critical)")
	list := fs.Bool("checks", false, "list the checks and exit")
	config := fs.String("config", "", "read the audit's configuration from `FILE` (YAML or JSON: skip, prodValues, requiredTags, namePattern, maxPortRange, enterpriseTags, enterpriseVpcs, allowedPorts, maxRules, unusedRuleDays; see the README)")
	skip := fs.String("skip", "", "do not run these checks (comma-separated `IDs`, added to the configuration's skip)")
	if _, code, done := parseAnalysisFlags(fs, args, stdout, "palisade audit [--fail-on SEVERITY] [--config FILE] [--skip IDS] [--checks] [--scenario FILE | --ecs-dir DIR | --ecs-region R | --endpoint HOST:PORT] [--json]"); done {
		return code
	}
	if *list {
		for _, c := range audit.Checks() {
			fmt.Fprintf(stdout, "%s  %-8s  %s\n", c.ID, c.Severity, c.Title)
		}
		return 0
	}
	opts, err := auditOptions(*config, *skip)
	if err != nil {
		fmt.Fprintln(stderr, "palisade audit:", err)
		return 2
	}
	var threshold audit.Severity
	if *failOn != "" {
		if threshold, err = audit.ParseSeverity(*failOn); err != nil {
			fmt.Fprintln(stderr, "palisade audit:", err)
			return 2
		}
	}
	var out struct {
		Findings               []audit.Finding
		PalisadeMissingServers []string
	}
	if s.offline() {
		c, err := s.cloud()
		if err != nil {
			return s.fail(err)
		}
		out.Findings = audit.Run(c, opts)
	} else if err := s.call("PalisadeAudit", auditParams(*config, *skip, opts), &out); err != nil {
		return s.fail(err)
	}
	s.warnMissingHits(out.PalisadeMissingServers, "SGA-034")
	if s.asJSON {
		s.printJSON(out.Findings)
	} else {
		for _, f := range out.Findings {
			where := f.Resource
			if f.RuleID != "" {
				where += " " + f.RuleID
			}
			fmt.Fprintf(stdout, "%s %-8s %s\n    %s\n    fix: %s\n", f.Check, strings.ToUpper(f.Severity.String()), where, f.Message, f.Fix)
		}
		fmt.Fprintf(stdout, "%d findings\n", len(out.Findings))
	}
	if w, ok := audit.Worst(out.Findings); ok && *failOn != "" && w >= threshold {
		return 1
	}
	return 0
}

// auditOptions reads --config and adds --skip to it.
func auditOptions(config, skip string) (audit.Options, error) {
	var o audit.Options
	if config != "" {
		data, err := os.ReadFile(config)
		if err != nil {
			return o, err
		}
		if o, err = audit.ParseConfig(data); err != nil {
			return o, fmt.Errorf("%s: %w", config, err)
		}
	}
	o.Skip = append(o.Skip, audit.ParseSkip(skip)...)
	return o, o.Validate()
}

// auditParams passes the configuration to PalisadeAudit (its Config
// parameter, in the file's form), when there is one.
func auditParams(config, skip string, o audit.Options) map[string]string {
	if config == "" && skip == "" {
		return map[string]string{}
	}
	return map[string]string{"Config": audit.ConfigJSON(o)}
}

// warnMissingHits says on stderr that servers of the installation did not
// give the rule hits of the flow records they keep (PalisadeMissingServers):
// what uses them is judged without those.
func (s *source) warnMissingHits(missing []string, what string) {
	warnMissingServers(s.stderr, s.name, missing, what+" does not count the flow records they keep")
}
