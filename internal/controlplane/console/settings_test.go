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

// TestSettingsFormLeavesEmptyAsIs: the settings form sends the name and
// the description; one empty as the group has it is left as it is. The
// empty description was sent, and refused as malformed, so a group
// without one (most groups) could not be renamed in the console. One
// emptied is still refused: the API cannot clear it.
func TestSettingsFormLeavesEmptyAsIs(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	ctx := context.Background()
	cl, err := c.svc.CallerOf(ctx, key.ID, "cn-hangzhou", true)
	if err != nil {
		t.Fatal(err)
	}
	unnamed, err := c.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, VpcID: "vpc-layout00000000001"})
	if err != nil {
		t.Fatal(err)
	}
	described, err := c.svc.CreateSecurityGroup(ctx, service.CreateGroupInput{Caller: cl, VpcID: "vpc-layout00000000001", Name: "described", Description: "the web tier"})
	if err != nil {
		t.Fatal(err)
	}
	s := c.sessions.add(key.Account, key.ID, false)
	for _, tc := range []struct {
		name, group, newName, newDesc string
		code                          int
		wantName, wantDesc            string
	}{
		{"rename a group without a description", group, "db-main", "", http.StatusSeeOther, "db-main", ""},
		{"describe a group without a name", unnamed.SecurityGroupId, "", "made by hand", http.StatusSeeOther, "", "made by hand"},
		{"clear a description", described.SecurityGroupId, "described", "", http.StatusBadRequest, "described", "the web tier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []string{"preview", "apply"} {
				f := url.Values{"csrf": {s.csrf}, "op": {"modify-group"}, "step": {step}, "group": {tc.group}, "name": {tc.newName}, "description": {tc.newDesc}}
				req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
				w := httptest.NewRecorder()
				c.ServeHTTP(w, req)
				want := tc.code
				if step == "preview" && want == http.StatusSeeOther {
					want = http.StatusOK
				}
				if w.Code != want {
					t.Fatalf("%s: %d, want %d: %.800s", step, w.Code, want, w.Body.String()[strings.Index(w.Body.String(), "<main"):])
				}
			}
			a, err := c.svc.DescribeSecurityGroupAttribute(ctx, service.GroupAttributeInput{Caller: cl, SecurityGroupID: tc.group, Page: service.Page{Size: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if a.Group.Name != tc.wantName || a.Group.Description != tc.wantDesc {
				t.Errorf("the group is %q %q, want %q %q", a.Group.Name, a.Group.Description, tc.wantName, tc.wantDesc)
			}
		})
	}
}

// TestSettingsPreviewSaysWhatChanges: the preview of the settings form
// names each field it sets. A new description alone was previewed as
// "Rename sg-… to" the name the group had, and a description changed
// beside a new name was not named at all, yet applied.
func TestSettingsPreviewSaysWhatChanges(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t) // the group is "db-prod", without a description
	s := c.sessions.add(key.Account, key.ID, false)
	for _, tc := range []struct {
		name, newName, newDesc string
		want                   string
		not                    string
	}{
		{"a description alone", "db-prod", "the databases", `Change ` + group + `: set its description to "the databases" (it is "")`, "rename"},
		{"a name alone", "db-main", "", `Change ` + group + `: rename it from "db-prod" to "db-main"`, "description"},
		{"both", "db-main", "the databases", `Change ` + group + `: rename it from "db-prod" to "db-main"; and set its description to "the databases" (it is "")`, "Leave"},
		{"neither", "db-prod", "", `Leave ` + group + ` as it is`, "rename"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {s.csrf}, "op": {"modify-group"}, "step": {"preview"}, "group": {group}, "name": {tc.newName}, "description": {tc.newDesc}}
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			c.ServeHTTP(w, req)
			_, what, _ := strings.Cut(html.UnescapeString(w.Body.String()), `id="what">`)
			what, _, _ = strings.Cut(what, "</p>")
			if w.Code != http.StatusOK || !strings.HasPrefix(what, tc.want) || strings.Contains(what, tc.not) {
				t.Errorf("%d: the preview says %q, want %q (and not %q)", w.Code, what, tc.want, tc.not)
			}
		})
	}
}
