package console

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// TestListsShowIPv6: the instances list and a group's members show an
// instance's IPv6 addresses, all of them, beside its private IPv4 one, as
// the instance's page and DescribeInstances do; the lists showed the IPv4
// one only, and an IPv6 rule's member looked as if it had none; then the
// first IPv6 one only.
func TestListsShowIPv6(t *testing.T) {
	svc, key, cl := tenantService(t)
	vpc := &model.VPC{ID: "vpc-six00000000000001", CIDR: netip.MustParsePrefix("10.0.0.0/16"), Owner: cl.Account}
	g := modeltest.Group("sg-six000000000000001", vpc.ID, "basic")
	g.Owner = cl.Account
	dual := modeltest.Instance("i-six000000000000001", vpc.ID, "10.0.1.10", g.ID)
	dual.IPv6, dual.Owner = netip.MustParseAddr("2408:4000:0:1::a"), cl.Account
	dual.MoreIPv6 = []netip.Addr{netip.MustParseAddr("2408:4000:0:1::b")}
	v4 := modeltest.Instance("i-six000000000000002", vpc.ID, "10.0.1.11", g.ID)
	v4.Owner = cl.Account
	if _, err := svc.Import(context.Background(), cl.Region, service.Resources{VPCs: []*model.VPC{vpc},
		Groups: []*model.SecurityGroup{g}, Instances: []*model.Instance{dual, v4}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"instances", "groups/" + g.ID} {
		code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/"+page)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", page, code)
		}
		for _, tc := range []struct{ row, want string }{{dual.ID, "10.0.1.10<br>2408:4000:0:1::a<br>2408:4000:0:1::b</td>"}, {v4.ID, "10.0.1.11</td>"}} {
			_, row, _ := strings.Cut(body, "/instances/"+tc.row+`"`)
			row, _, _ = strings.Cut(row, "</tr>")
			if !strings.Contains(row, tc.want) {
				t.Errorf("%s: the row of %s lacks %q: %s", page, tc.row, tc.want, row)
			}
		}
	}
	if code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/instances/"+dual.ID); code != http.StatusOK ||
		!strings.Contains(body, "10.0.1.10, 2408:4000:0:1::a, 2408:4000:0:1::b</dd>") {
		t.Errorf("the instance's page (%d) lacks its addresses: %s", code, body)
	}
}
