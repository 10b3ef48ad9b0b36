package analyze

import (
	"context"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestPreviewsKeepToTheCallersRegion: a request is regional, so the plan
// and the audit preview of a change show only the caller's region's
// instances, also where the change opens flows from the same account's
// instance in another region (both classic here, where one network joins
// them). The plan once counted every instance of the account as the
// caller's.
func TestPreviewsKeepToTheCallersRegion(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	launch := func(c service.Caller, amount int) (group, inst string) {
		t.Helper()
		g, err := n.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: c, Name: "classic"})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := n.svc.RunInstances(ctx, service.LaunchInput{Caller: c, Amount: amount, ImageID: "img", InstanceType: "ecs.t1", SecurityGroupID: g.SecurityGroupId})
		if err != nil {
			t.Fatal(err)
		}
		return g.SecurityGroupId, ids[len(ids)-1]
	}
	beijing := n.c
	beijing.Region = "cn-beijing"
	// Each region numbers its classic addresses from the same start: far
	// is the third in Beijing, with an address the two in Hangzhou lack.
	_, far := launch(beijing, 3)
	sg, near := launch(n.c, 1)
	_, neighbour := launch(n.c, 1) // from where the change opens near in the caller's region
	open := func(ctx context.Context, svc *service.Service) error {
		return svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: sg, Direction: model.Ingress,
			Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "7777/7777", SourceCidrIp: "0.0.0.0/0", NicType: "intranet"}}})
	}
	// The whole cloud's result: the change does open far → near, so a
	// preview that counted far as the caller's would show it.
	var opened bool
	err := n.a.state(ctx, func(st liveState) error {
		after, ch, _, err := n.a.dryRun(ctx, open, st.cloud, st.rev)
		if err != nil {
			return err
		}
		next := st.r.Clone()
		next.Update(after, ch)
		l0, err := st.r.Between(far, near)
		if err != nil {
			return err
		}
		l1, err := next.Between(far, near)
		opened = err == nil && l0.IPv4.Only(model.TCP, 7777).Empty() && !l1.IPv4.Only(model.TCP, 7777).Empty()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !opened {
		t.Fatalf("the change does not open %s → %s on 7777: the test shows nothing", far, near)
	}
	p, err := n.a.PlanChange(ctx, n.c, open)
	if err != nil {
		t.Fatal(err)
	}
	var nearSeen bool
	for _, ch := range p.Changes {
		if ch.From == far || ch.To == far {
			t.Errorf("the plan in %s shows %s of %s: %+v", n.c.Region, far, beijing.Region, ch)
		}
		nearSeen = nearSeen || ch.From == neighbour && ch.To == near
	}
	if !nearSeen {
		t.Errorf("the plan does not show what the change opens %s → %s: %+v", neighbour, near, p.Changes)
	}
	fs, err := n.a.AuditAfter(ctx, n.c, open, audit.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Resource == far {
			t.Errorf("the audit preview in %s shows %s of %s: %+v", n.c.Region, far, beijing.Region, f)
		}
	}
}
