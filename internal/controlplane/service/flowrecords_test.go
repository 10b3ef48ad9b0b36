package service

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestFlowLogsReachTheirHosts: a host key's snapshot and watch carry the
// flow logs that cover its NICs, and only those.
func TestFlowLogsReachTheirHosts(t *testing.T) {
	e := newEnv(t)
	vpc, other := e.vpc(), e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	sg2 := e.group(CreateGroupInput{VpcID: other})
	a, b := e.instance(vpc, sg), e.instance(other, sg2)
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: a, HostName: "h1", Interface: "pi-a"}), "")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: b, HostName: "h2", Interface: "pi-b"}), "")
	fl, err := e.s.CreateFlowLog(e.ctx, CreateFlowLogInput{Caller: e.c, ResourceType: model.FlowLogVPC, ResourceID: vpc, TrafficType: model.TrafficAll, Name: "secret-name"})
	wantCode(t, err, "")

	flowLogs := func(host string) []*model.FlowLog {
		snap, err := e.s.GetSnapshot(e.ctx, Caller{Host: host})
		wantCode(t, err, "")
		return snap.FlowLogs
	}
	if got := flowLogs("h1"); len(got) != 1 || got[0].ID != fl.FlowLogId || got[0].Status != model.FlowLogActive || got[0].Name != "" {
		t.Fatalf("h1's snapshot: flow logs %+v, want %s without its name", got, fl.FlowLogId)
	}
	if got := flowLogs("h2"); len(got) != 0 {
		t.Fatalf("h2 holds nothing the flow log covers, but got %+v", got)
	}

	snap, err := e.s.GetSnapshot(e.ctx, Caller{Host: "h1"})
	wantCode(t, err, "")
	wantCode(t, e.s.DeactiveFlowLog(e.ctx, FlowLogRef{Caller: e.c, FlowLogID: fl.FlowLogId}), "")
	ch, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: Caller{Host: "h1"}, AfterRevision: snap.Revision, Wait: 5 * time.Second})
	wantCode(t, err, "")
	if len(ch.FlowLogs) != 1 || ch.FlowLogs[0].Status != model.FlowLogInactive {
		t.Fatalf("h1's watch after DeactiveFlowLog: %+v", ch)
	}
	wantCode(t, e.s.DeleteFlowLog(e.ctx, FlowLogRef{Caller: e.c, FlowLogID: fl.FlowLogId}), "")
	ch, err = e.s.WatchChanges(e.ctx, WatchInput{Caller: Caller{Host: "h1"}, AfterRevision: ch.Revision, Wait: 5 * time.Second})
	wantCode(t, err, "")
	if !slices.Contains(ch.Deleted, Deleted{Kind: string(KindFlowLog), Id: fl.FlowLogId}) {
		t.Fatalf("h1's watch after DeleteFlowLog: %+v", ch)
	}
}

