package console

import (
	"context"
	"html"
	"maps"
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
				serveFollowing(c, w, req)
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
			serveFollowing(c, w, req)
			_, what, _ := strings.Cut(html.UnescapeString(w.Body.String()), `id="what">`)
			what, _, _ = strings.Cut(what, "</p>")
			if w.Code != http.StatusOK || !strings.HasPrefix(what, tc.want) || strings.Contains(what, tc.not) {
				t.Errorf("%d: the preview says %q, want %q (and not %q)", w.Code, what, tc.want, tc.not)
			}
		})
	}
}

// TestRuleEditPreviewSaysWhatChanges: the preview of a rule's edit names
// the fields it changes, as the form shows them. It said "Change ingress
// rule … of …" alone, so an edit that opens or closes no flow (here the
// group's member is reached on 3306 by no instance) previewed as nothing.
func TestRuleEditPreviewSaysWhatChanges(t *testing.T) {
	_, c, key, group, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	// sgr-layout0000000001: in accept 1 TCP 3306/3306 10.0.1.0/24, described "app tier"
	row := url.Values{"r1.policy": {"accept"}, "r1.priority": {"1"}, "r1.protocol": {"TCP"}, "r1.ports": {"3306"}, "r1.peer": {"10.0.1.0/24"}, "r1.desc": {"app tier"}}
	for _, tc := range []struct {
		name   string
		change url.Values
		want   string
	}{
		{"as it is", nil, ": nothing, it is already so"},
		{"a priority", url.Values{"r1.priority": {"5"}}, ": priority 1 → 5"},
		{"a policy and ports", url.Values{"r1.policy": {"drop"}, "r1.ports": {"3306-3307"}}, ": policy accept → drop, ports 3306 → 3306-3307"},
		{"a priority, the peer left empty (kept)", url.Values{"r1.priority": {"5"}, "r1.peer": {""}}, ": priority 1 → 5"},
		{"a peer and a description", url.Values{"r1.peer": {"10.0.2.0/24"}, "r1.desc": {"app servers"}}, ": peer 10.0.1.0/24 → 10.0.2.0/24, description app tier → app servers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {s.csrf}, "op": {"edit-rule"}, "step": {"preview"}, "group": {group}, "dir": {"ingress"}, "rule": {"sgr-layout0000000001"}}
			maps.Copy(f, row)
			maps.Copy(f, tc.change)
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			serveFollowing(c, w, req)
			_, what, _ := strings.Cut(html.UnescapeString(w.Body.String()), `id="what">`)
			what, _, _ = strings.Cut(what, "</p>")
			if want := "Change ingress rule sgr-layout0000000001 of " + group + tc.want; w.Code != http.StatusOK || what != want {
				t.Errorf("%d: the preview says %q, want %q", w.Code, what, want)
			}
		})
	}
}

// TestNewGroupPreviewSaysItsSettings: the preview of a new group names
// the settings it gets beside its type and VPC. A policy, a description
// and tags were made without the preview naming them.
func TestNewGroupPreviewSaysItsSettings(t *testing.T) {
	_, c, key, _, _ := layoutWorld(t)
	s := c.sessions.add(key.Account, key.ID, false)
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"only a name", url.Values{"name": {"web"}}, `Create the basic security group "web" in vpc-layout00000000001`},
		{"a policy", url.Values{"name": {"web"}, "policy": {"Drop"}}, `Create the basic security group "web" in vpc-layout00000000001, with InnerAccessPolicy Drop`},
		{"a description and tags", url.Values{"name": {"web"}, "description": {"front"}, "tags": {"env=prod, owner=web"}},
			`Create the basic security group "web" in vpc-layout00000000001, with description "front", tag env=prod, tag owner=web`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := url.Values{"csrf": {s.csrf}, "op": {"create-group"}, "step": {"preview"}, "vpc": {"vpc-layout00000000001"}, "type": {"normal"}}
			maps.Copy(f, tc.form)
			req := httptest.NewRequest("POST", Prefix+"r/cn-hangzhou/change", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: cookieName, Value: s.id})
			w := httptest.NewRecorder()
			serveFollowing(c, w, req)
			_, what, _ := strings.Cut(html.UnescapeString(w.Body.String()), `id="what">`)
			what, _, _ = strings.Cut(what, "</p>")
			if w.Code != http.StatusOK || what != tc.want {
				t.Errorf("%d: the preview says %q, want %q", w.Code, what, tc.want)
			}
		})
	}
}
