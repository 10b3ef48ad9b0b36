package model

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Direction is the direction of a rule, seen from the instance.
type Direction string

const (
	Ingress Direction = "ingress"
	Egress  Direction = "egress"
)

// Policy is what a matching rule does. Stored lower-case; ECS shows it
// capitalised (see Policy.Display).
type Policy string

const (
	Accept Policy = "accept"
	Drop   Policy = "drop"
)

// Display is the form DescribeSecurityGroupAttribute returns.
func (p Policy) Display() string {
	if p == Drop {
		return "Drop"
	}
	return "Accept"
}

// Protocol is a rule's IpProtocol in canonical spelling.
type Protocol string

const (
	TCP    Protocol = "TCP"
	UDP    Protocol = "UDP"
	ICMP   Protocol = "ICMP"
	ICMPv6 Protocol = "ICMPv6"
	GRE    Protocol = "GRE"
	ALL    Protocol = "ALL"
)

// Protocols lists every protocol a rule may name.
var Protocols = []Protocol{TCP, UDP, ICMP, ICMPv6, GRE, ALL}

// Number is the IP protocol number (0 for ALL).
func (p Protocol) Number() uint8 {
	switch p {
	case TCP:
		return 6
	case UDP:
		return 17
	case ICMP:
		return 1
	case ICMPv6:
		return 58
	case GRE:
		return 47
	}
	return 0
}

// InFamily reports whether a rule of the protocol matches packets of an
// address family (six: IPv6): ICMP is IPv4's and ICMPv6 IPv6's, whatever
// the peer (a group or prefix list stands for both families), so an IPv6
// packet whose next header is 1 meets no ICMP rule; every other protocol
// is either family's.
func (p Protocol) InFamily(six bool) bool {
	switch p {
	case ICMP:
		return !six
	case ICMPv6:
		return six
	}
	return true
}

// CheckFamily refuses a flow of the protocol in a family its rules do not
// match (InFamily): an ICMP flow over IPv6, an ICMPv6 one over IPv4.
func (p Protocol) CheckFamily(six bool) error {
	switch {
	case p.InFamily(six):
		return nil
	case six:
		return errors.New("ICMP is IPv4; use ICMPv6 for an IPv6 flow")
	default:
		return errors.New("ICMPv6 is IPv6; use ICMP for an IPv4 flow")
	}
}

// HasPorts reports whether the protocol carries port numbers.
func (p Protocol) HasPorts() bool { return p == TCP || p == UDP }

// ParseProtocol accepts any case of the names ECS knows.
func ParseProtocol(s string) (Protocol, bool) {
	for _, p := range Protocols {
		if strings.EqualFold(s, string(p)) {
			return p, true
		}
	}
	return "", false
}

// NicType selects the classic network's internet or intranet rule set.
// VPC rules are always intranet.
type NicType string

const (
	Intranet NicType = "intranet"
	Internet NicType = "internet"
)

// PortRange is an inclusive port interval written "start/end". {-1,-1} is
// every port (the only range ICMP, ICMPv6, GRE and ALL take); the zero value
// means no range was given (an absent SourcePortRange).
type PortRange struct {
	Start int32 `json:"start"`
	End   int32 `json:"end"`
}

// AnyPort is the range "-1/-1".
var AnyPort = PortRange{-1, -1}

// IsSet reports whether a range was given at all.
func (r PortRange) IsSet() bool { return r != PortRange{} }

// IsAny reports whether the range admits every port.
func (r PortRange) IsAny() bool { return r == AnyPort || r == PortRange{} }

// Contains reports whether port falls in the range.
func (r PortRange) Contains(port uint16) bool {
	return r.IsAny() || int32(port) >= r.Start && int32(port) <= r.End
}

func (r PortRange) String() string {
	if !r.IsSet() {
		return ""
	}
	return string(r.appendTo(nil))
}

// appendTo appends String's text.
func (r PortRange) appendTo(b []byte) []byte {
	if !r.IsSet() {
		return b
	}
	return strconv.AppendInt(append(strconv.AppendInt(b, int64(r.Start), 10), '/'), int64(r.End), 10)
}

// inPorts reports whether the range admits every port or is a range of
// ports 1 to 65535 that does not start after its end: the ranges ParseRule
// and ParseListPortRange give.
func (r PortRange) inPorts() bool {
	return r.IsAny() || r.Start >= 1 && r.End <= 65535 && r.Start <= r.End
}

