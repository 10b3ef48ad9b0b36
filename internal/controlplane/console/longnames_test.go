package console

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// TestLongNamesFitInBrowser: names as long as ECS allows (128 characters,
// no space to break at) and long descriptions keep every page within the
// window, and the map's labels readable. A group's or an instance's name
// made the lists, the group's and the instance's pages up to twice as wide
// as the window, and the map was zoomed out to fit one label, every label
// drawn a few pixels high.
func TestLongNamesFitInBrowser(t *testing.T) {
	svc, key, cl := tenantService(t)
	vpc := &model.VPC{ID: "vpc-long0000000000001", Name: "prod", CIDR: netip.MustParsePrefix("10.0.0.0/16"), Owner: cl.Account}
	long := modeltest.Group("sg-long0000000000001", vpc.ID, "basic",
		modeltest.Rule("sgr-long000000000001", "in accept 1 TCP 80/80 10.0.0.0/8 desc="+strings.Repeat("r", 256)))
	web := modeltest.Group("sg-long0000000000web", vpc.ID, "basic", modeltest.Rule("sgr-long000000000002", "in accept 1 TCP 443/443 "+long.ID))
	long.Name, long.Description, web.Name = strings.Repeat("L", 128), strings.Repeat("d", 256), "web"
	a := modeltest.Instance("i-long00000000000001", vpc.ID, "10.0.1.10", long.ID)
	b := modeltest.Instance("i-long00000000000002", vpc.ID, "10.0.1.11", web.ID)
	a.Name, a.Status, b.Name, b.Status = strings.Repeat("n", 128), model.StatusRunning, "web-1", model.StatusRunning
	for _, g := range []*model.SecurityGroup{long, web} {
		g.Owner = cl.Account
	}
	a.Owner, b.Owner = cl.Account, cl.Account
	if _, err := svc.Import(context.Background(), cl.Region, service.Resources{VPCs: []*model.VPC{vpc},
		Groups: []*model.SecurityGroup{long, web}, Instances: []*model.Instance{a, b}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	ctx := narrowBrowser(t, srv, key, 1280)
	r := srv.URL + Prefix + "r/cn-hangzhou/"
	for _, page := range []string{"groups", "groups/" + long.ID, "instances", "instances/" + a.ID, "map?vpc=" + vpc.ID} {
		for i := 0; ; i++ { // until the page shows the current analyses
			if err := chromedp.Do(ctx, chromedp.Navigate(r+page), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
				t.Fatalf("open %s: %v", page, err)
			}
			if cur, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("updating") === null`)); err == nil && cur {
				break
			}
			if i == 100 {
				t.Fatalf("%s never shows the current analyses", page)
			}
			time.Sleep(200 * time.Millisecond)
		}
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
		if err != nil || wide > 0 {
			t.Errorf("%s is %d px wider than the window (%v)", page, wide, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#map[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	// A label the width of half the map leaves the layout no room: the map
	// is zoomed out until it fits, with every other label.
	w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.max(...palisadeMap.cy.nodes().map(n =>
		n.renderedBoundingBox({includeNodes: false, includeEdges: false, includeLabels: true}).w)) / palisadeMap.cy.width()`))
	if err != nil || w > 0.3 {
		t.Errorf("a label of the map is %.0f%% of its width (%v)", 100*w, err)
	}
}
