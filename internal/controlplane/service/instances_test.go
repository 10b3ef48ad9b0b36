package service

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestInstanceLifecycle(t *testing.T) {
	e := newEnv(t)
	net := e.network()
	sg := e.group(CreateGroupInput{VpcID: net.vpc})
	other := e.group(CreateGroupInput{VpcID: net.vpc})
	launch := func(in LaunchInput) LaunchInput {
		in.Caller, in.ImageID, in.InstanceType, in.VSwitchID = e.c, "img", "ecs.t1", net.vsw
		if in.SecurityGroupID == "" && in.SecurityGroupIDs == nil {
			in.SecurityGroupID = sg
		}
		return in
	}
	for _, tt := range []struct {
		name string
		in   LaunchInput
		code string
	}{
		{"no image", LaunchInput{Caller: e.c, InstanceType: "ecs.t1", SecurityGroupID: sg, Amount: 1}, "MissingParameter"},
		{"zero amount", launch(LaunchInput{}), "InvalidParameter"},
		{"too many", launch(LaunchInput{Amount: MaxLaunchAmount + 1}), "InvalidParameter"},
		{"pinned address with two", launch(LaunchInput{Amount: 2, PrivateIP: "192.168.1.50"}), "InvalidParameter"},
		{"address outside", launch(LaunchInput{Amount: 1, PrivateIP: "10.0.0.5"}), "InvalidPrivateIpAddress.Mismatch"},
		{"group twice", launch(LaunchInput{Amount: 1, SecurityGroupIDs: []string{sg, sg}}), "InvalidParameter.SecurityGroupIdRepeated"},
		{"dry run", launch(LaunchInput{Amount: 1, DryRun: true}), "DryRunOperation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.s.RunInstances(e.ctx, tt.in)
			wantCode(t, err, tt.code)
		})
	}
	ids, err := e.s.RunInstances(e.ctx, launch(LaunchInput{Amount: 2, IPv6Count: 1, BandwidthOut: 5, Tags: []model.Tag{{Key: "app", Value: "web"}}}))
	wantCode(t, err, "")
	pinned, err := e.s.CreateInstance(e.ctx, launch(LaunchInput{PrivateIP: "192.168.1.50", Name: "db"}))
	wantCode(t, err, "")

	page, err := e.s.DescribeInstances(e.ctx, DescribeInstancesInput{Caller: e.c, Tags: []model.Tag{{Key: "app"}}, Page: Page{Number: 1, Size: 10}})
	wantCode(t, err, "")
	if page.Total != 2 {
		t.Fatalf("%d instances tagged app, want 2", page.Total)
	}
	for _, v := range page.Items {
		in := v.Instance
		if in.Status != model.StatusRunning || !in.IPv6.IsValid() || !PublicPool.Contains(in.PublicIP) || !model.Assignable(netip.MustParsePrefix("192.168.1.0/24"), in.PrivateIP) {
			t.Fatalf("launched %+v", in)
		}
	}
	page, err = e.s.DescribeInstances(e.ctx, DescribeInstancesInput{Caller: e.c, Name: "d*", Private: []string{"192.168.1.50"}, Page: Page{Number: 1, Size: 10}})
	wantCode(t, err, "")
	if page.Total != 1 || page.Items[0].Instance.ID != pinned || page.Items[0].Instance.Status != model.StatusStopped || page.Items[0].Instance.PublicIP.IsValid() {
		t.Fatalf("the pinned instance: %+v", page.Items)
	}

	ref := InstanceRef{Caller: e.c, InstanceID: ids[0]}
	wantCode(t, e.s.StartInstance(e.ctx, ref), "IncorrectInstanceStatus")
	wantCode(t, e.s.DeleteInstance(e.ctx, DeleteInstanceInput{Caller: e.c, InstanceID: ids[0]}), "IncorrectInstanceStatus")
	wantCode(t, e.s.StopInstance(e.ctx, ref), "")
	name := "web-1"
	wantCode(t, e.s.ModifyInstanceAttribute(e.ctx, ModifyInstanceInput{Caller: e.c, InstanceID: ids[0], HostName: "-x"}), "InvalidHostName.Malformed")
	wantCode(t, e.s.ModifyInstanceAttribute(e.ctx, ModifyInstanceInput{Caller: e.c, InstanceID: ids[0], Name: &name, SecurityGroupIDs: []string{sg, other}}), "")
	v, err := e.s.DescribeInstanceAttribute(e.ctx, Caller{Account: e.c.Account}, ids[0])
	wantCode(t, err, "")
	if v.Instance.Name != name || len(v.Instance.SecurityGroups) != 2 || v.Instance.Status != model.StatusStopped {
		t.Fatalf("after modify: %+v", v.Instance)
	}
	wantCode(t, e.s.DeleteInstance(e.ctx, DeleteInstanceInput{Caller: e.c, InstanceID: ids[0]}), "")
	wantCode(t, e.s.DeleteInstance(e.ctx, DeleteInstanceInput{Caller: e.c, InstanceID: ids[1], Force: true}), "")
	_, err = e.s.DescribeInstanceAttribute(e.ctx, e.c, ids[1])
	wantCode(t, err, "InvalidInstanceId.NotFound")
}

// A ClientToken answered by an earlier server, which stored its ECS
// response, still gives that answer.
func TestLaunchTokenFromEarlierServer(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ action, stored string }{
		{"RunInstances", `{"RequestId":"","OrderId":"","TradePrice":0,"InstanceIdSets":{"InstanceIdSet":["i-old1","i-old2"]}}`},
		{"CreateInstance", `{"RequestId":"","InstanceId":"i-old3","OrderId":"","TradePrice":0}`},
	} {
		if _, err := e.s.Store.Update(e.ctx, func(tx store.Tx) error {
			return tx.PutToken(store.Token{Account: e.c.Account, Token: "t-" + tt.action, Action: tt.action, ParamsHash: "fp", Response: []byte(tt.stored), Created: e.s.Now()})
		}); err != nil {
			t.Fatal(err)
		}
	}
	in := LaunchInput{Caller: e.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1", SecurityGroupID: "sg-any",
		Idempotency: Idempotency{ClientToken: "t-RunInstances", Fingerprint: "fp"}}
	ids, err := e.s.RunInstances(e.ctx, in)
	wantCode(t, err, "")
	if len(ids) != 2 || ids[0] != "i-old1" {
		t.Fatalf("RunInstances retry: %v", ids)
	}
	in.ClientToken = "t-CreateInstance"
	id, err := e.s.CreateInstance(e.ctx, in)
	wantCode(t, err, "")
	if id != "i-old3" {
		t.Fatalf("CreateInstance retry: %q", id)
	}
}
