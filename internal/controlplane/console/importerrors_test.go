package console

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestImportErrorsSayWhatToDo: an import refused says what is wrong in
// the user's terms. JSON of another shape was refused naming the
// console's Go type ("into Go value of type console.exported"), and an
// export whose rules are all of the other direction (a clone's import
// page of a group with outbound rules only, Inbound checked) as
// MissingParameter "Permissions", which names no form field.
func TestImportErrorsSayWhatToDo(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	egressOnly := `{"SecurityGroupId":"sg-x","Ingress":[],"Egress":[{"IpProtocol":"TCP","PortRange":"443/443","DestCidrIp":"10.0.0.0/8","Policy":"accept","Priority":"1"}]}`
	for _, tc := range []struct {
		name, rules, dir string
		want             string // in the error's message
		not              string // not in it
	}{
		{"an array", `[]`, "ingress", "Export gives an object", "Go "},
		{"a list where a rule is", `{"Ingress":[[]]}`, "ingress", "Ingress", "Go "},
		{"rules only outbound, Inbound chosen", egressOnly, "ingress", "no Ingress rules; choose Outbound", `"Permissions"`},
		{"no rules", `{"Ingress":[],"Egress":[]}`, "egress", "no rules to import", `"Permissions"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {s.csrf}, "op": {"import-rules"}, "step": {"preview"}, "group": {group}, "dir": {tc.dir}, "rules": {tc.rules}}
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
		})
	}
}
