package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/cli/apply"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/ingest/ecsimport"
	"github.com/palisade-sg/palisade/internal/ingest/scenario"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// applyServer starts a fresh server and points the CLI at it.
func applyServer(t *testing.T) *testenv.Server {
	t.Helper()
	s := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	s.SetClientEnv(t)
	return s
}

// recordActions is a reverse proxy to addr that records the Action of
// every request; calls returns them.
func recordActions(t *testing.T, addr string) (endpoint string, calls func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	target, _ := url.Parse("http://" + addr)
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		seen = append(seen, cmpOr(r.URL.Query().Get("Action"), form.Get("Action")))
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			t.Error("the proxy saw no request")
		}
		return slices.Clone(seen)
	}
}

// writeFile writes a scenario into the test's directory.
func writeScenario(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// planOf runs "apply FILE --dry-run --json" and decodes the plan.
func planOf(t *testing.T, file string, flags ...string) *apply.Plan {
	t.Helper()
	out := ok(t, append([]string{"apply", file, "--dry-run", "--json"}, flags...)...)
	var p apply.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, out)
	}
	return &p
}

func actions(p *apply.Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Action+" "+s.Resource)
	}
	return out
}

// readBack reads the account with the official SDK (through ecsimport) and
// renames what carries a palisade:id marker to its file ID.
type readBack struct {
	groups map[string]*model.SecurityGroup // by file ID
	insts  map[string]*model.Instance
	enis   map[string]*model.NetworkInterface
	all    []*model.SecurityGroup
	toFile map[string]string
}

