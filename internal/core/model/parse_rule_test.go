package model_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestParseRule: what ParseRule accepts and how it normalises it, and the
// ECS code and field of what it refuses.
func TestParseRule(t *testing.T) {
	in := func(f func(*model.RuleInput)) model.RuleInput {
		r := model.RuleInput{Policy: "accept", Priority: "1", IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}
		if f != nil {
			f(&r)
		}
		return r
	}
	ok := []struct {
		name    string
		dir     model.Direction
		in      model.RuleInput
		classic bool
		check   func(model.Rule) bool
	}{
		{"defaults", model.Ingress, in(func(r *model.RuleInput) { r.Policy, r.Priority = "", "" }), false, func(r model.Rule) bool {
			return r.Policy == model.Accept && r.Priority == 1 && r.Protocol == model.TCP && r.PortRange == model.PortRange{Start: 22, End: 22} &&
				r.Peer.CIDR == netip.MustParsePrefix("10.0.0.0/8") && r.NicType == model.Intranet && r.Direction == model.Ingress
		}},
		{"policy and protocol in any case", model.Ingress, in(func(r *model.RuleInput) { r.Policy, r.IpProtocol = "DROP", "Udp" }), false, func(r model.Rule) bool {
			return r.Policy == model.Drop && r.Protocol == model.UDP
		}},
		{"priority 100", model.Ingress, in(func(r *model.RuleInput) { r.Priority = "100" }), false, func(r model.Rule) bool { return r.Priority == 100 }},
		{"bare address is a host", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp = "192.0.2.7" }), false, func(r model.Rule) bool {
			return r.Peer.CIDR == netip.MustParsePrefix("192.0.2.7/32") && r.Peer.CIDRText == "192.0.2.7"
		}},
		{"IPv6 echoed compressed", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", "2001:DB8:0::/32" }), false, func(r model.Rule) bool {
			return r.Peer.CIDRText == "2001:db8::/32" && r.IPv6()
		}},
		{"egress peer is the destination", model.Egress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.DestCidrIp = "10.1.0.0/16", "203.0.113.0/24" }), false, func(r model.Rule) bool {
			return r.Peer.CIDR == netip.MustParsePrefix("203.0.113.0/24") && r.Local == netip.MustParsePrefix("10.1.0.0/16")
		}},
		{"group peer with owner", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.SourceGroupId, r.SourceGroupOwnerId = "", "sg-a", "1234" }), false, func(r model.Rule) bool {
			return r.Peer.GroupID == "sg-a" && !r.IPv6()
		}},
		{"prefix list peer", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.SourcePrefixListId = "", "pl-a" }), false, func(r model.Rule) bool {
			return r.Peer.PrefixListID == "pl-a"
		}},
		{"ALL takes -1/-1", model.Ingress, in(func(r *model.RuleInput) { r.IpProtocol, r.PortRange = "all", "-1/-1" }), false, func(r model.Rule) bool {
			return r.Protocol == model.ALL && r.PortRange == model.AnyPort
		}},
		{"source ports -1/-1 mean any", model.Ingress, in(func(r *model.RuleInput) { r.IpProtocol, r.PortRange, r.SourcePortRange = "all", "-1/-1", "-1/-1" }), false, func(r model.Rule) bool {
			return !r.SourcePortRange.IsSet()
		}},
		{"source ports kept", model.Ingress, in(func(r *model.RuleInput) { r.SourcePortRange = "1024/65535" }), false, func(r model.Rule) bool {
			return r.SourcePortRange == model.PortRange{Start: 1024, End: 65535}
		}},
		{"VPC internet coerced to intranet", model.Ingress, in(func(r *model.RuleInput) { r.NicType = "internet" }), false, func(r model.Rule) bool { return r.NicType == model.Intranet }},
		{"classic CIDR rule defaults to internet", model.Ingress, in(nil), true, func(r model.Rule) bool { return r.NicType == model.Internet }},
		{"classic group rule defaults to intranet", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.SourceGroupId = "", "sg-a" }), true, func(r model.Rule) bool {
			return r.NicType == model.Intranet
		}},
		{"ICMPv6 with IPv6", model.Ingress, in(func(r *model.RuleInput) {
			r.IpProtocol, r.PortRange, r.SourceCidrIp, r.Ipv6SourceCidrIp = "icmpv6", "-1/-1", "", "::/0"
		}), false, func(r model.Rule) bool {
			return r.Protocol == model.ICMPv6
		}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			r, _, err := model.ParseRule(tc.dir, tc.in, tc.classic)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.check(r) {
				t.Errorf("parsed as %+v", r)
			}
		})
	}

	bad := []struct {
		name    string
		dir     model.Direction
		in      model.RuleInput
		classic bool
		code    string
		field   string
	}{
		{"no protocol", model.Ingress, in(func(r *model.RuleInput) { r.IpProtocol = "" }), false, "MissingParameter", "IpProtocol"},
		{"unknown protocol", model.Ingress, in(func(r *model.RuleInput) { r.IpProtocol = "sctp" }), false, "InvalidIpProtocol.ValueNotSupported", "IpProtocol"},
		{"no port range", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "" }), false, "InvalidPortRange.Malformed", "PortRange"},
		{"port range not a range", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "22" }), false, "InvalidParam.PortRange", "PortRange"},
		{"port 0", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "0/22" }), false, "InvalidParam.PortRange", "PortRange"},
		{"port 65536", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "1/65536" }), false, "InvalidParam.PortRange", "PortRange"},
		{"start after end", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "80/22" }), false, "InvalidParam.PortRange", "PortRange"},
		{"TCP with -1/-1", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "-1/-1" }), false, "InvalidIpProtocol.Malformed", "PortRange"},
		{"ICMP with ports", model.Ingress, in(func(r *model.RuleInput) { r.IpProtocol = "icmp" }), false, "InvalidIpProtocol.Malformed", "PortRange"},
		{"bad source ports", model.Ingress, in(func(r *model.RuleInput) { r.SourcePortRange = "9/1" }), false, "InvalidSourcePortRange.Malformed", "SourcePortRange"},
		{"bad policy", model.Ingress, in(func(r *model.RuleInput) { r.Policy = "allow" }), false, "InvalidPolicy.Malformed", "Policy"},
		{"priority not a number", model.Ingress, in(func(r *model.RuleInput) { r.Priority = "high" }), false, "InvalidPriority.Malformed", "Priority"},
		{"priority 0", model.Ingress, in(func(r *model.RuleInput) { r.Priority = "0" }), false, "InvalidPriority.ValueNotSupported", "Priority"},
		{"priority 101", model.Ingress, in(func(r *model.RuleInput) { r.Priority = "101" }), false, "InvalidPriority.ValueNotSupported", "Priority"},
		{"description too long", model.Ingress, in(func(r *model.RuleInput) { r.Description = string(make([]rune, 513)) }), false, "InvalidSecurityGroupDiscription.Malformed", "Description"},
		{"no peer", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp = "" }), false, "MissingParameter.Source", "SourceCidrIp"},
		{"no peer, egress", model.Egress, in(func(r *model.RuleInput) { r.SourceCidrIp = "" }), false, "MissingParameter.Dest", "DestCidrIp"},
		{"both peer families", model.Ingress, in(func(r *model.RuleInput) { r.Ipv6SourceCidrIp = "::/0" }), false, "InvalidParam.SourceIp", "Ipv6SourceCidrIp"},
		{"malformed CIDR", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp = "10.0.0.0/33" }), false, "InvalidSourceCidrIp.Malformed", "SourceCidrIp"},
		{"IPv6 in the IPv4 field", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp = "::/0" }), false, "InvalidSourceCidrIp.Malformed", "SourceCidrIp"},
		{"IPv4 in the IPv6 field", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", "10.0.0.0/8" }), false, "InvalidParam.Ipv6SourceCidrIp", "Ipv6SourceCidrIp"},
		{"IPv4-mapped IPv6", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", "::ffff:10.0.0.1" }), false, "InvalidParam.Ipv6SourceCidrIp", "Ipv6SourceCidrIp"},
		{"owner not numeric", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.SourceGroupId, r.SourceGroupOwnerId = "", "sg-a", "bob" }), false, "InvalidParameter", "SourceGroupOwnerId"},
		{"prefix list in classic", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.SourcePrefixListId = "", "pl-a" }), true, "NotSupported.ClassicNetworkPrefixList", "SourcePrefixListId"},
		{"both local families", model.Ingress, in(func(r *model.RuleInput) { r.DestCidrIp, r.Ipv6DestCidrIp = "10.1.0.0/16", "::/0" }), false, "InvalidParam.DestIp", "Ipv6DestCidrIp"},
		{"malformed local", model.Ingress, in(func(r *model.RuleInput) { r.DestCidrIp = "ten" }), false, "InvalidDestCidrIp.Malformed", "DestCidrIp"},
		{"malformed IPv6 local", model.Ingress, in(func(r *model.RuleInput) { r.Ipv6DestCidrIp = "2001:db8::/129" }), false, "InvalidParam.Ipv6DestCidrIp", "Ipv6DestCidrIp"},
		{"local equals peer", model.Ingress, in(func(r *model.RuleInput) { r.DestCidrIp = "10.0.0.0/8" }), false, "InvalidParamter.Conflict", "DestCidrIp"},
		{"local of the other family", model.Ingress, in(func(r *model.RuleInput) { r.Ipv6DestCidrIp = "2001:db8::/64" }), false, "InvalidParameter.Conflict", "DestCidrIp"},
		{"ICMP with IPv6", model.Ingress, in(func(r *model.RuleInput) {
			r.IpProtocol, r.PortRange, r.SourceCidrIp, r.Ipv6SourceCidrIp = "icmp", "-1/-1", "", "::/0"
		}), false, "InvalidParam.Ipv4ProtocolConflictWithIpv6Address", "IpProtocol"},
		{"ICMPv6 with IPv4", model.Ingress, in(func(r *model.RuleInput) { r.IpProtocol, r.PortRange = "icmpv6", "-1/-1" }), false, "InvalidParam.Ipv6ProtocolConflictWithIpv4Address", "IpProtocol"},
		{"unknown NicType", model.Ingress, in(func(r *model.RuleInput) { r.NicType = "wan" }), false, "InvalidNicType.ValueNotSupported", "NicType"},
		// One canonical form (issue 11): what was read loosely before is refused.
		{"CIDR with host bits", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp = "1.2.3.4/0" }), false, "InvalidSourceCidrIp.Malformed", "SourceCidrIp"},
		{"IPv6 CIDR with host bits", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", "2001:db8::1/32" }), false, "InvalidParam.Ipv6SourceCidrIp", "Ipv6SourceCidrIp"},
		{"local CIDR with host bits", model.Ingress, in(func(r *model.RuleInput) { r.DestCidrIp = "192.168.1.1/16" }), false, "InvalidDestCidrIp.Malformed", "DestCidrIp"},
		{"zoned IPv6", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.Ipv6SourceCidrIp = "", "fe80::1%eth0" }), false, "InvalidParam.Ipv6SourceCidrIp", "Ipv6SourceCidrIp"},
		{"ports with plus signs", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "+1/+65535" }), false, "InvalidParam.PortRange", "PortRange"},
		{"ports with spaces", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = " 22 / 22 " }), false, "InvalidParam.PortRange", "PortRange"},
		{"port with a leading zero", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "022/22" }), false, "InvalidParam.PortRange", "PortRange"},
		{"port beyond int32", model.Ingress, in(func(r *model.RuleInput) { r.PortRange = "4294967318/4294967318" }), false, "InvalidParam.PortRange", "PortRange"},
		{"source ports with spaces", model.Ingress, in(func(r *model.RuleInput) { r.SourcePortRange = "1 /2" }), false, "InvalidSourcePortRange.Malformed", "SourcePortRange"},
		{"priority with a leading zero", model.Ingress, in(func(r *model.RuleInput) { r.Priority = "010" }), false, "InvalidPriority.Malformed", "Priority"},
		{"priority with a plus sign", model.Ingress, in(func(r *model.RuleInput) { r.Priority = "+1" }), false, "InvalidPriority.Malformed", "Priority"},
		{"priority beyond int64", model.Ingress, in(func(r *model.RuleInput) { r.Priority = "99999999999999999999" }), false, "InvalidPriority.Malformed", "Priority"},
		{"malformed group beside a CIDR", model.Ingress, in(func(r *model.RuleInput) { r.SourceGroupId = "not-a-group\x00" }), false, "InvalidSecurityGroupId.Malformed", "SourceGroupId"},
		{"malformed owner beside a CIDR", model.Ingress, in(func(r *model.RuleInput) { r.SourceGroupId, r.SourceGroupOwnerId = "sg-a", "+12" }), false, "InvalidParameter", "SourceGroupOwnerId"},
		{"malformed prefix list beside a CIDR", model.Ingress, in(func(r *model.RuleInput) { r.SourcePrefixListId = "x" }), false, "InvalidPrefixListId.Malformed", "SourcePrefixListId"},
		{"description with NUL", model.Ingress, in(func(r *model.RuleInput) { r.Description = "ok\x00hidden" }), false, "InvalidSecurityGroupDiscription.Malformed", "Description"},
		{"description with CR/LF", model.Ingress, in(func(r *model.RuleInput) { r.Description = "line\r\nInjected: yes" }), false, "InvalidSecurityGroupDiscription.Malformed", "Description"},
		{"description with escape", model.Ingress, in(func(r *model.RuleInput) { r.Description = "\x1b[2Jcleared" }), false, "InvalidSecurityGroupDiscription.Malformed", "Description"},
		{"description with bidi override", model.Ingress, in(func(r *model.RuleInput) { r.Description = "allow \u202egnp.exe" }), false, "InvalidSecurityGroupDiscription.Malformed", "Description"},
		{"description of invalid UTF-8", model.Ingress, in(func(r *model.RuleInput) { r.Description = "caf\xe9" }), false, "InvalidSecurityGroupDiscription.Malformed", "Description"},
		// The local side takes a CIDR block only; a group or prefix list
		// there was ignored, leaving the rule wider than written.
		{"ingress group on the local side", model.Ingress, in(func(r *model.RuleInput) { r.DestGroupId = "sg-a" }), false, "InvalidSourceOrDestGroupId.DirectionMissmatch", "DestGroupId"},
		{"egress group on the local side", model.Egress, in(func(r *model.RuleInput) { r.DestCidrIp, r.SourceCidrIp, r.SourceGroupId = "10.0.0.0/8", "", "sg-a" }), false, "InvalidSourceOrDestGroupId.DirectionMissmatch", "SourceGroupId"},
		{"ingress prefix list on the local side", model.Ingress, in(func(r *model.RuleInput) { r.DestPrefixListId = "pl-a" }), false, "InvalidParameter", "DestPrefixListId"},
		{"egress prefix list on the local side", model.Egress, in(func(r *model.RuleInput) {
			r.DestCidrIp, r.SourceCidrIp, r.SourcePrefixListId = "10.0.0.0/8", "", "pl-a"
		}), false, "InvalidParameter", "SourcePrefixListId"},
		{"classic group rule on internet", model.Ingress, in(func(r *model.RuleInput) { r.SourceCidrIp, r.SourceGroupId, r.NicType = "", "sg-a", "internet" }), true, "InvalidSourceGroupId.Mismatch", "NicType"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r, _, err := model.ParseRule(tc.dir, tc.in, tc.classic)
			if err == nil {
				t.Fatalf("accepted as %+v; want %s", r, tc.code)
			}
			if err.Code != tc.code || err.Field != tc.field || err.Status != 400 && err.Status != 403 {
				t.Errorf("got %d %s at %q; want %s at %q (%s)", err.Status, err.Code, err.Field, tc.code, tc.field, err.Message)
			}
		})
	}
}

