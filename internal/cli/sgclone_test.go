package cli

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// TestSgClonePortRangeListsAndUndo: a rule on a port range list is shown
// with its list and copied with it (the SDK's structs have no field for
// it), and a copy whose rules cannot all be made is deleted, not left
// half made.
func TestSgClonePortRangeListsAndUndo(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetClientEnv(t)
	c := srv.ECS(t)
	common := func(action string, params map[string]string) map[string]any {
		t.Helper()
		r := requests.NewCommonRequest()
		r.Domain, r.Version, r.ApiName, r.Scheme = c.Domain, "2014-05-26", action, c.GetConfig().Scheme
		r.QueryParams["RegionId"] = "cn-hangzhou"
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
	vpcID := id(t, "vpc", "vpc", "create", "--cidr", "10.0.0.0/16")
	other := id(t, "vpc", "vpc", "create", "--cidr", "10.1.0.0/16")
	web := id(t, "sg", "sg", "create", "--name", "web", "--vpc", vpcID)
	db := id(t, "sg", "sg", "create", "--name", "db", "--vpc", vpcID)
	prl := common("CreatePortRangeList", map[string]string{"PortRangeListName": "web-ports", "MaxEntries": "5",
		"Entry.1.PortRange": "8080/8080"})["PortRangeListId"].(string)
	common("AuthorizeSecurityGroup", map[string]string{"SecurityGroupId": web, "Permissions.1.IpProtocol": "TCP",
		"Permissions.1.PortRangeListId": prl, "Permissions.1.SourceCidrIp": "10.0.0.0/8"})
	ok(t, "sg", "authorize", web, "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8")

	for _, g := range []string{web, id(t, "sg", "sg", "clone", web)} {
		show := ok(t, "sg", "show", g)
		if !strings.Contains(show, prl) || !strings.Contains(show, "22/22") {
			t.Errorf("sg show %s: want the rule on %s and the one on 22/22\n%s", g, prl, show)
		}
	}

	// A rule naming db cannot be copied into another VPC: no copy is left.
	ok(t, "sg", "authorize", web, "--protocol", "tcp", "--port", "5432", "--group", db)
	before := ok(t, "sg", "list")
	code, _, errs := palisade("sg", "clone", web, "--vpc", other)
	if code == 0 || !strings.Contains(errs, "the copy was deleted") {
		t.Errorf("clone into another VPC: exit %d, stderr %q; want a failure that deleted the copy", code, errs)
	}
	if after := ok(t, "sg", "list"); after != before {
		t.Errorf("a half-made copy was left:\nbefore\n%s\nafter\n%s", before, after)
	}
}