// Peer is the far side of a rule: exactly one of a CIDR block, a security
// group (optionally another account's) or a prefix list.
type Peer struct {
	CIDR         netip.Prefix `json:"cidr,omitzero"`
	CIDRText     string       `json:"cidrText,omitempty"` // as submitted, echoed back to clients
	GroupID      string       `json:"groupId,omitempty"`
	GroupOwner   string       `json:"groupOwner,omitempty"` // owner account UID, resolved by the operations layer
	PrefixListID string       `json:"prefixListId,omitempty"`
	// OwnerNamed: the client named GroupOwner (by ID or account) rather
	// than leaving it to default to its own account. Responses show the
	// owner when it is another account's group or was named, so a client
	// that named its own account reads back what it sent.
	OwnerNamed bool `json:"ownerNamed,omitempty"`
}

// Rule is one permission of a security group.
type Rule struct {
	ID        string    `json:"id"`
	Direction Direction `json:"direction"`
	Policy    Policy    `json:"policy"`
	Priority  int       `json:"priority"`
	Protocol  Protocol  `json:"protocol"`
	PortRange PortRange `json:"portRange"`
	// PortRangeListID names a port range list whose ranges are the rule's
	// destination ports; PortRange is then unset.
	PortRangeListID string       `json:"portRangeListId,omitempty"`
	SourcePortRange PortRange    `json:"sourcePortRange,omitzero"`
	Peer            Peer         `json:"peer"`
	Local           netip.Prefix `json:"local,omitzero"` // the instance-side CIDR of a quintuple rule
	LocalText       string       `json:"localText,omitempty"`
	NicType         NicType      `json:"nicType"`
	Description     string       `json:"description,omitempty"`
	Created         time.Time    `json:"created"`
}

// Key is the rule's identity: two rules with the same key are the same rule
// (Authorize of an existing rule adds nothing). Description is not part of it.
//
// Its fields are joined by "|" in one buffer (every write keys its rules:
// a string for each part was most of its allocations).
func (r *Rule) Key() string {
	b := make([]byte, 0, 96)
	b = append(append(b, r.Direction...), '|')
	b = append(append(b, r.NicType...), '|')
	b = append(append(b, r.Protocol...), '|')
	b = r.PortRange.appendTo(b)
	if r.PortRangeListID != "" { // without one, keys stay as they were before lists
		b = append(append(b, "prl:"...), r.PortRangeListID...)
	}
	b = append(r.SourcePortRange.appendTo(append(b, '|')), '|')
	switch {
	case r.Peer.CIDR.IsValid():
		b = r.Peer.CIDR.Masked().AppendTo(append(b, "cidr:"...))
	case r.Peer.GroupID != "":
		b = append(append(append(append(b, "sg:"...), r.Peer.GroupID...), '@'), r.Peer.GroupOwner...)
	default:
		b = append(append(b, "pl:"...), r.Peer.PrefixListID...)
	}
	b = append(b, '|')
	if r.Local.IsValid() {
		b = r.Local.Masked().AppendTo(b)
	}
	b = append(append(append(b, '|'), r.Policy...), '|')
	return string(strconv.AppendInt(b, int64(r.Priority), 10))
}

// Malformed says what of a rule's protocol and ports no request that
// ParseRule accepts gives ("" when nothing): a protocol not in Protocols,
// or for TCP and UDP a port or source port range outside 1-65535 or
// starting after its end. A rule from elsewhere (the agent's server, which
// it does not trust) may be: the evaluators and nftables would read it each
// their own way (nftables has no protocol number for an unknown protocol,
// and no port above 65535), so such a rule must not be enforced.
func (r *Rule) Malformed() string {
	switch {
	case !slices.Contains(Protocols, r.Protocol):
		return "protocol " + strconv.Quote(string(r.Protocol))
	case !r.Protocol.HasPorts():
		return ""
	case r.PortRangeListID == "" && !r.PortRange.inPorts():
		return "port range " + r.PortRange.String()
	case !r.SourcePortRange.inPorts():
		return "source port range " + r.SourcePortRange.String()
	}
	return ""
}

// IPv6 reports whether the rule is about IPv6 traffic only; false for rules
// whose peer is a group (which stands for both families).
func (r *Rule) IPv6() bool {
	return r.Peer.CIDR.IsValid() && r.Peer.CIDR.Addr().Is6() || r.Local.IsValid() && r.Local.Addr().Is6()
}
