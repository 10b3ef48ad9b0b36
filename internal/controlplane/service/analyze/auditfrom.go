package analyze

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// A console audits after every write; a whole-cloud audit each time costs
// more than a page may. AuditFrom and AuditAfterFrom start from the audit
// of an earlier revision (an AuditBase) and re-audit only what changed
// since (audit.RunScopedResult), over the live cloud and its
// reachability, which the server keeps anyway.

// AuditBase is the audit of the whole cloud (every account's findings and
// rules of unknown standing) at one revision: where the next audit
// starts. It is opaque, since it holds other accounts' findings: a caller
// sees only its own, through AuditFrom.
type AuditBase struct {
	rev   int64
	cloud *policy.Cloud
	opts  string       // the options, as optionsKey gives them
	res   audit.Result // every account's findings and rules of unknown standing
}

// Revision is the store revision the base describes.
func (b *AuditBase) Revision() int64 {
	if b == nil {
		return 0
	}
	return b.rev
}

// optionsKey says which options give the same findings (Workers does not
// change them).
func optionsKey(o audit.Options) string {
	k := audit.ConfigJSON(o)
	if o.ChangeAlerting != nil {
		k += fmt.Sprint(" alerting=", *o.ChangeAlerting)
	}
	return k + fmt.Sprint(" per-account=", o.PerAccount)
}

// tenants are the options of an audit for a tenant: every finding is
// judged on what the tenant may know (audit.Options.PerAccount).
func tenants(o audit.Options) audit.Options {
	o.PerAccount = true
	return o
}

// AuditFrom is Audit, computed from base (an audit of an earlier revision
// with the same options, or nil): only what changed since is audited
// again. It returns the base at the revision answered, for the next one.
// Without an in-memory view it is Audit.
func (a *Service) AuditFrom(ctx context.Context, c service.Caller, o audit.Options, base *AuditBase) (Audit, *AuditBase, error) {
	o = tenants(o)
	if a.liveOf() == nil {
		out, err := a.Audit(ctx, c, o)
		return out, base, err
	}
	sh, done, err := a.enter(ctx, c)
	if err != nil {
		return Audit{}, base, err
	}
	defer done()
	if w := sh.workers(); o.Workers <= 0 || o.Workers > w {
		o.Workers = w // the analysis's share of the CPU
	}
	var out Audit
	var own ownedCloud
	err = a.state(ctx, func(st liveState) error {
		base = base.at(st, o)
		own = st.ownedBy(c)
		out = callerAudit(base.res, own)
		return nil
	})
	if err != nil {
		return out, base, err
	}
	out, err = a.withFlowFindings(ctx, c, own, o, out)
	return out, base, err
}

// flowChecks judge the server's flow logs and records (audit.FlowLogs):
// facts of the caller, not of the cloud at a revision, so an AuditBase
// (shared by every caller) holds none of their findings; each audit adds
// the caller's, as Audit finds them.
var flowChecks = []string{"SGA-033", "SGA-034"}

// withFlowFindings adds to out the caller's SGA-033 and SGA-034 findings,
// on the same facts and with the same VPC filter as Audit.
func (a *Service) withFlowFindings(ctx context.Context, c service.Caller, own ownedCloud, o audit.Options, out Audit) (Audit, error) {
	for _, ch := range audit.Checks() {
		if !slices.Contains(flowChecks, ch.ID) {
			o.Skip = append(o.Skip, ch.ID)
		}
	}
	hits := a.svc.FlowHitsAll(ctx, c, service.HitsFilter{}) // before the read: it may ask other servers
	out.PalisadeMissingServers = hits.Missing
	return service.View(a.svc, ctx, func(tx store.ReadTx) (Audit, error) {
		var err error
		if o.FlowLogs, err = a.flowFacts(tx, c, own, hits); err != nil {
			return out, err
		}
		vpcs, err := service.ListOwn[model.VPC](tx, service.KindVPC, c)
		if err != nil {
			return out, err
		}
		ownVPC := map[string]bool{}
		for _, v := range vpcs {
			ownVPC[v.ID] = true
		}
		var add []audit.Finding
		for _, f := range audit.Run(own.Cloud, o) {
			if own.owned[f.Resource] || f.Check == "SGA-033" && ownVPC[f.Resource] {
				add = append(add, f)
			}
		}
		if len(add) == 0 {
			return out, nil
		}
		add = redacted(add, own.Cloud, own.owns)
		out.Findings = append(slices.Clone(out.Findings), add...)
		// In audit.Run's order, as Audit gives them.
		slices.SortStableFunc(out.Findings, func(a, b audit.Finding) int {
			return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Check, b.Check),
				cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.RuleID, b.RuleID))
		})
		if w, ok := audit.Worst(out.Findings); ok {
			out.Worst = w.String()
		}
		return out, nil
	})
}

