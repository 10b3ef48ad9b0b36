package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// TestEdgeNamesMembersOtherGroupsInBrowser: an edge of the map is between
// groups, but what passes is decided on the members, whose other groups'
// rules pool with the group's. The edge from the internet to sg-app opened
// TCP 80 (by sg-web's rule, on the member both groups hold) and listed
// only sg-app's rules: 80 read as opened by none. The side now names the
// members' other groups; a group whose members are in no other says
// nothing of the kind.
func TestEdgeNamesMembersOtherGroupsInBrowser(t *testing.T) {
	path := chromium(t)
	const (
		web  = "sg-edgealso0000000web"
		app  = "sg-edgealso0000000app"
		lone = "sg-edgealso000000lone"
		// In a VPC: an ENI of i-3 is in eapp and eweb, i-3 in eapp only.
		vpc  = "vpc-edgealso00000000a"
		src  = "sg-edgealso0000000src"
		eapp = "sg-edgealso00000eapp0"
		eweb = "sg-edgealso00000eweb0"
	)
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	groups := []*model.SecurityGroup{
		modeltest.Group(web, "", "basic", modeltest.Rule("sgr-edgealso00000web1", "in accept 1 TCP 80/80 0.0.0.0/0 nic=internet")),
		modeltest.Group(app, "", "basic", modeltest.Rule("sgr-edgealso00000app1", "in accept 1 TCP 3389/3389 0.0.0.0/0 nic=internet")),
		modeltest.Group(lone, "", "basic", modeltest.Rule("sgr-edgealso0000lone1", "in accept 1 TCP 443/443 0.0.0.0/0 nic=internet")),
		modeltest.Group(src, vpc, "basic"),
		modeltest.Group(eapp, vpc, "basic", modeltest.Rule("sgr-edgealso00000eapp", "in accept 1 TCP 3389/3389 "+src)),
		modeltest.Group(eweb, vpc, "basic", modeltest.Rule("sgr-edgealso00000eweb", "in accept 1 TCP 80/80 "+src)),
	}
	insts := []*model.Instance{
		modeltest.Public(modeltest.Instance("i-edgealso00000000001", "", "10.0.0.5", web, app), "47.96.0.5"),
		modeltest.Public(modeltest.Instance("i-edgealso00000000002", "", "10.0.0.6", lone), "47.96.0.6"),
		modeltest.Instance("i-edgealso00000000003", vpc, "10.1.0.5", eapp),
		modeltest.Instance("i-edgealso00000000004", vpc, "10.1.0.4", src),
	}
	eni := &model.NetworkInterface{ID: "eni-edgealso000000001", Type: model.ENISecondary, Status: model.ENIInUse, Owner: cl.Account,
		Region: cl.Region, InstanceID: "i-edgealso00000000003", VpcID: vpc, PrivateIP: modeltest.Addr("10.1.0.6"), SecurityGroups: []string{eapp, eweb}}
	for _, g := range groups {
		g.Owner = cl.Account
	}
	for _, in := range insts {
		in.Owner, in.Status = cl.Account, model.StatusRunning
	}
	if _, err := svc.Import(ctx, cl.Region, service.Resources{Groups: groups, Instances: insts, ENIs: []*model.NetworkInterface{eni}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.budgets.page = time.Minute // the edge waits for its graph
	bctx, base := signedIn(t, path, c, key)
	for _, tc := range []struct {
		name, from, to string
		open           string // in the edge's Open line
		also           string // in the note; "" for no note
	}{
		{"a member in two groups", "internet", app, "TCP 80,3389", web},
		{"members in this group only", "internet", lone, "TCP 443", ""},
		// The ENI is a member (a NIC) as much as an instance is.
		{"an ENI member in two groups", src, eapp, "TCP 80,3389", eweb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := chromedp.Do(bctx, chromedp.Navigate(base+Prefix+"r/cn-hangzhou/map/edge?from="+tc.from+"&to="+tc.to),
				chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[document.querySelector("main").textContent,
				Array.from(document.querySelectorAll("p.also")).map(p => p.textContent).join(" ")]`))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got[0], tc.open) {
				t.Fatalf("the edge does not say %q is open:\n%s", tc.open, got[0])
			}
			switch {
			case tc.also == "" && got[1] != "":
				t.Errorf("the edge says %q; its members are in no other group", got[1])
			case tc.also != "" && !strings.Contains(got[1], tc.also):
				t.Errorf("the edge's note is %q; want it to name %s, whose rule opens a port of the edge", got[1], tc.also)
			}
		})
	}
}
