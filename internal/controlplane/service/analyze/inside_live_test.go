package analyze

import (
	"context"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// TestLiveInsideFollowsClassicInstances: a classic instance launched or
// deleted moves the inside blocks (its private address is no outside
// address), so the live result recomputes rather than folds it in.
func TestLiveInsideFollowsClassicInstances(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := newTenant(t, n, 1)
	// A public instance open to every address: its internet link lists
	// the outside ranges, which leave the classic addresses out.
	if _, err := n.svc.RunInstances(ctx, service.LaunchInput{Caller: other.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1",
		SecurityGroupID: other.sg, BandwidthOut: 5}); err != nil {
		t.Fatal(err)
	}
	compareLive(t, n, "the start")
	ids, err := n.svc.RunInstances(ctx, service.LaunchInput{Caller: other.c, Amount: 1, ImageID: "img", InstanceType: "ecs.t1", SecurityGroupID: other.sg})
	if err != nil {
		t.Fatal(err)
	}
	compareLive(t, n, "a classic launch")
	if err := n.svc.DeleteInstance(ctx, service.DeleteInstanceInput{Caller: other.c, InstanceID: ids[0], Force: true}); err != nil {
		t.Fatal(err)
	}
	compareLive(t, n, "a classic deletion")
}
