package apitest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// TestStandingsHideOtherAccountsMembers: tenant A's classic group names
// tenant B's group as a rule peer (SourceGroupOwnerId), and has another
// rule for one address, B's instance's. A's effective rules
// (PalisadeDescribeEffectiveRules) and audit (PalisadeAudit) gave each
// rule's standing from B's group's members: with B's instance in the
// group the address rule was shadowed (SGA-022), without it the group
// rule was ("group … has no members"), so A learned whether, and where,
// B's group has members. A's answers are now the same whether the
// instance is in the group, left it, or another address is; B, the
// group's owner, still sees its own rules exactly.
func TestStandingsHideOtherAccountsMembers(t *testing.T) {
	e := newEnv(t)
	// B is the first account; A another.
	theirs := createGroup(t, e.ecs, "b-peers", "", "")
	parking := createGroup(t, e.ecs, "b-parking", "", "")
	theirInst := runInstance(t, e.ecs, "", parking)
	otherInst := runInstance(t, e.ecs, "", parking)
	addr := instance(t, e.ecs, theirInst).InnerIpAddress.IpAddress[0]

	a := e.newAccount(t, "tenant-a")
	mine := createGroup(t, a.ecs, "a-app", "", "")
	r := ecs.CreateRunInstancesRequest() // with a public address, which a flow from an address end reaches
	r.ImageId, r.InstanceType, r.SecurityGroupId, r.InternetMaxBandwidthOut = imageID, instanceType, mine, requests.NewInteger(10)
	myInst := must(a.ecs.RunInstances(r))(t).InstanceIdSets.InstanceIdSet[0]
	noErr(t, authorize(a.ecs, mine,
		perm{IpProtocol: "TCP", PortRange: "22/22", Priority: "1", SourceGroupId: theirs, SourceGroupOwnerId: e.srv.UID, NicType: "intranet", Description: "from b"},
		perm{IpProtocol: "TCP", PortRange: "22/22", Priority: "2", SourceCidrIp: addr + "/32", NicType: "intranet", Description: "one address"},
		perm{IpProtocol: "TCP", PortRange: "80/80", Priority: "3", SourceCidrIp: "0.0.0.0/0", NicType: "intranet", Description: "web"}))

	join := func(inst, group string) {
		r := ecs.CreateJoinSecurityGroupRequest()
		r.InstanceId, r.SecurityGroupId = inst, group
		must(e.ecs.JoinSecurityGroup(r))(t)
	}
	leave := func(inst, group string) {
		r := ecs.CreateLeaveSecurityGroupRequest()
		r.InstanceId, r.SecurityGroupId = inst, group
		must(e.ecs.LeaveSecurityGroup(r))(t)
	}
	// What A reads: its instance's effective rules and the standings
	// findings on its group (the console shows both); and, which never
	// told (an address end is outside, on the internet path, where a rule
	// naming a group does not apply; A's own addresses are no member of
	// B's group), the verdicts on flows from and to the address and the
	// reachability of A's instance.
	answers := func() (eff, findings string) {
		t.Helper()
		out := mustCall(t, a.v3, ecsVersion, "PalisadeDescribeEffectiveRules", map[string]any{"InstanceId": myInst})
		b, _ := json.Marshal(out["Policies"])
		for _, q := range []map[string]any{{"From": addr, "To": myInst}, {"From": myInst, "To": addr}} {
			q["Protocol"], q["Port"] = "tcp", "22"
			v := mustCall(t, a.v3, ecsVersion, "PalisadeVerifyFlow", q)
			delete(v, "RequestId")
			vb, _ := json.Marshal(v)
			b = append(b, vb...)
		}
		reach := mustCall(t, a.v3, ecsVersion, "PalisadeDescribeReachability", map[string]any{"To": myInst})
		delete(reach, "RequestId")
		rb, _ := json.Marshal(reach)
		b = append(b, rb...)
		au := mustCall(t, a.v3, ecsVersion, "PalisadeAudit", nil)
		var fs []string
		for _, f := range list(t, au, "Findings") {
			if c := path(t, f, "check").(string); c == "SGA-022" || c == "SGA-023" || c == "SGA-024" {
				fs = append(fs, c+" "+path(t, f, "ruleId").(string)+": "+path(t, f, "message").(string))
			}
		}
		return string(b), strings.Join(fs, "\n")
	}
	states := []struct {
		name   string
		change func()
	}{
		{"no member", func() {}},
		{"a member at the address", func() { join(theirInst, theirs) }},
		{"the member gone", func() { leave(theirInst, theirs) }},
		{"a member elsewhere", func() { join(otherInst, theirs) }},
	}
	var eff0, fs0 string
	for k, st := range states {
		st.change()
		eff, fs := answers()
		if k == 0 {
			eff0, fs0 = eff, fs
			// The rule naming B's group and the address rule it may hide
			// are unknown to A, and say why; the web rule stands.
			for _, want := range []string{`"status":"unknown"`, "another account's group", `"status":"live"`} {
				if !strings.Contains(eff, want) {
					t.Errorf("A's effective rules lack %s: %s", want, eff)
				}
			}
			continue
		}
		if eff != eff0 {
			t.Errorf("%s: A's effective rules changed with B's group's members:\n%s\nwere\n%s", st.name, eff, eff0)
		}
		if fs != fs0 {
			t.Errorf("%s: A's standings findings changed with B's group's members:\n%q\nwere\n%q", st.name, fs, fs0)
		}
		if strings.Contains(eff, "no members") {
			t.Errorf("%s: A is told B's group has no members: %s", st.name, eff)
		}
	}

	// B's own view of its group's rules stays exact: a rule of its own
	// naming its group with members is live, without them shadowed.
	db := createGroup(t, e.ecs, "b-db", "", "")
	bInst := runInstance(t, e.ecs, "", db)
	noErr(t, authorize(e.ecs, db, perm{IpProtocol: "TCP", PortRange: "5432/5432", SourceGroupId: theirs, NicType: "intranet", Description: "own peer"}))
	standing := func() string {
		out := mustCall(t, e.v3, ecsVersion, "PalisadeDescribeEffectiveRules", map[string]any{"InstanceId": bInst})
		for _, p := range list(t, out, "Policies") {
			for _, en := range list(t, p, "entries") {
				if en.(map[string]any)["peer"] == theirs {
					return path(t, en, "status").(string)
				}
			}
		}
		t.Fatalf("B's effective rules lack its rule naming %s: %v", theirs, out)
		return ""
	}
	if got := standing(); got != "live" { // otherInst is in it
		t.Errorf("B's rule naming its group with a member: %s, want live", got)
	}
	leave(otherInst, theirs)
	if got := standing(); got != "shadowed" {
		t.Errorf("B's rule naming its group without members: %s, want shadowed", got)
	}
}
