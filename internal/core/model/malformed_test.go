package model

import "testing"

// TestMalformed: what no valid request makes is told apart from what
// ParseRule and ParseListPortRange give (which the agent must keep).
func TestMalformed(t *testing.T) {
	tcp := func(ports, sports PortRange) Rule {
		return Rule{Protocol: TCP, PortRange: ports, SourcePortRange: sports}
	}
	cases := []struct {
		name string
		rule Rule
		want string
	}{
		{"TCP range", tcp(PortRange{1, 65535}, PortRange{}), ""},
		{"TCP one port and source ports", tcp(PortRange{22, 22}, PortRange{1024, 65535}), ""},
		{"TCP every port", tcp(AnyPort, AnyPort), ""},
		{"TCP port range list", Rule{Protocol: UDP, PortRangeListID: "prl-1"}, ""},
		{"ICMP", Rule{Protocol: ICMP, PortRange: AnyPort}, ""},
		{"ALL ignores ports", Rule{Protocol: ALL, PortRange: PortRange{5, 1}}, ""},
		{"unknown protocol", Rule{Protocol: "tcp", PortRange: PortRange{22, 22}}, `protocol "tcp"`},
		{"no protocol", Rule{PortRange: AnyPort}, `protocol ""`},
		{"port above 65535", tcp(PortRange{70000, 80000}, PortRange{}), "port range 70000/80000"},
		{"port 0", tcp(PortRange{-5, 0}, PortRange{}), "port range -5/0"},
		{"start after end", tcp(PortRange{100, 50}, PortRange{}), "port range 100/50"},
		{"source port above 65535", tcp(PortRange{22, 22}, PortRange{1, 65536}), "source port range 1/65536"},
	}
	for _, tc := range cases {
		if got := tc.rule.Malformed(); got != tc.want {
			t.Errorf("%s: Malformed() = %q, want %q", tc.name, got, tc.want)
		}
	}
	entries := []struct {
		r    PortRange
		want string
	}{
		{PortRange{80, 80}, ""}, {PortRange{1, 65535}, ""}, {AnyPort, "entry -1/-1"},
		{PortRange{0, 10}, "entry 0/10"}, {PortRange{10, 65536}, "entry 10/65536"}, {PortRange{9, 8}, "entry 9/8"},
	}
	for _, tc := range entries {
		if got := (PortEntry{Range: tc.r}).Malformed(); got != tc.want {
			t.Errorf("entry %v: Malformed() = %q, want %q", tc.r, got, tc.want)
		}
	}
	for _, in := range []RuleInput{
		{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"},
		{IpProtocol: "UDP", PortRange: "1/65535", SourcePortRange: "53/53", SourceCidrIp: "10.0.0.0/8"},
		{IpProtocol: "icmp", PortRange: "-1/-1", SourceCidrIp: "0.0.0.0/0"},
		{IpProtocol: "all", PortRange: "-1/-1", SourceCidrIp: "0.0.0.0/0"},
	} {
		r, _, err := ParseRule(Ingress, in, false)
		if err != nil {
			t.Fatalf("ParseRule(%+v): %v", in, err)
		}
		if why := r.Malformed(); why != "" {
			t.Errorf("ParseRule(%+v) gives a rule Malformed calls %q", in, why)
		}
	}
}
