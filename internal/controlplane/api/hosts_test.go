package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

func TestBindInstanceAndDescribe(t *testing.T) {
	e := newEnv(t)
	vpc := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	vsw := e.mkVSwitch(vpc, "192.168.1.0/24")
	sg := e.newGroup(map[string]string{"VpcId": vpc})
	ids := runIDs(e, map[string]string{"VSwitchId": vsw, "SecurityGroupId": sg, "Amount": "2"})

	e.operator().ecs("PalisadeBindInstance", map[string]string{"InstanceId": ids[0], "HostName": "h1", "Interface": "pi-a"})
	// Binding another instance to the same interface of the host is refused.
	e.operator().ecsErr("InvalidInterface.InUse", http.StatusBadRequest, "PalisadeBindInstance", map[string]string{"InstanceId": ids[1], "HostName": "h1", "Interface": "pi-a"})
	for _, tt := range []struct {
		name   string
		params map[string]string
		code   string
		status int
	}{
		{"no instance", map[string]string{"HostName": "h1", "Interface": "pi-b"}, "MissingParameter", 400},
		{"unknown instance", map[string]string{"InstanceId": "i-nothere", "HostName": "h1", "Interface": "pi-b"}, "InvalidInstanceId.NotFound", 404},
		{"host without interface", map[string]string{"InstanceId": ids[1], "HostName": "h1"}, "InvalidParameter", 400},
		{"interface too long", map[string]string{"InstanceId": ids[1], "HostName": "h1", "Interface": "a-very-long-interface"}, "InvalidParameter", 400},
		{"bad host", map[string]string{"InstanceId": ids[1], "HostName": "h 1", "Interface": "pi-b"}, "InvalidParameter", 400},
	} {
		t.Run(tt.name, func(t *testing.T) { e.operator().ecsErr(tt.code, tt.status, "PalisadeBindInstance", tt.params) })
	}
	// Only the operator may bind.
	o := e.otherAccount()
	o.ecsErr("Forbidden.Operator", http.StatusForbidden, "PalisadeBindInstance", map[string]string{"InstanceId": ids[1], "HostName": "h1", "Interface": "pi-b"})

	// DescribeInstances shows the host, and whether its agent has applied
	// the instance's last change: not the revision, which counts every
	// tenant's writes.
	desc := func() instanceItem {
		out := e.ecs("DescribeInstances", map[string]string{"InstanceIds": `["` + ids[0] + `"]`}).(*describeInstancesResponse)
		return out.Instances.Instance[0]
	}
	attr := func() bool {
		return e.ecs("DescribeInstanceAttribute", map[string]string{"InstanceId": ids[0]}).(*describeInstanceAttributeResponse).PalisadePolicyInForce
	}
	report := func() {
		rev, err := e.s.Store.Revision(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.operator().ecs("PalisadeReportHostStatus", map[string]string{"HostName": "h1", "AppliedRevision": strconv.FormatInt(rev, 10)})
	}
	for _, step := range []struct {
		name string
		do   func()
		want bool
	}{
		{"before any report", func() {}, false},
		{"after a report of the current revision", report, true},
		{"after another tenant's write", func() { o.newGroup(map[string]string{}) }, true},
		{"after a rule of its group changed", func() {
			e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"})
		}, false},
		{"after the agent reported it", report, true},
		{"after it joined another group", func() {
			sg2 := e.newGroup(map[string]string{"VpcId": vpc})
			report()
			e.ecs("JoinSecurityGroup", map[string]string{"InstanceId": ids[0], "SecurityGroupId": sg2})
		}, false},
		{"after a prefix list its group's rule names changed", func() {
			pl := plCreate(e, map[string]string{"Entry.1.Cidr": "10.0.0.0/8"})
			e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "tcp", "PortRange": "23/23", "SourcePrefixListId": pl})
			report()
			e.ecs("ModifyPrefixList", map[string]string{"PrefixListId": pl, "AddEntry.1.Cidr": "11.0.0.0/8"})
		}, false},
		{"after a port range list its group's rule names changed", func() {
			prl := e.ecs("CreatePortRangeList", map[string]string{"PortRangeListName": "web", "MaxEntries": "10",
				"Entry.1.PortRange": "80/80"}).(*createPortRangeListResponse).PortRangeListId
			e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "tcp", "PortRangeListId": prl, "SourceCidrIp": "10.0.0.0/8"})
			report()
			e.ecs("ModifyPortRangeList", map[string]string{"PortRangeListId": prl, "AddEntry.1.PortRange": "81/81"})
		}, false},
	} {
		step.do()
		if it := desc(); it.PalisadeHost != "h1" || it.PalisadePolicyInForce != step.want || attr() != step.want {
			t.Fatalf("%s: host %q, in force %v (attribute %v), want %v", step.name, it.PalisadeHost, it.PalisadePolicyInForce, attr(), step.want)
		}
	}
	// The operator sees the revision itself.
	e.operator().ecs("PalisadeRegisterHost", map[string]string{"HostName": "h1"})
	report()
	rev, _ := e.s.Store.Revision(e.ctx)
	if hs := e.operator().ecs("PalisadeListHosts", nil).(*listHostsResponse).Hosts.Host; len(hs) != 1 || hs[0].AppliedRevision != rev {
		t.Fatalf("PalisadeListHosts: %+v, want h1 at revision %d", hs, rev)
	}
	// Unbinding clears the host.
	e.operator().ecs("PalisadeBindInstance", map[string]string{"InstanceId": ids[0]})
	if it := desc(); it.PalisadeHost != "" || it.PalisadePolicyInForce {
		t.Fatalf("after unbind: host %q in force %v", it.PalisadeHost, it.PalisadePolicyInForce)
	}
}

