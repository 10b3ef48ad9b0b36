package console

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestApplyOfUnknownPreviewStaysOnItsPage: an apply naming a preview the
// session has not (gone, or made up) is sent to that preview's page, its
// ID one path segment however it is written, never to another page.
func TestApplyOfUnknownPreviewStaysOnItsPage(t *testing.T) {
	svc, key, _ := tenantService(t)
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	cl := &httpSession{hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, err := cl.hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %v %v", resp, err)
	}
	resp.Body.Close()
	_, body := cl.do(t, "GET", srv.URL+Prefix+"r/cn-hangzhou/groups/new", nil, nil)
	cl.csrf = csrfRE.FindStringSubmatch(body)[1]
	for _, id := range []string{"gone0000000000000000000", "../../signout", "x?y=z#w", "a/b"} {
		resp, _ := cl.do(t, "POST", srv.URL+Prefix+"r/cn-hangzhou/change", url.Values{"csrf": {cl.csrf}, "step": {"apply"},
			"preview": {id}, "op": {"create-group"}, "name": {"n"}}, nil)
		want := Prefix + "r/cn-hangzhou/change/" + url.PathEscape(id)
		if at := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || at != want {
			t.Errorf("apply of preview %q: %d to %q; want 303 to %q", id, resp.StatusCode, at, want)
		}
	}
}
