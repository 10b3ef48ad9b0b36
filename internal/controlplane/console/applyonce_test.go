package console

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// applyForm previews form as session s and returns the preview's address
// and its apply form's fields, as the page has them.
func applyForm(t *testing.T, c *Console, s *session, form url.Values) (string, url.Values) {
	t.Helper()
	form.Set("csrf", s.csrf)
	form.Set("step", "preview")
	req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	w := httptest.NewRecorder()
	c.ServeHTTP(w, req)
	at := w.Header().Get("Location")
	req = httptest.NewRequest("GET", at, nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	w = httptest.NewRecorder()
	c.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("preview at %q: %d %.1000s", at, w.Code, w.Body.String())
	}
	f := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(w.Body.String(), -1) {
		f.Add(m[1], html.UnescapeString(m[2]))
	}
	if f.Get("step") != "apply" || f.Get("preview") == "" || f.Get("seen") == "" {
		t.Fatalf("no apply form on the preview: %v", f)
	}
	return at, f
}

// TestApplyOnce: the apply of one preview sent many times at once (a
// double click without the page's script, a retry, two tabs) makes the
// change once; the others are sent to the preview's address, which says
// what the apply did, and leads back to a page that still exists.
func TestApplyOnce(t *testing.T) {
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(cl.Account, key.ID, false)
	send := func(f url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
		w := httptest.NewRecorder()
		c.ServeHTTP(w, req)
		return w
	}
	named := func(name string) (ids []string) {
		l, err := svc.DescribeSecurityGroups(ctx, service.DescribeGroupsInput{Caller: cl, Name: name, Page: service.Page{Size: 100}})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range l.Items {
			ids = append(ids, g.Group.ID)
		}
		return ids
	}

	at, f := applyForm(t, c, s, url.Values{"op": {"create-group"}, "name": {"twice"}, "description": {"made once"}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { send(f) })
	}
	wg.Wait()
	if ids := named("twice"); len(ids) != 1 {
		t.Fatalf("8 sends of one apply made %d groups %v, want 1", len(ids), ids)
	}
	if w := send(f); w.Code != http.StatusSeeOther || w.Header().Get("Location") != at {
		t.Errorf("a send after the apply is answered %d to %q, want its preview's address %q", w.Code, w.Header().Get("Location"), at)
	}

	// A preview no longer kept (the session previewed maxSessionPreviews
	// more) is applied by none of its sends: they cannot be told apart.
	_, gone := applyForm(t, c, s, url.Values{"op": {"create-group"}, "name": {"gone"}, "description": {"never made"}})
	for i := range maxSessionPreviews {
		applyForm(t, c, s, url.Values{"op": {"create-group"}, "name": {fmt.Sprintf("other-%d", i)}})
	}
	for range 8 {
		wg.Go(func() { send(gone) })
	}
	wg.Wait()
	if ids := named("gone"); len(ids) != 0 {
		t.Errorf("8 sends of an expired preview's apply made %d groups %v, want none", len(ids), ids)
	}

	// The Applied page of a group's deletion leads back to the groups,
	// not to the group gone.
	g := named("twice")[0]
	at, f = applyForm(t, c, s, url.Values{"op": {"delete-group"}, "group": {g}})
	if w := send(f); w.Code != http.StatusSeeOther {
		t.Fatalf("delete: %d %.500s", w.Code, w.Body.String())
	}
	req := httptest.NewRequest("GET", at, nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	w := httptest.NewRecorder()
	c.ServeHTTP(w, req)
	body := w.Body.String()
	if w.Code != http.StatusOK || strings.Contains(body, `id="apply"`) || strings.Contains(body, "groups/"+g) {
		t.Errorf("the deletion's Applied page: %d, leads to the deleted group or offers Apply: %.2000s", w.Code, body)
	}
}

// TestPreviewsPerAccount: one account's sessions cannot push every other
// account's previews out: an account keeps maxAccountPreviews, the newest,
// and a session at its own bound loses its own oldest, no other's.
func TestPreviewsPerAccount(t *testing.T) {
	svc, key, cl := tenantService(t)
	otherKey, other := newTenant(t, svc, "other")
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	theirs := c.sessions.add(other.Account, otherKey.ID, false)
	at, _ := applyForm(t, c, theirs, url.Values{"op": {"create-group"}, "name": {"kept"}})
	for range maxPreviews / maxSessionPreviews {
		s := c.sessions.add(cl.Account, key.ID, false)
		for range maxSessionPreviews {
			c.previews.put(s, "cn-hangzhou", url.Values{"op": {"create-group"}, "name": {"flood"}}, false, nil)
		}
	}
	if n := c.previews.count(cl.Account); n != maxAccountPreviews {
		t.Errorf("one account keeps %d previews, want %d", n, maxAccountPreviews)
	}
	// Four sessions at their bound fill the account's; one more preview of
	// the last drops the last's oldest only.
	c2, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ss []*session
	for range maxAccountPreviews / maxSessionPreviews {
		s := c2.sessions.add(cl.Account, key.ID, false)
		ss = append(ss, s)
		for range maxSessionPreviews {
			c2.previews.put(s, "cn-hangzhou", url.Values{"op": {"create-group"}}, false, nil)
		}
	}
	c2.previews.put(ss[len(ss)-1], "cn-hangzhou", url.Values{"op": {"create-group"}}, false, nil)
	for i, s := range ss {
		n := 0
		for _, k := range c2.previews.m {
			if k.session == s.id {
				n++
			}
		}
		if n != maxSessionPreviews {
			t.Errorf("session %d keeps %d previews, want %d", i, n, maxSessionPreviews)
		}
	}

	req := httptest.NewRequest("GET", at, nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: theirs.id})
	w := httptest.NewRecorder()
	c.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Errorf("another account's flood of previews pushed this one's out: %d", w.Code)
	}
}

// count is how many previews account's sessions have kept.
func (ps *previewStore) count(account string) int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	n := 0
	for _, k := range ps.m {
		if k.account == account {
			n++
		}
	}
	return n
}
