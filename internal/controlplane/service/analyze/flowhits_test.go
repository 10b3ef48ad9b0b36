package analyze

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// otherServers stands for the other servers of an installation (package
// peers, which the cluster tests run for real).
type otherServers struct {
	parts   []service.HitsPart
	missing []string
}

func (o otherServers) FlowHitParts(context.Context, service.HitsFilter) ([]service.HitsPart, []string) {
	return o.parts, o.missing
}

// TestAuditFlowHitsElsewhere: on an installation of several servers, the
// audit's SGA-034 counts the hits of every server: a rule hit only
// through another server is not reported; with a server missing, or one
// whose records are complete only since inside the window, a rule
// without a hit is a review candidate ("no evidence"), never a removal
// candidate, and the audit names the missing server.
func TestAuditFlowHitsElsewhere(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	svc := n.svc
	in, err := service.View(svc, ctx, func(tx store.ReadTx) (*model.Instance, error) { return service.GetInstance(tx, n.c, n.web) })
	if err != nil {
		t.Fatal(err)
	}
	sgWeb := in.SecurityGroups[0]
	if err := svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: sgWeb, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", Description: "https"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: n.c, ResourceType: model.FlowLogVPC, ResourceID: in.VpcID, TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	g, err := service.View(svc, ctx, func(tx store.ReadTx) (*model.SecurityGroup, error) { return service.GetGroup(tx, n.c, sgWeb) })
	if err != nil {
		t.Fatal(err)
	}
	https := sgWeb + "/" + g.Rules[len(g.Rules)-1].ID
	svc.FlowRecordsSince(n.c.Account) // the record store begins now
	// Three days on, the flow log has covered the whole window of a day.
	later := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	svc.Now = func() time.Time { return later }

	for _, tc := range []struct {
		name    string
		peers   service.PeerHits // nil: one server alone
		want    string           // SGA-034 on the HTTPS rule: "" none, "removal" or "no evidence"
		missing []string
	}{
		{"one server", nil, "removal", nil},
		{"hit through another server", otherServers{parts: []service.HitsPart{{Server: "s2",
			Hits: map[string]service.RuleHit{https: {Flows: 1, Packets: 3, Bytes: 200, LastHit: later.Add(-time.Hour).Unix()}}}}}, "", nil},
		{"an old hit through another server", otherServers{parts: []service.HitsPart{{Server: "s2",
			Hits: map[string]service.RuleHit{https: {Flows: 1, LastHit: later.Add(-48 * time.Hour).Unix()}}}}}, "removal", nil},
		{"another server missing", otherServers{missing: []string{"s3"}}, "no evidence", []string{"s3"}},
		{"another server complete only lately", otherServers{parts: []service.HitsPart{{Server: "s2", CompleteSince: later.Add(-time.Hour)}}}, "no evidence", nil},
	} {
		svc.PeerHits = tc.peers
		for _, run := range []string{"Audit", "AuditFrom"} {
			var a Audit
			if run == "Audit" {
				a, err = n.a.Audit(ctx, n.c, audit.Options{UnusedRuleDays: 1})
			} else {
				a, _, err = n.a.AuditFrom(ctx, n.c, audit.Options{UnusedRuleDays: 1}, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, f := range a.Findings {
				if f.Check == "SGA-034" && f.Resource+"/"+f.RuleID == https {
					got = "no evidence"
					if strings.Contains(f.Message, "candidate for removal") {
						got = "removal"
					}
				}
			}
			if got != tc.want || !slices.Equal(a.PalisadeMissingServers, tc.missing) {
				t.Errorf("%s, %s: SGA-034 on the HTTPS rule %q, missing %v; want %q, missing %v", tc.name, run, got, a.PalisadeMissingServers, tc.want, tc.missing)
			}
		}
	}
}
