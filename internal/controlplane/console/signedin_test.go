package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// chromium finds the browser. scripts/test.sh installs Debian's chromium
// when it runs as root, so a test skips only where it cannot have done so.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("needs a browser: apt-get install chromium (scripts/test.sh installs it when run as root)")
	}
	t.Fatal("chromium is not installed; scripts/test.sh installs it (apt-get install -y chromium)")
	return ""
}

// Chromium and ChromiumOptions are chromium and chromiumOptions for the
// package's external tests.
var Chromium, ChromiumOptions = chromium, chromiumOptions

// signedIn serves h, starts a headless chromium of its own (path) and
// signs in with key; it returns the browser, good for two minutes, and the
// server's URL.
func signedIn(t *testing.T, path string, h http.Handler, key model.AccessKey) (context.Context, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	bctx := headless(t, path)
	if err := chromedp.Do(bctx, signIn(srv.URL, key)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	return bctx, srv.URL
}

// headless starts a headless chromium of its own (path; its own cookies),
// with opts besides the defaults, good for two minutes.
func headless(t *testing.T, path string, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), append(chromiumOptions(t, path), opts...)...)
	t.Cleanup(cancelA)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	bctx, cancelT := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancelT)
	return bctx
}

// chromiumOptions run the chromium at path headless, without a sandbox
// (the tests run as root), with a profile and a temporary folder of the
// test's own: chromium leaves its singleton socket's folder in $TMPDIR
// when it is stopped, one in /tmp per browser otherwise. The folder's name
// is short, not t.TempDir's (the test's name): a socket's path holds at
// most 107 bytes, and chromium does not start past them.
func chromiumOptions(t *testing.T, path string) []chromedp.ExecAllocatorOption {
	tmp, err := os.MkdirTemp("", "chr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	return append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]), chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.UserDataDir(filepath.Join(tmp, "profile")), chromedp.Env("TMPDIR="+tmp))
}

// signIn signs in with key at the console served at base, up to its first
// page.
func signIn(base string, key model.AccessKey) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Navigate(base+Prefix+"signin"),
		chromedp.WaitVisible(chromedp.CSS("#akid")),
		chromedp.SendKeys(chromedp.CSS("#akid"), key.ID),
		chromedp.SendKeys(chromedp.CSS("#aksecret"), key.Secret),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#create-group")))
}
