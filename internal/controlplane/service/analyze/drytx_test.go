package analyze

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestViewDryRunEqualsStoreDryRun plans random changes twice, once run
// over the in-memory view (viewDryStore) and once in a rolled-back store
// transaction (dryStore), and wants the same plan or the same error, and
// no fallback to the store; some changes are then applied, so that the
// plans start from varied clouds.
func TestViewDryRunEqualsStoreDryRun(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	sgWeb := ""
	if in, err := service.View(n.svc, ctx, func(tx store.ReadTx) (*model.Instance, error) { return service.GetInstance(tx, n.c, n.web) }); err != nil {
		t.Fatal(err)
	} else {
		sgWeb = in.SecurityGroups[0]
	}
	viaStore := New(n.svc)
	viaStore.storeDryRun = true
	groups := []string{sgWeb, n.sgDB}
	rng := rand.New(rand.NewPCG(11, 4))
	changes := []func() (string, Change){
		func() (string, Change) {
			g, port := groups[rng.IntN(len(groups))], 1+rng.IntN(3)
			dir := []model.Direction{model.Ingress, model.Egress}[rng.IntN(2)]
			perm := model.RuleInput{IpProtocol: "tcp", PortRange: fmt.Sprintf("%d/%d", port, port)}
			switch rng.IntN(3) {
			case 0:
				perm.SourceCidrIp, perm.DestCidrIp = "192.168.0.0/16", "192.168.0.0/16"
			case 1:
				perm.SourceCidrIp, perm.DestCidrIp = "0.0.0.0/0", "0.0.0.0/0"
			default:
				perm.SourceGroupId, perm.DestGroupId = groups[rng.IntN(len(groups))], groups[rng.IntN(len(groups))]
			}
			if dir == model.Ingress {
				perm.DestCidrIp, perm.DestGroupId = "", ""
			} else {
				perm.SourceCidrIp, perm.SourceGroupId = "", ""
			}
			in := service.RulesInput{Caller: n.c, SecurityGroupID: g, Direction: dir, Permissions: []model.RuleInput{perm}}
			if rng.IntN(3) == 0 {
				return fmt.Sprintf("revoke %s %s %+v", g, dir, perm), func(ctx context.Context, svc *service.Service) error { return svc.Revoke(ctx, in) }
			}
			return fmt.Sprintf("authorize %s %s %+v", g, dir, perm), func(ctx context.Context, svc *service.Service) error { return svc.Authorize(ctx, in) }
		},
		func() (string, Change) {
			in := service.MembershipInput{Caller: n.c, InstanceID: []string{n.web, n.db}[rng.IntN(2)], SecurityGroupID: groups[rng.IntN(len(groups))]}
			if rng.IntN(2) == 0 {
				return fmt.Sprintf("leave %+v", in), func(ctx context.Context, svc *service.Service) error { return svc.LeaveSecurityGroup(ctx, in) }
			}
			return fmt.Sprintf("join %+v", in), func(ctx context.Context, svc *service.Service) error { return svc.JoinSecurityGroup(ctx, in) }
		},
		func() (string, Change) {
			in := service.GroupPolicyInput{Caller: n.c, SecurityGroupID: groups[rng.IntN(len(groups))], InnerAccessPolicy: []string{"Accept", "Drop"}[rng.IntN(2)]}
			return fmt.Sprintf("policy %+v", in), func(ctx context.Context, svc *service.Service) error { return svc.ModifySecurityGroupPolicy(ctx, in) }
		},
		func() (string, Change) {
			g := groups[rng.IntN(len(groups))]
			return "delete group " + g, func(ctx context.Context, svc *service.Service) error {
				return svc.DeleteSecurityGroup(ctx, service.GroupRef{Caller: n.c, SecurityGroupID: g})
			}
		},
		func() (string, Change) {
			return "create a group and open it", func(ctx context.Context, svc *service.Service) error {
				g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: n.c, VpcID: netVPC(t, n), Name: "x"})
				if err != nil {
					return err
				}
				if err := svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: g.SecurityGroupId, Direction: model.Ingress,
					Permissions: []model.RuleInput{{IpProtocol: "udp", PortRange: "53/53", SourceCidrIp: "0.0.0.0/0"}}}); err != nil {
					return err
				}
				return svc.JoinSecurityGroup(ctx, service.MembershipInput{Caller: n.c, InstanceID: n.web, SecurityGroupID: g.SecurityGroupId})
			}
		},
	}
	planned := 0
	for i := range 150 {
		what, change := changes[rng.IntN(len(changes))]()
		pv, errV := n.a.PlanChange(ctx, n.c, change)
		ps, errS := viaStore.PlanChange(ctx, n.c, change)
		if fmt.Sprint(errV) != fmt.Sprint(errS) {
			t.Fatalf("%d %s: over the view: %v; in the store: %v", i, what, errV, errS)
		}
		if !reflect.DeepEqual(pv, ps) {
			t.Fatalf("%d %s: over the view:\n%+v\nin the store:\n%+v", i, what, pv, ps)
		}
		if errV == nil && len(pv.Changes) > 0 {
			planned++
		}
		if rng.IntN(2) == 0 {
			change(ctx, n.svc) // refused changes are planned alike; applied or not
		}
	}
	if planned < 10 {
		t.Fatalf("only %d plans opened or closed anything: the test compares too little", planned)
	}
	if f := n.a.dryFallbacks.Load(); f != 0 {
		t.Fatalf("%d view dry runs fell back to the store", f)
	}
}

func netVPC(t *testing.T, n *net) string {
	in, err := service.View(n.svc, context.Background(), func(tx store.ReadTx) (*model.Instance, error) { return service.GetInstance(tx, n.c, n.web) })
	if err != nil {
		t.Fatal(err)
	}
	return in.VpcID
}
