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

// TestSgClassicIntranetRules: a classic group answers one NicType per
// DescribeSecurityGroupAttribute (internet unless asked), and a group-peer
// rule is intranet. sg authorize --group said the rule it added was
// missing (exit 1), sg show hid it and sg clone left it out.
func TestSgClassicIntranetRules(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	srv.SetClientEnv(t)
	a := id(t, "sg", "sg", "create", "--name", "classic-a")
	b := id(t, "sg", "sg", "create", "--name", "classic-b")
	peer := strings.TrimSpace(ok(t, "sg", "authorize", a, "--protocol", "tcp", "--port", "22", "--group", b))
	if !strings.HasPrefix(peer, "sgr-") {
		t.Fatalf("sg authorize --group on a classic group printed %q, want the rule's ID", peer)
	}
	ok(t, "sg", "authorize", a, "--protocol", "tcp", "--port", "80", "--cidr", "0.0.0.0/0")
	for _, g := range []string{a, id(t, "sg", "sg", "clone", a)} {
		show := ok(t, "sg", "show", g)
		if !strings.Contains(show, b) || !strings.Contains(show, "intranet") || !strings.Contains(show, "80/80") || !strings.Contains(show, "internet") {
			t.Errorf("sg show %s: want the intranet rule naming %s and the internet rule on 80/80\n%s", g, b, show)
		}
	}
	if out := ok(t, "sg", "revoke", a, "--rule", peer); !strings.Contains(out, peer) {
		t.Errorf("sg revoke --rule %s printed %q", peer, out)
	}
	if show := ok(t, "sg", "show", a); strings.Contains(show, b) {
		t.Errorf("sg show after the revoke still lists the rule naming %s\n%s", b, show)
	}
}
