package console

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
)

func TestSessionsBoundedAndExpire(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := newSessions(Options{MaxSessions: 3, IdleTimeout: time.Hour, MaxAge: 3 * time.Hour, Now: func() time.Time { return now }})
	var all []*session
	for i := range 5 {
		now = now.Add(time.Second)
		all = append(all, s.add("acct", "key", false))
		if n := s.count(); n != min(i+1, 3) {
			t.Fatalf("after %d sign-ins %d sessions, want %d", i+1, n, min(i+1, 3))
		}
	}
	req := func(x *session) *http.Request {
		r := httptest.NewRequest("GET", "/console/", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: x.id})
		return r
	}
	for i, x := range all {
		if got := s.get(req(x)) != nil; got != (i >= 2) {
			t.Errorf("session %d live = %v, want %v (the oldest go first)", i, got, i >= 2)
		}
	}
	now = now.Add(59 * time.Minute) // used within the hour: still live
	if s.get(req(all[4])) == nil {
		t.Fatal("a session used within the idle timeout expired")
	}
	now = now.Add(61 * time.Minute)
	if s.get(req(all[4])) != nil {
		t.Fatal("a session idle for over an hour is still live")
	}
	x := s.add("acct", "key", false)
	for range 5 {
		now = now.Add(50 * time.Minute)
		s.get(req(x))
	}
	if s.get(req(x)) != nil {
		t.Fatal("a session in use for over MaxAge is still live")
	}
	if a, b := randomToken(), randomToken(); a == b || len(a) < 40 {
		t.Fatalf("tokens %q %q", a, b)
	}
}

