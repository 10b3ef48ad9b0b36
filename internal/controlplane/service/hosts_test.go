package service

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestHostActions(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	inst := e.instance(vpc, sg)
	other := Caller{Account: "1000000000000002", Region: e.c.Region}

	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: other, InstanceID: inst, HostName: "h1", Interface: "pi-a"}), "Forbidden.Operator")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: inst, HostName: "h1"}), "InvalidParameter")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: inst, HostName: "h1", Interface: "pi-a"}), "")

	snap, err := e.s.GetSnapshot(e.ctx, e.op)
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
		ch, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: e.op, AfterRevision: snap.Revision, Wait: 30 * time.Second,
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
		wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.op, Progress: HostProgress{HostName: rep.host, AppliedRevision: r.ch.Revision},
			Counters: map[string]RuleCounter{sg + "/" + rule: {Packets: rep.n}}}), "")
	}
	wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.op}), "MissingParameter")
	_, counts, err := e.s.DescribeRuleCounters(e.ctx, e.c, sg)
	wantCode(t, err, "")
	if len(counts) != 1 || counts[0].Packets != 6 {
		t.Fatalf("counters %+v, want 6 packets", counts)
	}
}

// TestHostKeyActsOnlyForItsHost: a host key binds, unbinds, reports and
// watches only for its own host, takes nothing another host holds, and
// reads only its host's scope; the operator (either way it is named) still
// acts for every host.
func TestHostKeyActsOnlyForItsHost(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	mine, theirs, free := e.instance(vpc, sg), e.instance(vpc, sg), e.instance(vpc)
	h1, h2 := Caller{Host: "h1"}, Caller{Host: "h2"}
	op := Caller{Operator: true}
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: theirs, HostName: "h2", Interface: "pi-t"}), "")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"take a free instance", e.s.BindInstance(e.ctx, BindInput{Caller: h1, InstanceID: free, HostName: "h1", Interface: "pi-f"}), "InvalidInstanceId.NotFound"},
		{"the operator places one on h1", e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: mine, HostName: "h1", Interface: "pi-0"}), ""},
		{"move own instance to another interface", e.s.BindInstance(e.ctx, BindInput{Caller: h1, InstanceID: mine, HostName: "h1", Interface: "pi-m"}), ""},
		{"bind to another host", e.s.BindInstance(e.ctx, BindInput{Caller: h1, InstanceID: free, HostName: "h2", Interface: "pi-f"}), "Forbidden.HostMismatch"},
		{"take another host's instance", e.s.BindInstance(e.ctx, BindInput{Caller: h1, InstanceID: theirs, HostName: "h1", Interface: "pi-x"}), "InvalidInstanceId.NotFound"},
		{"unbind another host's instance", e.s.BindInstance(e.ctx, BindInput{Caller: h1, InstanceID: theirs}), "InvalidInstanceId.NotFound"},
		// Another host's primary ENI is as one that does not exist: the
		// answer told a host which ENI IDs existed elsewhere.
		{"take another host's primary ENI", e.s.BindInstance(e.ctx, BindInput{Caller: h1, NetworkInterfaceID: model.DerivedID("eni", theirs), HostName: "h1", Interface: "pi-x"}), "InvalidEniId.NotFound"},
		{"take a free primary ENI", e.s.BindInstance(e.ctx, BindInput{Caller: h1, NetworkInterfaceID: model.DerivedID("eni", free), HostName: "h1", Interface: "pi-x"}), "InvalidEniId.NotFound"},
		{"a primary ENI that does not exist", e.s.BindInstance(e.ctx, BindInput{Caller: h1, NetworkInterfaceID: "eni-nosuch", HostName: "h1", Interface: "pi-x"}), "InvalidEniId.NotFound"},
		{"report for another host", e.s.ReportHostStatus(e.ctx, ReportInput{Caller: h1, Progress: HostProgress{HostName: "h2", AppliedRevision: 1}}), "Forbidden.HostMismatch"},
		{"report for own host", e.s.ReportHostStatus(e.ctx, ReportInput{Caller: h1, Progress: HostProgress{HostName: "h1", AppliedRevision: 1}}), ""},
		{"watch as another host", func() error {
			_, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: h1, Progress: HostProgress{HostName: "h2"}})
			return err
		}(), "Forbidden.HostMismatch"},
		{"a tenant is no host", e.s.BindInstance(e.ctx, BindInput{Caller: Caller{Account: "1000000000000002"}, InstanceID: free, HostName: "h1", Interface: "pi-f"}), "Forbidden.Operator"},
		{"the operator binds anywhere", e.s.BindInstance(e.ctx, BindInput{Caller: op, InstanceID: free, HostName: "h2", Interface: "pi-f"}), ""},
		{"the operator moves a bound instance", e.s.BindInstance(e.ctx, BindInput{Caller: op, InstanceID: free, HostName: "h3", Interface: "pi-f"}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err, tc.want) })
	}
	scoped := func(c Caller) []string {
		snap, err := e.s.GetSnapshot(e.ctx, c)
		wantCode(t, err, "")
		var ids []string
		for _, in := range snap.Instances {
			ids = append(ids, in.ID+"@"+in.Host)
		}
		return ids
	}
	// h1 holds mine; theirs shares its (inner-accept) group, so h1 gets it
	// as a stub without its placement; free is in no group of h1's.
	if got, want := scoped(h1), []string{mine + "@h1", theirs + "@"}; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("h1's snapshot holds %v, want %v", got, want)
	}
	if got := scoped(h2); !slices.Contains(got, theirs+"@h2") || slices.Contains(got, free+"@h3") {
		t.Errorf("h2's snapshot holds %v", got)
	}
	if got := scoped(op); len(got) != 3 {
		t.Errorf("the operator's snapshot holds %v, want every instance", got)
	}
}

