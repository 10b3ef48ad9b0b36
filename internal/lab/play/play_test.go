package play

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
)

func load(t *testing.T, name string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Load("../../../testdata/scenarios/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// engine evaluates a scenario's flows and makes the rows a kernel that
// agrees with the engine would give.
func engine(t *testing.T, s *scenario.Scenario) ([]Row, []policy.Result) {
	t.Helper()
	d := policy.Compile(s.Cloud())
	var rows []Row
	var results []policy.Result
	for _, f := range s.Flows {
		res, err := policy.Evaluate(d, f.Flow)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, Row{Line: f.Line, Flow: scenario.FlowText(f.Flow), Expect: f.Expect, Kernel: res.Verdict, Engine: res.Verdict})
		results = append(results, res)
	}
	return rows, results
}

// recordsOf are the records a correct agent would ship for the results,
// each side named by the flow's end (two VPCs may share addresses).
func recordsOf(s *scenario.Scenario, results []policy.Result) []service.FlowRecord {
	nics := s.Cloud().Instances
	var out []service.FlowRecord
	add := func(pk policy.Packet, end, dir string, d policy.Decision) {
		r := service.FlowRecord{EniId: model.NICENI(nics[end]), Direction: dir, SrcAddr: pk.Src.String(), DstAddr: pk.Dst.String(),
			SrcPort: int(pk.SrcPort), DstPort: int(pk.DstPort), Protocol: int(pk.Proto), Action: actionOf(d.Verdict), Reason: string(d.Reason)}
		switch d.Reason {
		case policy.ByRule:
			r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy = d.Rule.GroupID, d.Rule.RuleID, d.Rule.Priority, d.Rule.Policy.Display()
		case policy.IntraGroup:
			r.SecurityGroupId = d.Group
		}
		out = append(out, r)
	}
	for i, res := range results {
		if res.Path != "" {
			continue
		}
		if res.Egress != nil {
			add(res.EgressPacket, s.Flows[i].From, "out", *res.Egress)
		}
		if res.Ingress != nil && (res.Egress == nil || res.Egress.Verdict == policy.Accept) {
			add(res.IngressPacket, s.Flows[i].To, "in", *res.Ingress)
		}
	}
	return out
}

// TestCheckFlows: the check passes records that name the engine's rules,
// also where two VPCs share addresses, and fails a wrong rule, a wrong
// action and a missing record.
func TestCheckFlows(t *testing.T) {
	// 58's VPCs share addresses: each side is its flow's end, not whichever
	// NIC has the address (the check named the wrong ENI and missed records).
	for _, f := range []string{"58-copied-vpcs.yaml", "check-only/54-same-addresses-two-vpcs.yaml"} {
		s := load(t, f)
		rows, results := engine(t, s)
		if c := checkFlows(s, rows, results, recordsOf(s, results)); c.Flows == 0 || c.Recorded != c.Flows || c.Agree != c.Flows || len(c.Problems) > 0 {
			t.Errorf("%s: agreeing records: %+v", f, c)
		}
	}
	s := load(t, "09-redis-deny.yaml")
	rows, results := engine(t, s)
	good := recordsOf(s, results)
	if c := checkFlows(s, rows, results, good); c.Flows == 0 || c.Recorded != c.Flows || c.Agree != c.Flows || len(c.Problems) > 0 {
		t.Fatalf("agreeing records: %+v", c)
	}
	ruled := -1
	for i, r := range good {
		if r.SecurityGroupRuleId != "" {
			ruled = i
		}
	}
	if ruled < 0 {
		t.Fatal("the scenario has no flow decided by a rule")
	}
	for _, tc := range []struct {
		name     string
		edit     func([]service.FlowRecord) []service.FlowRecord
		recorded int // less than Flows by this
		problem  string
	}{
		{"another rule", func(r []service.FlowRecord) []service.FlowRecord {
			r[ruled].SecurityGroupRuleId = "sgr-other"
			return r
		}, 0, "engine"},
		{"another action", func(r []service.FlowRecord) []service.FlowRecord {
			r[ruled].Action = map[string]string{"ACCEPT": "REJECT", "REJECT": "ACCEPT"}[r[ruled].Action]
			return r
		}, 0, "engine"},
		{"no record", func(r []service.FlowRecord) []service.FlowRecord { return append(r[:ruled], r[ruled+1:]...) }, 1, "no record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := tc.edit(append([]service.FlowRecord(nil), good...))
			c := checkFlows(s, rows, results, recs)
			if c.Recorded != c.Flows-tc.recorded || c.Agree != c.Flows-1 || len(c.Problems) != 1 || !strings.Contains(c.Problems[0], tc.problem) {
				t.Errorf("%+v", c)
			}
		})
	}
}