func TestRiskyRule(t *testing.T) {
	for _, tc := range []struct {
		dir  model.Direction
		in   model.RuleInput
		want string
	}{
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"}, "SSH (22)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", Ipv6SourceCidrIp: "::/0"}, "SSH (22)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "3000/3400", SourceCidrIp: "0.0.0.0/0"}, "RDP (3389), MySQL (3306), development servers (3000)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "203.0.113.7/32"}, ""},
		// As the audit: a service that listens on UDP too is open over UDP.
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "UDP", PortRange: "3389/3389", SourceCidrIp: "0.0.0.0/0"}, "RDP (3389)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "UDP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"}, ""},
		{model.Ingress, model.RuleInput{Policy: "drop", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"}, ""},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0"}, ""},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "ICMP", PortRange: "-1/-1", SourceCidrIp: "0.0.0.0/0"}, ""},
		{model.Egress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", DestCidrIp: "0.0.0.0/0"}, ""},
		// Half the internet or more, as the audit counts it
		// (audit.HalfInternet): a /1, the IPv6 internet 2000::/3 and its
		// halves; not a /2, nor blocks without internet addresses.
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/1"}, "SSH (22)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "128.0.0.0/1"}, "SSH (22)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "128.0.0.0/2"}, ""},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", Ipv6SourceCidrIp: "2000::/3"}, "SSH (22)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "3306/3306", Ipv6SourceCidrIp: "3000::/4"}, "MySQL (3306)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", Ipv6SourceCidrIp: "::/1"}, "SSH (22)"},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", Ipv6SourceCidrIp: "2000::/5"}, ""},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", Ipv6SourceCidrIp: "8000::/1"}, ""},
		{model.Ingress, model.RuleInput{Policy: "accept", IpProtocol: "TCP", PortRange: "22/22", Ipv6SourceCidrIp: "2001:db8::/32"}, ""},
	} {
		r, _, e := model.ParseRule(tc.dir, tc.in, false)
		if e != nil {
			t.Fatalf("%+v: %v", tc.in, e)
		}
		if got := riskyRule(&r); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRowInput(t *testing.T) {
	for _, tc := range []struct {
		row  ruleRowInput
		dir  model.Direction
		want model.RuleInput
	}{
		{ruleRowInput{Protocol: "TCP", Ports: "22", Peer: "10.0.0.0/8"}, model.Ingress, model.RuleInput{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}},
		{ruleRowInput{Protocol: "TCP", Ports: "8000-8080", Peer: "2001:db8::/32"}, model.Ingress, model.RuleInput{IpProtocol: "TCP", PortRange: "8000/8080", Ipv6SourceCidrIp: "2001:db8::/32"}},
		{ruleRowInput{Protocol: "ICMP", Peer: "sg-abc", Owner: "123"}, model.Ingress, model.RuleInput{IpProtocol: "ICMP", PortRange: "-1/-1", SourceGroupId: "sg-abc", SourceGroupOwnerId: "123"}},
		{ruleRowInput{Protocol: "UDP", Ports: "prl-x", Peer: "pl-y"}, model.Egress, model.RuleInput{IpProtocol: "UDP", PortRangeListId: "prl-x", DestPrefixListId: "pl-y"}},
	} {
		if got := tc.row.input(tc.dir); got != tc.want {
			t.Errorf("%+v %s: %+v, want %+v", tc.row, tc.dir, got, tc.want)
		}
	}
	// A stored rule comes back to the form as it was typed.
	r, _, _ := model.ParseRule(model.Ingress, model.RuleInput{Policy: "accept", Priority: "5", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8", Description: "x"}, false)
	if got := rowOfRule(&r); got.Ports != "22" || got.Peer != "10.0.0.0/8" || got.Priority != "5" || got.Desc != "x" {
		t.Errorf("rowOfRule: %+v", got)
	}
}

// tenantService is the services over a real store (closed when the test
// ends) with one tenant: its key and its caller in cn-hangzhou.
func tenantService(t *testing.T) (*service.Service, model.AccessKey, service.Caller) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st)
	key, cl := newTenant(t, svc, "tenant")
	return svc, key, cl
}

// newTenant makes a tenant named name, and returns its key and its caller
// in cn-hangzhou.
func newTenant(t *testing.T, svc *service.Service, name string) (model.AccessKey, service.Caller) {
	t.Helper()
	ctx := context.Background()
	_, key, err := svc.NewTenant(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := svc.CallerOf(ctx, key.ID, "cn-hangzhou", true)
	if err != nil {
		t.Fatal(err)
	}
	return key, cl
}

// consoleServer is a console over a real store, with an account and a
// group, served by httptest.
func consoleServer(t *testing.T) (*httptest.Server, *service.Service, model.AccessKey, string) {
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv, svc, key, g.SecurityGroupId
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestSignInSessionAndCSRF(t *testing.T) {
	srv, svc, key, group := consoleServer(t)
	base := srv.URL + Prefix
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	post := func(path string, f url.Values, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// A wrong secret and an unknown key get the same answer.
	_, wrongSecret := post("signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {"nope"}})
	resp, unknown := post("signin", url.Values{"AccessKeyId": {"LTAInosuchkey"}, "AccessKeySecret": {"nope"}})
	if resp.StatusCode != 401 || !strings.Contains(wrongSecret, "is wrong") {
		t.Fatalf("wrong secret: %d %.300s", resp.StatusCode, wrongSecret)
	}
	strip := func(s string) string { return strings.ReplaceAll(s, key.ID, "LTAInosuchkey") }
	if strip(wrongSecret) != unknown {
		t.Fatal("a wrong secret and an unknown key answer differently")
	}

	// The right pair: a cookie as the issue asks.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ = post("signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}})
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			ck = c
		}
	}
	if resp.StatusCode != 303 || ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != Prefix || len(ck.Value) < 40 {
		t.Fatalf("sign-in: %d, cookie %+v", resp.StatusCode, ck)
	}
	hc.CheckRedirect = nil
	page, err := hc.Get(base + "r/cn-hangzhou/groups/" + group)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || page.Header.Get("Content-Security-Policy") == "" || page.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("group page: %d %v", page.StatusCode, page.Header)
	}
	tok := csrfRE.FindStringSubmatch(string(body))[1]

	rev := func() int64 { r, _ := svc.Store.Revision(context.Background()); return r }
	add := func(tok, priority string) url.Values {
		return url.Values{"csrf": {tok}, "op": {"add-rules"}, "step": {"apply"}, "group": {group}, "dir": {"ingress"},
			"r1.policy": {"accept"}, "r1.priority": {priority}, "r1.protocol": {"TCP"}, "r1.ports": {"22"}, "r1.peer": {"10.0.0.0/8"}}
	}
	before := rev()
	for _, tc := range []struct {
		name   string
		form   url.Values
		hdr    []string
		status int
		want   string
	}{
		{"no token", add("", "1"), nil, 403, "InvalidCSRFToken"},
		{"another token", add(randomToken(), "1"), nil, 403, "InvalidCSRFToken"},
		{"another site", add(tok, "1"), []string{"Origin", "https://evil.example"}, 403, "another site"},
		{"refused by the API at apply", add(tok, "0"), nil, 400, "InvalidPriority.ValueNotSupported"},
	} {
		resp, body := post("r/cn-hangzhou/change", tc.form, tc.hdr...)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want %d with %q: %.300s", tc.name, resp.StatusCode, tc.status, tc.want, body)
		}
		if r := rev(); r != before {
			t.Errorf("%s changed the store (revision %d → %d)", tc.name, before, r)
		}
	}
	if resp, body := post("r/cn-hangzhou/change", add(tok, "1")); resp.StatusCode != 200 || !strings.Contains(body, "done") || rev() == before {
		t.Fatalf("the right form: %d %.300s", resp.StatusCode, body)
	}

	// Sign-out ends the session on the server: the old cookie is refused.
	post("signout", url.Values{"csrf": {tok}})
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", base+"r/cn-hangzhou/groups", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: ck.Value})
	resp, err = plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "signin") {
		t.Fatalf("after sign-out the old cookie gets %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestSessionEndsWithItsKey: a session lasts only as long as the key it
// was signed in with may call the API: once that key is made Inactive or
// deleted, or its account disabled, the session's pages send it to sign
// in and its forms change nothing.
func TestSessionEndsWithItsKey(t *testing.T) {
	ctx := context.Background()
	operator := service.Caller{Operator: true}
	for _, tc := range []struct {
		name   string
		revoke func(svc *service.Service, owner service.Caller, key string) error
		ended  bool
	}{
		{"the key stays active", func(*service.Service, service.Caller, string) error { return nil }, false},
		{"the key is made Inactive", func(svc *service.Service, owner service.Caller, key string) error {
			return svc.UpdateAccessKey(ctx, service.KeyInput{Caller: owner, KeyID: key}, "Inactive")
		}, true},
		{"the key is deleted", func(svc *service.Service, owner service.Caller, key string) error {
			return svc.DeleteAccessKey(ctx, service.KeyInput{Caller: owner, KeyID: key})
		}, true},
		{"the account is disabled", func(svc *service.Service, owner service.Caller, _ string) error {
			return svc.DisableAccount(ctx, operator, owner.Account)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, svc, first, group := consoleServer(t)
			owner, err := svc.CallerOf(ctx, first.ID, "", false)
			if err != nil {
				t.Fatal(err)
			}
			// A second key signs in, so that the first may revoke it.
			key, err := svc.CreateAccessKey(ctx, service.KeyInput{Caller: owner, SigningKey: first.ID})
			if err != nil {
				t.Fatal(err)
			}
			base := srv.URL + Prefix
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar}
			resp, err := hc.PostForm(base+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			tok := csrfRE.FindStringSubmatch(string(body))
			if tok == nil {
				t.Fatalf("signed in to %s: no form token", resp.Request.URL)
			}
			if err := tc.revoke(svc, owner, key.ID); err != nil {
				t.Fatal(err)
			}
			rev := func() int64 { r, _ := svc.Store.Revision(ctx); return r }
			before := rev()
			hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			form := url.Values{"csrf": {tok[1]}, "op": {"modify-group"}, "step": {"apply"}, "group": {group}, "name": {"renamed"}, "description": {"renamed in the test"}}
			for _, req := range []*http.Request{
				httptest.NewRequest("GET", base+"r/cn-hangzhou/groups/"+group, nil),
				httptest.NewRequest("POST", base+"r/cn-hangzhou/change", strings.NewReader(form.Encode())),
			} {
				req.RequestURI = ""
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				toSignIn := resp.StatusCode == http.StatusSeeOther && strings.Contains(resp.Header.Get("Location"), Prefix+"signin")
				if toSignIn != tc.ended {
					t.Errorf("%s %s: %d to %q; sent to sign in: %v, want %v", req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Location"), toSignIn, tc.ended)
				}
			}
			if changed := rev() != before; changed == tc.ended {
				t.Errorf("the form changed the store: %v, want %v", changed, !tc.ended)
			}
		})
	}
}

// TestSignInTakesTenantKeysOnly: the console's pages and forms are a
// tenant's, so only a tenant's key signs in; the operator's key (which
// the API refuses every tenant action, as it owns no resources) and a
// host's key are refused, with no session and nothing made.
func TestSignInTakesTenantKeysOnly(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st)
	boot, err := svc.Bootstrap(ctx, service.BootstrapKeys{})
	if err != nil {
		t.Fatal(err)
	}
	op, err := svc.KeyCaller(ctx, boot.Operator.ID)
	if err != nil {
		t.Fatal(err)
	}
	host, err := svc.RegisterHost(ctx, op, "h1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name string
		key  model.AccessKey
		want string // in the refusal; "" signs in
	}{
		{"a tenant's key", boot.Tenant, ""},
		{"the operator's key", boot.Operator, "operator's key"},
		{"a host's key", host, "host key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {tc.key.ID}, "AccessKeySecret": {tc.key.Secret}})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			session := slices.ContainsFunc(resp.Cookies(), func(ck *http.Cookie) bool { return ck.Name == cookieName && ck.Value != "" })
			switch {
			case tc.want == "" && (resp.StatusCode != http.StatusSeeOther || !session):
				t.Errorf("refused: %d %.300s", resp.StatusCode, body)
			case tc.want != "" && (resp.StatusCode != http.StatusUnauthorized || session || !strings.Contains(html.UnescapeString(string(body)), tc.want)):
				t.Errorf("%d, session %v, want 401 saying %q: %.300s", resp.StatusCode, session, tc.want, body)
			}
		})
	}
}

// TestSessionUsedConcurrently: one session's pages in several tabs at
// once (regions switched in one while another opens the console) share
// its last region under the sessions' lock; run with -race, which a
// session written without it fails.
func TestSessionUsedConcurrently(t *testing.T) {
	srv, _, key, _ := consoleServer(t)
	base := srv.URL + Prefix
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.PostForm(base+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var paths []string
	for range 20 {
		paths = append(paths, "r/cn-hangzhou/groups/new", "", "r/cn-shanghai/groups/new", "")
	}
	errs := make(chan error, len(paths))
	for _, path := range paths {
		go func() {
			resp, err := hc.Get(base + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
					err = fmt.Errorf("%s: %d", path, resp.StatusCode)
				}
			}
			errs <- err
		}()
	}
	for range paths {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/r/cn-hangzhou/groups": "/console/r/cn-hangzhou/groups",
		"https://evil.example/console/": "",
		"//evil.example/console/":       "",
		"/other":                        "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCloneImportExportCompare: a clone gets the source's settings, then
// its rules through the import (with its preview); export and compare
// agree that the two groups hold the same rules.
func TestCloneImportExportCompare(t *testing.T) {
	srv, svc, key, group := consoleServer(t)
	ctx := context.Background()
	cl, _ := svc.CallerOf(ctx, key.ID, "cn-hangzhou", true)
	if err := svc.Authorize(ctx, service.RulesInput{Caller: cl, SecurityGroupID: group, Direction: model.Ingress, Permissions: []model.RuleInput{
		{Policy: "accept", Priority: "3", IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", Description: "=cmd"},
		{Policy: "drop", Priority: "1", IpProtocol: "UDP", PortRange: "53/53", SourceCidrIp: "10.0.0.0/8"}}}); err != nil {
		t.Fatal(err)
	}
	base := srv.URL + Prefix + "r/cn-hangzhou/"
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	get := func(u string) string {
		t.Helper()
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %.300s", u, resp.StatusCode, b)
		}
		return string(b)
	}
	post := func(f url.Values) (string, string) {
		t.Helper()
		resp, err := hc.PostForm(base+"change", f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %v: %d %.300s", f, resp.StatusCode, b)
		}
		return resp.Request.URL.String(), string(b)
	}
	if resp, err := hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}}); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	tok := csrfRE.FindStringSubmatch(get(base + "groups"))[1]

	at, page := post(url.Values{"csrf": {tok}, "op": {"clone-group"}, "step": {"apply"}, "group": {group}, "name": {"web-copy"}})
	m := regexp.MustCompile(`groups/(sg-[a-z0-9]+)/import\?`).FindStringSubmatch(at)
	if m == nil || !strings.Contains(at, "from="+group) || !strings.Contains(page, "clone-next") {
		t.Fatalf("after the clone at %s", at)
	}
	clone := m[1]
	rules := regexp.MustCompile(`(?s)<textarea id="rules" name="rules" rows="14" required>(.*?)</textarea>`).FindStringSubmatch(page)
	if rules == nil {
		t.Fatal("the import page after a clone holds no rules")
	}
	js := html.UnescapeString(rules[1])
	imp := url.Values{"csrf": {tok}, "op": {"import-rules"}, "step": {"preview"}, "group": {clone}, "dir": {"ingress"}, "rules": {js}}
	if _, prev := post(imp); !strings.Contains(prev, "Add 2 ingress rules") || !strings.Contains(prev, `id="apply"`) {
		t.Fatalf("import preview: %.600s", prev)
	}
	imp.Set("step", "apply")
	post(imp)

	if cmp := get(base + "groups/" + group + "/compare?with=" + clone); strings.Count(cmp, "<li>nothing</li>") != 2 {
		t.Fatalf("the clone differs from its source: %.2000s", cmp)
	}
	csv := get(base + "groups/" + clone + "/export?format=csv")
	if !strings.HasPrefix(csv, "Direction,Policy,Priority,IpProtocol,PortRange") || !strings.Contains(csv, "ingress,drop,1,UDP,53/53,,,10.0.0.0/8") || !strings.Contains(csv, "'=cmd") {
		t.Fatalf("CSV export:\n%s", csv)
	}
	if ex := get(base + "groups/" + clone + "/export"); !strings.Contains(ex, `"SecurityGroupId": "`+clone) {
		t.Fatalf("JSON export:\n%s", ex)
	}
}

// TestSignInThrottled: an address that keeps failing is refused for a
// while, even with the right key; other addresses are not.
func TestSignInThrottled(t *testing.T) {
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
		r.RemoteAddr = addr + ":1234"
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		return w.Code
	}
	for range maxFailures {
		if code := signIn("192.0.2.1", "wrong"); code != 401 {
			t.Fatalf("a wrong secret: %d", code)
		}
	}
	if code := signIn("192.0.2.1", key.Secret); code != 429 {
		t.Fatalf("after %d failures the right secret gets %d, want 429", maxFailures, code)
	}
	if code := signIn("192.0.2.2", key.Secret); code != 303 {
		t.Fatalf("another address gets %d, want 303", code)
	}
	now = now.Add(failureWindow)
	if code := signIn("192.0.2.1", key.Secret); code != 303 {
		t.Fatalf("after the window the right secret gets %d, want 303", code)
	}
}