// TestReportFlowRecords: a host ships records only for its own NICs and
// only what an active flow log covers; the server, not the host, says
// whose they are; tenants read only their own.
func TestReportFlowRecords(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	mine, theirs := e.instance(vpc, sg), e.instance(vpc, sg)
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: mine, HostName: "h1", Interface: "pi-a"}), "")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: theirs, HostName: "h2", Interface: "pi-b"}), "")
	_, err := e.s.CreateFlowLog(e.ctx, CreateFlowLogInput{Caller: e.c, ResourceType: model.FlowLogVPC, ResourceID: vpc, TrafficType: model.TrafficDrop})
	wantCode(t, err, "")
	stranger := Caller{Account: "1000000000000002", Region: e.c.Region}
	strangerGroup, err := e.s.CreateSecurityGroup(e.ctx, CreateGroupInput{Caller: stranger})
	wantCode(t, err, "")
	// A second group of the same tenant, which the NICs are not in.
	other := e.group(CreateGroupInput{VpcID: vpc})
	for _, g := range []string{sg, other} {
		wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: g, Direction: model.Ingress,
			Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "23/23", SourceCidrIp: "10.0.0.0/8", Policy: "drop"}}}), "")
	}
	sgRule, otherRule := e.load(sg).Rules[0].ID, e.load(other).Rules[0].ID
	wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "80/80", SourceCidrIp: "10.0.0.0/8"}}}), "")
	acceptRule := e.load(sg).Rules[1].ID

	now := e.s.Now().Unix()
	rec := func(eni, action string, edit func(r *FlowRecord)) FlowRecord {
		r := FlowRecord{EniId: eni, SrcAddr: "10.0.0.1", SrcPort: 40000, DstAddr: "192.168.1.10", DstPort: 22, Protocol: 6,
			Direction: "in", Packets: 1, Bytes: 60, Start: now, End: now, Action: action, LogStatus: "OK", TcpFlags: 2,
			Reason: "default inbound drop", AccountId: stranger.Account} // a host's AccountId is ignored
		if edit != nil {
			edit(&r)
		}
		return r
	}
	myENI, theirENI := model.DerivedID("eni", mine), model.DerivedID("eni", theirs)
	h1 := Caller{Host: "h1"}
	for _, tc := range []struct {
		name     string
		c        Caller
		host     string
		r        FlowRecord
		code     string
		accepted int
	}{
		{"a drop of its own NIC", h1, "h1", rec(myENI, "REJECT", nil), "", 1},
		{"an accept: the flow log records drops only", h1, "h1", rec(myENI, "ACCEPT", nil), "", 0},
		{"another host's NIC", h1, "h1", rec(theirENI, "REJECT", nil), "", 0},
		{"as another host", h1, "h2", rec(theirENI, "REJECT", nil), "Forbidden.HostMismatch", 0},
		{"another tenant's group named", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy = "rule", strangerGroup.SecurityGroupId, "sgr-x", 1, "Drop"
		}), "", 0},
		{"a bad address", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) { r.SrcAddr = "10.0.0.300" }), "", 0},
		{"terminal escapes for a rule ID", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupRuleId, r.Priority, r.Policy = "rule", "sgr-\x1b]0;pwned\a\x1b[2J", 1, "Drop"
		}), "", 0},
		{"an unknown reason", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) { r.Reason = "because" }), "", 0},
		{"its own group's rule", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy, r.DstPort = "rule", sg, sgRule, 1, "Drop", 23
		}), "", 1},
		{"a rule of the tenant's group the NIC is not in", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy = "rule", other, otherRule, 1, "Drop"
		}), "", 0},
		{"another group's rule under the NIC's group", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy = "rule", sg, otherRule, 1, "Drop"
		}), "", 0},
		{"a rule that does not exist", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy = "rule", sg, "sgr-nosuchrule", 1, "Drop"
		}), "", 0},
		{"a rule without its group", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupRuleId, r.Priority, r.Policy = "rule", sgRule, 1, "Drop"
		}), "", 0},
		// The entry a record names is the rule as it is: a host may not
		// show an accept rule dropping, nor give a rule another priority.
		{"an accept rule said to drop", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy, r.DstPort = "rule", sg, acceptRule, 1, "Drop", 80
		}), "", 0},
		{"a rule's priority forged", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy, r.DstPort = "rule", sg, sgRule, 50, "Drop", 23
		}), "", 0},
		{"a drop rule said to accept, with a REJECT", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy, r.DstPort = "rule", sg, sgRule, 1, "Accept", 23
		}), "", 0},
		{"a rule without its policy", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.DstPort = "rule", sg, sgRule, 1, 23
		}), "", 0},
		{"a default that names a group", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) { r.SecurityGroupId = sg }), "", 0},
		{"a default accept said to drop", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.Direction = "default outbound accept (basic group)", "out"
		}), "", 0},
		{"intra-group access with a rule", h1, "h1", rec(myENI, "REJECT", func(r *FlowRecord) {
			r.Reason, r.SecurityGroupId, r.SecurityGroupRuleId, r.Priority, r.Policy = "intra-group access", sg, sgRule, 1, "Drop"
		}), "", 0},
		{"a tenant is no host", e.c, "h1", rec(myENI, "REJECT", nil), "Forbidden.Operator", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.s.ReportFlowRecords(e.ctx, FlowReportInput{Caller: tc.c, HostName: tc.host, Records: []FlowRecord{tc.r}})
			wantCode(t, err, tc.code)
			if res.Accepted != tc.accepted {
				t.Errorf("accepted %d, want %d (%+v)", res.Accepted, tc.accepted, res)
			}
		})
	}
	_, err = e.s.ReportFlowRecords(e.ctx, FlowReportInput{Caller: h1, HostName: "h1", Records: make([]FlowRecord, MaxFlowRecordsPerReport+1)})
	wantCode(t, err, "InvalidParameter")

	got, err := e.s.DescribeFlowRecords(e.ctx, FlowRecordFilter{Caller: e.c, Page: Page{Tokens: true, Size: 50}})
	wantCode(t, err, "")
	if got.Total != 2 {
		t.Fatalf("the tenant reads %d records, want 2: %+v", got.Total, got.Items)
	}
	r := got.Items[0] // newest first
	if r.AccountId != e.c.Account || r.VmId != mine || r.VpcId != vpc || r.HostName != "h1" || r.SecurityGroupId != sg || r.Version != 1 {
		t.Errorf("record as stored: %+v", r)
	}
	for _, f := range []struct {
		name string
		in   FlowRecordFilter
		want int
	}{
		{"by group", FlowRecordFilter{GroupID: sg}, 1},
		{"by rule", FlowRecordFilter{RuleID: sgRule}, 1},
		{"by port", FlowRecordFilter{Port: 22}, 1},
		{"by instance", FlowRecordFilter{InstanceID: mine}, 2},
		{"by another instance", FlowRecordFilter{InstanceID: theirs}, 0},
		{"accepts", FlowRecordFilter{Action: "ACCEPT"}, 0},
		{"later", FlowRecordFilter{Since: time.Unix(now+60, 0)}, 0},
	} {
		f.in.Caller, f.in.Page = e.c, Page{Tokens: true, Size: 50}
		got, err := e.s.DescribeFlowRecords(e.ctx, f.in)
		wantCode(t, err, "")
		if got.Total != f.want {
			t.Errorf("%s: %d records, want %d", f.name, got.Total, f.want)
		}
	}
	if got, err := e.s.DescribeFlowRecords(e.ctx, FlowRecordFilter{Caller: stranger, Page: Page{Tokens: true, Size: 50}}); err != nil || got.Total != 0 {
		t.Errorf("another tenant reads %d records (%v)", got.Total, err)
	}
	_, err = e.s.DescribeFlowRecords(e.ctx, FlowRecordFilter{Caller: h1})
	wantCode(t, err, "Forbidden.OperatorKey")

	// Retention: the oldest go first.
	e.s.SetFlowRetention(FlowRetention{MaxRecords: 1})
	if got, _ := e.s.DescribeFlowRecords(e.ctx, FlowRecordFilter{Caller: e.c, Page: Page{Tokens: true, Size: 50}}); got.Total != 1 || got.Items[0].SecurityGroupId != sg {
		t.Errorf("after retention of 1: %+v", got.Items)
	}
	// The record the count cap dropped ended at now: the tenant's records
	// are complete only since then (flowstore tests the accounts apart).
	if got := e.s.FlowRecordsSince(e.c.Account); got.Before(time.Unix(now, 0)) {
		t.Errorf("complete since %v after the count cap dropped a record that ended at %v", got, time.Unix(now, 0))
	}
}

