package analyze

import (
	"context"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
)

// AuditDiff is what a change does to the audit of the caller's resources:
// the findings it would add and those it would remove.
type AuditDiff struct {
	Added, Removed []audit.Finding
}

// AuditChange runs the best-practice checks before and after a change,
// without applying it (the change runs in a transaction that is rolled
// back, as in PlanChange), and returns the findings that differ. A change
// the action would refuse is refused here with the same error.
func (a *Service) AuditChange(ctx context.Context, c service.Caller, change Change, o audit.Options) (AuditDiff, error) {
	before, err := service.View(a.svc, ctx, func(tx store.ReadTx) (ownedCloud, error) { return ownedOf(tx, c) })
	if err != nil {
		return AuditDiff{}, err
	}
	after, err := a.dryRun(ctx, change)
	if err != nil {
		return AuditDiff{}, err
	}
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
	var prior []audit.Finding
	old := map[audit.Finding]bool{} // a finding is plain data: comparable
	for _, f := range audit.Run(before.Cloud, o) {
		if owned(f.Resource) {
			prior = append(prior, f)
			old[f] = true
		}
	}
	var out AuditDiff
	for _, f := range audit.Run(after, o) {
		if !owned(f.Resource) {
			continue
		}
		if old[f] {
			delete(old, f)
			continue
		}
		out.Added = append(out.Added, f)
	}
	for _, f := range prior {
		if old[f] {
			out.Removed = append(out.Removed, f)
		}
	}
	return out, nil
}
