package kerneltest

import (
	"context"
	"log/slog"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestAgentPutsTheTableBack: another program on the host changes the
// agent's table, and the agent puts it back on the kernel's notification
// (its periodic check is an hour away): `nft flush ruleset`, as restarting
// the nftables service does; `nft flush table`, which leaves the chains
// empty, and their names; a rule replaced in place, which leaves the
// chain's name, count and handle; an element deleted from or added to the
// tuple set of the merged rules, or an interface taken out of its map. A
// flow the tampering lets through or stops is denied or delivered again as
// the policy says, with no change through the API; the table lists as it
// did. The agent's own applies (a change through the API) are not taken
// for another program's: one repair is logged per tampering.
func TestAgentPutsTheTableBack(t *testing.T) {
	testenv.NeedKernel(t)
	ctx := context.Background()
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	vpc := &model.VPC{ID: "vpc-tamper", CIDR: netip.MustParsePrefix("10.7.0.0/16")}
	// Two rules of one verdict: merged into one tuple set (MergeRuns).
	res := api.Resources{VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{
		modeltest.Group("sg-cli", vpc.ID, "isolated"),
		modeltest.Group("sg-srv", vpc.ID, "isolated",
			modeltest.Rule("sgr-web", "in accept 1 TCP 8080/8080 10.7.0.0/16"),
			modeltest.Rule("sgr-alt", "in accept 1 TCP 8081/8081 10.7.0.0/16"))},
		Instances: []*model.Instance{
			modeltest.Instance("i-cli", vpc.ID, "10.7.0.10", "sg-cli"),
			modeltest.Instance("i-srv", vpc.ID, "10.7.0.20", "sg-srv")}}
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", res); err != nil {
		t.Fatal(err)
	}
	l := testenv.StartLab(t, srv, lab.Spec{Name: testenv.LabName("t"), Hosts: []string{"h0"}, Instances: []lab.Instance{
		{ID: "i-cli", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.7.0.10"), Host: "h0"},
		{ID: "i-srv", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.7.0.20"), Host: "h0"}}})
	cfg := l.AgentConfig("h0")
	cfg.CheckEvery = time.Hour // only the kernel's notifications can bring the repairs in time
	var logs logbuf.Buffer
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	l.RunAgent(t, cfg)
	l.WaitApplied(t, "h0")

	table := cfg.NFT.Table
	if table == "" {
		table = nft.DefaultTable
	}
	netns := l.HostNetns("h0")
	nftCmd := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", netns, "nft"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	allowed := lab.ProbeSpec{From: "i-cli", To: "i-srv", Proto: model.TCP, Port: 8080}
	denied := lab.ProbeSpec{From: "i-cli", To: "i-srv", Proto: model.TCP, Port: 9090}
	delivered := func(p lab.ProbeSpec) bool {
		return lab.ProbeWith(ctx, l.Lab, []lab.ProbeSpec{p}, lab.ProbeOptions{Timeout: 300 * time.Millisecond})[0].Delivered
	}

	// The agent's own apply, which the kernel notifies like any other.
	if err := srv.API(t).Call(ctx, "ModifySecurityGroupPolicy", map[string]string{"SecurityGroupId": "sg-cli", "InnerAccessPolicy": model.InnerAccept}, nil, 0); err != nil {
		t.Fatal(err)
	}
	srv.WaitApplied(t, "h0")
	if delivered(denied) || !delivered(allowed) {
		t.Fatal("the policy is not in force before the test")
	}
	listing := nftCmd(t, "list", "table", "inet", table)
	want := canonical(listing)
	tuples := regexp.MustCompile(`(?m)^\s*set (r_\w+) \{`).FindStringSubmatch(listing)
	if tuples == nil {
		t.Fatalf("no tuple set in the table:\n%s", listing)
	}
	for _, tc := range []struct {
		name string
		cmd  func(t *testing.T) []string
	}{
		{"flush ruleset", fixed("flush", "ruleset")},
		{"flush table", fixed("flush", "table", "inet", table)},
		{"a rule replaced in place", func(t *testing.T) []string {
			chain, handle := ruleWith(t, nftCmd(t, "-a", "list", "table", "inet", table), "@"+tuples[1])
			return []string{"replace", "rule", "inet", table, chain, "handle", handle, "drop"}
		}},
		{"a tuple element deleted", fixed("delete", "element", "inet", table, tuples[1], "{ tcp . 8080 . 10.7.0.0/16 }")},
		{"a tuple element added", fixed("add", "element", "inet", table, tuples[1], "{ tcp . 9090 . 10.7.0.0/16 }")},
		{"an interface out of its map", func(*testing.T) []string {
			return []string{"delete", "element", "inet", table, "ingress", `{ "` + l.Interface("i-srv") + `" }`}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nftCmd(t, tc.cmd(t)...)
			// Back when the table lists as it did (a probe that is not
			// delivered could also be one that timed out).
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				out, err := exec.Command("ip", "netns", "exec", netns, "nft", "list", "table", "inet", table).CombinedOutput()
				return err == nil && canonical(string(out)) == want, "the table is not back:\n" + string(out)
			})
			if delivered(denied) {
				t.Errorf("after the repair, the denied flow is delivered")
			}
			if !delivered(allowed) {
				t.Errorf("after the repair, the allowed flow is not delivered")
			}
		})
	}
	if n := strings.Count(logs.String(), "another program changed the table"); n != 6 {
		t.Errorf("%d repairs logged, want one per tampering (6):\n%s", n, logs.String())
	}
}

// canonical is a listing with counter values left out and its words
// sorted: a repair may list a set's elements in another order.
func canonical(listing string) string {
	listing = regexp.MustCompile(`counter packets \d+ bytes \d+`).ReplaceAllString(listing, "counter")
	words := strings.FieldsFunc(listing, func(r rune) bool { return strings.ContainsRune(" \t\n,{}", r) })
	slices.Sort(words)
	return strings.Join(words, " ")
}

// ruleWith finds, in a listing with handles (nft -a), the first rule that
// contains what, and returns its chain and handle.
func ruleWith(t *testing.T, listing, what string) (chain, handle string) {
	t.Helper()
	h := regexp.MustCompile(`# handle (\d+)$`)
	for _, line := range strings.Split(listing, "\n") {
		line = strings.TrimSpace(line)
		if f := strings.Fields(line); len(f) > 1 && f[0] == "chain" {
			chain = f[1]
			continue
		}
		if m := h.FindStringSubmatch(line); m != nil && strings.Contains(line, what) {
			return chain, m[1]
		}
	}
	t.Fatalf("no rule with %s in:\n%s", what, listing)
	return "", ""
}

func fixed(args ...string) func(*testing.T) []string {
	return func(*testing.T) []string { return args }
}
