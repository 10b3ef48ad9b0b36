package apitest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// classicFleet launches n classic instances for c, each in a group of its
// own, or all in one group.
func classicFleet(t *testing.T, c *ecs.Client, n int, oneGroup bool) {
	t.Helper()
	var g string
	for range n {
		if g == "" || !oneGroup {
			g = createGroup(t, c, "fleet", "", "")
		}
		runInstance(t, c, "", g)
	}
}

// TestAuditOfSharedClassicNetwork: the classic network holds every
// account's classic instances, but a tenant's audit (SGA-015, one group
// for most instances or one group each) counts only the tenant's own: it
// said "no two of the 5 instances in the classic network share a group"
// to a tenant of one instance, telling it how many classic instances the
// others have and how they group them.
func TestAuditOfSharedClassicNetwork(t *testing.T) {
	for _, tc := range []struct {
		name           string
		theirs         int
		theirsInOne    bool
		mine           int
		want, wantNone string // in the tenant's SGA-015 messages; "" for no finding
	}{
		{name: "theirs one group each", theirs: 4, mine: 1},
		{name: "theirs in one group", theirs: 5, theirsInOne: true, mine: 1},
		{name: "mine one group each", theirs: 4, mine: 4, want: "no two of the 4 instances in the account's part of the classic network"},
		{name: "mine one group each, theirs in one", theirs: 4, theirsInOne: true, mine: 4, want: "no two of the 4 instances"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
			me := srv.NewAccount(t, "me")
			classicFleet(t, srv.ECS(t), tc.theirs, tc.theirsInOne)
			classicFleet(t, srv.ECSAs(t, me.KeyID, me.Secret), tc.mine, false)
			text, code := rawCall(t, testenv.CommonClient(t, srv.Addr, me.KeyID, me.Secret), srv.Addr, ecsVersion, "PalisadeAudit", map[string]string{"RegionId": region})
			if code != "" {
				t.Fatal(text)
			}
			var out struct {
				Findings []struct{ Check, Message string }
			}
			if err := json.Unmarshal([]byte(text), &out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range out.Findings {
				if f.Check == "SGA-015" {
					got = append(got, f.Message)
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("the tenant's SGA-015 findings count the other tenant's instances: %q", got)
			case tc.want != "" && (len(got) != tc.mine || !strings.Contains(got[0], tc.want)):
				t.Errorf("SGA-015 findings %q, want %d saying %q", got, tc.mine, tc.want)
			}
		})
	}
}

// TestAuditHidesOtherTenantsEnvironments: a classic group may name another
// account's group, so another tenant's instances reach the caller's; a
// tenant's audit (SGA-014, production and other environments reaching each
// other) judges only pairs of its own instances. It reported "an instance
// of another account reaches it", without the instance's ID or tags, but
// only when that instance's env tag was not a production value: naming a
// group and choosing its own env tag and ProdValues, a tenant read the
// others' env tags.
func TestAuditHidesOtherTenantsEnvironments(t *testing.T) {
	audit014 := func(t *testing.T, c *sdk.Client, addr string) []string {
		text, code := rawCall(t, c, addr, ecsVersion, "PalisadeAudit", map[string]string{"RegionId": region})
		if code != "" {
			t.Fatal(text)
		}
		var out struct {
			Findings []struct{ Check, Message string }
		}
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range out.Findings {
			if f.Check == "SGA-014" {
				got = append(got, f.Message)
			}
		}
		return got
	}
	tagged := func(t *testing.T, c *ecs.Client, group, env string) {
		r := ecs.CreateRunInstancesRequest()
		r.ImageId, r.InstanceType, r.SecurityGroupId = imageID, instanceType, group
		if env != "" {
			r.Tag = &[]ecs.RunInstancesTag{{Key: "env", Value: env}}
		}
		must(c.RunInstances(r))(t)
	}
	for _, tc := range []struct {
		name, theirEnv, myOtherEnv string
		want                       int // SGA-014 findings the tenant gets
	}{
		{name: "theirs test", theirEnv: "test"},
		{name: "theirs prod", theirEnv: "prod"},
		{name: "theirs untagged"},
		// The check still judges the tenant's own pairs.
		{name: "theirs test, mine test too", theirEnv: "test", myOtherEnv: "test", want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
			theirGroup := createGroup(t, srv.ECS(t), "theirs", "", "")
			tagged(t, srv.ECS(t), theirGroup, tc.theirEnv)
			me := srv.NewAccount(t, "me")
			c := srv.ECSAs(t, me.KeyID, me.Secret)
			mine := createGroup(t, c, "mine", "", "")
			tagged(t, c, mine, "prod")
			noErr(t, authorize(c, mine, perm{IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: theirGroup, SourceGroupOwnerId: srv.UID, NicType: "intranet"}))
			if tc.myOtherEnv != "" {
				other := createGroup(t, c, "other", "", "")
				tagged(t, c, other, tc.myOtherEnv)
				noErr(t, authorize(c, mine, perm{IpProtocol: "TCP", PortRange: "23/23", SourceGroupId: other, NicType: "intranet"}))
			}
			got := audit014(t, testenv.CommonClient(t, srv.Addr, me.KeyID, me.Secret), srv.Addr)
			if len(got) != tc.want {
				t.Fatalf("SGA-014 findings %q, want %d", got, tc.want)
			}
			for _, m := range got {
				if strings.Contains(m, "another account") {
					t.Errorf("the finding judges the other tenant's instance by its env tag: %s", m)
				}
			}
		})
	}
}

