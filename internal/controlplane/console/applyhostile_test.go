package console

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestApplyHostile sends a preview's apply form, over HTTP with cookies,
// as everyone who should not apply it: another account's session, another
// session of the account, the session without its CSRF token or with
// another's, from another site, after its sign-out, a megabyte too large;
// none applies it, and none is told what the change was. Then its own
// session applies it once, and a replay is sent to the Applied page.
func TestApplyHostile(t *testing.T) {
	svc, key, cl := tenantService(t)
	otherKey, other := newTenant(t, svc, "other")
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	signIn := func(k model.AccessKey) *httpSession {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		cl := &httpSession{hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
		resp, err := cl.hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {k.ID}, "AccessKeySecret": {k.Secret}})
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %v %v", resp, err)
		}
		resp.Body.Close()
		_, body := cl.do(t, "GET", srv.URL+Prefix+"r/cn-hangzhou/groups/new", nil, nil)
		cl.csrf = csrfRE.FindStringSubmatch(body)[1]
		return cl
	}
	a1, a2, b := signIn(key), signIn(key), signIn(otherKey)
	named := func(caller service.Caller, name string) int {
		l, err := svc.DescribeSecurityGroups(context.Background(), service.DescribeGroupsInput{Caller: caller, Name: name, Page: service.Page{Size: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	// a1 previews a group's creation, and reads the apply form.
	previewOf := func(name string) (string, url.Values) {
		resp, _ := a1.do(t, "POST", srv.URL+Prefix+"r/cn-hangzhou/change", url.Values{"csrf": {a1.csrf}, "step": {"preview"},
			"op": {"create-group"}, "name": {name}, "description": {"secret-description"}}, nil)
		at := resp.Header.Get("Location")
		_, body := a1.do(t, "GET", srv.URL+at, nil, nil)
		f := url.Values{}
		for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(body, -1) {
			f.Add(m[1], html.UnescapeString(m[2]))
		}
		if f.Get("preview") == "" || f.Get("seen") == "" {
			t.Fatalf("no apply form at %q: %.500s", at, body)
		}
		return at, f
	}
	with := func(f url.Values, k, v string) url.Values {
		g := url.Values{}
		for n, vs := range f {
			g[n] = vs
		}
		g.Set(k, v)
		return g
	}
	at, f := previewOf("hostile")
	for _, tc := range []struct {
		name string
		by   *httpSession
		form url.Values
		hdr  map[string]string
	}{
		{"another account's session", b, with(f, "csrf", b.csrf), nil},
		{"another session of the account", a2, with(f, "csrf", a2.csrf), nil},
		{"no CSRF token", a1, with(f, "csrf", ""), nil},
		{"another session's CSRF token", a1, with(f, "csrf", a2.csrf), nil},
		{"another site", a1, f, map[string]string{"Origin": "https://evil.example"}},
		{"too large", a1, with(f, "pad", strings.Repeat("x", maxForm)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.by.do(t, "POST", srv.URL+Prefix+"r/cn-hangzhou/change", tc.form, tc.hdr)
			if resp.StatusCode == http.StatusSeeOther {
				resp, body = tc.by.do(t, "GET", srv.URL+resp.Header.Get("Location"), nil, nil)
			}
			if resp.StatusCode < 400 || strings.Contains(body, "secret-description") || strings.Contains(body, "hostile") {
				t.Errorf("%d: %.800s", resp.StatusCode, body)
			}
			if n := named(cl, "hostile") + named(other, "hostile"); n != 0 {
				t.Fatalf("%d groups made", n)
			}
		})
	}
	// Its own session, after all that: once, however often sent.
	for range 3 {
		resp, _ := a1.do(t, "POST", srv.URL+Prefix+"r/cn-hangzhou/change", f, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("apply: %d", resp.StatusCode)
		}
	}
	if n := named(cl, "hostile"); n != 1 {
		t.Fatalf("three sends of the apply made %d groups", n)
	}
	if _, body := a1.do(t, "GET", srv.URL+at, nil, nil); strings.Contains(body, `id="apply"`) {
		t.Errorf("the applied preview still offers Apply: %.800s", body)
	}
	// After sign-out, the session's kept preview applies nothing.
	_, g := previewOf("after-signout")
	a1.do(t, "POST", srv.URL+Prefix+"signout", url.Values{"csrf": {a1.csrf}}, nil)
	resp, _ := a1.do(t, "POST", srv.URL+Prefix+"r/cn-hangzhou/change", g, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "signin") || named(cl, "after-signout") != 0 {
		t.Errorf("an apply after sign-out: %d %q, %d groups", resp.StatusCode, resp.Header.Get("Location"), named(cl, "after-signout"))
	}
}

// httpSession is a signed-in session's HTTP client (its cookie in the
// jar; redirects not followed) and its CSRF token.
type httpSession struct {
	hc   *http.Client
	csrf string
}

// do sends one request of the session (a form when f is not nil).
func (cl *httpSession) do(t *testing.T, method, u string, f url.Values, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if f != nil {
		body = strings.NewReader(f.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if f != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := cl.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
