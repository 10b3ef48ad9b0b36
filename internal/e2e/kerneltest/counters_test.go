package kerneltest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/apiclient"
	"github.com/palisade-sg/palisade/internal/cli"
	"github.com/palisade-sg/palisade/internal/controlplane/ops"
	"github.com/palisade-sg/palisade/internal/controlplane/server"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/dataplane/agent"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/lab"
)

// TestRuleCounters sends traffic that one rule admits and shows, through the
// CLI, that the rule counted it and the rule no traffic needed stayed at zero.
func TestRuleCounters(t *testing.T) {
	needKernel(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const keyID, secret = "LTAIcounterstest0000", "counters-secret"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.Open(ctx, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "p.db"),
		AccessKeyID: keyID, AccessKeySecret: secret, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() { cancel(); <-served }()

	vpc := &model.VPC{ID: "vpc-cnt", CIDR: netip.MustParsePrefix("10.8.0.0/16")}
	rule := func(id string, port int32) model.Rule {
		return model.Rule{ID: id, Direction: model.Ingress, Policy: model.Accept, Priority: 1, Protocol: model.TCP,
			PortRange: model.PortRange{Start: port, End: port}, Peer: model.Peer{CIDR: netip.MustParsePrefix("10.8.0.0/16")}, NicType: model.Intranet}
	}
	res := ops.Resources{VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{
		{ID: "sg-cli", VpcID: vpc.ID, Type: model.Normal, InnerAccessPolicy: model.InnerDrop},
		{ID: "sg-srv", VpcID: vpc.ID, Type: model.Normal, InnerAccessPolicy: model.InnerDrop,
			Rules: []model.Rule{rule("sgr-used", 8080), rule("sgr-unused", 9090)}}},
		Instances: []*model.Instance{
			{ID: "i-cli", VpcID: vpc.ID, PrivateIP: netip.MustParseAddr("10.8.0.10"), SecurityGroups: []string{"sg-cli"}},
			{ID: "i-srv", VpcID: vpc.ID, PrivateIP: netip.MustParseAddr("10.8.0.20"), SecurityGroups: []string{"sg-srv"}}}}
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", res); err != nil {
		t.Fatal(err)
	}
	l, err := lab.Up(ctx, lab.Spec{Name: labName("n"), Hosts: []string{"h0"}, Instances: []lab.Instance{
		{ID: "i-cli", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.8.0.10"), Host: "h0"},
		{ID: "i-srv", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.8.0.20"), Host: "h0"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Down() })
	api, _ := apiclient.New(srv.Addr, keyID, secret, "cn-hangzhou")
	for _, in := range l.Spec.Instances {
		if err := api.Call(ctx, "PalisadeBindInstance", map[string]string{"InstanceId": in.ID, "HostName": "h0", "Interface": l.Interface(in.ID)}, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	go agent.Run(ctx, agent.Config{Server: srv.Addr, AccessKeyID: keyID, Secret: secret, Host: "h0", Netns: l.HostNetns("h0"),
		NFT: nft.Options{InterfacePrefix: lab.IfacePrefix, MergeRuns: true}, Log: quiet, ReportEvery: 100 * time.Millisecond})
	waitApplied(t, srv, "h0")

	// Five connections on 8080, each a new flow that sgr-used admits.
	for i := range 5 {
		r := lab.ProbeWith(ctx, l, []lab.ProbeSpec{{From: "i-cli", To: "i-srv", Proto: model.TCP, Port: 8080, SourcePort: uint16(41000 + i)}},
			lab.ProbeOptions{Timeout: lab.RecheckTimeout})[0]
		if !r.Delivered {
			t.Fatalf("connection %d to 8080 was not delivered: %s", i, r.Detail)
		}
	}
	t.Setenv("PALISADE_ENDPOINT", srv.Addr)
	t.Setenv("PALISADE_REGION", "cn-hangzhou")
	t.Setenv("PALISADE_ACCESS_KEY_ID", keyID)
	t.Setenv("PALISADE_ACCESS_KEY_SECRET", secret)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out, errb bytes.Buffer
		if code := cli.Main([]string{"sg", "counters", "sg-srv"}, &out, &errb); code != 0 {
			t.Fatalf("sg counters: exit %d: %s", code, errb.String())
		}
		used, unused := fields(out.String(), "sgr-used"), fields(out.String(), "sgr-unused")
		// One first packet per connection (a SYN retransmitted on a slow
		// machine counts again); later packets pass as established.
		if n, _ := strconv.Atoi(valueOr(used, 4)); n >= 5 && n <= 10 {
			if len(unused) != 6 || unused[4] != "0" {
				t.Fatalf("the unused rule counted traffic:\n%s", out.String())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sgr-used never counted the 5 connections (5 to 10 packets):\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
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