func read(t *testing.T, s *testenv.Server) *readBack {
	t.Helper()
	acct, err := ecsimport.FromECS(context.Background(), s.ECS(t), testenv.Region)
	if err != nil {
		t.Fatal(err)
	}
	rb := &readBack{groups: map[string]*model.SecurityGroup{}, insts: map[string]*model.Instance{}, toFile: map[string]string{}, all: acct.Groups}
	tag := func(tags []model.Tag) string {
		for _, x := range tags {
			if x.Key == apply.Marker {
				return x.Value
			}
		}
		return ""
	}
	for _, g := range acct.Groups {
		if id := tag(g.Tags); id != "" {
			rb.groups[id], rb.toFile[g.ID] = g, id
		}
	}
	for _, in := range acct.Instances {
		if id := tag(in.Tags); id != "" {
			rb.insts[id], rb.toFile[in.ID] = in, id
		}
	}
	rb.enis = map[string]*model.NetworkInterface{}
	for _, n := range acct.ENIs {
		if id := tag(n.Tags); id != "" {
			rb.enis[id], rb.toFile[n.ID] = n, id
		}
	}
	for _, pl := range acct.PrefixLists {
		if id, ok := strings.CutPrefix(pl.Description, apply.Marker+"="); ok {
			rb.toFile[pl.ID] = id
		}
	}
	r := vpc.CreateDescribeVpcsRequest()
	r.RegionId = testenv.Region
	vs, err := s.VPC(t).DescribeVpcs(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Vpcs.Vpc {
		if id, ok := strings.CutPrefix(v.Description, apply.Marker+"="); ok {
			rb.toFile[v.VpcId] = id
		}
	}
	return rb
}

// ruleLine is a rule in file terms, written independently of apply's own
// matching.
func (rb *readBack) ruleLine(r model.Rule) string {
	peer := r.Peer.CIDR.String()
	if r.Peer.GroupID != "" {
		peer = "sg:" + cmpOr(rb.toFile[r.Peer.GroupID], r.Peer.GroupID)
	} else if r.Peer.PrefixListID != "" {
		peer = "pl:" + cmpOr(rb.toFile[r.Peer.PrefixListID], r.Peer.PrefixListID)
	}
	return fmt.Sprintf("%s %s prio=%d %s %s src=%s peer=%s local=%v desc=%q", r.Direction, r.Policy, r.Priority, r.Protocol,
		r.PortRange, r.SourcePortRange, peer, r.Local, r.Description)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// matches checks every group, rule and instance membership of the file
// against the account.
func (rb *readBack) matches(t *testing.T, sc *scenario.Scenario) {
	t.Helper()
	for _, n := range sc.ENIs {
		cur := rb.enis[n.ID]
		if cur == nil {
			t.Errorf("%s: network interface %s not in the account", sc.File, n.ID)
			continue
		}
		var groups []string
		for _, g := range cur.SecurityGroups {
			groups = append(groups, rb.toFile[g])
		}
		if !slices.Equal(groups, n.SecurityGroups) || cur.PrivateIP != n.PrivateIP || cur.IPv6 != n.IPv6 || rb.toFile[cur.InstanceID] != n.InstanceID {
			t.Errorf("%s: network interface %s is in %v at %s %v on %s; the file says %v at %s %v on %s", sc.File, n.ID,
				groups, cur.PrivateIP, cur.IPv6, rb.toFile[cur.InstanceID], n.SecurityGroups, n.PrivateIP, n.IPv6, n.InstanceID)
		}
	}
	for _, g := range sc.Groups {
		cur := rb.groups[g.ID]
		if cur == nil {
			t.Errorf("%s: group %s not in the account", sc.File, g.ID)
			continue
		}
		if cur.Type != g.Type || cur.InnerAccessPolicy != g.InnerAccessPolicy || rb.toFile[cur.VpcID] != g.VpcID {
			t.Errorf("%s: group %s is %s/%s in %s, the file says %s/%s in %s", sc.File, g.ID, cur.Type, cur.InnerAccessPolicy,
				rb.toFile[cur.VpcID], g.Type, g.InnerAccessPolicy, g.VpcID)
		}
		if g.Description != "" && cur.Description != g.Description || g.Name != "" && cur.Name != g.Name {
			t.Errorf("%s: group %s is named %q (%q), the file says %q (%q)", sc.File, g.ID, cur.Name, cur.Description, g.Name, g.Description)
		}
		var have, want []string
		for _, r := range cur.Rules {
			have = append(have, rb.ruleLine(r))
		}
		for _, r := range g.Rules {
			want = append(want, rb.ruleLine(r))
		}
		slices.Sort(have)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("%s: group %s rules:\n have %s\n want %s", sc.File, g.ID, strings.Join(have, "\n      "), strings.Join(want, "\n      "))
		}
	}
	for _, in := range sc.Instances {
		cur := rb.insts[in.ID]
		if cur == nil {
			t.Errorf("%s: instance %s not in the account", sc.File, in.ID)
			continue
		}
		var groups []string
		for _, g := range cur.SecurityGroups {
			groups = append(groups, rb.toFile[g])
		}
		if !slices.Equal(groups, in.SecurityGroups) || cur.PrivateIP != in.PrivateIP || rb.toFile[cur.VpcID] != in.VpcID ||
			cur.PublicIP.IsValid() != in.PublicIP.IsValid() {
			t.Errorf("%s: instance %s is in %v at %s (public %v) in %s; the file says %v at %s (public %v) in %s", sc.File, in.ID,
				groups, cur.PrivateIP, cur.PublicIP, rb.toFile[cur.VpcID], in.SecurityGroups, in.PrivateIP, in.PublicIP, in.VpcID)
		}
	}
}

func TestApplyScenarios(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/scenarios/*.yaml")
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s := applyServer(t)
			sc, err := scenario.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			out := ok(t, "apply", f, "--yes")
			if !strings.Contains(out, "Applied") {
				t.Errorf("no Applied line:\n%s", out)
			}
			read(t, s).matches(t, sc)
			// A second apply finds nothing to do and makes no call.
			if p := planOf(t, f); !p.Empty() {
				t.Errorf("second plan is not empty: %v", actions(p))
			}
			proxy, calls := recordActions(t, s.Addr)
			out = ok(t, "apply", f, "--yes", "--endpoint", proxy)
			if !strings.Contains(out, "no changes") || strings.Contains(out, "Applied") {
				t.Errorf("second apply:\n%s", out)
			}
			seen := calls()
			for _, a := range seen {
				if !strings.HasPrefix(a, "Describe") {
					t.Errorf("second apply called %s", a)
				}
			}
			if !slices.Contains(seen, "DescribeSecurityGroups") || !slices.Contains(seen, "DescribeVpcs") {
				t.Errorf("the proxy did not see the reads: %v", seen)
			}
		})
	}
}

const editBase = `
vpcs:
  - {vpcId: vpc-e, cidrBlock: 192.168.0.0/16}
prefixLists:
  - {prefixListId: pl-office, entries: [203.0.113.0/28]}
securityGroups:
  - securityGroupId: sg-front
    vpcId: vpc-e
    description: the front
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 443/443, sourceCidrIp: 0.0.0.0/0}
      - {direction: ingress, policy: Accept, priority: 5, ipProtocol: TCP, portRange: 80/80, sourceCidrIp: 0.0.0.0/0}
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 22/22, sourcePrefixListId: pl-office}
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 8443/8443, ipv6SourceCidrIp: "2001:db8::/32"}
      - {direction: egress, policy: Drop, priority: 1, ipProtocol: TCP, portRange: 25/25, destCidrIp: 0.0.0.0/0}
      - {direction: ingress, policy: Accept, priority: 2, ipProtocol: TCP, portRange: 9000/9000, sourceCidrIp: 10.1.0.0/16, destCidrIp: 192.168.1.0/24}
  - securityGroupId: sg-back
    vpcId: vpc-e
    permissions:
      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 8080/8080, sourceGroupId: sg-front}
      - {direction: egress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 5432/5432, destGroupId: sg-front}
  - securityGroupId: sg-ent
    vpcId: vpc-e
    securityGroupType: enterprise
    permissions:
      - {direction: egress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 5432/5432, destCidrIp: 192.168.9.0/24}
  - securityGroupId: sg-extra
    vpcId: vpc-e
    innerAccessPolicy: Drop
instances:
  - {instanceId: i-front, vpcId: vpc-e, privateIpAddress: 192.168.1.10, publicIpAddress: 192.0.2.1, securityGroupIds: [sg-front, sg-extra]}
  - {instanceId: i-back, vpcId: vpc-e, privateIpAddress: 192.168.2.10, securityGroupIds: [sg-back]}
  - {instanceId: i-ent, vpcId: vpc-e, privateIpAddress: 192.168.2.11, securityGroupIds: [sg-ent]}
`

func TestApplyEditsChangeExactlyThoseRules(t *testing.T) {
	s := applyServer(t)
	f := writeScenario(t, editBase)
	ok(t, "apply", f, "--yes")
	before := read(t, s)
	sc, _ := scenario.Load(f)
	before.matches(t, sc)
	ids := map[string]string{} // rule line → rule ID
	for _, r := range before.groups["sg-front"].Rules {
		ids[before.ruleLine(r)] = r.ID
	}

	// Remove the 443 rule, add a 8080 rule, move port 80 to priority 7.
	edited := strings.Replace(editBase, "      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 443/443, sourceCidrIp: 0.0.0.0/0}\n", "", 1)
	edited = strings.Replace(edited, "priority: 5, ipProtocol: TCP, portRange: 80/80", "priority: 7, ipProtocol: TCP, portRange: 80/80", 1)
	edited = strings.Replace(edited, "    description: the front\n    permissions:\n",
		"    description: the front\n    permissions:\n      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 8080/8080, sourceCidrIp: 10.0.0.0/8}\n", 1)
	os.WriteFile(f, []byte(edited), 0o644)
	p := planOf(t, f)
	want := []string{"RevokeSecurityGroup sg-front", "ModifySecurityGroupRule sg-front", "AuthorizeSecurityGroup sg-front"}
	if got := actions(p); !slices.Equal(got, want) {
		t.Fatalf("plan after the edit: %v, want %v", got, want)
	}
	if got := p.Steps[1].Params["Priority"]; got != "7" {
		t.Errorf("modify sets Priority=%q, want 7", got)
	}
	ok(t, "apply", f, "--yes")
	after := read(t, s)
	sc, _ = scenario.Load(f)
	after.matches(t, sc)
	// The rules the edit did not touch keep their IDs; the moved one too.
	for _, r := range after.groups["sg-front"].Rules {
		line := after.ruleLine(r)
		if strings.Contains(line, "80/80") && !strings.Contains(line, "8080") {
			if !slices.Contains(slices.Collect(mapsValues(ids)), r.ID) {
				t.Errorf("the priority change replaced rule %s instead of modifying it", r.ID)
			}
			continue
		}
		if strings.Contains(line, "8080") {
			continue
		}
		if ids[line] != r.ID {
			t.Errorf("untouched rule %s changed ID: %s → %s", line, ids[line], r.ID)
		}
	}
	if p := planOf(t, f); !p.Empty() {
		t.Errorf("plan after applying the edit is not empty: %v", actions(p))
	}
}

func mapsValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestApplyMembershipAndAttributes(t *testing.T) {
	s := applyServer(t)
	f := writeScenario(t, editBase)
	ok(t, "apply", f, "--yes")
	edited := strings.Replace(editBase, "securityGroupIds: [sg-front, sg-extra]", "securityGroupIds: [sg-front]", 1)
	edited = strings.Replace(edited, "description: the front", "description: the new front", 1)
	edited = strings.Replace(edited, "innerAccessPolicy: Drop", "innerAccessPolicy: Accept", 1)
	os.WriteFile(f, []byte(edited), 0o644)
	p := planOf(t, f)
	want := []string{"ModifySecurityGroupAttribute sg-front", "ModifySecurityGroupPolicy sg-extra", "ModifyInstanceAttribute i-front"}
	if got := actions(p); !slices.Equal(got, want) {
		t.Fatalf("plan: %v, want %v", got, want)
	}
	ok(t, "apply", f, "--yes")
	sc, _ := scenario.Load(f)
	read(t, s).matches(t, sc)
}

func TestApplyPrune(t *testing.T) {
	s := applyServer(t)
	// A group apply did not make: never touched, even with --prune.
	r := ecs.CreateCreateSecurityGroupRequest()
	r.RegionId, r.SecurityGroupName = testenv.Region, "hand-made"
	mine, err := s.ECS(t).CreateSecurityGroup(r)
	if err != nil {
		t.Fatal(err)
	}
	f := writeScenario(t, editBase)
	ok(t, "apply", f, "--yes")
	dropped := strings.Replace(editBase, "  - securityGroupId: sg-extra\n    vpcId: vpc-e\n    innerAccessPolicy: Drop\n", "", 1)
	dropped = strings.Replace(dropped, "[sg-front, sg-extra]", "[sg-front]", 1)
	os.WriteFile(f, []byte(dropped), 0o644)

	code, out, errs := palisade("apply", f, "--yes")
	if code != 0 || !strings.Contains(errs, "--prune") {
		t.Fatalf("apply without --prune: exit %d\n%s\n%s", code, out, errs)
	}
	if read(t, s).groups["sg-extra"] == nil {
		t.Fatal("sg-extra was removed without --prune")
	}
	p := planOf(t, f, "--prune")
	if got := actions(p); !slices.Equal(got, []string{"DeleteSecurityGroup sg-extra"}) {
		t.Fatalf("prune plan: %v", got)
	}
	ok(t, "apply", f, "--yes", "--prune")
	rb := read(t, s)
	if rb.groups["sg-extra"] != nil {
		t.Error("sg-extra is still there after --prune")
	}
	if !slices.ContainsFunc(rb.all, func(g *model.SecurityGroup) bool { return g.ID == mine.SecurityGroupId }) {
		t.Error("--prune removed a group apply did not make")
	}
	// An empty file with --prune removes everything apply made, and only that.
	empty := writeScenario(t, "name: nothing\n")
	ok(t, "apply", empty, "--yes", "--prune")
	rb = read(t, s)
	if len(rb.all) != 1 || rb.all[0].ID != mine.SecurityGroupId || len(rb.insts) != 0 {
		t.Errorf("after pruning to an empty file: groups %v, instances %v", rb.all, rb.insts)
	}
}

func TestApplyInvalidFileExits2WithoutCalls(t *testing.T) {
	s := applyServer(t)
	for _, tc := range []struct{ name, text, want string }{
		{"bad field", "securityGroups:\n  - {securityGroupId: sg-a, colour: red}\n", "unknown field"},
		{"bad rule", "securityGroups:\n  - securityGroupId: sg-a\n    permissions:\n      - {direction: ingress, ipProtocol: TCP, portRange: 99999/1, sourceCidrIp: 0.0.0.0/0}\n", "portRange"},
		{"another account", "securityGroups:\n  - {securityGroupId: sg-a, ownerId: \"1000000000000009\"}\n", "caller's account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := palisade("apply", writeScenario(t, tc.text), "--yes")
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q\n%s", code, errs, tc.want, out)
			}
		})
	}
	if code, _, errs := palisade("apply", "--yes"); code != 2 || !strings.Contains(errs, "want one scenario FILE") {
		t.Errorf("no file: exit %d %s", code, errs)
	}
	if rb := read(t, s); len(rb.all) != 0 {
		t.Errorf("an invalid file made groups: %v", rb.all)
	}
}

func TestApplyAPIErrorExits1WithTheCode(t *testing.T) {
	s := applyServer(t)
	// A prefix list marked as the file's, with room for one entry: the
	// file's three entries are over its quota, which only the API knows.
	r := ecs.CreateCreatePrefixListRequest()
	r.RegionId, r.PrefixListName, r.AddressFamily, r.MaxEntries = testenv.Region, "office", "IPv4", requests.NewInteger(1)
	r.Description = apply.Marker + "=pl-office"
	r.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "203.0.113.0/28"}}
	if _, err := s.ECS(t).CreatePrefixList(r); err != nil {
		t.Fatal(err)
	}
	f := writeScenario(t, `
vpcs:
  - {vpcId: vpc-q, cidrBlock: 192.168.0.0/16}
prefixLists:
  - {prefixListId: pl-office, maxEntries: 3, entries: [203.0.113.0/28, 198.51.100.0/28, 192.0.2.0/28]}
securityGroups:
  - {securityGroupId: sg-q, vpcId: vpc-q}
`)
	code, out, errs := palisade("apply", f, "--yes")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "ModifyPrefixList pl-office: ") || !strings.Contains(errs, "1 of 3 changes were applied") {
		t.Errorf("stderr does not give the failing call, its code and what was applied:\n%s", errs)
	}
	if !strings.Contains(out, "done CreateVpc vpc-q") || strings.Contains(out, "CreateSecurityGroup sg-q →") {
		t.Errorf("apply did not stop at the first error:\n%s", out)
	}
	t.Logf("stderr: %s", errs)
}

func TestApplyPlanShowsSSHFromInternet(t *testing.T) {
	applyServer(t)
	f := writeScenario(t, editBase)
	ok(t, "apply", f, "--yes")
	ssh := strings.Replace(editBase, "    description: the front\n    permissions:\n",
		"    description: the front\n    permissions:\n      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 0.0.0.0/0}\n", 1)
	os.WriteFile(f, []byte(ssh), 0o644)
	p := planOf(t, f)
	if got := actions(p); !slices.Equal(got, []string{"AuthorizeSecurityGroup sg-front"}) {
		t.Fatalf("plan: %v", got)
	}
	found := false
	for _, c := range p.Changes {
		if c.From == "internet" && c.To == "i-front" && c.IPVersion == 4 {
			found = found || strings.Contains(c.Opened.String(), "TCP 22")
		}
		if c.To != "i-front" || !c.Closed.Empty() {
			t.Errorf("unexpected change %s", c)
		}
	}
	if !found {
		t.Errorf("no internet -> i-front TCP 22 among the changes: %v", p.Changes)
	}
	out := ok(t, "apply", f, "--dry-run")
	if !strings.Contains(out, "internet -> i-front IPv4") || !strings.Contains(out, "opens TCP 22") {
		t.Errorf("text plan lacks the SSH flow:\n%s", out)
	}
}

func TestApplyAsks(t *testing.T) {
	s := applyServer(t)
	f := writeScenario(t, "securityGroups:\n  - {securityGroupId: sg-a}\n")
	// No terminal, no --yes: refused before any call.
	code, _, errs := palisade("apply", f)
	if code != 2 || !strings.Contains(errs, "--yes") {
		t.Fatalf("without a terminal: exit %d %s", code, errs)
	}
	defer func(r any, term func() bool) {
		applyStdin, applyIsTerminal = r.(interface{ Read([]byte) (int, error) }), term
	}(applyStdin, applyIsTerminal)
	applyIsTerminal = func() bool { return true }
	applyStdin = strings.NewReader("n\n")
	if code, out, _ := palisade("apply", f); code != 1 || !strings.Contains(out, "Apply these 1 changes? [y/N]") || !strings.Contains(out, "Nothing applied") {
		t.Errorf("answer no: exit %d\n%s", code, out)
	}
	if rb := read(t, s); len(rb.all) != 0 {
		t.Fatalf("groups made without a yes: %v", rb.all)
	}
	applyStdin = strings.NewReader("y\n")
	if code, out, errs := palisade("apply", f); code != 0 || !strings.Contains(out, "Applied 1 changes") {
		t.Errorf("answer yes: exit %d\n%s\n%s", code, out, errs)
	}
	if rb := read(t, s); rb.groups["sg-a"] == nil {
		t.Error("sg-a not made after yes")
	}
}

func TestApplyClassicAndIPv6(t *testing.T) {
	s := applyServer(t)
	f := writeScenario(t, `
vpcs:
  - {vpcId: vpc-6, cidrBlock: 192.168.0.0/16, ipv6CidrBlock: "2408:4000:0:100::/56"}
securityGroups:
  - securityGroupId: sg-classic
    permissions:
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 80/80, sourceCidrIp: 0.0.0.0/0, nicType: internet}
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 22/22, sourceCidrIp: 10.0.0.0/8, nicType: intranet}
  - securityGroupId: sg-six
    vpcId: vpc-6
    permissions:
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 443/443, ipv6SourceCidrIp: "::/0"}
      - {direction: egress, policy: Drop, ipProtocol: ALL, portRange: -1/-1, ipv6DestCidrIp: "2001:db8::/32"}
instances:
  - {instanceId: i-classic, privateIpAddress: 10.1.2.3, publicIpAddress: 198.18.0.1, securityGroupIds: [sg-classic]}
  - {instanceId: i-six, vpcId: vpc-6, privateIpAddress: 192.168.5.5, ipv6Address: "2408:4000:0:105::5", securityGroupIds: [sg-six]}
`)
	p := planOf(t, f)
	for _, c := range p.Changes {
		if c.From == "internet" && (c.First.String() == "10.1.2.3" || c.First.String() == "2408:4000:0:105::5") {
			t.Errorf("an instance's own address counts as the internet: %s", c)
		}
	}
	ok(t, "apply", f, "--yes")
	sc, _ := scenario.Load(f)
	rb := read(t, s)
	rb.matches(t, sc)
	if got := rb.insts["i-six"].IPv6.String(); got != "2408:4000:0:105::5" {
		t.Errorf("i-six IPv6 %s", got)
	}
	if p := planOf(t, f); !p.Empty() {
		t.Errorf("second plan: %v", actions(p))
	}
}

func TestApplyConflicts(t *testing.T) {
	s := applyServer(t)
	// A VPC marked as the file's vpc-a, with another block: the API cannot
	// change a VPC's block, so apply refuses before any call.
	r := vpc.CreateCreateVpcRequest()
	r.RegionId, r.CidrBlock, r.Description = testenv.Region, "10.0.0.0/16", apply.Marker+"=vpc-a"
	if _, err := s.VPC(t).CreateVpc(r); err != nil {
		t.Fatal(err)
	}
	f := writeScenario(t, "vpcs:\n  - {vpcId: vpc-a, cidrBlock: 192.168.0.0/16}\nsecurityGroups:\n  - {securityGroupId: sg-a, vpcId: vpc-a}\n")
	code, out, errs := palisade("apply", f, "--yes")
	if code != 1 || !strings.Contains(errs, "vpc-a") || !strings.Contains(errs, "cannot change it in place") {
		t.Errorf("conflict: exit %d\n%s\n%s", code, out, errs)
	}
	if rb := read(t, s); len(rb.all) != 0 {
		t.Errorf("a conflicting plan made groups: %v", rb.all)
	}
	// A second VPC with the same marker: which one the file means is unclear.
	r.CidrBlock = "192.168.0.0/16"
	if _, err := s.VPC(t).CreateVpc(r); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := palisade("apply", f, "--yes"); code != 1 || !strings.Contains(errs, "two VPCs marked palisade:id=vpc-a") {
		t.Errorf("duplicate markers: exit %d %s", code, errs)
	}
}

func TestApplyRuleOverQuotaExits1(t *testing.T) {
	s := applyServer(t)
	// The account's list pl-big (marked as the file's) has room for 150
	// entries, and a rule naming a list counts as its MaxEntries: the
	// file, which says 1, passes its own checks, but the second rule puts
	// the group over 200 rules, which only the API sees.
	r := ecs.CreateCreatePrefixListRequest()
	r.RegionId, r.PrefixListName, r.AddressFamily, r.MaxEntries = testenv.Region, "big", "IPv4", requests.NewInteger(150)
	r.Description = apply.Marker + "=pl-big"
	r.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "203.0.113.0/28"}}
	if _, err := s.ECS(t).CreatePrefixList(r); err != nil {
		t.Fatal(err)
	}
	f := writeScenario(t, `
vpcs:
  - {vpcId: vpc-q, cidrBlock: 192.168.0.0/16}
prefixLists:
  - {prefixListId: pl-big, maxEntries: 1, entries: [203.0.113.0/28]}
securityGroups:
  - securityGroupId: sg-q
    vpcId: vpc-q
    permissions:
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 22/22, sourcePrefixListId: pl-big}
      - {direction: ingress, policy: Accept, ipProtocol: TCP, portRange: 80/80, sourcePrefixListId: pl-big}
`)
	code, out, errs := palisade("apply", f, "--yes")
	if code != 1 || !strings.Contains(errs, "AuthorizeSecurityGroup sg-q: AuthorizationLimitExceed") || !strings.Contains(errs, "3 of 4 changes were applied") {
		t.Errorf("exit %d\n%s\n%s", code, out, errs)
	}
	rb := read(t, s)
	if g := rb.groups["sg-q"]; g == nil || len(g.Rules) != 1 {
		t.Errorf("want sg-q with the first rule only, got %+v", g)
	}
}

func TestApplyAndServeHelp(t *testing.T) {
	out := ok(t, "apply", "--help")
	for _, f := range []string{"-endpoint", "-region", "-yes", "-dry-run", "-prune", "-json", "-zone", "palisade:id", "Exit status"} {
		if !strings.Contains(out, f) {
			t.Errorf("apply --help lacks %s:\n%s", f, out)
		}
	}
	out = ok(t, "serve", "--help")
	for _, f := range []string{"-listen", "-db", "-tls-cert", "-tls-key", "-tls-self-signed", "SSL_CERT_FILE"} {
		if !strings.Contains(out, f) {
			t.Errorf("serve --help lacks %s:\n%s", f, out)
		}
	}
	if out := ok(t, "help"); !strings.Contains(out, "palisade apply FILE") || !strings.Contains(out, "--tls-self-signed") {
		t.Errorf("usage lacks apply or TLS:\n%s", out)
	}
}

// TestApplyRepeatedRule: a file rule repeated in its group is one rule,
// as the API keeps it, with the last description given; a description
// left out is not cleared (the API cannot): apply converges in each case.
// It authorized the repeat, or modified the description, on every run.
func TestApplyRepeatedRule(t *testing.T) {
	rule := "      - {direction: ingress, policy: Accept, priority: 1, ipProtocol: TCP, portRange: 443/443, sourceCidrIp: 0.0.0.0/0}\n"
	described := func(d string) string { return strings.Replace(rule, "}", ", description: "+d+"}", 1) }
	for _, tc := range []struct {
		name   string
		before string // the rule as a first apply left it ("": as editBase has it)
		rules  string // the file's rule lines next
	}{
		{"repeated", "", rule + described("again")},
		{"repeated, described first", "", described("first") + rule},
		{"two descriptions", "", described("first") + described("second")},
		{"the repeat's description there already", described("again"), rule + described("again")},
		{"description left out", described("old"), rule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			applyServer(t)
			f := writeScenario(t, editBase)
			if !strings.Contains(editBase, rule) {
				t.Fatal("the rule is not in the file")
			}
			if tc.before != "" {
				os.WriteFile(f, []byte(strings.Replace(editBase, rule, tc.before, 1)), 0o644)
				ok(t, "apply", f, "--yes")
			}
			os.WriteFile(f, []byte(strings.Replace(editBase, rule, tc.rules, 1)), 0o644)
			ok(t, "apply", f, "--yes")
			if p := planOf(t, f); !p.Empty() {
				t.Errorf("plan after the apply is not empty: %v", actions(p))
			}
		})
	}
}
