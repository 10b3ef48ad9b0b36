package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// serveFollowing serves req into w and, as a browser does, follows an
// answer that sends it on to a change's preview (a change's form is
// answered POST-redirect-GET): w holds the preview's page then.
func serveFollowing(c *Console, w *httptest.ResponseRecorder, req *http.Request) {
	c.ServeHTTP(w, req)
	for w.Code == http.StatusSeeOther && strings.Contains(w.Header().Get("Location"), "/change/") {
		next := httptest.NewRequest("GET", w.Header().Get("Location"), nil)
		for _, ck := range req.Cookies() {
			next.AddCookie(ck)
		}
		*w = *httptest.NewRecorder()
		c.ServeHTTP(w, next)
	}
}

// TestPreviewAddressIsTheSessions: a preview's address shows the preview
// to the session that made it only, in its region; another session (of
// the same account or another's) is told what an address never given is
// told. A session keeps its last maxSessionPreviews previews.
func TestPreviewAddressIsTheSessions(t *testing.T) {
	svc, key, cl := tenantService(t)
	otherKey, other := newTenant(t, svc, "other")
	g, err := svc.CreateSecurityGroup(context.Background(), service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mine, again, theirs := c.sessions.add(cl.Account, key.ID, false), c.sessions.add(cl.Account, key.ID, false), c.sessions.add(other.Account, otherKey.ID, false)
	serve := func(s *session, method, path string, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
		w := httptest.NewRecorder()
		c.ServeHTTP(w, req)
		return w
	}
	preview := func(name string) string {
		t.Helper()
		w := serve(mine, "POST", Prefix+"r/cn-hangzhou/change", url.Values{"csrf": {mine.csrf}, "op": {"modify-group"}, "step": {"preview"},
			"group": {g.SecurityGroupId}, "name": {name}, "description": {""}})
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), Prefix+"r/cn-hangzhou/change/") {
			t.Fatalf("a preview's form is answered %d to %q", w.Code, w.Header().Get("Location"))
		}
		return w.Header().Get("Location")
	}
	first := preview("web-0")
	nowhere := Prefix + "r/cn-hangzhou/change/" + strings.Repeat("x", 22)
	_, none := func() (int, string) { w := serve(theirs, "GET", nowhere, nil); return w.Code, w.Body.String() }()
	for _, tc := range []struct {
		name, path string
		s          *session
		status     int
	}{
		{"its session", first, mine, http.StatusOK},
		{"another session of the account", first, again, http.StatusNotFound},
		{"another account's session", first, theirs, http.StatusNotFound},
		{"its session in another region", strings.Replace(first, "cn-hangzhou", "cn-shanghai", 1), mine, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(tc.s, "GET", tc.path, nil)
			body := w.Body.String()
			if w.Code != tc.status || (w.Code == http.StatusOK) != strings.Contains(body, `id="apply"`) || strings.Contains(body, "web-0") != (w.Code == http.StatusOK) {
				t.Errorf("%d, want %d: %.1500s", w.Code, tc.status, body)
			}
			if tc.s == theirs && strings.ReplaceAll(body, strings.TrimPrefix(first, Prefix+"r/cn-hangzhou/change/"), "ID") != strings.ReplaceAll(none, strings.Repeat("x", 22), "ID") {
				t.Errorf("another account's session is told apart an address given and one never given")
			}
		})
	}
	for i := 1; i < maxSessionPreviews; i++ {
		preview(fmt.Sprintf("web-%d", i))
	}
	if w := serve(mine, "GET", first, nil); w.Code != http.StatusOK {
		t.Fatalf("the session's %dth last preview is gone: %d", maxSessionPreviews, w.Code)
	}
	preview("web-last")
	if w := serve(mine, "GET", first, nil); w.Code != http.StatusNotFound {
		t.Errorf("the session keeps more than %d previews: %d", maxSessionPreviews, w.Code)
	}
}

// TestRefusedApplyOwnAddress: a refused apply is answered at an address of
// its own, as a preview is, which says the refusal each time it is asked
// and sends nothing again (its page was the apply's answer: a reload sent
// the apply again).
func TestRefusedApplyOwnAddress(t *testing.T) {
	svc, key, cl := tenantService(t)
	g, err := svc.CreateSecurityGroup(context.Background(), service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	c, err := New(svc, Options{Observe: func(*rpc.Call) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(cl.Account, key.ID, false)
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
		calls  int // the API calls the apply made
	}{
		{"refused by the service", url.Values{"op": {"join"}, "group": {g.SecurityGroupId}, "instance": {"i-notmine00000000001"}}, http.StatusNotFound, "InvalidInstanceId.NotFound", 1},
		{"refused as read", url.Values{"op": {"no-such-change"}}, http.StatusBadRequest, "InvalidParameter", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls = 0
			f := url.Values{"csrf": {s.csrf}, "step": {"apply"}}
			for k, v := range tc.form {
				f[k] = v
			}
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			c.ServeHTTP(w, req)
			at := w.Header().Get("Location")
			if w.Code != http.StatusSeeOther || !strings.HasPrefix(at, Prefix+"r/cn-hangzhou/change/") {
				t.Fatalf("the refused apply is answered %d (to %q): %.500s", w.Code, at, w.Body.String())
			}
			for range 2 { // shown, then reloaded
				req := httptest.NewRequest("GET", at, nil)
				req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
				w := httptest.NewRecorder()
				c.ServeHTTP(w, req)
				if body := w.Body.String(); w.Code != tc.status || !strings.Contains(body, `id="error-code">`+tc.code+`<`) || strings.Contains(body, `id="apply"`) {
					t.Errorf("its page: %d, want %d with %s and no Apply: %.1500s", w.Code, tc.status, tc.code, body)
				}
			}
			if calls != tc.calls {
				t.Errorf("%d API calls made, want %d", calls, tc.calls)
			}
		})
	}
}
