package policy

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// DefaultSourcePort is the source port of a flow that names none: an
// ephemeral port, fixed so that evaluation is reproducible.
const DefaultSourcePort = 40000

// Flow is the first packet of a connection between two endpoints, each an
// instance ID or an address outside every VPC.
type Flow struct {
	From, To   string
	Protocol   model.Protocol // TCP, UDP, ICMP, ICMPv6 or GRE
	Port       uint16         // destination port (TCP, UDP)
	SourcePort uint16         // 0: DefaultSourcePort
	IPVersion  int            // 4 or 6; 0: 6 if an outside address is IPv6, else 4
	// FromAddr and ToAddr pick which of an instance end's IPv6 addresses
	// (IPv6s) an IPv6 flow is sent from and to; zero: its first. A NIC may
	// hold several, and peers of a prefix may tell them apart.
	FromAddr, ToAddr netip.Addr
}

// Packet is the first packet of a connection as one instance's NIC sees it.
type Packet struct {
	Src, Dst         netip.Addr
	Proto            uint8 // IP protocol number
	SrcPort, DstPort uint16
}

// Verdict is the fate of a packet.
type Verdict string

const (
	Accept Verdict = "Accept"
	Drop   Verdict = "Drop"
)

// Reason says what decided a verdict.
type Reason string

const (
	ByRule               Reason = "rule"
	IntraGroup           Reason = "intra-group access"
	DefaultIngressDrop   Reason = "default inbound drop"
	DefaultEgressAccept  Reason = "default outbound accept (basic group)"
	EnterpriseEgressDrop Reason = "enterprise default outbound drop"
	NoPublicAddress      Reason = "no public address"
	DifferentVPC         Reason = "different VPC"
	NoIPv6Address        Reason = "no IPv6 address"
)

// DefaultVerdict is the verdict a reason decides by itself: those of the
// defaults (and of the flows no rule can reach). A rule's verdict is its
// policy's and intra-group access's the group's; for them ok is false.
func (r Reason) DefaultVerdict() (v Verdict, ok bool) {
	switch r {
	case DefaultEgressAccept:
		return Accept, true
	case DefaultIngressDrop, EnterpriseEgressDrop, NoPublicAddress, DifferentVPC, NoIPv6Address:
		return Drop, true
	}
	return "", false
}

// RuleRef names the rule that decided.
type RuleRef struct {
	GroupID     string
	RuleID      string
	Priority    int
	Policy      model.Policy
	Description string
}

// Decision is one side's verdict and why.
type Decision struct {
	Verdict Verdict
	Reason  Reason
	Rule    *RuleRef // set when Reason is ByRule
	Group   string   // the shared group, when Reason is IntraGroup
}

func (d Decision) String() string {
	switch d.Reason {
	case ByRule:
		s := fmt.Sprintf("%s %s priority %d %s", d.Rule.GroupID, d.Rule.RuleID, d.Rule.Priority, d.Rule.Policy.Display())
		if d.Rule.Description != "" {
			s += fmt.Sprintf(" (%s)", d.Rule.Description)
		}
		return s
	case IntraGroup:
		return fmt.Sprintf("intra-group access in %s", d.Group)
	}
	return string(d.Reason)
}

// Result is the verdict on a flow with each side's decision.
type Result struct {
	Verdict Verdict
	// Path is set when the network itself cannot carry the flow (no public
	// address, different VPC, no IPv6 address); no policy was consulted.
	Path    Reason
	Egress  *Decision // the source instance's egress decision; nil for an outside source
	Ingress *Decision // the destination instance's ingress decision; nil for an outside destination
	// The packet as each side sees it (addresses after NAT to public addresses).
	EgressPacket, IngressPacket Packet
}

// Decider is the per-instance half of evaluation: one direction of one
// instance's policy applied to a packet. nic is the path: intranet between
// private addresses, internet to or from public addresses (it selects the
// rule set of classic-network groups).
type Decider interface {
	Cloud() *Cloud
	Decide(in *model.Instance, dir model.Direction, nic model.NicType, p Packet) Decision
}

type endpoint struct {
	inst *model.Instance
	addr netip.Addr // outside address
}

func (c *Cloud) endpoint(s string) (endpoint, error) {
	if in, ok := c.Instances[s]; ok {
		return endpoint{inst: in}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return endpoint{}, fmt.Errorf("%q is neither an instance nor an IP address", s)
	}
	return endpoint{addr: a.Unmap()}, nil
}

