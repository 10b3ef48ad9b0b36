package console

import (
	"context"
	"net/http/httptest"
	"os/exec"
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
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("needs chromium (see TestConsoleInBrowser)")
	}
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
	srv := httptest.NewServer(c)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancelT := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelT()

	c.cache.ahead <- struct{}{} // the work ahead waits: the diff is not ready in time
	held := true
	defer func() {
		if held {
			<-c.cache.ahead
		}
	}()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("sign in", chromedp.Navigate(srv.URL+Prefix+"signin"),
		chromedp.WaitVisible(chromedp.CSS("#akid")),
		chromedp.SendKeys(chromedp.CSS("#akid"), key.ID),
		chromedp.SendKeys(chromedp.CSS("#aksecret"), key.Secret),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#create-group")))
	run("preview SSH from anywhere", chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/groups/"+g.SecurityGroupId+"/rules/new?template=ssh"),
		chromedp.WaitVisible(chromedp.CSS("#r1-peer")),
		chromedp.SendKeys(chromedp.CSS("#r1-peer"), "0.0.0.0/0"),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#audit-pending")))
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#audit-diff li").length`))
	if err != nil || shown != 0 {
		t.Fatalf("the preview shows %d findings while its audit is not done (%v)", shown, err)
	}
	<-c.cache.ahead
	held = false
	// The template's rule has a description and the group no members: the
	// change adds no finding, which the diff says once computed.
	run("the audit diff, once computed", chromedp.WaitVisible(chromedp.CSS("#audit-section #audit-none")))
	pending, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById("audit-pending") !== null`))
	if err != nil || pending {
		t.Fatalf("the preview still says its audit is being computed (%v)", err)
	}
}
