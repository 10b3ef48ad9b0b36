package console

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/ecserr"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// mapNode and mapEdge are the map's data as the page's script reads it.
type mapNode struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Members int    `json:"members"`
	Kind    string `json:"kind"` // group, internet, or memberless (the groups without members, folded)
}

type mapEdge struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	Target string `json:"target"`
	Ports  string `json:"ports"`
	Warn   bool   `json:"warn"` // an administration or database port from the internet
	Pairs  int    `json:"pairs"`
	Href   string `json:"href"`
	// SourceName and TargetName are the groups' names, for the table
	// beside the map (which labels its nodes with them).
	SourceName string `json:"-"`
	TargetName string `json:"-"`
}

type mapData struct {
	Nodes []mapNode `json:"nodes"`
	Edges []mapEdge `json:"edges"`
	// Hidden counts the edges between groups left out of a dense map (see
	// maxMapEdges); Groups are the VPC's groups, to focus on one.
	Hidden int       `json:"hidden,omitempty"`
	Groups []mapNode `json:"-"`
	// Memberless are the groups without members, which no flow reaches:
	// drawn as one node (memberlessNode) and listed beside the map, for a
	// hundred of them drew a ring of tiny nodes around the groups that
	// matter.
	Memberless []mapNode `json:"-"`
	// Stale: drawn from the last graph while the current one is computed.
	Stale bool `json:"-"`
}

// memberlessNode is the ID of the node that stands for the groups without
// members (not a group's ID: those start with sg-).
const memberlessNode = "memberless"

// maxMapEdges keeps a map readable: above it, the map of a VPC shows the
// edges with the internet and asks to focus on a group, a protocol or a
// port for the rest (the analysis is the same; only the drawing is cut).
const maxMapEdges = 300

