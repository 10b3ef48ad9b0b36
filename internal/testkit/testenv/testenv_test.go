package testenv_test

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

func TestServer(t *testing.T) {
	s := testenv.Start(t, testenv.Config{})
	r := ecs.CreateCreateSecurityGroupRequest()
	r.SecurityGroupName = "kept"
	if _, err := s.ECS(t).CreateSecurityGroup(r); err != nil {
		t.Fatal(err)
	}
	if err := s.API(t).Call(context.Background(), "DescribeRegions", nil, nil, 0); err != nil {
		t.Fatalf("apiclient: %v", err)
	}
	other := s.NewAccount(t, "other")
	if _, err := testenv.ECSClient(t, s.Addr, other.KeyID, other.Secret).DescribeRegions(ecs.CreateDescribeRegionsRequest()); err != nil {
		t.Fatalf("the other account's key: %v", err)
	}

	for _, stop := range []func(*testenv.Server){(*testenv.Server).Stop, (*testenv.Server).Crash} {
		stop(s)
		s.Stop() // idempotent
		s = s.Reopen(t)
		got, err := s.ECS(t).DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest())
		if err != nil || got.TotalCount != 1 {
			t.Fatalf("after a restart on the same database: %v, %d groups", err, got.TotalCount)
		}
	}
}

func TestProgram(t *testing.T) {
	p := testenv.NewProgram()
	var order []int
	p.Cleanup(func() { order = append(order, 1) })
	p.Cleanup(func() { order = append(order, 2) })
	dir := p.TempDir()
	p.Close()
	p.Close()
	if !slices.Equal(order, []int{2, 1}) {
		t.Errorf("clean-ups ran as %v, want [2 1] once", order)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("TempDir %s survived Close: %v", dir, err)
	}
}

// TestLab brings up a server, a one-host lab and its agent, and sees a
// rule enforced.
func TestLab(t *testing.T) {
	testenv.NeedKernel(t)
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	vpc := &model.VPC{ID: "vpc-env", CIDR: netip.MustParsePrefix("10.7.0.0/16")}
	res := api.Resources{VPCs: []*model.VPC{vpc},
		Groups:    []*model.SecurityGroup{modeltest.Group("sg-env", vpc.ID, "isolated", modeltest.Rule("sgr-env", "in accept 1 TCP 80/80 10.7.0.0/16"))},
		Instances: []*model.Instance{modeltest.Instance("i-a", vpc.ID, "10.7.0.10", "sg-env"), modeltest.Instance("i-b", vpc.ID, "10.7.0.20", "sg-env")}}
	if _, err := srv.Ops.Import(context.Background(), testenv.Region, res); err != nil {
		t.Fatal(err)
	}
	l := testenv.StartLab(t, srv, lab.Spec{Name: testenv.LabName("e"), Hosts: []string{"h0"}, Instances: []lab.Instance{
		{ID: "i-a", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.7.0.10"), Host: "h0"},
		{ID: "i-b", VPC: vpc.ID, PrivateIP: netip.MustParseAddr("10.7.0.20"), Host: "h0"}}})
	l.RunAgent(t, l.AgentConfig("h0"))
	l.WaitApplied(t, "h0")
	got := lab.ProbeWith(context.Background(), l.Lab, []lab.ProbeSpec{
		{From: "i-a", To: "i-b", Proto: model.TCP, Port: 80},
		{From: "i-a", To: "i-b", Proto: model.TCP, Port: 81},
	}, lab.ProbeOptions{Timeout: lab.RecheckTimeout})
	if !got[0].Delivered || got[1].Delivered {
		t.Errorf("port 80 delivered=%v (allowed), port 81 delivered=%v (denied)", got[0].Delivered, got[1].Delivered)
	}
}