// TestPlayFlowLog plays a scenario with a flow log on real packets: every
// flow is recorded, with the engine's rule on each side.
func TestPlayFlowLog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables")
	}
	s := load(t, "09-redis-deny.yaml")
	rows, check, err := Play(s, fmt.Sprintf("fl%d", os.Getpid()%10000), Options{Hosts: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlowLog: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Kernel != r.Engine {
			t.Errorf("line %d: kernel %s, engine %s", r.Line, r.Kernel, r.Engine)
		}
	}
	if check == nil || check.Flows != len(rows) || check.Recorded != check.Flows || check.Agree != check.Flows {
		t.Fatalf("flow log check: %+v", check)
	}
}

// TestPlayStartsAgentsWhereInstancesAre: a host the layout leaves empty
// gets no agent, so a play logs no warning that nothing is bound to it
// (it did for every scenario with fewer instances than hosts).
func TestPlayStartsAgentsWhereInstancesAre(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables")
	}
	s := load(t, "09-redis-deny.yaml")
	var logged strings.Builder
	hosts := len(s.Instances) + 1 // one host at least is left empty
	rows, _, err := Play(s, fmt.Sprintf("bh%d", os.Getpid()%10000), Options{Hosts: hosts, Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Kernel != r.Engine {
			t.Errorf("line %d: kernel %s, engine %s", r.Line, r.Kernel, r.Engine)
		}
	}
	if strings.Contains(logged.String(), "is bound to this host") {
		t.Errorf("a host without instances had an agent that warned:\n%s", logged.String())
	}
}

// TestPlayLocalNames: a file's IDs are local names (FORMAT.md asks no
// shape of them), and check judges a file whose VPC, groups and instances
// are named net1, web, web1; lab play refused it, as the flow log it
// turned on named ENIs the API could not find. It plays such a file,
// without a flow log where no ENI ID names the NIC, and keeps the flow
// log where one does.
func TestPlayLocalNames(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables")
	}
	const text = `vpcs:
  - {vpcId: VPC, cidrBlock: 10.0.0.0/16}
securityGroups:
  - securityGroupId: web
    vpcId: VPC
    innerAccessPolicy: Drop
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/16}
instances:
  - {instanceId: A, vpcId: VPC, privateIpAddress: 10.0.0.5, publicIpAddress: 47.96.0.5, securityGroupIds: [web]}
  - {instanceId: B, vpcId: VPC, privateIpAddress: 10.0.0.6, securityGroupIds: [web]}
flows:
  - {from: B, to: A, ipProtocol: TCP, port: 22, expect: Accept}
  - {from: 198.51.100.7, to: A, ipProtocol: TCP, port: 22, expect: Drop}
  - {from: A, to: B, ipProtocol: UDP, port: 53, expect: Drop}
`
	for _, tc := range []struct {
		name, vpc, a, b string
		logged          int // flows a flow log covers
	}{
		{"no ID shaped as ECS's", "net1", "web1", "web2", 0},
		{"IDs with a hyphen but no i-", "net-1", "web-1", "db-1", 0},
		{"IDs a namespace name cannot hold", "net1", "web 1", "web/2", 0},
		{"instances named i-…, the VPC not", "net1", "i-web1", "i-web2", 3},
		{"an instance named eni-… (its ENI leads to i-…)", "net1", "eni-web1", "i-web2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scenario.Parse("names.yaml", []byte(strings.NewReplacer("VPC", tc.vpc, "A,", tc.a+",", "B,", tc.b+",").Replace(text)))
			if err != nil {
				t.Fatal(err)
			}
			_, check := playAsExpected(t, s, "ln", 2)
			if check == nil || check.Flows != tc.logged || check.Agree != tc.logged || len(check.Problems) > 0 {
				t.Errorf("flow log check %+v, want %d flows covered and agreeing", check, tc.logged)
			}
		})
	}
}

