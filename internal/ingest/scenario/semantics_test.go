package scenario_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

// TestCheckOnlyScenarios checks, with both evaluators, the scenario files
// that apply and lab play cannot build (another account's groups), kept
// apart from the files every command runs.
func TestCheckOnlyScenarios(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/scenarios/check-only/*.yaml")
	if len(files) == 0 {
		t.Fatal("no check-only scenario files")
	}
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []policy.Decider{policy.NewLinear(s.Cloud()), policy.Compile(s.Cloud())} {
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

// semBase is a valid file that the cases below break one field at a time.
// Line numbers: 2 the VPC, 4 sg-a, 7 its rule, 9-10 the instances i-a and
// i-b, 12-13 the flows.
const semBase = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}
securityGroups:
  - securityGroupId: sg-a
    vpcId: vpc-a
    permissions:
      - {direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}
instances:
  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, publicIpAddress: 192.0.2.1, securityGroupIds: [sg-a]}
  - {instanceId: i-b, vpcId: vpc-a, privateIpAddress: 10.0.0.2, securityGroupIds: [sg-a]}
flows:
  - {from: i-b, to: i-a, ipProtocol: TCP, port: 22, expect: Accept}
  - {from: 198.51.100.7, to: i-a, ipProtocol: TCP, port: 22, expect: Drop}
`

// semCase replaces old with new in semBase (and each pair of more) and
// expects an error at line (any line when -1) and field (any field when
// "*"), whose message contains msg.
type semCase struct {
	name, old, new string
	line           int
	field, msg     string
	more           []string
}

func runSemCases(t *testing.T, tests []semCase) {
	t.Helper()
	if _, err := scenario.Parse("ok.yaml", []byte(semBase)); err != nil {
		t.Fatalf("base file: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := semBase
			edits := append([]string{tt.old, tt.new}, tt.more...)
			for i := 0; i+1 < len(edits); i += 2 {
				if !strings.Contains(text, edits[i]) {
					t.Fatalf("test edits nothing: %q", edits[i])
				}
				text = strings.Replace(text, edits[i], edits[i+1], 1)
			}
			_, err := scenario.Parse("bad.yaml", []byte(text))
			var e *scenario.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a scenario.Error", err)
			}
			if e.File != "bad.yaml" || (tt.line >= 0 && e.Line != tt.line || e.Line <= 0) || tt.field != "*" && e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %q (line %d field %q), want line %d field %q and a message with %q", e, e.Line, e.Field, tt.line, tt.field, tt.msg)
			}
		})
	}
}

// TestFlowEndsOneForm: a flow's outside address is held to the one canonical
// form of FORMAT.md ("Values"): an IPv4-mapped IPv6 address is an IPv4
// address written another way (the engine read ::ffff:10.0.0.2 as 10.0.0.2,
// an address inside the VPC, and let it in as if it came from the internet),
// and IPv6 addresses take no zone.
func TestFlowEndsOneForm(t *testing.T) {
	runSemCases(t, []semCase{
		{"mapped private address", "from: 198.51.100.7,", "from: '::ffff:10.0.0.2',", 13, "from", "10.0.0.2", nil},
		{"mapped outside address", "from: 198.51.100.7,", "from: '::ffff:198.51.100.7',", 13, "from", "198.51.100.7", nil},
		{"mapped destination", "{from: i-b, to: i-a,", "{from: i-b, to: '::ffff:198.51.100.9',", 12, "to", "198.51.100.9", nil},
		{"zoned address", "from: 198.51.100.7,", "from: 'fe80::1%eth0',", 13, "from", "zone", nil},
		// Addresses no packet from the internet carries: check judged them,
		// lab play refused the file.
		{"loopback outside address", "from: 198.51.100.7,", "from: 127.0.0.1,", 13, "from", "internet", nil},
		{"unspecified outside address", "from: 198.51.100.7,", "from: 0.0.0.0,", 13, "from", "internet", nil},
		{"broadcast outside address", "from: 198.51.100.7,", "from: 255.255.255.255,", 13, "from", "internet", nil},
		{"multicast destination", "{from: i-b, to: i-a,", "{from: i-a, to: 224.0.0.5,", 12, "to", "internet", nil},
		{"link-local outside address", "from: 198.51.100.7,", "from: 169.254.1.1,", 13, "from", "internet", nil},
		{"IPv6 loopback", "from: 198.51.100.7,", "from: '::1',", 13, "from", "internet", nil},
		{"loopback public address", "publicIpAddress: 192.0.2.1,", "publicIpAddress: 127.0.0.2,", 9, "publicIpAddress", "internet", nil},
	})
}

// TestOnePeerPerRule: FORMAT.md gives a rule one peer ("ingress peer, one
// of: ..."); a file that names two had one of them silently ignored (the API
// lets a CIDR block win over a group, and a group over a prefix list).
func TestOnePeerPerRule(t *testing.T) {
	rule := "sourceCidrIp: 10.0.0.0/16}"
	runSemCases(t, []semCase{
		{"CIDR and group", rule, "sourceCidrIp: 10.0.0.0/16, sourceGroupId: sg-a}", 7, "sourceGroupId", "one peer", nil},
		{"group and prefix list", rule, "sourceGroupId: sg-a, sourcePrefixListId: pl-x}", 7, "sourcePrefixListId", "one peer", nil},
		{"IPv6 CIDR and group", rule, "ipv6SourceCidrIp: '::/0', sourceGroupId: sg-a}", 7, "sourceGroupId", "one peer", nil},
		{"egress CIDR and group", "{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}",
			"{direction: egress, ipProtocol: TCP, portRange: 22/22, destCidrIp: 10.0.0.0/16, destGroupId: sg-a}", 7, "destGroupId", "one peer", nil},
	})
	// The local side of a quintuple rule is not a peer: an ingress rule may
	// give destCidrIp beside its source.
	local := strings.Replace(semBase, rule, "sourceCidrIp: 10.0.0.0/16, destCidrIp: 10.0.0.1}", 1)
	if _, err := scenario.Parse("ok.yaml", []byte(local)); err != nil {
		t.Errorf("an ingress rule with a local CIDR: %v", err)
	}
}

// TestPeerFieldsOfTheLocalSide: the side of a rule that is not its peer is
// its local side, which takes a CIDR block only; a group, an owner or a
// prefix list there named nothing and was ignored, so the rule matched more
// than written (an egress drop with sourceGroupId dropped for any sender).
func TestPeerFieldsOfTheLocalSide(t *testing.T) {
	in := "{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}"
	eg := "{direction: egress, ipProtocol: TCP, portRange: 22/22, destCidrIp: 10.0.0.0/16"
	runSemCases(t, []semCase{
		{"egress sourceGroupId", in, eg + ", sourceGroupId: sg-a}", 7, "sourceGroupId", "names nothing on an egress rule", nil},
		{"egress sourcePrefixListId", in, eg + ", sourcePrefixListId: pl-x}", 7, "sourcePrefixListId", "destPrefixListId", nil},
		{"egress sourceGroupOwnerId", in, eg + ", sourceGroupOwnerId: '1000000000000001'}", 7, "sourceGroupOwnerId", "egress", nil},
		{"ingress destGroupId", "sourceCidrIp: 10.0.0.0/16}", "sourceCidrIp: 10.0.0.0/16, destGroupId: sg-a}", 7, "destGroupId", "names nothing on an ingress rule", nil},
		{"ingress destPrefixListId", "sourceCidrIp: 10.0.0.0/16}", "sourceCidrIp: 10.0.0.0/16, destPrefixListId: pl-x}", 7, "destPrefixListId", "ingress", nil},
		{"ingress destGroupOwnerAccount", "sourceCidrIp: 10.0.0.0/16}", "sourceGroupId: sg-a, destGroupOwnerAccount: x}", 7, "destGroupOwnerAccount", "ingress", nil},
	})
	// The local side's own fields stay: sourceCidrIp on egress, destCidrIp on ingress.
	local := strings.Replace(semBase, in, eg+", sourceCidrIp: 10.0.0.1}", 1)
	if _, err := scenario.Parse("ok.yaml", []byte(local)); err != nil {
		t.Errorf("an egress rule with a local CIDR: %v", err)
	}
}

// TestCrossAccountPeerOwner: FORMAT.md makes sourceGroupOwnerId optional,
// so a file may name another account's group without it (the group's
// ownerId says whose it is, where the API would look in the rule's own
// account: the file's statement of the format decides); an owner that is
// not the group's is refused.
func TestCrossAccountPeerOwner(t *testing.T) {
	other := "    permissions:\n      - {direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}\n"
	withX := func(rule string) string {
		return strings.Replace(semBase, other, "    permissions:\n      - "+rule+"\n  - {securityGroupId: sg-x, vpcId: vpc-a, ownerId: \"1000000000000002\"}\n", 1)
	}
	for _, rule := range []string{
		`{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceGroupId: sg-x, sourceGroupOwnerId: "1000000000000002"}`,
		`{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceGroupId: sg-x}`,
		`{direction: egress, ipProtocol: TCP, portRange: 22/22, destGroupId: sg-x}`,
	} {
		if _, err := scenario.Parse("ok.yaml", []byte(withX(rule))); err != nil {
			t.Errorf("%s: %v", rule, err)
		}
	}
	// A rule written one field a line: the error is at the owner's line
	// (it was at the rule's first line, and named the ID for an account).
	block := func(dir, peer, owner string) string {
		return "direction: " + dir + "\n        ipProtocol: TCP\n        portRange: 22/22\n        " + peer + ": sg-x\n        " + owner + ": \"1000000000000001\""
	}
	for _, tt := range []struct {
		name, rule, field string
		line              int
	}{
		{"wrong source owner", `{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceGroupId: sg-x, sourceGroupOwnerId: "1000000000000001"}`, "sourceGroupOwnerId", 7},
		{"wrong dest owner", `{direction: egress, ipProtocol: TCP, portRange: 22/22, destGroupId: sg-x, destGroupOwnerId: "1000000000000003"}`, "destGroupOwnerId", 7},
		{"wrong source owner, a field a line", block("ingress", "sourceGroupId", "sourceGroupOwnerId"), "sourceGroupOwnerId", 11},
		{"wrong dest owner account, a field a line", block("egress", "destGroupId", "destGroupOwnerAccount"), "destGroupOwnerAccount", 11},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scenario.Parse("bad.yaml", []byte(withX(tt.rule)))
			var e *scenario.Error
			if !errors.As(err, &e) || e.Line != tt.line || e.Field != tt.field || !strings.Contains(e.Msg, "1000000000000002") {
				t.Errorf("got %v, want an error at line %d, field %s, naming the owner", err, tt.line, tt.field)
			}
		})
	}
}

// TestYAMLErrorsHaveLines: FORMAT.md promises a message naming the file and
// the line; errors of the YAML layer (syntax, tabs, a key given twice) named
// the line only inside their text, not as file:line.
func TestYAMLErrorsHaveLines(t *testing.T) {
	runSemCases(t, []semCase{
		{"key given twice", "sourceCidrIp: 10.0.0.0/16}", "sourceCidrIp: 10.0.0.0/16, sourceCidrIp: 0.0.0.0/0}", 7, "*", "already defined", nil},
		{"tab indentation", "    vpcId: vpc-a\n    permissions", "\tvpcId: vpc-a\n    permissions", -1, "*", "tab", nil},
		{"unclosed flow sequence", "flows:\n", "flows: [\n", -1, "*", "", nil},
		// A value of the wrong kind is reported at its field too; the
		// decoder's error named none.
		{"scalar for a list", "securityGroupIds: [sg-a]}\n  - {instanceId: i-b", "securityGroupIds: sg-a}\n  - {instanceId: i-b", 9, "securityGroupIds", "expected a list, not `sg-a`", nil},
		{"number for the VPCs", "vpcs:\n  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}\n", "vpcs: 5\n", 1, "vpcs", "expected a list, not `5`", nil},
		{"mapping for the rules", "permissions:\n      - {direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}", "permissions: {direction: ingress}", 6, "permissions", "expected a list, not a mapping", nil},
		{"list for a priority", "{direction: ingress, ipProtocol: TCP,", "{direction: ingress, priority: [1], ipProtocol: TCP,", 7, "priority", "expected a single value, not a list", nil},
		{"scalar for a VPC", "  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}\n", "  - vpc-a\n", 2, "", "mapping of fields (key: value, as FORMAT.md shows), not `vpc-a`", nil},
		{"mapping for an ID", "{vpcId: vpc-a, cidrBlock", "{vpcId: {a: 1}, cidrBlock", 2, "vpcId", "expected a single value, not a mapping", nil},
	})
}

// TestYAMLAliases: a file that reuses a list or a value by YAML anchor and
// alias loads as if written out (the check of a value's kind once took an
// alias for a value of the wrong kind).
func TestYAMLAliases(t *testing.T) {
	const text = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}
securityGroups:
  - securityGroupId: sg-a
    vpcId: vpc-a
    permissions: &web
      - {direction: ingress, policy: Accept, priority: &first 1, ipProtocol: TCP, portRange: 80/80, sourceCidrIp: 0.0.0.0/0}
  - securityGroupId: sg-b
    vpcId: vpc-a
    permissions: *web
  - securityGroupId: sg-c
    vpcId: vpc-a
    permissions:
      - {direction: ingress, policy: Drop, priority: *first, ipProtocol: TCP, portRange: 80/80, sourceCidrIp: 0.0.0.0/0}
instances:
  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.5, securityGroupIds: [sg-a]}
  - {instanceId: i-b, vpcId: vpc-a, privateIpAddress: 10.0.0.6, securityGroupIds: [sg-b]}
flows:
  - {from: i-a, to: i-b, ipProtocol: TCP, port: 80, expect: Accept}
`
	sc, err := scenario.Parse("aliases.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]string{}
	for _, g := range sc.Groups {
		for _, r := range g.Rules {
			rules[g.ID] += fmt.Sprintf("%s %d %s;", r.Policy, r.Priority, r.PortRange)
		}
	}
	if rules["sg-a"] == "" || rules["sg-b"] != rules["sg-a"] || !strings.Contains(rules["sg-c"], " 1 ") {
		t.Errorf("rules by group %v: sg-b's are sg-a's, sg-c's priority is 1", rules)
	}
}

// TestInvalidCorners: what FORMAT.md and the API refuse, each reported at
// its line and field (these held before; they keep the corners covered).
func TestInvalidCorners(t *testing.T) {
	inst := "securityGroupIds: [sg-a]}\n  - {instanceId: i-b"
	rule := "{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}"
	group := "  - securityGroupId: sg-a\n    vpcId: vpc-a\n"
	runSemCases(t, []semCase{
		{"no group", inst, "securityGroupIds: []}\n  - {instanceId: i-b", 9, "securityGroupIds", "at least one", nil},
		{"six groups", "instances:\n", "  - {securityGroupId: sg-2, vpcId: vpc-a}\n  - {securityGroupId: sg-3, vpcId: vpc-a}\n  - {securityGroupId: sg-4, vpcId: vpc-a}\n  - {securityGroupId: sg-5, vpcId: vpc-a}\n  - {securityGroupId: sg-6, vpcId: vpc-a}\ninstances:\n",
			14, "securityGroupIds", "limit is 5", []string{inst, "securityGroupIds: [sg-a, sg-2, sg-3, sg-4, sg-5, sg-6]}\n  - {instanceId: i-b"}},
		{"a group twice", inst, "securityGroupIds: [sg-a, sg-a]}\n  - {instanceId: i-b", 9, "securityGroupIds", "more than once", nil},
		{"basic and enterprise", "instances:\n", "  - {securityGroupId: sg-e, vpcId: vpc-a, securityGroupType: enterprise}\ninstances:\n",
			10, "securityGroupIds", "basic and enterprise", []string{inst, "securityGroupIds: [sg-a, sg-e]}\n  - {instanceId: i-b"}},
		{"ICMP type and code", rule, "{direction: ingress, ipProtocol: ICMP, portRange: 8/0, sourceCidrIp: 10.0.0.0/16}", 7, "portRange", "-1/-1", nil},
		{"GRE with ports", rule, "{direction: ingress, ipProtocol: GRE, portRange: 1/2, sourceCidrIp: 10.0.0.0/16}", 7, "portRange", "-1/-1", nil},
		{"TCP with -1/-1", rule, "{direction: ingress, ipProtocol: TCP, portRange: -1/-1, sourceCidrIp: 10.0.0.0/16}", 7, "portRange", "1/65535", nil},
		{"port 0", rule, "{direction: ingress, ipProtocol: TCP, portRange: 0/22, sourceCidrIp: 10.0.0.0/16}", 7, "portRange", "", nil},
		{"port 65536", rule, "{direction: ingress, ipProtocol: TCP, portRange: 1/65536, sourceCidrIp: 10.0.0.0/16}", 7, "portRange", "", nil},
		{"start after end", rule, "{direction: ingress, ipProtocol: TCP, portRange: 23/22, sourceCidrIp: 10.0.0.0/16}", 7, "portRange", "", nil},
		{"single port", rule, "{direction: ingress, ipProtocol: TCP, portRange: 22, sourceCidrIp: 10.0.0.0/16}", 7, "portRange", "", nil},
		{"priority 0", rule, "{direction: ingress, priority: 0, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}", 7, "priority", "", nil},
		{"policy reject", rule, "{direction: ingress, policy: reject, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}", 7, "policy", "", nil},
		{"host bits", "sourceCidrIp: 10.0.0.0/16}", "sourceCidrIp: 10.0.0.1/8}", 7, "sourceCidrIp", "", nil},
		{"IPv6 host bits", "sourceCidrIp: 10.0.0.0/16}", "ipv6SourceCidrIp: '2001:db8::1/32'}", 7, "ipv6SourceCidrIp", "", nil},
		{"IPv6 block in the IPv4 field", "sourceCidrIp: 10.0.0.0/16}", "sourceCidrIp: '::/0'}", 7, "sourceCidrIp", "", nil},
		{"ICMP with an IPv6 peer", rule, "{direction: ingress, ipProtocol: ICMP, portRange: -1/-1, ipv6SourceCidrIp: '::/0'}", 7, "ipProtocol", "", nil},
		{"ICMPv6 with an IPv4 peer", rule, "{direction: ingress, ipProtocol: ICMPv6, portRange: -1/-1, sourceCidrIp: 0.0.0.0/0}", 7, "ipProtocol", "", nil},
		{"no peer", rule, "{direction: ingress, ipProtocol: TCP, portRange: 22/22}", 7, "sourceCidrIp", "", nil},
		{"unknown nicType", "sourceCidrIp: 10.0.0.0/16}", "sourceCidrIp: 10.0.0.0/16, nicType: public}", 7, "nicType", "", nil},
		{"unknown peer group", "sourceCidrIp: 10.0.0.0/16}", "sourceGroupId: sg-nope}", 7, "sourceGroupId", "not defined", nil},
		{"peer group of another VPC", "instances:\n", "  - {securityGroupId: sg-b, vpcId: vpc-b}\ninstances:\n", 8, "sourceGroupId", "",
			[]string{"sourceCidrIp: 10.0.0.0/16}", "sourceGroupId: sg-b}", "cidrBlock: 10.0.0.0/16}\n", "cidrBlock: 10.0.0.0/16}\n  - {vpcId: vpc-b, cidrBlock: 10.1.0.0/16}\n"}},
		{"enterprise names a group", group, group + "    securityGroupType: enterprise\n", 8, "sourceGroupId", "", []string{"sourceCidrIp: 10.0.0.0/16}", "sourceGroupId: sg-a}"}},
		{"unknown prefix list", "sourceCidrIp: 10.0.0.0/16}", "sourcePrefixListId: pl-nope}", 7, "sourcePrefixListId", "not defined", nil},
		// web beside sg-web: both numbered their rules sgr-web-N, and check
		// named the wrong rule's line.
		{"groups whose rules share IDs", "instances:\n", "  - {securityGroupId: a, vpcId: vpc-a}\ninstances:\n", 8, "securityGroupId", "same IDs", nil},
		{"flow of protocol ALL", "ipProtocol: TCP, port: 22, expect: Drop}", "ipProtocol: ALL, expect: Drop}", 13, "ipProtocol", "", nil},
		{"flow port for ICMP", "ipProtocol: TCP, port: 22, expect: Drop}", "ipProtocol: ICMP, port: 8, expect: Drop}", 13, "port", "", nil},
		{"flow without port", "ipProtocol: TCP, port: 22, expect: Drop}", "ipProtocol: TCP, expect: Drop}", 13, "port", "", nil},
		{"flow port 0", "port: 22, expect: Drop}", "port: 0, expect: Drop}", 13, "port", "", nil},
		{"ICMP over IPv6", "ipProtocol: TCP, port: 22, expect: Accept}", "ipProtocol: ICMP, ipVersion: 6, expect: Accept}", 12, "ipProtocol", "ICMPv6", nil},
		// An ICMPv6 flow between instances is IPv6 only with ipVersion: 6;
		// the error named no field and offered only ICMP.
		{"ICMPv6 between instances without ipVersion", "ipProtocol: TCP, port: 22, expect: Accept}", "ipProtocol: ICMPv6, expect: Accept}", 12, "ipProtocol", "ipVersion: 6", nil},
		{"ICMPv6 from an IPv4 address", "ipProtocol: TCP, port: 22, expect: Drop}", "ipProtocol: ICMPv6, expect: Drop}", 13, "ipProtocol", "ipVersion: 6", nil},
		{"ipVersion 6 to an IPv4 address", "port: 22, expect: Drop}", "port: 22, ipVersion: 6, expect: Drop}", 13, "ipVersion", "ipVersion is 6", nil},
		// An outside end against the flow's family: at the field that set
		// it (the engine's error had no field).
		{"ipVersion 4 from an IPv6 address", "from: 198.51.100.7,", "from: '2001:db8:ff::7',", 13, "ipVersion", "ipVersion is 4", []string{"expect: Drop}", "ipVersion: 4, expect: Drop}"}},
		{"IPv6 outside end and an IPv4 NIC address", "{from: i-b, to: i-a,", "{from: 10.0.0.2, to: '2001:db8:ff::7',", 12, "to", "one family", nil},
		{"ipVersion 5", "port: 22, expect: Drop}", "port: 22, ipVersion: 5, expect: Drop}", 13, "ipVersion", "", nil},
		{"expect maybe", "expect: Drop}", "expect: Maybe}", 13, "expect", "", nil},
		{"two outside ends", "to: i-a, ipProtocol: TCP, port: 22, expect: Drop}", "to: 198.51.100.8, ipProtocol: TCP, port: 22, expect: Drop}", 13, "to", "instance at one end", nil},
		{"flow to itself", "{from: i-b, to: i-a,", "{from: i-a, to: i-a,", 12, "to", "same end as from", nil},
		{"flow to itself by address", "{from: i-b, to: i-a,", "{from: i-a, to: 10.0.0.1,", 12, "to", "same end as from", nil},
		{"public address as an end", "{from: i-b, to: i-a,", "{from: i-b, to: 192.0.2.1,", 12, "to", "i-a", nil},
		// Addresses no NIC holds: check judged them, lab play refused them.
		{"link-local VPC address", "cidrBlock: 10.0.0.0/16}", "cidrBlock: 169.254.0.0/16}", 9, "privateIpAddress", "169.254.0.1 is not an address a network interface can hold", []string{"privateIpAddress: 10.0.0.1", "privateIpAddress: 169.254.0.1"}},
		{"loopback classic address", "{instanceId: i-b, vpcId: vpc-a, privateIpAddress: 10.0.0.2, securityGroupIds: [sg-a]}", "{instanceId: i-b, privateIpAddress: 127.0.0.2, securityGroupIds: [sg-c]}", 11, "privateIpAddress", "not an address a network interface can hold",
			[]string{"instances:\n", "  - {securityGroupId: sg-c}\ninstances:\n"}},
		{"multicast IPv6 address", "{instanceId: i-b, vpcId: vpc-a,", "{instanceId: i-b, vpcId: vpc-a, ipv6Address: 'ff02::2',", 10, "ipv6Address", "not an address a network interface can hold", nil},
		{"IPv6 on a classic instance", "{instanceId: i-b, vpcId: vpc-a,", "{instanceId: i-b, ipv6Address: '2001:db8::2',", 10, "ipv6Address", "", nil},
		{"classic group with a prefix list", group, "  - {securityGroupId: sg-c, permissions: [{direction: ingress, ipProtocol: TCP, portRange: 1/2, sourcePrefixListId: pl-c}]}\n" + group, 4, "sourcePrefixListId", "", nil},
		{"classic group peer on the internet", "instances:\n", "  - {securityGroupId: sg-c, permissions: [{direction: ingress, ipProtocol: TCP, portRange: 1/2, sourceGroupId: sg-c, nicType: internet}]}\ninstances:\n", 8, "nicType", "intranet", nil},
	})
}

// TestEndNamedByIPv6Address: an end written as a NIC's IPv6 address makes
// the flow an IPv6 one, as an IPv6 outside address does (FORMAT.md: an IPv6
// flow uses the instances' ipv6Address). It was judged as IPv4 between the
// private addresses, the written address used only to find the NIC. Ends of
// two families, or an end against ipVersion, are refused.
func TestEndNamedByIPv6Address(t *testing.T) {
	base := `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, ipv6CidrBlock: "2001:db8:1::/56"}
securityGroups:
  - securityGroupId: sg-a
    vpcId: vpc-a
    innerAccessPolicy: Drop
    permissions:
      - {direction: ingress, ipProtocol: TCP, portRange: 22/22, ipv6SourceCidrIp: "::/0"}
instances:
  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.1, ipv6Address: "2001:db8:1::1", publicIpAddress: 192.0.2.1, securityGroupIds: [sg-a]}
  - {instanceId: i-b, vpcId: vpc-a, privateIpAddress: 10.0.0.2, ipv6Address: "2001:db8:1::2", securityGroupIds: [sg-a]}
flows:
  - FLOW
`
	for _, tt := range []struct {
		flow   string
		expect int // IP version, or 0 for an error at line 13
	}{
		{`{from: i-b, to: "2001:db8:1::1", ipProtocol: TCP, port: 22, expect: Accept}`, 6},
		{`{from: "2001:db8:1::2", to: i-a, ipProtocol: TCP, port: 22, expect: Accept}`, 6},
		{`{from: "2001:db8:1::2", to: "2001:db8:1::1", ipProtocol: TCP, port: 22, ipVersion: 6, expect: Accept}`, 6},
		{`{from: 10.0.0.2, to: i-a, ipProtocol: TCP, port: 22, expect: Drop}`, 4},
		{`{from: "2001:db8:1::2", to: 10.0.0.1, ipProtocol: TCP, port: 22, expect: Drop}`, 0},
		{`{from: i-b, to: "2001:db8:1::1", ipProtocol: TCP, port: 22, ipVersion: 4, expect: Drop}`, 0},
		{`{from: 10.0.0.2, to: i-a, ipProtocol: TCP, port: 22, ipVersion: 6, expect: Accept}`, 0},
		{`{from: "2001:db8:1::2", to: 198.51.100.7, ipProtocol: TCP, port: 22, expect: Accept}`, 0},
		{`{from: 10.0.0.2, to: "2001:db8:ffff::1", ipProtocol: TCP, port: 22, expect: Accept}`, 0},
	} {
		s, err := scenario.Parse("f.yaml", []byte(strings.Replace(base, "FLOW", tt.flow, 1)))
		if tt.expect == 0 {
			var e *scenario.Error
			if !errors.As(err, &e) || e.Line != 13 {
				t.Errorf("%s: got %v, want an error at line 13", tt.flow, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.flow, err)
			continue
		}
		if v := s.Flows[0].IPVersion; v != tt.expect && !(v == 0 && tt.expect == 4) {
			t.Errorf("%s: IP version %d, want %d", tt.flow, v, tt.expect)
		}
		outs, err := s.Check(policy.NewLinear(s.Cloud()))
		if err != nil || !outs[0].Pass {
			t.Errorf("%s: %v %+v", tt.flow, err, outs)
		}
	}
}

// TestYAMLMergeKeys: YAML merge keys (`<<: *base`) share fields between
// rules, flows or groups; the field check refused `<<` as an unknown field,
// so a valid YAML file did not load. Merged fields load as if written out,
// the mapping's own fields win over merged ones, and an earlier merged
// mapping wins over a later one.
func TestYAMLMergeKeys(t *testing.T) {
	const head = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}
securityGroups:
  - securityGroupId: sg-a
    vpcId: vpc-a
    innerAccessPolicy: Drop
    permissions:
      - &web {direction: ingress, policy: Accept, priority: 5, ipProtocol: TCP, portRange: 80/80, sourceCidrIp: 0.0.0.0/0}
      - &drop {direction: ingress, policy: Drop, priority: 7, ipProtocol: UDP, portRange: 53/53, sourceCidrIp: 192.0.2.0/24}
`
	const tail = `instances:
  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.0.0.5, publicIpAddress: 47.96.0.5, securityGroupIds: [sg-a]}
flows:
  - &out {from: 198.51.100.7, to: i-a, ipProtocol: TCP, port: 80, expect: Accept}
  - {<<: *out, port: 81, expect: Drop}
`
	tests := []struct {
		name, rule string
		want       string // the merged rule: policy priority protocol ports peer
	}{
		{"one mapping, a field overridden", "      - <<: *web\n        portRange: 443/443\n", "Accept 5 TCP 443/443 0.0.0.0/0"},
		{"own field before the merge key", "      - {portRange: 8080/8080, <<: *web}\n", "Accept 5 TCP 8080/8080 0.0.0.0/0"},
		{"a list: the first mapping wins", "      - {<<: [*drop, *web]}\n", "Drop 7 UDP 53/53 192.0.2.0/24"},
		{"a list: own fields win over both", "      - {<<: [*drop, *web], priority: 9, policy: Accept}\n", "Accept 9 UDP 53/53 192.0.2.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := scenario.Parse("merge.yaml", []byte(head+tt.rule+tail))
			if err != nil {
				t.Fatal(err)
			}
			r := sc.Groups[0].Rules[2]
			if got := fmt.Sprintf("%s %d %s %s %s", r.Policy.Display(), r.Priority, r.Protocol, r.PortRange, r.Peer.CIDR); got != tt.want {
				t.Errorf("merged rule %q, want %q", got, tt.want)
			}
			if f := sc.Flows[1]; f.Port != 81 || f.Expect != policy.Drop || f.From != "198.51.100.7" || f.To != "i-a" {
				t.Errorf("merged flow %+v, want the first flow's ends with port 81 and Drop", f)
			}
		})
	}
	// Each rule merging the one before twice: each mapping is expanded
	// once, not 2^64 times (the load never ended).
	chain := "      - &m0 {direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}\n"
	for i := 1; i <= 64; i++ {
		chain += fmt.Sprintf("      - &m%d {<<: [*m%d, *m%d]}\n", i, i-1, i-1)
	}
	sc, err := scenario.Parse("chain.yaml", []byte(head+chain+tail))
	if err != nil {
		t.Fatalf("a chain of merges: %v", err)
	}
	if r := sc.Groups[0].Rules[len(sc.Groups[0].Rules)-1]; r.PortRange.String() != "22/22" || r.Peer.CIDR.String() != "10.0.0.0/16" {
		t.Errorf("the chain's last rule is %s from %s, want m0's: 22/22 from 10.0.0.0/16", r.PortRange, r.Peer.CIDR)
	}
	_, err = scenario.Parse("merge.yaml", []byte(head+"      - {<<: 5, direction: ingress}\n"+tail))
	var e *scenario.Error
	if !errors.As(err, &e) || e.Line != 10 || e.Field != "<<" || !strings.Contains(e.Msg, "mapping") {
		t.Errorf("merge key of a number: got %v, want an error at line 10, field <<", err)
	}
	// A mapping merging another kind's fields: refused at the merge key,
	// not at the anchored mapping's line, where the field is right.
	for _, c := range []struct {
		name, rule string
	}{
		{"a VPC into a rule", "      - {<<: *vpc, direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}\n"},
		{"a VPC second in a list", "      - {<<: [*web, *vpc], portRange: 22/22}\n"},
	} {
		withVPC := strings.Replace(head, "  - {vpcId: vpc-a", "  - &vpc {vpcId: vpc-a", 1)
		_, err := scenario.Parse("kind.yaml", []byte(withVPC+c.rule+tail))
		if !errors.As(err, &e) || e.Line != 10 || e.Field != "<<" || !strings.Contains(e.Msg, "line 2") {
			t.Errorf("merge of %s: got %v, want an error at line 10, field <<, naming line 2", c.name, err)
		}
	}
	// A mapping merging itself (its anchor is set before its content) or
	// one that merges it: refused, not expanded until the stack overflows.
	// An empty mapping merged twice is no cycle.
	for _, c := range []struct {
		name, rule string
		refused    bool
	}{
		{"itself", "      - &me {direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16, <<: *me}\n", true},
		{"a cycle of two", "      - &p {direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16, <<: {<<: *p}}\n", true},
		{"an empty mapping twice", "      - &none {}\n      - {<<: [*none, *none], direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}\n", false},
	} {
		_, err := scenario.Parse("cycle.yaml", []byte(head+c.rule+tail))
		if refused := errors.As(err, &e) && e.Field == "<<"; refused != c.refused {
			t.Errorf("merge of %s: %v; refused at <<: %v, want %v", c.name, err, refused, c.refused)
		}
	}
}

// TestYAMLLayerMessages: what the YAML layer alone would say unhelpfully is
// said with what to do: an empty file (the decoder said "EOF"), and an IPv6
// value starting with a colon unquoted inside { } (the decoder said "did
// not find expected node content", at the line before).
func TestYAMLLayerMessages(t *testing.T) {
	// Document markers around the one scenario are no second document.
	for _, text := range []string{"---\n" + semBase + "...\n", semBase + "---\n", semBase + "---\n# nothing more\n"} {
		if _, err := scenario.Parse("ok.yaml", []byte(text)); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
	tests := []struct {
		name, text string
		line       int
		field, msg string
	}{
		{"empty", "", 0, "", "the file is empty"},
		{"comments only", "# a scenario\n", 0, "", "the file is empty"},
		{"IPv6 peer", "securityGroups:\n  - securityGroupId: sg-a\n    permissions:\n      - {direction: ingress, ipProtocol: TCP, portRange: 22/22, ipv6SourceCidrIp: ::/0}\n", 4, "ipv6SourceCidrIp", `write "::/0"`},
		{"IPv6 end", "flows:\n  - {from: ::1, to: i-a, ipProtocol: TCP, port: 22, expect: Drop}\n", 2, "from", `write "::1"`},
		{"IPv6 list entry", "prefixLists:\n  - prefixListId: pl-6\n    addressFamily: IPv6\n    entries: [\"2001:db8::/32\", ::/0]\n", 4, "entries", `write "::/0"`},
		// A second document was ignored, its flows never checked.
		{"two documents", semBase + "---\n" + semBase, 15, "", "second YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scenario.Parse("bad.yaml", []byte(tt.text))
			var e *scenario.Error
			if !errors.As(err, &e) || e.File != "bad.yaml" || e.Line != tt.line || e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %v, want bad.yaml line %d field %q and %q", err, tt.line, tt.field, tt.msg)
			}
		})
	}
}

// TestLocalNamesAsPeers: a file's IDs are its own names, and a group or
// prefix list may be defined as web or office (FORMAT.md asks no sg-… or
// pl-… shape); a rule naming one as its peer was refused as not a security
// group or prefix list ID, though the group itself loaded and instances
// joined it. A rule names it as defined, in either direction.
func TestLocalNamesAsPeers(t *testing.T) {
	const text = `vpcs:
  - {vpcId: net, cidrBlock: 10.0.0.0/16}
prefixLists:
  - {prefixListId: office, addressFamily: IPv4, entries: [203.0.113.0/28]}
securityGroups:
  - securityGroupId: web
    vpcId: net
    innerAccessPolicy: Drop
    permissions:
      - PEER
instances:
  - {instanceId: web1, vpcId: net, privateIpAddress: 10.0.0.5, publicIpAddress: 47.96.0.5, securityGroupIds: [web]}
  - {instanceId: web2, vpcId: net, privateIpAddress: 10.0.0.6, securityGroupIds: [web]}
flows:
  - {from: FROM, to: TO, ipProtocol: TCP, port: 22, expect: EXPECT}
`
	tests := []struct {
		name, rule, from, to string
		want                 policy.Verdict
	}{
		{"ingress group peer", "{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceGroupId: web}", "web2", "web1", policy.Accept},
		{"egress group peer", "{direction: egress, policy: Drop, ipProtocol: TCP, portRange: 22/22, destGroupId: web}", "web1", "203.0.113.1", policy.Accept},
		{"ingress prefix list", "{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourcePrefixListId: office}", "203.0.113.1", "web1", policy.Accept},
		{"egress prefix list", "{direction: egress, policy: Drop, ipProtocol: TCP, portRange: 22/22, destPrefixListId: office}", "web1", "203.0.113.1", policy.Drop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.NewReplacer("PEER", tt.rule, "FROM", tt.from, "TO", tt.to, "EXPECT", string(tt.want)).Replace(text)
			sc, err := scenario.Parse("names.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			outs, err := sc.Check(policy.Compile(sc.Cloud()))
			if err != nil {
				t.Fatal(err)
			}
			if !outs[0].Pass {
				t.Errorf("got %s, want %s (%s)", outs[0].Result.Verdict, tt.want, sc.Explain(outs[0].Result))
			}
		})
	}
	// A name the file does not define is still refused, as not defined.
	_, err := scenario.Parse("names.yaml", []byte(strings.NewReplacer("PEER", "{direction: ingress, ipProtocol: TCP, portRange: 22/22, sourceGroupId: db}", "FROM", "web2", "TO", "web1", "EXPECT", "Drop").Replace(text)))
	var e *scenario.Error
	if !errors.As(err, &e) || e.Field != "sourceGroupId" || !strings.Contains(e.Msg, "not defined") {
		t.Errorf("undefined peer db: got %v, want it refused as not defined", err)
	}
}