// TestHostWatchWaitsPastOtherHosts: a host's long poll is not answered for
// a change outside what it enforces (the server notes that the host is
// current through it instead), and is answered at once for one inside.
func TestHostWatchWaitsPastOtherHosts(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	mineSG, otherSG := e.group(CreateGroupInput{VpcID: vpc}), e.group(CreateGroupInput{VpcID: vpc})
	mine, other := e.instance(vpc, mineSG), e.instance(vpc, otherSG)
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: mine, HostName: "h1", Interface: "pi-m"}), "")
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: other, HostName: "h2", Interface: "pi-o"}), "")
	h1 := Caller{Host: "h1"}
	snap, err := e.s.GetSnapshot(e.ctx, h1)
	wantCode(t, err, "")
	type result struct {
		ch  Changes
		err error
	}
	done := make(chan result, 1)
	go func() {
		ch, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: h1, AfterRevision: snap.Revision, Wait: 30 * time.Second,
			Progress: HostProgress{HostName: "h1", AppliedRevision: snap.Revision}})
		done <- result{ch, err}
	}()
	rule := func(sg string) error {
		return e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress,
			Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}})
	}
	wantCode(t, rule(otherSG), "")
	irrelevant, err := e.s.Store.Revision(e.ctx)
	wantCode(t, err, "")
	for deadline := time.Now().Add(10 * time.Second); e.s.AppliedRevision("h1") < irrelevant; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("h1 is not noted current through revision %d (at %d)", irrelevant, e.s.AppliedRevision("h1"))
		}
	}
	select {
	case r := <-done:
		t.Fatalf("answered for another host's change: %+v, %v", r.ch, r.err)
	default:
	}
	wantCode(t, rule(mineSG), "")
	select {
	case r := <-done:
		wantCode(t, r.err, "")
		if len(r.ch.Groups) != 1 || r.ch.Groups[0].ID != mineSG || len(r.ch.Instances)+len(r.ch.Deleted) != 0 {
			t.Errorf("answer %+v, want only %s", r.ch, mineSG)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer for a change of the host's own group")
	}
}