// at returns the base at the state's revision: b itself when it is there
// already, else b moved forward (or a whole audit when b is nil or of
// other options). The state must be held (a read's).
func (b *AuditBase) at(st liveState, o audit.Options) *AuditBase {
	key := optionsKey(o)
	switch {
	case b != nil && b.opts == key && b.rev == st.rev && b.cloud == st.cloud:
		return b
	case b != nil && b.opts == key && b.rev < st.rev:
		return &AuditBase{rev: st.rev, cloud: st.cloud, opts: key, res: audit.RunScopedResult(b.cloud, b.res, st.cloud, o, st.r)}
	}
	return &AuditBase{rev: st.rev, cloud: st.cloud, opts: key, res: audit.RunResult(st.cloud, o, st.r)}
}

// callerAudit is the caller's part of the whole cloud's audit, as Audit
// gives it.
func callerAudit(all audit.Result, own ownedCloud) Audit {
	out := Audit{Findings: []audit.Finding{}, Unknown: ownUnknown(all.Unknown, own)}
	for _, f := range all.Findings {
		if concerns(f, own.owns, len(own.owned) > 1) { // Internet is always owned
			out.Findings = append(out.Findings, f)
		}
	}
	out.Findings = redacted(out.Findings, own.Cloud, own.owns)
	if w, ok := audit.Worst(out.Findings); ok {
		out.Worst = w.String()
	}
	return out
}

// AuditAfterFrom is what a change does to the caller's audit: the audit
// now (as AuditFrom gives it, from base) and the findings as the change
// would leave them (as AuditAfter gives them), the latter audited only
// where the change reaches. It returns the base now, for the next audit.
// A change the action would refuse is refused with the same error.
// What the change makes is called as names calls it (nil: Numbered).
// Without an in-memory view it is Audit and AuditAfter.
func (a *Service) AuditAfterFrom(ctx context.Context, c service.Caller, change Change, o audit.Options, base *AuditBase, names Names) (before Audit, after []audit.Finding, now *AuditBase, err error) {
	o = tenants(o)
	if a.liveOf() == nil {
		if before, err = a.Audit(ctx, c, o); err != nil {
			return Audit{}, nil, base, err
		}
		after, err = a.AuditAfter(ctx, c, change, o, names)
		return before, after, base, err
	}
	sh, done, err := a.enter(ctx, c)
	if err != nil {
		return Audit{}, nil, base, err
	}
	defer done()
	if w := sh.workers(); o.Workers <= 0 || o.Workers > w {
		o.Workers = w
	}
	now = base
	var ownBefore ownedCloud
	err = a.state(ctx, func(st liveState) error {
		now = base.at(st, o)
		own := st.ownedBy(c)
		before = callerAudit(now.res, own)
		ownBefore = own
		next, ch, made, err := a.dryRun(ctx, change, st.cloud, st.rev)
		if err != nil {
			return err
		}
		// The reachability after, for the checks that read it: the live
		// result moved forward by what the change touches, as PlanChange
		// does.
		var r *reach.Result
		if audit.NeedsReach(next, o) {
			r = st.r.WithWorkers(o.Workers).Clone()
			r.Update(next, ch)
		}
		all := audit.RunScoped(st.cloud, now.res.Findings, next, o, r)
		owned := own.ownedAfter(c, next)
		concerns := concernsAfter(owned, next)
		after = []audit.Finding{}
		for _, f := range all {
			if concerns(f) {
				after = append(after, f)
			}
		}
		// What the change makes is named as planned, not by the dry
		// run's IDs, which the applied change does not give it.
		after = audit.NamePlanned(redacted(after, next, owned), namesOf(names, made))
		return nil
	})
	if err != nil {
		return before, after, now, err
	}
	// The flow findings of now; the change's preview (AuditAfter) judges
	// the cloud only.
	before, err = a.withFlowFindings(ctx, c, ownBefore, o, before)
	return before, after, now, err
}

// ownUnknown are the rules of the caller's groups among the rules of
// unknown standing (audit.Result.Unknown).
func ownUnknown(all []audit.RuleRef, own ownedCloud) []audit.RuleRef {
	var out []audit.RuleRef
	for _, u := range all {
		if own.owns(u.Group) {
			out = append(out, u)
		}
	}
	return out
}
