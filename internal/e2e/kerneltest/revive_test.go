package kerneltest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/dataplane/sessions"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestCutConnectionStaysCut: a TCP connection a change denies stays cut
// when the side whose ingress still accepts the other (the client, which
// admits its whole VPC) is the first to receive after the cut. The
// server's next segment is no new connection from the server to the
// client: with conntrack's loose pickup of connections in midstream, the
// kernel took it for one, the client's ingress accepted it, and the
// connection flowed again in both directions, its client's segments now
// replies that no rule judged.
func TestCutConnectionStaysCut(t *testing.T) {
	testenv.NeedKernel(t)
	ctx := context.Background()
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	vpc := &model.VPC{ID: "vpc-rev", CIDR: netip.MustParsePrefix("10.7.0.0/16")}
	res := api.Resources{VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{
		modeltest.Group("sg-cli", vpc.ID, "isolated",
			modeltest.Rule("sgr-vpc", "in accept 1 ALL -1/-1 10.7.0.0/16")),
		modeltest.Group("sg-srv", vpc.ID, "isolated",
			modeltest.Rule("sgr-tcp", "in accept 1 TCP 8080/8080 10.7.0.0/16"))},
		Instances: []*model.Instance{
			modeltest.Instance("i-cli", vpc.ID, "10.7.0.10", "sg-cli"),
			modeltest.Instance("i-srv", vpc.ID, "10.7.0.20", "sg-srv")}}
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", res); err != nil {
		t.Fatal(err)
	}
	l := testenv.StartLab(t, srv, lab.Spec{Name: testenv.LabName("r"), Hosts: []string{"h0"}, Instances: []lab.Instance{
		{ID: "i-cli", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.7.0.10"), Host: "h0"},
		{ID: "i-srv", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.7.0.20"), Host: "h0"}}})
	var cut atomic.Int64
	cfg := l.AgentConfig("h0")
	cfg.OnCut = func(r sessions.Result) { cut.Add(int64(r.Cut)) }
	l.RunAgent(t, cfg)
	l.WaitApplied(t, "h0")

	var ln net.Listener
	inNetns(t, l.InstanceNetns("i-srv"), func() (err error) { ln, err = net.Listen("tcp", "10.7.0.20:8080"); return err })
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	cli := dialIn(t, l.InstanceNetns("i-cli"), "tcp", "10.7.0.20:8080")
	var sc net.Conn
	select {
	case sc = <-accepted:
		t.Cleanup(func() { sc.Close() })
	case <-time.After(10 * time.Second):
		t.Fatal("the server accepted no connection")
	}
	if err := exchange(cli, sc, "hello", 10*time.Second); err != nil {
		t.Fatalf("before the change: %v", err)
	}

	rv := ecs.CreateRevokeSecurityGroupRequest()
	rv.SecurityGroupId, rv.SecurityGroupRuleId = "sg-srv", &[]string{"sgr-tcp"}
	if _, err := srv.ECS(t).RevokeSecurityGroup(rv); err != nil {
		t.Fatal(err)
	}
	l.WaitApplied(t, "h0")
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return cut.Load() == 1, fmt.Sprintf("the agent cut %d connections, want 1", cut.Load())
	})

	// The server speaks first; neither its segment nor the client's after
	// it may pass.
	if err := exchange(sc, cli, "push", time.Second); err == nil {
		t.Error("the server's segment reached the client after the connection was cut")
	}
	if err := exchange(cli, sc, "again", time.Second); err == nil {
		t.Error("the client's segment reached the server after the connection was cut: the connection flows again")
	}
}

// exchange writes msg on from and reads it on to.
func exchange(from, to net.Conn, msg string, timeout time.Duration) error {
	to.SetReadDeadline(time.Now().Add(timeout))
	if _, err := from.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := to.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != msg {
		return fmt.Errorf("read %q, sent %q", buf[:n], msg)
	}
	return nil
}