// TestAppliedRevisionBounded: a host's applied revision only rises, so one
// reported beyond the store's revision (or below zero) would stick: the
// host would read as current however far behind its agent falls. A status
// report of one is refused; a watch carrying one answers as ever (an
// agent ahead of a replaced store needs its Resync) but does not note it.
func TestAppliedRevisionBounded(t *testing.T) {
	e := newEnv(t)
	e.vpc()
	rev, err := e.s.Store.Revision(e.ctx)
	wantCode(t, err, "")
	wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.op, Progress: HostProgress{HostName: "h1", AppliedRevision: rev}}), "")
	for _, applied := range []int64{rev + 1, rev + 1000, 1<<63 - 1, -1} {
		p := HostProgress{HostName: "h1", AppliedRevision: applied}
		_, werr := e.s.WatchChanges(e.ctx, WatchInput{Caller: e.op, AfterRevision: rev, Progress: p})
		for _, tc := range []struct {
			name string
			err  error
			want string
		}{
			{"report", e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.op, Progress: p}), "InvalidParameter"},
			{"watch", werr, ""},
		} {
			wantCode(t, tc.err, tc.want)
			if got := e.s.AppliedRevision("h1"); got != rev {
				t.Fatalf("%s of revision %d: h1's applied revision is %d, want %d", tc.name, applied, got, rev)
			}
		}
	}
}

// TestWatchDoesNotTrustAnAppliedRevisionBeyond: a host's watch that
// carries an applied revision beyond the store's is not taken as the host
// enforcing its AfterRevision: after changes outside the host's scope it
// stays at what it last reported (it was noted at the view's revision,
// current however far behind its agent was).
func TestWatchDoesNotTrustAnAppliedRevisionBeyond(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	mineSG, otherSG := e.group(CreateGroupInput{VpcID: vpc}), e.group(CreateGroupInput{VpcID: vpc})
	mine := e.instance(vpc, mineSG)
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: mine, HostName: "h1", Interface: "pi-m"}), "")
	h1 := Caller{Host: "h1"}
	snap, err := e.s.GetSnapshot(e.ctx, h1)
	wantCode(t, err, "")
	wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: h1, Progress: HostProgress{HostName: "h1", AppliedRevision: 1}}), "")
	// Changes h1 does not enforce.
	wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: otherSG, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}}), "")
	for _, applied := range []int64{1 << 62, -5} {
		ch, err := e.s.WatchChanges(e.ctx, WatchInput{Caller: h1, AfterRevision: snap.Revision, Wait: 20 * time.Millisecond,
			Progress: HostProgress{HostName: "h1", AppliedRevision: applied}})
		wantCode(t, err, "")
		if ch.Resync || len(ch.Groups) > 0 || len(ch.Instances) > 0 {
			t.Fatalf("a watch past changes outside h1's scope answered: %+v", ch)
		}
		if got := e.s.AppliedRevision("h1"); got != 1 {
			t.Errorf("after a watch claiming %d: h1's applied revision is %d, want the 1 it reported", applied, got)
		}
	}
}

// TestHostCountersOnlyForItsGroups: a host key's counters count only for
// the rules of the groups its host enforces: another group's (another
// tenant's, whose rule IDs a host's agent may learn as peers) stay
// unreported, so no host can make a rule it never ran look used.
func TestHostCountersOnlyForItsGroups(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	mine, other := e.group(CreateGroupInput{VpcID: vpc}), e.group(CreateGroupInput{VpcID: vpc})
	inst := e.instance(vpc, mine)
	for _, sg := range []string{mine, other} {
		wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress,
			Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}}), "")
	}
	wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: inst, HostName: "h1", Interface: "pi-a"}), "")
	counters := map[string]RuleCounter{}
	ruleOf := map[string]string{}
	for _, sg := range []string{mine, other} {
		_, counts, err := e.s.DescribeRuleCounters(e.ctx, e.c, sg)
		wantCode(t, err, "")
		ruleOf[sg] = counts[0].Rule.ID
		counters[sg+"/"+counts[0].Rule.ID] = RuleCounter{Packets: 7}
	}
	// Rules that do not exist, under the host's own group: not kept.
	for i := range 3 {
		counters[fmt.Sprintf("%s/sgr-madeup%d", mine, i)] = RuleCounter{Packets: 1}
	}
	rev, err := e.s.Store.Revision(e.ctx)
	wantCode(t, err, "")
	wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: Caller{Host: "h1"}, Progress: HostProgress{HostName: "h1", AppliedRevision: rev}, Counters: counters}), "")
	e.s.hosts.mu.Lock()
	kept := slices.Sorted(maps.Keys(e.s.hosts.hosts["h1"].Counters))
	e.s.hosts.mu.Unlock()
	if want := []string{mine + "/" + ruleOf[mine]}; !slices.Equal(kept, want) {
		t.Errorf("h1's counters kept %v; want only %v", kept, want)
	}
	for sg, want := range map[string]int{mine: 1, other: 0} {
		_, counts, err := e.s.DescribeRuleCounters(e.ctx, e.c, sg)
		wantCode(t, err, "")
		if counts[0].Hosts != want || counts[0].Packets != uint64(7*want) {
			t.Errorf("%s: rule %s counted by %d hosts, %d packets; want %d hosts", sg, ruleOf[sg], counts[0].Hosts, counts[0].Packets, want)
		}
	}
	// The operator's key (an agent run with it) is trusted with any.
	wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.op, Progress: HostProgress{HostName: "h2", AppliedRevision: rev}, Counters: counters}), "")
	if _, counts, _ := e.s.DescribeRuleCounters(e.ctx, e.c, other); counts[0].Hosts != 1 {
		t.Errorf("the operator's report of %s: %d hosts, want 1", other, counts[0].Hosts)
	}
}

