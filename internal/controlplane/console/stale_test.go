package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestStalePreviewNotAppliedInBrowser: a change previewed, then a write to
// the account's resources through the API before Apply is clicked: the
// apply changes nothing, says why and shows the preview again on the
// state as it is now; Apply on that one applies. The apply ran the form
// on whatever the state had become, and did what no preview had shown
// (an accept that a drop added meanwhile shadows; a rule edited over
// another's edit).
func TestStalePreviewNotAppliedInBrowser(t *testing.T) {
	srv, c, key, group, _ := layoutWorld(t)
	ctx := context.Background()
	cl, err := c.svc.CallerOf(ctx, key.ID, "cn-hangzhou", true)
	if err != nil {
		t.Fatal(err)
	}
	rules := func() []model.Rule {
		t.Helper()
		a, err := c.svc.DescribeSecurityGroupAttribute(ctx, service.GroupAttributeInput{Caller: cl, SecurityGroupID: group})
		if err != nil {
			t.Fatal(err)
		}
		return a.Group.Rules
	}
	hasRule := func(port string, policy model.Policy) func() bool {
		return func() bool {
			return slices.ContainsFunc(rules(), func(r model.Rule) bool {
				return r.Direction == model.Ingress && r.Policy == policy && r.PortRange.String() == port
			})
		}
	}
	groupNamed := func(name string) func() bool {
		return func() bool {
			l, err := c.svc.DescribeSecurityGroups(ctx, service.DescribeGroupsInput{Caller: cl, Page: service.Page{Size: 100}})
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(l.Items, func(g service.GroupSummary) bool { return g.Group.Name == name })
		}
	}
	r := srv.URL + Prefix + "r/cn-hangzhou/"
	for _, tc := range []struct {
		name    string
		form    string // the page of the change's form
		fill    []chromedp.Action[chromedp.Void]
		between func() error // the write through the API after the preview
		applied func() bool
		done    string // what the page shows once applied
	}{
		{"a drop added before an accept is applied", r + "groups/" + group + "/rules/new",
			[]chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#r1-ports"), "8080"), chromedp.SendKeys(chromedp.CSS("#r1-peer"), "10.0.0.0/8")},
			func() error {
				return c.svc.Authorize(ctx, service.RulesInput{Caller: cl, SecurityGroupID: group, Direction: model.Ingress,
					Permissions: []model.RuleInput{{Policy: "drop", Priority: "1", IpProtocol: "tcp", PortRange: "8080/8080", SourceCidrIp: "10.0.0.0/8"}}})
			}, hasRule("8080/8080", model.Accept), "#group-id"},
		{"the rule edited is edited by another first", r + "groups/" + group + "/rules/sgr-layout0000000001/edit",
			[]chromedp.Action[chromedp.Void]{chromedp.SetValue(chromedp.CSS("#r1-ports"), "3307")},
			func() error {
				return c.svc.ModifyRule(ctx, service.ModifyRuleInput{Caller: cl, SecurityGroupID: group, Direction: model.Ingress,
					RuleID: "sgr-layout0000000001", Changes: model.RuleInput{PortRange: "3308/3308"}})
			}, hasRule("3307/3307", model.Accept), "#group-id"},
		{"a group made elsewhere meanwhile", r + "groups/new",
			[]chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#name"), "made-here")},
			func() error {
				_, err := c.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "made-there", VpcID: "vpc-layout00000000001"})
				return err
			}, groupNamed("made-here"), "#group-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := narrowBrowser(t, srv, key, 1280)
			do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
				t.Helper()
				if err := chromedp.Do(b, steps...); err != nil {
					main, _ := chromedp.Run(b, chromedp.OuterHTML(chromedp.CSS("main")))
					t.Fatalf("%s: %v\n%.2000s", what, err, main)
				}
			}
			do("fill in the form", append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(tc.form), chromedp.WaitVisible(chromedp.CSS("#preview"))}, tc.fill...)...)
			do("preview", chromedp.Click(chromedp.CSS("#preview")), chromedp.WaitVisible(chromedp.CSS("#apply")))
			if err := tc.between(); err != nil {
				t.Fatal(err)
			}
			// Either page: the test fails at once when the apply was made.
			do("apply the stale preview", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS("#changed, "+tc.done)))
			if tc.applied() {
				t.Fatal("a preview made before a change through the API was applied")
			}
			if said, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.getElementById("changed") !== null && document.getElementById("apply") !== null`)); err != nil || !said {
				t.Fatalf("the page does not say the preview is stale nor offer it again (%v)", err)
			}
			do("apply the preview shown again", chromedp.Click(chromedp.CSS("#apply")), chromedp.WaitVisible(chromedp.CSS(tc.done)))
			if !tc.applied() {
				t.Fatal("the preview shown again, applied, did not change the group")
			}
		})
	}
}

// TestApplySentAgainNotApplied: the apply form of a preview sent a second
// time (the back button and a resend, a form kept in another tab) finds
// the state changed by its first send: it makes nothing again. A group
// was made twice.
func TestApplySentAgainNotApplied(t *testing.T) {
	_, c, key, _, _ := layoutWorld(t)
	ctx := context.Background()
	cl, err := c.svc.CallerOf(ctx, key.ID, "cn-hangzhou", true)
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(key.Account, key.ID, false)
	send := func(f url.Values) (int, string) {
		req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
		w := httptest.NewRecorder()
		serveFollowing(c, w, req)
		return w.Code, w.Body.String()
	}
	f := url.Values{"csrf": {s.csrf}, "op": {"create-group"}, "step": {"preview"}, "name": {"once"}, "vpc": {"vpc-layout00000000001"}, "type": {"normal"}}
	code, body := send(f)
	m := regexp.MustCompile(`name="seen" value="([^"]+)"`).FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("preview: %d, mark %v", code, m)
	}
	f.Set("step", "apply")
	f.Set("seen", m[1])
	for i, want := range []int{http.StatusSeeOther, http.StatusConflict} {
		if code, body := send(f); code != want || want == http.StatusConflict && !strings.Contains(body, `id="changed"`) {
			t.Fatalf("send %d: %d, want %d", i+1, code, want)
		}
	}
	l, err := c.svc.DescribeSecurityGroups(ctx, service.DescribeGroupsInput{Caller: cl, Name: "once", Page: service.Page{Size: 10}})
	if err != nil || l.Total != 1 {
		t.Fatalf("%d groups named once (%v), want 1", l.Total, err)
	}
}
