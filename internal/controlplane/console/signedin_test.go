package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// signedIn serves h, starts a headless chromium of its own (path) and
// signs in with key; it returns the browser, good for two minutes, and the
// server's URL.
func signedIn(t *testing.T, path string, h http.Handler, key model.AccessKey) (context.Context, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	bctx, cancelT := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancelT)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+Prefix+"signin"),
		chromedp.WaitVisible(chromedp.CSS("#akid")),
		chromedp.SendKeys(chromedp.CSS("#akid"), key.ID),
		chromedp.SendKeys(chromedp.CSS("#aksecret"), key.Secret),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#create-group"))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	return bctx, srv.URL
}
