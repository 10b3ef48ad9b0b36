package cli

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
)

const prodTest = "../../testdata/scenarios/14-prod-test-separation.yaml"

// auditFindings runs palisade audit --json and returns its findings as
// "CHECK resource" (and the exit code).
func auditFindings(t *testing.T, args ...string) (map[string]bool, int) {
	t.Helper()
	code, out, errs := palisade(append([]string{"audit", "--json"}, args...)...)
	var fs []audit.Finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("audit %v: exit %d, %v\n%s%s", args, code, err, out, errs)
	}
	got := map[string]bool{}
	for _, f := range fs {
		got[f.Check+" "+f.Resource] = true
	}
	return got, code
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuditProdTestSeparation: the scenario passes check, and the audit
// finds the shared group and the reachable production database (SGA-014),
// the group without an env tag (SGA-019), and, once configured, the basic
// groups of production (SGA-031).
func TestAuditProdTestSeparation(t *testing.T) {
	if out := ok(t, "check", prodTest); !strings.Contains(out, " 0 failed") {
		t.Fatalf("check: %s", out)
	}
	got, _ := auditFindings(t, "--scenario", prodTest)
	for _, w := range []string{"SGA-014 sg-monitoring", "SGA-014 i-db-prod", "SGA-019 sg-monitoring"} {
		if !got[w] {
			t.Errorf("audit lacks %s: %v", w, got)
		}
	}
	for _, not := range []string{"SGA-014 i-web-prod", "SGA-014 sg-web-test", "SGA-019 i-web-prod", "SGA-031 sg-web-prod", "SGA-021 sg-db-prod"} {
		if got[not] {
			t.Errorf("audit has %s", not)
		}
	}
	out := ok(t, "audit", "--scenario", prodTest)
	if !strings.Contains(out, "i-web-test (env=test) reaches it on TCP 5432") {
		t.Errorf("the SGA-014 finding does not say how test reaches production:\n%s", out)
	}

	cfg := writeFile(t, "audit.yaml", "enterpriseTags: {env: prod}\nrequiredTags: [owner]\nprodValues: [production]\nskip: [SGA-018]\n")
	got, _ = auditFindings(t, "--scenario", prodTest, "--config", cfg)
	for _, w := range []string{"SGA-031 sg-web-prod", "SGA-031 sg-db-prod", "SGA-031 sg-monitoring", "SGA-014 i-db-prod"} {
		if !got[w] {
			t.Errorf("configured audit lacks %s: %v", w, got)
		}
	}
	// env=prod is no longer production, so web-prod and web-test are two
	// non-production instances; owner is all that is required.
	for _, not := range []string{"SGA-031 sg-web-test", "SGA-014 sg-monitoring", "SGA-019 sg-monitoring", "SGA-018 sg-web-prod"} {
		if got[not] {
			t.Errorf("configured audit has %s", not)
		}
	}
	got, _ = auditFindings(t, "--scenario", prodTest, "--skip", "sga-014,SGA-019")
	for f := range got {
		if strings.HasPrefix(f, "SGA-014") || strings.HasPrefix(f, "SGA-019") {
			t.Errorf("skipped check reported: %s", f)
		}
	}
}

func TestAuditPortRangesAndNames(t *testing.T) {
	sc := writeFile(t, "ranges.yaml", `vpcs:
  - {vpcId: vpc-a, cidrBlock: 10.0.0.0/16}
securityGroups:
  - securityGroupId: sg-wide
    securityGroupName: Wide_Group
    vpcId: vpc-a
    permissions:
      - {direction: ingress, ipProtocol: TCP, portRange: 1/65535, sourceCidrIp: 10.0.0.0/16}
  - securityGroupId: sg-narrow
    securityGroupName: narrow-group
    vpcId: vpc-a
    permissions:
      - {direction: ingress, ipProtocol: TCP, portRange: 8080/8089, sourceCidrIp: 10.0.0.0/16}
instances:
  - {instanceId: i-a, instanceName: app-1, vpcId: vpc-a, privateIpAddress: 10.0.0.1, securityGroupIds: [sg-wide]}
  - {instanceId: i-b, instanceName: app-2, vpcId: vpc-a, privateIpAddress: 10.0.0.2, securityGroupIds: [sg-narrow]}
`)
	got, _ := auditFindings(t, "--scenario", sc)
	if !got["SGA-021 sg-wide"] || got["SGA-021 sg-narrow"] {
		t.Errorf("SGA-021 by default: %v", got)
	}
	cfg := writeFile(t, "audit.json", `{"maxPortRange": 5, "namePattern": "[a-z]+(-[a-z0-9]+)+", "requiredTags": []}`)
	got, _ = auditFindings(t, "--scenario", sc, "--config", cfg)
	if !got["SGA-021 sg-wide"] || !got["SGA-021 sg-narrow"] || !got["SGA-019 sg-wide"] || got["SGA-019 sg-narrow"] {
		t.Errorf("SGA-021 and SGA-019 configured: %v", got)
	}
}