// TestFlowLogQuota: an account has at most model.MaxFlowLogs flow logs per
// region; the one over is refused and changes nothing.
func TestFlowLogQuota(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	in := CreateFlowLogInput{Caller: e.c, ResourceType: model.FlowLogVPC, ResourceID: vpc, TrafficType: model.TrafficAll}
	for range model.MaxFlowLogs {
		_, err := e.s.CreateFlowLog(e.ctx, in)
		wantCode(t, err, "")
	}
	_, err := e.s.CreateFlowLog(e.ctx, in)
	wantCode(t, err, "QuotaExceeded.FlowLog")
	got, err := e.s.DescribeFlowLogs(e.ctx, DescribeFlowLogsInput{Caller: e.c, Page: Page{Number: 1, Size: 50}})
	wantCode(t, err, "")
	if got.Total != model.MaxFlowLogs {
		t.Errorf("%d flow logs after the refused one, want %d", got.Total, model.MaxFlowLogs)
	}
}

// TestReportFlowRecordsToken: a batch sent again under its ClientToken is
// answered as the first time and kept once, even when the checks would
// judge it otherwise now (its flow log deleted since); the token with
// other records, or malformed, is refused.
func TestReportFlowRecordsToken(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	in := e.instance(vpc, sg)
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: in, HostName: "h1", Interface: "pi-a"}), "")
	fl, err := e.s.CreateFlowLog(e.ctx, CreateFlowLogInput{Caller: e.c, ResourceType: model.FlowLogVPC, ResourceID: vpc, TrafficType: model.TrafficDrop})
	wantCode(t, err, "")
	now := e.s.Now().Unix()
	rec := func(port int, action string) FlowRecord {
		return FlowRecord{EniId: model.DerivedID("eni", in), SrcAddr: "10.0.0.1", SrcPort: port, DstAddr: "192.168.1.10", DstPort: 22, Protocol: 6,
			Direction: "in", Packets: 1, Bytes: 60, Start: now, End: now, Action: action, LogStatus: "OK", Reason: "default inbound drop"}
	}
	batch := []FlowRecord{rec(1, "REJECT"), rec(2, "REJECT"), rec(3, "ACCEPT")} // the flow log records drops only
	report := func(token string, recs []FlowRecord) (FlowReportResult, error) {
		return e.s.ReportFlowRecords(e.ctx, FlowReportInput{Caller: Caller{Host: "h1"}, HostName: "h1", Records: recs, Idem: Idempotency{ClientToken: token}})
	}
	count := func() int {
		got, err := e.s.DescribeFlowRecords(e.ctx, FlowRecordFilter{Caller: e.c, Page: Page{Tokens: true, Size: 50}})
		wantCode(t, err, "")
		return got.Total
	}
	first := FlowReportResult{Accepted: 2, Refused: 1}
	for _, tc := range []struct {
		name   string
		before func()
		token  string
		recs   []FlowRecord
		code   string
		want   FlowReportResult
	}{
		{"first sending", nil, "agent-1", batch, "", first},
		{"sent again", nil, "agent-1", batch, "", first},
		{"sent again after its flow log went", func() {
			wantCode(t, e.s.DeleteFlowLog(e.ctx, FlowLogRef{Caller: e.c, FlowLogID: fl.FlowLogId}), "")
		}, "agent-1", batch, "", first},
		{"the token with other records", nil, "agent-1", batch[:1], "IdempotentParameterMismatch", FlowReportResult{}},
		{"a malformed token", nil, strings.Repeat("x", MaxClientToken+1), batch, "InvalidClientToken.Malformed", FlowReportResult{}},
	} {
		if tc.before != nil {
			tc.before()
		}
		res, err := report(tc.token, tc.recs)
		wantCode(t, err, tc.code)
		if res != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, res, tc.want)
		}
		if n := count(); n != 2 {
			t.Fatalf("%s: the tenant reads %d records, want the batch's 2, once", tc.name, n)
		}
	}
}

