package console

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// TestMapCountsMembersOfGroupsWithoutEdges: a group whose members reach
// nothing (a lone instance without a public address) is drawn with its
// members, as the groups list counts them. The map took the members from
// the reachability graph's nodes, which are only the groups an edge joins,
// and listed such a group among the "groups without members".
func TestMapCountsMembersOfGroupsWithoutEdges(t *testing.T) {
	_, c, key, _, _ := layoutWorld(t)
	cl := service.Caller{Account: key.Account, Region: "cn-hangzhou"}
	vpc := &model.VPC{ID: "vpc-lone0000000000001", Name: "lone", CIDR: netip.MustParsePrefix("10.9.0.0/16"), Owner: cl.Account}
	lone, empty := modeltest.Group("sg-lone000000000000001", vpc.ID, "basic"), modeltest.Group("sg-lone000000000empty", vpc.ID, "basic")
	lone.Owner, lone.Name, empty.Owner, empty.Name = cl.Account, "lone", cl.Account, "spare"
	in := modeltest.Instance("i-lone0000000000000001", vpc.ID, "10.9.0.10", lone.ID)
	in.Owner, in.Status = cl.Account, model.StatusRunning
	if _, err := c.svc.Import(context.Background(), cl.Region, service.Resources{VPCs: []*model.VPC{vpc},
		Groups: []*model.SecurityGroup{lone, empty}, Instances: []*model.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	var body string
	for i := 0; ; i++ {
		code, b := get(t, c, key.Account, Prefix+"r/cn-hangzhou/map?vpc="+vpc.ID)
		if code != http.StatusOK {
			t.Fatalf("map: %d %.300s", code, b)
		}
		if body = b; !strings.Contains(b, `id="updating"`) {
			break
		}
		if i == 100 {
			t.Fatal("the map never shows the current reachability")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, data, _ := strings.Cut(body, `id="map-data"`)
	data, _, _ = strings.Cut(data, "</script>")
	_, folded, _ := strings.Cut(body, `id="memberless"`)
	folded, _, _ = strings.Cut(folded, "</ul>")
	for _, tc := range []struct {
		what, in, want string
		has            bool
	}{
		{"the map's node of the group with a member", data, `"id":"` + lone.ID + `","label":"lone","members":1`, true},
		{"the list of groups without members, the group with one", folded, lone.ID, false},
		{"the list of groups without members, the one without", folded, empty.ID, true},
	} {
		if strings.Contains(tc.in, tc.want) != tc.has {
			t.Errorf("%s: has %q is %v, want %v:\n%.1500s", tc.what, tc.want, !tc.has, tc.has, tc.in)
		}
	}
}