// TestCachedRevisions: an answer is reused only at its revision; after a
// write, a page that waits gets a new answer, and a page that may be stale
// gets the last one at once, marked, while the new one is computed.
func TestCachedRevisions(t *testing.T) {
	svc, _, cl := tenantService(t)
	ctx := context.Background()
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	compute := func(context.Context) (int, error) { calls++; return calls, nil }
	ask := func(budget time.Duration) (int, bool) {
		v, fresh, err := cached(c, ctx, "k", budget, compute)
		if err != nil {
			t.Fatal(err)
		}
		return v, fresh
	}
	if v, fresh := ask(mustWait); v != 1 || !fresh {
		t.Fatalf("first: %d %v", v, fresh)
	}
	if v, fresh := ask(0); v != 1 || !fresh {
		t.Fatalf("same revision: %d %v, want the cached 1", v, fresh)
	}
	write := func() {
		if _, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web"}); err != nil {
			t.Fatal(err)
		}
	}
	write()
	if v, fresh := ask(mustWait); v != 2 || !fresh {
		t.Fatalf("after a write, waiting: %d %v, want a new 2", v, fresh)
	}
	write()
	v, fresh := ask(0)
	if v != 2 || fresh {
		t.Fatalf("after a write, stale allowed: %d %v, want the old 2, marked", v, fresh)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.cache.mu.Lock()
		_, busy := c.cache.inflight["k"]
		c.cache.mu.Unlock()
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, fresh := ask(0); v != 3 || !fresh {
		t.Fatalf("after the refresh: %d %v, want 3", v, fresh)
	}
}