func TestWatchChangesResumes(t *testing.T) {
	e := newEnv(t)
	vpc := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	sg := e.newGroup(map[string]string{"VpcId": vpc})
	snap := e.operator().ecs("PalisadeGetSnapshot", nil).(*snapshotResponse)
	if len(snap.Groups) != 1 || snap.Groups[0].ID != sg || snap.Revision == 0 {
		t.Fatalf("snapshot: %d groups at revision %d", len(snap.Groups), snap.Revision)
	}
	rev := strconv.FormatInt(snap.Revision, 10)

	// Nothing new: the poll times out with the same revision and no records.
	w := e.operator().ecs("PalisadeWatchChanges", map[string]string{"AfterRevision": rev, "WaitSeconds": "0"}).(*watchResponse)
	if w.Revision != snap.Revision || len(w.Groups)+len(w.Deleted) != 0 {
		t.Fatalf("idle watch: revision %d, %d groups, %d deleted", w.Revision, len(w.Groups), len(w.Deleted))
	}

	// A waiting watch wakes on a change and carries the changed record. The
	// change is made once the watch waits in the view: made earlier, the
	// wait returns at once, which would prove nothing here.
	done := make(chan *watchResponse, 1)
	go func() {
		out, err := e.operator().call(ECSVersion, "PalisadeWatchChanges", map[string]string{"AfterRevision": rev, "WaitSeconds": "30"})
		if err != nil {
			t.Error(err)
		}
		done <- out.(*watchResponse)
	}()
	for deadline := time.Now().Add(10 * time.Second); e.s.InMemory().Waiting() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the watch never waited for a change")
		}
	}
	e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"})
	select {
	case w = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not wake on a change")
	}
	if w.Revision != snap.Revision+1 || len(w.Groups) != 1 || len(w.Groups[0].Rules) != 1 {
		t.Fatalf("woken watch: revision %d (want %d), groups %v", w.Revision, snap.Revision+1, w.Groups)
	}

	// Resuming from the old revision after more changes (a restarted agent)
	// gets the latest versions and the deletions.
	e.ecs("DeleteSecurityGroup", map[string]string{"SecurityGroupId": sg})
	w = e.operator().ecs("PalisadeWatchChanges", map[string]string{"AfterRevision": rev, "WaitSeconds": "0"}).(*watchResponse)
	if len(w.Groups) != 0 || len(w.Deleted) != 1 || w.Deleted[0].Id != sg || w.Deleted[0].Kind != string(KindGroup) {
		t.Fatalf("resumed watch: groups %v, deleted %v", w.Groups, w.Deleted)
	}
	e.operator().ecsErr("InvalidParameter", 400, "PalisadeWatchChanges", map[string]string{"WaitSeconds": "61"})

	// A watcher ahead of the store (the server's store was replaced) is told
	// to start over at once rather than wait.
	w = e.operator().ecs("PalisadeWatchChanges", map[string]string{"AfterRevision": "1000", "WaitSeconds": "30"}).(*watchResponse)
	if !w.Resync || w.Revision >= 1000 {
		t.Fatalf("watch from the future: resync %v at revision %d", w.Resync, w.Revision)
	}
}

