package kerneltest

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/api"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/lab"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestKernelAgreesWithEngineOnCluster is the differential test with the
// policy brought by agents (host keys) of a two-server installation on one
// etcd: they follow the first server; it stops; a change goes through the
// second, to which the agents move. The kernel must then agree with the
// engine on the cloud the second server holds. One random cloud (the seed
// is logged; PALISADE_DIFF_SEED is for TestKernelAgreesWithEngine).
func TestKernelAgreesWithEngineOnCluster(t *testing.T) {
	testenv.NeedKernel(t)
	ctx := context.Background()
	srvs := testenv.StartCluster(t, 2, testenv.Config{Log: testenv.Quiet()})
	a, b := srvs[0], srvs[1]
	seed := rand.Uint64() >> 1
	t.Logf("seed %d", seed)
	gen := cloudgen.Generate(seed, cloudgen.Small)
	if _, err := a.Ops.Import(ctx, "cn-hangzhou", api.Resources{VPCs: gen.VPCs, Groups: gen.Groups, Instances: gen.Instances,
		PrefixLists: gen.PrefixLists, PortRangeLists: gen.PortRangeLists}); err != nil {
		t.Fatal(err)
	}
	l := testenv.StartLab(t, a, lab.SpecFromCloud(gen.Snapshot(), testenv.LabName("e"), hostsPerRound, gen.Outside))
	op, err := a.Ops.KeyCaller(ctx, a.OperatorKeyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range l.Spec.Hosts {
		k, err := a.Ops.RegisterHost(ctx, op, h)
		if err != nil {
			t.Fatal(err)
		}
		cfg := l.AgentConfig(h)
		cfg.Server, cfg.AccessKeyID, cfg.Secret = a.Addr+","+b.Addr, k.ID, k.Secret
		l.RunAgent(t, cfg)
	}
	l.WaitApplied(t, l.Spec.Hosts...)

	a.Stop()
	// The change: the first group that may accept traffic between its
	// members turns it the other way.
	var g *model.SecurityGroup
	for _, x := range gen.Groups {
		if x.Type == model.Normal {
			g = x
			break
		}
	}
	if g == nil {
		t.Fatalf("seed %d: no basic group to change", seed)
	}
	turned := model.InnerDrop
	if !g.InnerAccept() {
		turned = model.InnerAccept
	}
	if err := b.API(t).Call(ctx, "ModifySecurityGroupPolicy", map[string]string{"SecurityGroupId": g.ID, "InnerAccessPolicy": turned}, nil, 0); err != nil {
		t.Fatal(err)
	}
	b.WaitApplied(t, l.Spec.Hosts...)

	snap, err := b.Ops.GetSnapshot(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	p := &played{lab: l.Lab, cloud: policy.NewCloud(snap.Groups, model.NICs(snap.Instances, snap.ENIs), snap.PrefixLists).
		WithPortRangeLists(snap.PortRangeLists)}
	engine, _, diffs := p.compare(t, gen.AtMoreIPv6(gen.Flows(seed, flowsPerRound), seed))
	if len(diffs) > 0 {
		var s strings.Builder
		for _, d := range diffs {
			s.WriteString("\n  " + d.String())
		}
		t.Fatalf("seed %d: the kernel and the engine disagree on %d of %d flows after the failover:%s", seed, len(diffs), len(engine), s.String())
	}
	t.Logf("%d flows agree after the agents moved to the second server", len(engine))
}
