package console

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sg/palisade/internal/analysis/audit"
	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/controlplane/service/analyze"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestPreviewAuditDiff: a preview whose audit diff is not ready within its
// budget says so and names the diff's address, which answers the findings
// the change adds and removes, as the audit before and the audit after
// the change (run here directly) differ; only the session that asked may
// read it. With time enough, the preview shows the same diff in place.
func TestPreviewAuditDiff(t *testing.T) {
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := svc.NewTenant(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := svc.CallerOf(ctx, otherKey.ID, "cn-hangzhou", true)
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mine, again, theirs := c.sessions.add(cl.Account, key.ID, false), c.sessions.add(cl.Account, key.ID, false), c.sessions.add(other.Account, otherKey.ID, false)
	serve := func(s *session, method, path string, form url.Values) (int, string) {
		var req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		if method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
		w := httptest.NewRecorder()
		serveFollowing(c, w, req)
		return w.Code, html.UnescapeString(w.Body.String())
	}
	form := url.Values{"csrf": {mine.csrf}, "op": {"add-rules"}, "step": {"preview"}, "group": {g.SecurityGroupId}, "dir": {"ingress"},
		"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"22"}, "r1.peer": {"0.0.0.0/0"}}

	// What the change does to the audit, asked of the analysis directly.
	before, err := c.analysis.Audit(ctx, cl, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := c.analysis.AuditAfter(ctx, cl, func(ctx context.Context, s *service.Service) error {
		return s.Authorize(ctx, service.RulesInput{Caller: cl, SecurityGroupID: g.SecurityGroupId, Direction: model.Ingress,
			Permissions: []model.RuleInput{{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "0.0.0.0/0"}}})
	}, audit.Options{}, func(m analyze.Made) map[string]string { // as the form's row
		return map[string]string{m.Rules[0].Rule.ID: "new rule (row 1)"}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := diffFindings(before.Findings, after)
	if len(want.Added) == 0 {
		t.Fatal("SSH from anywhere adds no finding: the test shows nothing")
	}
	// The rule the dry run adds is named by its row ("new rule (row 1)"):
	// the same in every run.
	shows := func(where, body string) {
		t.Helper()
		for _, f := range want.Added {
			if !strings.Contains(body, "<strong>New:</strong> <span class=\"badge sev-"+f.Severity.String()+"\">"+f.Severity.String()+"</span> <code>"+f.Check+"</code> "+f.Message) {
				t.Errorf("%s does not show the new finding %s %s", where, f.Check, f.Message)
			}
		}
		if n := strings.Count(body, "<li class=\"added\">"); n != len(want.Added) {
			t.Errorf("%s shows %d new findings, want %d", where, n, len(want.Added))
		}
		if n := strings.Count(body, "<li class=\"removed\">"); n != len(want.Removed) {
			t.Errorf("%s shows %d resolved findings, want %d", where, n, len(want.Removed))
		}
	}

	c.cache.ahead <- struct{}{} // the diff waits for the slot of work ahead: not ready in time
	code, body := serve(mine, "POST", "/console/r/cn-hangzhou/change", form)
	<-c.cache.ahead
	m := regexp.MustCompile(`id="audit-pending" role="status" data-src="([^"]+)"`).FindStringSubmatch(body)
	if code != 200 || m == nil || strings.Contains(body, `id="audit-diff"`) {
		t.Fatalf("preview without time for its audit: %d %.3000s", code, body[strings.Index(body, "<main"):])
	}
	if !strings.Contains(body, `id="apply"`) || !strings.Contains(body, `id="flows-h"`) {
		t.Fatalf("the preview lacks its flows or its Apply: %.1500s", body)
	}
	diffURL := m[1]
	for _, s := range []*session{again, theirs} {
		if code, body := serve(s, "GET", diffURL, nil); code != 404 || strings.Contains(body, "<li class=") {
			t.Errorf("another session reads the audit diff: %d %.300s", code, body)
		}
	}
	code, body = serve(mine, "GET", diffURL, nil)
	if code != 200 {
		t.Fatalf("the audit diff: %d %.600s", code, body)
	}
	shows("the audit diff's page", body)

	c.budgets.preview = diffTimeout // time enough: in place
	code, body = serve(mine, "POST", "/console/r/cn-hangzhou/change", form)
	if code != 200 || strings.Contains(body, `id="audit-pending"`) {
		t.Fatalf("preview with time for its audit: %d %.1500s", code, body)
	}
	shows("the preview", body)
}

// TestPreviewNamesPlanned: a preview's audit findings name the rules the
// change would make by where the form shows them ("new rule (row 3)"), and
// a group it would make "new group 1", not by the IDs of the dry run, which
// the applied change does not give them (a finding of "rule sgr-…" named
// a rule that never existed). A row that repeats a rule the group has
// adds none, and a blank row is skipped: numbered in the order made, the
// rule of row 3 was "new rule 1", which the user could not tell apart.
func TestPreviewNamesPlanned(t *testing.T) {
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web", Description: "the web tier"})
	if err != nil {
		t.Fatal(err)
	}
	web := model.RuleInput{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "80/80", SourceCidrIp: "0.0.0.0/0"}
	if err := svc.Authorize(ctx, service.RulesInput{Caller: cl, SecurityGroupID: g.SecurityGroupId, Direction: model.Ingress, Permissions: []model.RuleInput{web}}); err != nil {
		t.Fatal(err)
	}
	imported, err := json.Marshal(exported{Ingress: []model.RuleInput{web, {Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "3389/3389", SourceCidrIp: "0.0.0.0/0"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.budgets.preview = diffTimeout // the diff in place
	s := c.sessions.add(cl.Account, key.ID, false)
	for _, tc := range []struct {
		name string
		form url.Values
		want []string
		not  []string
	}{
		{"rules", url.Values{"op": {"add-rules"}, "group": {g.SecurityGroupId}, "dir": {"ingress"},
			"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"80"}, "r1.peer": {"0.0.0.0/0"},
			"r3.policy": {"accept"}, "r3.priority": {"1"}, "r3.protocol": {"TCP"}, "r3.ports": {"3389"}, "r3.peer": {"0.0.0.0/0"},
			"r4.policy": {"accept"}, "r4.priority": {"1"}, "r4.protocol": {"TCP"}, "r4.ports": {"22"}, "r4.peer": {"0.0.0.0/0"},
			// A group peer without an owner is the caller's, as Authorize resolves it.
			"r5.policy": {"accept"}, "r5.priority": {"1"}, "r5.protocol": {"TCP"}, "r5.ports": {"5432"}, "r5.peer": {g.SecurityGroupId}},
			[]string{"New rule (row 3) of " + g.SecurityGroupId + " (ingress accept TCP port 3389)", "New rule (row 4) of " + g.SecurityGroupId + " (ingress accept TCP port 22)",
				"New rule (row 5) of " + g.SecurityGroupId + " (ingress accept TCP port 5432)"},
			[]string{"New rule 1", "New rule 2", "(row 1)", "(row 2)"}},
		{"an import", url.Values{"op": {"import-rules"}, "group": {g.SecurityGroupId}, "dir": {"ingress"}, "rules": {string(imported)}},
			[]string{"New rule (rule 2 of the import) of " + g.SecurityGroupId + " (ingress accept TCP port 3389)"}, []string{"New rule 1", "rule 1 of the import"}},
		{"a group", url.Values{"op": {"create-group"}, "name": {"db"}}, []string{"New group 1 has no member instances"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := previewOf(c, s, tc.form)
			i, j := strings.Index(body, `id="audit-diff"`), strings.Index(body, "</section>")
			if code != 200 || i < 0 {
				t.Fatalf("%d, no audit diff: %.2000s", code, body)
			}
			diff := body[i:]
			if j > i {
				diff = body[i:j]
			}
			for _, want := range tc.want {
				if !strings.Contains(diff, want) {
					t.Errorf("the audit diff does not name %q: %s", want, diff)
				}
			}
			for _, not := range tc.not {
				if strings.Contains(diff, not) {
					t.Errorf("the audit diff names %q: %s", not, diff)
				}
			}
			if id := regexp.MustCompile(`\bsgr?-[a-z0-9]+`).FindAllString(strings.ReplaceAll(diff, g.SecurityGroupId, ""), -1); len(id) > 0 {
				t.Errorf("the audit diff names %q, which the change's resources will not be: %s", id, diff)
			}
		})
	}
}

// TestPreviewListsTheRules: the preview of an add or an import lists each
// rule it asks for, where the form has it and what it is, and says of a
// rule the group has already that it is not added again (it was listed as
// added, and the apply said done, the group unchanged); it said only
// "Add 3 ingress rules to sg-…", so the user applied rules they could not
// see again (the form's rows are gone from the preview page).
func TestPreviewListsTheRules(t *testing.T) {
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	g, err := svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	imported, err := json.Marshal(exported{Egress: []model.RuleInput{{Policy: "drop", Priority: "7", IpProtocol: "UDP", PortRange: "53/53", DestCidrIp: "10.1.0.0/16", Description: "no dns"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Two rules alike but for the source ports one of them has.
	sourcePorts, err := json.Marshal(exported{Ingress: []model.RuleInput{
		{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.1.0.0/16", SourcePortRange: "1000/2000"},
		{Policy: "accept", Priority: "1", IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.1.0.0/16"}}})
	if err != nil {
		t.Fatal(err)
	}
	// A rule the group has, which an add repeats.
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
	for _, tc := range []struct {
		name string
		form url.Values
		want [][]string // the table's rows, cell by cell
		head string
	}{
		{"a row the group has", url.Values{"op": {"add-rules"}, "group": {g.SecurityGroupId}, "dir": {"ingress"},
			"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"443"}, "r1.peer": {"10.2.0.0/16"},
			"r2.policy": {"accept"}, "r2.priority": {"1"}, "r2.protocol": {"TCP"}, "r2.ports": {"443"}, "r2.peer": {"10.3.0.0/16"},
			"r1.desc": {"tls"}},
			[][]string{{"row 1 (the group has it as " + held + ": not added again; it takes this description)", "accept", "1", "TCP", "443/443", "10.2.0.0/16", "tls"},
				{"row 2", "accept", "1", "TCP", "443/443", "10.3.0.0/16", ""}}, "Source"},
		{"rows", url.Values{"op": {"add-rules"}, "group": {g.SecurityGroupId}, "dir": {"ingress"},
			"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"8000-8080"}, "r1.peer": {"192.168.0.0/24"}, "r1.desc": {"the app"},
			"r3.policy": {"drop"}, "r3.priority": {"2"}, "r3.protocol": {"ICMP"}, "r3.ports": {"-1"}, "r3.peer": {g.SecurityGroupId}},
			[][]string{{"row 1", "accept", "1", "TCP", "8000/8080", "192.168.0.0/24", "the app"}, {"row 3", "drop", "2", "ICMP", "-1/-1", g.SecurityGroupId, ""}}, "Source"},
		{"an import", url.Values{"op": {"import-rules"}, "group": {g.SecurityGroupId}, "dir": {"egress"}, "rules": {string(imported)}},
			[][]string{{"rule 1 of the import", "drop", "7", "UDP", "53/53", "10.1.0.0/16", "no dns"}}, "Destination"},
		{"an import with source ports", url.Values{"op": {"import-rules"}, "group": {g.SecurityGroupId}, "dir": {"ingress"}, "rules": {string(sourcePorts)}},
			[][]string{{"rule 1 of the import", "accept", "1", "TCP", "22/22 from source ports 1000/2000", "10.1.0.0/16", ""},
				{"rule 2 of the import", "accept", "1", "TCP", "22/22", "10.1.0.0/16", ""}}, "Source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := previewOf(c, s, tc.form)
			i := strings.Index(body, `id="added-rules"`)
			if code != 200 || i < 0 {
				t.Fatalf("%d, no list of the rules: %.3000s", code, body)
			}
			table := body[i : i+strings.Index(body[i:], "</table>")]
			if !strings.Contains(table, ">"+tc.head+"</th>") {
				t.Errorf("the peer column is not headed %q: %s", tc.head, table)
			}
			var got [][]string
			for _, tr := range regexp.MustCompile(`(?s)<tr><td>(.*?)</td></tr>`).FindAllStringSubmatch(table, -1) {
				got = append(got, strings.Split(tr[1], "</td><td>"))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("the preview lists\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// previewOf posts form as session s's preview and returns the answer's
// status and its page, unescaped.
func previewOf(c *Console, s *session, form url.Values) (int, string) {
	form.Set("csrf", s.csrf)
	form.Set("step", "preview")
	req := httptest.NewRequest("POST", "/console/r/cn-hangzhou/change", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
	w := httptest.NewRecorder()
	serveFollowing(c, w, req)
	return w.Code, html.UnescapeString(w.Body.String())
}
