package console

import (
	"context"
	"html"
	"io"
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

// TestStandingsHideOtherAccountsMembers: tenant A's classic group names
// tenant B's group, and has a rule for one address. The standings A's
// console shows (the group page's Standing column, from the audit; the
// instance page's effective rules) were B's group's members' to decide:
// with a member at the address the address rule showed "shadowed", with
// none the rule naming the group did. They are the same now whatever
// B's group holds.
func TestStandingsHideOtherAccountsMembers(t *testing.T) {
	const (
		groupA = "sg-hidden0000000000a1"
		groupB = "sg-hidden0000000000b1"
		park   = "sg-hidden0000000000b2"
		instA  = "i-hidden00000000000a1"
		instB  = "i-hidden00000000000b1"
	)
	pages := func(member string) (group, inst []string) {
		t.Helper()
		svc, key, cl := tenantService(t)
		ctx := context.Background()
		_, bKey, err := svc.NewTenant(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		bcl, err := svc.CallerOf(ctx, bKey.ID, "cn-hangzhou", true)
		if err != nil {
			t.Fatal(err)
		}
		gb, gp := modeltest.Group(groupB, "", "basic"), modeltest.Group(park, "", "basic")
		// B's instance, in its group at member, or at the address A
		// names but outside the group.
		ib := modeltest.Instance(instB, "", "10.0.0.20", park)
		if member != "" {
			ib = modeltest.Instance(instB, "", member, groupB)
		}
		ib.Status = model.StatusRunning
		for _, g := range []*model.SecurityGroup{gb, gp} {
			g.Owner = bcl.Account
		}
		ib.Owner = bcl.Account
		if _, err := svc.Import(ctx, cl.Region, service.Resources{Groups: []*model.SecurityGroup{gb, gp}, Instances: []*model.Instance{ib}}); err != nil {
			t.Fatal(err)
		}
		ga := modeltest.Group(groupA, "", "basic",
			modeltest.Rule("sgr-hidden00000000001", "in accept 1 TCP 22/22 "+groupB+" nic=intranet owner="+bcl.Account),
			modeltest.Rule("sgr-hidden00000000002", "in accept 2 TCP 22/22 10.0.0.20/32 nic=intranet"))
		ia := modeltest.Instance(instA, "", "10.0.0.5", groupA)
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
		get := func(path string) []string {
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
			var out []string
			for _, m := range standingCell.FindAllStringSubmatch(string(b), -1) {
				out = append(out, html.UnescapeString(m[1]))
			}
			return out
		}
		return get("groups/" + groupA), get("instances/" + instA)
	}
	group0, inst0 := pages("")
	if len(group0) != 2 || len(inst0) == 0 {
		t.Fatalf("A's pages show no standings to compare: group %q, instance %q", group0, inst0)
	}
	for _, member := range []string{"10.0.0.20", "10.0.0.30"} {
		group, inst := pages(member)
		if strings.Join(group, "\n") != strings.Join(group0, "\n") {
			t.Errorf("B's group's member at %s: A's group page shows\n%s\nwithout it\n%s", member, strings.Join(group, "\n"), strings.Join(group0, "\n"))
		}
		if strings.Join(inst, "\n") != strings.Join(inst0, "\n") {
			t.Errorf("B's group's member at %s: A's instance page shows\n%s\nwithout it\n%s", member, strings.Join(inst, "\n"), strings.Join(inst0, "\n"))
		}
	}
	// The rules B's group decides are unknown to A, and say why (the
	// group page, which shows the audit's findings, for the rule naming
	// the group: it has none, and is not live for all A knows).
	if all := strings.Join(inst0, "\n"); !strings.Contains(all, "st-unknown") || !strings.Contains(all, "another account's group") {
		t.Errorf("A's instance page shows no unknown standing, or not why: %q", inst0)
	}
	if !strings.Contains(group0[0], "st-unknown") || !strings.Contains(group0[0], "another account's group") {
		t.Errorf("A's group page shows the rule naming B's group as %q", group0[0])
	}
}
