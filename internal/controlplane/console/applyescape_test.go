package console

import (
	"context"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestApplyOfUnknownPreviewStaysOnItsPage: an apply naming a preview the
// session has not (gone, or made up) is sent to that preview's page, its
// ID one path segment however it is written, never to another page.
func TestApplyOfUnknownPreviewStaysOnItsPage(t *testing.T) {
	svc, key, _ := tenantService(t)
	srv, cl := consoleSignedIn(t, svc, key)
	for _, id := range []string{"gone0000000000000000000", "../../signout", "x?y=z#w", "a/b"} {
		resp, _ := cl.do(t, "POST", srv.URL+Prefix+"r/cn-hangzhou/change", url.Values{"csrf": {cl.csrf}, "step": {"apply"},
			"preview": {id}, "op": {"create-group"}, "name": {"n"}}, nil)
		want := Prefix + "r/cn-hangzhou/change/" + url.PathEscape(id)
		if at := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || at != want {
			t.Errorf("apply of preview %q: %d to %q; want 303 to %q", id, resp.StatusCode, at, want)
		}
	}
}

// TestApplyInAnotherRegion: a preview's apply sent to another region's
// address is not the preview's: it applies nothing there, leaves the
// preview unclaimed, and the preview's own apply then makes the change.
func TestApplyInAnotherRegion(t *testing.T) {
	svc, key, caller := tenantService(t)
	srv, cl := consoleSignedIn(t, svc, key)
	resp, _ := cl.do(t, "POST", srv.URL+Prefix+"r/cn-hangzhou/change", url.Values{"csrf": {cl.csrf}, "step": {"preview"},
		"op": {"create-group"}, "name": {"regional"}}, nil)
	at := resp.Header.Get("Location")
	_, body := cl.do(t, "GET", srv.URL+at, nil, nil)
	f := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(body, -1) {
		f.Add(m[1], html.UnescapeString(m[2]))
	}
	if f.Get("preview") == "" {
		t.Fatalf("no apply form at %q", at)
	}
	named := func(region string) int {
		l, err := svc.DescribeSecurityGroups(context.Background(), service.DescribeGroupsInput{Caller: service.Caller{Account: caller.Account, Region: region}, Name: "regional", Page: service.Page{Size: 10}})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	resp, _ = cl.do(t, "POST", srv.URL+Prefix+"r/cn-shanghai/change", f, nil)
	if want := Prefix + "r/cn-shanghai/change/" + f.Get("preview"); resp.Header.Get("Location") != want {
		t.Errorf("the apply sent to another region: to %q; want %q (no preview of its there)", resp.Header.Get("Location"), want)
	}
	if n, m := named("cn-shanghai"), named("cn-hangzhou"); n+m != 0 {
		t.Fatalf("the apply sent to another region made %d groups there, %d in the preview's", n, m)
	}
	cl.do(t, "POST", srv.URL+Prefix+"r/cn-hangzhou/change", f, nil)
	if n := named("cn-hangzhou"); n != 1 {
		t.Fatalf("the preview's own apply, after: %d groups", n)
	}
}

// consoleSignedIn serves a console of svc and signs a session in with key,
// its CSRF token read; redirects are not followed.
func consoleSignedIn(t *testing.T, svc *service.Service, key model.AccessKey) (*httptest.Server, *httpSession) {
	t.Helper()
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
	return srv, cl
}
