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
)

// TestRuleFormErrorsNameTheRow: a rule form refused says which row and
// what in it, as the user typed it, and changes nothing. A comma list of
// ports (the column's header reads "22, 8000-8080, prl-…") was refused as
// the PortRange "22,80/22,80", a TCP row without ports as "-1/-1", and an
// error in row 3 under rows left blank as "Permissions.1".
func TestRuleFormErrorsNameTheRow(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	ctx := context.Background()
	cl, err := c.svc.CallerOf(ctx, key.ID, "cn-hangzhou", true)
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(key.Account, key.ID, false)
	rules := func() int {
		a, err := c.svc.DescribeSecurityGroupAttribute(ctx, service.GroupAttributeInput{Caller: cl, SecurityGroupID: group})
		if err != nil {
			t.Fatal(err)
		}
		return len(a.Group.Rules)
	}
	before := rules()
	for _, tc := range []struct {
		name string
		rows map[string]string // row fields, "r3.ports": "22,80"
		want string            // in the error's message
		not  string            // not in it
	}{
		{"a list of ports", map[string]string{"r1.ports": "22,80", "r1.peer": "10.0.0.0/8"},
			`Row 1: Ports "22,80" is not a port (22), a range (8000-8080) or a port range list`, "22,80/22,80"},
		{"a range with spaces", map[string]string{"r2.ports": "8000 - 8080", "r2.peer": "10.0.0.0/8"},
			`Row 2: Ports "8000 - 8080" is not a port`, "/"},
		{"a range without its end", map[string]string{"r1.ports": "22-", "r1.peer": "10.0.0.0/8"},
			`Row 1: Ports "22-" is not a port`, `"22/"`},
		{"TCP without ports", map[string]string{"r1.peer": "10.0.0.0/8"},
			"Row 1: give the TCP ports", "-1/-1"},
		{"an error in row 3 under blank rows", map[string]string{"r3.ports": "22", "r3.peer": "10.0.0.0/33"},
			`Row 3: The specified SourceCidrIp "10.0.0.0/33"`, "Permissions.1"},
		{"the second rule sent, row 4", map[string]string{"r2.ports": "22", "r2.peer": "10.0.0.0/8", "r4.ports": "70000", "r4.peer": "10.0.0.0/8"},
			"Row 4: PortRange", "Permissions.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {s.csrf}, "op": {"add-rules"}, "step": {"preview"}, "group": {group}, "dir": {"ingress"}}
			for n := 1; n <= rowCount; n++ {
				f.Set("r"+string(rune('0'+n))+".protocol", "TCP")
				f.Set("r"+string(rune('0'+n))+".policy", "accept")
			}
			for k, v := range tc.rows {
				f.Set(k, v)
			}
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			serveFollowing(c, w, req)
			body := html.UnescapeString(w.Body.String())
			_, msg, _ := strings.Cut(body, `id="error-message">`)
			msg, _, _ = strings.Cut(msg, "</span>")
			if w.Code != http.StatusBadRequest || !strings.Contains(msg, tc.want) || strings.Contains(msg, tc.not) {
				t.Errorf("%d %q, want 400 and %q without %q", w.Code, msg, tc.want, tc.not)
			}
			if !strings.Contains(body, `id="rule-form"`) {
				t.Errorf("the refusal does not give the form back")
			}
			if n := rules(); n != before {
				t.Errorf("the group has %d rules, had %d", n, before)
			}
		})
	}
}

// TestClearedDescriptionSaysItStays: the edit form shows the whole rule,
// so clearing its description reads as removing it; the API keeps a
// description when none is given, so the preview says it stays (the
// apply said done and the description was still there).
func TestClearedDescriptionSaysItStays(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	for _, tc := range []struct {
		name, rule, desc string
		warns            bool
	}{
		{"cleared", "sgr-layout0000000001", "", true},
		{"changed", "sgr-layout0000000001", "the app tier", false},
		{"none before", "sgr-layout0000000002", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {s.csrf}, "op": {"edit-rule"}, "step": {"preview"}, "group": {group}, "dir": {"ingress"}, "rule": {tc.rule},
				"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"3306"}, "r1.peer": {"10.0.1.0/24"}, "r1.desc": {tc.desc}}
			if tc.rule == "sgr-layout0000000002" {
				f.Set("r1.ports", "5432")
				f.Set("r1.peer", "sg-layout0000000app01")
			}
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			serveFollowing(c, w, req)
			body := html.UnescapeString(w.Body.String())
			warns := strings.Contains(body, `The rule keeps its description "app tier"`)
			if w.Code != http.StatusOK || !strings.Contains(body, `id="apply"`) || warns != tc.warns {
				t.Errorf("%d, warns %v, want 200 with Apply, warns %v: %.1500s", w.Code, warns, tc.warns, body[strings.Index(body, "<main"):])
			}
		})
	}
}

// TestRulePeerErrorsNameTheRow: a peer group, prefix list or port range
// list the API does not find is refused naming the row it is in, with
// that row's field marked; these were checked after the rule's own
// fields and said only "The specified SourceGroupId … does not exist",
// with no row and no field marked in a form of five rows.
func TestRulePeerErrorsNameTheRow(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	for _, tc := range []struct {
		name        string
		peer, ports string // row 2's
		want        string // in the error's message
		field       string // the field marked
		status      int
	}{
		{"unknown peer group", "sg-nothere00000000001", "22", `Row 2: The specified SourceGroupId "sg-nothere00000000001"`, "r2-peer", http.StatusNotFound},
		{"unknown prefix list", "pl-nothere00000000001", "22", `Row 2: The specified PrefixListId "pl-nothere00000000001"`, "r2-peer", http.StatusNotFound},
		{"unknown port range list", "10.0.0.0/8", "prl-nothere0000000001", `Row 2: The specified PortRangeListId "prl-nothere0000000001"`, "r2-ports", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {s.csrf}, "op": {"add-rules"}, "step": {"preview"}, "group": {group}, "dir": {"ingress"},
				"r1.policy": {"accept"}, "r1.protocol": {"TCP"}, "r1.ports": {"80"}, "r1.peer": {"10.0.0.0/8"},
				"r2.policy": {"accept"}, "r2.protocol": {"TCP"}, "r2.ports": {tc.ports}, "r2.peer": {tc.peer}}
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			serveFollowing(c, w, req)
			body := html.UnescapeString(w.Body.String())
			_, msg, _ := strings.Cut(body, `id="error-message">`)
			msg, _, _ = strings.Cut(msg, "</span>")
			if w.Code != tc.status || !strings.Contains(msg, tc.want) {
				t.Errorf("%d %q, want %d and %q", w.Code, msg, tc.status, tc.want)
			}
			if !strings.Contains(body, `id="`+tc.field+`" name="`+strings.Replace(tc.field, "-", ".", 1)+`" aria-invalid="true"`) {
				t.Errorf("the form does not mark %s", tc.field)
			}
		})
	}
}
