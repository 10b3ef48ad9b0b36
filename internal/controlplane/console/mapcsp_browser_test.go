package console

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestMapDrawnWithinThePolicy: the map page logs no refusal of the
// content security policy and cytoscape's container is positioned as it
// needs. cytoscape injects a <style> giving its container position:
// relative, which style-src 'self' refuses: every map logged the refusal,
// and cytoscape warned that its container was position:static.
func TestMapDrawnWithinThePolicy(t *testing.T) {
	srv, _, key, _, _ := layoutWorld(t)
	ctx := narrowBrowser(t, srv, key, 1280)
	var mu sync.Mutex
	var complaints []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if strings.Contains(e.Entry.Text, "Content Security Policy") {
				complaints = append(complaints, e.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				if strings.Contains(string(a.Value), "position:static") {
					complaints = append(complaints, string(a.Value))
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/map"), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		if ready, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("map") !== null && document.getElementById("updating") === null`)); err == nil && ready {
			break
		}
		if i == 100 {
			t.Fatal("the map is never drawn")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#map[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	pos, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("map")).position`))
	if err != nil || pos != "relative" {
		t.Errorf("the map's container is position %q (%v), want relative", pos, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(complaints) > 0 {
		t.Errorf("the map page logged %q", complaints)
	}
}