// TestAuditInstanceWithoutGroup: an imported account can hold an instance
// in no group (the API refuses to make one); SGA-029 reports it.
func TestAuditInstanceWithoutGroup(t *testing.T) {
	src, dir := "../ingest/ecsimport/testdata/account", t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var emptied string
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Name(), "instances-") && emptied == "" {
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			first := doc["Instances"].(map[string]any)["Instance"].([]any)[0].(map[string]any)
			first["SecurityGroupIds"] = map[string]any{"SecurityGroupId": []any{}}
			emptied = first["InstanceId"].(string)
			data, _ = json.Marshal(doc)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := auditFindings(t, "--ecs-dir", dir)
	if !got["SGA-029 "+emptied] {
		t.Errorf("audit lacks SGA-029 for %s: %v", emptied, got)
	}
	if got, _ := auditFindings(t, "--ecs-dir", src); len(got) == 0 || hasPrefix(got, "SGA-029") {
		t.Errorf("the unedited account: %v", got)
	}
}

func hasPrefix(m map[string]bool, p string) bool {
	for k := range m {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func TestAuditConfigFlags(t *testing.T) {
	out := ok(t, "audit", "--help")
	for _, f := range []string{"--config FILE", "--skip IDS", "-config FILE", "-skip IDs"} {
		if !strings.Contains(out, f) {
			t.Errorf("audit --help lacks %q:\n%s", f, out)
		}
	}
	bad := writeFile(t, "bad.yaml", "maxRule: 3\n")
	if code, _, errs := palisade("audit", "--scenario", prodTest, "--config", bad); code != 2 || !strings.Contains(errs, "maxRule") {
		t.Errorf("an unknown field: exit %d, %s", code, errs)
	}
	if code, _, errs := palisade("audit", "--scenario", prodTest, "--skip", "SGA-099"); code != 2 || !strings.Contains(errs, "SGA-099") {
		t.Errorf("an unknown check: exit %d, %s", code, errs)
	}
	if out := ok(t, "audit", "--checks"); !strings.Contains(out, "SGA-014") || !strings.Contains(out, "SGA-031") {
		t.Errorf("--checks lacks the new checks:\n%s", out)
	}
}

// TestAuditConfigOverTheAPI: the configuration travels to PalisadeAudit
// in its Config parameter.
func TestAuditConfigOverTheAPI(t *testing.T) {
	startServer(t)
	vpc := id(t, "vpc", "vpc", "create", "--cidr", "10.0.0.0/16")
	sg := id(t, "sg", "sg", "create", "--name", "web", "--vpc", vpc, "--description", "web tier")
	if got, _ := auditFindings(t); !got["SGA-019 "+sg] {
		t.Fatalf("the untagged group lacks SGA-019: %v", got)
	}
	if got, _ := auditFindings(t, "--skip", "SGA-019"); got["SGA-019 "+sg] || !got["SGA-016 "+sg] {
		t.Errorf("--skip over the API: %v", got)
	}
	cfg := writeFile(t, "audit.yaml", "requiredTags: []\nnamePattern: 'web-[a-z]+'\n")
	if got, _ := auditFindings(t, "--config", cfg); !got["SGA-019 "+sg] {
		t.Errorf("the name convention over the API: %v", got)
	}
	cfg = writeFile(t, "audit.yaml", "requiredTags: []\n")
	if got, _ := auditFindings(t, "--config", cfg); got["SGA-019 "+sg] {
		t.Errorf("no tags required over the API: %v", got)
	}
	// The action refuses a configuration it cannot read, saying why.
	src := &source{}
	src.flags(flag.NewFlagSet("test", flag.ContinueOnError), true)
	var out struct{ Findings []audit.Finding }
	if err := src.call("PalisadeAudit", map[string]string{"Config": "maxRule: 3"}, &out); err == nil ||
		!strings.Contains(err.Error(), "InvalidParameter") || !strings.Contains(err.Error(), "maxRule") {
		t.Errorf("an unknown Config field: %v", err)
	}
}
