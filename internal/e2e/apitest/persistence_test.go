package apitest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

// body is a response's JSON without its RequestId, which differs per call.
func body(t testing.TB, r responses.AcsResponse) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.GetHttpContentBytes(), &m); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, r.GetHttpContentString())
	}
	delete(m, "RequestId")
	return m
}

// TestPersistence: state written through the API survives a restart on the
// same SQLite file, read back byte for byte (but for RequestId).
func TestPersistence(t *testing.T) {
	e := newEnv(t)
	c := e.ecs
	n := newNetwork(t, e, "10.0.0.0/16")
	ent := createGroup(t, c, "ent", n.vpc, "enterprise")
	classic := createGroup(t, c, "classic", "", "")
	pr := ecs.CreateCreatePrefixListRequest()
	pr.AddressFamily, pr.MaxEntries, pr.PrefixListName = "IPv4", "3", "office"
	pr.Entry = &[]ecs.CreatePrefixListEntry{{Cidr: "192.168.7.0/24", Description: "hq"}}
	pl := must(c.CreatePrefixList(pr))(t).PrefixListId
	noErr(t, authorize(c, n.sgA,
		perm{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8", Policy: "drop", Priority: "3", Description: "ssh"},
		perm{IpProtocol: "TCP", PortRange: "5432/5432", SourceGroupId: n.sgB},
		perm{IpProtocol: "UDP", PortRange: "53/53", Ipv6SourceCidrIp: "2001:DB8::/32"},
		perm{IpProtocol: "TCP", PortRange: "443/443", SourcePrefixListId: pl}))
	noErr(t, egressErr(c, n.sgA, ecs.AuthorizeSecurityGroupEgressPermissions{IpProtocol: "ALL", PortRange: "-1/-1", DestCidrIp: "0.0.0.0/0", Policy: "Drop", Priority: "100"})())
	noErr(t, authorize(c, classic, cidrIngress("ICMP", "-1/-1", "1.2.3.4")))
	pol := ecs.CreateModifySecurityGroupPolicyRequest()
	pol.SecurityGroupId, pol.InnerAccessPolicy = n.sgB, "Drop"
	must(c.ModifySecurityGroupPolicy(pol))(t)
	tr := ecs.CreateTagResourcesRequest()
	tr.ResourceType, tr.ResourceId, tr.Tag = "securitygroup", &[]string{n.sgA}, &[]ecs.TagResourcesTag{{Key: "env", Value: "prod"}}
	must(c.TagResources(tr))(t)
	running := runInstance(t, c, n.vsw, n.sgA, n.sgB)
	cr := ecs.CreateCreateInstanceRequest()
	cr.ImageId, cr.InstanceType, cr.VSwitchId, cr.SecurityGroupId = imageID, instanceType, n.vsw, ent
	stopped := must(c.CreateInstance(cr))(t).InstanceId
	alloc := must(e.vpc.AllocateEipAddress(vpc.CreateAllocateEipAddressRequest()))(t)
	as := vpc.CreateAssociateEipAddressRequest()
	as.AllocationId, as.InstanceId = alloc.AllocationId, running
	must(e.vpc.AssociateEipAddress(as))(t)
	tok := ecs.CreateCreateSecurityGroupRequest()
	tok.ClientToken, tok.SecurityGroupName = "persist-token", "tokened"
	tokened := must(c.CreateSecurityGroup(tok))(t).SecurityGroupId

	// read captures every answer the comparison covers.
	read := func(e *env) map[string]any {
		out := map[string]any{}
		for _, id := range []string{n.sgA, n.sgB, ent, classic, tokened} {
			for _, nic := range []string{"intranet", "internet"} {
				out["attr "+id+" "+nic] = body(t, attr(t, e.ecs, id, nic))
			}
		}
		out["groups"] = body(t, must(e.ecs.DescribeSecurityGroups(ecs.CreateDescribeSecurityGroupsRequest()))(t))
		out["instances"] = body(t, must(e.ecs.DescribeInstances(ecs.CreateDescribeInstancesRequest()))(t))
		for _, id := range []string{running, stopped} {
			out["instance "+id] = body(t, instance(t, e.ecs, id))
		}
		out["vpcs"] = body(t, must(e.vpc.DescribeVpcs(vpc.CreateDescribeVpcsRequest()))(t))
		out["vswitches"] = body(t, must(e.vpc.DescribeVSwitches(vpc.CreateDescribeVSwitchesRequest()))(t))
		ar := ecs.CreateDescribePrefixListAttributesRequest()
		ar.PrefixListId = pl
		out["prefix list"] = body(t, must(e.ecs.DescribePrefixListAttributes(ar))(t))
		return out
	}
	before := read(e)
	if ps := before["attr "+n.sgA+" intranet"].(map[string]any)["Permissions"].(map[string]any)["Permission"].([]any); len(ps) != 5 {
		t.Fatalf("sgA has %d rules before the restart, want 5", len(ps))
	}

	e.stop()
	// The stopped server answers no more.
	if _, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest()); err == nil {
		t.Fatal("the stopped server still answers")
	}
	e2 := openEnv(t, e.db)
	after := read(e2)
	for k, v := range before {
		if !reflect.DeepEqual(v, after[k]) {
			t.Errorf("%s changed across the restart:\nbefore %v\nafter  %v", k, v, after[k])
		}
	}

	// The restarted server keeps working on the same state: quotas, tokens
	// and invariants included.
	if id := must(e2.ecs.CreateSecurityGroup(func() *ecs.CreateSecurityGroupRequest {
		r := ecs.CreateCreateSecurityGroupRequest()
		r.ClientToken, r.SecurityGroupName = "persist-token", "tokened"
		return r
	}()))(t).SecurityGroupId; id != tokened {
		t.Errorf("ClientToken after the restart gave %s, want %s", id, tokened)
	}
	del := ecs.CreateDeleteSecurityGroupRequest()
	del.SecurityGroupId = n.sgB
	_, err := e2.ecs.DeleteSecurityGroup(del)
	wantErr(t, err, 403, "DependencyViolation")
	noErr(t, authorize(e2.ecs, n.sgA, cidrIngress("TCP", "8080/8080", "10.0.0.0/8")))
	if got := len(rules(t, e2.ecs, n.sgA, "")); got != 6 {
		t.Errorf("%d rules after adding one post-restart, want 6", got)
	}
}
