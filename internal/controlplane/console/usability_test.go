package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/palisade-sg/palisade/internal/analysis/audit"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/trail"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// layoutWorld is an account with a VPC, two groups (one with rules that
// reference the other) and an instance in both, as a new user has them.
func layoutWorld(t *testing.T) (*httptest.Server, *Console, model.AccessKey, string, string) {
	t.Helper()
	svc, key, cl := tenantService(t)
	vpc := &model.VPC{ID: "vpc-layout00000000001", Name: "prod", CIDR: netip.MustParsePrefix("10.0.0.0/16"), Owner: cl.Account}
	app := modeltest.Group("sg-layout0000000app01", vpc.ID, "basic")
	db := modeltest.Group("sg-layout00000000db01", vpc.ID, "basic",
		modeltest.Rule("sgr-layout0000000001", "in accept 1 TCP 3306/3306 10.0.1.0/24 desc=app_tier"),
		modeltest.Rule("sgr-layout0000000002", "in accept 1 TCP 5432/5432 "+app.ID),
		modeltest.Rule("sgr-layout0000000003", "in accept 100 TCP 1/65535 0.0.0.0/0 desc=a_wide_allow_that_a_later_deny_must_win_against"))
	db.Name, app.Name = "db-prod", "app-prod"
	db.Tags = []model.Tag{{Key: "owner", Value: "dba-team"}, {Key: "env", Value: "prod"}}
	in := modeltest.Public(modeltest.Instance("i-layout000000000db01", vpc.ID, "10.0.2.10", db.ID, app.ID), "47.100.1.20")
	in.Status, in.Name = model.StatusRunning, "db-prod-1"
	for _, g := range []*model.SecurityGroup{app, db} {
		g.Owner = cl.Account
	}
	in.Owner = cl.Account
	if _, err := svc.Import(context.Background(), cl.Region, service.Resources{VPCs: []*model.VPC{vpc},
		Groups: []*model.SecurityGroup{app, db}, Instances: []*model.Instance{in}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv, c, key, db.ID, in.ID
}

// narrowBrowser is a headless chromium with a phone-sized window, signed
// in to the console at srv.
func narrowBrowser(t *testing.T, srv *httptest.Server, key model.AccessKey, width int64) context.Context {
	t.Helper()
	path := chromium(t)
	ctx := headless(t, path, chromedp.WindowSize(int(width), 800))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 800), signIn(srv.URL, key)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	return ctx
}

// TestNarrowLayoutInBrowser: on a phone-sized screen, and on a desktop
// one, no page is wider than the window (a wide table scrolls in its own
// box), an ID in a table is shown whole on one line (it was broken at its
// hyphens, and on a narrow screen at every letter), and the inputs of the
// rule form are wide enough to type in.
func TestNarrowLayoutInBrowser(t *testing.T) {
	srv, _, key, group, instance := layoutWorld(t)
	r := srv.URL + Prefix + "r/cn-hangzhou/"
	for _, width := range []int64{390, 1280} {
		ctx := narrowBrowser(t, srv, key, width)
		for _, page := range []string{"groups", "groups/" + group, "groups/" + group + "/rules/new", "instances", "instances/" + instance, "audit", "map"} {
			// The audit and map pages reload themselves until their
			// analysis is done; wait for the final page.
			for i := 0; ; i++ {
				if err := chromedp.Do(ctx, chromedp.Navigate(r+page), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
					t.Fatalf("%d px, open %s: %v", width, page, err)
				}
				cur, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("updating") === null`))
				if err == nil && cur {
					break
				}
				if i == 100 {
					t.Fatalf("%s never shows the current analyses", page)
				}
				time.Sleep(200 * time.Millisecond)
			}
			wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
			if err != nil || wide > 0 {
				t.Errorf("%d px: %s is %d px wider than the window (%v)", width, page, wide, err)
			}
			broken, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(
				"table.list td > code, table.list td > a, table.list td.id, .tag, .badge"))
				.filter(e => { const r = document.createRange(); r.selectNodeContents(e);
					return new Set(Array.from(r.getClientRects()).filter(x => x.width > 0).map(x => Math.round(x.top))).size > 1 })
				.map(e => e.textContent.trim())`))
			if err != nil || len(broken) > 0 {
				t.Errorf("%d px: %s breaks %q over lines (%v)", width, page, broken, err)
			}
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(r+"groups/"+group+"/rules/new"), chromedp.WaitVisible(chromedp.CSS("#r1-ports"))); err != nil {
			t.Fatal(err)
		}
		narrowest, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.min(...Array.from(document.querySelectorAll("table.edit input")).map(e => e.getBoundingClientRect().width))`))
		if err != nil || narrowest < 60 {
			t.Errorf("%d px: an input of the rule form is %.0f px wide, too narrow to type in (%v)", width, narrowest, err)
		}
		// A radio button of the new group form sits just before its words
		// (it was stretched to the width of a text box, the words far away).
		if err := chromedp.Do(ctx, chromedp.Navigate(r+"groups/new"), chromedp.WaitVisible(chromedp.CSS("#name"))); err != nil {
			t.Fatal(err)
		}
		apart, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("form input[type=radio]")).filter(e => {
				const b = e.getBoundingClientRect(), r = document.createRange(); r.selectNodeContents(e.parentElement);
				const w = Array.from(r.getClientRects()).filter(x => x.width > 0 && x.left >= b.right - 1)[0];
				return !w || b.width > 30 || w.left - b.right > 24 || Math.abs((w.top + w.bottom) / 2 - (b.top + b.bottom) / 2) > 12 })
			.map(e => e.value)`))
		if err != nil || len(apart) > 0 {
			t.Errorf("%d px: the radio buttons %q of the new group form are not beside their words (%v)", width, apart, err)
		}
	}
}

