package analyze

import (
	"context"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// AuditAfter runs the best-practice checks on the caller's resources as a
// change would leave them, without applying it (the change runs in a
// transaction that is rolled back, as in PlanChange). Diffed with Audit's
// findings before, it previews what the change does to the audit. A
// change the action would refuse is refused here with the same error.
func (a *Service) AuditAfter(ctx context.Context, c service.Caller, change Change, o audit.Options) ([]audit.Finding, error) {
	var (
		before ownedCloud
		rev    int64
	)
	err := a.state(ctx, func(st liveState) error {
		before, rev = ownedIn(st.cloud, st.vpcs, c), st.rev
		return nil
	})
	if err != nil {
		return nil, err
	}
	after, _, err := a.dryRun(ctx, change, before.Cloud, rev)
	if err != nil {
		return nil, err
	}
	// What the change makes (a group, an instance) is the caller's too.
	owned := func(id string) bool {
		if before.owned[id] {
			return true
		}
		if in := after.Instances[id]; in != nil {
			return in.Owner == c.Account && (c.Region == "" || in.Region == c.Region)
		}
		g := after.Groups[id]
		return g != nil && g.Owner == c.Account && (c.Region == "" || g.Region == c.Region)
	}
	out := []audit.Finding{}
	for _, f := range audit.Run(after, o) {
		if owned(f.Resource) {
			out = append(out, f)
		}
	}
	return redacted(out, after, owned), nil
}
