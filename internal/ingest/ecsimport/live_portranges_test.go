package ecsimport

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestFromECSPortRangeLists: a rule on a port range list comes in with its
// list, read by CommonRequest (the classic SDK has no typed requests for
// port lists) only because a rule names it.
func TestFromECSPortRangeLists(t *testing.T) {
	e := startPalisade(t)
	c := e.ecs
	common := func(action string, params map[string]string) map[string]any {
		t.Helper()
		r := requests.NewCommonRequest()
		r.Domain, r.Version, r.ApiName, r.Scheme = c.Domain, "2014-05-26", action, c.GetConfig().Scheme
		r.QueryParams["RegionId"] = testRegion
		maps.Copy(r.QueryParams, params)
		resp, err := c.ProcessCommonRequest(r)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		var m map[string]any
		if err := json.Unmarshal(resp.GetHttpContentBytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	vr := vpc.CreateCreateVpcRequest()
	vr.CidrBlock = "10.0.0.0/16"
	vpcID := must(e.vpc.CreateVpc(vr))(t).VpcId
	sg := newGroup(t, c, "app", "", vpcID, "")
	prl := common("CreatePortRangeList", map[string]string{"PortRangeListName": "app-ports", "MaxEntries": "5",
		"Entry.1.PortRange": "8080/8080", "Entry.2.PortRange": "9000/9100", "Entry.2.Description": "workers"})["PortRangeListId"].(string)
	common("CreatePortRangeList", map[string]string{"PortRangeListName": "unused", "MaxEntries": "1"})
	common("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": sg, "Permissions.1.IpProtocol": "TCP",
		"Permissions.1.PortRangeListId": prl, "Permissions.1.SourceCidrIp": "10.0.0.0/8"})
	ingress(t, c, sg, ecs.AuthorizeSecurityGroupPermissions{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"})

	importer := ecsClient(t, e.srv.Addr, liveKeyID, liveSecret)
	calls := &callCounter{next: http.DefaultTransport, n: map[string]int{}}
	importer.SetTransport(calls)
	got, err := FromECS(context.Background(), importer, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	if calls.n["DescribePortRangeLists"] != 1 || calls.n["DescribePortRangeListEntries"] != 1 {
		t.Errorf("calls %v: want one DescribePortRangeLists and one DescribePortRangeListEntries (only the list a rule names)", calls.n)
	}
	if len(got.Warnings) != 0 {
		t.Errorf("warnings %v", got.Warnings)
	}
	if len(got.PortRangeLists) != 1 {
		t.Fatalf("port range lists %v", got.PortRangeLists)
	}
	l := got.PortRangeLists[0]
	if l.ID != prl || l.Name != "app-ports" || l.MaxEntries != 5 || len(l.Entries) != 2 ||
		l.Entries[1] != (model.PortEntry{Range: model.PortRange{Start: 9000, End: 9100}, Description: "workers"}) {
		t.Errorf("list imported as %+v", *l)
	}
	if len(got.Groups) != 1 || len(got.Groups[0].Rules) != 2 {
		t.Fatalf("groups %v", got.Groups)
	}
	n := 0
	for _, r := range got.Groups[0].Rules {
		if r.PortRangeListID == prl {
			n++
		}
	}
	if n != 1 {
		t.Errorf("rules %+v: want one naming %s", got.Groups[0].Rules, prl)
	}
}