// TestHostCountersSaturate: the hosts' counts of a rule add up without
// wrapping: each host's are its own to give, and two of 2^63 made a rule
// every host ran read as never matched.
func TestHostCountersSaturate(t *testing.T) {
	e := newEnv(t)
	vpc := e.vpc()
	sg := e.group(CreateGroupInput{VpcID: vpc})
	wantCode(t, e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: sg, Direction: model.Ingress,
		Permissions: []model.RuleInput{{IpProtocol: "tcp", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}}), "")
	rule := e.load(sg).Rules[0].ID
	rev, err := e.s.Store.Revision(e.ctx)
	wantCode(t, err, "")
	for _, h := range []string{"h1", "h2"} {
		wantCode(t, e.s.BindInstance(e.ctx, BindInput{Caller: e.op, InstanceID: e.instance(vpc, sg), HostName: h, Interface: "pi-a"}), "")
		if rev, err = e.s.Store.Revision(e.ctx); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: Caller{Host: h}, Progress: HostProgress{HostName: h, AppliedRevision: rev},
			Counters: map[string]RuleCounter{sg + "/" + rule: {Packets: 1 << 63, Bytes: 1 << 63}}}), "")
	}
	_, counts, err := e.s.DescribeRuleCounters(e.ctx, e.c, sg)
	wantCode(t, err, "")
	if c := counts[0]; c.Hosts != 2 || c.Packets != math.MaxUint64 || c.Bytes != math.MaxUint64 {
		t.Errorf("rule counted by %d hosts, %d packets, %d bytes; want 2 hosts and both saturated", c.Hosts, c.Packets, c.Bytes)
	}
}

// TestReportWhileHostForgotten: a host deregistered (DeregisterHost forgets
// it) between a status report's heartbeat and its counters left the report
// storing counters into a host no longer in the table: a nil dereference
// that took the request down. The clock the heartbeat reads stands in for
// the deregistration landing there.
func TestReportWhileHostForgotten(t *testing.T) {
	e := newEnv(t)
	rev, err := e.s.Store.Revision(e.ctx)
	wantCode(t, err, "")
	for _, tc := range []struct {
		name     string
		counters map[string]RuleCounter
	}{
		{"status only", nil},
		{"with counters", map[string]RuleCounter{"sg-x/r-x": {Packets: 1, Bytes: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.op, Progress: HostProgress{HostName: "h1", AppliedRevision: rev}}), "")
			now := e.s.Now
			e.s.Now = func() time.Time { e.s.hosts.forget("h1"); return now() }
			defer func() { e.s.Now = now }()
			wantCode(t, e.s.ReportHostStatus(e.ctx, ReportInput{Caller: e.op, Progress: HostProgress{HostName: "h1", AppliedRevision: rev}, Counters: tc.counters}), "")
		})
	}
}