// TestPlaySharedAddresses: two VPCs may hold the same private addresses
// (check judges such a file); lab play refused it, as one lab routes each
// private address once. It plays the file in labs apart, every flow in a
// lab holding both its ends, the kernel agreeing with the file and the
// engine; a flow between two instances with one private address fits in
// no lab and says so, neither passed nor failed.
func TestPlaySharedAddresses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables")
	}
	for _, tc := range []struct {
		file      string
		labs      int      // labs played in
		notPlayed []string // the flows no lab can play
	}{
		{"58-copied-vpcs.yaml", 4, nil},
		{"check-only/54-same-addresses-two-vpcs.yaml", 4, []string{"i-a1 -> i-b1 TCP 8080", "i-a1 -> i-b1 TCP 22"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s := load(t, tc.file)
			rows, check, err := Play(s, fmt.Sprintf("ov%d", os.Getpid()%10000), Options{Hosts: 2, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlowLog: true})
			if err != nil {
				t.Fatal(err)
			}
			labs := 0
			var notPlayed []string
			for _, r := range rows {
				if r.NotPlayed != "" {
					notPlayed = append(notPlayed, r.Flow)
					if r.Kernel != "" || !strings.Contains(r.NotPlayed, "share the private address") {
						t.Errorf("line %d not played: kernel %q, %q", r.Line, r.Kernel, r.NotPlayed)
					}
					continue
				}
				labs = max(labs, r.Lab+1)
				if r.Kernel != r.Expect || r.Engine != r.Expect {
					t.Errorf("line %d %s: kernel %s, engine %s, expected %s (%s)", r.Line, r.Flow, r.Kernel, r.Engine, r.Expect, r.Detail)
				}
			}
			if labs != tc.labs || fmt.Sprint(notPlayed) != fmt.Sprint(tc.notPlayed) {
				t.Errorf("played in %d labs, %q not played; want %d labs, %q not played", labs, notPlayed, tc.labs, tc.notPlayed)
			}
			if check == nil || check.Flows == 0 || check.Recorded != check.Flows || check.Agree != check.Flows {
				t.Errorf("flow log check: %+v", check)
			}
		})
	}
}

// TestPlayCrossAccount: files whose groups belong to two accounts (ownerId)
// play with a flow log that records every side. Each account's NICs are
// logged by that account's flow log; the first tenant's alone recorded
// none of the other's, and lab play failed files whose every flow passed.
func TestPlayCrossAccount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables")
	}
	for _, file := range []string{"check-only/21-cross-account.yaml", "check-only/65-cross-account-enis.yaml", "check-only/70-cross-account-five-groups.yaml"} {
		t.Run(file, func(t *testing.T) {
			s := load(t, file)
			rows, check := playAsExpected(t, s, "xa", 2)
			if check == nil || check.Flows != len(rows) || check.Recorded != check.Flows || check.Agree != check.Flows || len(check.Problems) > 0 {
				t.Errorf("flow log check: %+v", check)
			}
		})
	}
}

// TestPlayUnloggedNICs: NICs whose flow records the server cannot tie to
// them are played without a flow log, as local names are (check judges
// such files): a secondary ENI eni-X beside an instance i-X, whose primary
// ENI the API names eni-X too (their records were filed under one NIC),
// and NICs in groups whose IDs a record cannot carry (the server refused
// every record naming them). lab play failed both files, every flow
// passing.
func TestPlayUnloggedNICs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables")
	}
	const sharedENI = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.75.0.0/16}
securityGroups:
  - securityGroupId: sg-open
    vpcId: vpc-a
    innerAccessPolicy: Drop
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.75.0.0/16}
  - securityGroupId: sg-shut
    vpcId: vpc-a
    innerAccessPolicy: Drop
    permissions:
      - {direction: egress, policy: Drop, priority: 1, ipProtocol: ALL, portRange: -1/-1, destCidrIp: 0.0.0.0/0}
instances:
  - {instanceId: i-foo, vpcId: vpc-a, privateIpAddress: 10.75.0.10, securityGroupIds: [sg-open]}
  - instanceId: i-bar
    vpcId: vpc-a
    privateIpAddress: 10.75.0.20
    securityGroupIds: [sg-open]
    networkInterfaces:
      - {networkInterfaceId: eni-foo, primaryIpAddress: 10.75.1.20, securityGroupIds: [sg-shut]}
  - {instanceId: i-baz, vpcId: vpc-a, privateIpAddress: 10.75.0.30, securityGroupIds: [sg-open]}
flows:
  - {from: i-baz, to: i-foo, ipProtocol: TCP, port: 22, expect: Accept}
  - {from: i-foo, to: i-baz, ipProtocol: TCP, port: 22, expect: Accept}
  - {from: i-baz, to: eni-foo, ipProtocol: TCP, port: 22, expect: Drop}
  - {from: eni-foo, to: i-baz, ipProtocol: TCP, port: 22, expect: Drop}
  - {from: i-baz, to: i-bar, ipProtocol: TCP, port: 22, expect: Accept}
