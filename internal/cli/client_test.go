package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// startServer runs a real Palisade server in-process and points the client
// environment at it.
func startServer(t *testing.T) {
	t.Helper()
	testenv.Start(t, testenv.Config{Log: testenv.Quiet()}).SetClientEnv(t)
}

// palisade runs the CLI and returns its exit code and output.
func palisade(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// ok runs the CLI and fails the test unless it exits 0.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := palisade(args...)
	if code != 0 {
		t.Fatalf("palisade %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// id runs a command that prints one new ID and checks its prefix.
func id(t *testing.T, prefix string, args ...string) string {
	t.Helper()
	out := strings.TrimSpace(ok(t, args...))
	if !strings.HasPrefix(out, prefix+"-") || strings.ContainsAny(out, " \n") {
		t.Fatalf("palisade %s: want one %s- ID, got %q", strings.Join(args, " "), prefix, out)
	}
	return out
}

// row finds the table row whose first column is key.
func row(out, key string) []string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == key {
			return f
		}
	}
	return nil
}

func TestClientEndToEnd(t *testing.T) {
	startServer(t)

	// Network.
	vpcID := id(t, "vpc", "vpc", "create", "--cidr", "10.0.0.0/16", "--name", "main")
	vsw := id(t, "vsw", "vpc", "vswitch-create", "--vpc", vpcID, "--zone", "cn-hangzhou-h", "--cidr", "10.0.1.0/24", "--name", "app")
	if r := row(ok(t, "vpc", "list"), vpcID); r == nil || r[1] != "main" || r[2] != "10.0.0.0/16" {
		t.Errorf("vpc list row = %q", r)
	}
	if r := row(ok(t, "vpc", "vswitch-list", "--vpc", vpcID), vsw); r == nil || r[4] != "10.0.1.0/24" {
		t.Errorf("vswitch-list row = %q", r)
	}

	// Groups: flags before or after positionals, both forms of flag.
	web := id(t, "sg", "sg", "create", "--name", "web", "--vpc", vpcID, "--description", "web tier")
	db := id(t, "sg", "sg", "create", "-name=db", "--vpc="+vpcID)
	list := ok(t, "sg", "list", "--vpc", vpcID)
	if row(list, web) == nil || row(list, db) == nil {
		t.Fatalf("sg list misses a group:\n%s", list)
	}
	if byName := ok(t, "sg", "list", "--name", "db"); row(byName, db) == nil || row(byName, web) != nil {
		t.Errorf("sg list --name db:\n%s", byName)
	}

	// Rules.
	ssh := id(t, "sgr", "sg", "authorize", web, "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8", "--description", "ssh")
	icmp := id(t, "sgr", "sg", "authorize", "--protocol", "icmp", "--cidr", "0.0.0.0/0", "--priority", "2", web)
	deny := id(t, "sgr", "sg", "authorize", web, "--direction", "egress", "--policy", "drop", "--priority", "5", "--protocol", "all", "--cidr", "0.0.0.0/0")
	mysql := id(t, "sgr", "sg", "authorize", db, "--protocol", "tcp", "--port", "3306/3306", "--group", web)
	// Authorizing the same tuple again prints the same rule.
	if again := strings.TrimSpace(ok(t, "sg", "authorize", web, "--protocol", "TCP", "--port", "22/22", "--cidr", "10.0.0.0/8")); again != ssh {
		t.Errorf("re-authorize printed %q, want %q", again, ssh)
	}

	show := ok(t, "sg", "show", web)
	for _, want := range []string{"ID", "DIR", "POLICY", "PRIO", "PROTO", "PORTS", "PEER", "DESCRIPTION", "web tier", vpcID} {
		if !strings.Contains(show, want) {
			t.Errorf("sg show lacks %q:\n%s", want, show)
		}
	}
	if r := row(show, ssh); !slices.Equal(r, []string{ssh, "ingress", "accept", "1", "tcp", "22/22", "10.0.0.0/8", "ssh"}) {
		t.Errorf("ssh row = %q\n%s", r, show)
	}
	if r := row(show, deny); !slices.Equal(r, []string{deny, "egress", "drop", "5", "all", "-1/-1", "0.0.0.0/0", "-"}) {
		t.Errorf("egress row = %q\n%s", r, show)
	}
	// Ordered by direction, then priority.
	if i, j, k := strings.Index(show, ssh), strings.Index(show, icmp), strings.Index(show, deny); !(i < j && j < k) {
		t.Errorf("rules out of order (ssh %d, icmp %d, egress %d):\n%s", i, j, k, show)
	}
	out := id(t, "sgr", "sg", "authorize", db, "--direction", "egress", "--protocol", "tcp", "--port", "80", "--group", web)
	dbShow := ok(t, "sg", "show", db)
	if r := row(dbShow, mysql); r == nil || r[6] != web {
		t.Errorf("group-peer row = %q", r)
	}
	if r := row(dbShow, out); r == nil || r[1] != "egress" || r[6] != web {
		t.Errorf("egress group-peer row = %q", r)
	}
	if got := strings.TrimSpace(ok(t, "sg", "revoke", db, "--direction", "egress", "--protocol", "tcp", "--port", "80/80", "--group", web)); got != out {
		t.Errorf("egress revoke printed %q, want %q", got, out)
	}

	var attr struct {
		SecurityGroupId string
		Permissions     struct {
			Permission []struct{ SecurityGroupRuleId, Direction string }
		}
	}
	if err := json.Unmarshal([]byte(ok(t, "sg", "show", web, "--json")), &attr); err != nil {
		t.Fatalf("sg show --json: %v", err)
	}
	if attr.SecurityGroupId != web || len(attr.Permissions.Permission) != 3 {
		t.Errorf("sg show --json = %+v", attr)
	}
	var groups struct {
		SecurityGroups struct {
			SecurityGroup []struct{ SecurityGroupId string }
		}
	}
	if err := json.Unmarshal([]byte(ok(t, "sg", "list", "--json")), &groups); err != nil || len(groups.SecurityGroups.SecurityGroup) != 2 {
		t.Errorf("sg list --json: %v %+v", err, groups)
	}

	// Instances.
	inst := id(t, "i", "instance", "create", "--vswitch", vsw, "--sg", web, "--ip", "10.0.1.10", "--name", "app1")
	if r := row(ok(t, "instance", "list", "--vpc", vpcID), inst); r == nil || r[1] != "app1" || r[5] != "10.0.1.10" || r[6] != web {
		t.Errorf("instance list row = %q", r)
	}
	if out := ok(t, "instance", "list", "--sg", db); row(out, inst) != nil {
		t.Errorf("instance in db before set-groups:\n%s", out)
	}
	ok(t, "instance", "set-groups", inst, web, db)
	if out := ok(t, "instance", "list", "--sg", db); row(out, inst) == nil {
		t.Errorf("instance not in db after set-groups:\n%s", out)
	}
	if out := ok(t, "instance", "show", inst); !strings.Contains(out, web+","+db) || !strings.Contains(out, "10.0.1.10") {
		t.Errorf("instance show:\n%s", out)
	}
	ok(t, "instance", "stop", inst)
	if out := ok(t, "instance", "show", inst); !strings.Contains(out, "Stopped") {
		t.Errorf("instance show after stop:\n%s", out)
	}
	ok(t, "instance", "start", inst)
	var one struct {
		Instances struct {
			Instance []struct{ InstanceId, Status string }
		}
	}
	if err := json.Unmarshal([]byte(ok(t, "instance", "show", "--json", inst)), &one); err != nil ||
		len(one.Instances.Instance) != 1 || one.Instances.Instance[0].InstanceId != inst || one.Instances.Instance[0].Status != "Running" {
		t.Errorf("instance show --json: %v %+v", err, one)
	}

	// Revoke by tuple, by ID, and an egress rule by ID.
	if out := strings.TrimSpace(ok(t, "sg", "revoke", web, "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8")); out != ssh {
		t.Errorf("revoke by tuple printed %q, want %q", out, ssh)
	}
	ok(t, "sg", "revoke", web, "--rule", icmp, "--rule", deny)
	if show := ok(t, "sg", "show", web); strings.Contains(show, "sgr-") {
		t.Errorf("rules left after revoke:\n%s", show)
	}
	ok(t, "sg", "revoke", "--rule="+mysql, db)
	if show := ok(t, "sg", "show", db); strings.Contains(show, mysql) {
		t.Errorf("rule left after revoke:\n%s", show)
	}

	// Tear down.
	ok(t, "instance", "delete", inst, "--force")
	ok(t, "sg", "delete", db)
	ok(t, "sg", "delete", web)
	ok(t, "vpc", "vswitch-delete", vsw)
	ok(t, "vpc", "delete", vpcID)
	if out := ok(t, "sg", "list"); strings.Contains(out, "sg-") {
		t.Errorf("groups left:\n%s", out)
	}
	if out := ok(t, "vpc", "list"); strings.Contains(out, vpcID) {
		t.Errorf("vpc left:\n%s", out)
	}
}

func TestClientIPv6(t *testing.T) {
	startServer(t)
	vpcID := id(t, "vpc", "vpc", "create", "--cidr", "192.168.0.0/16", "--ipv6")
	vsw := id(t, "vsw", "vpc", "vswitch-create", "--vpc", vpcID, "--zone", "cn-hangzhou-i", "--cidr", "192.168.1.0/24", "--ipv6-block", "1")
	sg := id(t, "sg", "sg", "create", "--vpc", vpcID, "--type", "enterprise")
	inst := id(t, "i", "instance", "create", "--vswitch", vsw, "--sg", sg, "--ipv6")
	if out := ok(t, "instance", "show", inst); !regexp.MustCompile(`IPv6:\s+[0-9a-f:]+:`).MatchString(out) {
		t.Errorf("instance show has no IPv6 address:\n%s", out)
	}
	r := id(t, "sgr", "sg", "authorize", sg, "--protocol", "tcp", "--port", "443", "--cidr", "::/0")
	if row := row(ok(t, "sg", "show", sg), r); row == nil || row[6] != "::/0" {
		t.Errorf("IPv6 rule row = %q", row)
	}
	if out := strings.TrimSpace(ok(t, "sg", "revoke", sg, "--protocol", "tcp", "--port", "443/443", "--cidr", "::/0")); out != r {
		t.Errorf("revoke printed %q, want %q", out, r)
	}
}

func TestClientErrors(t *testing.T) {
	startServer(t)
	sg := id(t, "sg", "sg", "create", "--name", "grp")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // substring
	}{
		{"unknown group", []string{"sg", "show", "sg-doesnotexist0000"}, 1, "InvalidSecurityGroupId.NotFound"},
		{"authorize unknown group", []string{"sg", "authorize", "sg-doesnotexist0000", "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8"}, 1, "InvalidSecurityGroupId.NotFound"},
		{"unknown peer group", []string{"sg", "authorize", sg, "--protocol", "tcp", "--port", "22", "--group", "sg-doesnotexist0000"}, 1, "InvalidSourceGroupId.NotFound"},
		{"bad port for the server", []string{"sg", "authorize", sg, "--protocol", "tcp", "--port", "0/99999", "--cidr", "10.0.0.0/8"}, 1, "Invalid"},
		{"unknown instance", []string{"instance", "show", "i-doesnotexist0000"}, 1, "InvalidInstanceId.NotFound"},
		{"delete unknown vpc", []string{"vpc", "delete", "vpc-doesnotexist0000"}, 1, "InvalidVpcId.NotFound"},
		{"revoke unknown rule", []string{"sg", "revoke", sg, "--rule", "sgr-doesnotexist0000"}, 1, "NotFound"},
		{"missing protocol", []string{"sg", "authorize", sg, "--cidr", "10.0.0.0/8"}, 2, "--protocol is required"},
		{"missing port", []string{"sg", "authorize", sg, "--protocol", "tcp", "--cidr", "10.0.0.0/8"}, 2, "--port is required"},
		{"missing peer", []string{"sg", "authorize", sg, "--protocol", "tcp", "--port", "22"}, 2, "exactly one peer"},
		{"two peers", []string{"sg", "authorize", sg, "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8", "--group", sg}, 2, "exactly one peer"},
		{"bad protocol", []string{"sg", "authorize", sg, "--protocol", "sctp", "--cidr", "10.0.0.0/8"}, 2, "--protocol must be"},
		{"bad direction", []string{"sg", "authorize", sg, "--direction", "up", "--protocol", "all", "--cidr", "10.0.0.0/8"}, 2, "--direction"},
		{"rule and tuple", []string{"sg", "revoke", sg, "--rule", "sgr-x", "--protocol", "tcp"}, 2, "not both"},
		{"missing group ID", []string{"sg", "show"}, 2, "want 1 argument"},
		{"extra argument", []string{"sg", "delete", sg, "sg-other"}, 2, "want 1 argument"},
		{"bad type", []string{"sg", "create", "--type", "fancy"}, 2, "--type"},
		{"missing vswitch", []string{"instance", "create", "--sg", sg}, 2, "--vswitch is required"},
		{"missing group", []string{"instance", "create", "--vswitch", "vsw-x"}, 2, "--sg is required"},
		{"set-groups without groups", []string{"instance", "set-groups", "i-x"}, 2, "want at least 2"},
		{"missing zone", []string{"vpc", "vswitch-create", "--vpc", "vpc-x", "--cidr", "10.0.0.0/24"}, 2, "--zone is required"},
		{"unknown flag", []string{"sg", "list", "--colour", "red"}, 2, "flag provided but not defined"},
		{"unknown subcommand", []string{"sg", "frobnicate"}, 2, "unknown command"},
		{"no subcommand", []string{"vpc"}, 2, "Usage"},
		{"bad endpoint", []string{"sg", "list", "--endpoint", "ftp://x"}, 2, "--endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := palisade(tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.stderr) {
				t.Errorf("palisade %s: exit %d, stderr %q; want exit %d and %q (stdout %q)",
					strings.Join(tt.args, " "), code, errs, tt.code, tt.stderr, out)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		t.Setenv("PALISADE_ACCESS_KEY_SECRET", "nope")
		if code, _, errs := palisade("sg", "list"); code != 1 || !strings.Contains(errs, "SignatureDoesNotMatch") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("fallback credentials", func(t *testing.T) {
		t.Setenv("PALISADE_ACCESS_KEY_ID", "")
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", testenv.KeyID)
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", testenv.Secret)
		if out := ok(t, "sg", "list"); row(out, sg) == nil {
			t.Errorf("sg list:\n%s", out)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Setenv("PALISADE_ACCESS_KEY_ID", "")
		code, _, errs := palisade("sg", "list")
		if code != 2 || !strings.Contains(errs, "PALISADE_ACCESS_KEY_ID") || !strings.Contains(errs, "ALIBABA_CLOUD_ACCESS_KEY_ID") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("explicit endpoint and region", func(t *testing.T) {
		ep := "http://" + os.Getenv("PALISADE_ENDPOINT")
		t.Setenv("PALISADE_ENDPOINT", "127.0.0.1:1")
		if out := ok(t, "sg", "list", "--endpoint", ep, "--region", "cn-hangzhou"); row(out, sg) == nil {
			t.Errorf("sg list:\n%s", out)
		}
		if code, _, errs := palisade("sg", "list", "--endpoint", ep, "--region", "cn-nowhere"); code != 1 || !strings.Contains(errs, "InvalidRegionId") {
			t.Errorf("bad region: exit %d, stderr %q", code, errs)
		}
	})
}

func TestClientHelp(t *testing.T) {
	for group, cmds := range clientGroups {
		for _, c := range cmds {
			code, out, errs := palisade(group, c.name, "--help")
			if code != 0 || !strings.Contains(out, "Usage: palisade "+group+" "+c.name) || !strings.Contains(out, "-endpoint") || errs != "" {
				t.Errorf("%s %s --help: exit %d\n%s%s", group, c.name, code, out, errs)
			}
		}
		if code, out, _ := palisade(group, "help"); code != 0 || !strings.Contains(out, "palisade "+group+" list") {
			t.Errorf("%s help: exit %d\n%s", group, code, out)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("port", "", "")
	fs.Bool("json", false, "")
	tests := []struct {
		args       []string
		flags, pos []string
		help       bool
	}{
		{[]string{"sg-1", "--port", "22"}, []string{"--port", "22"}, []string{"sg-1"}, false},
		{[]string{"--port", "-1/-1", "sg-1"}, []string{"--port", "-1/-1"}, []string{"sg-1"}, false},
		{[]string{"--json", "sg-1", "sg-2"}, []string{"--json"}, []string{"sg-1", "sg-2"}, false},
		{[]string{"-port=22", "a", "--", "--json"}, []string{"-port=22"}, []string{"a", "--json"}, false},
		{[]string{"a", "--help"}, nil, []string{"a"}, true},
		{[]string{"--nope", "a"}, []string{"--nope"}, []string{"a"}, false},
	}
	for _, tt := range tests {
		flags, pos, help := splitArgs(fs, tt.args)
		if !slices.Equal(flags, tt.flags) || !slices.Equal(pos, tt.pos) || help != tt.help {
			t.Errorf("splitArgs(%q) = %q, %q, %v; want %q, %q, %v", tt.args, flags, pos, help, tt.flags, tt.pos, tt.help)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in, scheme, host string
		err              bool
	}{
		{"127.0.0.1:8080", "http", "127.0.0.1:8080", false},
		{"http://127.0.0.1:8080/", "http", "127.0.0.1:8080", false},
		{"HTTPS://ecs.cn-hangzhou.aliyuncs.com", "https", "ecs.cn-hangzhou.aliyuncs.com", false},
		{"ftp://x", "", "", true},
		{"", "", "", true},
		{"host/path", "", "", true},
	}
	for _, tt := range tests {
		scheme, host, err := parseEndpoint(tt.in)
		if scheme != tt.scheme || host != tt.host || (err != nil) != tt.err {
			t.Errorf("parseEndpoint(%q) = %q, %q, %v", tt.in, scheme, host, err)
		}
	}
	for in, want := range map[string]string{
		"127.0.0.1:8080":                   "127.0.0.1:8080",
		"ecs.aliyuncs.com":                 "vpc.aliyuncs.com",
		"ecs.cn-hangzhou.aliyuncs.com":     "vpc.cn-hangzhou.aliyuncs.com",
		"ecs-cn-hangzhou.aliyuncs.com:443": "vpc.cn-hangzhou.aliyuncs.com:443",
		"ecs.example.com":                  "ecs.example.com",
	} {
		if got := vpcDomain(in); got != want {
			t.Errorf("vpcDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormPort(t *testing.T) {
	for in, want := range map[string]string{"22": "22/22", "22/22": "22/22", "8000-8080": "8000/8080", "-1": "-1/-1", "-1/-1": "-1/-1", "x": "", "1/": ""} {
		if got, _ := normPort(in); got != want {
			t.Errorf("normPort(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFailRedactsSignedURLs: a transport error names the endpoint but not
// the signed query (key ID, nonce, signature).
func TestFailRedactsSignedURLs(t *testing.T) {
	err := errors.New(`Post "http://127.0.0.1:1/?AccessKeyId=LTAI1&Signature=abc%3D&SignatureNonce=n1": dial tcp 127.0.0.1:1: connect: connection refused`)
	var errb bytes.Buffer
	(&call{name: "sg", stderr: &errb}).fail(err)
	(&source{name: "reach", stderr: &errb}).fail(err)
	if got := errb.String(); strings.Contains(got, "Signature") || strings.Contains(got, "LTAI1") || !strings.Contains(got, "http://127.0.0.1:1/") || !strings.Contains(got, "connection refused") {
		t.Errorf("got %q; want the endpoint and the cause without the signed query", got)
	}
}

// TestPrivateIPListsSecondaries: the instance's private address column
// lists its primary ENI's secondary addresses after the primary, and not a
// secondary ENI's.
func TestPrivateIPListsSecondaries(t *testing.T) {
	var in ecs.Instance
	in.VpcAttributes.PrivateIpAddress.IpAddress = []string{"10.0.1.10"}
	in.NetworkInterfaces.NetworkInterface = []ecs.NetworkInterface{
		{Type: "Primary", PrivateIpSets: ecs.PrivateIpSetsInDescribeInstances{PrivateIpSet: []ecs.PrivateIpSet{
			{PrivateIpAddress: "10.0.1.10", Primary: true}, {PrivateIpAddress: "10.0.1.20"}}}},
		{Type: "Secondary", PrivateIpSets: ecs.PrivateIpSetsInDescribeInstances{PrivateIpSet: []ecs.PrivateIpSet{
			{PrivateIpAddress: "10.0.1.50", Primary: true}, {PrivateIpAddress: "10.0.1.51"}}}},
	}
	if got := privateIP(in); got != "10.0.1.10,10.0.1.20" {
		t.Errorf("privateIP = %q, want 10.0.1.10,10.0.1.20", got)
	}
}
