package apitest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

// TestAnalysisActions drives Palisade's analysis actions through the
// official SDK (V3 signatures): verify names the deciding rule, effective
// lists it, reach and plan agree, a plan changes nothing, and the audit
// finds the open SSH port of an instance with a public address.
func TestAnalysisActions(t *testing.T) {
	e := newEnv(t)
	n := newNetwork(t, e, "10.0.0.0/16") // sgA: web, sgB: db
	noErr(t, authorize(e.ecs, n.sgA, cidrIngress("tcp", "22/22", "0.0.0.0/0")))
	db := ecs.CreateAuthorizeSecurityGroupRequest()
	db.SecurityGroupId, db.IpProtocol, db.PortRange, db.SourceGroupId = n.sgB, "tcp", "3306/3306", n.sgA
	must(e.ecs.AuthorizeSecurityGroup(db))(t)
	mysql := rules(t, e.ecs, n.sgB, "")[0].SecurityGroupRuleId
	web, dbi := runInstance(t, e.ecs, n.vsw, n.sgA), runInstance(t, e.ecs, n.vsw, n.sgB)
	eip := must(e.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t)
	as := vpc.CreateAssociateEipAddressRequest()
	as.AllocationId, as.InstanceId = eip.AllocationId, web
	must(e.vpc.AssociateEipAddress(as))(t)

	// verify: web -> db 3306 is accepted by the group-peer rule.
	v := mustCall(t, e.v3, ecsVersion, "PalisadeVerifyFlow", map[string]any{"From": web, "To": dbi, "Protocol": "tcp", "Port": "3306"})
	if v["Verdict"] != "Accept" || path(t, v, "Ingress", "RuleId") != mysql || path(t, v, "Ingress", "GroupId") != n.sgB {
		t.Errorf("verify web -> db 3306: %v", v)
	}
	v = mustCall(t, e.v3, ecsVersion, "PalisadeVerifyFlow", map[string]any{"From": dbi, "To": web, "Protocol": "tcp", "Port": "3306"})
	if v["Verdict"] != "Drop" || path(t, v, "Ingress", "Reason") != "default inbound drop" {
		t.Errorf("verify db -> web 3306: %v", v)
	}

	// effective: the db's ingress lists the rule, live.
	eff := mustCall(t, e.v3, ecsVersion, "PalisadeDescribeEffectiveRules", map[string]any{"InstanceId": dbi})
	if b, _ := json.Marshal(eff); !strings.Contains(string(b), mysql) {
		t.Errorf("effective rules of the db lack %s: %s", mysql, b)
	}

	// reach: who reaches the db on 3306? web only.
	r := mustCall(t, e.v3, ecsVersion, "PalisadeDescribeReachability", map[string]any{"To": dbi, "Port": "3306"})
	links := list(t, r, "Links")
	if len(links) != 1 || path(t, links[0], "from") != web {
		t.Errorf("reach to the db on 3306: %v", links)
	}

	// plan: revoking the rule closes web -> db TCP 3306, and changes nothing.
	p := mustCall(t, e.v3, ecsVersion, "PalisadePlanChange", map[string]any{"ChangeAction": "RevokeSecurityGroup",
		"SecurityGroupId": n.sgB, "SecurityGroupRuleId": []any{mysql}})
	changes := list(t, p, "Changes")
	if len(changes) != 1 || path(t, changes[0], "from") != web || path(t, changes[0], "kind") != "narrow" {
		t.Errorf("plan of the revoke: %v", p)
	}
	if got := rules(t, e.ecs, n.sgB, ""); len(got) != 1 {
		t.Errorf("the plan applied the change: %d rules left", len(got))
	}
	// A change the action refuses is refused by the plan with the same error.
	_, err := call(e.v3, ecsVersion, "PalisadePlanChange", map[string]any{"ChangeAction": "RevokeSecurityGroup",
		"SecurityGroupId": "sg-nothere", "SecurityGroupRuleId": []any{mysql}}, nil)
	wantErr(t, err, http.StatusNotFound, "InvalidSecurityGroupId.NotFound")
	_, err = call(e.v3, ecsVersion, "PalisadePlanChange", map[string]any{"ChangeAction": "DescribeInstances"}, nil)
	wantErr(t, err, http.StatusBadRequest, "InvalidParameter")

	// audit: SSH open to the internet on an instance with a public address.
	a := mustCall(t, e.v3, ecsVersion, "PalisadeAudit", nil)
	checks := map[string]bool{}
	for _, f := range list(t, a, "Findings") {
		checks[path(t, f, "check").(string)+" "+path(t, f, "resource").(string)] = true
	}
	for _, want := range []string{"SGA-002 " + n.sgA, "SGA-027 " + web} {
		if !checks[want] {
			t.Errorf("audit lacks %s: %v", want, checks)
		}
	}
	// SSH is said once, on the rule (naming the instance), not again per instance.
	if checks["SGA-028 "+web] {
		t.Errorf("audit repeats the open SSH port as SGA-028: %v", checks)
	}

	// Another account sees none of it.
	other := e.newAccount(t, "other")
	_, err = call(other.v3, ecsVersion, "PalisadeVerifyFlow", map[string]any{"From": web, "To": dbi, "Protocol": "tcp", "Port": "3306"}, nil)
	wantErr(t, err, http.StatusNotFound, "InvalidInstanceId.NotFound")
	oa := mustCall(t, other.v3, ecsVersion, "PalisadeAudit", nil)
	if fs := list(t, oa, "Findings"); len(fs) != 0 {
		t.Errorf("another account's audit shows %d findings of this one", len(fs))
	}
}
