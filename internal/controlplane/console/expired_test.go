package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestFormSentAfterSessionEndedLeadsBack: a form sent once its session has
// ended (an hour idle) leads to the sign-in, and from it back to the page
// the form was on; it led to the first page, the user left to find the
// group again. Only a page of the console on this origin is led back to.
func TestFormSentAfterSessionEndedLeadsBack(t *testing.T) {
	_, c, _, group, _ := layoutWorld(t)
	form := Prefix + "r/cn-hangzhou/groups/" + group + "/rules/new?dir=ingress"
	for _, tc := range []struct {
		name, referer, next string
	}{
		{"from a rule form", "http://example.com" + form, form},
		{"from a group's page", "http://example.com" + Prefix + "r/cn-hangzhou/groups/" + group, Prefix + "r/cn-hangzhou/groups/" + group},
		{"from a preview", "http://example.com" + Prefix + "r/cn-hangzhou/change", ""},
		{"from another site", "http://evil.example" + form, ""},
		{"from outside the console", "http://example.com/other", ""},
		{"without a referer", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {"x"}, "op": {"add-rules"}, "step": {"preview"}, "group": {group}}
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Referer", tc.referer)
			req.AddCookie(&http.Cookie{Name: cookieName, Value: "ended"})
			w := httptest.NewRecorder()
			c.ServeHTTP(w, req)
			to, err := url.Parse(w.Header().Get("Location"))
			if w.Code != http.StatusSeeOther || err != nil || to.Path != Prefix+"signin" {
				t.Fatalf("%d to %q, want the sign-in", w.Code, w.Header().Get("Location"))
			}
			if got := to.Query().Get("next"); got != tc.next || to.Query().Get("why") != "expired" {
				t.Errorf("leads to %q (why %q), want next %q, why expired", got, to.Query().Get("why"), tc.next)
			}
		})
	}
}