// Evaluate decides a flow with the given decider: it finds the two ends,
// the first packet, the path (Path), then asks each instance's side.
func Evaluate(d Decider, f Flow) (Result, error) {
	src, dst, err := d.Cloud().ends(f)
	if err != nil {
		return Result{}, err
	}
	six, err := f.version(src, dst)
	if err != nil {
		return Result{}, err
	}
	pkt, err := f.packet(six)
	if err != nil {
		return Result{}, err
	}
	if err := f.addrs(src, dst, six); err != nil {
		return Result{}, err
	}
	rt := PathBetween(src.inst, dst.inst, six)
	if rt.NoPath != "" {
		return Result{Verdict: Drop, Path: rt.NoPath}, nil
	}
	outside := src.addr
	if dst.inst == nil {
		outside = dst.addr
	}
	eg, ing := rt.Packets(src.inst, dst.inst, outside, pkt)
	// IPv6 is not translated: both sides see the address the flow names.
	if f.FromAddr.IsValid() {
		eg.Src, ing.Src = f.FromAddr, f.FromAddr
	}
	if f.ToAddr.IsValid() {
		eg.Dst, ing.Dst = f.ToAddr, f.ToAddr
	}
	return decide(d, src.inst, dst.inst, rt.NIC, eg, ing), nil
}

// addrs checks the addresses a flow names for its instance ends: each one
// of that end's IPv6 addresses, on an IPv6 flow.
func (f Flow) addrs(src, dst endpoint, six bool) error {
	for _, e := range []struct {
		side string
		a    netip.Addr
		end  endpoint
	}{{"from", f.FromAddr, src}, {"to", f.ToAddr, dst}} {
		switch {
		case !e.a.IsValid():
		case e.end.inst == nil:
			return fmt.Errorf("%s: an address names one of an instance's own; %s is an outside address", e.side, e.end.addr)
		case !six:
			return fmt.Errorf("%s: only an IPv6 flow names one of an instance's addresses", e.side)
		case !slices.Contains(e.end.inst.IPv6s(), e.a):
			return fmt.Errorf("%s: %s is not an IPv6 address of %s", e.side, e.a, e.end.inst.ID)
		}
	}
	return nil
}

// ends resolves a flow's two ends: two instances, or an instance and an
// outside address.
func (c *Cloud) ends(f Flow) (src, dst endpoint, err error) {
	if src, err = c.endpoint(f.From); err != nil {
		return src, dst, fmt.Errorf("from: %w", err)
	}
	if dst, err = c.endpoint(f.To); err != nil {
		return src, dst, fmt.Errorf("to: %w", err)
	}
	if src.inst == nil && dst.inst == nil {
		return src, dst, fmt.Errorf("a flow needs an instance at one end at least")
	}
	if src.inst != nil && src.inst == dst.inst {
		return src, dst, fmt.Errorf("from and to are the same instance")
	}
	return src, dst, nil
}

// version returns whether a flow is IPv6: as it says, else as its outside
// address is.
func (f Flow) version(src, dst endpoint) (six bool, err error) {
	six = f.IPVersion == 6
	for _, e := range []endpoint{src, dst} {
		if e.inst == nil {
			if f.IPVersion == 0 {
				six = e.addr.Is6()
			} else if e.addr.Is6() != six {
				return six, fmt.Errorf("address %s is not IPv%d", e.addr, f.IPVersion)
			}
		}
	}
	return six, nil
}

// packet returns the flow's first packet without addresses.
func (f Flow) packet(six bool) (Packet, error) {
	if err := f.Protocol.CheckFamily(six); err != nil {
		return Packet{}, err
	}
	switch {
	case f.Protocol == model.ALL || f.Protocol.Number() == 0:
		return Packet{}, fmt.Errorf("a flow needs one protocol: TCP, UDP, ICMP, ICMPv6 or GRE")
	case f.Protocol.HasPorts() && f.Port == 0:
		// No rule can name port 0 (ranges are 1-65535), so no analysis
		// could say what happens to it.
		return Packet{}, fmt.Errorf("a %s flow needs a destination port from 1 to 65535", f.Protocol)
	}
	pkt := Packet{Proto: f.Protocol.Number()}
	if f.Protocol.HasPorts() {
		pkt.DstPort, pkt.SrcPort = f.Port, f.SourcePort
		if pkt.SrcPort == 0 {
			pkt.SrcPort = DefaultSourcePort
		}
	}
	return pkt, nil
}

// decide asks the source instance's egress and the destination instance's
// ingress; either may drop.
func decide(d Decider, src, dst *model.Instance, nic model.NicType, eg, ing Packet) Result {
	res := Result{Verdict: Accept}
	if src != nil {
		e := d.Decide(src, model.Egress, nic, eg)
		res.Egress, res.EgressPacket = &e, eg
		if e.Verdict == Drop {
			res.Verdict = Drop
		}
	}
	if dst != nil {
		i := d.Decide(dst, model.Ingress, nic, ing)
		res.Ingress, res.IngressPacket = &i, ing
		if i.Verdict == Drop {
			res.Verdict = Drop
		}
	}
	return res
}

// Deciding returns the decision that settled the result: the dropping side,
// or the ingress side of an accepted flow (the egress side if there is none).
func (r Result) Deciding() *Decision {
	switch {
	case r.Egress != nil && r.Egress.Verdict == Drop:
		return r.Egress
	case r.Ingress != nil:
		return r.Ingress
	}
	return r.Egress
}

// sides splits a packet into the instance's address and the peer's.
func sides(dir model.Direction, p Packet) (local, remote netip.Addr) {
	if dir == model.Ingress {
		return p.Dst, p.Src
	}
	return p.Src, p.Dst
}
