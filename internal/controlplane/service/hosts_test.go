package service

import (
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestHostActions(t *testing.T) {
	e := newEnv(t) // the env's account is the first: the operator
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	inst := e.instance(vpc, sg)
	other := Caller{Account: "1000000000000002", Region: e.c.Region}

	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: other, InstanceID: inst, HostName: "h1", Interface: "pi-a"}), "Forbidden.Operator")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.c, InstanceID: inst, HostName: "h1"}), "InvalidParameter")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.c, InstanceID: inst, HostName: "h1", Interface: "pi-a"}), "")

	snap, err := e.s.GetSnapshot(e.ctx, e.c)
	wantCode(t, err, "")
	if len(snap.Groups) != 1 || len(snap.Instances) != 1 || snap.Instances[0].Host != "h1" {
		t.Fatalf("snapshot: %d groups, instances %+v", len(snap.Groups), snap.Instances)
	}

	// A watch waits for the next change and carries it (whether it started
	// waiting before the write or not, the answer is the same).
	type result struct {
		ch  Changes
		err error
	}
	done := make(chan result, 1)
	go func() {
		ch, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: e.c, AfterRevision: snap.Revision, Wait: 30 * time.Second,
			Progress: HostProgress{HostName: "h1", AppliedRevision: snap.Revision}})
		done <- result{ch, err}
	}()
	wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}}), "")
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not wake on a change")
	}
	wantCode(t, r.err, "")
	if r.ch.Revision != snap.Revision+1 || len(r.ch.Groups) != 1 || len(r.ch.Groups[0].Rules) != 1 {
		t.Fatalf("changes: %+v", r.ch)
	}
	if got := e.s.AppliedRevision("h1"); got != snap.Revision {
		t.Fatalf("applied revision of h1: %d, want %d", got, snap.Revision)
	}

	// Counters add up over hosts; a host's report replaces its last.
	rule := r.ch.Groups[0].Rules[0].ID
	for _, rep := range []struct {
		host string
		n    uint64
	}{{"h1", 3}, {"h2", 2}, {"h1", 4}} {
		wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.c, Progress: HostProgress{HostName: rep.host, AppliedRevision: r.ch.Revision},
			Counters: map[string]RuleCounter{sg + "/" + rule: {Packets: rep.n}}}), "")
	}
	wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.c}), "MissingParameter")
	_, counts, err := e.s.DescribeRuleCounters(e.ctx, e.c, sg)
	wantCode(t, err, "")
	if len(counts) != 1 || counts[0].Packets != 6 {
		t.Fatalf("counters %+v, want 6 packets", counts)
	}
}
