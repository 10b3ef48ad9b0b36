package model

import (
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// RuleInput is a rule as a client sends it: the fields of the ECS Permission
// struct, as strings. Source* fields are the peer of an ingress rule and the
// local side of an egress rule; Dest* fields the other way round.
type RuleInput struct {
	Policy          string
	Priority        string
	IpProtocol      string
	PortRange       string
	PortRangeListId string // used only when PortRange is empty, as ECS does
	SourcePortRange string
	NicType         string
	Description     string

	SourceCidrIp            string
	Ipv6SourceCidrIp        string
	SourceGroupId           string
	SourceGroupOwnerAccount string
	SourceGroupOwnerId      string
	SourcePrefixListId      string

	DestCidrIp            string
	Ipv6DestCidrIp        string
	DestGroupId           string
	DestGroupOwnerAccount string
	DestGroupOwnerId      string
	DestPrefixListId      string

	// LocalNames: the peer group and prefix list IDs are a scenario file's
	// local names (web, office), which need not have the API's shape
	// (sg-…, pl-…); the caller has checked that they name what it defines.
	LocalNames bool `json:"-"`
}

// PeerOwner is the owner of a group peer as the client named it: a numeric
// account ID or an account name. The operations layer resolves it.
type PeerOwner struct{ ID, Account string }

// ParseRule validates a rule of a group on the classic network (classic) or
// in a VPC, and returns it normalised, with the peer group's owner as given
// (resolve it before storing). It checks every field on its own; checks that
// need other resources (does the peer group exist, is it in the same VPC) are
// the operations layer's.
func ParseRule(dir Direction, in RuleInput, classic bool) (Rule, PeerOwner, *ecserr.Error) {
	var r Rule
	r.Direction = dir
	var owner PeerOwner

	p, err := parseProtocol(in.IpProtocol)
	if err != nil {
		return r, owner, err
	}
	r.Protocol = p
	if in.PortRange == "" && in.PortRangeListId != "" {
		r.PortRangeListID = in.PortRangeListId
		if err := CheckPortRangeListRule(&r, classic); err != nil {
			return r, owner, err
		}
	} else if r.PortRange, err = parsePortRange(in.PortRange, p); err != nil {
		return r, owner, err.At("PortRange")
	}
	if in.SourcePortRange != "" {
		spr, err := parsePortRange(in.SourcePortRange, p)
		if err != nil {
			return r, owner, ecserr.BadRequest("InvalidSourcePortRange.Malformed", "The specified SourcePortRange %q is not valid: %s", in.SourcePortRange, err.Message).At("SourcePortRange")
		}
		if spr != AnyPort {
			r.SourcePortRange = spr
		}
	}
	if r.Policy, err = ParsePolicy(in.Policy); err != nil {
		return r, owner, err.At("Policy")
	}
	if r.Priority, err = ParsePriority(in.Priority); err != nil {
		return r, owner, err.At("Priority")
	}
	if in.Description != "" {
		if n := len([]rune(in.Description)); n > 512 {
			return r, owner, ecserr.BadRequest("InvalidSecurityGroupDiscription.Malformed", "The rule description must be 1 to 512 characters long; it has %d.", n).At("Description")
		}
		if !ValidText(in.Description) {
			return r, owner, ecserr.BadRequest("InvalidSecurityGroupDiscription.Malformed", "The rule description must be valid UTF-8 without control or bidirectional formatting characters.").At("Description")
		}
		r.Description = in.Description
	}

	// Which request fields are the peer and which the local side depends on
	// the direction; the error codes are named after the fields.
	peerSide, localSide := "Source", "Dest"
	peer4, peer6, group, ownerID, ownerAcct, pl := in.SourceCidrIp, in.Ipv6SourceCidrIp, in.SourceGroupId, in.SourceGroupOwnerId, in.SourceGroupOwnerAccount, in.SourcePrefixListId
	local4, local6, localGroup, localPL := in.DestCidrIp, in.Ipv6DestCidrIp, in.DestGroupId, in.DestPrefixListId
	if dir == Egress {
		peerSide, localSide = "Dest", "Source"
		peer4, peer6, group, ownerID, ownerAcct, pl = in.DestCidrIp, in.Ipv6DestCidrIp, in.DestGroupId, in.DestGroupOwnerId, in.DestGroupOwnerAccount, in.DestPrefixListId
		local4, local6, localGroup, localPL = in.SourceCidrIp, in.Ipv6SourceCidrIp, in.SourceGroupId, in.SourcePrefixListId
	}
	// A group or prefix list on the local side names nothing (the local
	// side takes a CIDR block only). Ignored, it left the rule wider than
	// written: an ingress rule with DestGroupId admitted traffic to every
	// member of the rule's group. The scenario loader refuses it too.
	if localGroup != "" {
		return r, owner, ecserr.BadRequest("InvalidSourceOrDestGroupId.DirectionMissmatch", "%sGroupId %q is on the local side of an %s rule, which takes only a CIDR block (%sCidrIp); the peer group of an %s rule is %sGroupId.", localSide, Clip(localGroup), dir, localSide, dir, peerSide).At(localSide + "GroupId")
	}
	if localPL != "" {
		return r, owner, ecserr.BadRequest("InvalidParameter", "%sPrefixListId %q is on the local side of an %s rule, which takes only a CIDR block (%sCidrIp); the peer prefix list of an %s rule is %sPrefixListId.", localSide, Clip(localPL), dir, localSide, dir, peerSide).At(localSide + "PrefixListId")
	}

	// A CIDR peer wins over a group, and a group over a prefix list, as in
	// ECS; the fields that lose are still checked, so nothing a request
	// carries goes unvalidated.
	if group != "" && !in.LocalNames && !HasPrefix(group, "sg") {
		return r, owner, ecserr.BadRequest("InvalidSecurityGroupId.Malformed", "%sGroupId %q is not a security group ID (sg-…).", peerSide, Clip(group)).At(peerSide + "GroupId")
	}
	if ownerID != "" {
		if _, ok := ParseCanonicalInt(ownerID, 0, math.MaxInt64); !ok {
			return r, owner, ecserr.BadRequest("InvalidParameter", "%sGroupOwnerId %q must be a numeric account ID.", peerSide, Clip(ownerID)).At(peerSide + "GroupOwnerId")
		}
	}
	if ownerAcct != "" && (len(ownerAcct) > MaxIDLength || !ValidText(ownerAcct)) {
		return r, owner, ecserr.BadRequest("InvalidParameter", "%sGroupOwnerAccount %q is not an account name or ID.", peerSide, Clip(ownerAcct)).At(peerSide + "GroupOwnerAccount")
	}
	if pl != "" && !in.LocalNames && !HasPrefix(pl, "pl") {
		return r, owner, ecserr.BadRequest("InvalidPrefixListId.Malformed", "%sPrefixListId %q is not a prefix list ID (pl-…).", peerSide, Clip(pl)).At(peerSide + "PrefixListId")
	}
	if peer4 != "" && peer6 != "" {
		return r, owner, ecserr.BadRequest("InvalidParam."+peerSide+"Ip", "%sCidrIp and Ipv6%sCidrIp cannot both be set; give one peer address family per rule.", peerSide, peerSide).At("Ipv6" + peerSide + "CidrIp")
	}
	switch {
	case peer4 != "":
		pfx, text, ok := parseCIDR(peer4, false)
		if !ok {
			return r, owner, ecserr.BadRequest("Invalid"+peerSide+"CidrIp.Malformed", "The specified %sCidrIp %q is not a valid IPv4 address or CIDR block.", peerSide, Clip(peer4)).At(peerSide + "CidrIp")
		}
		if pfx != pfx.Masked() { // the names made for the error only: every rule write parses its peer
			return r, owner, hostBits(peerSide+"CidrIp", "Invalid"+peerSide+"CidrIp.Malformed", pfx)
		}
		r.Peer = Peer{CIDR: pfx, CIDRText: text}
	case peer6 != "":
		pfx, text, ok := parseCIDR(peer6, true)
		if !ok {
			return r, owner, ecserr.BadRequest("InvalidParam.Ipv6"+peerSide+"CidrIp", "The specified Ipv6%sCidrIp %q is not a valid IPv6 address or CIDR block.", peerSide, Clip(peer6)).At("Ipv6" + peerSide + "CidrIp")
		}
		if pfx != pfx.Masked() {
			return r, owner, hostBits("Ipv6"+peerSide+"CidrIp", "InvalidParam.Ipv6"+peerSide+"CidrIp", pfx)
		}
		r.Peer = Peer{CIDR: pfx, CIDRText: text}
	case group != "":
		r.Peer = Peer{GroupID: group}
		owner = PeerOwner{ID: ownerID, Account: ownerAcct}
	case pl != "":
		if classic {
			return r, owner, ecserr.BadRequest("NotSupported.ClassicNetworkPrefixList", "Prefix lists can only be used in rules of VPC security groups.").At(peerSide + "PrefixListId")
		}
		r.Peer = Peer{PrefixListID: pl}
	default:
		return r, owner, ecserr.BadRequest("MissingParameter."+peerSide, "The rule needs a peer: one of %sCidrIp, Ipv6%sCidrIp, %sGroupId or %sPrefixListId.", peerSide, peerSide, peerSide, peerSide).At(peerSide + "CidrIp")
	}

	if local4 != "" && local6 != "" {
		return r, owner, ecserr.BadRequest("InvalidParam."+localSide+"Ip", "%sCidrIp and Ipv6%sCidrIp cannot both be set.", localSide, localSide).At("Ipv6" + localSide + "CidrIp")
	}
	if local4 != "" || local6 != "" {
		raw, six := local4, false
		if local6 != "" {
			raw, six = local6, true
		}
		code, field := "Invalid"+localSide+"CidrIp.Malformed", localSide+"CidrIp"
		if six {
			code, field = "InvalidParam.Ipv6"+localSide+"CidrIp", "Ipv6"+field
		}
		pfx, text, ok := parseCIDR(raw, six)
		if !ok {
			return r, owner, ecserr.BadRequest(code, "The specified local-side CIDR %q is not a valid address or CIDR block.", Clip(raw)).At(field)
		}
		if e := hostBits(field, code, pfx); e != nil {
			return r, owner, e
		}
		r.Local, r.LocalText = pfx, text
		if r.Peer.CIDR.IsValid() && r.Peer.CIDR.Masked() == pfx.Masked() {
			return r, owner, ecserr.BadRequest("InvalidParamter.Conflict", "SourceCidrIp should be different from the DestCidrIp.").At(localSide + "CidrIp")
		}
		if r.Peer.CIDR.IsValid() && r.Peer.CIDR.Addr().Is6() != six {
			return r, owner, ecserr.BadRequest("InvalidParameter.Conflict", "A rule cannot mix IPv4 and IPv6 addresses; use one address family for both sides.").At(localSide + "CidrIp")
		}
	}

	// A protocol of one address family cannot be used with addresses of the other.
	six := r.IPv6()
	four := r.Peer.CIDR.IsValid() && r.Peer.CIDR.Addr().Is4() || r.Local.IsValid() && r.Local.Addr().Is4()
	if p == ICMP && six {
		return r, owner, ecserr.BadRequest("InvalidParam.Ipv4ProtocolConflictWithIpv6Address", "ICMP is an IPv4 protocol; use ICMPv6 with IPv6 addresses.").At("IpProtocol")
	}
	if p == ICMPv6 && four {
		return r, owner, ecserr.BadRequest("InvalidParam.Ipv6ProtocolConflictWithIpv4Address", "ICMPv6 is an IPv6 protocol; use ICMP with IPv4 addresses.").At("IpProtocol")
	}

	switch strings.ToLower(in.NicType) {
	case "":
		r.NicType = Intranet
		if classic && r.Peer.GroupID == "" {
			r.NicType = Internet
		}
	case "intranet":
		r.NicType = Intranet
	case "internet":
		r.NicType = Internet
		if !classic {
			r.NicType = Intranet // VPC rules are always intranet; ECS coerces the value
		} else if r.Peer.GroupID != "" {
			return r, owner, ecserr.Forbidden("Invalid"+peerSide+"GroupId.Mismatch", "NicType is required or NicType expects intranet: rules with a group peer apply to the intranet.").At("NicType")
		}
	default:
		return r, owner, ecserr.BadRequest("InvalidNicType.ValueNotSupported", "NicType %q is not supported; use intranet or internet.", in.NicType).At("NicType")
	}
	return r, owner, nil
}

func parseProtocol(s string) (Protocol, *ecserr.Error) {
	if s == "" {
		return "", ecserr.MissingParameter("IpProtocol").At("IpProtocol")
	}
	p, ok := ParseProtocol(s)
	if !ok {
		return "", ecserr.BadRequest("InvalidIpProtocol.ValueNotSupported", "IpProtocol %q is not supported; use TCP, UDP, ICMP, ICMPv6, GRE or ALL.", s).At("IpProtocol")
	}
	return p, nil
}

// parsePortRange parses "start/end" for protocol p.
func parsePortRange(s string, p Protocol) (PortRange, *ecserr.Error) {
	if s == "" {
		// The example fits the protocol: -1/-1 is refused for TCP and UDP.
		if p.HasPorts() {
			return PortRange{}, ecserr.BadRequest("InvalidPortRange.Malformed", "PortRange must be set, as start/end with ports from 1 to 65535 (for example 22/22 or 1/65535).")
		}
		return PortRange{}, ecserr.BadRequest("InvalidPortRange.Malformed", "PortRange must be set: -1/-1 for %s.", p)
	}
	start, end, ok := parsePortText(s)
	if !ok {
		return PortRange{}, ecserr.BadRequest("InvalidParam.PortRange", "PortRange %q is malformed; write start/end in plain decimal without signs, spaces or leading zeros, for example 22/22.", Clip(s))
	}
	r := PortRange{int32(start), int32(end)}
	if !p.HasPorts() {
		if r != AnyPort {
			return PortRange{}, ecserr.BadRequest("InvalidIpProtocol.Malformed", "PortRange %q is not valid for %s: it must be -1/-1.", s, p)
		}
		return r, nil
	}
	if r == AnyPort {
		return PortRange{}, ecserr.BadRequest("InvalidIpProtocol.Malformed", "PortRange -1/-1 is not valid for %s: give ports from 1 to 65535, for example 1/65535.", p)
	}
	if r.Start < 1 || r.End > 65535 || r.Start > r.End {
		return PortRange{}, ecserr.BadRequest("InvalidParam.PortRange", "PortRange %q is not valid: ports run from 1 to 65535 and the start must not exceed the end.", s)
	}
	return r, nil
}

// ParsePolicy parses accept or drop in any case; empty means accept.
func ParsePolicy(s string) (Policy, *ecserr.Error) {
	switch strings.ToLower(s) {
	case "", "accept":
		return Accept, nil
	case "drop":
		return Drop, nil
	}
	return "", ecserr.BadRequest("InvalidPolicy.Malformed", "The Policy %q is invalid. Only 'Accept' and 'Drop' are supported. Ignore case.", s)
}

// ParsePriority parses MinPriority..MaxPriority; empty means DefaultPriority.
func ParsePriority(s string) (int, *ecserr.Error) {
	if s == "" {
		return DefaultPriority, nil
	}
	n64, ok := ParseCanonicalInt(s, math.MinInt32, math.MaxInt32)
	if !ok {
		return 0, ecserr.BadRequest("InvalidPriority.Malformed", "Priority %q is not a number in plain decimal (no sign, spaces or leading zeros); give %d to %d.", Clip(s), MinPriority, MaxPriority)
	}
	n := int(n64)
	if n < MinPriority || n > MaxPriority {
		return 0, ecserr.BadRequest("InvalidPriority.ValueNotSupported", "Priority %d is out of range; give %d (evaluated first) to %d.", n, MinPriority, MaxPriority)
	}
	return n, nil
}

// parsePortText splits "start/end" into two integers in their canonical
// decimal form: " 22 / 22 ", "+1/+65535" and "022/22" are refused, not
// read as 22/22 or 1/65535. The callers check the range, so that 1/99999
// is told it is out of range rather than malformed.
func parsePortText(s string) (start, end int64, ok bool) {
	a, b, found := strings.Cut(s, "/")
	start, ok1 := ParseCanonicalInt(a, math.MinInt32, math.MaxInt32)
	end, ok2 := ParseCanonicalInt(b, math.MinInt32, math.MaxInt32)
	return start, end, found && ok1 && ok2
}

// hostBits refuses a CIDR block with host bits set: "1.2.3.4/0" reads
// like one host but is every address. Palisade stores one canonical form,
// the network address, and asks the client to write it so.
func hostBits(field, code string, p netip.Prefix) *ecserr.Error {
	if p == p.Masked() {
		return nil
	}
	return ecserr.BadRequest(code, "%s %s has host bits set; write the network address, %s, or a single address without a prefix length.", field, p, p.Masked()).At(field)
}

// parseCIDR parses an address or CIDR block of one family. A bare address is
// a single host. The text to echo back is the input as given, except that
// IPv6 comes back compressed and lower-case.
func parseCIDR(s string, six bool) (netip.Prefix, string, bool) {
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return pfx, "", false
		}
		pfx = p
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" { // PrefixFrom would drop the zone: refuse it here
			return pfx, "", false
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if pfx.Addr().Zone() != "" || pfx.Addr().Is4In6() || pfx.Addr().Is6() != six {
		return netip.Prefix{}, "", false
	}
	text := s
	if six {
		if strings.Contains(s, "/") {
			text = pfx.String()
		} else {
			text = pfx.Addr().String()
		}
	}
	return pfx, text, true
}

