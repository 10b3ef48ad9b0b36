package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/controlplane/console"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
	"github.com/palisade-sg/palisade/internal/testkit/testenv"
)

// browser starts a headless chromium of its own (its own cookies) for the
// rest of the test.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), append(console.ChromiumOptions(t, path), chromedp.WindowSize(1280, 900))...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelT)
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// shots is where the screenshots go: $PALISADE_CONSOLE_SCREENSHOTS, else a
// temporary folder the test log names.
func shots(t *testing.T) string {
	dir := os.Getenv("PALISADE_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s (set PALISADE_CONSOLE_SCREENSHOTS to keep them)", dir)
	return dir
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage: %.3000s", what, err, html)
	}
}

// current opens a page until it shows the current analyses: one drawn
// from an earlier audit or reachability (or before the first is done) says
// so and reloads itself a moment later, which would cut a step short.
func current(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	for i := 0; ; i++ {
		do(t, ctx, "open "+page, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("main")))
		if cur, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("updating") === null`)); err == nil && cur {
			return
		}
		if i == 120 {
			t.Fatalf("%s never shows the current analyses", page)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// world is the test's cloud: one VPC with a running instance that has a
// public address, in a group the console did not make.
const (
	vpcID    = "vpc-console0000000001"
	webID    = "i-console00000000web1"
	publicIP = "47.100.1.10"
)

func seed(t *testing.T, srv *testenv.Server) {
	t.Helper()
	vpc := &model.VPC{ID: vpcID, Name: "prod", CIDR: netip.MustParsePrefix("10.0.0.0/16")}
	base := modeltest.Group("sg-console000000base1", vpcID, "basic")
	base.Name = "base"
	web := modeltest.Public(modeltest.Instance(webID, vpcID, "10.0.1.10", base.ID), publicIP)
	web.Status, web.Name = model.StatusRunning, "web-1"
	if _, err := srv.Ops.Import(context.Background(), testenv.Region, service.Resources{
		VPCs: []*model.VPC{vpc}, Groups: []*model.SecurityGroup{base}, Instances: []*model.Instance{web}}); err != nil {
		t.Fatal(err)
	}
}

func revision(t *testing.T, srv *testenv.Server) int64 {
	t.Helper()
	rev, err := srv.Store.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// TestConsoleInBrowser drives the console in headless chromium against a
// real server, checking what it shows against the official SDK and the
// analysis services.
func TestConsoleInBrowser(t *testing.T) {
	path := console.Chromium(t)
	srv := testenv.Start(t, testenv.Config{})
	seed(t, srv)
	dir := shots(t)
	base := "http://" + srv.Addr + "/console/"
	region := base + "r/" + testenv.Region + "/"
	ctx := browser(t, path)
	sdk := srv.ECS(t)

	// A wrong key gets a clear message and no session.
	do(t, ctx, "sign in with a wrong key", chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS("#akid")),
		chromedp.SendKeys(chromedp.CSS("#akid"), srv.KeyID),
		chromedp.SendKeys(chromedp.CSS("#aksecret"), "not-the-secret"),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#signin-error")))
	if got := text(t, ctx, "#signin-error"); !strings.Contains(got, "wrong") {
		t.Fatalf("wrong key: %q", got)
	}
	screenshot(t, ctx, dir, "01-signin-wrong-key")

	// Sign in: the default region is the one that holds the account's
	// resources.
	do(t, ctx, "sign in", chromedp.Clear(chromedp.CSS("#akid")),
		chromedp.SendKeys(chromedp.CSS("#akid"), srv.KeyID),
		chromedp.SendKeys(chromedp.CSS("#aksecret"), srv.Secret),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#create-group")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != region+"groups" {
		t.Fatalf("after sign-in at %s, want %s", loc, region+"groups")
	}

	// Create a group, through its preview.
	do(t, ctx, "create a group", chromedp.Click(chromedp.CSS("#create-group")),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "web"),
		chromedp.SendKeys(chromedp.CSS("#tags"), "env=prod"),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#apply")))
	do(t, ctx, "apply the new group", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#group-id")))
	group := text(t, ctx, "#group-id")
	groupURL := region + "groups/" + group
	if got := describe(t, sdk, group); got.SecurityGroupName != "web" || got.VpcId != vpcID {
		t.Fatalf("the SDK sees %s as %q in %q, want web in %s", group, got.SecurityGroupName, got.VpcId, vpcID)
	}

	// Join the instance, through its preview.
	do(t, ctx, "join", chromedp.SendKeys(chromedp.CSS("#join-instance"), webID),
		chromedp.Submit(chromedp.CSS("#join-instance")), chromedp.WaitVisible(chromedp.CSS("#apply")))
	do(t, ctx, "apply the join", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#group-id")))

	// Quick-add SSH from a /32: the SDK then sees the rule with the fields
	// the form gave it.
	quickSSH := func(peer, priority string) {
		t.Helper()
		do(t, ctx, "quick-add SSH", chromedp.Navigate(groupURL), chromedp.Click(chromedp.CSS("#tpl-ssh")),
			chromedp.WaitVisible(chromedp.CSS("#r1-peer")),
			chromedp.SendKeys(chromedp.CSS("#r1-peer"), peer))
		if priority != "" {
			do(t, ctx, "set the priority", chromedp.SetValue(chromedp.CSS("#r1-priority"), priority))
		}
	}
	quickSSH("203.0.113.7/32", "")
	if hidden := eval[bool](t, ctx, `document.getElementById("risky-warning").hidden`); !hidden {
		t.Fatal("SSH from a /32 shows the warning for the whole internet")
	}
	do(t, ctx, "preview SSH from a /32", chromedp.Click(chromedp.CSS("#preview")), chromedp.WaitVisible(chromedp.CSS("#apply")))
	if n := eval[int](t, ctx, `document.querySelectorAll(".risky").length`); n != 0 {
		t.Fatalf("the preview of SSH from a /32 shows %d warnings", n)
	}
	do(t, ctx, "apply SSH from a /32", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#group-id")))
	attr := describe(t, sdk, group)
	if len(attr.Permissions.Permission) != 1 {
		t.Fatalf("after the quick-add the SDK sees %d rules, want 1", len(attr.Permissions.Permission))
	}
	p := attr.Permissions.Permission[0]
	got := fmt.Sprint(p.Direction, " ", p.Policy, " ", p.Priority, " ", p.IpProtocol, " ", p.PortRange, " ", p.SourceCidrIp, " ", p.Description)
	if want := "ingress Accept 1 TCP 22/22 203.0.113.7/32 SSH"; got != want {
		t.Fatalf("the SDK sees the rule as %q, want %q", got, want)
	}
	if row := text(t, ctx, fmt.Sprintf(`tr[data-rule=%q]`, p.SecurityGroupRuleId)); !strings.Contains(row, "203.0.113.7/32") || !strings.Contains(row, "22/22") {
		t.Fatalf("the group page shows the rule as %q", row)
	}
	screenshot(t, ctx, dir, "03-group")

	// Quick-add SSH from 0.0.0.0/0: the form and the preview warn, and the
	// preview lists the flows the plan analysis gives, internet → member on
	// TCP 22 among them. Cancel changes nothing.
	quickSSH("0.0.0.0/0", "")
	if hidden := eval[bool](t, ctx, `document.getElementById("risky-warning").hidden`); hidden {
		t.Fatal("SSH from 0.0.0.0/0 shows no warning in the form")
	}
	screenshot(t, ctx, dir, "04-rule-form-warning")
	do(t, ctx, "preview SSH from anywhere", chromedp.Click(chromedp.CSS("#preview")), chromedp.WaitVisible(chromedp.CSS("#apply")))
	if w := text(t, ctx, ".risky"); !strings.Contains(w, "SSH (22)") {
		t.Fatalf("preview warning %q", w)
	}
	shown := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#flows tbody tr")).map(r => r.dataset.from + ">" + r.dataset.to + " " + r.querySelector(".opened").textContent)`)
	caller := service.Caller{Account: srv.UID, Region: testenv.Region}
	pl, err := analyze.New(srv.Ops.Service).PlanChange(context.Background(), caller, func(ctx context.Context, svc *service.Service) error {
		return svc.Authorize(ctx, service.RulesInput{Caller: caller, SecurityGroupID: group, Direction: model.Ingress,
			Permissions: []model.RuleInput{{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0", Description: "SSH"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	sawInternet := false
	for _, c := range pl.Changes {
		want = append(want, c.From+">"+c.To+" "+c.Opened.String())
		sawInternet = sawInternet || c.From == reach.Internet && c.To == webID && c.Opened.Allows(model.TCP, 22)
	}
	if !sawInternet {
		t.Fatalf("the plan analysis gives no internet → %s TCP 22 flow: %v", webID, want)
	}
	slices.Sort(shown)
	slices.Sort(want)
	if !slices.Equal(shown, want) {
		t.Fatalf("preview lists flows %q, the plan analysis %q", shown, want)
	}
	// The audit findings it adds, in place or fetched once computed: those
	// the audit after the change has and the audit before has not.
	do(t, ctx, "preview's audit diff", chromedp.WaitVisible(chromedp.CSS("#audit-diff")))
	added := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#audit-diff li.added code")).map(c => c.textContent)`)
	an := analyze.New(srv.Ops.Service)
	before, err := an.Audit(context.Background(), caller, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := an.AuditAfter(context.Background(), caller, func(ctx context.Context, svc *service.Service) error {
		return svc.Authorize(ctx, service.RulesInput{Caller: caller, SecurityGroupID: group, Direction: model.Ingress,
			Permissions: []model.RuleInput{{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0", Description: "SSH"}}})
	}, audit.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	had := map[audit.Finding]int{}
	for _, f := range before.Findings {
		had[f]++
	}
	var wantAdded []string
	for _, f := range after {
		if had[f] > 0 {
			had[f]--
		} else {
			wantAdded = append(wantAdded, f.Check)
		}
	}
	slices.Sort(added)
	slices.Sort(wantAdded)
	if len(wantAdded) == 0 || !slices.Equal(added, wantAdded) {
		t.Fatalf("the preview's audit diff adds %q; the audit before and after the change differ by %q", added, wantAdded)
	}
	screenshot(t, ctx, dir, "05-preview-ssh-anywhere")
	rev := revision(t, srv)
	do(t, ctx, "cancel", chromedp.Click(chromedp.CSS("#cancel")), chromedp.WaitVisible(chromedp.CSS("#group-id")))
	if r := revision(t, srv); r != rev || len(describe(t, sdk, group).Permissions.Permission) != 1 {
		t.Fatalf("cancel changed something: revision %d → %d", rev, r)
	}

	// A rule the API refuses: its code and message, and nothing changes.
	quickSSH("10.0.0.0/8", "0")
	do(t, ctx, "preview priority 0", chromedp.Click(chromedp.CSS("#preview")), chromedp.WaitVisible(chromedp.CSS("#error-code")))
	if code := text(t, ctx, "#error-code"); code != "InvalidPriority.ValueNotSupported" {
		t.Fatalf("priority 0 shows %q", code)
	}
	screenshot(t, ctx, dir, "06-refused")
	if r := revision(t, srv); r != rev || len(describe(t, sdk, group).Permissions.Permission) != 1 {
		t.Fatalf("a refused rule changed something: revision %d → %d", rev, r)
	}

	// The instance page: its groups, its effective rules, and "can A reach B?".
	do(t, ctx, "instance page", chromedp.Navigate(region+"instances/"+webID+"?to=203.0.113.7&protocol=tcp&port=22"),
		chromedp.WaitVisible(chromedp.CSS("#verdict")))
	screenshot(t, ctx, dir, "07-instance")

	// The audit page and the groups list.
	current(t, ctx, region+"audit")
	do(t, ctx, "audit", chromedp.WaitVisible(chromedp.CSS("#findings")))
	screenshot(t, ctx, dir, "08-audit")
	current(t, ctx, region+"groups")
	do(t, ctx, "groups", chromedp.WaitVisible(chromedp.CSS("#groups")))
	screenshot(t, ctx, dir, "02-groups")

	// Readable at 768 pixels: no page is wider than the window.
	do(t, ctx, "768 pixels wide", chromedp.EmulateViewport(768, 1000))
	for _, page := range []string{region + "groups", groupURL, region + "instances/" + webID, region + "audit"} {
		current(t, ctx, page)
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 768 {
			t.Errorf("%s is %d pixels wide in a 768-pixel window", page, w)
		}
	}
	screenshot(t, ctx, dir, "10-group-768")
	do(t, ctx, "1280 pixels wide", chromedp.EmulateViewport(1280, 900))

	t.Run("map", func(t *testing.T) { testMap(t, ctx, srv, base, dir) })
	t.Run("isolation", func(t *testing.T) { testIsolation(t, srv, path, base, group) })
}

// testMap loads a generated cloud into another region and checks that the
// map of each VPC draws exactly the edges the reachability analysis
// returns between that VPC's groups and the internet.
func testMap(t *testing.T, ctx context.Context, srv *testenv.Server, base, dir string) {
	const region = "cn-shanghai"
	gen := cloudgen.Generate(3, cloudgen.Small)
	if _, err := srv.Ops.Import(context.Background(), region, service.Resources{VPCs: gen.VPCs, Groups: gen.Groups,
		Instances: gen.Instances, PrefixLists: gen.PrefixLists, PortRangeLists: gen.PortRangeLists}); err != nil {
		t.Fatal(err)
	}
	caller := service.Caller{Account: srv.UID, Region: region}
	r, err := analyze.New(srv.Ops.Service).Reachability(context.Background(), analyze.ReachInput{Caller: caller, View: "graph"})
	if err != nil {
		t.Fatal(err)
	}
	vpcOf := map[string]string{}
	for _, g := range gen.Groups {
		vpcOf[g.ID] = g.VpcID
	}
	total := 0
	for _, v := range gen.VPCs {
		var want []string
		for _, e := range r.Graph.Edges {
			in := func(id string) bool { return id == reach.Internet || vpcOf[id] == v.ID }
			if in(e.From) && in(e.To) {
				want = append(want, e.From+">"+e.To)
			}
		}
		current(t, ctx, base+"r/"+region+"/map?vpc="+v.ID)
		do(t, ctx, "map of "+v.ID, chromedp.WaitVisible(chromedp.CSS(`#map[data-ready="1"]`)))
		drawn := eval[[]string](t, ctx, `window.palisadeMap.edges()`)
		slices.Sort(drawn)
		slices.Sort(want)
		if !slices.Equal(drawn, want) {
			t.Errorf("map of %s draws %d edges %q; the analysis returns %d %q", v.ID, len(drawn), drawn, len(want), want)
		}
		total += len(want)
		screenshot(t, ctx, dir, "09-map-"+v.ID)
		if len(drawn) > 0 { // an edge opens the rules on both sides
			href := eval[string](t, ctx, `document.querySelector("#edges tbody a").getAttribute("href")`)
			first := eval[string](t, ctx, `document.querySelector("#edges tbody tr").dataset.edge`)
			from, to, _ := strings.Cut(first, ">")
			do(t, ctx, "edge page", chromedp.Navigate(base+strings.TrimPrefix(href, "/console/")), chromedp.WaitVisible(chromedp.CSS("h1")))
			if h := text(t, ctx, "h1"); h != "From "+from+" to "+to {
				t.Errorf("edge page of %s says %q", first, h)
			}
		}
	}
	if total == 0 {
		t.Fatal("the generated cloud has no edge at all: the test would prove nothing")
	}
}

// testIsolation: a second account's session sees and changes nothing of
// the first account's, whether it types the address or replays a form, and
// a form without the session's CSRF token changes nothing.
func testIsolation(t *testing.T, srv *testenv.Server, path, base, group string) {
	other := srv.NewAccount(t, "other")
	groupPage := base + "r/" + testenv.Region + "/groups/" + group

	// In the browser: the first account's group by its address.
	ctx := browser(t, path)
	do(t, ctx, "sign in as the other account", chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.CSS("#akid")),
		chromedp.SendKeys(chromedp.CSS("#akid"), other.KeyID),
		chromedp.SendKeys(chromedp.CSS("#aksecret"), other.Secret),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#create-group")))
	if list := text(t, ctx, "#groups"); strings.Contains(list, group) {
		t.Fatalf("the other account's list shows %s", group)
	}
	do(t, ctx, "open the first account's group", chromedp.Navigate(groupPage), chromedp.WaitVisible(chromedp.CSS(".ecs-code")))
	if code := text(t, ctx, ".ecs-code"); code != "InvalidSecurityGroupId.NotFound" {
		t.Fatalf("the other account opening %s gets %q", group, code)
	}
	if html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, "203.0.113.7") || strings.Contains(html, ">web<") {
		t.Fatalf("the other account sees the group's contents: %s", html)
	}

	// Over HTTP: forms replayed with the other session, and without a token.
	mine, otherC := client(t, base, srv.KeyID, srv.Secret), client(t, base, other.KeyID, other.Secret)
	tokMine, tokOther := csrf(t, mine, base), csrf(t, otherC, base)
	form := func(tok string) url.Values {
		return url.Values{"csrf": {tok}, "op": {"delete-rules"}, "step": {"apply"}, "group": {group}, "dir": {"ingress"},
			"rule": {describe(t, srv.ECS(t), group).Permissions.Permission[0].SecurityGroupRuleId}}
	}
	changeURL := base + "r/" + testenv.Region + "/change"
	for _, tc := range []struct {
		name   string
		c      *http.Client
		form   url.Values
		status int
		code   string
	}{
		{"other account with its own token", otherC, form(tokOther), 404, "InvalidSecurityGroupId.NotFound"},
		{"other account with the first's token", otherC, form(tokMine), 403, "InvalidCSRFToken"},
		{"first account without a token", mine, form(""), 403, "InvalidCSRFToken"},
		{"first account with the other's token", mine, form(tokOther), 403, "InvalidCSRFToken"},
	} {
		rev := revision(t, srv)
		resp, err := tc.c.PostForm(changeURL, tc.form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.code) {
			t.Errorf("%s: status %d, want %d with %s: %.400s", tc.name, resp.StatusCode, tc.status, tc.code, body)
		}
		if r := revision(t, srv); r != rev || len(describe(t, srv.ECS(t), group).Permissions.Permission) != 1 {
			t.Errorf("%s changed something: revision %d → %d", tc.name, rev, r)
		}
	}
	// The same form with the right session and token does apply: the
	// refusals above are the checks, not a broken form.
	resp, err := mine.PostForm(changeURL, form(tokMine))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(describe(t, srv.ECS(t), group).Permissions.Permission); n != 0 {
		t.Fatalf("the first account's own form left %d rules (status %d)", n, resp.StatusCode)
	}
}

// client is an HTTP client signed in to the console with a key.
func client(t *testing.T, base, id, secret string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"signin", url.Values{"AccessKeyId": {id}, "AccessKeySecret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if u, _ := url.Parse(base); len(jar.Cookies(u)) == 0 {
		t.Fatalf("sign-in as %s set no cookie (status %d)", id, resp.StatusCode)
	}
	return c
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads a session's CSRF token from a page.
func csrf(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	resp, err := c.Get(base + "r/" + testenv.Region + "/groups")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the groups page (status %d)", resp.StatusCode)
	}
	return string(m[1])
}

func describe(t *testing.T, c *ecs.Client, group string) *ecs.DescribeSecurityGroupAttributeResponse {
	t.Helper()
	r := ecs.CreateDescribeSecurityGroupAttributeRequest()
	r.RegionId, r.SecurityGroupId = testenv.Region, group
	resp, err := c.DescribeSecurityGroupAttribute(r)
	if err != nil {
		t.Fatalf("DescribeSecurityGroupAttribute %s: %v", group, err)
	}
	return resp
}
