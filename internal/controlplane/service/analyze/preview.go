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
// What the change makes is called as names calls it (nil: Numbered).
func (a *Service) AuditAfter(ctx context.Context, c service.Caller, change Change, o audit.Options, names Names) ([]audit.Finding, error) {
	o = tenants(o)
	sh, done, err := a.enter(ctx, c)
	if err != nil {
		return nil, err
	}
	defer done()
	var (
		before ownedCloud
		rev    int64
	)
	err = a.state(ctx, func(st liveState) error {
		before, rev = st.ownedBy(c), st.rev
		return nil
	})
	if err != nil {
		return nil, err
	}
	after, _, made, err := a.dryRun(ctx, change, before.Cloud, rev)
	if err != nil {
		return nil, err
	}
	// What the change makes (a group, an instance) is the caller's too.
	owned := before.ownedAfter(c, after)
	if w := sh.workers(); o.Workers <= 0 || o.Workers > w {
		o.Workers = w // the analysis's share of the CPU
	}
	concerns := concernsAfter(owned, after)
	out := []audit.Finding{}
	for _, f := range audit.Run(after, o) {
		if concerns(f) {
			out = append(out, f)
		}
	}
	// What the change makes is named as planned (see AuditAfterFrom).
	return audit.NamePlanned(redacted(out, after, owned), namesOf(names, made)), nil
}
