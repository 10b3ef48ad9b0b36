package apitest

import (
	"encoding/json"
	"strings"
	"testing"

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
