package analyze

import (
	"context"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestAuditNamesNoOtherAccountsInstance: a production instance that a
// non-production instance of another account reaches (here through a peer
// group across accounts) is not reported to its owner, in the audit or in
// a change's audit: the other instance's env tag is not the owner's to
// know, and a finding (even one that named it only as "an instance of
// another account") told it. No finding names that instance or its tags.
func TestAuditNamesNoOtherAccountsInstance(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := newTenant(t, n, 2)
	tag := func(c service.Caller, ids []string, env string) {
		if err := n.svc.TagResources(ctx, service.TagInput{Caller: c, ResourceType: "instance", ResourceIDs: ids, Tags: []model.Tag{{Key: "env", Value: env}}}); err != nil {
			t.Fatal(err)
		}
	}
	tag(n.c, []string{other.peerInst}, "staging-secret")
	tag(other.c, other.ids, "prod")
	after, err := n.a.AuditAfter(ctx, other.c, func(ctx context.Context, svc *service.Service) error {
		desc := "app servers"
		return svc.ModifySecurityGroupAttribute(ctx, service.ModifyGroupInput{Caller: other.c, SecurityGroupID: other.sg, Description: &desc})
	}, audit.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	au, err := n.a.Audit(ctx, other.c, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, fs := range map[string][]audit.Finding{"audit": au.Findings, "audit after a change": after} {
		reported := 0
		for _, f := range fs {
			for _, s := range []string{f.Message, f.Fix} {
				if strings.Contains(s, other.peerInst) || strings.Contains(s, "staging-secret") {
					t.Errorf("%s: %s on %s names the other account's instance: %s", name, f.Check, f.Resource, s)
				}
			}
			if f.Check == "SGA-014" && strings.Contains(f.Message, anotherAccounts) {
				reported++
			}
		}
		if reported != 0 {
			t.Errorf("%s: %d production instances reported as reached by another account's non-production one, whose env tag is not the owner's to know", name, reported)
		}
	}
}
