package model

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// keyRef is Rule.Key as it was, a string per part joined: keys are
// compared with stored rules' keys, so the one-buffer Key must give the
// same text.
func keyRef(r *Rule) string {
	var peer string
	switch {
	case r.Peer.CIDR.IsValid():
		peer = "cidr:" + r.Peer.CIDR.Masked().String()
	case r.Peer.GroupID != "":
		peer = "sg:" + r.Peer.GroupID + "@" + r.Peer.GroupOwner
	default:
		peer = "pl:" + r.Peer.PrefixListID
	}
	local := ""
	if r.Local.IsValid() {
		local = r.Local.Masked().String()
	}
	prl := ""
	if r.PortRangeListID != "" {
		prl = "prl:" + r.PortRangeListID
	}
	ports := func(p PortRange) string {
		if !p.IsSet() {
			return ""
		}
		return fmt.Sprintf("%d/%d", p.Start, p.End)
	}
	return strings.Join([]string{string(r.Direction), string(r.NicType), string(r.Protocol),
		ports(r.PortRange) + prl, ports(r.SourcePortRange), peer, local,
		string(r.Policy), strconv.Itoa(r.Priority)}, "|")
}

func TestRuleKeyAsJoined(t *testing.T) {
	base := Rule{Direction: Ingress, Policy: "accept", Priority: 1, Protocol: "TCP", PortRange: PortRange{22, 22},
		Peer: Peer{CIDR: netip.MustParsePrefix("10.1.2.3/8")}, NicType: "intranet"}
	for i, edit := range []func(r *Rule){
		func(r *Rule) {},
		func(r *Rule) { r.Direction, r.Policy, r.Priority = Egress, "drop", 100 },
		func(r *Rule) { r.PortRange = AnyPort },
		func(r *Rule) { r.PortRange = PortRange{} },
		func(r *Rule) { r.PortRange, r.PortRangeListID = PortRange{}, "prl-1" },
		func(r *Rule) { r.SourcePortRange = PortRange{1024, 65535} },
		func(r *Rule) { r.Peer = Peer{CIDR: netip.MustParsePrefix("2001:db8::1/32")} },
		func(r *Rule) { r.Peer = Peer{CIDR: netip.MustParsePrefix("::ffff:10.0.0.1/104")} },
		func(r *Rule) { r.Peer = Peer{CIDR: netip.MustParsePrefix("0.0.0.0/0")} },
		func(r *Rule) { r.Peer = Peer{GroupID: "sg-1", GroupOwner: "1000000000000001"} },
		func(r *Rule) { r.Peer = Peer{GroupID: "sg-1"} },
		func(r *Rule) { r.Peer = Peer{PrefixListID: "pl-1"} },
		func(r *Rule) { r.Peer = Peer{} },
		func(r *Rule) { r.Local = netip.MustParsePrefix("192.168.1.7/24") },
		func(r *Rule) { r.Local = netip.MustParsePrefix("fd00::1/64") },
		func(r *Rule) { r.Protocol, r.NicType, r.Priority = "ALL", "", -3 },
		func(r *Rule) {
			r.Peer = Peer{GroupID: strings.Repeat("g", 200), GroupOwner: strings.Repeat("o", 50)} // past the buffer's first size
		},
	} {
		r := base
		edit(&r)
		if got, want := r.Key(), keyRef(&r); got != want {
			t.Errorf("rule %d: Key %q, want %q", i, got, want)
		}
	}
	for _, p := range []PortRange{{}, AnyPort, {1, 65535}, {-1, 5}, {80, 80}} {
		if got, want := p.String(), func() string {
			if !p.IsSet() {
				return ""
			}
			return fmt.Sprintf("%d/%d", p.Start, p.End)
		}(); got != want {
			t.Errorf("PortRange%v.String() = %q, want %q", p, got, want)
		}
	}
}

// BenchmarkRuleKey keys a rule as every rule write does.
func BenchmarkRuleKey(b *testing.B) {
	r := Rule{Direction: Ingress, Policy: "accept", Priority: 1, Protocol: "TCP", PortRange: PortRange{22, 22},
		Peer: Peer{CIDR: netip.MustParsePrefix("10.0.0.0/8")}, NicType: "intranet"}
	b.ReportAllocs()
	for b.Loop() {
		r.Key()
	}
}
