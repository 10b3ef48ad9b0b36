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

// TestReachFormAsksIPv6InBrowser: the instance page's "Can A reach B?"
// form had no IP version, so between two dual-stack instances it could
// only ask IPv4 (and refused ICMPv6, which it offered). It now has one:
// an IPv6 flow is decided by the IPv6 rule, and the form keeps the choice.
func TestReachFormAsksIPv6InBrowser(t *testing.T) {
	path := chromium(t)
	const (
		vpc   = "vpc-reachv60000000001"
		group = "sg-reachv600000000001"
		a, b  = "i-reachv60000000000a1", "i-reachv60000000000b1"
	)
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	g := modeltest.Group(group, vpc, "basic",
		modeltest.Rule("sgr-reachv60000000443", "in accept 1 TCP 443/443 ::/0"),
		modeltest.Rule("sgr-reachv6000000icmp", "in accept 1 ICMPv6 -1/-1 ::/0"))
	g.InnerAccessPolicy = model.InnerDrop
	g.Owner = cl.Account
	insts := []*model.Instance{modeltest.Instance(a, vpc, "10.0.0.5,2001:db8::5", group), modeltest.Instance(b, vpc, "10.0.0.6,2001:db8::6", group)}
	for _, in := range insts {
		in.Owner, in.Status = cl.Account, model.StatusRunning
	}
	if _, err := svc.Import(ctx, cl.Region, service.Resources{Groups: []*model.SecurityGroup{g}, Instances: insts}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bctx, base := signedIn(t, path, c, key)
	for _, tc := range []struct {
		name, proto, port, version string
		want                       []string // in the verdict
	}{
		{"IPv4 by default", "tcp", "443", "", []string{"Drop", "default inbound drop"}},
		{"IPv6 asked", "tcp", "443", "6", []string{"Accept", "sgr-reachv60000000443", "IPv6"}},
		{"ICMPv6 is IPv6", "icmpv6", "", "", []string{"Accept", "sgr-reachv6000000icmp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A hang guard: a form without the field waits for it.
			wctx, cancelW := context.WithTimeout(bctx, 20*time.Second)
			defer cancelW()
			if err := chromedp.Do(wctx, chromedp.Navigate(base+Prefix+"r/cn-hangzhou/instances/"+a),
				chromedp.WaitVisible(chromedp.CSS("#verify-form")),
				chromedp.SendKeys(chromedp.CSS("#to"), b),
				chromedp.SetValue(chromedp.CSS("#vproto"), tc.proto),
				chromedp.SendKeys(chromedp.CSS("#vport"), tc.port),
				chromedp.SetValue(chromedp.CSS("#vipv"), tc.version),
				chromedp.Submit(chromedp.CSS("#verify-form"))); err != nil {
				t.Fatalf("the form: %v", err)
			}
			if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#verdict"))); err != nil {
				text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("main").textContent`))
				t.Fatalf("no verdict (%v):\n%s", err, text)
			}
			got, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[document.getElementById("verdict").textContent, document.getElementById("vipv").value]`))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got[0], w) {
					t.Errorf("the verdict lacks %q:\n%s", w, got[0])
				}
			}
			if got[1] != tc.version {
				t.Errorf("the form's IP version is %q after the check, want %q as asked", got[1], tc.version)
			}
		})
	}
}
