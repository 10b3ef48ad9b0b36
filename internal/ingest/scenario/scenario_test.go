package scenario_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestSharedScenarios checks every scenario file with both evaluators.
func TestSharedScenarios(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/scenarios/*.yaml")
	if len(files) < 10 {
		t.Fatalf("found %d scenario files", len(files))
	}
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		cloud := s.Cloud()
		for _, d := range []policy.Decider{policy.NewLinear(cloud), policy.Compile(cloud)} {
			outs, err := s.Check(d)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				if !o.Pass {
					t.Errorf("%s:%d %s: got %s, want %s (%s)", f, o.Flow.Line, scenario.FlowText(o.Flow.Flow), o.Result.Verdict, o.Flow.Expect, s.Explain(o.Result))
				}
			}
		}
	}
}

// TestPortlessDefault: a rule of a protocol without ports may leave its
// portRange out: it is -1/-1, the one range such a protocol has.
func TestPortlessDefault(t *testing.T) {
	for _, proto := range []string{"ICMP", "icmpv6", "GRE", "ALL"} {
		t.Run(proto, func(t *testing.T) {
			peer := "sourceCidrIp: 0.0.0.0/0"
			if strings.EqualFold(proto, "icmpv6") {
				peer = `ipv6SourceCidrIp: "::/0"`
			}
			text := `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}
securityGroups:
  - securityGroupId: sg-a
    vpcId: vpc-a
    permissions:
      - {direction: ingress, ipProtocol: ` + proto + `, ` + peer + `}
`
			s, err := scenario.Parse("portless.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if r := s.Groups[0].Rules[0]; r.PortRange != model.AnyPort {
				t.Errorf("port range %v, want -1/-1", r.PortRange)
			}
		})
	}
}

func TestInvalidFiles(t *testing.T) {
	base := `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}
securityGroups:
  - securityGroupId: sg-a
    vpcId: vpc-a
    permissions:
      - {direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 0.0.0.0/0}
instances:
  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, securityGroupIds: [sg-a]}
flows:
  - {from: 198.51.100.1, to: i-a, ipProtocol: TCP, port: 22, expect: Drop}
prefixLists:
  - prefixListId: pl-a
    entries: [203.0.113.0/24]
`
	tests := []struct {
		name, old, new string
		line           int
		field          string
	}{
		{"bad port range", "portRange: 22/22", "portRange: 22-22", 7, "portRange"},
		{"TCP without a port range", "portRange: 22/22, ", "", 7, "portRange"},
		{"port range for ICMP", "ipProtocol: TCP, portRange: 22/22", "ipProtocol: ICMP, portRange: 22/22", 7, "portRange"},
		{"unknown protocol", "ipProtocol: TCP, portRange", "ipProtocol: SCTP, portRange", 7, "ipProtocol"},
		{"bad CIDR", "sourceCidrIp: 0.0.0.0/0}", "sourceCidrIp: 300.0.0.0/0}", 7, "sourceCidrIp"},
		{"priority out of range", "{direction: ingress,", "{direction: ingress, priority: 101,", 7, "priority"},
		{"bad direction", "direction: ingress", "direction: inbound", 7, "direction"},
		{"unknown field", "ipProtocol: TCP, portRange", "ipProtocl: TCP, portRange", 7, "ipProtocl"},
		{"unknown group", "securityGroupIds: [sg-a]", "securityGroupIds: [sg-b]", 9, "securityGroupIds"},
		{"address outside the VPC", "privateIpAddress: 10.0.0.1", "privateIpAddress: 10.1.0.1", 9, "privateIpAddress"},
		{"outside address inside a VPC", "from: 198.51.100.1", "from: 10.0.0.9", 11, "from"},
		{"missing expect", ", expect: Drop}", "}", 11, "expect"},
		{"unknown instance", "to: i-a,", "to: i-b,", 11, "to"},
		{"repeated prefix-list entry", "entries: [203.0.113.0/24]", "entries: [203.0.113.0/24, 203.0.113.0/24]", 14, "entries"},
		{"prefix-list entry of the other family", "entries: [203.0.113.0/24]", "entries: [2001:db8::/32]", 14, "entries"},
		{"prefix list too small", "    entries: [203.0.113.0/24]", "    maxEntries: 1\n    entries: [203.0.113.0/24, 198.51.100.0/24]", 14, "maxEntries"},
		{"prefix-list family", "  - prefixListId: pl-a", "  - prefixListId: pl-a\n    addressFamily: IPv5", 14, "addressFamily"},
		// One canonical form, as in the API (issue 11).
		{"CIDR with host bits", "sourceCidrIp: 0.0.0.0/0}", "sourceCidrIp: 1.2.3.4/0}", 7, "sourceCidrIp"},
		{"ports with plus signs", "portRange: 22/22", "portRange: +1/+65535", 7, "portRange"},
		{"ports with spaces", "portRange: 22/22", "portRange: ' 22 / 22 '", 7, "portRange"},
		{"priority 010", "{direction: ingress,", "{direction: ingress, priority: '010',", 7, "priority"},
		{"flow port with a plus sign", "port: 22,", "port: '+22',", 11, "port"},
		{"zoned IPv6 address", "privateIpAddress: 10.0.0.1,", "privateIpAddress: 10.0.0.1, ipv6Address: 'fe80::1%eth0',", 9, "ipv6Address"},
		{"prefix-list entry with host bits", "entries: [203.0.113.0/24]", "entries: [203.0.113.1/24]", 14, "entries"},
		{"description with an escape", "    vpcId: vpc-a\n    permissions:", "    vpcId: vpc-a\n    description: \"web\\etier\"\n    permissions:", 6, "description"},
		{"VPC block with host bits", "cidrBlock: 10.0.0.0/16}", "cidrBlock: 10.0.0.1/16}", 2, "cidrBlock"},
		{"VPC name of one letter", "cidrBlock: 10.0.0.0/16}", "cidrBlock: 10.0.0.0/16, vpcName: v}", 2, "vpcName"},
		{"instance name with a newline", "privateIpAddress: 10.0.0.1,", "privateIpAddress: 10.0.0.1, instanceName: \"web\\nx\",", 9, "instanceName"},
		{"enterprise with peer group", "    vpcId: vpc-a\n    permissions:", "    vpcId: vpc-a\n    securityGroupType: enterprise\n    innerAccessPolicy: accept\n    permissions:", 7, "innerAccessPolicy"},
	}
	if _, err := scenario.Parse("ok.yaml", []byte(base)); err != nil {
		t.Fatalf("base file: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("test edits nothing: %q", tt.old)
			}
			_, err := scenario.Parse("bad.yaml", []byte(strings.Replace(base, tt.old, tt.new, 1)))
			var e *scenario.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a scenario.Error", err)
			}
			if e.Line != tt.line || e.Field != tt.field || e.File != "bad.yaml" {
				t.Errorf("got %s (line %d field %q), want line %d field %q", e, e.Line, e.Field, tt.line, tt.field)
			}
		})
	}
}

// TestAddressPlaces checks that an address names one place: a public
// address lies outside every VPC and is no NIC's private address, and an
// IPv6 address lies in its VPC's IPv6 block. check accepted such files,
// which lab play then refused ("address 10.0.0.2 is used by instance i-a
// (public) and instance i-b") or played with an address no vSwitch holds.
func TestAddressPlaces(t *testing.T) {
	const head = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, ipv6CidrBlock: "2001:db8:a::/56"}
securityGroups:
  - {securityGroupId: sg-a, vpcId: vpc-a}
  - {securityGroupId: sg-c}
instances:
`
	tests := []struct {
		name, instances string
		line            int
		field           string
	}{
		{"public address inside a VPC", `  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, publicIpAddress: 10.0.0.2, securityGroupIds: [sg-a]}
`, 7, "publicIpAddress"},
		{"public address of a classic instance", `  - {instanceId: i-c, privateIpAddress: 192.0.2.7, securityGroupIds: [sg-c]}
  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, publicIpAddress: 192.0.2.7, securityGroupIds: [sg-a]}
`, 8, "publicIpAddress"},
		{"classic address of a public one", `  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, publicIpAddress: 192.0.2.7, securityGroupIds: [sg-a]}
  - {instanceId: i-c, privateIpAddress: 192.0.2.7, securityGroupIds: [sg-c]}
`, 8, "privateIpAddress"},
		{"IPv6 address outside the VPC's block", `  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, ipv6Address: "2001:db8:b::1", securityGroupIds: [sg-a]}
`, 7, "ipv6Address"},
		{"ENI IPv6 address outside the VPC's block", `  - instanceId: i-a
    vpcId: vpc-a
    privateIpAddress: 10.0.0.1
    securityGroupIds: [sg-a]
    networkInterfaces:
      - {networkInterfaceId: eni-a, primaryIpAddress: 10.0.0.2, ipv6Address: "2001:db8:b::2", securityGroupIds: [sg-a]}
`, 12, "ipv6Address"},
		{"fine", `  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, ipv6Address: "2001:db8:a::1", publicIpAddress: 192.0.2.7, securityGroupIds: [sg-a]}
  - {instanceId: i-c, privateIpAddress: 192.0.2.8, publicIpAddress: 198.51.100.8, securityGroupIds: [sg-c]}
`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scenario.Parse("bad.yaml", []byte(head+tt.instances))
			if tt.line == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *scenario.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a scenario.Error", err)
			}
			if e.Line != tt.line || e.Field != tt.field {
				t.Errorf("got %s (line %d field %q), want line %d field %q", e, e.Line, e.Field, tt.line, tt.field)
			}
		})
	}
}

// TestGroupListErrorsAtTheList: an error about an instance's or an ENI's
// securityGroupIds (mixed types, more than five) is reported at the list's
// line; it was at the instance's first line, some lines above in a file
// written one field a line.
func TestGroupListErrorsAtTheList(t *testing.T) {
	const head = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}
securityGroups:
  - {securityGroupId: sg-a, vpcId: vpc-a}
  - {securityGroupId: sg-e, vpcId: vpc-a, securityGroupType: enterprise}
instances:
  - instanceId: i-a
    vpcId: vpc-a
    privateIpAddress: 10.0.0.1
`
	tests := []struct {
		name, rest string
		line       int
	}{
		{"mixed types", "    securityGroupIds: [sg-a, sg-e]\n", 10},
		{"mixed types, an item a line", "    securityGroupIds:\n      - sg-a\n      - sg-e\n", 11},
		{"six groups", "    securityGroupIds: [sg-a, sg-a, sg-a, sg-a, sg-a, sg-a]\n", 10},
		{"ENI of mixed types", `    securityGroupIds: [sg-a]
    networkInterfaces:
      - networkInterfaceId: eni-a
        primaryIpAddress: 10.0.0.2
        securityGroupIds: [sg-e, sg-a]
`, 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scenario.Parse("bad.yaml", []byte(head+tt.rest))
			var e *scenario.Error
			if !errors.As(err, &e) || e.Line != tt.line || e.Field != "securityGroupIds" {
				t.Errorf("got %v, want an error at line %d, field securityGroupIds", err, tt.line)
			}
		})
	}
}

// An outside end inside VPCs that share a block names each of them: naming
// the first read as the wrong one to whoever meant the other.
func TestOutsideEndNamesEveryVPC(t *testing.T) {
	file := `vpcs:
  - {vpcId: vpc-prod, cidrBlock: 10.0.0.0/16}
  - {vpcId: vpc-copy, cidrBlock: 10.0.0.0/16}
  - {vpcId: vpc-other, cidrBlock: 172.16.0.0/16}
securityGroups:
  - {securityGroupId: sg-a, vpcId: vpc-prod}
instances:
  - {instanceId: i-a, vpcId: vpc-prod, privateIpAddress: 10.0.0.1, securityGroupIds: [sg-a]}
flows:
  - {from: 10.0.0.9, to: i-a, ipProtocol: TCP, port: 22, expect: Drop}
`
	_, err := scenario.Parse("copy.yaml", []byte(file))
	if err == nil || !strings.Contains(err.Error(), "inside vpc-prod and vpc-copy;") {
		t.Errorf("error %v, want one naming vpc-prod and vpc-copy (and not vpc-other)", err)
	}
}