`
	const groupIDs = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.76.0.0/16}
securityGroups:
  - securityGroupId: "web tier"
    vpcId: vpc-a
    innerAccessPolicy: Drop
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.76.0.0/16}
  - securityGroupId: "Ω"
    vpcId: vpc-a
  - securityGroupId: sg-ok
    vpcId: vpc-a
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 23/23, sourceCidrIp: 10.76.0.0/16}
instances:
  - {instanceId: i-a, vpcId: vpc-a, privateIpAddress: 10.76.0.10, securityGroupIds: ["web tier"]}
  - {instanceId: i-c, vpcId: vpc-a, privateIpAddress: 10.76.0.30, securityGroupIds: ["Ω"]}
  - {instanceId: i-d, vpcId: vpc-a, privateIpAddress: 10.76.0.40, securityGroupIds: ["Ω"]}
  - {instanceId: i-e, vpcId: vpc-a, privateIpAddress: 10.76.0.50, securityGroupIds: [sg-ok]}
flows:
  - {from: i-e, to: i-a, ipProtocol: TCP, port: 22, expect: Accept}
  - {from: i-d, to: i-c, ipProtocol: TCP, port: 80, expect: Accept}
  - {from: i-a, to: i-e, ipProtocol: TCP, port: 23, expect: Accept}
`
	// i-m is in groups of two accounts (ECS refuses it; the format does
	// not): judged as written, its flows logged on i-c's side alone.
	const twoAccounts = `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.77.0.0/16}
securityGroups:
  - securityGroupId: sg-own
    vpcId: vpc-a
    innerAccessPolicy: Drop
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.77.0.0/16}
  - securityGroupId: sg-theirs
    vpcId: vpc-a
    ownerId: "1000000000000002"
    innerAccessPolicy: Drop
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 80/80, sourceCidrIp: 10.77.0.0/16}
  - {securityGroupId: sg-client, vpcId: vpc-a}
instances:
  - {instanceId: i-m, vpcId: vpc-a, privateIpAddress: 10.77.0.10, securityGroupIds: [sg-own, sg-theirs]}
  - {instanceId: i-c, vpcId: vpc-a, privateIpAddress: 10.77.0.20, securityGroupIds: [sg-client]}
flows:
  - {from: i-c, to: i-m, ipProtocol: TCP, port: 22, expect: Accept}
  - {from: i-c, to: i-m, ipProtocol: TCP, port: 80, expect: Accept}
  - {from: i-c, to: i-m, ipProtocol: TCP, port: 443, expect: Drop}
`
	for _, tc := range []struct {
		name, text string
		logged     int // flows a flow log covers
	}{
		// i-foo and eni-foo are logged by neither; the fourth flow is theirs alone.
		{"secondary ENI eni-X beside instance i-X", sharedENI, 4},
		{"groups named web tier and Ω", groupIDs, 2},
		{"an instance in groups of two accounts", twoAccounts, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scenario.Parse("unlogged.yaml", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			_, check := playAsExpected(t, s, "ul", 3)
			if check == nil || check.Flows != tc.logged || check.Agree != tc.logged || len(check.Problems) > 0 {
				t.Errorf("flow log check %+v, want %d flows covered and agreeing", check, tc.logged)
			}
		})
	}
}

// TestPlayManyForeignNICs: the NICs of an account other than the file's
// VPCs' each need a flow log of their own (their VPC is not theirs to
// log), and lab play stopped past the account's 50 (QuotaExceeded.FlowLog)
// though every flow passed.
func TestPlayManyForeignNICs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and nftables)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nftables")
	}
	var b strings.Builder
	b.WriteString(`vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.78.0.0/16}
securityGroups:
  - securityGroupId: sg-theirs
    vpcId: vpc-a
    ownerId: "1000000000000002"
    innerAccessPolicy: Drop
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.78.0.0/16}
instances:
`)
	n := model.MaxFlowLogs + 2
	for i := range n {
		fmt.Fprintf(&b, "  - {instanceId: i-%d, vpcId: vpc-a, privateIpAddress: 10.78.0.%d, securityGroupIds: [sg-theirs]}\n", i, 10+i)
	}
	fmt.Fprintf(&b, "flows:\n  - {from: i-0, to: i-%d, ipProtocol: TCP, port: 22, expect: Accept}\n  - {from: i-%d, to: i-0, ipProtocol: TCP, port: 80, expect: Drop}\n", n-1, n-1)
	s, err := scenario.Parse("many.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	rows, check := playAsExpected(t, s, "mf", 1)
	if check == nil || check.Flows != len(rows) || check.Agree != check.Flows || len(check.Problems) > 0 {
		t.Errorf("flow log check: %+v", check)
	}
}

// playAsExpected plays s in a lab named for the test, with a flow log, on
// hosts hosts; any flow whose kernel or engine verdict is not the file's
// fails t. It returns the rows and the flow log's check.
func playAsExpected(t *testing.T, s *scenario.Scenario, lab string, hosts int) ([]Row, *FlowCheck) {
	t.Helper()
	rows, check, err := Play(s, fmt.Sprintf("%s%d", lab, os.Getpid()%10000), Options{Hosts: hosts, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FlowLog: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Kernel != r.Expect || r.Engine != r.Expect {
			t.Errorf("line %d %s: kernel %s, engine %s, expected %s", r.Line, r.Flow, r.Kernel, r.Engine, r.Expect)
		}
	}
	return rows, check
}