// TestCachedBudget: after a write, a page with a budget gets the fresh
// answer when it is computed within the budget and the last one, marked,
// when not; a page that must wait joins the refresh under way instead of
// computing the answer a second time.
func TestCachedBudget(t *testing.T) {
	svc, _, cl := tenantService(t)
	ctx := context.Background()
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	gate := make(chan struct{}, 10) // a compute returns once let through
	compute := func(context.Context) (int32, error) { <-gate; return calls.Add(1), nil }
	ask := func(budget time.Duration) (int32, bool) {
		v, fresh, err := cached(c, ctx, "k", budget, compute)
		if err != nil {
			t.Fatal(err)
		}
		return v, fresh
	}
	write := func() {
		if _, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web"}); err != nil {
			t.Fatal(err)
		}
	}
	gate <- struct{}{}
	if v, fresh := ask(time.Millisecond); v != 1 || !fresh {
		t.Fatalf("first, nothing kept: %d %v, want 1 computed on the request", v, fresh)
	}
	write()
	gate <- struct{}{}
	if v, fresh := ask(10 * time.Second); v != 2 || !fresh {
		t.Fatalf("after a write, computed within the budget: %d %v, want a fresh 2", v, fresh)
	}
	write()
	if v, fresh := ask(time.Millisecond); v != 2 || fresh {
		t.Fatalf("after a write, not computed within the budget: %d %v, want the old 2, marked", v, fresh)
	}
	waited := make(chan int32)
	go func() { v, _ := ask(mustWait); waited <- v }()
	time.Sleep(20 * time.Millisecond)
	gate <- struct{}{}
	if v := <-waited; v != 3 {
		t.Fatalf("a page that must wait, while a refresh is under way: %d, want its 3", v)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("computed %d times, want 3: the page that waited joined the refresh", n)
	}
	// A write while a refresh is under way: the refresh runs again for it,
	// so the page is current once the refreshes end.
	write()
	ask(time.Millisecond) // a refresh starts, held at the gate
	write()
	if v, fresh := ask(time.Millisecond); v != 3 || fresh {
		t.Fatalf("two writes on: %d %v, want the old 3, marked", v, fresh)
	}
	gate <- struct{}{}
	gate <- struct{}{}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c.cache.mu.Lock()
		_, busy := c.cache.inflight["k"]
		c.cache.mu.Unlock()
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background refresh never ended")
		}
	}
	if v, fresh := ask(0); v != 5 || !fresh {
		t.Fatalf("after the refreshes: %d %v, want a fresh 5", v, fresh)
	}
}

