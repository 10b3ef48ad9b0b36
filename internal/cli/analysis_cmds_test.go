package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestAnalysisCommandsOffline(t *testing.T) {
	const sc = "../../testdata/scenarios/09-redis-deny.yaml"
	const prl = "../../testdata/scenarios/13-port-range-list.yaml"
	for _, tt := range []struct {
		name string
		args []string
		code int
		want []string // substrings of stdout
		not  []string
	}{
		{"verify accept", []string{"verify", "--scenario", sc, "--from", "i-web", "--to", "i-redis", "--port", "6379"}, 0,
			[]string{"ACCEPT", "sgr-redis-2 priority 1 Accept"}, nil},
		{"verify drop exits 3", []string{"verify", "--scenario", sc, "--from", "i-web", "--to", "i-redis", "--port", "6380"}, 3,
			[]string{"DROP", "sgr-redis-4 priority 10 Drop"}, nil},
		{"effective marks the redundant rule", []string{"effective", "i-redis", "--scenario", sc}, 0,
			[]string{"sgr-redis-1", "redundant", "default inbound drop", "(drop wins)"}, nil},
		{"reach to redis on 6379", []string{"reach", "--scenario", sc, "--to", "i-redis", "--port", "6379"}, 0,
			[]string{"i-web ", "i-web2"}, []string{"192.168.7.0"}},
		{"reach graph as DOT", []string{"reach", "--scenario", sc, "--dot"}, 0, []string{"digraph", "sg-web", "sg-redis"}, nil},
		{"plan a revoke", []string{"plan", "--scenario", sc, "--action", "RevokeSecurityGroup", "--param", "SecurityGroupId=sg-redis",
			"--param", "SecurityGroupRuleId.1=sgr-redis-4"}, 0, []string{"i-web -> i-redis IPv4 opens TCP 6380"}, []string{"i-web2 ->"}},
		{"plan the same state", []string{"plan", "--scenario", sc, "--desired", sc}, 0, []string{"0 links change"}, nil},
		{"plan a port range list change", []string{"plan", "--scenario", prl, "--action", "ModifyPortRangeList", "--param", "PortRangeListId=prl-web",
			"--param", "AddEntry.1.PortRange=81/81", "--param", "RemoveEntry.1.PortRange=443/443"}, 0,
			[]string{"i-client -> i-web IPv4 opens TCP 81, closes TCP 443"}, nil},
		{"effective shows a port list's ranges", []string{"effective", "i-web", "--scenario", prl}, 0,
			[]string{"80/80,443/443,8000/8010 (prl-web)"}, nil},
		{"verify a port in a list's gap", []string{"verify", "--scenario", prl, "--from", "i-client", "--to", "i-web", "--port", "81"}, 3,
			[]string{"DROP"}, nil},
		{"audit passes below the bar", []string{"audit", "--scenario", sc, "--fail-on", "critical"}, 0, []string{"SGA-024", "SGA-023"}, nil},
		{"audit fails at the bar", []string{"audit", "--scenario", sc, "--fail-on", "high"}, 1, []string{"SGA-006"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := palisade(tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	// A plan the action refuses fails with the action's error and changes nothing.
	code, _, errs := palisade("plan", "--scenario", sc, "--action", "AuthorizeSecurityGroup", "--param", "SecurityGroupId=sg-redis",
		"--param", "IpProtocol=tcp", "--param", "PortRange=1/70000", "--param", "SourceCidrIp=0.0.0.0/0")
	if code == 0 || !strings.Contains(errs, "PortRange") {
		t.Errorf("plan of an invalid rule: exit %d, %s", code, errs)
	}
	// A real account's saved responses: the same commands, offline.
	code, out, errs := palisade("audit", "--ecs-dir", "../ingest/ecsimport/testdata/account", "--json")
	if code != 0 || !strings.Contains(out, "SGA-") || !strings.Contains(errs, "warning:") {
		t.Errorf("audit --ecs-dir: exit %d\n%s\n%s", code, out, errs)
	}
	// JSON output parses.
	_, out, _ = palisade("audit", "--scenario", sc, "--json")
	var fs []struct{ Check, Severity, Resource string }
	if err := json.Unmarshal([]byte(out), &fs); err != nil || len(fs) == 0 {
		t.Errorf("audit --json: %v\n%s", err, out)
	}
}

// TestBadFlowFlags: an impossible port, protocol or IP version is bad
// usage (exit 2, naming what to give), offline and against a server alike,
// not wrapped (65558 used to become 22 offline) or an error (1).
func TestBadFlowFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"reach", "--port", "65558"}, "65535"},
		{[]string{"reach", "--port", "-1"}, "65535"},
		{[]string{"reach", "--port", "70000"}, "65535"},
		{[]string{"reach", "--proto", "bogus"}, "use tcp, udp"},
		{[]string{"reach", "--ip-version", "5"}, "use 4 or 6"},
		{[]string{"verify", "--from", "i-a", "--to", "i-b", "--port", "70000"}, "a number from 1 to 65535"},
		{[]string{"verify", "--from", "i-a", "--to", "i-b", "--proto", "bogus"}, "use tcp, udp"},
		{[]string{"verify", "--from", "i-a", "--to", "i-b", "--port", "22", "--ip-version", "5"}, "use 4 or 6"},
		{[]string{"verify", "--to", "i-b", "--port", "22"}, "From and To"},
		// Decimal, as the API reads a port: flag.Int read 022 as port 18.
		{[]string{"verify", "--from", "i-a", "--to", "i-b", "--port", "022"}, "a number from 1 to 65535"},
		{[]string{"verify", "--from", "i-a", "--to", "i-b", "--port", "0x16"}, "a number from 1 to 65535"},
		{[]string{"verify", "--from", "i-a", "--to", "i-b", "--port", "22", "--source-port", "022"}, "from 0 to 65535"},
		{[]string{"reach", "--port", "022"}, "in decimal"},
		{[]string{"reach", "--port", "0x16"}, "in decimal"},
	} {
		for _, where := range [][]string{{"--scenario", "nonexistent.yaml"}, {"--endpoint", "127.0.0.1:1"}} {
			var out, errb bytes.Buffer
			args := append(append([]string{}, tt.args...), where...)
			if code := Main(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("%v: exit %d, stderr %q; want 2 and %q", args, code, errb.String(), tt.want)
			}
		}
	}
}

