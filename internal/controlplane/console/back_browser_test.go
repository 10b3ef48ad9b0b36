package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// TestBackAfterApplyInBrowser: in a real browser, a preview is a page of
// its own address (POST-redirect-GET): reloading it, and Back to it after
// the apply, send no form again (the browser asked to resend the preview's
// form: it was the POST's answer); back at it after the apply, it says the
// change was applied and offers no Apply, and the change was made once.
func TestBackAfterApplyInBrowser(t *testing.T) {
	path := chromium(t)
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bctx, base := signedIn(t, path, c, key)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		// A hang guard: a page the browser cannot show (a form it would
		// have to send again) never shows what is waited for.
		wctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, steps...); err != nil {
			loc, _ := chromedp.Run(bctx, chromedp.Location())
			main, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("%s: %v\nat %s: %.1500s", what, err, loc, main)
		}
	}
	rules := func() int {
		t.Helper()
		a, err := svc.DescribeSecurityGroupAttribute(ctx, allRules(cl, g.SecurityGroupId))
		if err != nil {
			t.Fatal(err)
		}
		return len(a.Rules)
	}
	do("preview a rule", chromedp.Navigate(base+Prefix+"r/cn-hangzhou/groups/"+g.SecurityGroupId+"/rules/new?template=ssh"),
		chromedp.WaitVisible(chromedp.CSS("#r1-peer")),
		chromedp.SendKeys(chromedp.CSS("#r1-peer"), "10.0.0.0/8"),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#apply")))
	do("reload the preview", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#apply")))
	do("apply", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if n := rules(); n != 1 {
		t.Fatalf("the group has %d rules after the apply, want 1", n)
	}
	for _, step := range []struct {
		what string
		act  chromedp.Action[chromedp.Void]
	}{{"back to the preview", chromedp.NavigateBack()}, {"reload it", chromedp.Reload()}} {
		do(step.what, step.act, chromedp.WaitVisible(chromedp.CSS("#applied")))
		said := strings.TrimSpace(eval[string](t, bctx, `document.getElementById("applied").textContent`))
		if !strings.Contains(said, "Add 1 ingress rule to "+g.SecurityGroupId+": done.") || eval[bool](t, bctx, `document.getElementById("apply") !== null`) {
			t.Errorf("%s: the page says %q, or offers Apply again", step.what, said)
		}
	}
	if n := rules(); n != 1 {
		t.Fatalf("the group has %d rules, want 1", n)
	}
}

// eval is the value of js in the browser's page.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}