// TestClassicGroupShowsBothSets: a classic group's page, export and compare
// show its intranet rules beside its internet ones, each row naming its
// set; they showed the internet set only, so a group whose rules face
// other accounts' classic instances read "No inbound rules".
func TestClassicGroupShowsBothSets(t *testing.T) {
	srv, svc, key, group := consoleServer(t) // a classic group
	ctx := context.Background()
	cl, _ := svc.CallerOf(ctx, key.ID, "cn-hangzhou", true)
	if err := svc.Authorize(ctx, service.RulesInput{Caller: cl, SecurityGroupID: group, Direction: model.Ingress, Permissions: []model.RuleInput{
		{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.1.0.0/16", NicType: "intranet", Description: "inside"},
		{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "0.0.0.0/0", NicType: "internet", Description: "outside"}}}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if resp, err := hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}}); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	base := srv.URL + Prefix + "r/cn-hangzhou/groups/" + group
	for _, tc := range []struct{ path, want string }{
		{"", "10.1.0.0/16 · intranet"},
		{"", "0.0.0.0/0 · internet"},
		{"/export?format=csv", ",intranet,inside"},
		{"/export?format=csv", ",internet,outside"},
		{"/compare?with=" + group, "<li>nothing</li>"},
	} {
		resp, err := hc.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(html.UnescapeString(string(b)), tc.want) {
			t.Errorf("GET %s: %d, want %q in %.1500s", tc.path, resp.StatusCode, tc.want, b)
		}
	}
}

