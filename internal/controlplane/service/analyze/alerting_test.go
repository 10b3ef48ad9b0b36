package analyze

import (
	"context"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestPreviewKeepsAlertingFinding: SGA-032 (no alerting on changes) judges
// the server, not a resource, so a change to a group leaves it as it is.
// The findings after a change were kept by resource alone, which dropped
// it, and every preview in the console said the change resolved it.
func TestPreviewKeepsAlertingFinding(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	off, on := false, true
	rule := func(ctx context.Context, svc *service.Service) error {
		return svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: n.sgDB, Direction: model.Ingress,
			Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "443/443", SourceCidrIp: "192.168.0.0/16"}}})
	}
	for _, tc := range []struct {
		name     string
		alerting *bool
		want     bool // SGA-032 before and after
	}{
		{"no alerting", &off, true},
		{"alerting", &on, false},
		{"not known", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := audit.Options{ChangeAlerting: tc.alerting}
			has := func(fs []audit.Finding) bool {
				for _, f := range fs {
					if f.Check == "SGA-032" {
						return true
					}
				}
				return false
			}
			now, err := n.a.Audit(ctx, n.c, o)
			if err != nil {
				t.Fatal(err)
			}
			after, err := n.a.AuditAfter(ctx, n.c, rule, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			before, afterFrom, _, err := n.a.AuditAfterFrom(ctx, n.c, rule, o, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for what, fs := range map[string][]audit.Finding{"Audit": now.Findings, "AuditAfter": after,
				"AuditAfterFrom's before": before.Findings, "AuditAfterFrom's after": afterFrom} {
				if has(fs) != tc.want {
					t.Errorf("%s has SGA-032: %v, want %v", what, has(fs), tc.want)
				}
			}
		})
	}
}
