package console

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestApplySaysHeldRules: an apply of rules of which the group has some
// says those were already in force and not added again, as the preview
// said (it said "done" for them as for the rules it added).
func TestApplySaysHeldRules(t *testing.T) {
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Authorize(ctx, service.RulesInput{Caller: cl, SecurityGroupID: g.SecurityGroupId, Direction: model.Ingress,
		Permissions: []model.RuleInput{{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "443/443", SourceCidrIp: "10.2.0.0/16"}}}); err != nil {
		t.Fatal(err)
	}
	attr, err := svc.DescribeSecurityGroupAttribute(ctx, allRules(cl, g.SecurityGroupId))
	if err != nil || len(attr.Rules) != 1 {
		t.Fatalf("%v %v", attr, err)
	}
	held := attr.Rules[0].ID
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(cl.Account, key.ID, false)
	row := func(f url.Values, n, port, peer, desc string) {
		f.Set("r"+n+".policy", "accept")
		f.Set("r"+n+".priority", "1")
		f.Set("r"+n+".protocol", "TCP")
		f.Set("r"+n+".ports", port)
		f.Set("r"+n+".peer", peer)
		if desc != "" {
			f.Set("r"+n+".desc", desc)
		}
	}
	for _, tc := range []struct {
		name string
		rows [][4]string // row, port, peer, description
		says string
	}{
		{"held only", [][4]string{{"1", "443", "10.2.0.0/16", ""}},
			"Add 1 ingress rule to " + g.SecurityGroupId + ": row 1 was already in force as " + held + ": not added again, nothing changed for it."},
		{"held and new", [][4]string{{"1", "80", "10.4.0.0/16", ""}, {"2", "443", "10.2.0.0/16", ""}},
			"Add 2 ingress rules to " + g.SecurityGroupId + ": done for row 1; row 2 was already in force as " + held + ": not added again, nothing changed for it."},
		{"held with a description", [][4]string{{"3", "443", "10.2.0.0/16", "tls"}},
			"Add 1 ingress rule to " + g.SecurityGroupId + ": row 3 was already in force as " + held + ": not added again; it takes this description."},
		{"new only", [][4]string{{"1", "8443", "10.5.0.0/16", ""}},
			"Add 1 ingress rule to " + g.SecurityGroupId + ": done."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {s.csrf}, "op": {"add-rules"}, "step": {"apply"}, "group": {g.SecurityGroupId}, "dir": {"ingress"}}
			for _, r := range tc.rows {
				row(f, r[0], r[1], r[2], r[3])
			}
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			c.ServeHTTP(w, req)
			if w.Code != http.StatusSeeOther {
				t.Fatalf("apply: %d %.2000s", w.Code, w.Body.String())
			}
			req = httptest.NewRequest("GET", w.Header().Get("Location"), nil)
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w = httptest.NewRecorder()
			c.ServeHTTP(w, req)
			body := html.UnescapeString(w.Body.String())
			i := strings.Index(body, `id="flash">`)
			if i < 0 {
				t.Fatalf("the page the apply led to says nothing: %.2000s", body)
			}
			got := body[i+len(`id="flash">`):]
			got = got[:strings.Index(got, "</p>")]
			if got != tc.says {
				t.Errorf("the apply says\n%q\nwant\n%q", got, tc.says)
			}
		})
	}
}