// TestReportFlowRecordsAcrossRegions: one report of a host with NICs of
// one tenant in two regions keeps the records of both, each judged by the
// flow logs of its own region. The flow logs read for a NIC were kept by
// owner alone, so the second region's NICs were judged by the first's
// flow logs and refused.
func TestReportFlowRecordsAcrossRegions(t *testing.T) {
	e := newEnv(t)
	other := *e
	other.c.Region = "cn-shanghai"
	var enis []string
	for _, r := range []*env{e, &other} {
		vpc := r.vpc()
		inst := r.instance(vpc)
		wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: inst, HostName: "h1", Interface: "pi-" + r.c.Region[3:6]}), "")
		_, err := e.s.CreateFlowLog(e.ctx, CreateFlowLogInput{Caller: r.c, ResourceType: model.FlowLogVPC, ResourceID: vpc, TrafficType: model.TrafficDrop})
		wantCode(t, err, "")
		enis = append(enis, model.DerivedID("eni", inst))
	}
	now := e.s.Now().Unix()
	var recs []FlowRecord
	for _, eni := range enis {
		recs = append(recs, FlowRecord{EniId: eni, SrcAddr: "10.0.0.1", SrcPort: 40000, DstAddr: "192.168.1.10", DstPort: 22, Protocol: 6,
			Direction: "in", Packets: 1, Bytes: 60, Start: now, End: now, Action: "REJECT", LogStatus: "OK", Reason: "default inbound drop"})
	}
	res, err := e.s.ReportFlowRecords(e.ctx, FlowReportInput{Caller: Caller{Host: "h1"}, HostName: "h1", Records: recs})
	wantCode(t, err, "")
	if res.Accepted != 2 {
		t.Errorf("accepted %d of the records of two regions' NICs, want 2 (%+v)", res.Accepted, res)
	}
}
