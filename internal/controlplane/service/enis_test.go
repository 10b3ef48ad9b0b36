package service

import (
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestENIBindAndSnapshot checks the host side of a secondary ENI: it is
// bound to its own interface, comes in the agents' snapshot and watch, and
// its instance's release detaches it; an interface stays one NIC's.
func TestENIBindAndSnapshot(t *testing.T) {
	e := newEnv(t)
	net := e.network()
	sg := e.group(CreateGroupInput{VpcID: net.vpc})
	mgmt := e.group(CreateGroupInput{VpcID: net.vpc})
	ids, err := e.s.RunInstances(e.ctx, LaunchInput{Caller: e.c, ImageID: "img", InstanceType: "ecs.g6.xlarge", VSwitchID: net.vsw, SecurityGroupID: sg, Amount: 1})
	wantCode(t, err, "")
	inst := ids[0]
	n, err := e.s.CreateNetworkInterface(e.ctx, CreateENIInput{Caller: e.c, VSwitchID: net.vsw, SecurityGroupIDs: []string{mgmt}})
	wantCode(t, err, "")
	wantCode(t, e.s.AttachNetworkInterface(e.ctx, ENIRef{Caller: e.c, NetworkInterfaceID: n.ID, InstanceID: inst}), "")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: inst, HostName: "h1", Interface: "pi-a"}), "")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, NetworkInterfaceID: n.ID, HostName: "h1", Interface: "pi-a"}), "InvalidInterface.InUse")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, NetworkInterfaceID: n.ID, InstanceID: inst, HostName: "h1", Interface: "pi-b"}), "InvalidParam.EniIdAndInstanceId.Conflict")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, NetworkInterfaceID: n.ID, HostName: "h1", Interface: "pi-b"}), "")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: inst, HostName: "h1", Interface: "pi-b"}), "InvalidInterface.InUse")

	snap, err := e.s.GetSnapshot(e.ctx, e.op)
	wantCode(t, err, "")
	if len(snap.ENIs) != 1 || snap.ENIs[0].Interface != "pi-b" || snap.ENIs[0].InstanceID != inst || snap.ENIs[0].SecurityGroups[0] != mgmt {
		t.Fatalf("snapshot ENIs %+v", snap.ENIs)
	}
	nics := model.NICs(snap.Instances, snap.ENIs)
	if len(nics) != 2 || nics[1].ID != n.ID || nics[1].Interface != "pi-b" || nics[1].SecurityGroups[0] != mgmt {
		t.Fatalf("NICs %+v", nics)
	}
	ch, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: e.op, AfterRevision: snap.Revision - 1})
	wantCode(t, err, "")
	if len(ch.ENIs) != 1 {
		t.Fatalf("the last change (the ENI's bind) is not in the watch: %+v", ch)
	}
	// The primary ENI is the instance: binding it by its ENI ID binds the instance.
	primary := model.DerivedID("eni", inst)
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, NetworkInterfaceID: primary, HostName: "h1", Interface: "pi-c"}), "")
	got, err := e.s.DescribeInstanceAttribute(e.ctx, e.c, inst)
	wantCode(t, err, "")
	if got.Instance.Interface != "pi-c" || len(got.ENIs) != 1 {
		t.Fatalf("instance after binding its primary ENI: %+v", got)
	}
	// Releasing the instance detaches the ENI.
	wantCode(t, e.s.DeleteInstance(e.ctx, DeleteInstanceInput{Caller: e.c, InstanceID: inst, Force: true}), "")
	after, err := e.s.DescribeNetworkInterfaceAttribute(e.ctx, e.c, n.ID)
	wantCode(t, err, "")
	if after.Status != model.ENIAvailable || after.InstanceID != "" || after.Interface != "" {
		t.Fatalf("ENI after its instance's release: %+v", after)
	}
}
