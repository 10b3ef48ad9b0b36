package kerneltest

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestAgentPutsTheTableBack: another program on the host flushes the
// agent's work (`nft flush ruleset`, as restarting the nftables service
// does; `nft flush table`, which leaves the chains empty, and their names):
// within the agent's check a flow the policy denies is denied again, with
// no change through the API, and the flow the policy allows still passes.
func TestAgentPutsTheTableBack(t *testing.T) {
	testenv.NeedKernel(t)
	ctx := context.Background()
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	vpc := &model.VPC{ID: "vpc-tamper", CIDR: netip.MustParsePrefix("10.7.0.0/16")}
	res := api.Resources{VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{
		modeltest.Group("sg-cli", vpc.ID, "isolated"),
		modeltest.Group("sg-srv", vpc.ID, "isolated", modeltest.Rule("sgr-web", "in accept 1 TCP 8080/8080 10.7.0.0/16"))},
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
	cfg.CheckEvery = 200 * time.Millisecond
	l.RunAgent(t, cfg)
	l.WaitApplied(t, "h0")

	allowed := lab.ProbeSpec{From: "i-cli", To: "i-srv", Proto: model.TCP, Port: 8080}
	denied := lab.ProbeSpec{From: "i-cli", To: "i-srv", Proto: model.TCP, Port: 9090}
	delivered := func(p lab.ProbeSpec) bool {
		return lab.ProbeWith(ctx, l.Lab, []lab.ProbeSpec{p}, lab.ProbeOptions{Timeout: 300 * time.Millisecond})[0].Delivered
	}
	if delivered(denied) || !delivered(allowed) {
		t.Fatal("the policy is not in force before the test")
	}
	table := cfg.NFT.Table
	if table == "" {
		table = nft.DefaultTable
	}
	for _, cmd := range [][]string{{"flush", "ruleset"}, {"flush", "table", "inet", table}} {
		args := append([]string{"netns", "exec", l.HostNetns("h0"), "nft"}, cmd...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v\n%s", cmd, err, out)
		}
		// Back when the table lists the rule again (a probe that is not
		// delivered could also be one that timed out).
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			out, err := exec.Command("ip", "netns", "exec", l.HostNetns("h0"), "nft", "list", "table", "inet", table).CombinedOutput()
			return err == nil && strings.Contains(string(out), "sg-srv/sgr-web"), "after nft " + strings.Join(cmd, " ") + ", the table is not back"
		})
		if delivered(denied) {
			t.Errorf("after nft %v and the repair, the denied flow is delivered", cmd)
		}
		if !delivered(allowed) {
			t.Errorf("after nft %v and the repair, the allowed flow is not delivered", cmd)
		}
	}
}