// TestAuditSuggestsOnlyOwnGroups: SGA-011 (a CIDR rule that covers
// exactly the members of a group, which a group reference would follow)
// counted every account's instances of the shared classic network and
// named any account's group: a tenant's rule naming another tenant's
// classic address was told that group's ID ("covers exactly the 1
// member(s) of sg-…"), mapping the others' addresses to their groups. It
// now counts the tenant's own instances and names only its own groups.
func TestAuditSuggestsOnlyOwnGroups(t *testing.T) {
	srv := testenv.Start(t, testenv.Config{Log: testenv.Quiet()})
	theirGroup := createGroup(t, srv.ECS(t), "theirs", "", "")
	theirAddr := instance(t, srv.ECS(t), runInstance(t, srv.ECS(t), "", theirGroup)).InnerIpAddress.IpAddress[0]
	me := srv.NewAccount(t, "me")
	c := srv.ECSAs(t, me.KeyID, me.Secret)
	mine, peer := createGroup(t, c, "mine", "", ""), createGroup(t, c, "peer", "", "")
	runInstance(t, c, "", mine)
	peerAddr := instance(t, c, runInstance(t, c, "", peer)).InnerIpAddress.IpAddress[0]
	for port, cidr := range map[string]string{"22/22": theirAddr + "/32", "24/24": peerAddr + "/32"} {
		noErr(t, authorize(c, mine, perm{IpProtocol: "TCP", PortRange: port, SourceCidrIp: cidr, NicType: "intranet"}))
	}
	text, code := rawCall(t, testenv.CommonClient(t, srv.Addr, me.KeyID, me.Secret), srv.Addr, ecsVersion, "PalisadeAudit", map[string]string{"RegionId": region})
	if code != "" {
		t.Fatal(text)
	}
	if strings.Contains(text, theirGroup) {
		t.Errorf("the tenant's audit names the other tenant's group %s:\n%s", theirGroup, text)
	}
	var out struct {
		Findings []struct{ Check, Message string }
	}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range out.Findings {
		if f.Check == "SGA-011" {
			got = append(got, f.Message)
		}
	}
	// Its own group is still suggested for the rule that covers it.
	if len(got) != 1 || !strings.Contains(got[0], peerAddr+"/32") || !strings.Contains(got[0], peer) {
		t.Errorf("SGA-011 findings %q, want one suggesting %s for %s/32", got, peer, peerAddr)
	}
}
