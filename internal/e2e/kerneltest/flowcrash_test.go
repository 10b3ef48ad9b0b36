package kerneltest

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/logbuf"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestFlowLogAgentKilled kills an agent (SIGKILL) in the middle of a
// capture window: the records it held are lost, and only those; the agent
// started after it says so, and a clean stop ships what it recorded since.
func TestFlowLogAgentKilled(t *testing.T) {
	testenv.NeedKernel(t)
	bin := testenv.BuildPalisade(t)
	ctx := context.Background()
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	vpc := &model.VPC{ID: "vpc-fk", CIDR: netip.MustParsePrefix("10.8.0.0/16")}
	a := modeltest.Instance("i-a", vpc.ID, "10.8.0.10", "sg-a")
	b := modeltest.Instance("i-b", vpc.ID, "10.8.0.20", "sg-b")
	if _, err := srv.Ops.Import(ctx, "cn-hangzhou", api.Resources{VPCs: []*model.VPC{vpc},
		Groups: []*model.SecurityGroup{modeltest.Group("sg-a", vpc.ID, "basic"),
			modeltest.Group("sg-b", vpc.ID, "basic", modeltest.Rule("sgr-b-1", "in accept 1 TCP 7000/7000 sg-a"))},
		Instances: []*model.Instance{a, b}}); err != nil {
		t.Fatal(err)
	}
	tenant, err := srv.Ops.CallerOf(ctx, srv.KeyID, "cn-hangzhou", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Ops.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: tenant, ResourceType: model.FlowLogVPC, ResourceID: vpc.ID, TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	l := testenv.StartLab(t, srv, lab.Spec{Name: testenv.LabName("fk"), Hosts: []string{"h0"}, Instances: []lab.Instance{
		{ID: "i-a", VPC: vpc.ID, PrivateIP: a.PrivateIP, Host: "h0"},
		{ID: "i-b", VPC: vpc.ID, PrivateIP: b.PrivateIP, Host: "h0"}}})
	state := filepath.Join(t.TempDir(), "h0.state")
	start := func() (*exec.Cmd, *logbuf.Buffer) {
		// A long window: what the agent records stays in its memory.
		cmd := exec.Command(bin, "agent", "--server", l.Server.Addr, "--host", "h0", "--netns", l.HostNetns("h0"),
			"--flow-window", "1h", "--flow-state", state)
		cmd.Env = append(os.Environ(), "PALISADE_ACCESS_KEY_ID="+l.Server.OperatorKeyID, "PALISADE_ACCESS_KEY_SECRET="+l.Server.OperatorSecret)
		out := &logbuf.Buffer{}
		cmd.Stderr = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, out
	}
	records := func() []service.FlowRecord {
		got, err := srv.Ops.DescribeFlowRecords(ctx, service.FlowRecordFilter{Caller: tenant, Page: service.Page{Tokens: true, Size: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		return got.Items
	}
	connect := func(port uint16) {
		c, err := lab.Dial(ctx, l.Lab, "i-a", netip.AddrPortFrom(b.PrivateIP, port))
		if err == nil {
			c.Close()
		}
	}
	ln, err := lab.Listen(l.Lab, "i-b", 7000)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	first, out := start()
	l.WaitApplied(t, "h0")
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := os.Stat(state)
		return err == nil && strings.Contains(out.String(), "flow log: recording"), "the agent did not start recording"
	})
	connect(7000)
	time.Sleep(300 * time.Millisecond)
	first.Process.Kill() // mid-window
	first.Wait()
	if n := len(records()); n != 0 {
		t.Fatalf("%d records shipped before the window ended", n)
	}

	second, out := start()
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		return strings.Contains(out.String(), "stopped without shipping its window"), "the restarted agent did not report the lost window:\n" + out.String()
	})
	// It reports the lost window before its collector subscribes: a
	// connection made in between would go unseen.
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(out.String(), "flow log: recording"), "the restarted agent did not start recording:\n" + out.String()
	})
	connect(7000)
	time.Sleep(300 * time.Millisecond)
	second.Process.Signal(syscall.SIGTERM)
	second.Wait()
	recs := records()
	var ruled int
	for _, r := range recs {
		if r.DstPort == 7000 && r.Direction == "in" && r.SecurityGroupRuleId == "sgr-b-1" {
			ruled++
			if r.LogStatus != "SKIPDATA" {
				t.Errorf("the first window after a lost one says %s", r.LogStatus)
			}
		}
	}
	if ruled != 1 {
		t.Errorf("after a clean stop, %d records of the second connection by sgr-b-1 (want 1): %+v", ruled, recs)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the state file outlived a clean stop: %v", err)
	}
}
