// Package verify answers "what happens to this flow, and why": the verdict of
// the one policy engine with, for each side, the deciding rule or the
// implicit reason, in a shape the API, the CLI and JSON output share.
package verify

import (
	"fmt"
	"io"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// Side is one side's decision.
type Side struct {
	Instance    string
	Verdict     string // Accept or Drop
	Reason      string // "rule", "intra-group access", "default inbound drop", ...
	GroupId     string `json:",omitempty"` // the deciding rule's group, or the shared group of intra-group access
	RuleId      string `json:",omitempty"`
	Priority    int    `json:",omitempty"`
	Policy      string `json:",omitempty"`
	Description string `json:",omitempty"`
	// Packet is the packet as this side sees it (after NAT).
	Source, Destination string
}

// Report is the answer to one flow.
type Report struct {
	Flow    string // the flow in one line
	Verdict string
	// Path is set when the network cannot carry the flow at all (different
	// VPC, no public address, no IPv6 address); no policy was consulted.
	Path    string `json:",omitempty"`
	Egress  *Side  `json:",omitempty"`
	Ingress *Side  `json:",omitempty"`
}

// FlowError is a flow's field ParseFlow refuses: Field names the API
// parameter at fault (From, To, Protocol, Port, SourcePort, IPVersion).
type FlowError struct{ Field, Why string }

func (e *FlowError) Error() string { return e.Why }

// ParseFlow reads a flow from API-style fields: From, To (instance IDs or
// addresses), Protocol, Port, SourcePort, IPVersion. Its errors are
// *FlowError.
func ParseFlow(from, to, proto, port, sourcePort, ipVersion string) (policy.Flow, error) {
	f := policy.Flow{From: from, To: to}
	bad := func(field, format string, args ...any) error {
		return &FlowError{Field: field, Why: fmt.Sprintf(format, args...)}
	}
	switch {
	case from == "":
		return f, bad("From", "a flow needs From and To (an instance ID or an IP address each)")
	case to == "":
		return f, bad("To", "a flow needs From and To (an instance ID or an IP address each)")
	}
	p, ok := model.ParseProtocol(proto)
	if !ok || p == model.ALL {
		return f, bad("Protocol", "protocol %q: use tcp, udp, icmp, icmpv6 or gre", proto)
	}
	f.Protocol = p
	num := func(field, name, s string, max int) (int, error) {
		if s == "" {
			return 0, nil
		}
		n, ok := model.ParseCanonicalInt(s, 0, int64(max)) // decimal, as a port is read
		if !ok {
			return 0, bad(field, "%s %q: want a number from 0 to %d", name, s, max)
		}
		return int(n), nil
	}
	// A port as the other analysis actions read one (model.ParsePort, in
	// the same words); 0 is none for a protocol without ports, as it was.
	if port != "" && (p.HasPorts() || port != "0") {
		n, ok := model.ParsePort(port)
		if !ok {
			return f, bad("Port", "%s", model.PortWanted)
		}
		f.Port = n
	}
	if p.HasPorts() && port == "" {
		// Port 0 is no port a rule can name: the engine refuses it.
		return f, bad("Port", "a %s flow needs a destination port from 1 to 65535", p)
	}
	n, err := num("SourcePort", "source port", sourcePort, 65535)
	if err != nil {
		return f, err
	}
	f.SourcePort = uint16(n)
	if n, err = num("IPVersion", "IP version", ipVersion, 6); err != nil {
		return f, err
	}
	if n != 0 && n != 4 && n != 6 {
		return f, bad("IPVersion", "IP version %d: use 4 or 6", n)
	}
	// ICMPv6 is IPv6 only: without a version, a flow of it between two
	// instances is their IPv6 flow (else it was refused, as ICMPv6 in
	// IPv4, and the console's form, which has no version, could not ask).
	if n == 0 && p == model.ICMPv6 {
		n = 6
	}
	f.IPVersion = n
	return f, nil
}

// Flow evaluates a flow and reports it.
func Flow(d policy.Decider, f policy.Flow) (Report, error) {
	res, err := policy.Evaluate(d, f)
	if err != nil {
		return Report{}, err
	}
	r := Report{Flow: scenario.FlowText(f), Verdict: string(res.Verdict), Path: string(res.Path)}
	if res.Egress != nil {
		r.Egress = side(f.From, res.Egress, res.EgressPacket)
	}
	if res.Ingress != nil {
		r.Ingress = side(f.To, res.Ingress, res.IngressPacket)
	}
	return r, nil
}

func side(inst string, d *policy.Decision, p policy.Packet) *Side {
	s := &Side{Instance: inst, Verdict: string(d.Verdict), Reason: string(d.Reason), GroupId: d.Group,
		Source: p.Src.String(), Destination: p.Dst.String()}
	if d.Rule != nil {
		s.GroupId, s.RuleId, s.Priority = d.Rule.GroupID, d.Rule.RuleID, d.Rule.Priority
		s.Policy, s.Description = d.Rule.Policy.Display(), d.Rule.Description
	}
	return s
}

// Why says what decided one side, in words: the decision's own wording.
func (s *Side) Why() string {
	d := policy.Decision{Verdict: policy.Verdict(s.Verdict), Reason: policy.Reason(s.Reason), Group: s.GroupId}
	if s.RuleId != "" {
		d.Rule = &policy.RuleRef{GroupID: s.GroupId, RuleID: s.RuleId, Priority: s.Priority,
			Policy: model.Policy(strings.ToLower(s.Policy)), Description: s.Description}
	}
	return d.String()
}

// Write prints a report for people.
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "%s: %s\n", r.Flow, strings.ToUpper(r.Verdict))
	if r.Path != "" {
		fmt.Fprintf(w, "  path: %s (no security group was consulted)\n", r.Path)
		return
	}
	for _, s := range []struct {
		name string
		side *Side
	}{{"egress ", r.Egress}, {"ingress", r.Ingress}} {
		if s.side == nil {
			continue
		}
		fmt.Fprintf(w, "  %s %-14s %-6s %s   [%s -> %s]\n", s.name, s.side.Instance, s.side.Verdict, s.side.Why(), s.side.Source, s.side.Destination)
	}
}
