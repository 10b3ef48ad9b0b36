package analyze

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestAuditFlowLogs: the server's audit judges SGA-033 and SGA-034 on the
// caller's flow logs and the records the server keeps: a VPC with an
// instance open to the internet and no flow log is reported, then not once
// a flow log covers it; a rule of a covered group that no record names is
// a review candidate (never a removal candidate while the flow log has not
// covered the whole window), and one a record names is not reported.
func TestAuditFlowLogs(t *testing.T) {
	n := newNet(t)
	ctx := context.Background()
	svc := n.svc
	// web gets a public address and HTTPS from anywhere.
	in, err := service.View(svc, ctx, func(tx store.ReadTx) (*model.Instance, error) { return service.GetInstance(tx, n.c, n.web) })
	if err != nil {
		t.Fatal(err)
	}
	sgWeb := in.SecurityGroups[0]
	if err := svc.Authorize(ctx, service.RulesInput{Caller: n.c, SecurityGroupID: sgWeb, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", Description: "https"}}}); err != nil {
		t.Fatal(err)
	}
	eip, err := svc.AllocateEipAddress(ctx, service.AllocateEipInput{Caller: n.c})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.AssociateEipAddress(ctx, service.EipInput{Caller: n.c, AllocationID: eip.AllocationId, InstanceID: n.web}); err != nil {
		t.Fatal(err)
	}
	findings := func(check string) []audit.Finding {
		t.Helper()
		a, err := n.a.Audit(ctx, n.c, audit.Options{UnusedRuleDays: 1})
		if err != nil {
			t.Fatal(err)
		}
		var out []audit.Finding
		for _, f := range a.Findings {
			if f.Check == check {
				out = append(out, f)
			}
		}
		// The console's audit (AuditFrom) shows the same.
		cons, _, err := n.a.AuditFrom(ctx, n.c, audit.Options{UnusedRuleDays: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := findingsDiff(cons.Findings, a.Findings); d != "" || cons.Worst != a.Worst {
			t.Fatalf("%s: the console's audit differs from Audit: %s", check, d)
		}
		return out
	}
	if got := findings("SGA-033"); len(got) != 1 || got[0].Resource != in.VpcID {
		t.Fatalf("SGA-033 without a flow log: %+v", got)
	}
	if got := findings("SGA-034"); len(got) != 0 {
		t.Fatalf("SGA-034 without a flow log (nothing known): %+v", got)
	}
	// Another tenant sees neither.
	if a, err := n.a.Audit(ctx, service.Caller{Account: "1000000000000002", Region: n.c.Region}, audit.Options{}); err != nil || len(a.Findings) != 0 {
		t.Fatalf("another tenant's audit: %+v, %v", a.Findings, err)
	}

	if _, err := svc.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: n.c, ResourceType: model.FlowLogVPC, ResourceID: in.VpcID, TrafficType: model.TrafficAll}); err != nil {
		t.Fatal(err)
	}
	if got := findings("SGA-033"); len(got) != 0 {
		t.Fatalf("SGA-033 with a flow log: %+v", got)
	}
	got := findings("SGA-034")
	if len(got) == 0 || slices.ContainsFunc(got, func(f audit.Finding) bool { return f.Check == "SGA-034" && !strings.Contains(f.Message, "no evidence") }) {
		t.Fatalf("SGA-034 with a flow log younger than the window: want review candidates only, got %+v", got)
	}
	g, err := service.View(svc, ctx, func(tx store.ReadTx) (*model.SecurityGroup, error) { return service.GetGroup(tx, n.c, sgWeb) })
	if err != nil {
		t.Fatal(err)
	}
	https := g.Rules[len(g.Rules)-1].ID
	if !slices.ContainsFunc(got, func(f audit.Finding) bool { return f.RuleID == https }) {
		t.Fatalf("SGA-034: the rule no record names is not reported: %+v", got)
	}
	// A record naming the HTTPS rule: it is no longer reported.
	if err := svc.BindInstance(ctx, service.BindInput{Caller: service.Caller{Operator: true}, InstanceID: n.web, HostName: "h1", Interface: "pi-web"}); err != nil {
		t.Fatal(err)
	}
	now := svc.Now().Unix()
	res, err := svc.ReportFlowRecords(ctx, service.FlowReportInput{Caller: service.Caller{Host: "h1"}, HostName: "h1", Records: []service.FlowRecord{{
		EniId: model.DerivedID("eni", n.web), SrcAddr: "8.8.8.8", SrcPort: 5000, DstAddr: "192.168.1.10", DstPort: 443, Protocol: 6, Direction: "in",
		Packets: 3, Bytes: 200, Start: now, End: now, Action: "ACCEPT", LogStatus: "OK", Reason: "rule", SecurityGroupId: sgWeb,
		SecurityGroupRuleId: https, Priority: 1, Policy: "Accept"}}})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("shipping a record: %+v, %v", res, err)
	}
	if got := findings("SGA-034"); slices.ContainsFunc(got, func(f audit.Finding) bool { return f.RuleID == https }) {
		t.Fatalf("SGA-034 reports a rule a record named: %+v", got)
	}
}
