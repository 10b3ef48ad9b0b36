package console

import (
	"context"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// standingCell is a rule's or entry's standing as the group and instance
// pages show it.
var standingCell = regexp.MustCompile(`(?s)<td>(<span class="badge[^"]*"[^>]*>[^<]*</span>[^<]*(?:<span class="why">[^<]*</span>)?[^<]*)</td>`)

// ruleRowRE is a row of a group page's rule tables: the rule's ID, and what
// follows up to the row's end.
var ruleRowRE = regexp.MustCompile(`(?s)<tr data-rule="([^"]*)".*?</tr>`)

// TestStandingsHideOtherAccountsMembers: tenant A's group names tenant B's
// group. The standings A's console shows (the group page's Standing
// column, from the audit; the instance page's effective rules) were B's
// group's members' to decide: in the classic network, with a member at
// the address A's address rule names the rule showed "shadowed", with
// none the rule naming the group did. They are the same now whatever B's
// group holds. A rule that merely overlaps one naming B's group is not
// live for all A knows either: the group page said "live" for it (the
// audit gives no finding on it) while its effective rules said "unknown".
func TestStandingsHideOtherAccountsMembers(t *testing.T) {
	const groupB = "sg-hidden0000000000b1" // as hiddenPages names it
	tests := []struct {
		name string
		vpc  string // A's and B's, "" for the classic network
		// A's rules: ID and spec, where {B} is B's account.
		rules [][2]string
		// The group page's standing of each rule by ID: its badge's
		// kind, and a word of why.
		want map[string][2]string
	}{
		{"classic: an address B's group may hold", "", [][2]string{
			{"sgr-hidden00000000001", "in accept 1 TCP 22/22 " + groupB + " nic=intranet owner={B}"},
			{"sgr-hidden00000000002", "in accept 2 TCP 22/22 10.0.0.20/32 nic=intranet"},
		}, map[string][2]string{
			"sgr-hidden00000000001": {"unknown", "members of " + groupB + ", another account's group"},
			"sgr-hidden00000000002": {"unknown", "another account's group that a rule overlapping it names"},
		}},
		{"VPC: an accept behind a drop of B's group", "vpc-hidden0000000001", [][2]string{
			{"sgr-hidden00000000001", "in drop 1 TCP 22/22 " + groupB + " owner={B}"},
			{"sgr-hidden00000000002", "in accept 2 TCP 22/22 0.0.0.0/0"},
			{"sgr-hidden00000000003", "in accept 2 TCP 80/80 0.0.0.0/0"},
		}, map[string][2]string{
			"sgr-hidden00000000001": {"unknown", "members of " + groupB + ", another account's group"},
			"sgr-hidden00000000002": {"unknown", "another account's group that a rule overlapping it names"},
			"sgr-hidden00000000003": {"live", ""}, // no rule naming B's group matches port 80
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			group0, inst0 := hiddenPages(t, tc.vpc, tc.rules, "")
			if len(group0) != len(tc.rules) || len(inst0) == 0 {
				t.Fatalf("A's pages show no standings to compare: group %q, instance %q", group0, inst0)
			}
			for _, member := range []string{"10.0.0.20", "10.0.0.30"} {
				group, inst := hiddenPages(t, tc.vpc, tc.rules, member)
				if !maps.Equal(group, group0) {
					t.Errorf("B's group's member at %s: A's group page shows\n%q\nwithout it\n%q", member, group, group0)
				}
				if strings.Join(inst, "\n") != strings.Join(inst0, "\n") {
					t.Errorf("B's group's member at %s: A's instance page shows\n%s\nwithout it\n%s", member, strings.Join(inst, "\n"), strings.Join(inst0, "\n"))
				}
			}
			// The rules B's group may decide are unknown to A, and say
			// why (the group page, which shows the audit's findings, for
			// rules that have none and are not live for all A knows).
			if all := strings.Join(inst0, "\n"); !strings.Contains(all, "st-unknown") || !strings.Contains(all, "another account's group") {
				t.Errorf("A's instance page shows no unknown standing, or not why: %q", inst0)
			}
			for id, want := range tc.want {
				kind := "badge ok"
				if want[0] != "live" {
					kind = "st-" + want[0]
				}
				if got := group0[id]; !strings.Contains(got, kind) || !strings.Contains(got, want[1]) {
					t.Errorf("A's group page shows rule %s as %q, want %s (%q)", id, got, want[0], want[1])
				}
			}
		})
	}
}

// hiddenPages serves tenant A's console over a store where A's group
// (groupA in vpc, with rules) holds A's instance, and tenant B has its
// group, with B's instance in it at member (none: "", the instance then
// is at 10.0.0.20 in another group of B's). It returns the standings A's
// group page shows, by rule ID, and those A's instance page shows.
func hiddenPages(t *testing.T, vpc string, rules [][2]string, member string) (group map[string]string, inst []string) {
	t.Helper()
	const (
		groupA = "sg-hidden0000000000a1"
		groupB = "sg-hidden0000000000b1"
		park   = "sg-hidden0000000000b2"
		instA  = "i-hidden00000000000a1"
		instB  = "i-hidden00000000000b1"
	)
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	_, bcl := newTenant(t, svc, "b")
	gb, gp := modeltest.Group(groupB, vpc, "basic"), modeltest.Group(park, vpc, "basic")
	// B's instance, in its group at member, or at the address A's
	// classic case names but outside the group.
	ib := modeltest.Instance(instB, vpc, "10.0.0.20", park)
	if member != "" {
		ib = modeltest.Instance(instB, vpc, member, groupB)
	}
	ib.Status = model.StatusRunning
	for _, g := range []*model.SecurityGroup{gb, gp} {
		g.Owner = bcl.Account
	}
	ib.Owner = bcl.Account
	if _, err := svc.Import(ctx, cl.Region, service.Resources{Groups: []*model.SecurityGroup{gb, gp}, Instances: []*model.Instance{ib}}); err != nil {
		t.Fatal(err)
	}
	var rs []model.Rule
	for _, r := range rules {
		rs = append(rs, modeltest.Rule(r[0], strings.ReplaceAll(r[1], "{B}", bcl.Account)))
	}
	ga := modeltest.Group(groupA, vpc, "basic", rs...)
	ia := modeltest.Instance(instA, vpc, "10.0.0.5", groupA)
	ga.Owner, ia.Owner, ia.Status = cl.Account, cl.Account, model.StatusRunning
	if _, err := svc.Import(ctx, cl.Region, service.Resources{Groups: []*model.SecurityGroup{ga}, Instances: []*model.Instance{ia}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.budgets.page = time.Minute // the group page waits for its audit: standings to compare
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.PostForm(srv.URL+Prefix+"signin", url.Values{"AccessKeyId": {key.ID}, "AccessKeySecret": {key.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get := func(path string) string {
		resp, err := hc.Get(srv.URL + Prefix + "r/cn-hangzhou/" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if strings.Contains(string(b), "not computed yet") {
			t.Fatalf("GET %s: the page has no standings yet", path)
		}
		return string(b)
	}
	group = map[string]string{}
	for _, row := range ruleRowRE.FindAllStringSubmatch(get("groups/"+groupA), -1) {
		if m := standingCell.FindStringSubmatch(row[0]); m != nil {
			group[row[1]] = html.UnescapeString(m[1])
		}
	}
	for _, m := range standingCell.FindAllStringSubmatch(get("instances/"+instA), -1) {
		inst = append(inst, html.UnescapeString(m[1]))
	}
	return group, inst
}
