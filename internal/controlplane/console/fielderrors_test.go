package console

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestRefusedFieldMarkedInBrowser: a refused rule form marks the field its
// error names, in the row it names, and puts the cursor there, so that the
// error is read at the field (keyboard and screen reader users included).
// It was said above a table of five rows of seven fields only.
func TestRefusedFieldMarkedInBrowser(t *testing.T) {
	srv, _, key, group, _ := layoutWorld(t)
	ctx := narrowBrowser(t, srv, key, 1280)
	form := srv.URL + Prefix + "r/cn-hangzhou/groups/" + group + "/rules/"
	for _, tc := range []struct {
		name, path string
		fill       map[string]string // field ID → value
		want       string            // the field marked and focused
	}{
		{"a bad CIDR in row 3", "new?dir=ingress", map[string]string{"r3-priority": "1", "r3-ports": "22", "r3-peer": "10.0.0.0/33"}, "r3-peer"},
		{"ports the form does not take in row 2", "new?dir=ingress", map[string]string{"r2-priority": "1", "r2-ports": "22,80", "r2-peer": "10.0.0.0/8"}, "r2-ports"},
		{"a priority out of range, the second rule sent", "new?dir=ingress", map[string]string{"r1-ports": "22", "r1-peer": "10.0.0.0/8", "r4-priority": "0", "r4-ports": "22", "r4-peer": "10.0.0.0/8"}, "r4-priority"},
		{"an edit to another kind of peer", "sgr-layout0000000001/edit", map[string]string{"r1-peer": "pl-notthere00000000001"}, "r1-peer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(form + tc.path), chromedp.WaitVisible(chromedp.CSS("#r1-peer"))}
			for id, v := range tc.fill {
				steps = append(steps, chromedp.SetValue(chromedp.CSS("#"+id), v))
			}
			steps = append(steps, chromedp.Click(chromedp.CSS("#preview")), chromedp.WaitVisible(chromedp.CSS("#api-error")))
			if err := chromedp.Do(ctx, steps...); err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.activeElement.id,
				Array.from(document.querySelectorAll("[aria-invalid=true]")).map(e => e.id).join(" "),
				document.getElementById("error-message").textContent]`))
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != tc.want || got[1] != tc.want {
				t.Errorf("focused %q, marked %q; want %s both (the error: %s)", got[0], got[1], tc.want, got[2])
			}
		})
	}
}

// TestRulesOfRowTwoAloneInBrowser: rules typed in row 2 alone, row 1 left
// as the form gives it (priority 1, no ports, no peer), are previewed.
// Row 1 counted as typed for its priority and was refused, "Row 1: give
// the TCP ports".
func TestRulesOfRowTwoAloneInBrowser(t *testing.T) {
	srv, _, key, group, _ := layoutWorld(t)
	ctx := narrowBrowser(t, srv, key, 1280)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/groups/"+group+"/rules/new?dir=ingress"),
		chromedp.WaitVisible(chromedp.CSS("#r2-peer")),
		chromedp.SetValue(chromedp.CSS("#r2-priority"), "2"), chromedp.SetValue(chromedp.CSS("#r2-ports"), "8080"),
		chromedp.SetValue(chromedp.CSS("#r2-peer"), "10.0.0.0/8"),
		chromedp.Click(chromedp.CSS("#preview"))); err != nil {
		t.Fatal(err)
	}
	// The preview, or the form refused again.
	for i := 0; ; i++ {
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#what, #api-error") !== null`)); err == nil && got {
			break
		}
		if i == 100 {
			t.Fatal("the form's answer never came")
		}
		time.Sleep(100 * time.Millisecond)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#what, #api-error").textContent + (document.getElementById("apply") ? " [Apply]" : "")`))
	if want := "Add 1 ingress rule to " + group + " [Apply]"; err != nil || got != want {
		t.Errorf("the preview says %q, want %q (%v)", got, want, err)
	}
}