// TestMapLabelsReadable: the reachability map of a few groups is not
// zoomed so far that its labels are huge and run into each other (fitting
// three nodes to the box drew 40 px labels).
func TestMapLabelsReadable(t *testing.T) {
	srv, _, key, _, _ := layoutWorld(t)
	ctx := narrowBrowser(t, srv, key, 1280)
	for i := 0; ; i++ {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/map"), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		if ready, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("map") !== null && document.getElementById("updating") === null`)); err == nil && ready {
			break
		}
		if i == 100 {
			t.Fatal("the map is never drawn")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#map[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	nodes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`palisadeMap.cy.nodes().length`))
	if err != nil || nodes < 2 {
		t.Fatalf("the map draws %d nodes (%v)", nodes, err)
	}
	px, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`parseFloat(palisadeMap.cy.nodes()[0].style("font-size")) * palisadeMap.cy.zoom()`))
	if err != nil || px > 16 {
		t.Fatalf("the map's labels are drawn %.0f px high (%v)", px, err)
	}
	// The labels do not overlap: their boxes on screen are apart.
	overlap, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const b = palisadeMap.cy.nodes().map(n => n.renderedBoundingBox({includeNodes: false, includeEdges: false, includeLabels: true}));
		for (let i = 0; i < b.length; i++) for (let j = i + 1; j < b.length; j++)
			if (b[i].x1 < b[j].x2 && b[j].x1 < b[i].x2 && b[i].y1 < b[j].y2 && b[j].y1 < b[i].y2) return true;
		return false })()`))
	if err != nil || overlap {
		t.Fatalf("labels of the map overlap (%v)", err)
	}
}

// get serves one page of the console to a session of account.
func get(t *testing.T, c *Console, account, path string) (int, string) {
	t.Helper()
	// A session lasts as long as its key: the account's first.
	keys, err := c.svc.ListAccessKeys(context.Background(), service.KeyInput{Caller: service.Caller{Account: account}})
	if err != nil || len(keys) == 0 {
		t.Fatalf("the keys of %s: %v %v", account, keys, err)
	}
	s := c.sessions.add(account, keys[0].ID, false)
	req := httptest.NewRequest("GET", path, nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	w := httptest.NewRecorder()
	serveFollowing(c, w, req)
	return w.Code, w.Body.String()
}

// TestMapEdgesNamed: the table of edges beside the map names the groups
// as the map's nodes do (it gave bare IDs under a picture of names).
func TestMapEdgesNamed(t *testing.T) {
	_, c, key, _, _ := layoutWorld(t)
	var body string
	for i := 0; ; i++ {
		code, b := get(t, c, key.Account, Prefix+"r/cn-hangzhou/map")
		if code != http.StatusOK {
			t.Fatalf("map: %d %.300s", code, b)
		}
		if body = b; !strings.Contains(b, `id="updating"`) {
			break
		}
		if i == 100 {
			t.Fatal("the map never shows the current reachability")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, table, _ := strings.Cut(body, `id="edges"`)
	for _, want := range []string{`<span class="name" title="db-prod">db-prod</span> <code>sg-layout00000000db01</code>`, `<span class="name" title="app-prod">app-prod</span> <code>sg-layout0000000app01</code>`} {
		if !strings.Contains(table, want) {
			t.Errorf("the edges table does not name %q:\n%.2000s", want, table)
		}
	}
}

// TestPreviewKeepsFlowLogFindings: the audit after a change is judged on
// the cloud only, without the flow logs; a preview listed every flow-log
// finding of the account (SGA-033: an exposed VPC without a flow log) as
// resolved by any change at all.
func TestPreviewKeepsFlowLogFindings(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	c.budgets.preview = diffTimeout // the diff in place
	s := c.sessions.add(key.Account, key.ID, false)
	cl := service.Caller{Account: key.Account, Region: "cn-hangzhou"}
	before, err := c.analysis.Audit(context.Background(), cl, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(before.Findings, func(f audit.Finding) bool { return f.Check == "SGA-033" }) {
		t.Fatal("the world has no SGA-033 finding: the test shows nothing")
	}
	form := url.Values{"csrf": {s.csrf}, "op": {"add-rules"}, "step": {"preview"}, "group": {group}, "dir": {"ingress"},
		"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"8080"}, "r1.peer": {"10.0.0.0/8"}, "r1.desc": {"app"}}
	req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	w := httptest.NewRecorder()
	serveFollowing(c, w, req)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `id="audit-section"`) || strings.Contains(body, `id="audit-pending"`) {
		t.Fatalf("preview: %d %.2000s", w.Code, body)
	}
	for _, li := range strings.Split(body, "<li ")[1:] {
		if strings.Contains(li, "SGA-033") || strings.Contains(li, "SGA-034") {
			t.Errorf("the preview of a rule for 10.0.0.0/8 lists a flow-log finding: %.300s", li)
		}
	}
}

// TestGroupsPaged: an account with 250 groups gets them a hundred at a
// time, every one on some page, with links between the pages (one page of
// a thousand rows was slow to draw); a search pages its matches.
func TestGroupsPaged(t *testing.T) {
	svc, key, cl := tenantService(t)
	var gs []*model.SecurityGroup
	for i := range 250 {
		g := modeltest.Group(fmt.Sprintf("sg-paged%013d", i), "", "basic")
		g.Owner, g.Name = cl.Account, fmt.Sprintf("g%03d", i)
		if i%2 == 0 {
			g.Name += "-even"
		}
		gs = append(gs, g)
	}
	if _, err := svc.Import(context.Background(), cl.Region, service.Resources{Groups: gs}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`<tr data-group="([^"]+)">`)
	for _, tc := range []struct {
		q        string
		pages    []int // rows on each page
		matching int
	}{
		{"", []int{100, 100, 50}, 250},
		{"even", []int{100, 25}, 125},
	} {
		seen := map[string]bool{}
		for i, want := range tc.pages {
			path := fmt.Sprintf("%sr/cn-hangzhou/groups?page=%d&q=%s", Prefix, i+1, tc.q)
			code, body := get(t, c, key.Account, path)
			rows := row.FindAllStringSubmatch(body, -1)
			if code != 200 || len(rows) != want {
				t.Fatalf("%s: %d with %d rows, want %d", path, code, len(rows), want)
			}
			for _, r := range rows {
				seen[r[1]] = true
			}
			if next := strings.Contains(body, `id="groups-next"`); next != (i < len(tc.pages)-1) {
				t.Errorf("%s: a link to the next page is %v", path, next)
			}
			if !strings.Contains(body, fmt.Sprintf("shown of %d", tc.matching)) {
				t.Errorf("%s does not say %d match", path, tc.matching)
			}
		}
		if len(seen) != tc.matching {
			t.Errorf("q=%q: the pages show %d groups, want %d", tc.q, len(seen), tc.matching)
		}
	}
}

