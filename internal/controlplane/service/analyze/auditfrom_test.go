package analyze

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestAuditFromEqualsAudit: through random changes of two accounts, each
// audit moved forward from the last one (AuditFrom) is the whole audit of
// the caller (Audit), redaction included, and a change's preview from it
// (AuditAfterFrom) is the audit now and AuditAfter's findings.
func TestAuditFromEqualsAudit(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	other := newTenant(t, n, 2)
	m := &mutator{t: t, n: n, rng: rand.New(rand.NewPCG(5, 99)), callers: []service.Caller{n.c, other.c}}
	m.vpcSwitch(ctx)
	var base *AuditBase
	moved, unknown := 0, 0
	for step := range 36 {
		what := m.step(ctx)
		for _, c := range m.callers {
			prev := base.Revision()
			got, b, err := n.a.AuditFrom(ctx, c, audit.Options{}, base)
			if err != nil {
				t.Fatal(err)
			}
			if prev != 0 && b.Revision() > prev {
				moved++
			}
			base = b
			want, err := n.a.Audit(ctx, c, audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := findingsDiff(got.Findings, want.Findings); d != "" || got.Worst != want.Worst {
				t.Fatalf("step %d (%s), account %s: %s", step, what, c.Account, d)
			}
			if !slices.Equal(got.Unknown, want.Unknown) {
				t.Fatalf("step %d (%s), account %s: rules of unknown standing %v, want %v", step, what, c.Account, got.Unknown, want.Unknown)
			}
			unknown += len(want.Unknown)
		}
		if step%6 != 5 {
			continue
		}
		// A change to preview: SSH from anywhere in one of the caller's groups.
		c := m.callers[step%2]
		gs, _ := m.state(ctx, c)
		if len(gs) == 0 {
			continue
		}
		in := service.RulesInput{Caller: c, SecurityGroupID: gs[0].ID, Direction: model.Ingress,
			Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0", Priority: fmt.Sprint(1 + step%3)}}}
		change := func(ctx context.Context, svc *service.Service) error { return svc.Authorize(ctx, in) }
		before, after, b, err := n.a.AuditAfterFrom(ctx, c, change, audit.Options{}, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		base = b
		wantBefore, err := n.a.Audit(ctx, c, audit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		wantAfter, err := n.a.AuditAfter(ctx, c, change, audit.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := findingsDiff(before.Findings, wantBefore.Findings); d != "" || before.Worst != wantBefore.Worst {
			t.Fatalf("preview at step %d (%s), audit now: %s", step, what, d)
		}
		if !slices.Equal(before.Unknown, wantBefore.Unknown) {
			t.Fatalf("preview at step %d (%s), audit now: rules of unknown standing %v, want %v", step, what, before.Unknown, wantBefore.Unknown)
		}
		// Each dry run names the rule it adds anew: call it the same.
		known := map[string]bool{}
		for _, c := range m.callers {
			gs, _ := m.state(ctx, c)
			for _, g := range gs {
				for _, r := range g.Rules {
					known[r.ID] = true
				}
			}
		}
		if d := findingsDiff(newRule(after, known), newRule(wantAfter, known)); d != "" {
			t.Fatalf("preview at step %d (%s), audit after: %s", step, what, d)
		}
	}
	if moved == 0 {
		t.Error("no audit was moved forward from an earlier one")
	}
	if unknown == 0 {
		t.Error("no rule of unknown standing: the test compares none")
	}
}

func findingsDiff(got, want []audit.Finding) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("finding %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("%d findings, want %d", len(got), len(want))
	}
	if (got == nil) != (want == nil) {
		return fmt.Sprintf("nil %v, want nil %v", got == nil, want == nil)
	}
	return ""
}

var ruleID = regexp.MustCompile(`sgr-[0-9a-z]+`)

// newRule names every rule not known "sgr-new" in the findings.
func newRule(fs []audit.Finding, known map[string]bool) []audit.Finding {
	rename := func(s string) string {
		return ruleID.ReplaceAllStringFunc(s, func(id string) string {
			if known[id] {
				return id
			}
			return "sgr-new"
		})
	}
	out := make([]audit.Finding, len(fs))
	for i, f := range fs {
		f.RuleID, f.Message, f.Fix = rename(f.RuleID), rename(f.Message), rename(f.Fix)
		out[i] = f
	}
	// The new rule's place among the findings follows its ID.
	slices.SortStableFunc(out, func(a, b audit.Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Check, b.Check), cmp.Compare(a.Resource, b.Resource),
			cmp.Compare(a.RuleID, b.RuleID), cmp.Compare(a.Message, b.Message))
	})
	return out
}
