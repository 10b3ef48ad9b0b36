package console

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestRiskyWarningInBrowser: the rule form's warning, as typed, says what
// the server decides for the same row (riskyRule, on the audit's notion of
// the internet): it knew only 0.0.0.0/0 and ::/0, so 2000::/3 (the IPv6
// internet) and 0.0.0.0/1 (half of the IPv4 one) opened SSH without a
// word, and it warned for UDP 22, which the server does not. The preview
// then warns, saying whether it is the whole internet or half of it.
func TestRiskyWarningInBrowser(t *testing.T) {
	path := chromium(t)
	svc, key, cl := tenantService(t)
	g, err := svc.CreateSecurityGroup(context.Background(), service.CreateGroupInput{Caller: cl, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(svc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bctx, base := signedIn(t, path, c, key)
	form := base + Prefix + "r/cn-hangzhou/groups/" + g.SecurityGroupId + "/rules/new?dir=ingress"
	if err := chromedp.Do(bctx, chromedp.Navigate(form), chromedp.WaitVisible(chromedp.CSS("#r1-peer"))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		policy, proto, ports, peer string
		warn                       bool
	}{
		{"accept", "TCP", "22", "0.0.0.0/0", true},
		{"accept", "TCP", "22", "0.0.0.0/1", true},
		{"accept", "TCP", "22", "128.0.0.0/1", true},
		{"accept", "TCP", "22", "128.0.0.0/2", false},
		{"accept", "TCP", "22", "::/0", true},
		{"accept", "TCP", "22", "::/1", true},
		{"accept", "TCP", "22", "2000::/3", true},
		{"accept", "TCP", "22", "2000:0:0:0:0:0:0:0/3", true},
		{"accept", "TCP", "22/22", "3000::/4", true},
		{"accept", "TCP", "22", "2000::/5", false},
		{"accept", "TCP", "22", "8000::/1", false},
		{"accept", "TCP", "22", "2001:db8::/32", false},
		{"accept", "TCP", "22", "fd00::/8", false},
		{"accept", "TCP", "22", "::", false},
		{"accept", "TCP", "22", "203.0.113.7", false},
		{"accept", "TCP", "22", "0.0.0.1/0", false}, // host bits: refused
		{"accept", "TCP", "22", "::ffff:0.0.0.0/96", false},
		{"accept", "TCP", "22", "sg-abc", false},
		{"accept", "TCP", "22", "pl-abc", false},
		{"accept", "TCP", "3000-3400", "0.0.0.0/1", true},
		{"accept", "TCP", "443", "2000::/3", false},
		{"accept", "TCP", "prl-abc", "2000::/3", true}, // any port of the list
		{"accept", "TCP", "", "0.0.0.0/0", false},      // refused: no ports
		{"accept", "TCP", "-1", "0.0.0.0/0", false},    // refused for TCP
		{"accept", "TCP", "0-100", "0.0.0.0/0", false}, // refused: port 0
		{"accept", "UDP", "22", "0.0.0.0/0", false},    // SSH does not listen on UDP
		{"accept", "UDP", "3389", "2000::/3", true},
		{"accept", "ALL", "-1", "2000::/4", true},
		{"accept", "ICMP", "-1", "0.0.0.0/0", false},
		{"accept", "ICMPv6", "-1", "::/0", false},
		{"drop", "TCP", "22", "0.0.0.0/0", false},
	} {
		row := ruleRowInput{N: 1, Policy: tc.policy, Priority: "1", Protocol: tc.proto, Ports: tc.ports, Peer: tc.peer}
		server := false
		if row.check() == nil {
			if r, _, e := model.ParseRule(model.Ingress, row.input(model.Ingress), false); e == nil {
				server = riskyRule(&r) != ""
			}
		}
		if server != tc.warn {
			t.Errorf("%+v: the server warns %v, the test expects %v", tc, server, tc.warn)
		}
		v, _ := json.Marshal([]string{tc.policy, tc.proto, tc.ports, tc.peer})
		hint, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(function (v) {
			["policy", "protocol", "ports", "peer"].forEach(function (n, i) { document.querySelector("[name='r1." + n + "']").value = v[i]; });
			document.getElementById("rule-form").dispatchEvent(new Event("input"));
			return !document.getElementById("risky-warning").hidden;
		})(`+string(v)+`)`))
		if err != nil {
			t.Fatal(err)
		}
		if hint != server {
			t.Errorf("%+v: the form warns %v as it is typed, the server %v", tc, hint, server)
		}
	}

	// The preview warns too, saying how much of the internet.
	for _, tc := range []struct{ peer, want string }{
		{"2000::/3", "This opens SSH (22) to the whole internet (2000::/3)."},
		{"0.0.0.0/1", "This opens SSH (22) to half the internet (0.0.0.0/1)."},
	} {
		if err := chromedp.Do(bctx, chromedp.Navigate(form+"&template=ssh"), chromedp.WaitVisible(chromedp.CSS("#r1-peer")),
			chromedp.SendKeys(chromedp.CSS("#r1-peer"), tc.peer),
			chromedp.Click(chromedp.CSS("#preview")), chromedp.WaitVisible(chromedp.CSS("#apply"))); err != nil {
			t.Fatalf("preview SSH from %s: %v", tc.peer, err)
		}
		warning, err := chromedp.Run(bctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(".risky")).map(e => e.textContent).join("\n")`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(warning, tc.want) {
			t.Errorf("the preview of SSH from %s warns %q, want %q", tc.peer, warning, tc.want)
		}
	}
}