func TestRuleCounters(t *testing.T) {
	e := newEnv(t)
	vpc := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	sg := e.newGroup(map[string]string{"VpcId": vpc})
	e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"})
	e.ecs("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "IpProtocol": "tcp", "PortRange": "80/80", "SourceCidrIp": "0.0.0.0/0"})
	g := e.group(sg)
	r0, r1 := g.Rules[0].ID, g.Rules[1].ID
	report := func(host, counters string) {
		e.operator().ecs("PalisadeReportHostStatus", map[string]string{"HostName": host, "AppliedRevision": "1", "Counters": counters})
	}
	report("h1", `{"`+sg+`/`+r0+`":{"Packets":3,"Bytes":180}}`)
	report("h2", `{"`+sg+`/`+r0+`":{"Packets":2,"Bytes":120}}`)
	report("h1", `{"`+sg+`/`+r0+`":{"Packets":4,"Bytes":240}}`) // a host's report replaces its last
	out := e.ecs("PalisadeDescribeRuleCounters", map[string]string{"SecurityGroupId": sg}).(*ruleCountersResponse)
	got, hosts := map[string]uint64{}, map[string]int{}
	for _, c := range out.RuleCounters.RuleCounter {
		got[c.SecurityGroupRuleId], hosts[c.SecurityGroupRuleId] = c.Packets, c.Hosts
	}
	if got[r0] != 6 || got[r1] != 0 || len(got) != 2 {
		t.Fatalf("counters %v, want %s=6 %s=0", got, r0, r1)
	}
	// r1's zero was reported by no host: unknown, not unused.
	if hosts[r0] != 2 || hosts[r1] != 0 {
		t.Fatalf("reporting hosts %v, want %s=2 %s=0", hosts, r0, r1)
	}
	e.operator().ecsErr("InvalidParameter", 400, "PalisadeReportHostStatus", map[string]string{"HostName": "h1", "Counters": "{"})
	// Another account cannot read the group's counters.
	e.otherAccount().ecsErr("InvalidSecurityGroupId.NotFound", 404, "PalisadeDescribeRuleCounters", map[string]string{"SecurityGroupId": sg})
}

// TestWatchAnswerEncodedOnce: operator watchers at the same revision get
// one answer, encoded once and shared; each response still carries its
// own RequestId and decodes as the changes.
func TestWatchAnswerEncodedOnce(t *testing.T) {
	e := newEnv(t)
	vpc := e.mkVPC(map[string]string{"CidrBlock": "192.168.0.0/16"})
	snap := e.operator().ecs("PalisadeGetSnapshot", nil).(*snapshotResponse)
	sg := e.newGroup(map[string]string{"VpcId": vpc, "Description": "<web & db>"})
	watch := func(id string) *watchResponse {
		w := e.operator().ecs("PalisadeWatchChanges", map[string]string{"AfterRevision": strconv.FormatInt(snap.Revision, 10), "WaitSeconds": "0"}).(*watchResponse)
		w.RequestId = id
		return w
	}
	w1, w2 := watch("req-1"), watch("req-2")
	marshal := func(v any) ([]byte, error) { // as the rpc encoder does
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		err := enc.Encode(v)
		return b.Bytes(), err
	}
	b1, err := marshal(w1)
	if err != nil {
		t.Fatal(err)
	}
	encodes := 0
	if _, err := w2.Changes.Encoded(func(c *service.Changes) ([]byte, error) { encodes++; return encodeChanges(c) }); err != nil {
		t.Fatal(err)
	}
	if encodes != 0 {
		t.Errorf("the second watcher's answer was encoded again")
	}
	b2, err := marshal(w2)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Replace(string(b1), "req-1", "req-2", 1); got != string(b2) {
		t.Errorf("answers differ beyond the RequestId:\n%s\n%s", b1, b2)
	}
	var got struct {
		RequestId string
		Revision  int64
		Groups    []struct{ ID, Description string }
		Deleted   []service.Deleted
	}
	if err := json.Unmarshal(b1, &got); err != nil {
		t.Fatal(err)
	}
	if got.RequestId != "req-1" || got.Revision != w1.Revision || len(got.Groups) != 1 || got.Groups[0].ID != sg ||
		got.Groups[0].Description != "<web & db>" || got.Deleted == nil {
		t.Errorf("decoded %+v from %s", got, b1)
	}
	if !strings.Contains(string(b1), `"Deleted":[]`) || !strings.Contains(string(b1), "<web & db>") {
		t.Errorf("lists must be [] when empty and HTML characters kept: %s", b1)
	}
}