// mapOf draws the reachability graph of one VPC's groups: a node per group
// (a class of instances, never an instance pair) and the internet, an edge
// per group pair with something open, as reach.Graph aggregates it.
func (c *Console) mapOf(p *page, vpc, protocol, port, focus string) (mapData, error) {
	groups, err := c.svc.DescribeSecurityGroups(p.ctx(), service.DescribeGroupsInput{Caller: p.caller, Page: allPage})
	if err != nil {
		return mapData{}, err
	}
	g, fresh, err := c.graphOf(p.ctx(), p.caller, protocol, port, c.budgets.page)
	if err != nil {
		return mapData{}, err
	}
	in := map[string]*model.SecurityGroup{}
	// A group's members are the API's count, as the groups list shows
	// them: the graph's nodes are only the groups its edges join, so a
	// group with members and no edge read as one without members.
	members := map[string]int{}
	for _, s := range groups.Items {
		if s.Group.VpcID == vpc {
			in[s.Group.ID], members[s.Group.ID] = s.Group, s.Members
		}
	}
	if focus != "" && in[focus] == nil {
		return mapData{}, ecserr.New(http.StatusNotFound, "InvalidSecurityGroupId.NotFound", "The security group %q is not one of this network's: pick one in the Group list.", focus)
	}
	out := mapData{Nodes: []mapNode{}, Edges: []mapEdge{}, Stale: !fresh}
	var edges []*reach.Edge // pointers: a big graph has thousands of edges, each with its port lists
	for i := range g.Graph.Edges {
		e := &g.Graph.Edges[i]
		if (in[e.From] == nil && e.From != reach.Internet) || (in[e.To] == nil && e.To != reach.Internet) {
			continue
		}
		if focus != "" && e.From != focus && e.To != focus {
			continue
		}
		edges = append(edges, e)
	}
	if len(edges) > maxMapEdges {
		var kept []*reach.Edge
		for _, e := range edges {
			if e.From == reach.Internet || e.To == reach.Internet {
				kept = append(kept, e)
			}
		}
		out.Hidden = len(edges) - len(kept)
		edges = kept
	}
	internet, touched := false, map[string]bool{}
	for _, e := range edges {
		touched[e.From], touched[e.To] = true, true
		internet = internet || e.From == reach.Internet || e.To == reach.Internet
		ports := e.IPv4.Union(e.IPv6)
		me := mapEdge{ID: e.From + ">" + e.To, Source: e.From, Target: e.To, Ports: ports.String(), Pairs: e.Pairs4 + e.Pairs6,
			Href: p.link("map/edge", "from", e.From, "to", e.To, "protocol", protocol, "port", port)}
		me.Warn = e.From == reach.Internet && opensRisky(ports)
		if g := in[e.From]; g != nil {
			me.SourceName = g.Name
		}
		if g := in[e.To]; g != nil {
			me.TargetName = g.Name
		}
		out.Edges = append(out.Edges, me)
	}
	for id, grp := range in {
		n := mapNode{ID: id, Label: cmp.Or(grp.Name, id), Members: members[id], Kind: "group"}
		out.Groups = append(out.Groups, n)
		switch {
		case focus == "" && n.Members == 0 && !touched[id]:
			out.Memberless = append(out.Memberless, n)
		case focus == "" || touched[id] || id == focus:
			out.Nodes = append(out.Nodes, n)
		}
	}
	byLabel := func(a, b mapNode) int { return cmp.Or(cmp.Compare(a.Label, b.Label), cmp.Compare(a.ID, b.ID)) }
	slices.SortFunc(out.Groups, byLabel)
	slices.SortFunc(out.Memberless, byLabel)
	if n := len(out.Memberless); n > 0 {
		label := fmt.Sprintf("%d group%s without members", n, plural(n))
		out.Nodes = append(out.Nodes, mapNode{ID: memberlessNode, Label: label, Kind: "memberless"})
	}
	if internet {
		out.Nodes = append(out.Nodes, mapNode{ID: reach.Internet, Label: "Internet", Kind: "internet"})
	}
	slices.SortFunc(out.Nodes, func(a, b mapNode) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (c *Console) mapPage(p *page) {
	q := p.r.URL.Query()
	vpcs, err := c.vpcs(p)
	if err != nil {
		c.fail(p, err)
		return
	}
	slices.SortFunc(vpcs, func(a, b service.VpcView) int { return cmp.Compare(a.VPC.ID, b.VPC.ID) })
	vpc := q.Get("vpc")
	if vpc == "" && len(vpcs) > 0 && !q.Has("vpc") {
		vpc = vpcs[0].VPC.ID
	}
	data := map[string]any{"VPCs": vpcs, "VPC": vpc, "Protocol": q.Get("protocol"), "Port": q.Get("port"), "Focus": q.Get("group")}
	if vpc != "" && !slices.ContainsFunc(vpcs, func(v service.VpcView) bool { return v.VPC.ID == vpc }) {
		c.fail(p, ecserr.New(404, "InvalidVpcId.NotFound", "The VPC %q is not one of this account's in %s.", vpc, p.region))
		return
	}
	m, err := c.mapOf(p, vpc, q.Get("protocol"), q.Get("port"), q.Get("group"))
	if errors.Is(err, errComputing) {
		data["Computing"], data["Map"] = true, mapData{}
		c.render(p.w, http.StatusOK, "map", c.base(p, "Reachability map", data))
		return
	}
	if e, ok := errors.AsType[*ecserr.Error](err); ok {
		// A filter refused: said above the map, the filter as typed.
		data["Err"], data["Map"] = e, mapData{}
		c.render(p.w, e.Status, "map", c.base(p, "Reachability map", data))
		return
	}
	if err != nil {
		c.fail(p, err)
		return
	}
	js, err := json.Marshal(m)
	if err != nil {
		c.fail(p, err)
		return
	}
	data["Map"] = m
	data["MapJSON"] = template.JS(js) // inside a JSON script element: not executed
	c.render(p.w, http.StatusOK, "map", c.base(p, "Reachability map", data))
}

// overlaps reports whether a rule can match some of the flows in ports.
func overlaps(r *model.Rule, ports reach.Ports, lists map[string]*model.PortRangeList) bool {
	ranges := func(rs []reach.PortRange) bool {
		if r.PortRangeListID != "" {
			return len(rs) > 0 // a port range list: shown as a candidate
		}
		for _, x := range rs {
			if r.PortRange.IsAny() || int32(x.From) <= r.PortRange.End && int32(x.To) >= r.PortRange.Start {
				return true
			}
		}
		return false
	}
	switch r.Protocol {
	case model.ALL:
		return !ports.Empty()
	case model.TCP:
		return ranges(ports.TCP)
	case model.UDP:
		return ranges(ports.UDP)
	case model.ICMP:
		return ports.ICMP
	case model.ICMPv6:
		return ports.ICMPv6
	case model.GRE:
		return ports.GRE
	}
	return false
}

// sideRules are the accept rules of one side of an edge that can open it:
// their ports overlap the edge's and their peer can stand for the other
// side (that group, or addresses: a CIDR block or a prefix list).
func sideRules(g *model.SecurityGroup, dir model.Direction, other string, ports reach.Ports) []model.Rule {
	var out []model.Rule
	for _, r := range g.Rules {
		if r.Direction != dir || r.Policy != model.Accept || !overlaps(&r, ports, nil) {
			continue
		}
		if r.Peer.GroupID != "" && (other == reach.Internet || r.Peer.GroupID != other) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func (c *Console) edgePage(p *page) {
	q := p.r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	g, fresh, err := c.graphOf(p.ctx(), p.caller, q.Get("protocol"), q.Get("port"), c.budgets.page)
	if errors.Is(err, errComputing) { // the first graph: wait for it here
		g, fresh, err = c.graphOf(p.ctx(), p.caller, q.Get("protocol"), q.Get("port"), mustWait)
	}
	if err != nil {
		c.fail(p, err)
		return
	}
	i := slices.IndexFunc(g.Graph.Edges, func(e reach.Edge) bool { return e.From == from && e.To == to })
	if i < 0 && !fresh { // not in the last graph: it may be in the current one
		if g, fresh, err = c.graphOf(p.ctx(), p.caller, q.Get("protocol"), q.Get("port"), mustWait); err != nil {
			c.fail(p, err)
			return
		}
		i = slices.IndexFunc(g.Graph.Edges, func(e reach.Edge) bool { return e.From == from && e.To == to })
	}
	if i < 0 {
		c.notFound(p, "Nothing passes from "+from+" to "+to+" (or they are not this account's).")
		return
	}
	e := g.Graph.Edges[i]
	ports := e.IPv4.Union(e.IPv6)
	type side struct {
		Group *model.SecurityGroup
		Dir   string
		Rules []ruleRow
		Intra bool
		// Also are the other groups of the group's members (the first
		// maxMembers): their rules pool with the group's on those
		// members, so they may open ports of the edge that no rule
		// listed does.
		Also []string
	}
	load := func(id string, dir model.Direction, other string) *side {
		if id == reach.Internet {
			return nil
		}
		attr, err := c.svc.DescribeSecurityGroupAttribute(p.ctx(), allRules(p.caller, id))
		if err != nil {
			return nil
		}
		s := &side{Group: attr.Group, Dir: string(dir), Intra: id == other && attr.Group.InnerAccept()}
		keep := map[string]bool{}
		for _, r := range sideRules(attr.Group, dir, other, ports) {
			keep[r.ID] = true
		}
		for _, rv := range attr.Rules {
			if keep[rv.ID] {
				s.Rules = append(s.Rules, ruleRow{RuleView: rv, Peer: peerText(attr.Group, &rv), Ports: portsText(&rv)})
			}
		}
		also := func(groups []string) {
			for _, gid := range groups {
				if gid != id && !slices.Contains(s.Also, gid) {
					s.Also = append(s.Also, gid)
				}
			}
		}
		if ms, err := c.svc.DescribeInstances(p.ctx(), service.DescribeInstancesInput{Caller: p.caller, SecurityGroupID: id, Page: service.Page{Size: maxMembers}}); err == nil {
			for _, m := range ms.Items {
				also(m.Instance.SecurityGroups)
			}
		}
		// An attached secondary ENI is a member (a NIC) of its own groups.
		if ns, err := c.svc.DescribeNetworkInterfaces(p.ctx(), service.DescribeENIsInput{Caller: p.caller, SecurityGroupID: id, Page: service.Page{Size: maxMembers}}); err == nil {
			for _, n := range ns.Items {
				if n.SecondaryNIC() {
					also(n.SecurityGroups)
				}
			}
		}
		slices.Sort(s.Also)
		return s
	}
	c.render(p.w, http.StatusOK, "edge", c.base(p, "From "+from+" to "+to, map[string]any{"From": from, "To": to, "Ports": ports.String(),
		"Pairs": e.Pairs4 + e.Pairs6, "Stale": !fresh, "Source": load(from, model.Egress, to), "Dest": load(to, model.Ingress, from)}))
}