// TestGroupFindingsPaged: a group with hundreds of audit findings (a rule
// without a description is one) lists them a hundred at a time on its
// page, every one on some page, with links between the pages (its page
// listed them all).
func TestGroupFindingsPaged(t *testing.T) {
	svc, key, cl := tenantService(t)
	var rules []model.Rule
	for i := range 180 {
		rules = append(rules, modeltest.Rule(fmt.Sprintf("sgr-paged%011d", i), fmt.Sprintf("in accept 1 TCP %d/%d 10.0.0.0/8", 1000+i, 1000+i)))
	}
	g := modeltest.Group("sg-paged0000000000001", "", "basic", rules...)
	g.Owner, g.Name = cl.Account, "many"
	if _, err := svc.Import(context.Background(), cl.Region, service.Resources{Groups: []*model.SecurityGroup{g}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	page := func(n int) string {
		path := fmt.Sprintf("%sr/cn-hangzhou/groups/%s?page=%d", Prefix, g.ID, n)
		for i := 0; ; i++ { // until the audit is computed
			code, body := get(t, c, key.Account, path)
			if code != 200 {
				t.Fatalf("%s: %d", path, code)
			}
			if !strings.Contains(body, `id="updating"`) {
				return body
			}
			if i == 100 {
				t.Fatalf("%s never shows the current audit", path)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	item := regexp.MustCompile(`<li><span class="badge sev-[a-z]+">[a-z]+</span> <code>(SGA-\d+)</code> (?:<code>([^<]+)</code> )?`)
	total := regexp.MustCompile(`shown of (\d+)\.`)
	seen := map[string]bool{}
	want, pages := 0, 0
	for n := 1; ; n++ {
		body := page(n)
		list, _, _ := strings.Cut(body[strings.Index(body, `id="find-h"`)+1:], "</ul>")
		items := item.FindAllStringSubmatch(list, -1)
		m := total.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("page %d does not say how many findings there are", n)
		}
		fmt.Sscan(m[1], &want)
		pages = (want + 99) / 100
		if rows := min(100, want-(n-1)*100); want <= 180 || len(items) != rows {
			t.Errorf("page %d lists %d findings of %d, want %d", n, len(items), want, rows)
		}
		for _, it := range items {
			seen[it[1]+" "+it[2]] = true
		}
		next := strings.Contains(body, `id="findings-next"`)
		if next != (n < pages) {
			t.Errorf("page %d of %d: a link to the next page is %v", n, pages, next)
		}
		if !next || n >= pages {
			break
		}
	}
	if len(seen) != want {
		t.Errorf("the pages list %d distinct findings, want %d", len(seen), want)
	}
}

// TestApplySentOnceInBrowser: a second click on Apply while the first is
// on its way does not send the change again, and the form says it is
// working.
func TestApplySentOnceInBrowser(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	var mu sync.Mutex
	applies := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/change") {
			r.ParseForm()
			if r.PostForm.Get("step") == "apply" {
				mu.Lock()
				applies++
				mu.Unlock()
				time.Sleep(700 * time.Millisecond) // a slow apply
			}
		}
		c.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := narrowBrowser(t, srv, key, 1280)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/groups/"+group+"/rules/new"),
		chromedp.WaitVisible(chromedp.CSS("#r1-peer")),
		chromedp.SendKeys(chromedp.CSS("#r1-ports"), "8080"),
		chromedp.SendKeys(chromedp.CSS("#r1-peer"), "10.0.0.0/8"),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#apply")),
	); err != nil {
		t.Fatal(err)
	}
	// Two clicks, the second while the first is on its way; what the form
	// says right after the first.
	working, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const a = document.getElementById("apply"); a.click();
		setTimeout(() => a.click(), 200); return (document.querySelector(".working") || {}).textContent || "" })()`))
	if err != nil || working == "" {
		t.Errorf("the form does not say it is working (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#group-id"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a second request, if sent, arrives
	mu.Lock()
	defer mu.Unlock()
	if applies != 1 {
		t.Fatalf("Apply clicked twice sent the change %d times", applies)
	}
}

// TestMapFoldsMemberlessGroups: a VPC with a hundred groups without
// members draws them as one node, which says how many, and lists them
// under the map; the groups with members are drawn as before (they were
// lost in a ring of a hundred tiny nodes, none of which any flow reaches).
func TestMapFoldsMemberlessGroups(t *testing.T) {
	srv, c, key, group, _ := layoutWorld(t)
	cl := service.Caller{Account: key.Account, Region: "cn-hangzhou"}
	var empty []*model.SecurityGroup
	for i := range 100 {
		g := modeltest.Group(fmt.Sprintf("sg-empty%013d", i), "vpc-layout00000000001", "basic")
		g.Owner, g.Name = cl.Account, fmt.Sprintf("spare-%03d", i)
		empty = append(empty, g)
	}
	if _, err := c.svc.Import(context.Background(), cl.Region, service.Resources{Groups: empty}); err != nil {
		t.Fatal(err)
	}
	ctx := narrowBrowser(t, srv, key, 1280)
	for i := 0; ; i++ { // until the reachability is computed
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/map?vpc=vpc-layout00000000001"), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		if cur, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("updating") === null`)); err == nil && cur {
			break
		}
		if i == 100 {
			t.Fatal("the map never shows the current reachability")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#map[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	nodes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.palisadeMap.cy.nodes().map(n => n.id())`))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(nodes)
	if want := []string{"memberless", group, "sg-layout0000000app01"}; !slices.Equal(slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == "internet" }), want) {
		t.Errorf("the map draws the nodes %q, want %q (and the internet)", nodes, want)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[window.palisadeMap.cy.getElementById("memberless").data("label"),
		String(document.querySelectorAll("#memberless li a[href*='/groups/sg-empty']").length)]`))
	if want := []string{"100 groups without members", "100"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("the folded node's label and the list's links: %q, want %q (%v)", got, want, err)
	}
}

// TestMapEmptyState: a region with nothing to draw says so and how to
// start, instead of an empty box.
func TestMapEmptyState(t *testing.T) {
	_, c, key, _, _ := layoutWorld(t)
	for _, tc := range []struct{ path, want string }{
		{"r/cn-beijing/map", "There is no VPC in cn-beijing yet"},
		{"r/cn-hangzhou/map?vpc=", "This network has no security groups"}, // the classic network
	} {
		var body string
		for i := 0; ; i++ {
			code, b := get(t, c, key.Account, Prefix+tc.path)
			if code != http.StatusOK {
				t.Fatalf("%s: %d %.300s", tc.path, code, b)
			}
			if body = b; !strings.Contains(b, `id="updating"`) {
				break
			}
			if i == 100 {
				t.Fatalf("%s never shows the current reachability", tc.path)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if strings.Contains(body, `id="map"`) || !strings.Contains(body, `id="map-empty"`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s does not say there is nothing to draw:\n%.1500s", tc.path, body[strings.Index(body, "<main"):])
		}
	}
}

// TestCloneNameOfUnnamedGroup: the clone form of a group without a name
// offers a name the API accepts ("-copy" was refused as malformed).
func TestCloneNameOfUnnamedGroup(t *testing.T) {
	svc, key, cl := tenantService(t)
	g, err := svc.CreateSecurityGroup(context.Background(), service.CreateGroupInput{Caller: cl})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/groups/"+g.SecurityGroupId)
	m := regexp.MustCompile(`id="clone-name" name="name" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no clone form")
	}
	if _, err := svc.CreateSecurityGroup(context.Background(), service.CreateGroupInput{Caller: cl, Name: m[1]}); err != nil {
		t.Fatalf("the clone form offers the name %q: %v", m[1], err)
	}
}

