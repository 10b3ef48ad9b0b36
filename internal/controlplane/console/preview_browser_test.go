package console

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// TestPreviewFetchesAuditDiffInBrowser: in a real browser, a preview whose
// audit diff is not ready says so, and its script shows the diff in place
// once the server has computed it. (TestConsoleInBrowser, which installs
// chromium where it can, covers the rest of the console.)
func TestPreviewFetchesAuditDiffInBrowser(t *testing.T) {
	bctx, _, release := pendingPreview(t)
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#audit-diff li").length`))
	if err != nil || shown != 0 {
		t.Fatalf("the preview shows %d findings while its audit is not done (%v)", shown, err)
	}
	release()
	// SSH from anywhere in a group without members yet: the diff, once
	// computed, names the finding the change adds (SGA-002, medium).
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("#audit-diff li"))); err != nil {
		t.Fatalf("the audit diff, once computed: %v", err)
	}
	diff, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("audit-diff").textContent`))
	if err != nil || !strings.Contains(diff, "SGA-002") {
		t.Errorf("the audit diff says %q (%v): want the SSH finding the change adds", diff, err)
	}
	pending, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById("audit-pending") !== null`))
	if err != nil || pending {
		t.Fatalf("the preview still says its audit is being computed (%v)", err)
	}
}

// TestPreviewAuditFetchFailsInBrowser: a preview whose audit diff cannot
// be fetched any more (here the session ends while the diff is computed:
// the next fetch gets the sign-in page) says so, with the link, instead of
// saying for good that the audit is being computed.
func TestPreviewAuditFetchFailsInBrowser(t *testing.T) {
	wait := diffWait
	diffWait = 100 * time.Millisecond     // the script asks again soon
	t.Cleanup(func() { diffWait = wait }) // last: after the server and the browser are gone
	bctx, c, _ := pendingPreview(t)
	c.sessions.mu.Lock()
	clear(c.sessions.byID) // the session ends (expired, or signed out elsewhere)
	c.sessions.mu.Unlock()
	wctx, cancelW := context.WithTimeout(bctx, 20*time.Second) // a hang guard: the script asks again every 100 ms
	defer cancelW()
	if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#audit-pending.error"))); err != nil {
		text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("audit-pending").textContent`))
		t.Fatalf("the preview does not say its audit cannot be shown (%v); it says: %q", err, text)
	}
	text, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("audit-pending").textContent + " " + document.querySelector("#audit-pending a").getAttribute("href")`))
	if err != nil || !strings.Contains(text, "could not be shown") || !strings.Contains(text, "Sign in again") || !strings.Contains(text, "/audit") {
		t.Errorf("the note says %q (%v): want why, what to do, and the link", text, err)
	}
}

// pendingPreview signs a tenant in, in Chromium, and previews a rule
// whose audit diff is held back (the console's slot for work ahead is
// taken), up to the preview saying so. release lets the diff be computed
// (else it is at the end of the test).
func pendingPreview(t *testing.T) (bctx context.Context, c *Console, release func()) {
	t.Helper()
	path := chromium(t)
	svc, key, cl := tenantService(t)
	g, err := svc.CreateSecurityGroup(context.Background(), service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = New(svc, Options{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	bctx = headless(t, path)

	c.cache.ahead <- struct{}{} // the work ahead waits: the diff is not ready in time
	var once sync.Once
	release = func() { once.Do(func() { <-c.cache.ahead }) }
	t.Cleanup(release)
	if err := chromedp.Do(bctx, signIn(srv.URL, key)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/groups/"+g.SecurityGroupId+"/rules/new?template=ssh"),
		chromedp.WaitVisible(chromedp.CSS("#r1-peer")),
		chromedp.SendKeys(chromedp.CSS("#r1-peer"), "0.0.0.0/0"),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#audit-pending"))); err != nil {
		t.Fatalf("preview SSH from anywhere: %v", err)
	}
	return bctx, c, release
}