// TestRuleKey: the key is the rule's identity, without its description or
// ID.
func TestRuleKey(t *testing.T) {
	parse := func(desc, cidr string, prio string) model.Rule {
		r, _, err := model.ParseRule(model.Ingress, model.RuleInput{IpProtocol: "TCP", PortRange: "80/80", SourceCidrIp: cidr, Priority: prio, Description: desc}, false)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := parse("one", "10.0.0.0/8", "1"), parse("two", "10.0.0.0/8", "1")
	if a.Key() != b.Key() {
		t.Errorf("same rule, different keys:\n%s\n%s", a.Key(), b.Key())
	}
	if c := parse("one", "10.0.0.0/8", "2"); c.Key() == a.Key() {
		t.Errorf("priorities 1 and 2 share the key %s", a.Key())
	}
}

func TestPortRange(t *testing.T) {
	for _, tc := range []struct {
		r        model.PortRange
		port     uint16
		contains bool
		str      string
	}{
		{model.PortRange{Start: 22, End: 22}, 22, true, "22/22"},
		{model.PortRange{Start: 22, End: 22}, 23, false, "22/22"},
		{model.PortRange{Start: 1, End: 65535}, 65535, true, "1/65535"},
		{model.AnyPort, 7, true, "-1/-1"},
	} {
		if got := tc.r.Contains(tc.port); got != tc.contains {
			t.Errorf("%v contains %d = %v, want %v", tc.r, tc.port, got, tc.contains)
		}
		if tc.r.String() != tc.str {
			t.Errorf("%#v prints %q, want %q", tc.r, tc.r.String(), tc.str)
		}
	}
}

// TestPortRangeMessages: a port range in plain decimal but out of range is
// told so, not called malformed.
func TestPortRangeMessages(t *testing.T) {
	for _, tc := range []struct{ ports, want string }{
		{"1/99999", "ports run from 1 to 65535"},
		{"99999/99999", "ports run from 1 to 65535"},
		{"0/22", "ports run from 1 to 65535"},
		{"-5/22", "ports run from 1 to 65535"},
		{"22/1", "the start must not exceed the end"},
		{"022/22", "malformed"},
		{"1/99999999999", "malformed"},
	} {
		in := model.RuleInput{IpProtocol: "TCP", PortRange: tc.ports, SourceCidrIp: "10.0.0.0/8"}
		_, _, err := model.ParseRule(model.Ingress, in, false)
		if err == nil || err.Code != "InvalidParam.PortRange" || !strings.Contains(err.Message, tc.want) {
			t.Errorf("%s: %v; want InvalidParam.PortRange saying %q", tc.ports, err, tc.want)
		}
	}
}

// TestLocalNamesNotInJSON: RuleInput is the console's export and import
// format; LocalNames, which lifts the ID shape checks for a scenario
// file's own names, is neither written there nor taken from there.
func TestLocalNamesNotInJSON(t *testing.T) {
	b, err := json.Marshal(model.RuleInput{SourceGroupId: "web", LocalNames: true})
	if err != nil || strings.Contains(string(b), "LocalNames") {
		t.Errorf("RuleInput's JSON %s (%v) carries LocalNames", b, err)
	}
	var in model.RuleInput
	if err := json.Unmarshal([]byte(`{"IpProtocol":"tcp","PortRange":"22/22","SourceGroupId":"web","LocalNames":true}`), &in); err != nil || in.LocalNames {
		t.Errorf("an import set LocalNames (%v)", err)
	}
	if _, _, e := model.ParseRule(model.Ingress, in, false); e == nil || e.Code != "InvalidSecurityGroupId.Malformed" {
		t.Errorf("an imported peer \"web\": %v; want InvalidSecurityGroupId.Malformed", e)
	}
}