// ParseCIDR parses an IPv4 or IPv6 address or CIDR block (a bare address is
// a host route) for fields that take either family.
func ParseCIDR(s string) (netip.Prefix, bool) {
	if p, _, ok := parseCIDR(s, false); ok {
		return p, true
	}
	p, _, ok := parseCIDR(s, true)
	return p, ok
}

// ParseAddr parses one IPv4 (six false) or IPv6 address of an instance or
// a network interface: no zone ("fe80::1%eth0" names a host's link, not an
// address a cloud assigns), no IPv4-mapped IPv6. The result is the
// canonical form; IPv4 text is refused unless already canonical (no
// leading zeros, which netip refuses too).
func ParseAddr(s string, six bool) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() || a.Is6() != six {
		return netip.Addr{}, false
	}
	return a, true
}

// Canonicalize rewrites the fields of a rule read from a real account (an
// import, not a request) into the one form ParseRule accepts, where the
// meaning is unambiguous: CIDR blocks with host bits become their network
// address, and a description ParseRule would refuse (control characters,
// invalid UTF-8) is dropped, since it decides nothing. It returns a note
// for each change, so the importer can say what it altered instead of
// skipping the whole rule.
func Canonicalize(in *RuleInput) []string {
	var notes []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"SourceCidrIp", &in.SourceCidrIp}, {"Ipv6SourceCidrIp", &in.Ipv6SourceCidrIp}, {"DestCidrIp", &in.DestCidrIp}, {"Ipv6DestCidrIp", &in.Ipv6DestCidrIp}} {
		if !strings.Contains(*f.v, "/") {
			continue
		}
		if p, err := netip.ParsePrefix(*f.v); err == nil && p != p.Masked() {
			notes = append(notes, fmt.Sprintf("%s %s has host bits set; imported as %s", f.name, *f.v, p.Masked()))
			*f.v = p.Masked().String()
		}
	}
	if in.Description != "" && !ValidText(in.Description) {
		notes = append(notes, "the description has control or bidirectional formatting characters or invalid UTF-8; imported without it")
		in.Description = ""
	}
	return notes
}
