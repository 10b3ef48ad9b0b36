package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestPagesNotStored: every page, whatever its status, is sent as HTML
// that the browser must not keep (no-store): the group's page, a refused
// form drawn again and a refused change's page wrote their status before
// render set these headers, so Go sent them without either.
func TestPagesNotStored(t *testing.T) {
	_, c, key, group, instance := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	region := Prefix + "r/cn-hangzhou/"
	post := func(f url.Values) url.Values {
		f.Set("csrf", s.csrf)
		return f
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		form   url.Values
		status int
	}{
		{"the group's page", "GET", region + "groups/" + group, nil, http.StatusOK},
		{"a second page of its findings", "GET", region + "groups/" + group + "?page=2", nil, http.StatusOK},
		{"a group not the caller's", "GET", region + "groups/sg-notmine000000000001", nil, http.StatusNotFound},
		{"an unknown region", "GET", Prefix + "r/no-such-region/groups", nil, http.StatusNotFound},
		{"a refused rename", "POST", region + "change", post(url.Values{"op": {"modify-group"}, "group": {group}, "name": {"1db"}, "step": {"preview"}}), http.StatusBadRequest},
		{"a refused clone", "POST", region + "change", post(url.Values{"op": {"clone-group"}, "group": {group}, "name": {"http://x"}, "step": {"preview"}}), http.StatusBadRequest},
		{"a refused new group", "POST", region + "change", post(url.Values{"op": {"create-group"}, "name": {"http://web"}, "step": {"preview"}}), http.StatusBadRequest},
		{"refused rules", "POST", region + "change", post(url.Values{"op": {"add-rules"}, "group": {group}, "dir": {"ingress"}, "r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"99999"}, "r1.peer": {"0.0.0.0/0"}, "step": {"preview"}}), http.StatusBadRequest},
		{"a refused preview", "POST", region + "change", post(url.Values{"op": {"no-such-change"}, "step": {"preview"}}), http.StatusBadRequest},
		{"a refused apply", "POST", region + "change", post(url.Values{"op": {"delete-group"}, "group": {group}, "step": {"apply"}}), http.StatusForbidden},
		{"a refused leave", "POST", region + "change", post(url.Values{"op": {"leave"}, "group": {group}, "instance": {"i-notmine00000000001"}, "step": {"apply"}}), http.StatusNotFound},
		{"a form without the token", "POST", region + "change", url.Values{"op": {"leave"}, "group": {group}, "instance": {instance}}, http.StatusForbidden},
		{"an audit diff not this session's", "GET", region + "change/audit/0123", nil, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.form.Encode()))
			if tc.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			serveFollowing(c, w, req)
			h := w.Result().Header // as sent: changes after WriteHeader are not
			if w.Code != tc.status || h.Get("Cache-Control") != "no-store" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Errorf("%d Cache-Control %q Content-Type %q; want %d, no-store, text/html: %.300s", w.Code, h.Get("Cache-Control"), h.Get("Content-Type"), tc.status, w.Body.String())
			}
		})
	}
}

// TestFormAnswerDoesNotReload: a page drawn from an older audit says so
// and reloads itself when it was asked with GET. A form is not answered
// with a page, whose reload would send the form again (the browser asked
// to confirm a resubmission), but sent on to its preview's address: a
// refused rename or clone is the group's page again there, and reloads
// itself as any page asked with GET.
func TestFormAnswerDoesNotReload(t *testing.T) {
	_, base, key, group, _ := layoutWorld(t)
	region := Prefix + "r/cn-hangzhou/"
	for _, tc := range []struct {
		name   string
		method string
		path   string
		form   url.Values
		reload bool
	}{
		{"the group's page", "GET", region + "groups/" + group, nil, true},
		{"a refused rename", "POST", region + "change", url.Values{"op": {"modify-group"}, "group": {group}, "name": {"1db"}, "step": {"preview"}}, true},
		{"a refused clone", "POST", region + "change", url.Values{"op": {"clone-group"}, "group": {group}, "name": {"http://x"}, "step": {"preview"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A console that has no audit yet and does not wait for one:
			// its first page is drawn without it, and says so.
			c, err := New(base.svc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c.budgets.page = 0
			s := c.sessions.add(key.Account, key.ID, false)
			var body string
			if tc.form != nil {
				tc.form.Set("csrf", s.csrf)
				body = tc.form.Encode()
			}
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			c.ServeHTTP(w, req)
			if loc := w.Header().Get("Location"); tc.form != nil && (w.Code != http.StatusSeeOther || !strings.Contains(loc, "/change/")) {
				t.Fatalf("the form is answered %d (to %q), not sent on to its preview's address: %.400s", w.Code, loc, w.Body.String())
			}
			if tc.form != nil { // as the browser does
				next := httptest.NewRequest("GET", w.Header().Get("Location"), nil)
				next.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
				w = httptest.NewRecorder()
				c.ServeHTTP(w, next)
			}
			page := w.Body.String()
			if !strings.Contains(page, `id="updating"`) {
				t.Fatalf("%d: the page does not say its audit is being computed: %.400s", w.Code, page)
			}
			if got := strings.Contains(page, "data-reload"); got != tc.reload {
				t.Errorf("%d: the page reloads itself: %v, want %v", w.Code, got, tc.reload)
			}
		})
	}
}

// TestNotPagesNotStoredNorListed: an export of a group's rules is the
// account's data as its pages are, and was sent without no-store; the
// assets' folders were answered with the file server's HTML listing,
// which caches could keep for an hour. Files still are served.
func TestNotPagesNotStoredNorListed(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	for _, tc := range []struct {
		path        string
		status      int
		cacheCtl    string
		contentType string
	}{
		{Prefix + "r/cn-hangzhou/groups/" + group + "/export", http.StatusOK, "no-store", "application/json"},
		{Prefix + "r/cn-hangzhou/groups/" + group + "/export?format=csv", http.StatusOK, "no-store", "text/csv"},
		{Prefix + "assets/", http.StatusNotFound, "", "text/plain"},
		{Prefix + "assets/vendor/", http.StatusNotFound, "", "text/plain"},
		{Prefix + "assets/vendor%2f", http.StatusNotFound, "", "text/plain"},
		{Prefix + "assets/app.css", http.StatusOK, "public, max-age=3600", "text/css"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			serveFollowing(c, w, req)
			h := w.Result().Header
			if w.Code != tc.status || h.Get("Cache-Control") != tc.cacheCtl || !strings.HasPrefix(h.Get("Content-Type"), tc.contentType) {
				t.Errorf("%d Cache-Control %q Content-Type %q; want %d, %q, %s: %.300s", w.Code, h.Get("Cache-Control"), h.Get("Content-Type"),
					tc.status, tc.cacheCtl, tc.contentType, w.Body.String())
			}
		})
	}
}