// TestFlowLogsPage: the flow logs page lists the account's flow logs of
// the region, not another account's, says when there are none, and the
// menu marks the page shown.
func TestFlowLogsPage(t *testing.T) {
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	vpc, err := svc.CreateVpc(ctx, service.CreateVpcInput{Caller: cl, CidrBlock: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	fl, err := svc.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: cl, ResourceType: "VPC", ResourceID: vpc.VpcId, TrafficType: "All", Name: "all-of-prod"})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := svc.NewTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := svc.CallerOf(ctx, otherKey.ID, "cn-hangzhou", true)
	ovpc, err := svc.CreateVpc(ctx, service.CreateVpcInput{Caller: other, CidrBlock: "10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	ofl, err := svc.CreateFlowLog(ctx, service.CreateFlowLogInput{Caller: other, ResourceType: "VPC", ResourceID: ovpc.VpcId, TrafficType: "All", Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/flowlogs")
	if code != 200 || !strings.Contains(body, `data-flowlog="`+fl.FlowLogId+`"`) || !strings.Contains(body, "all-of-prod") {
		t.Fatalf("the flow logs page does not list %s: %d %.2000s", fl.FlowLogId, code, body)
	}
	if strings.Contains(body, ofl.FlowLogId) || strings.Contains(body, "theirs") || strings.Contains(body, ovpc.VpcId) {
		t.Fatal("the flow logs page shows another account's flow log")
	}
	if !strings.Contains(body, `href="/console/r/cn-hangzhou/flowlogs" aria-current="page"`) || strings.Count(body, `aria-current="page"`) != 1 {
		t.Error("the menu does not mark the flow logs page alone as the page shown")
	}
	if code, body := get(t, c, key.Account, Prefix+"r/cn-beijing/flowlogs"); code != 200 || !strings.Contains(body, `id="flowlogs-none"`) {
		t.Errorf("a region without flow logs: %d, no empty state", code)
	}
}

// TestAutosubmitSelectKeyboard: a filter that applies when picked does
// not leave the page on the first arrow key (a keyboard user could not go
// past the next option); Enter applies the choice.
func TestAutosubmitSelectKeyboard(t *testing.T) {
	srv, _, key, _, _ := layoutWorld(t)
	ctx := narrowBrowser(t, srv, key, 1280)
	audit := srv.URL + Prefix + "r/cn-hangzhou/audit"
	if err := chromedp.Do(ctx, chromedp.Navigate(audit), chromedp.WaitVisible(chromedp.CSS("#severity")),
		chromedp.Focus(chromedp.CSS("#severity")), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != audit {
		t.Fatalf("after two arrow keys the page is %s, want still %s (%v)", loc, audit, err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#severity"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if loc, err = chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.Contains(loc, "severity=low") {
		t.Fatalf("Enter after choosing low leads to %s (%v)", loc, err)
	}
}

// TestOversizedFormPage: a form larger than the console takes is refused
// with a page that says what to do, not the HTTP parser's error text.
func TestOversizedFormPage(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	form := url.Values{"csrf": {s.csrf}, "op": {"import-rules"}, "step": {"preview"}, "group": {group}, "dir": {"ingress"},
		"rules": {strings.Repeat("x", maxForm+1)}}
	req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	w := httptest.NewRecorder()
	serveFollowing(c, w, req)
	body := w.Body.String()
	if w.Code != http.StatusRequestEntityTooLarge || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") ||
		strings.Contains(body, "http: ") || !strings.Contains(body, "Nothing was changed") || !strings.Contains(body, `class="ecs-code"`) {
		t.Fatalf("an oversized form: %d %s %.600s", w.Code, w.Header().Get("Content-Type"), body)
	}
}

// TestRefusedPreviewKeepsForm: a preview of rules the API refuses shows
// the API's error above the form as it was filled in, to correct and
// preview again (it showed the error alone, and Back led to the group
// page: every row had to be typed again).
func TestRefusedPreviewKeepsForm(t *testing.T) {
	srv, _, key, group, _ := layoutWorld(t)
	ctx := narrowBrowser(t, srv, key, 1280)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/groups/"+group+"/rules/new"),
		chromedp.WaitVisible(chromedp.CSS("#r1-peer")),
		chromedp.SetValue(chromedp.CSS("#r1-protocol"), "UDP"),
		chromedp.SendKeys(chromedp.CSS("#r1-ports"), "53"),
		chromedp.SendKeys(chromedp.CSS("#r1-peer"), "10.0.0.0/8"),
		chromedp.SendKeys(chromedp.CSS("#r1-desc"), "dns"),
		chromedp.SendKeys(chromedp.CSS("#r3-ports"), "80x"),
		chromedp.SendKeys(chromedp.CSS("#r3-peer"), "192.0.2.0/24"),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#error-code"))); err != nil {
		t.Fatal(err)
	}
	code, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error-code")))
	if err != nil || !strings.HasPrefix(code, "InvalidParam") {
		t.Fatalf("error code %q (%v)", code, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`["r1-protocol", "r1-ports", "r1-peer", "r1-desc", "r2-ports", "r3-ports", "r3-peer"].map(id => document.getElementById(id).value).join(" ")`))
	if want := "UDP 53 10.0.0.0/8 dns  80x 192.0.2.0/24"; err != nil || got != want {
		t.Fatalf("the refused form holds %q, want %q (%v)", got, want, err)
	}
	// Corrected, it previews.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#r3-ports"), "80"), chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#apply"))); err != nil {
		t.Fatal(err)
	}
	what, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#what")))
	if !strings.Contains(what, "Add 2 ingress rules") {
		t.Fatalf("the corrected form previews %q", what)
	}
}

// TestGroupMembersBounded: a group of 150 instances lists its first 100
// on its page (each row is a form) and links to the instances page, which
// lists all of them a page at a time; each Remove button names its
// instance for a screen reader.
func TestGroupMembersBounded(t *testing.T) {
	svc, key, cl := tenantService(t)
	g := modeltest.Group("sg-members0000000001", "", "basic")
	g.Owner = cl.Account
	other := modeltest.Group("sg-members0000000002", "", "basic")
	other.Owner = cl.Account
	var ins []*model.Instance
	for i := range 160 {
		grp := g.ID
		if i >= 150 {
			grp = other.ID // not a member
		}
		in := modeltest.Instance(fmt.Sprintf("i-members%011d", i), "", fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), grp)
		in.Owner, in.Status = cl.Account, model.StatusRunning
		ins = append(ins, in)
	}
	if _, err := svc.Import(context.Background(), cl.Region, service.Resources{Groups: []*model.SecurityGroup{g, other}, Instances: ins}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/groups/"+g.ID)
	_, members, _ := strings.Cut(body, `id="members"`)
	members, _, _ = strings.Cut(members, "</table>")
	if n := strings.Count(members, `name="op" value="leave"`); code != 200 || n != maxMembers {
		t.Fatalf("the group page lists %d members (%d), want %d", n, code, maxMembers)
	}
	if !strings.Contains(body, `id="members-more"`) || !strings.Contains(body, "of 150 members") || !strings.Contains(body, `aria-label="Remove i-members00000000000 (preview)"`) {
		t.Error("the group page does not say how many members there are, link to them all or name its Remove buttons")
	}
	seen := map[string]bool{}
	row := regexp.MustCompile(`<tr><td><a href="[^"]*/instances/(i-[a-z0-9]+)">`)
	for pg := 1; pg <= 2; pg++ {
		_, body := get(t, c, key.Account, fmt.Sprintf("%sr/cn-hangzhou/instances?group=%s&page=%d", Prefix, g.ID, pg))
		for _, m := range row.FindAllStringSubmatch(body, -1) {
			seen[m[1]] = true
		}
		if next := strings.Contains(body, `id="instances-next"`); next != (pg == 1) {
			t.Errorf("page %d of the members: a link to the next is %v", pg, next)
		}
	}
	if len(seen) != 150 || seen["i-members00000000155"] {
		t.Errorf("the instances page lists %d instances as the group's members, want its 150", len(seen))
	}
}

// TestEventsPage: the events page lists the account's events of the
// region from the event trail, refused calls marked, and never another
// account's.
func TestEventsPage(t *testing.T) {
	svc, key, cl := tenantService(t)
	tr, err := trail.Open(trail.File(filepath.Join(t.TempDir(), "x.db")), trail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	now := time.Now()
	for i, e := range []trail.Event{
		{EventID: "ev-mine-ok", EventName: "AuthorizeSecurityGroup", AcsRegion: "cn-hangzhou", ResourceName: "sg-eventsmine", ResourceType: "ACS::ECS::SecurityGroup"},
		{EventID: "ev-mine-refused", EventName: "RevokeSecurityGroup", AcsRegion: "cn-hangzhou", ErrorCode: "InvalidSecurityGroupId.NotFound"},
		{EventID: "ev-mine-beijing", EventName: "CreateSecurityGroup", AcsRegion: "cn-beijing"},
		{EventID: "ev-theirs", EventName: "DeleteSecurityGroup", AcsRegion: "cn-hangzhou", UserIdentity: trail.Identity{AccountID: "1234567890123456"}},
	} {
		if e.UserIdentity.AccountID == "" {
			e.UserIdentity = trail.Identity{Type: "root-account", AccountID: cl.Account, AccessKeyID: key.ID}
		}
		e.Time = now.Add(time.Duration(i) * time.Second)
		e.EventTime = e.Time.UTC().Format(time.RFC3339)
		if !tr.Record(e) {
			t.Fatal("the trail did not take an event")
		}
	}
	// Newer than those, more than a page of the trail's in another
	// region: the page reads past them.
	for j := range 1200 {
		e := trail.Event{EventID: fmt.Sprintf("ev-flood-%d", j), EventName: "CreateSecurityGroup", AcsRegion: "cn-beijing",
			UserIdentity: trail.Identity{Type: "root-account", AccountID: cl.Account, AccessKeyID: key.ID}, Time: now.Add(10*time.Second + time.Duration(j)*time.Millisecond)}
		e.EventTime = e.Time.UTC().Format(time.RFC3339)
		if !tr.Record(e) {
			t.Fatal("the trail did not take an event")
		}
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{Events: tr})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/events")
	if code != 200 || !strings.Contains(body, `data-event="ev-mine-ok"`) || !strings.Contains(body, "sg-eventsmine") ||
		!strings.Contains(body, `data-event="ev-mine-refused"`) || !strings.Contains(body, "InvalidSecurityGroupId.NotFound") {
		t.Fatalf("the events page does not list the account's events: %d %.3000s", code, body)
	}
	if strings.Contains(body, "ev-theirs") || strings.Contains(body, "ev-mine-beijing") {
		t.Error("the events page lists another account's event or another region's")
	}
	if strings.Index(body, "ev-mine-refused") > strings.Index(body, "ev-mine-ok") {
		t.Error("the events are not newest first")
	}
	c2, _ := New(svc, Options{})
	if code, body := get(t, c2, key.Account, Prefix+"r/cn-hangzhou/events"); code != 200 || !strings.Contains(body, `id="events-none"`) {
		t.Errorf("without a trail: %d, no note", code)
	}
}

// TestAuditPageIsTheAPIs: the audit page lists the findings the API's
// audit (PalisadeAudit) gives the account, SGA-032 included (the console
// never said whether the server alerts, so its audit had one finding
// fewer than palisade audit), and every link of a finding opens a page (a
// VPC's finding, SGA-033, linked to an instance page that answered 404).
func TestAuditPageIsTheAPIs(t *testing.T) {
	_, base, key, _, _ := layoutWorld(t)
	cl := service.Caller{Account: key.Account, Region: "cn-hangzhou"}
	href := regexp.MustCompile(`href="([^"]+)"`)
	for _, alerting := range []bool{false, true} {
		t.Run(fmt.Sprint("alerting=", alerting), func(t *testing.T) {
			c, err := New(base.svc, Options{ChangeAlerting: &alerting})
			if err != nil {
				t.Fatal(err)
			}
			want, err := c.analysis.Audit(context.Background(), cl, audit.Options{ChangeAlerting: &alerting}) // as analysisapi asks
			if err != nil {
				t.Fatal(err)
			}
			if !alerting && !slices.ContainsFunc(want.Findings, func(f audit.Finding) bool { return f.Check == "SGA-032" }) {
				t.Fatal("the API's audit has no SGA-032 finding: the test shows nothing")
			}
			if !slices.ContainsFunc(want.Findings, func(f audit.Finding) bool { return f.Check == "SGA-033" }) {
				t.Fatal("the API's audit has no SGA-033 finding: the test shows nothing")
			}
			var body string
			for i := 0; ; i++ {
				code, b := get(t, c, key.Account, Prefix+"r/cn-hangzhou/audit")
				if code != http.StatusOK {
					t.Fatalf("audit: %d %.300s", code, b)
				}
				if body = b; !strings.Contains(b, `id="updating"`) {
					break
				}
				if i == 100 {
					t.Fatal("the audit page never shows the current audit")
				}
				time.Sleep(100 * time.Millisecond)
			}
			table, _, _ := strings.Cut(body[strings.Index(body, `id="findings"`):], "</table>")
			if got := strings.Count(table, `<span class="badge sev-`); got != len(want.Findings) {
				t.Errorf("the audit page lists %d findings, the API's audit %d", got, len(want.Findings))
			}
			for _, f := range want.Findings {
				if !strings.Contains(table, "<code>"+f.Check+"</code>") || !strings.Contains(table, f.Resource) {
					t.Errorf("the audit page lacks the API's %s of %s", f.Check, f.Resource)
				}
			}
			for _, m := range href.FindAllStringSubmatch(table, -1) {
				link := strings.ReplaceAll(m[1], "&amp;", "&")
				if code, b := get(t, c, key.Account, link); code != http.StatusOK {
					t.Errorf("the finding's link %s answers %d: %.300s", link, code, b)
				}
			}
		})
	}
}

// TestChangeSaysDone: after a change is applied, the page it leads back
// to says what was done, whichever page that is (deleting a group led to
// the groups list, which said nothing), and the message comes from the
// session, not the address: a link that carried its own text (done=…)
// made the console show it as a success.
func TestChangeSaysDone(t *testing.T) {
	_, c, key, db, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	cl := service.Caller{Account: key.Account, Region: "cn-hangzhou"}
	g, err := c.svc.CreateSecurityGroup(context.Background(), service.CreateGroupInput{Caller: cl, VpcID: "vpc-layout00000000001", Name: "spare"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, path string, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
		w := httptest.NewRecorder()
		serveFollowing(c, w, req)
		return w
	}
	w := send("POST", Prefix+"r/cn-hangzhou/change", url.Values{"csrf": {s.csrf}, "op": {"delete-group"}, "step": {"apply"}, "group": {g.SecurityGroupId}})
	to := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(to, Prefix+"r/cn-hangzhou/groups?") {
		t.Fatalf("delete: %d to %q, want a redirect to the groups list: %.500s", w.Code, to, w.Body.String())
	}
	want := "Delete the security group " + g.SecurityGroupId + ": done."
	for _, tc := range []struct {
		path, want, not string
	}{
		{to, want, ""},
		{Prefix + "r/cn-hangzhou/groups/" + db + "?done=" + url.QueryEscape("Your key leaked: sign in again at evil.example"), "", "evil.example"},
		{Prefix + "r/cn-hangzhou/groups", "", want},
	} {
		w := send("GET", tc.path, nil)
		body := w.Body.String()
		if w.Code != http.StatusOK || tc.want != "" && !strings.Contains(body, `id="flash">`+tc.want+`<`) {
			t.Errorf("%s: %d, want the message %q: %.300s", tc.path, w.Code, tc.want, body)
		}
		if tc.not != "" && strings.Contains(body, tc.not) {
			t.Errorf("%s shows %q", tc.path, tc.not)
		}
	}
}

// groupTotal counts an account's groups in cn-hangzhou.
func groupTotal(t *testing.T, c *Console, account string) int {
	t.Helper()
	cl := service.Caller{Account: account, Region: "cn-hangzhou"}
	l, err := c.svc.DescribeSecurityGroups(context.Background(), service.DescribeGroupsInput{Caller: cl, Page: service.Page{Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return l.Total
}

// TestRefusedNewGroupKeepsForm: a new group the API refuses comes back as
// its form, as typed, with the API's error, and nothing is made (the
// refusal's Back led to the groups list and what was typed was lost).
func TestRefusedNewGroupKeepsForm(t *testing.T) {
	srv, c, key, _, _ := layoutWorld(t)
	ctx := narrowBrowser(t, srv, key, 1280)
	groups := func() int { return groupTotal(t, c, key.Account) }
	before := groups()
	for _, tc := range []struct {
		name, desc, typ, policy, tags, code string
	}{
		{"http://web", "the web tier", "normal", "Drop", "env=prod", "InvalidSecurityGroupName.Malformed"},
		{"web", "isolated web tier", "enterprise", "Accept", "owner=web", "InvalidParameter.InnerAccessPolicy"},
		{"web", "tagged web tier", "normal", "", "acs:env=prod", "InvalidTagKey.Malformed"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+Prefix+"r/cn-hangzhou/groups/new"),
				chromedp.WaitVisible(chromedp.CSS("#name")),
				chromedp.SendKeys(chromedp.CSS("#name"), tc.name),
				chromedp.SendKeys(chromedp.CSS("#description"), tc.desc),
				chromedp.Click(chromedp.CSS(`input[name=type][value=`+tc.typ+`]`)),
				chromedp.SetValue(chromedp.CSS("#policy"), tc.policy),
				chromedp.SendKeys(chromedp.CSS("#tags"), tc.tags),
				chromedp.Click(chromedp.CSS("#preview")),
				chromedp.WaitVisible(chromedp.CSS("#error-code"))); err != nil {
				t.Fatal(err)
			}
			code, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error-code")))
			if err != nil || code != tc.code {
				t.Errorf("error code %q (%v), want %s", code, err, tc.code)
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[document.getElementById("name").value, document.getElementById("description").value,
				document.querySelector("input[name=type]:checked").value, document.getElementById("vpc").value,
				document.getElementById("policy").value, document.getElementById("tags").value].join("|")`))
			if want := strings.Join([]string{tc.name, tc.desc, tc.typ, "vpc-layout00000000001", tc.policy, tc.tags}, "|"); err != nil || got != want {
				t.Errorf("the refused form holds %q, want %q (%v)", got, want, err)
			}
		})
	}
	if after := groups(); after != before {
		t.Errorf("%d groups after the refusals, %d before", after, before)
	}
}

// TestRefusedSettingsKeepForm: a rename or a clone the API refuses comes
// back as the group's page with the refused form as typed and the API's
// error inside it, and nothing is changed (the refusal's Back led to the
// group's page as it was, and what was typed was lost).
func TestRefusedSettingsKeepForm(t *testing.T) {
	srv, c, key, group, _ := layoutWorld(t)
	ctx := narrowBrowser(t, srv, key, 1280)
	groups := func() int { return groupTotal(t, c, key.Account) }
	before := groups()
	for _, tc := range []struct {
		op, field, typed, other, otherTyped, code string
	}{
		{"modify-group", "#rename", "1db", "#redesc", "the database tier", "InvalidSecurityGroupName.Malformed"},
		{"clone-group", "#clone-name", "http://db-copy", "", "", "InvalidSecurityGroupName.Malformed"},
	} {
		t.Run(tc.op, func(t *testing.T) {
			steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(srv.URL + Prefix + "r/cn-hangzhou/groups/" + group),
				chromedp.WaitVisible(chromedp.CSS(tc.field)),
				chromedp.Clear(chromedp.CSS(tc.field)), chromedp.SendKeys(chromedp.CSS(tc.field), tc.typed)}
			if tc.other != "" {
				steps = append(steps, chromedp.Clear(chromedp.CSS(tc.other)), chromedp.SendKeys(chromedp.CSS(tc.other), tc.otherTyped))
			}
			steps = append(steps, chromedp.Click(chromedp.CSS(`form:has(input[name=op][value=`+tc.op+`]) button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS("#error-code")))
			if err := chromedp.Do(ctx, steps...); err != nil {
				t.Fatal(err)
			}
			code, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error-code")))
			if err != nil || code != tc.code {
				t.Errorf("error code %q (%v), want %s", code, err, tc.code)
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.querySelector("`+tc.field+`").value,
				`+"`"+tc.other+"`"+` && document.querySelector("`+tc.other+`").value,
				document.getElementById("api-error").closest("form").querySelector("input[name=op]").value,
				document.activeElement.id]`))
			if want := []string{tc.typed, tc.otherTyped, tc.op, tc.field[1:]}; err != nil || !slices.Equal(got, want) {
				t.Errorf("the page holds %q (field, other field, form of the error, focus), want %q (%v)", got, want, err)
			}
		})
	}
	attr, err := c.svc.DescribeSecurityGroupAttribute(context.Background(), service.GroupAttributeInput{Caller: service.Caller{Account: key.Account, Region: "cn-hangzhou"}, SecurityGroupID: group, Page: service.Page{Size: 1}})
	if err != nil || attr.Group.Name != "db-prod" || groups() != before {
		t.Errorf("after the refusals the group is named %q (%v), %d groups (%d before)", attr.Group.Name, err, groups(), before)
	}
}

// TestChangesInEventTrail: a change applied in the console is told to the
// server's observer as the API call it makes, with its parameters and
// the session's key, so the event trail (and the webhook) has it; a
// refused one with its error code. The console's changes were in no
// trail: the events page and palisade events did not list them.
func TestChangesInEventTrail(t *testing.T) {
	_, base, key, group, instance := layoutWorld(t)
	tr, err := trail.Open(trail.File(filepath.Join(t.TempDir(), "trail.db")), trail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var calls []*rpc.Call
	c, err := New(base.svc, Options{Events: tr, Observe: func(call *rpc.Call) {
		calls = append(calls, call)
		tr.Record(trail.EventOf(call, key.Account)) // as the server's observer does
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(key.Account, key.ID, false)
	for _, tc := range []struct {
		form             url.Values
		action, code     string
		param, paramWant string
	}{
		{url.Values{"op": {"add-rules"}, "group": {group}, "dir": {"ingress"}, "r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"8080"}, "r1.peer": {"0.0.0.0/0"}, "r1.desc": {"app"}},
			"AuthorizeSecurityGroup", "", "Permissions.1.PortRange", "8080/8080"},
		{url.Values{"op": {"delete-group"}, "group": {group}}, "DeleteSecurityGroup", "DependencyViolation", "SecurityGroupId", group},
		{url.Values{"op": {"leave"}, "group": {group}, "instance": {instance}}, "LeaveSecurityGroup", "", "InstanceId", instance},
		{url.Values{"op": {"create-group"}, "name": {"made-here"}}, "CreateSecurityGroup", "", "SecurityGroupName", "made-here"},
		// Its tags too, as the API's event of the same call has them.
		{url.Values{"op": {"create-group"}, "name": {"tagged"}, "tags": {"env=prod, owner=dba"}}, "CreateSecurityGroup", "", "Tag.2.Value", "dba"},
		{url.Values{"op": {"clone-group"}, "group": {group}, "name": {"tagged-copy"}}, "CreateSecurityGroup", "", "Tag.1.Key", "owner"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			n := len(calls)
			f := tc.form
			f.Set("csrf", s.csrf)
			f.Set("step", "apply")
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			c.ServeHTTP(httptest.NewRecorder(), req)
			if len(calls) != n+1 {
				t.Fatalf("%d calls observed, want 1", len(calls)-n)
			}
			call := calls[n]
			if tc.action == "CreateSecurityGroup" {
				// Its event names the group it made, as the API's answer does.
				ev := trail.EventOf(call, key.Account)
				if !slices.ContainsFunc(ev.Resources, func(r trail.Resource) bool { return strings.HasPrefix(r.ID, "sg-") && r.ID != group }) {
					t.Errorf("the creation's event names no new group: %+v", ev.Resources)
				}
			}
			if call.Request.Action != tc.action || !strings.HasPrefix(call.Code, tc.code) || tc.code == "" && call.Code != "" ||
				call.Request.AccessKeyID != key.ID || call.Request.Params.Get("RegionId") != "cn-hangzhou" || call.Request.Params.Get(tc.param) != tc.paramWant {
				t.Errorf("observed %s code %q key %s params %v; want %s code %q key %s, %s=%s", call.Request.Action, call.Code, call.Request.AccessKeyID,
					call.Request.Params, tc.action, tc.code, key.ID, tc.param, tc.paramWant)
			}
		})
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, c, key.Account, Prefix+"r/cn-hangzhou/events")
	for _, want := range []string{"AuthorizeSecurityGroup", "DeleteSecurityGroup", "DependencyViolation", "LeaveSecurityGroup", group} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("the events page lacks %s: %d", want, code)
		}
	}
}

// TestChangesOfSeveralCallsInEventTrail: a change the console makes as
// several API calls is recorded as those calls, each naming what it made
// or changed: a group created with a policy, or cloned from a group whose
// policy is Drop, is CreateSecurityGroup (naming the new group) and then
// ModifySecurityGroupPolicy of that group (only the creation was
// recorded, and the policy set was in no event), and the clone's rules,
// imported next, are AuthorizeSecurityGroup of the new group.
func TestChangesOfSeveralCallsInEventTrail(t *testing.T) {
	_, base, key, group, _ := layoutWorld(t)
	cl := service.Caller{Account: key.Account, Region: "cn-hangzhou"}
	if err := base.svc.ModifySecurityGroupPolicy(context.Background(), service.GroupPolicyInput{Caller: cl, SecurityGroupID: group, InnerAccessPolicy: "Drop"}); err != nil {
		t.Fatal(err)
	}
	var events []trail.Event
	c, err := New(base.svc, Options{Observe: func(call *rpc.Call) { events = append(events, trail.EventOf(call, key.Account)) }})
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(key.Account, key.ID, false)
	apply := func(f url.Values) {
		t.Helper()
		f.Set("csrf", s.csrf)
		f.Set("step", "apply")
		req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
		w := httptest.NewRecorder()
		serveFollowing(c, w, req)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("%v: %d %.300s", f, w.Code, w.Body.String())
		}
	}
	// made is the group the last CreateSecurityGroup event names.
	made := func() string {
		for i := len(events) - 1; i >= 0; i-- {
			if events[i].EventName == "CreateSecurityGroup" {
				for _, r := range events[i].Resources {
					if r.Type == "ACS::ECS::SecurityGroup" && r.ID != group {
						return r.ID
					}
				}
			}
		}
		return ""
	}
	_, export := get(t, c, key.Account, Prefix+"r/cn-hangzhou/groups/"+group+"/export?format=json")
	type want struct{ action, param, value string }
	for _, tc := range []struct {
		name string
		form func() url.Values
		want []want // "new" stands for the group made
	}{
		{"create with a policy", func() url.Values {
			return url.Values{"op": {"create-group"}, "name": {"made-here"}, "policy": {"drop"}}
		},
			[]want{{"CreateSecurityGroup", "SecurityGroupName", "made-here"}, {"ModifySecurityGroupPolicy", "InnerAccessPolicy", "Drop"}}},
		{"clone", func() url.Values { return url.Values{"op": {"clone-group"}, "group": {group}, "name": {"db-copy"}} },
			[]want{{"CreateSecurityGroup", "SecurityGroupName", "db-copy"}, {"ModifySecurityGroupPolicy", "InnerAccessPolicy", "Drop"}}},
		{"the clone's rules", func() url.Values {
			return url.Values{"op": {"import-rules"}, "group": {made()}, "dir": {"ingress"}, "rules": {export}}
		}, []want{{"AuthorizeSecurityGroup", "Permissions.1.PortRange", "3306/3306"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(events)
			apply(tc.form())
			got := events[n:]
			if len(got) != len(tc.want) {
				t.Fatalf("%d events, want %d: %+v", len(got), len(tc.want), got)
			}
			id := made()
			for i, w := range tc.want {
				ev := got[i]
				names := slices.ContainsFunc(ev.Resources, func(r trail.Resource) bool { return r.ID == id })
				if ev.EventName != w.action || ev.ErrorCode != "" || !names || ev.RequestParameters.Get(w.param) != w.value {
					t.Errorf("event %d: %s code %q resources %+v parameters %v; want %s naming %s with %s=%s",
						i, ev.EventName, ev.ErrorCode, ev.Resources, ev.RequestParameters, w.action, id, w.param, w.value)
				}
			}
		})
	}
}

// TestSignInSaysWhy: the sign-in page says that one signed out, or that
// the session ended, when that is why it is shown (it showed the bare
// form, as on a first visit), and says nothing a link asks it to.
func TestSignInSaysWhy(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	send := func(method, path string, cookie string, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
		}
		w := httptest.NewRecorder()
		serveFollowing(c, w, req)
		return w
	}
	out := send("POST", Prefix+"signout", s.id, url.Values{"csrf": {s.csrf}}).Header().Get("Location")
	page := Prefix + "r/cn-hangzhou/groups/" + group
	ended := send("GET", page, s.id, nil).Header().Get("Location") // the old cookie, its session gone
	first := send("GET", page, "", nil).Header().Get("Location")
	for _, tc := range []struct{ path, want string }{
		{out, "You are signed out."},
		{ended, "Your session ended"},
		{first, ""},
		{Prefix + "signin?why=" + url.QueryEscape("Sign in at evil.example"), ""},
	} {
		w := send("GET", tc.path, "", nil)
		body := w.Body.String()
		note := strings.Contains(body, `id="signin-note"`)
		if w.Code != 200 || note != (tc.want != "") || !strings.Contains(body, tc.want) || strings.Contains(body, "evil.example") {
			t.Errorf("%q: %d, want the note %q: %.400s", tc.path, w.Code, tc.want, body)
		}
	}
	if !strings.Contains(ended, url.QueryEscape(page)) {
		t.Errorf("an ended session goes to %q, which does not lead back to %s", ended, page)
	}
}