// TestVerifyNeedsPort: a TCP or UDP flow without --port is bad usage that
// names the flag, not the verdict of a flow to port 0.
func TestVerifyNeedsPort(t *testing.T) {
	const sc = "../../testdata/scenarios/09-redis-deny.yaml"
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--from", "i-web", "--to", "i-redis"}, 2, "--port is required for tcp"},
		{[]string{"--from", "i-web", "--to", "i-redis", "--proto", "udp"}, 2, "--port is required for udp"},
		{[]string{"--from", "i-web", "--to", "i-redis", "--proto", "icmp"}, 3, ""},
		{[]string{"--from", "i-web", "--to", "i-redis", "--port", "6379"}, 0, ""},
	} {
		code, out, errs := palisade(append([]string{"verify", "--scenario", sc}, tt.args...)...)
		if code != tt.code || !strings.Contains(errs, tt.err) {
			t.Errorf("verify %v: exit %d, stderr %q, want %d and %q\n%s", tt.args, code, errs, tt.code, tt.err, out)
		}
	}
}

// TestVerifyRefusesAddressesInsideVPCs: offline as on a server, an outside
// end inside a VPC's block, a classic instance's address, or an instance's
// public address is refused (reach leaves those out of the internet; the
// verdict contradicted it). An instance's public address was taken as the
// internet's offline, though the server and scenario files refuse it.
func TestVerifyRefusesAddressesInsideVPCs(t *testing.T) {
	const account = "../ingest/ecsimport/testdata/account" // saved ECS responses, with DescribeVpcs
	for _, tt := range []struct {
		src, from, to, port string // src: a scenario's name, or the saved account
		code                int
		want                string // in stderr when refused
	}{
		{"09-redis-deny", "192.168.9.9", "i-redis", "6379", 1, "outside every VPC"},
		{"09-redis-deny", "198.51.100.7", "i-redis", "6379", 3, ""},
		{"09-redis-deny", "192.0.2.70", "i-redis", "6379", 1, "192.0.2.70 is the public address of i-redis"},
		{"09-redis-deny", "i-web", "192.0.2.70", "6379", 1, "192.0.2.70 is the public address of i-redis"},
		{"19-classic-nic-type", "10.0.0.30", "i-cl1", "6379", 1, "outside every VPC"},
		{"19-classic-nic-type", "10.0.0.31", "i-cl1", "6379", 3, ""},
		{account, "192.168.9.9", "i-bp1web01e8k2vxzqj7hb", "443", 1, "outside every VPC"},
		{account, "100.64.3.3", "i-bp1web01e8k2vxzqj7hb", "443", 1, "outside every VPC"}, // a secondary block
		{account, "10.116.4.7", "i-bp1web01e8k2vxzqj7hb", "443", 1, "outside every VPC"}, // a classic instance's
		{account, "47.96.33.20", "i-bp1web01e8k2vxzqj7hb", "443", 1, "public address of i-bp1web02f9l3wyarkq8c"},
		{account, "198.51.100.7", "i-bp1web01e8k2vxzqj7hb", "443", 0, ""},
	} {
		args := []string{"verify", "--scenario", "../../testdata/scenarios/" + tt.src + ".yaml"}
		if tt.src == account {
			args = []string{"verify", "--ecs-dir", account}
		}
		code, out, errs := palisade(append(args, "--from", tt.from, "--to", tt.to, "--port", tt.port)...)
		if code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("verify from %s to %s on %s: exit %d, stderr %q, want %d and %q\n%s", tt.from, tt.to, tt.src, code, errs, tt.code, tt.want, out)
		}
	}
}

