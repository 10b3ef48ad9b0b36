package console

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/model/modeltest"
)

// TestPreviewSaysWhatItHidesInBrowser: tenant A's group names tenant B's
// group. The preview of a change to it lists A's flows only: B's members'
// are not A's to see, so the preview said "No flow ... changes" and no
// more, though the change may open or close flows from them. It now names
// B's group as left out; a group naming none says nothing of the kind.
func TestPreviewSaysWhatItHidesInBrowser(t *testing.T) {
	path := chromium(t)
	const (
		groupA = "sg-hiddenpeer00000a01"
		plainA = "sg-hiddenpeer00000a02"
		groupB = "sg-hiddenpeer00000b01"
	)
	svc, key, cl := tenantService(t)
	ctx := context.Background()
	_, bcl := newTenant(t, svc, "b")
	gb := modeltest.Group(groupB, "", "basic")
	ib := modeltest.Instance("i-hiddenpeer0000000b1", "", "10.0.0.20", groupB)
	gb.Owner, ib.Owner, ib.Status = bcl.Account, bcl.Account, model.StatusRunning
	if _, err := svc.Import(ctx, cl.Region, service.Resources{Groups: []*model.SecurityGroup{gb}, Instances: []*model.Instance{ib}}); err != nil {
		t.Fatal(err)
	}
	ga := modeltest.Group(groupA, "", "basic", modeltest.Rule("sgr-hiddenpeer0000001", "in accept 1 TCP 5432/5432 "+groupB+" nic=intranet owner="+bcl.Account))
	gp := modeltest.Group(plainA, "", "basic")
	ia := modeltest.Instance("i-hiddenpeer0000000a1", "", "10.0.0.5", groupA)
	ip := modeltest.Instance("i-hiddenpeer0000000a2", "", "10.0.0.6", plainA)
	for _, g := range []*model.SecurityGroup{ga, gp} {
		g.Owner = cl.Account
	}
	for _, in := range []*model.Instance{ia, ip} {
		in.Owner, in.Status = cl.Account, model.StatusRunning
	}
	if _, err := svc.Import(ctx, cl.Region, service.Resources{Groups: []*model.SecurityGroup{ga, gp}, Instances: []*model.Instance{ia, ip}}); err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bctx, base := signedIn(t, path, c, key)
	for _, tc := range []struct {
		name, group string
		want        string // in the note; "" for no note
	}{
		{"a group naming another account's group", groupA, groupB},
		{"a group naming none", plainA, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// SSH from a block no instance is in: no flow of A's changes.
			if err := chromedp.Do(bctx, chromedp.Navigate(base+Prefix+"r/cn-hangzhou/groups/"+tc.group+"/rules/new?template=ssh"),
				chromedp.WaitVisible(chromedp.CSS("#r1-peer")),
				chromedp.SendKeys(chromedp.CSS("#r1-peer"), "192.168.77.0/24"),
				chromedp.Click(chromedp.CSS("#preview")),
				chromedp.WaitVisible(chromedp.CSS("#flows-h"))); err != nil {
				t.Fatalf("preview: %v", err)
			}
			note, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.getElementById("hidden-peers") || {textContent: ""}).textContent`))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && note != "":
				t.Errorf("the preview says %q; the group names no other account's group", note)
			case tc.want != "" && (!strings.Contains(note, tc.want) || !strings.Contains(note, "not yours to see")):
				t.Errorf("the preview's note is %q; want it to name %s as left out, and why", note, tc.want)
			}
		})
	}
}
