package kerneltest

import (
	"bytes"
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/cli"
	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestRuleCounters sends traffic that one rule admits and shows, through the
// CLI, that the rule counted it and the rule no traffic needed stayed at zero.
func TestRuleCounters(t *testing.T) {
	testenv.NeedKernel(t)
	ctx := context.Background()
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})

	vpc := &model.VPC{ID: "vpc-cnt", CIDR: netip.MustParsePrefix("10.8.0.0/16")}
	res := api.Resources{VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{
		modeltest.Group("sg-cli", vpc.ID, "isolated"),
		modeltest.Group("sg-srv", vpc.ID, "isolated",
			modeltest.Rule("sgr-used", "in accept 1 TCP 8080/8080 10.8.0.0/16"),
			modeltest.Rule("sgr-unused", "in accept 1 TCP 9090/9090 10.8.0.0/16"))},
		Instances: []*model.Instance{
			modeltest.Instance("i-cli", vpc.ID, "10.8.0.10", "sg-cli"),
			modeltest.Instance("i-srv", vpc.ID, "10.8.0.20", "sg-srv")}}
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", res); err != nil {
		t.Fatal(err)
	}
	l := testenv.StartLab(t, srv, lab.Spec{Name: testenv.LabName("n"), Hosts: []string{"h0"}, Instances: []lab.Instance{
		{ID: "i-cli", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.8.0.10"), Host: "h0"},
		{ID: "i-srv", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.8.0.20"), Host: "h0"}}})
	cfg := l.AgentConfig("h0")
	cfg.ReportEvery = 100 * time.Millisecond
	l.RunAgent(t, cfg)
	l.WaitApplied(t, "h0")

	// Five connections on 8080, each a new flow that sgr-used admits.
	for i := range 5 {
		r := lab.ProbeWith(ctx, l.Lab, []lab.ProbeSpec{{From: "i-cli", To: "i-srv", Proto: model.TCP, Port: 8080, SourcePort: uint16(41000 + i)}},
			lab.ProbeOptions{Timeout: lab.RecheckTimeout})[0]
		if !r.Delivered {
			t.Fatalf("connection %d to 8080 was not delivered: %s", i, r.Detail)
		}
	}
	srv.SetClientEnv(t)
	// The agent reports counters every 100 ms: poll the CLI until it shows them.
	var table string
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		var out, errb bytes.Buffer
		if code := cli.Main([]string{"sg", "counters", "sg-srv"}, &out, &errb); code != 0 {
			t.Fatalf("sg counters: exit %d: %s", code, errb.String())
		}
		table = out.String()
		// One first packet per connection (a SYN retransmitted on a slow
		// machine counts again); later packets pass as established.
		n, _ := strconv.Atoi(valueOr(fields(table, "sgr-used"), 4))
		return n >= 5 && n <= 10, "sgr-used never counted the 5 connections (5 to 10 packets):\n" + table
	})
	if unused := fields(table, "sgr-unused"); len(unused) < 5 || unused[4] != "0" { // RULE DIR POLICY PRIO PACKETS …
		t.Fatalf("the unused rule counted traffic:\n%s", table)
	}
}

func valueOr(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

func fields(table, key string) []string {
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == key {
			return f
		}
	}
	return nil
}