// TestReachOutsideRangesColumns: each outside range of a link with the
// internet shows its ports under its own family's column, and is named as
// the link's source ("from") or destination ("to").
func TestReachOutsideRangesColumns(t *testing.T) {
	sc := t.TempDir() + "/v6.yaml"
	if err := os.WriteFile(sc, []byte(`name: dual stack
vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16, ipv6CidrBlock: "2001:db8:a::/56"}
securityGroups:
  - securityGroupId: sg-web
    vpcId: vpc-a
    permissions:
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 80/80, sourceCidrIp: 0.0.0.0/0}
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 443/443, ipv6SourceCidrIp: "::/0"}
      - {direction: egress, policy: Drop, priority: 100, ipProtocol: ALL, portRange: -1/-1, destCidrIp: 0.0.0.0/0}
      - {direction: egress, policy: Drop, priority: 100, ipProtocol: ALL, portRange: -1/-1, ipv6DestCidrIp: "::/0"}
      - {direction: egress, policy: Accept, ipProtocol: UDP, portRange: 53/53, ipv6DestCidrIp: "::/0"}
instances:
  - {instanceId: i-web, vpcId: vpc-a, privateIpAddress: 10.0.1.10, ipv6Address: "2001:db8:a::10", publicIpAddress: 47.96.0.10, securityGroupIds: [sg-web]}
flows: []
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		args  []string
		lines map[string]string // a range line's prefix → the column header its ports sit under
	}{
		{"from the internet", []string{"--from", "internet", "--to", "i-web"},
			map[string]string{"from 0.0.0.0-9.255.255.255": "IPv4", "from ::-2001:db8:9:": "IPv6"}},
		{"to the internet", []string{"--from", "i-web", "--to", "internet"},
			map[string]string{"to ::-2001:db8:9:": "IPv6"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := palisade(append([]string{"reach", "--scenario", sc}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			rows := strings.Split(out, "\n")
			for prefix, col := range tt.lines {
				at := strings.Index(rows[0], col)
				found := false
				for _, row := range rows[1:] {
					if !strings.HasPrefix(strings.TrimSpace(row), prefix) {
						continue
					}
					found = true
					if len(row) <= at || row[at] == ' ' || row[at-1] != ' ' {
						t.Errorf("%q: ports not under %s (column %d):\n%s", prefix, col, at, out)
					}
				}
				if !found {
					t.Errorf("no line %q:\n%s", prefix, out)
				}
			}
		})
	}
}