// TestPeerOfAnotherAccountNamed: a rule whose peer is another account's
// group names that account on the group's page and in the comparison, as
// the API's answer does (SourceGroupOwnerAccount); the row showed the bare
// group ID, as for a group of the account's own.
func TestPeerOfAnotherAccountNamed(t *testing.T) {
	srv, svc, key, group := consoleServer(t) // a classic group
	ctx := context.Background()
	cl, _ := svc.CallerOf(ctx, key.ID, "cn-hangzhou", true)
	_, otherKey, err := svc.NewTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	ocl, _ := svc.CallerOf(ctx, otherKey.ID, "cn-hangzhou", true)
	theirs, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: ocl, Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	mine, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Authorize(ctx, service.RulesInput{Caller: cl, SecurityGroupID: group, Direction: model.Ingress, Permissions: []model.RuleInput{
		{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "5432/5432", SourceGroupId: theirs.SecurityGroupId, SourceGroupOwnerId: ocl.Account, NicType: "intranet"},
		{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "22/22", SourceGroupId: mine.SecurityGroupId, NicType: "intranet"}}}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if resp, err := hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}}); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	base := srv.URL + Prefix + "r/cn-hangzhou/groups/"
	for _, tc := range []struct {
		path, want string
		has        bool
	}{
		{group, theirs.SecurityGroupId + " of account " + ocl.Account + " · intranet", true},
		{group, mine.SecurityGroupId + " (mine) · intranet", true},
		{group, mine.SecurityGroupId + " (mine) of account", false},
		{mine.SecurityGroupId + "/compare?with=" + group, theirs.SecurityGroupId + " of account " + ocl.Account, true},
	} {
		resp, err := hc.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(html.UnescapeString(string(b)), tc.want) != tc.has {
			t.Errorf("GET %s: %d, has %q is %v, want %v", tc.path, resp.StatusCode, tc.want, !tc.has, tc.has)
		}
	}
}
