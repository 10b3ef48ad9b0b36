package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// browserResolve is where a browser goes for a Location header: it drops
// tabs and newlines and reads a backslash as a slash (WHATWG URL, special
// schemes), so "/\evil.example" is "//evil.example", another host.
func browserResolve(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(u), nil
}

// TestSignInRedirectStaysInConsole: whatever return address a sign-in
// form carries, the browser is sent to a console page of this server,
// never another site (an open redirect after a real sign-in).
func TestSignInRedirectStaysInConsole(t *testing.T) {
	srv, _, key, _ := consoleServer(t)
	base, _ := url.Parse(srv.URL + Prefix + "signin")
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, next := range []string{
		"/console/r/cn-hangzhou/groups",
		"https://evil.example/console/",
		"//evil.example/console/",
		`/console/../\evil.example`,
		`/console/..\..\/evil.example`,
		"/console/../\t/evil.example",
		"/console/../\n/evil.example/",
		`/console/\/evil.example`,
		"/console/../../other",
		"/console/./../other",
		"/console/%2e%2e/other",
		`\\evil.example/console/`,
		"/\t/evil.example/console/",
	} {
		t.Run(next, func(t *testing.T) {
			resp, err := hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}, "next": {next}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in: %d", resp.StatusCode)
			}
			to, err := browserResolve(base, loc)
			if err != nil {
				t.Fatalf("Location %q: %v", loc, err)
			}
			if to.Host != base.Host || !strings.HasPrefix(to.Path, Prefix) || strings.Contains(to.EscapedPath(), "..") || strings.Contains(strings.ToLower(to.EscapedPath()), "%2e%2e") {
				t.Errorf("next=%q sends the browser to %q (Location %q), not a console page of this server", next, to, loc)
			}
		})
	}
}
