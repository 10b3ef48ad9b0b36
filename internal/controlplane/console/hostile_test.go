package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
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

// TestErrorPageHidesCause: a failure of the store (an error that is not
// an ECS error) is shown as InternalError without its text, which may
// hold SQL or file names; the console's log has it.
func TestErrorPageHidesCause(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(st)
	ctx := context.Background()
	_, key, err := svc.NewTenant(ctx, "tenant")
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	c, err := New(svc, Options{Log: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := csrfRE.FindStringSubmatch(string(page))
	if tok == nil {
		t.Fatalf("no form after sign-in: %.300s", page)
	}
	st.Close()
	for _, op := range []url.Values{
		{"op": {"create-group"}, "step": {"apply"}, "name": {"web-two"}},
	} {
		op.Set("csrf", tok[1])
		resp, err := hc.PostForm(srv.URL+Prefix+"r/cn-hangzhou/change", op)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode < 500 || !strings.Contains(body, "InternalError") {
			t.Fatalf("%v with the store closed: %d %.500s", op, resp.StatusCode, body)
		}
		if strings.Contains(body, "closed") || strings.Contains(body, "sql") || strings.Contains(body, dir) {
			i := max(strings.Index(body, "closed"), strings.Index(body, "sql"), 0)
			t.Errorf("%v: the page shows the store's error: …%s…", op, body[max(i-300, 0):min(i+100, len(body))])
		}
		if !strings.Contains(logged.String(), "closed") {
			t.Errorf("the log lacks the cause:\n%s", logged.String())
		}
	}
}

// TestSignInThrottledPerIPv6Prefix: the failed sign-ins of an IPv6 /64
// count together, as one client holds a whole /64: otherwise it could
// guess from a fresh address of it each time. Another /64 is not held up.
func TestSignInThrottledPerIPv6Prefix(t *testing.T) {
	svc, key, _ := tenantService(t)
	now := time.Unix(1_000_000, 0)
	c, err := New(svc, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(addr, secret string) int {
		f := url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {secret}}
		r := httptest.NewRequest("POST", "/console/signin", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = "[" + addr + "]:1234"
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	for i := range maxFailures {
		if code := signIn(fmt.Sprintf("2001:db8::%x", i+1), "wrong"); code != 401 {
			t.Fatalf("a wrong secret: %d", code)
		}
	}
	for _, tc := range []struct {
		addr string
		want int
	}{
		{"2001:db8::ffff:1", http.StatusTooManyRequests},
		{"2001:db8:0:1::1", http.StatusSeeOther},
	} {
		if code := signIn(tc.addr, key.Secret); code != tc.want {
			t.Errorf("from %s after %d failures in 2001:db8::/64: %d, want %d", tc.addr, maxFailures, code, tc.want)
		}
	}
}

// TestSessionsBoundedPerAccount: one tenant signing in again and again
// (a success costs it nothing) pushes out only its own oldest sessions,
// never another tenant's; before, it filled the table and the least
// recently used sessions, anyone's, went.
func TestSessionsBoundedPerAccount(t *testing.T) {
	for _, tc := range []struct {
		name            string
		max, perAccount int
		flood           int // sign-ins of account a after b's one
		wantA           int // a's sessions kept
	}{
		{"under the bound", 10, 4, 3, 3},
		{"at the account's bound", 10, 4, 4, 4},
		{"past the account's bound", 10, 4, 50, 4},
		{"an account's bound near the table's", 5, 4, 50, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_000_000, 0)
			s := newSessions(Options{MaxSessions: tc.max, Now: func() time.Time { return now }})
			s.perAccount = tc.perAccount
			b := s.add("b", "key-b", false)
			var last *session
			for range tc.flood {
				now = now.Add(time.Second)
				last = s.add("a", "key-a", false)
			}
			req := func(x *session) *http.Request {
				r := httptest.NewRequest("GET", "/console/", nil)
				r.AddCookie(&http.Cookie{Name: cookieName, Value: x.id})
				return r
			}
			if s.get(req(b)) == nil {
				t.Errorf("b's session was pushed out by %d sign-ins of a", tc.flood)
			}
			if s.get(req(last)) == nil {
				t.Errorf("a's newest session is gone")
			}
			if n := s.count() - 1; n != tc.wantA {
				t.Errorf("a holds %d sessions, want %d", n, tc.wantA)
			}
		})
	}
}
